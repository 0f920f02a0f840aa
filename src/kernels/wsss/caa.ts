// The GPU steps of CLIP-ES's class-aware attention affinity (CAA, docs/algorithms.md §3.5); the
// host side (box masks) and the composition (caaRefine) are in src/wsss/caa.ts.
//
//   sinkhornAffinity   T = Sinkhorn(W): `rounds` times (columns / colsum, then rows / rowsum), in place
//                      or on a copy
//   propagateSymmetric U = S·V with S = (T + Tᵀ)/2 applied as (T v + Tᵀ v)/2: neither S nor S² is ever
//                      formed (§8 item 10); all K right-hand sides in one batched pass
//   minMaxRows         row-wise (x − min)/(eps + max(x − min)), float32
//   boxMaskCams        CLIP-ES's scoremap2bbox box mask of every CAM row and the masked CAMs
//                      B ⊙ cam, on the GPU (the host reference is boxMask in src/wsss/caa.ts)
//
// No epsilon guards the Sinkhorn divisions by default (CLIP-ES has none, §8 item 9): a column or row
// of W that sums to 0 turns T into NaN/Inf there, exactly as the reference would. Pass `epsilon`
// (e.g. 1e-12) to deviate deliberately.
import type { Gpu } from '../../gpu/context.js';
import { KernelError } from '../../gpu/errors.js';
import { ceilDiv, defineKernel, grid1d } from '../../gpu/kernel.js';
import { Tensor } from '../../gpu/tensor.js';
import { copy } from '../layout.js';
import { fillWords } from '../layout.js';

// ---------------------------------------------------------------------------------------------
// Kernel descriptors

const COLUMN_WG = 64;
const ELEMENT_WG = 256;
const BOX_WG = 256;
/** s8 levels: uint8 CAM values 0..255, so `top` (the row maximum) indexes a table of this length. */
export const THRESHOLD_LEVELS = 256;

export interface SinkhornStepArgs {
  n: number;
  divideRows: boolean;
  eps: number;
}

export const sinkhornColsumKernel = defineKernel<SinkhornStepArgs>({
  name: 'sinkhorn_colsum',
  shader: 'wsss/sinkhorn_colsum.wgsl',
  params: (a) => ({ DIVIDE_ROWS: a.divideRows, WG: COLUMN_WG }),
  uniforms: (a) => ({ n: a.n, eps: a.eps }),
  workgroups: (a, t) => grid1d(ceilDiv(a.n, COLUMN_WG), t),
  sizes: (a) => ({ t: a.n * a.n, rowsum: a.divideRows ? a.n : 0, colsum: a.n }),
  cost: (a) => ({ flops: (a.divideRows ? 2 : 1) * a.n * a.n, bytes: (a.divideRows ? 8 : 4) * a.n * a.n }),
});

export const sinkhornRowsumKernel = defineKernel<{ n: number; eps: number }>({
  name: 'sinkhorn_rowsum',
  shader: 'wsss/sinkhorn_rowsum.wgsl',
  params: () => ({ WG: COLUMN_WG }),
  uniforms: (a) => ({ n: a.n, eps: a.eps }),
  workgroups: (a, t) => grid1d(ceilDiv(a.n, COLUMN_WG), t),
  sizes: (a) => ({ t: a.n * a.n, colsum: a.n, rowsum: a.n }),
  cost: (a) => ({ flops: 2 * a.n * a.n, bytes: 8 * a.n * a.n }),
});

export const sinkhornRowscaleKernel = defineKernel<{ n: number }>({
  name: 'sinkhorn_rowscale',
  shader: 'wsss/sinkhorn_rowscale.wgsl',
  params: () => ({ WG: ELEMENT_WG }),
  uniforms: (a) => ({ n: a.n, count: a.n * a.n }),
  workgroups: (a, t) => grid1d(ceilDiv(a.n * a.n, ELEMENT_WG), t),
  sizes: (a) => ({ t: a.n * a.n, rowsum: a.n }),
  cost: (a) => ({ flops: a.n * a.n, bytes: 8 * a.n * a.n }),
});

export interface PropagateArgs {
  n: number;
  k: number;
}

