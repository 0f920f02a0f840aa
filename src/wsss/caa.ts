// CLIP-ES's class-aware attention affinity (CAA, docs/algorithms.md §3.5) on the GPU:
//
//   T = sinkhornAffinity(W)            3 rounds of (columns / colsum, then rows / rowsum), in place
//   refined_k = S (S (B_k ⊙ cam_k))    S = (T + Tᵀ)/2 applied as (T v + Tᵀ v)/2: neither S nor S² is
//                                      ever formed (§8 item 10); all K classes in one batched pass
//   refined_k ← (x − min)/(1e-7 + max(x − min))   float32, once
//   attn_highres = fp16(cv2.resize(refined_k, (W, H), INTER_LINEAR))
//
// B_k is the box mask of CLIP-ES's scoremap2bbox, computed on the host from the float32 grid CAM
// (the grid is tiny): the union of the bounding boxes of the 8-connected components of
// uint8(cam·255) > int(λ·max), with CLIP-ES's clipping of x1/y1 to gw−1/gh−1 ('clip-es', the
// default, for parity) or without it ('corrected': boxes touching the right/bottom edge keep their
// last column/row, §8 item 8). λ = 0.4 for VOC, 0.7 for COCO.
//
// The affinity W [n, n] (the mean of the last 8 head-averaged attention maps, class token removed)
// and the grid CAMs [K, n] come from the Grad-CAM stage as f32 GPU tensors. The Sinkhorn result T
// depends only on the image, so callers that refine classes in several calls normalise once with
// `sinkhornAffinity` and pass `transition` to each `caaRefine` call.
//
// No epsilon guards the Sinkhorn divisions by default (CLIP-ES has none, §8 item 9): a column or row
// of W that sums to 0 turns T into NaN/Inf there, exactly as the reference would. Pass `epsilon`
// (e.g. 1e-12) to deviate deliberately.
//
// The same file holds the table-driven bilinear resampler used for cv2 INTER_LINEAR here and for
// PyTorch's bilinear in PAR and the random walk (src/wsss/par.ts, src/wsss/randomwalk.ts).
import type { Gpu } from '../gpu/context.js';
import { KernelError } from '../gpu/errors.js';
import { ceilDiv, defineKernel, grid1d } from '../gpu/kernel.js';
import { Tensor } from '../gpu/tensor.js';
import { copy } from '../kernels/layout.js';

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

export interface UpsampleArgs {
  planes: number;
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  roundF16: boolean;
}

export const upsampleBilinearKernel = defineKernel<UpsampleArgs>({
  name: 'upsample_bilinear',
  shader: 'wsss/upsample_bilinear.wgsl',
  params: (a) => ({ ROUND_F16: a.roundF16, WG: ELEMENT_WG }),
  uniforms: (a) => ({ in_h: a.inH, in_w: a.inW, out_h: a.outH, out_w: a.outW, count: a.planes * a.outH * a.outW }),
  workgroups: (a, t) => grid1d(ceilDiv(a.planes * a.outH * a.outW, ELEMENT_WG), t),
  sizes: (a) => ({ x: a.planes * a.inH * a.inW, tab: a.outH + a.outW, y: a.planes * a.outH * a.outW }),
  cost: (a) => ({ flops: 6 * a.planes * a.outH * a.outW, bytes: 4 * a.planes * (a.inH * a.inW + a.outH * a.outW) }),
});

// ---------------------------------------------------------------------------------------------
// Argument checks

