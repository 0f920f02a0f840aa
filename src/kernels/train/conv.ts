// Backward of 2-D convolution over NCHW f32 tensors (shaders/train/), for src/kernels/conv.ts's
// forward: the same geometry (convGeometry: stride, padding, dilation, groups incl. depthwise) and
// the same weight order [Cout, KH, KW, Cin/groups] (OHWI; see conv.ts's header).
//   conv2dBackwardInput    dx = the transposed convolution of dy, gathered per input element
//   conv2dBackwardWeight   dw (and db) = Σ over batch and output pixels in a fixed order: per
//                          element, lanes over the columns and a pairwise tree (deterministic, no
//                          atomics); the lane count is a per-adapter plan (CONV_WEIGHT_PLANS)
//   conv2dBackward         both
// Every gradient can be added to an existing one (`accumulate`), for micro-batches and for tensors
// that several consumers read.
//
// Speed: both kernels are direct loops over one gradient element per invocation (or per lane
// group); they are the correctness baseline, about 5× slower than the register-blocked forward on
// SwiftShader (x [2, 32, 33, 33] 3×3: forward 63 ms, dx 330–450 ms, dw 295 ms). An implicit-GEMM
// form like the forward's (dx as a convolution of dy with the flipped weights, dw as dyᵀ·im2col(x))
// is the optimisation left for training at DeepLab sizes.
import type { Gpu } from '../../gpu/context.js';
import { KernelError } from '../../gpu/errors.js';
import { ceilDiv, defineKernel, grid1d, type DeviceTraits } from '../../gpu/kernel.js';
import type { Shape, Tensor } from '../../gpu/tensor.js';
import { convGeometry, type ConvGeometry, type ConvParams } from '../conv.js';
import { checkNchw, checkNoOverlap, checkTensor, fmt, resultTensor, xy } from './common.js';

const IN_OP = 'conv2d_backward_input';
const W_OP = 'conv2d_backward_weight';
const WG = 64;

function geometryUniforms(a: ConvGeometry) {
  return {
    cin: a.cin, h: a.h, w: a.w, cout: a.cout, ho: a.ho, wo: a.wo, kh: a.kh, kw: a.kw,
    cin_g: a.cin / a.groups, cout_g: a.cout / a.groups,
    stride: xy(a.stride), pad: xy(a.padding), dilation: xy(a.dilation),
  };
}

const weightCount = (a: ConvGeometry) => a.cout * a.kh * a.kw * (a.cin / a.groups);
const inputCount = (a: ConvGeometry) => a.batch * a.cin * a.h * a.w;
const outputCount = (a: ConvGeometry) => a.batch * a.cout * a.ho * a.wo;
/** Multiply-adds of one full gradient: one per (output element, tap, input channel of its group). */
const macs = (a: ConvGeometry) => outputCount(a) * a.kh * a.kw * (a.cin / a.groups);

// ---------------------------------------------------------------------------------------------
// Descriptors

export interface ConvBackwardInputArgs extends ConvGeometry {
  accumulate: boolean;
}

export const conv2dBackwardInputKernel = defineKernel<ConvBackwardInputArgs>({
  name: IN_OP,
  shader: 'train/conv2d_backward_input.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ ...geometryUniforms(a), count: inputCount(a), accumulate: a.accumulate ? 1 : 0 }),
  workgroups: (a, t) => grid1d(ceilDiv(inputCount(a), WG), t),
  sizes: (a) => ({ dy: outputCount(a), weight: weightCount(a), dx: inputCount(a) }),
  cost: (a) => ({ flops: 2 * macs(a), bytes: 4 * (outputCount(a) + weightCount(a) + (a.accumulate ? 2 : 1) * inputCount(a)) }),
});

export interface ConvBackwardWeightArgs extends ConvGeometry {
  hasBias: boolean;
  accumulate: boolean;
  /** Lanes per gradient element (a power of two) and elements per workgroup; lanes·rows ≤ 256. */
  lanes: number;
  rows: number;
}

/**
 * Lanes per element × elements per workgroup, per adapter kind. SwiftShader: one lane per element
 * (no tree, 64 elements per workgroup); measured (mean of 3, on a machine shared with other jobs,
 * load ≈ 5) on x [2, 32, 33, 33] 3×3: 1×64 295 ms, 4×16 473 ms, 16×4 696 ms, 64×1 1281 ms; on
 * [2, 16, 65, 65]: 175, 268, 209, 434 ms; depthwise [2, 64, 33, 33]: 12, 26, 32, 69 ms. Real GPUs:
 * 16 lanes reading consecutive columns (untuned). The summation order follows
 * the plan, so results are bit-identical per adapter kind, not across kinds.
 */
export const CONV_WEIGHT_PLANS: Record<DeviceTraits['adapter']['kind'], { lanes: number; rows: number }> = {
  swiftshader: { lanes: 1, rows: 64 },
  gpu: { lanes: 16, rows: 4 },
};

const elementCount = (a: ConvBackwardWeightArgs) => weightCount(a) + (a.hasBias ? a.cout : 0);