export const propagateKernel = defineKernel<PropagateArgs>({
  name: 'propagate_symmetric',
  shader: 'wsss/propagate.wgsl',
  params: () => ({ WG: COLUMN_WG }),
  uniforms: (a) => ({ n: a.n, k: a.k, groups: ceilDiv(a.k, 4) }),
  workgroups: (a, t) => grid1d(ceilDiv(a.n * ceilDiv(a.k, 4), COLUMN_WG), t),
  sizes: (a) => ({ t: a.n * a.n, v: a.k * a.n, u: a.k * a.n }),
  cost: (a) => ({ flops: 3 * a.k * a.n * a.n, bytes: 8 * ceilDiv(a.k, 4) * a.n * a.n + 8 * a.k * a.n }),
});

export interface MinMaxArgs {
  rows: number;
  len: number;
  eps: number;
}

export const minMaxRowsKernel = defineKernel<MinMaxArgs>({
  name: 'minmax_rows',
  shader: 'wsss/propagate_minmax.wgsl',
  params: () => ({ WG: COLUMN_WG }),
  uniforms: (a) => ({ rows: a.rows, len: a.len, eps: a.eps }),
  workgroups: (a, t) => grid1d(ceilDiv(a.rows, COLUMN_WG), t),
  sizes: (a) => ({ x: a.rows * a.len, y: a.rows * a.len }),
  cost: (a) => ({ flops: 4 * a.rows * a.len, bytes: 16 * a.rows * a.len }),
});

export interface BoxMaskArgs {
  k: number;
  gh: number;
  gw: number;
  /** CLIP-ES's clipping of x1/y1 to gw − 1/gh − 1 ('clip-es' mode). */
  clip: boolean;
}

/** Scratch words per CAM cell: the union-find parent and the four box edges (by root). */
export const BOX_WORK_PER_CELL = 5;

export const boxMaskKernel = defineKernel<BoxMaskArgs>({
  name: 'box_mask',
  shader: 'wsss/box_mask.wgsl',
  params: () => ({ WG: BOX_WG }),
  uniforms: (a) => ({ k: a.k, n: a.gh * a.gw, gh: a.gh, gw: a.gw, clip: a.clip ? 1 : 0 }),
  workgroups: (a, t) => grid1d(a.k, t),
  sizes: (a) => {
    const cells = a.k * a.gh * a.gw;
    return { cams: cells, thr_of: THRESHOLD_LEVELS, masked: cells, mask: cells, work: BOX_WORK_PER_CELL * cells, bad: 1 };
  },
  // Per cell: ~5 level computations and the neighbour tests; bytes: cams read ~5×, masked and mask
  // written, the scratch initialised and walked (box rasterisation adds at most the box areas).
  cost: (a) => {
    const cells = a.k * a.gh * a.gw;
    return { flops: 30 * cells, bytes: 4 * cells * (5 + 2 + 2 * BOX_WORK_PER_CELL) };
  },
});

// ---------------------------------------------------------------------------------------------
// Argument checks

/** Throws unless t is a non-empty f32 [n, n] matrix (of the given n, if any). */
export function checkMatrix(op: string, name: string, t: unknown, n?: number): asserts t is Tensor {
  if (!(t instanceof Tensor)) throw new KernelError(op, `${name} is not a Tensor`);
  if (t.dtype !== 'f32') throw new KernelError(op, `${name} ${t} must be f32`);
  if (t.rank !== 2 || t.shape[0] !== t.shape[1]) throw new KernelError(op, `${name} ${t} must be a square [n, n] matrix`);
  if (n !== undefined && t.shape[0] !== n) throw new KernelError(op, `${name} ${t} must be [${n}, ${n}] (n = gh·gw)`);
  if (t.shape[0] === 0) throw new KernelError(op, `${name} ${t} is empty`);
}

function checkPositiveInt(op: string, what: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new KernelError(op, `${what} must be a positive integer, got ${v}`);
}

// ---------------------------------------------------------------------------------------------
// Box threshold tables

/**
 * thr[top] = int(λ·top) for top = 0..255, the product in float64 as CLIP-ES's Python forms it. The
 * kernel looks the threshold up rather than multiplying in f32: an f32 product can fall on the other
 * side of an integer (λ = 0.7, top = 90: float64 gives 62.99999999999999, int 62; f32 gives 63.0).
 */
export function boxThresholdTable(threshold: number): Uint32Array {
  if (!(threshold >= 0 && threshold <= 1)) throw new KernelError('box_mask', `threshold λ must be in [0, 1], got ${threshold}`);
  const table = new Uint32Array(THRESHOLD_LEVELS);
  for (let top = 0; top < THRESHOLD_LEVELS; top++) table[top] = Math.trunc(threshold * top);
  return table;
}