function checkMatrix(op: string, name: string, t: unknown, n?: number): asserts t is Tensor {
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
// Sinkhorn and symmetric propagation

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

// ---------------------------------------------------------------------------------------------
// Box masks (host): CLIP-ES's scoremap2bbox with multi_contour_eval=True

export type BoxMode = 'clip-es' | 'corrected';

/** A box as scoremap2bbox reports it: columns x0..x1−1 and rows y0..y1−1 (half-open). */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

function checkGridCam(op: string, cam: ArrayLike<number>, gh: number, gw: number): void {
  checkPositiveInt(op, 'grid height', gh);
  checkPositiveInt(op, 'grid width', gw);
  if (cam.length !== gh * gw) throw new Error(`${op}: the CAM has ${cam.length} values; the grid ${gh}×${gw} needs ${gh * gw}`);
  for (let i = 0; i < cam.length; i++) {
    const v = cam[i]!;
    // uint8(v·255) is only meaningful in [0, 1]; numpy would wrap or saturate outside it.
    if (!(v >= 0 && v <= 1)) throw new Error(`${op}: CAM value ${v} at index ${i} (row ${Math.floor(i / gw)}, column ${i % gw}) is outside [0, 1]`);
  }
}

/**
 * The boxes of scoremap2bbox (§3.5): s8 = uint8(trunc(float32(cam·255))), thr = int(λ·max(s8)),
 * foreground s8 > thr, one box per 8-connected component (cv2.findContours with RETR_TREE also
 * reports hole borders, whose boxes lie inside their component's box, so they add nothing to the
 * union). 'clip-es' clips x1 to gw−1 and y1 to gh−1 as CLIP-ES does; 'corrected' does not.
 * An all-background map gives no boxes (CLIP-ES's [[0, 0, 0, 0]], an empty mask).
 */
export function scoremapBoxes(cam: ArrayLike<number>, gh: number, gw: number, threshold: number, mode: BoxMode = 'clip-es'): Box[] {
  checkGridCam('boxMask', cam, gh, gw);
  if (!(threshold >= 0 && threshold <= 1)) throw new Error(`boxMask: threshold λ must be in [0, 1], got ${threshold}`);
  if (mode !== 'clip-es' && mode !== 'corrected') throw new Error(`boxMask: unknown box mode '${String(mode)}' (known: clip-es, corrected)`);
  const n = gh * gw;
  const s8 = new Uint8Array(n);
  let top = 0;
  for (let i = 0; i < n; i++) {
    s8[i] = Math.trunc(Math.fround(Math.fround(cam[i]!) * 255));
    top = Math.max(top, s8[i]!);
  }
  const thr = Math.trunc(threshold * top); // Python float64 product, int() truncates
  const seen = new Uint8Array(n);
  const stack = new Int32Array(n);
  const boxes: Box[] = [];
  for (let start = 0; start < n; start++) {
    if (seen[start] || s8[start]! <= thr) continue;
    let minX = gw, minY = gh, maxX = -1, maxY = -1;
    let sp = 0;
    stack[sp++] = start;
    seen[start] = 1;
    while (sp > 0) {
      const at = stack[--sp]!;
      const y = Math.floor(at / gw), x = at - y * gw;
      minX = Math.min(minX, x);
      maxX = Math.max(maxX, x);
      minY = Math.min(minY, y);
      maxY = Math.max(maxY, y);
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= gh) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= gw) continue;
          const j = yy * gw + xx;
          if (!seen[j] && s8[j]! > thr) {
            seen[j] = 1;
            stack[sp++] = j;
          }
        }
      }
    }
    // boundingRect gives (x, y, w, h) with x + w = maxX + 1; CLIP-ES then clips the far edges.
    let x1 = maxX + 1, y1 = maxY + 1;
    if (mode === 'clip-es') {
      x1 = Math.min(x1, gw - 1);
      y1 = Math.min(y1, gh - 1);
    }
    boxes.push({ x0: minX, y0: minY, x1, y1 });
  }
  return boxes;
}

/** The box mask B [gh·gw] (1 inside the union of scoremapBoxes, else 0), row-major. */
export function boxMask(cam: ArrayLike<number>, gh: number, gw: number, threshold: number, mode: BoxMode = 'clip-es'): Uint8Array {
  const mask = new Uint8Array(gh * gw);
  for (const b of scoremapBoxes(cam, gh, gw, threshold, mode)) {
    for (let y = b.y0; y < b.y1; y++) mask.fill(1, y * gw + b.x0, y * gw + Math.max(b.x0, b.x1));
  }
  return mask;
}

