// The GPU steps of CLIP-ES's class-aware attention affinity (CAA, docs/algorithms.md §3.5); the
// host side (box masks) and the composition (caaRefine) are in src/wsss/caa.ts.
//
//   sinkhornAffinity   T = Sinkhorn(W): `rounds` times (columns / colsum, then rows / rowsum), in place
//                      or on a copy
//   propagateSymmetric U = S·V with S = (T + Tᵀ)/2 applied as (T v + Tᵀ v)/2: neither S nor S² is ever
//                      formed (§8 item 10); all K right-hand sides in one batched pass
//   minMaxRows         row-wise (x − min)/(eps + max(x − min)), float32
//
// No epsilon guards the Sinkhorn divisions by default (CLIP-ES has none, §8 item 9): a column or row
// of W that sums to 0 turns T into NaN/Inf there, exactly as the reference would. Pass `epsilon`
// (e.g. 1e-12) to deviate deliberately.
import type { Gpu } from '../../gpu/context.js';
import { KernelError } from '../../gpu/errors.js';
import { ceilDiv, defineKernel, grid1d } from '../../gpu/kernel.js';
import { Tensor } from '../../gpu/tensor.js';
import { copy } from '../layout.js';

// ---------------------------------------------------------------------------------------------
// Kernel descriptors

const COLUMN_WG = 64;
const ELEMENT_WG = 256;

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
