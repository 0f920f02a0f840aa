// Backward kernels for CLIP-ES's Softmax-Grad-CAM (docs/algorithms.md §3.4; shaders/backward/), each
// batched over B right-hand sides (the K target classes) that share one forward pass: the forward
// tensors (LayerNorm input and statistics, attention probabilities, MLP pre-activation) are read
// once per row and broadcast over b, never copied K times.
//
//   layerNormBackward   dx = LNback(g; x, stats, γ) (+ residual), g optionally one row per b
//   softmaxBackward     ds = P ⊙ (dp − rowsum(dp ⊙ P)), P [G, R, C] shared by dp [G, B, R, C]
//   quickGeluBackward   dh = g ⊙ QuickGELU'(h), h shared by the B blocks of g
//   clipHead            CLIP-ES's probabilities p = softmax(κ cos(e, T_r)) and de_c = ∂p_c/∂e, c < K
//   camMinMax           ReLU and the two float32 min-max passes of pytorch_grad_cam, per class row
//
// The row kernels run one invocation per row, barrier-free (SwiftShader's shape, see rows.ts); on a
// real GPU they are correct but not tuned (rows are read by one lane each).
import type { Gpu } from '../gpu/context.js';
import { KernelError } from '../gpu/errors.js';
import { ceilDiv, defineKernel, grid1d } from '../gpu/kernel.js';
import { Tensor, type Shape } from '../gpu/tensor.js';

const fmt = (s: Shape) => `[${s.join(', ')}]`;

function checkF32(op: string, t: unknown, binding: string): Tensor {
  if (!(t instanceof Tensor)) throw new KernelError(op, 'is not a Tensor', binding);
  if (t.dtype !== 'f32') throw new KernelError(op, `${t} must be f32`, binding);
  return t;
}

function checkCount(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new KernelError(op, `${name} = ${v} must be a non-negative integer`);
}

function outFor(gpu: Gpu, op: string, binding: string, shape: Shape, out: Tensor | undefined): Tensor {
  if (!out) return gpu.empty(shape, 'f32', op);
  checkF32(op, out, binding);
  const size = shape.reduce((a, b) => a * b, 1);
  if (out.size !== size) throw new KernelError(op, `${out} does not hold the result ${fmt(shape)} (${size} elements)`, binding);
  return out;
}

function overlaps(a: Tensor, b: Tensor): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

const ROW_WG = 64;

// ---------------------------------------------------------------------------------------------
// LayerNorm backward

export interface LayerNormBackwardArgs {
  /** Right-hand sides B. */
  batch: number;
  /** Rows and columns of the forward input x. */
  rows: number;
  cols: number;
  /** Elements between consecutive b, and between consecutive rows, of g. */
  gBatch: number;
  gRow: number;
  gScale: number;
  /** Rows t < zeroRows receive no gradient. */
  zeroRows: number;
  residual: boolean;
}

export const layerNormBackwardKernel = defineKernel<LayerNormBackwardArgs>({
  name: 'layernorm_backward',
  shader: 'backward/layernorm_backward.wgsl',
  params: () => ({ WG: ROW_WG }),
  uniforms: (a) => ({
    count: a.batch * a.rows, rows: a.rows, cols: a.cols, g_batch: a.gBatch, g_row: a.gRow,
    zero_rows: a.zeroRows, residual: a.residual ? 1 : 0, g_scale: a.gScale,
  }),
  workgroups: (a, t) => grid1d(ceilDiv(a.batch * a.rows, ROW_WG), t),
  sizes: (a) => {
    const out = a.batch * a.rows * a.cols;
    const gNeeded = a.rows > a.zeroRows && a.batch > 0 && a.cols > 0 ? (a.batch - 1) * a.gBatch + (a.rows - 1) * a.gRow + a.cols : 0;
    return { g: gNeeded, x: a.rows * a.cols, stats: 2 * a.rows, gamma: a.cols, residual: a.residual ? out : 0, dx: out };
  },
  cost: (a) => {
    const out = a.batch * a.rows * a.cols;
    return { flops: 12 * out, bytes: 4 * (2 * out + a.rows * a.cols + (a.residual ? out : 0)) };
  },
});

export interface LayerNormBackwardOptions {
  /**
   * How g is laid out: 'full' (default) g is [B, rows, cols]; 'row' g is [B, cols], one row per b
   * used for every row t ≥ zeroRows.
   */
  gLayout?: 'full' | 'row';
  /** Multiplies g (e.g. 1/n for a mean over n rows). Default 1. */
  gScale?: number;
  /** Rows t < zeroRows of every b get g = 0. Default 0. */
  zeroRows?: number;
  /** Added to dx: [B, rows, cols]. */
  residual?: Tensor;
  out?: Tensor;
}