// ---------------------------------------------------------------------------------------------
// CAA

export interface CaaOptions {
  /** Raw affinity W [n, n] (mean attention, class token removed); Sinkhorn runs on a copy. */
  affinity?: Tensor;
  /** Or T [n, n] already from sinkhornAffinity (reused across calls for the same image). */
  transition?: Tensor;
  /** Grid CAMs [K, n] in [0, 1] (after Grad-CAM's two min-max passes), on the GPU or the host. */
  cams: Tensor | Float32Array;
  /** Host copy of a GPU `cams` (saves a readback); must hold the same values. */
  camsHost?: Float32Array;
  /** [gh, gw], n = gh·gw; cams are row-major over it. */
  grid: readonly [number, number];
  /** Box threshold λ: 0.4 (VOC, default) or 0.7 (COCO). */
  threshold?: number;
  /** 'clip-es' (default, parity) or 'corrected' (no x1/y1 clipping). */
  boxes?: BoxMode;
  /** Sinkhorn guard when `affinity` is given (see SinkhornOptions). */
  epsilon?: number;
}

export interface CaaResult {
  /** [K, n] refined CAMs after the single min-max (eps 1e-7), float32. */
  refined: Tensor;
  /** The box mask of each class, [gh·gw] each. */
  masks: Uint8Array[];
}

/** CAA for all K classes of one image (§3.5): refined_k = minmax(S(S(B_k ⊙ cam_k))). */
export async function caaRefine(gpu: Gpu, opts: CaaOptions): Promise<CaaResult> {
  const [gh, gw] = opts.grid ?? [];
  checkPositiveInt('caa', 'grid height', gh as number);
  checkPositiveInt('caa', 'grid width', gw as number);
  const n = gh! * gw!;
  if ((opts.affinity === undefined) === (opts.transition === undefined)) {
    throw new KernelError('caa', 'give exactly one of affinity (raw W) and transition (T from sinkhornAffinity)');
  }
  if (opts.affinity !== undefined) checkMatrix('caa', 'affinity', opts.affinity, n);
  if (opts.transition !== undefined) checkMatrix('caa', 'transition', opts.transition, n);
  const threshold = opts.threshold ?? 0.4;
  const mode = opts.boxes ?? 'clip-es';

  let host: Float32Array;
  if (opts.cams instanceof Float32Array) {
    host = opts.cams;
  } else if (opts.cams instanceof Tensor) {
    const c = opts.cams;
    const rowsOk = (c.rank === 2 && c.shape[1] === n) || (c.rank === 3 && c.shape[1] === gh && c.shape[2] === gw);
    if (c.dtype !== 'f32' || !rowsOk) {
      throw new KernelError('caa', `cams ${c} must be f32 [K, ${n}] or [K, ${gh}, ${gw}]`);
    }
    host = opts.camsHost ?? (await gpu.readF32(c));
  } else {
    throw new KernelError('caa', 'cams must be a Tensor or a Float32Array');
  }
  if (host.length % n !== 0) throw new KernelError('caa', `cams hold ${host.length} values, not a multiple of n = ${gh}·${gw} = ${n}`);
  if (opts.cams instanceof Tensor && host.length !== opts.cams.size) throw new KernelError('caa', `camsHost has ${host.length} values; cams ${opts.cams} has ${opts.cams.size}`);
  const k = host.length / n;

  const masks: Uint8Array[] = [];
  const masked = new Float32Array(k * n);
  for (let c = 0; c < k; c++) {
    const cam = host.subarray(c * n, (c + 1) * n);
    let mask: Uint8Array;
    try {
      mask = boxMask(cam, gh!, gw!, threshold, mode);
    } catch (err) {
      throw new KernelError('caa', `class ${c}: ${(err as Error).message}`);
    }
    masks.push(mask);
    for (let j = 0; j < n; j++) masked[c * n + j] = mask[j] ? cam[j]! : 0;
  }
  if (k === 0) return { refined: gpu.empty([0, n], 'f32', 'caa refined'), masks };

  const t = opts.transition ?? (await sinkhornAffinity(gpu, opts.affinity!, { epsilon: opts.epsilon }));
  const v = gpu.upload(masked, [k, n], 'f32', 'caa masked cams');
  const once = await propagateSymmetric(gpu, t, v);
  const twice = await propagateSymmetric(gpu, t, once);
  const refined = await minMaxRows(gpu, twice, { eps: 1e-7 });
  gpu.release(v, once, twice);
  if (opts.transition === undefined) gpu.release(t);
  return { refined, masks };
}