export const conv2dBackwardWeightKernel = defineKernel<ConvBackwardWeightArgs>({
  name: W_OP,
  shader: 'train/conv2d_backward_weight.wgsl',
  params: (a, t) => {
    const inv = a.lanes * a.rows;
    if (!(Number.isInteger(Math.log2(a.lanes)) && a.lanes >= 1) || a.rows < 1 || inv > 256) {
      throw new KernelError(W_OP, `lanes ${a.lanes} (a power of two) × rows ${a.rows} must be at most 256 invocations`);
    }
    if (inv > t.limits.maxComputeInvocationsPerWorkgroup) throw new KernelError(W_OP, `${inv} invocations per workgroup; this device allows ${t.limits.maxComputeInvocationsPerWorkgroup}`);
    return { LANES: a.lanes, ROWS: a.rows };
  },
  uniforms: (a) => ({
    ...geometryUniforms(a), batch: a.batch, weight_count: weightCount(a), bias_count: a.hasBias ? a.cout : 0,
    groups_total: ceilDiv(elementCount(a), a.rows), accumulate: a.accumulate ? 1 : 0,
  }),
  workgroups: (a, t) => grid1d(ceilDiv(elementCount(a), a.rows), t),
  sizes: (a) => ({ dy: outputCount(a), x: inputCount(a), dw: weightCount(a), db: a.hasBias ? a.cout : 0 }),
  cost: (a) => ({
    flops: 2 * macs(a) + (a.hasBias ? outputCount(a) : 0),
    bytes: 4 * (outputCount(a) + inputCount(a) + (a.accumulate ? 2 : 1) * elementCount(a)),
  }),
});

// ---------------------------------------------------------------------------------------------
// Tensor-level functions

export interface ConvBackwardOptions extends ConvParams {
  /** Add to the existing gradient in the `out` tensor(s) instead of overwriting. */
  accumulate?: boolean;
}

function geometryFor(op: string, dy: Tensor, xShape: Shape, wShape: Shape, opts: ConvParams): ConvGeometry {
  const dys = checkNchw(op, dy, 'dy');
  // The forward's checks (their errors name 'conv2d' and the culprit).
  const g = convGeometry(xShape, wShape, opts);
  const want = [g.batch, g.cout, g.ho, g.wo];
  if (dys.some((d, i) => d !== want[i])) throw new KernelError(op, `${dy} is not the forward's output ${fmt(want)} (x ${fmt(xShape)}, weight ${fmt(wShape)})`, 'dy');
  return g;
}

/**
 * dx [N, Cin, H, W] of y = conv2d(x, weight) for the output gradient dy [N, Cout, Ho, Wo], weight
 * [Cout, KH, KW, Cin/groups] (OHWI) and the forward's x shape and parameters.
 */
export async function conv2dBackwardInput(gpu: Gpu, dy: Tensor, weight: Tensor, xShape: Shape, opts: ConvBackwardOptions & { out?: Tensor } = {}): Promise<Tensor> {
  checkTensor(IN_OP, weight, 'weight');
  const g = geometryFor(IN_OP, dy, xShape, weight.shape, opts);
  const accumulate = opts.accumulate ?? false;
  const dx = resultTensor(gpu, IN_OP, 'dx', xShape, opts.out, accumulate);
  checkNoOverlap(IN_OP, 'dx', dx, { dy, weight });
  await gpu.run(conv2dBackwardInputKernel, { ...g, accumulate }, { dy, weight, dx });
  return dx;
}

export interface ConvWeightGradOptions extends ConvBackwardOptions {
  /** Also the bias gradient db [Cout]. Default false. */
  bias?: boolean;
  dwOut?: Tensor;
  dbOut?: Tensor;
  /** Force a lane plan (tests, benchmarks); default CONV_WEIGHT_PLANS for the adapter. */
  plan?: { lanes: number; rows: number };
}

/** dw [Cout, KH, KW, Cin/groups] (and db [Cout]) of y = conv2d(x, w) + b for dy and the forward's x. */
export async function conv2dBackwardWeight(gpu: Gpu, dy: Tensor, x: Tensor, weightShape: Shape, opts: ConvWeightGradOptions = {}): Promise<{ dw: Tensor; db?: Tensor }> {
  checkTensor(W_OP, x, 'x');
  const g = geometryFor(W_OP, dy, x.shape, weightShape, opts);
  const accumulate = opts.accumulate ?? false;
  const hasBias = opts.bias ?? false;
  if (!hasBias && opts.dbOut) throw new KernelError(W_OP, 'dbOut given without bias: true', 'db');
  const dw = resultTensor(gpu, W_OP, 'dw', weightShape, opts.dwOut, accumulate);
  const db = hasBias ? resultTensor(gpu, W_OP, 'db', [g.cout], opts.dbOut, accumulate) : undefined;
  checkNoOverlap(W_OP, 'dw', dw, { dy, x, db });
  if (db) checkNoOverlap(W_OP, 'db', db, { dy, x });
  const plan = opts.plan ?? CONV_WEIGHT_PLANS[gpu.traits.adapter.kind];
  if (!plan) throw new KernelError(W_OP, `unknown adapter kind '${String(gpu.traits.adapter.kind)}'`);
  await gpu.run(conv2dBackwardWeightKernel, { ...g, hasBias, accumulate, ...plan }, { dy, x, dw, db });
  return db ? { dw, db } : { dw };
}

export interface ConvGradients {
  dx?: Tensor;
  dw: Tensor;
  db?: Tensor;
}

/**
 * All gradients of y = conv2d(x, weight) (+ bias): dx unless `inputGrad` is false (a first layer
 * whose input is the image), dw, and db with `bias`.
 */
export async function conv2dBackward(
  gpu: Gpu, dy: Tensor, x: Tensor, weight: Tensor,
  opts: ConvWeightGradOptions & { inputGrad?: boolean; dxOut?: Tensor; accumulateInput?: boolean } = {},
): Promise<ConvGradients> {
  const { dw, db } = await conv2dBackwardWeight(gpu, dy, x, weight.shape, opts);
  if (opts.inputGrad === false) return db ? { dw, db } : { dw };
  const dx = await conv2dBackwardInput(gpu, dy, weight, x.shape, { ...opts, accumulate: opts.accumulateInput ?? false, out: opts.dxOut });
  return db ? { dx, dw, db } : { dx, dw };
}