const LN_OP = 'layernorm_backward';

/**
 * dx [B, rows, cols] = LNback(g; x, stats, γ) (+ residual) for x [rows, cols] with the forward's
 * per-row (mean, rstd) `stats` [rows, 2] (layerNorm with `stats`), γ [cols]. B is g.size divided by
 * the size of one right-hand side (rows·cols, or cols for gLayout 'row').
 */
export async function layerNormBackward(gpu: Gpu, g: Tensor, x: Tensor, stats: Tensor, gamma: Tensor, opts: LayerNormBackwardOptions = {}): Promise<Tensor> {
  checkF32(LN_OP, g, 'g');
  checkF32(LN_OP, x, 'x');
  checkF32(LN_OP, stats, 'stats');
  checkF32(LN_OP, gamma, 'gamma');
  if (x.rank < 1 || x.size === 0) throw new KernelError(LN_OP, `${x} is empty`, 'x');
  const cols = x.shape[x.rank - 1]!;
  const rows = x.size / cols;
  if (gamma.size !== cols) throw new KernelError(LN_OP, `${gamma} must have ${cols} elements (the last axis of x ${fmt(x.shape)})`, 'gamma');
  if (stats.size !== 2 * rows) throw new KernelError(LN_OP, `${stats} must be [${rows}, 2]: (mean, rstd) per row of x ${fmt(x.shape)}`, 'stats');
  const layout = opts.gLayout ?? 'full';
  if (layout !== 'full' && layout !== 'row') throw new KernelError(LN_OP, `gLayout '${String(layout)}' is not 'full' or 'row'`);
  const perRhs = layout === 'full' ? rows * cols : cols;
  if (g.size === 0 || g.size % perRhs !== 0) {
    throw new KernelError(LN_OP, `${g} is not a whole number of right-hand sides of ${layout === 'full' ? fmt([rows, cols]) : fmt([cols])}`, 'g');
  }
  const batch = g.size / perRhs;
  const zeroRows = opts.zeroRows ?? 0;
  checkCount(LN_OP, 'zeroRows', zeroRows);
  const gScale = opts.gScale ?? 1;
  if (!Number.isFinite(gScale)) throw new KernelError(LN_OP, `gScale = ${gScale} must be finite`);
  const shape = [batch, rows, cols];
  if (opts.residual) {
    checkF32(LN_OP, opts.residual, 'residual');
    if (opts.residual.size !== batch * rows * cols) throw new KernelError(LN_OP, `${opts.residual} must match dx ${fmt(shape)}`, 'residual');
  }
  const dx = outFor(gpu, LN_OP, 'dx', shape, opts.out);
  for (const [name, t] of [['g', g], ['x', x], ['stats', stats], ['gamma', gamma], ['residual', opts.residual]] as const) {
    if (t && overlaps(dx, t)) throw new KernelError(LN_OP, `out overlaps ${name}; the kernel cannot write over its inputs`, 'dx');
  }
  const args: LayerNormBackwardArgs = {
    batch, rows, cols, gBatch: perRhs, gRow: layout === 'full' ? cols : 0, gScale, zeroRows, residual: !!opts.residual,
  };
  await gpu.run(layerNormBackwardKernel, args, { g, x, stats, gamma, residual: opts.residual, dx });
  return dx;
}

// ---------------------------------------------------------------------------------------------
// Softmax backward (attention probabilities shared by B right-hand sides)

export interface SoftmaxBackwardArgs {
  groups: number;
  batch: number;
  rows: number;
  cols: number;
}

export const softmaxBackwardKernel = defineKernel<SoftmaxBackwardArgs>({
  name: 'softmax_backward',
  shader: 'backward/softmax_backward.wgsl',
  params: () => ({ WG: ROW_WG }),
  uniforms: (a) => ({ count: a.groups * a.batch * a.rows, rows: a.rows, cols: a.cols, batch: a.batch }),
  workgroups: (a, t) => grid1d(ceilDiv(a.groups * a.batch * a.rows, ROW_WG), t),
  sizes: (a) => {
    const n = a.groups * a.batch * a.rows * a.cols;
    return { dp: n, probs: a.groups * a.rows * a.cols, ds: n };
  },
  cost: (a) => {
    const n = a.groups * a.batch * a.rows * a.cols;
    return { flops: 4 * n, bytes: 4 * (2 * n + a.groups * a.rows * a.cols) };
  },
});