/** The device copy of boxThresholdTable(λ), a device constant per λ (1 KiB each). */
export function boxThresholdTableFor(gpu: Gpu, threshold: number): Tensor {
  return gpu.constant(`box threshold table λ=${threshold}`, [THRESHOLD_LEVELS], 'u32', () => boxThresholdTable(threshold));
}

// ---------------------------------------------------------------------------------------------
// Tensor-level ops

export interface SinkhornOptions {
  /** Rounds of (column, then row) normalisation; CLIP-ES uses 3 (§3.5). */
  rounds?: number;
  /** Normalise W itself instead of a copy (saves n² floats; W's contents are replaced by T). */
  inPlace?: boolean;
  /** Added to every column and row sum before dividing; 0 (CLIP-ES, the default) means no guard. */
  epsilon?: number;
}

/**
 * T = Sinkhorn(W) for a row-major f32 [n, n] matrix W: `rounds` times divide every column by its
 * sum, then every row by its sum (column first; the last operation is a row normalisation, so T's
 * rows sum to 1). Returns a new tensor, or W itself with `inPlace`.
 */
export async function sinkhornAffinity(gpu: Gpu, w: Tensor, opts: SinkhornOptions = {}): Promise<Tensor> {
  checkMatrix('sinkhorn', 'W', w);
  const rounds = opts.rounds ?? 3;
  checkPositiveInt('sinkhorn', 'rounds', rounds);
  const eps = opts.epsilon ?? 0;
  if (!Number.isFinite(eps) || eps < 0) throw new KernelError('sinkhorn', `epsilon must be a finite number ≥ 0, got ${eps}`);
  const n = w.shape[0]!;
  const t = opts.inPlace ? w : await copy(gpu, w);
  const colsum = gpu.empty([n], 'f32', 'sinkhorn colsum');
  const rowsum = gpu.empty([n], 'f32', 'sinkhorn rowsum');
  try {
    for (let r = 0; r < rounds; r++) {
      // From round 2 on, the previous round's row division is fused into the column walk.
      const divideRows = r > 0;
      await gpu.run(sinkhornColsumKernel, { n, divideRows, eps }, { t, rowsum: divideRows ? rowsum : undefined, colsum });
      await gpu.run(sinkhornRowsumKernel, { n, eps }, { t, colsum, rowsum });
    }
    await gpu.run(sinkhornRowscaleKernel, { n }, { t, rowsum });
  } finally {
    // Safe before the GPU ran: a later user of these buffers is ordered after these dispatches.
    gpu.release(colsum, rowsum);
  }
  return t;
}

/**
 * U = S·V for every row of V, with S = (T + Tᵀ)/2 never formed: u[k, i] = ½ Σ_j (T_ij + T_ji) v[k, j].
 * T is f32 [n, n]; V is f32 [K, n] (K right-hand sides, e.g. one masked CAM per class); U is [K, n].
 */
export async function propagateSymmetric(gpu: Gpu, t: Tensor, v: Tensor, opts: { out?: Tensor } = {}): Promise<Tensor> {
  checkMatrix('propagate', 'T', t);
  const n = t.shape[0]!;
  if (!(v instanceof Tensor) || v.dtype !== 'f32' || v.rank !== 2 || v.shape[1] !== n) {
    throw new KernelError('propagate', `V ${String(v)} must be f32 [K, ${n}] (one row per right-hand side)`);
  }
  const k = v.shape[0]!;
  const u = opts.out ?? gpu.empty([k, n], 'f32', 'propagate');
  if (u.size !== k * n || u.dtype !== 'f32') throw new KernelError('propagate', `out ${u} must be f32 [${k}, ${n}]`);
  if (k === 0) return u;
  await gpu.run(propagateKernel, { n, k }, { t, v, u });
  return u;
}

export type BoxMode = 'clip-es' | 'corrected';

export interface BoxMaskOptions {
  /** Box threshold λ in [0, 1]: 0.4 (VOC, default) or 0.7 (COCO). */
  threshold?: number;
  /** 'clip-es' (default) clips each box's far edges x1/y1 to gw − 1/gh − 1; 'corrected' does not. */
  mode?: BoxMode;
}

