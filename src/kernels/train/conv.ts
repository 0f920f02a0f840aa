// Backward of 2-D convolution over NCHW f32 tensors (shaders/train/), for src/kernels/conv.ts's
// forward: the same geometry (convGeometry: stride, padding, dilation, groups incl. depthwise) and
// the same weight order [Cout, KH, KW, Cin/groups] (OHWI; see conv.ts's header).
//   conv2dBackwardInput    dx: an implicit GEMM per stride phase (conv2d_backward_input.wgsl),
//                          register-blocked like the forward; every element gathered once by one
//                          invocation, no atomics. Depthwise layers: runs of 8 pixels of one
//                          channel per invocation (conv2d_backward_input_depthwise.wgsl).
//   conv2dBackwardWeight   dw (and db): split-K. Register-blocked partial sums over fixed chunks of
//                          output rows (conv2d_backward_weight.wgsl; depthwise layers one weight per
//                          unit, conv2d_backward_weight_depthwise.wgsl), then a pass that adds the
//                          partials in chunk order (conv2d_backward_weight_reduce.wgsl). The
//                          summation order is a function of the sizes and the plan
//                          (CONV_WEIGHT_PLANS), so a run is bit-identical on one adapter kind.
//   conv2dBackward         both
// Every gradient can be added to an existing one (`accumulate`), for micro-batches and for tensors
// that several consumers read.
//
// Speed on SwiftShader at the segmenter's sizes (src/train/segmenter.ts: batch 4 of 3×96×128,
// widths 16-32-64, 11 classes), `npx tsx bench/conv-backward.bench.ts --cpu`: median CPU ms of 5
// warm calls (this process, both SwiftShader threads; the wall clock on the shared 2-core machine,
// load ≈ 8, moved by ±30 % around it), forward / dx / dw:
//   stem 3→16 3×3 on 96×128 (dw only)    417 /  —  /  42
//   16→16 3×3 on 48×64                   185 / 59  /  49
//   16→32 3×3 stride 2 on 48×64           55 / 37  /  16
//   32→32 3×3 on 24×32                    59 / 44  /  32
//   32→64 3×3 stride 2 on 24×32           32 / 23  /  18
//   64→64 3×3 on 12×16                    56 / 46  /  36
//   64→11 1×1 + bias on 12×16              8 /  6  /   2
// (dx + dw) / forward is 0.6–1.5 on the 3×3 layers, 0.1 on the stem, whose forward is slow with 3
// input channels. Per pass on the 3×3 layers: 0.8–1.3 GFLOP/s for dx, 1.0–1.8 for dw, against
// 0.06–0.14 for one gradient element per invocation (the same bench on that form: dx 430–580 ms,
// dw 260–500 ms per layer). With --extra: x [2, 32, 33, 33] 32→32 44 / 36 / 25; depthwise 3×3 on
// [2, 64, 33, 33] 22 / 21 / 14; 64→64 dilation 2 on 33×33 134 / 129 / 109.
import type { Gpu } from '../../gpu/context.js';
import { KernelError } from '../../gpu/errors.js';
import { ceilDiv, defineKernel, grid1d, type DeviceTraits } from '../../gpu/kernel.js';
import type { Shape, Tensor } from '../../gpu/tensor.js';
import { convGeometry, pickConvVariant, type ConvGeometry, type ConvParams, type ConvPlan, type ConvVariant } from '../conv.js';
import { checkNchw, checkNoOverlap, checkTensor, fmt, resultTensor, xy } from './common.js';

const IN_OP = 'conv2d_backward_input';
const W_OP = 'conv2d_backward_weight';