// ---------------------------------------------------------------------------------------------
// Bilinear resampling tables (host, emulating each library's float32 arithmetic) and the kernel

export type LinearMode = 'cv2' | 'torch' | 'torch-align-corners';
export const LINEAR_MODES: readonly LinearMode[] = ['cv2', 'torch', 'torch-align-corners'];

/** Per output index: source indices i0, i1 and float32 weights w0, w1 (value = in[i0]·w0 + in[i1]·w1). */
export interface LinearAxis {
  i0: Int32Array;
  i1: Int32Array;
  w0: Float32Array;
  w1: Float32Array;
}

const f32 = Math.fround;

/**
 * One axis of a bilinear resize from `inSize` to `fullSize` samples, for output indices 0..outSize−1
 * (outSize ≤ fullSize crops the far end, as the random walk does after upsampling to the padded size).
 *   cv2 (INTER_LINEAR, §3.5): scale = 1/(full/in) in double; f = float32((o + 0.5)·scale − 0.5);
 *     s = floor(f); f −= s; s < 0 → (s, f) = (0, 0); s ≥ in−1 → (s, f) = (in−1, 0); weights 1−f, f.
 *   torch (align_corners=False): scale = float32(in/full); src = float32(scale·(o + 0.5) − 0.5) with
 *     the product in double, clamped below at 0; i0 = min(floor(src), in−1); λ = clamp(src − i0, 0, 1).
 *   torch-align-corners: scale = float32((in−1)/(full−1)) (0 when full = 1); src = float32(scale·o).
 */
export function linearAxis(mode: LinearMode, inSize: number, fullSize: number, outSize = fullSize): LinearAxis {
  if (!LINEAR_MODES.includes(mode)) throw new Error(`linearAxis: unknown mode '${String(mode)}' (known: ${LINEAR_MODES.join(', ')})`);
  for (const [what, v] of [['input size', inSize], ['full size', fullSize], ['output size', outSize]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`linearAxis: ${what} must be a positive integer, got ${v}`);
  }
  if (outSize > fullSize) throw new Error(`linearAxis: output size ${outSize} exceeds the full size ${fullSize}`);
  const ax: LinearAxis = { i0: new Int32Array(outSize), i1: new Int32Array(outSize), w0: new Float32Array(outSize), w1: new Float32Array(outSize) };
  const last = inSize - 1;
  for (let o = 0; o < outSize; o++) {
    let s: number, f: number;
    if (mode === 'cv2') {
      const scale = 1 / (fullSize / inSize);
      f = f32((o + 0.5) * scale - 0.5);
      s = Math.floor(f);
      f = f32(f - s);
      if (s < 0) {
        s = 0;
        f = 0;
      }
      if (s >= last) {
        s = last;
        f = 0;
      }
    } else {
      let src: number;
      if (mode === 'torch') {
        const scale = f32(inSize / fullSize);
        src = f32(scale * (o + 0.5) - 0.5);
        if (src < 0) src = 0;
      } else {
        const scale = fullSize > 1 ? f32(last / (fullSize - 1)) : 0;
        src = f32(scale * o);
      }
      s = Math.min(Math.floor(src), last);
      f = Math.min(Math.max(f32(src - s), 0), 1);
    }
    ax.i0[o] = s;
    ax.i1[o] = Math.min(s + 1, last);
    ax.w0[o] = f32(1 - f);
    ax.w1[o] = f;
  }
  return ax;
}