const SM_OP = 'softmax_backward';

/**
 * ds = P ⊙ (dp − rowsum(dp ⊙ P)) with P [G, R, C] (any shape whose last two axes are R, C; G is the
 * product of the rest) broadcast over the B right-hand sides of dp [G, B, R, C] (any shape with
 * G·B·R·C elements, read in that order). Returns ds shaped like dp.
 */
export async function softmaxBackward(gpu: Gpu, dp: Tensor, probs: Tensor, opts: { batch: number; out?: Tensor }): Promise<Tensor> {
  checkF32(SM_OP, dp, 'dp');
  checkF32(SM_OP, probs, 'probs');
  if (probs.rank < 2) throw new KernelError(SM_OP, `${probs} must be [..., R, C]`, 'probs');
  const cols = probs.shape[probs.rank - 1]!, rows = probs.shape[probs.rank - 2]!;
  const groups = probs.size / Math.max(rows * cols, 1);
  const batch = opts.batch;
  if (!Number.isInteger(batch) || batch < 1) throw new KernelError(SM_OP, `batch = ${batch} must be a positive integer`);
  if (dp.size !== groups * batch * rows * cols) {
    throw new KernelError(SM_OP, `${dp} must hold [G, B, R, C] = [${groups}, ${batch}, ${rows}, ${cols}] (P is ${fmt(probs.shape)})`, 'dp');
  }
  const ds = outFor(gpu, SM_OP, 'ds', dp.shape, opts.out);
  if (overlaps(ds, dp) || overlaps(ds, probs)) throw new KernelError(SM_OP, 'out overlaps an input', 'ds');
  await gpu.run(softmaxBackwardKernel, { groups, batch, rows, cols }, { dp, probs, ds });
  return ds;
}

// ---------------------------------------------------------------------------------------------
// QuickGELU backward

export interface QuickGeluBackwardArgs {
  count: number;
  hCount: number;
}

const EW_WG = 256;

export const quickGeluBackwardKernel = defineKernel<QuickGeluBackwardArgs>({
  name: 'quickgelu_backward',
  shader: 'backward/quickgelu_backward.wgsl',
  params: () => ({ WG: EW_WG }),
  uniforms: (a) => ({ count: a.count, h_count: Math.max(a.hCount, 1) }),
  workgroups: (a, t) => grid1d(ceilDiv(a.count, EW_WG), t),
  sizes: (a) => ({ g: a.count, h: a.count === 0 ? 0 : a.hCount, dh: a.count }),
  cost: (a) => ({ flops: 10 * a.count, bytes: 4 * (2 * a.count + a.hCount) }),
});

const QG_OP = 'quickgelu_backward';

/** dh = g ⊙ QuickGELU'(h), where g holds B blocks of h's size (b-major) and h is shared by all. */
export async function quickGeluBackward(gpu: Gpu, g: Tensor, h: Tensor, opts: { out?: Tensor } = {}): Promise<Tensor> {
  checkF32(QG_OP, g, 'g');
  checkF32(QG_OP, h, 'h');
  if (h.size === 0 || g.size % h.size !== 0) throw new KernelError(QG_OP, `${g} is not a whole number of blocks of h ${fmt(h.shape)}`, 'g');
  const dh = outFor(gpu, QG_OP, 'dh', g.shape, opts.out);
  if (overlaps(dh, h) || overlaps(dh, g)) throw new KernelError(QG_OP, 'out overlaps an input', 'dh');
  await gpu.run(quickGeluBackwardKernel, { count: g.size, hCount: h.size }, { g, h, dh });
  return dh;
}

// ---------------------------------------------------------------------------------------------
// CLIP-ES head: probabilities and ∂p_c/∂e

export interface ClipHeadArgs {
  rows: number;
  classes: number;
  dim: number;
  kappa: number;
}

/** Capacity of the head kernel's per-row workgroup arrays (shaders/backward/clip_head.wgsl MAX_ROWS). */
export const CLIP_HEAD_MAX_ROWS = 1024;
const HEAD_WG = 64;

export const clipHeadKernel = defineKernel<ClipHeadArgs>({
  name: 'clip_head',
  shader: 'backward/clip_head.wgsl',
  params: () => ({ WG: HEAD_WG }),
  uniforms: (a) => ({ rows: a.rows, classes: a.classes, dim: a.dim, kappa: a.kappa }),
  workgroups: () => [1],
  sizes: (a) => ({ e: a.dim, text: a.rows * a.dim, probs: a.rows, de: a.classes * a.dim }),
  cost: (a) => ({ flops: 2 * a.rows * a.dim * (2 + a.classes), bytes: 4 * (a.dim + a.rows * a.dim + a.rows + a.classes * a.dim) }),
});