export interface BoxMaskTensors {
  /** f32 [K, n]: cam where the box mask is 1, else 0. */
  masked: Tensor;
  /** u32 [K, n]: the box mask, 0 or 1 per cell. */
  mask: Tensor;
  /** u32 [1]: 0, or 0xffffffff − the flat index of the first CAM value outside [0, 1] (NaN included). */
  bad: Tensor;
}

/**
 * CLIP-ES's scoremap2bbox box masks of all K grid CAMs [K, n] (or [K, gh, gw]) in one dispatch, one
 * workgroup per row, and the masked CAMs B ⊙ cam: equal to boxMask (src/wsss/caa.ts) on every CAM
 * in [0, 1]. Values outside [0, 1] are not checked here (that would need a read-back): they saturate
 * to uint8 0..255, NaN to 0. The caller releases both results.
 */
export async function boxMaskCams(gpu: Gpu, cams: Tensor, grid: readonly [number, number], opts: BoxMaskOptions = {}): Promise<BoxMaskTensors> {
  const [gh, gw] = grid ?? [];
  checkPositiveInt('box_mask', 'grid height', gh as number);
  checkPositiveInt('box_mask', 'grid width', gw as number);
  const n = gh! * gw!;
  if (!(cams instanceof Tensor) || cams.dtype !== 'f32' || !((cams.rank === 2 && cams.shape[1] === n) || (cams.rank === 3 && cams.shape[1] === gh && cams.shape[2] === gw))) {
    throw new KernelError('box_mask', `cams ${String(cams)} must be f32 [K, ${n}] or [K, ${gh}, ${gw}]`);
  }
  const mode = opts.mode ?? 'clip-es';
  if (mode !== 'clip-es' && mode !== 'corrected') throw new KernelError('box_mask', `unknown box mode '${String(mode)}' (known: clip-es, corrected)`);
  const table = boxThresholdTableFor(gpu, opts.threshold ?? 0.4);
  const k = cams.shape[0]!;
  // The scratch is the largest buffer and its indices are u32: both bound K·n long before any grid
  // the attention buffers allow (those hold ≥ L² floats for L = n + 1 tokens).
  const limit = Math.min(gpu.traits.limits.maxStorageBufferBindingSize, gpu.traits.limits.maxBufferSize);
  const workBytes = 4 * BOX_WORK_PER_CELL * k * n;
  if (workBytes > limit || BOX_WORK_PER_CELL * k * n > 0xffffffff) {
    throw new KernelError('box_mask', `${k} CAMs of ${gh}×${gw} need ${workBytes} bytes of union-find scratch, more than this device's ${limit}-byte buffer limit`);
  }
  const masked = gpu.empty([k, n], 'f32', 'box masked cams');
  const mask = gpu.empty([k, n], 'u32', 'box mask');
  const bad = gpu.empty([1], 'u32', 'box bad value');
  const work = gpu.empty([BOX_WORK_PER_CELL * Math.max(k, 1) * n], 'u32', 'box union-find');
  try {
    await fillWords(gpu, bad, 1, 0);
    if (k > 0) await gpu.run(boxMaskKernel, { k, gh: gh!, gw: gw!, clip: mode === 'clip-es' }, { cams, thr_of: table, masked, mask, work, bad });
  } catch (err) {
    gpu.release(masked, mask, bad);
    throw err;
  } finally {
    gpu.release(work);
  }
  return { masked, mask, bad };
}

/** Row-wise (x − min)/(eps + max(x − min)) of an f32 [rows, len] tensor (CLIP-ES's scale_cam_image). */
export async function minMaxRows(gpu: Gpu, x: Tensor, opts: { eps?: number; out?: Tensor } = {}): Promise<Tensor> {
  if (!(x instanceof Tensor) || x.dtype !== 'f32' || x.rank !== 2) throw new KernelError('minmax_rows', `input ${String(x)} must be f32 [rows, len]`);
  const [rows, len] = x.shape as [number, number];
  const eps = opts.eps ?? 1e-7;
  if (!Number.isFinite(eps) || eps < 0) throw new KernelError('minmax_rows', `eps must be a finite number ≥ 0, got ${eps}`);
  const y = opts.out ?? gpu.empty([rows, len], 'f32', 'minmax');
  if (y.size !== x.size || y.dtype !== 'f32') throw new KernelError('minmax_rows', `out ${y} must be f32 [${rows}, ${len}]`);
  if (rows === 0 || len === 0) return y;
  await gpu.run(minMaxRowsKernel, { rows, len, eps }, { x, y });
  return y;
}