export interface ResizeLinearOptions {
  mode: LinearMode;
  /** Round every output to the nearest float16 value (CLIP-ES stores attn_highres as float16). */
  roundF16?: boolean;
  /** Resample onto this [H, W] and keep its top-left `size` crop (default: `size` itself). */
  fullSize?: readonly [number, number];
  out?: Tensor;
}

/** Bilinear resize of the last two axes of an f32 tensor [..., h, w] → [..., H, W] (see linearAxis). */
export async function resizeLinear(gpu: Gpu, x: Tensor, size: readonly [number, number], opts: ResizeLinearOptions): Promise<Tensor> {
  const op = 'upsample_bilinear';
  if (!(x instanceof Tensor) || x.dtype !== 'f32' || x.rank < 2) throw new KernelError(op, `input ${String(x)} must be f32 [..., h, w]`);
  if (!LINEAR_MODES.includes(opts.mode)) throw new KernelError(op, `unknown mode '${String(opts.mode)}' (known: ${LINEAR_MODES.join(', ')})`);
  const [outH, outW] = size;
  const [fullH, fullW] = opts.fullSize ?? size;
  for (const [what, v] of [['output height', outH], ['output width', outW], ['full height', fullH], ['full width', fullW]] as const) checkPositiveInt(op, what, v);
  if (outH > fullH || outW > fullW) throw new KernelError(op, `output ${outH}×${outW} is larger than the full size ${fullH}×${fullW} it is cropped from`);
  const inH = x.shape[x.rank - 2]!, inW = x.shape[x.rank - 1]!;
  checkPositiveInt(op, `input ${x} height`, inH);
  checkPositiveInt(op, `input ${x} width`, inW);
  const lead = x.shape.slice(0, -2);
  const planes = x.size / (inH * inW);
  const y = opts.out ?? gpu.empty([...lead, outH, outW], 'f32', `resize ${opts.mode}`);
  if (y.dtype !== 'f32' || y.size !== planes * outH * outW) throw new KernelError(op, `out ${y} must be f32 [${[...lead, outH, outW].join(', ')}]`);
  if (planes === 0) return y;
  const ry = linearAxis(opts.mode, inH, fullH, outH), rx = linearAxis(opts.mode, inW, fullW, outW);
  const tab = new Float32Array(4 * (outH + outW));
  const put = (at: number, ax: LinearAxis, o: number) => tab.set([ax.i0[o]!, ax.i1[o]!, ax.w0[o]!, ax.w1[o]!], 4 * at);
  for (let o = 0; o < outH; o++) put(o, ry, o);
  for (let o = 0; o < outW; o++) put(outH + o, rx, o);
  const tabT = gpu.upload(tab, [outH + outW, 4], 'f32', 'resize table');
  await gpu.run(upsampleBilinearKernel, { planes, inH, inW, outH, outW, roundF16: opts.roundF16 ?? false }, { x, tab: tabT, y });
  gpu.release(tabT);
  return y;
}

/**
 * CLIP-ES's attn_highres from refined grid CAMs [K, n] (or [K, gh, gw]): cv2 INTER_LINEAR to the
 * original image size [H, W], rounded to float16 values (returned as an f32 tensor [K, H, W]).
 */
export async function caaHighres(gpu: Gpu, refined: Tensor, grid: readonly [number, number], size: readonly [number, number]): Promise<Tensor> {
  const [gh, gw] = grid;
  checkPositiveInt('caa', 'grid height', gh);
  checkPositiveInt('caa', 'grid width', gw);
  if (!(refined instanceof Tensor) || refined.size % (gh * gw) !== 0) throw new KernelError('caa', `refined ${String(refined)} must be [K, ${gh * gw}]`);
  const k = refined.size / (gh * gw);
  return resizeLinear(gpu, refined.view([k, gh, gw]), size, { mode: 'cv2', roundF16: true });
}