function geometryUniforms(a: ConvGeometry) {
  return {
    cin: a.cin, h: a.h, w: a.w, cout: a.cout, ho: a.ho, wo: a.wo, kh: a.kh, kw: a.kw,
    cin_g: a.cin / a.groups, cout_g: a.cout / a.groups,
    stride: xy(a.stride), pad: xy(a.padding), dilation: xy(a.dilation),
  };
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** Per axis, the taps of one stride phase (common/conv_geometry.wgsl, conv_phase_taps). */
function phaseUniforms(a: ConvGeometry) {
  const tapStep = a.stride.map((s, i) => s / gcd(s, a.dilation[i]!)) as [number, number];
  const offStep = tapStep.map((t, i) => (t * a.dilation[i]!) / a.stride[i]!) as [number, number];
  return { tap_step: xy(tapStep), off_step: xy(offStep) };
}
const weightCount = (a: ConvGeometry) => a.cout * a.kh * a.kw * (a.cin / a.groups);
const inputCount = (a: ConvGeometry) => a.batch * a.cin * a.h * a.w;
const outputCount = (a: ConvGeometry) => a.batch * a.cout * a.ho * a.wo;
/** Multiply-adds of one full gradient: one per (output element, tap, input channel of its group). */
const macs = (a: ConvGeometry) => outputCount(a) * a.kh * a.kw * (a.cin / a.groups);

// ---------------------------------------------------------------------------------------------
// Plans (data): tile shapes per adapter kind

/**
 * dx tiles, the forward's plan type (input channels × pixels of one phase per invocation, then
 * invocations per workgroup). SwiftShader: 8×8 blocks, 1 × 8 invocations (an 8-channel × 64-pixel
 * tile). CPU ms summed over the segmenter's dx shapes (bench/conv-backward.bench.ts shapes, median
 * of 9, interleaved): workgroups 1×8 198, 4×4 193, 2×4 198, 1×16 187, the same within the noise;
 * 8×4 blocks 224, 4×8 233. A group with at most 4 input channels takes 4-row blocks. Real GPUs: 8×8
 * workgroups with fma (untuned).
 */
export const CONV_INPUT_PLANS: Record<DeviceTraits['adapter']['kind'], ConvPlan> = {
  swiftshader: { tm: 8, tn: 8, wgM: 1, wgN: 8, fused: false },
  gpu: { tm: 8, tn: 8, wgM: 8, wgN: 8, fused: true },
};

export function pickInputPlan(g: ConvGeometry, kind: DeviceTraits['adapter']['kind']): ConvPlan {
  const base = CONV_INPUT_PLANS[kind];
  if (!base) throw new KernelError(IN_OP, `unknown adapter kind '${String(kind)}'`);
  return g.cin / g.groups <= 4 ? { ...base, tm: 4 } : base;
}

/** dw tiles: output × input channels per unit, units per workgroup, output pixels per split. */
export interface ConvWeightPlan {
  tm: 4 | 8;
  tn: 4 | 8;
  wg: number;
  /**
   * Output pixels per split-K chunk, as whole output rows of one batch item:
   * chunk_rows = min(Ho, max(1, ⌊chunk / Wo⌋)), or Ho where that would make more than 2²² partial
   * sums. The summation order is a function of this and the sizes (conv2d_backward_weight.wgsl).
   */
  chunk: number;
  fused: boolean;
}

/**
 * SwiftShader: 8×8 blocks, 16 units per workgroup, 1024-pixel chunks. CPU ms summed over the
 * segmenter's dw shapes (as for dx): chunks of 256 / 512 / 1024 / 2048 pixels 170 / 169 / 155 /
 * 154, 64 units per workgroup 155, 4×8 blocks 203, 8×4 213. Real GPUs: larger chunks in 64-unit
 * workgroups with fma (untuned). A group with at most 4 output (input) channels takes 4-row
 * (4-column) blocks. The summation order follows the plan, so results are bit-identical per
 * adapter kind, not across kinds.
 */
export const CONV_WEIGHT_PLANS: Record<DeviceTraits['adapter']['kind'], ConvWeightPlan> = {
  swiftshader: { tm: 8, tn: 8, wg: 16, chunk: 1024, fused: false },
  gpu: { tm: 8, tn: 8, wg: 64, chunk: 2048, fused: true },
};

export function pickWeightPlan(g: ConvGeometry, kind: DeviceTraits['adapter']['kind']): ConvWeightPlan {
  const base = CONV_WEIGHT_PLANS[kind];
  if (!base) throw new KernelError(W_OP, `unknown adapter kind '${String(kind)}'`);
  return { ...base, tm: g.cout / g.groups <= 4 ? 4 : base.tm, tn: g.cin / g.groups <= 4 ? 4 : base.tn };
}

// ---------------------------------------------------------------------------------------------
// Descriptors

export interface ConvBackwardInputArgs extends ConvGeometry {
  accumulate: boolean;
  plan: ConvPlan;
}

function inputTiles(a: ConvBackwardInputArgs): { tilesN: number; tilesM: number; tiles: number } {
  // Phase (0, 0) is the largest: ⌈h / stride_y⌉ × ⌈w / stride_x⌉ pixels.
  const tilesN = ceilDiv(ceilDiv(a.h, a.stride[0]) * ceilDiv(a.w, a.stride[1]), a.plan.tn * a.plan.wgN);
  const tilesM = ceilDiv(a.cin / a.groups, a.plan.tm * a.plan.wgM);
  return { tilesN, tilesM, tiles: a.stride[0] * a.stride[1] * tilesM * tilesN };
}

function checkInvocations(op: string, invocations: number, t: DeviceTraits): void {
  if (!Number.isInteger(invocations) || invocations < 1 || invocations > t.limits.maxComputeInvocationsPerWorkgroup) {
    throw new KernelError(op, `plan asks for ${invocations} invocations per workgroup; this device allows 1 to ${t.limits.maxComputeInvocationsPerWorkgroup}`);
  }
}

function checkTilePlan(op: string, plan: { tm: number; tn: number }, invocations: number, t: DeviceTraits): void {
  if ((plan.tm !== 4 && plan.tm !== 8) || (plan.tn !== 4 && plan.tn !== 8)) throw new KernelError(op, `plan tm = ${plan.tm}, tn = ${plan.tn}: each must be 4 or 8`);
  checkInvocations(op, invocations, t);
}

export const conv2dBackwardInputKernel = defineKernel<ConvBackwardInputArgs>({
  name: IN_OP,
  shader: 'train/conv2d_backward_input.wgsl',
  params: (a, t) => {
    checkTilePlan(IN_OP, a.plan, a.plan.wgM * a.plan.wgN, t);
    // C_TAIL (cout_g not a multiple of 4) is the one shape-derived parameter: two pipelines at most
    // per plan, for a loop without masked loads where there is no partial quad of channels.
    return { TM: a.plan.tm, TN: a.plan.tn, WG_M: a.plan.wgM, WG_N: a.plan.wgN, FUSED: a.plan.fused, C_TAIL: (a.cout / a.groups) % 4 !== 0 };
  },
  uniforms: (a) => {
    const { tilesN, tilesM, tiles } = inputTiles(a);
    return {
      ...geometryUniforms(a), ...phaseUniforms(a), groups: a.groups, tiles_n: tilesN, tiles_m: tilesM, tiles,
      cout_q: ceilDiv(a.cout / a.groups, 4), accumulate: a.accumulate ? 1 : 0,
    };
  },
  workgroups: (a, t) => {
    const z = a.batch * a.groups;
    if (z > t.limits.maxComputeWorkgroupsPerDimension) throw new KernelError(IN_OP, `batch × groups = ${z} exceeds the device's ${t.limits.maxComputeWorkgroupsPerDimension} workgroups per dimension`);
    return [...grid1d(inputTiles(a).tiles, t), z];
  },
  sizes: (a) => ({ dy: outputCount(a), weight: weightCount(a), dx: inputCount(a) }),
  cost: (a) => ({ flops: 2 * macs(a), bytes: 4 * (outputCount(a) + weightCount(a) + (a.accumulate ? 2 : 1) * inputCount(a)) }),
});

export type ConvBackwardInputDepthwiseArgs = Omit<ConvBackwardInputArgs, 'plan'>;

const DW_WG = 64;

/** Runs of 8 pixels along the rows of the largest phase, (0, 0), per channel plane. */
function depthwiseRuns(a: ConvGeometry) {
  const rows = ceilDiv(a.h, a.stride[0]);
  const runs = ceilDiv(ceilDiv(a.w, a.stride[1]), 8);
  return { rows, runs, count: a.batch * a.cin * a.stride[0] * a.stride[1] * rows * runs };
}

export const conv2dBackwardInputDepthwiseKernel = defineKernel<ConvBackwardInputDepthwiseArgs>({
  name: `${IN_OP}_depthwise`,
  shader: 'train/conv2d_backward_input_depthwise.wgsl',
  params: () => ({ WG: DW_WG }),
  uniforms: (a) => {
    const { rows, runs, count } = depthwiseRuns(a);
    return {
      cin: a.cin, h: a.h, w: a.w, cout: a.cout, ho: a.ho, wo: a.wo, kh: a.kh, kw: a.kw, cout_g: a.cout / a.groups,
      stride: xy(a.stride), pad: xy(a.padding), dilation: xy(a.dilation), ...phaseUniforms(a),
      rows, runs, count, accumulate: a.accumulate ? 1 : 0,
    };
  },
  workgroups: (a, t) => grid1d(ceilDiv(depthwiseRuns(a).count, DW_WG), t),
  sizes: (a) => ({ dy: outputCount(a), weight: weightCount(a), dx: inputCount(a) }),
  cost: (a) => ({ flops: 2 * macs(a), bytes: 4 * (outputCount(a) + weightCount(a) + (a.accumulate ? 2 : 1) * inputCount(a)) }),
});

export interface ConvBackwardWeightArgs extends ConvGeometry {
  hasBias: boolean;
  plan: ConvWeightPlan;
}

/** Output channels per bias unit (BIAS_ROWS in conv2d_backward_weight_io.wgsl). */
const BIAS_ROWS = 8;

/**
 * Partial sums (floats) above which a weight gradient takes one chunk per batch item whatever the
 * plan says: large layers have tiles enough to fill the device without splitting further.
 */
const PARTIAL_LIMIT = 1 << 22;

/** The split-K layout of a weight gradient: chunks of output rows, tiles per chunk, partial length. */
function weightSplit(a: ConvBackwardWeightArgs) {
  const count = weightCount(a) + (a.hasBias ? a.cout : 0);
  let chunkRows = Math.min(a.ho, Math.max(1, Math.floor(a.plan.chunk / a.wo)));
  if (a.batch * ceilDiv(a.ho, chunkRows) * count > PARTIAL_LIMIT) chunkRows = a.ho;
  const itemChunks = ceilDiv(a.ho, chunkRows);
  const splits = a.batch * itemChunks;
  const tilesM = ceilDiv(a.cout / a.groups, a.plan.tm);
  const tilesN = ceilDiv(a.cin / a.groups, a.plan.tn);
  const weightTiles = a.groups * a.kh * a.kw * tilesM * tilesN;
  const tiles = weightTiles + (a.hasBias ? ceilDiv(a.cout, BIAS_ROWS) : 0);
  return { chunkRows, itemChunks, splits, tilesM, tilesN, weightTiles, tiles, units: tiles * splits, count };
}

export const conv2dBackwardWeightKernel = defineKernel<ConvBackwardWeightArgs>({
  name: W_OP,
  shader: 'train/conv2d_backward_weight.wgsl',
  params: (a, t) => {
    checkTilePlan(W_OP, a.plan, a.plan.wg, t);
    checkChunk(a.plan);
    return { TM: a.plan.tm, TN: a.plan.tn, WG: a.plan.wg, FUSED: a.plan.fused };
  },
  uniforms: (a) => {
    const s = weightSplit(a);
    return {
      ...geometryUniforms(a), batch: a.batch, tiles_m: s.tilesM, tiles_n: s.tilesN, weight_tiles: s.weightTiles, tiles: s.tiles,
      chunk_rows: s.chunkRows, item_chunks: s.itemChunks, units: s.units, weight_count: weightCount(a), count: s.count,
    };
  },
  workgroups: (a, t) => grid1d(ceilDiv(weightSplit(a).units, a.plan.wg), t),
  sizes: (a) => {
    const s = weightSplit(a);
    return { dy: outputCount(a), x: inputCount(a), partial: s.splits * s.count };
  },
  cost: (a) => {
    const s = weightSplit(a);
    return { flops: 2 * macs(a) + (a.hasBias ? outputCount(a) : 0), bytes: 4 * (outputCount(a) + inputCount(a) + s.splits * s.count) };
  },
});

function checkChunk(plan: ConvWeightPlan): void {
  if (!Number.isInteger(plan.chunk) || plan.chunk < 1) throw new KernelError(W_OP, `plan chunk = ${plan.chunk} must be a positive integer`);
}

/** One weight per unit: the weight tiles of the depthwise kernel. */
function depthwiseWeightSplit(a: ConvBackwardWeightArgs) {
  const s = weightSplit(a);
  const weightTiles = weightCount(a);
  const tiles = weightTiles + (a.hasBias ? ceilDiv(a.cout, BIAS_ROWS) : 0);
  return { ...s, weightTiles, tiles, units: tiles * s.splits };
}

export const conv2dBackwardWeightDepthwiseKernel = defineKernel<ConvBackwardWeightArgs>({
  name: `${W_OP}_depthwise`,
  shader: 'train/conv2d_backward_weight_depthwise.wgsl',
  params: (a, t) => {
    checkInvocations(W_OP, a.plan.wg, t);
    checkChunk(a.plan);
    return { WG: a.plan.wg };
  },
  uniforms: (a) => {
    const s = depthwiseWeightSplit(a);
    return {
      batch: a.batch, cin: a.cin, h: a.h, w: a.w, cout: a.cout, ho: a.ho, wo: a.wo, kh: a.kh, kw: a.kw, cout_g: a.cout / a.groups,
      stride: xy(a.stride), pad: xy(a.padding), dilation: xy(a.dilation),
      weight_tiles: s.weightTiles, tiles: s.tiles, chunk_rows: s.chunkRows, item_chunks: s.itemChunks, units: s.units,
      weight_count: weightCount(a), count: s.count,
    };
  },
  workgroups: (a, t) => grid1d(ceilDiv(depthwiseWeightSplit(a).units, a.plan.wg), t),
  sizes: (a) => {
    const s = weightSplit(a);
    return { dy: outputCount(a), x: inputCount(a), partial: s.splits * s.count };
  },
  cost: (a) => {
    const s = weightSplit(a);
    return { flops: 2 * macs(a) + (a.hasBias ? outputCount(a) : 0), bytes: 4 * (outputCount(a) + inputCount(a) + s.splits * s.count) };
  },
});

export interface ConvWeightReduceArgs {
  weightCount: number;
  biasCount: number;
  splits: number;
  accumulate: boolean;
}

const REDUCE_WG = 64;

export const conv2dBackwardWeightReduceKernel = defineKernel<ConvWeightReduceArgs>({
  name: `${W_OP}_reduce`,
  shader: 'train/conv2d_backward_weight_reduce.wgsl',
  params: () => ({ WG: REDUCE_WG }),
  uniforms: (a) => ({ count: a.weightCount + a.biasCount, weight_count: a.weightCount, splits: a.splits, accumulate: a.accumulate ? 1 : 0 }),
  workgroups: (a, t) => grid1d(ceilDiv(a.weightCount + a.biasCount, REDUCE_WG), t),
  sizes: (a) => ({ partial: a.splits * (a.weightCount + a.biasCount), dw: a.weightCount, db: a.biasCount }),
  cost: (a) => {
    const n = a.weightCount + a.biasCount;
    return { flops: (a.splits - 1) * n + (a.accumulate ? n : 0), bytes: 4 * (a.splits + (a.accumulate ? 2 : 1)) * n };
  },
});

// ---------------------------------------------------------------------------------------------
// Tensor-level functions

export interface ConvBackwardOptions extends ConvParams {
  /** Add to the existing gradient in the `out` tensor(s) instead of overwriting. */
  accumulate?: boolean;
  /**
   * Force a kernel (tests, benchmarks); default as the forward picks (pickConvVariant):
   * 'depthwise' when each group has one input channel, else 'gemm'.
   */
  variant?: ConvVariant;
}

function checkVariant(op: string, g: ConvGeometry, variant: ConvVariant | undefined): ConvVariant {
  const v = variant ?? pickConvVariant(g);
  if (v === 'depthwise' && g.cin / g.groups !== 1) throw new KernelError(op, `the depthwise kernel needs one input channel per group; x has ${g.cin} channels in ${g.groups} groups`);
  if (v !== 'depthwise' && v !== 'gemm') throw new KernelError(op, `unknown variant '${String(v)}' (known: gemm, depthwise)`);
  return v;
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
export async function conv2dBackwardInput(gpu: Gpu, dy: Tensor, weight: Tensor, xShape: Shape, opts: ConvBackwardOptions & { out?: Tensor; plan?: ConvPlan } = {}): Promise<Tensor> {
  checkTensor(IN_OP, weight, 'weight');
  const g = geometryFor(IN_OP, dy, xShape, weight.shape, opts);
  const accumulate = opts.accumulate ?? false;
  const variant = checkVariant(IN_OP, g, opts.variant);
  const dx = resultTensor(gpu, IN_OP, 'dx', xShape, opts.out, accumulate);
  checkNoOverlap(IN_OP, 'dx', dx, { dy, weight });
  if (variant === 'depthwise') {
    await gpu.run(conv2dBackwardInputDepthwiseKernel, { ...g, accumulate }, { dy, weight, dx });
  } else {
    const plan = opts.plan ?? pickInputPlan(g, gpu.traits.adapter.kind);
    await gpu.run(conv2dBackwardInputKernel, { ...g, accumulate, plan }, { dy, weight, dx });
  }
  return dx;
}

export interface ConvWeightGradOptions extends ConvBackwardOptions {
  /** Also the bias gradient db [Cout]. Default false. */
  bias?: boolean;
  dwOut?: Tensor;
  dbOut?: Tensor;
  /** Force a tile plan (tests, benchmarks); default pickWeightPlan for the adapter. */
  plan?: ConvWeightPlan;
}

/** dw [Cout, KH, KW, Cin/groups] (and db [Cout]) of y = conv2d(x, w) + b for dy and the forward's x. */
export async function conv2dBackwardWeight(gpu: Gpu, dy: Tensor, x: Tensor, weightShape: Shape, opts: ConvWeightGradOptions = {}): Promise<{ dw: Tensor; db?: Tensor }> {
  checkTensor(W_OP, x, 'x');
  const g = geometryFor(W_OP, dy, x.shape, weightShape, opts);
  const accumulate = opts.accumulate ?? false;
  const hasBias = opts.bias ?? false;
  const variant = checkVariant(W_OP, g, opts.variant);
  const plan = opts.plan ?? pickWeightPlan(g, gpu.traits.adapter.kind);
  checkChunk(plan);
  if (!hasBias && opts.dbOut) throw new KernelError(W_OP, 'dbOut given without bias: true', 'db');
  const dw = resultTensor(gpu, W_OP, 'dw', weightShape, opts.dwOut, accumulate);
  const db = hasBias ? resultTensor(gpu, W_OP, 'db', [g.cout], opts.dbOut, accumulate) : undefined;
  checkNoOverlap(W_OP, 'dw', dw, { dy, x, db });
  if (db) checkNoOverlap(W_OP, 'db', db, { dy, x });
  const args: ConvBackwardWeightArgs = { ...g, hasBias, plan };
  const { splits, count } = weightSplit(args);
  const partial = gpu.empty([splits * count], 'f32', 'conv2d_backward_weight split-K partials');
  try {
    const first = variant === 'depthwise' ? conv2dBackwardWeightDepthwiseKernel : conv2dBackwardWeightKernel;
    await gpu.run(first, args, { dy, x, partial });
    await gpu.run(conv2dBackwardWeightReduceKernel, { weightCount: weightCount(g), biasCount: hasBias ? g.cout : 0, splits, accumulate }, { partial, dw, db });
  } finally {
    // Safe before the GPU ran: a later user of this buffer is ordered after these dispatches.
    gpu.release(partial);
  }
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
  opts: ConvWeightGradOptions & { inputGrad?: boolean; dxOut?: Tensor; accumulateInput?: boolean; inputPlan?: ConvPlan } = {},
): Promise<ConvGradients> {
  const { dw, db } = await conv2dBackwardWeight(gpu, dy, x, weight.shape, opts);
  if (opts.inputGrad === false) return db ? { dw, db } : { dw };
  const dx = await conv2dBackwardInput(gpu, dy, weight, x.shape, { ...opts, accumulate: opts.accumulateInput ?? false, out: opts.dxOut, plan: opts.inputPlan });
  return db ? { dx, dw, db } : { dx, dw };
}