const HEAD_OP = 'clip_head';

export interface ClipHeadOptions {
  /** K: gradients of p_0 .. p_{K−1} (the image's labels are the first K text rows). */
  classes: number;
  /** κ = exp(logit_scale). */
  kappa: number;
  probsOut?: Tensor;
  deOut?: Tensor;
}

/**
 * CLIP-ES's head for one image feature e [E] (any shape of E elements) and text rows T [R, E] (not
 * necessarily normalised): p = softmax_r(κ · cos(e, T_r)) [R] and de [K, E], row c = ∂p_c/∂e.
 */
export async function clipHead(gpu: Gpu, e: Tensor, text: Tensor, opts: ClipHeadOptions): Promise<{ probs: Tensor; de: Tensor }> {
  checkF32(HEAD_OP, e, 'e');
  checkF32(HEAD_OP, text, 'text');
  const dim = e.size;
  if (dim === 0) throw new KernelError(HEAD_OP, `${e} is empty`, 'e');
  if (text.size === 0 || text.size % dim !== 0) throw new KernelError(HEAD_OP, `${text} is not a whole number of rows of E = ${dim}`, 'text');
  const rows = text.size / dim;
  if (rows > CLIP_HEAD_MAX_ROWS) throw new KernelError(HEAD_OP, `${rows} text rows exceed the kernel's capacity of ${CLIP_HEAD_MAX_ROWS}`, 'text');
  const { classes, kappa } = opts;
  if (!Number.isInteger(classes) || classes < 1 || classes > rows) throw new KernelError(HEAD_OP, `classes K = ${classes} must be 1..${rows} (the text rows)`);
  if (!Number.isFinite(kappa) || kappa <= 0) throw new KernelError(HEAD_OP, `kappa = ${kappa} must be a positive finite number`);
  const probs = outFor(gpu, HEAD_OP, 'probs', [rows], opts.probsOut);
  const de = outFor(gpu, HEAD_OP, 'de', [classes, dim], opts.deOut);
  await gpu.run(clipHeadKernel, { rows, classes, dim, kappa }, { e, text, probs, de });
  return { probs, de };
}

// ---------------------------------------------------------------------------------------------
// CAM normalisation

export interface CamMinMaxArgs {
  rows: number;
  stride: number;
  skip: number;
}

export const camMinMaxKernel = defineKernel<CamMinMaxArgs>({
  name: 'cam_minmax',
  shader: 'backward/cam_minmax.wgsl',
  params: () => ({ WG: ROW_WG }),
  uniforms: (a) => ({ rows: a.rows, stride: a.stride, skip: a.skip }),
  workgroups: (a, t) => grid1d(ceilDiv(a.rows, ROW_WG), t),
  sizes: (a) => ({ raw: a.rows * a.stride, cam: a.rows * (a.stride - a.skip) }),
  cost: (a) => ({ flops: 8 * a.rows * a.stride, bytes: 4 * a.rows * (3 * a.stride) }),
});

const CAM_OP = 'cam_minmax';

/**
 * ReLU, then (v − min)/(1e-7 + max(v − min)) twice in float32 (pytorch_grad_cam's scale_cam_image
 * and aggregate_multi_layers), per row of raw [rows, stride] after dropping the first `skip`
 * columns. Returns [rows, stride − skip].
 */
export async function camMinMax(gpu: Gpu, raw: Tensor, opts: { skip?: number; out?: Tensor } = {}): Promise<Tensor> {
  checkF32(CAM_OP, raw, 'raw');
  if (raw.rank < 1) throw new KernelError(CAM_OP, `${raw} must be [rows, stride]`, 'raw');
  const stride = raw.shape[raw.rank - 1]!;
  const rows = stride === 0 ? 0 : raw.size / stride;
  const skip = opts.skip ?? 0;
  checkCount(CAM_OP, 'skip', skip);
  if (skip >= stride) throw new KernelError(CAM_OP, `skip = ${skip} leaves no columns of ${fmt(raw.shape)}`, 'raw');
  const cam = outFor(gpu, CAM_OP, 'cam', [rows, stride - skip], opts.out);
  if (overlaps(cam, raw)) throw new KernelError(CAM_OP, 'out overlaps raw', 'cam');
  await gpu.run(camMinMaxKernel, { rows, stride, skip }, { raw, cam });
  return cam;
}
