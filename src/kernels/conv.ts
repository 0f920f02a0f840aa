// 2-D convolution over NCHW f32 tensors (shaders/conv/):
//   conv2d.wgsl     implicit GEMM, register-blocked and barrier-free (the matmul/register.wgsl tile
//                   design): any stride, padding, dilation and groups
//   depthwise.wgsl  direct kernel for one input channel per group (groups = Cin, e.g. MobileNet's
//                   depthwise layers), where a GEMM tile would have a single useful row
// Both fuse the epilogue y = act(conv + bias[co] + residual), ResNet's "add the shortcut, then
// ReLU" order (the matmul epilogue applies the activation before its residual; this one after).
//
// WEIGHT ORDER. The kernels take weights as [Cout, KH, KW, Cin/groups] ("OHWI"), not PyTorch's
// [Cout, Cin/groups, KH, KW] ("OIHW"): for one tap the input channels are then consecutive, which
// makes the GEMM's inner loop a plain matmul loop (see conv2d.wgsl). Weights are converted once on
// the host when a model is loaded (ohwiFromOihw), where batch-norm is folded in too (foldBatchNorm).
import type { Gpu } from '../gpu/context.js';
import { KernelError } from '../gpu/errors.js';
import { ceilDiv, defineKernel, grid1d, type DeviceTraits } from '../gpu/kernel.js';
import { Tensor, type Shape } from '../gpu/tensor.js';
import { activationCode, type Activation } from './activation.js';

const OP = 'conv2d';
const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

export type Pair = number | readonly [number, number];

export interface ConvParams {
  /** Default 1. */
  stride?: Pair;
  /** Zero padding on each side; default 0. */
  padding?: Pair;
  /** Default 1. */
  dilation?: Pair;
  /** Default 1. Cin and Cout must be multiples of it. */
  groups?: number;
}

/** A convolution with every size resolved; the arguments of both kernels. */
export interface ConvGeometry {
  batch: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  ho: number;
  wo: number;
  kh: number;
  kw: number;
  groups: number;
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
}

function pair(v: Pair | undefined, fallback: number, what: string, min: number): [number, number] {
  const p: [number, number] = v === undefined ? [fallback, fallback] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!p.every((d) => Number.isInteger(d) && d >= min)) throw new KernelError(OP, `${what} ${JSON.stringify(v)} must be an integer ≥ ${min} or a pair of them`);
  return p;
}

/**
 * Resolve and check a convolution of x [N, Cin, H, W] with weights [Cout, KH, KW, Cin/groups]
 * (OHWI order, see the file header). Errors name the culprit.
 */
export function convGeometry(xShape: Shape, wShape: Shape, params: ConvParams = {}): ConvGeometry {
  if (xShape.length !== 4) throw new KernelError(OP, `input ${fmt(xShape)} must be [N, C, H, W]`, 'x');
  if (wShape.length !== 4) throw new KernelError(OP, `weight ${fmt(wShape)} must be [Cout, KH, KW, Cin/groups] (OHWI; convert PyTorch's OIHW with ohwiFromOihw)`, 'weight');
  const [batch, cin, h, w] = xShape as [number, number, number, number];
  const [cout, kh, kw, cinG] = wShape as [number, number, number, number];
  const groups = params.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new KernelError(OP, `groups = ${groups} must be a positive integer`);
  const stride = pair(params.stride, 1, 'stride', 1);
  const padding = pair(params.padding, 0, 'padding', 0);
  const dilation = pair(params.dilation, 1, 'dilation', 1);
  if (cin % groups !== 0) throw new KernelError(OP, `input channels ${cin} are not a multiple of groups = ${groups}`, 'x');
  if (cout % groups !== 0) throw new KernelError(OP, `output channels ${cout} (weight ${fmt(wShape)}) are not a multiple of groups = ${groups}`, 'weight');
  if (cinG !== cin / groups) {
    throw new KernelError(OP, `weight ${fmt(wShape)} has ${cinG} input channels per group; x ${fmt(xShape)} with groups = ${groups} needs ${cin / groups} (weights are OHWI: [Cout, KH, KW, Cin/groups])`, 'weight');
  }
  if (kh < 1 || kw < 1 || cout < 1) throw new KernelError(OP, `weight ${fmt(wShape)} is empty`, 'weight');
  const ho = Math.floor((h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) / stride[0]) + 1;
  const wo = Math.floor((w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) / stride[1]) + 1;
  if (ho < 1 || wo < 1) {
    throw new KernelError(OP, `input ${fmt(xShape)} is smaller than the ${kh}×${kw} kernel (dilation ${dilation.join('×')}, padding ${padding.join('×')}): output would be ${ho}×${wo}`, 'x');
  }
  return { batch, cin, h, w, cout, ho, wo, kh, kw, groups, stride, padding, dilation };
}

export const convOutShape = (g: ConvGeometry): number[] => [g.batch, g.cout, g.ho, g.wo];

export const convFlops = (g: ConvGeometry): number => 2 * g.batch * g.cout * g.ho * g.wo * g.kh * g.kw * (g.cin / g.groups);

// ---------------------------------------------------------------------------------------------
// Plans (data): tile shape per adapter kind

export interface ConvPlan {
  /** Output channels / pixels per invocation: 4 or 8. */
  tm: 4 | 8;
  tn: 4 | 8;
  /** Invocations per workgroup along the channels / pixels. */
  wgM: number;
  wgN: number;
  fused: boolean;
}

/**
 * SwiftShader: 8×8 register blocks (matmul's measured best block) in 4×4 workgroups, a 32-channel ×
 * 32-pixel tile. Measured (GFLOP/s, best of 3, on a machine shared with other jobs, load ≈ 8, so
 * absolute figures are low) against matmul's 1×8 workgroups (an 8 × 64 tile):
 *   1×1 2048→512 on 9×9    1×8 0.55–0.57   4×4 0.80–0.91   8×1 0.86–0.92
 *   3×3 256→256 9×9 d2     1×8 0.37–0.59   4×4 0.88–1.22   8×1 0.66–1.07
 *   1×1 1024→256 on 33×33  1×8 0.77–0.90   4×4 0.77–0.98   8×1 0.76–0.77
 *   3×3 64→64 on 65×65     1×8 0.59–0.64   4×4 0.70–0.75   8×1 0.65–0.71
 * A 64-pixel-wide tile wastes up to half its columns on DeepLab's small stride-8 maps (81 pixels
 * at a 65×65 input); 32 wastes less and was never worse. Real GPUs: the usual 64×64 workgroup tile
 * with fma (untuned). A group with at most 4 output channels (classifier heads with few classes,
 * grouped convs) takes 4-row blocks so that half of every block is not wasted.
 */
export const CONV_PLANS: Record<DeviceTraits['adapter']['kind'], ConvPlan> = {
  swiftshader: { tm: 8, tn: 8, wgM: 4, wgN: 4, fused: false },
  gpu: { tm: 8, tn: 8, wgM: 8, wgN: 8, fused: true },
};

export function pickConvPlan(g: ConvGeometry, kind: DeviceTraits['adapter']['kind']): ConvPlan {
  const base = CONV_PLANS[kind];
  if (!base) throw new KernelError(OP, `unknown adapter kind '${String(kind)}'`);
  return g.cout / g.groups <= 4 ? { ...base, tm: 4 } : base;
}

// ---------------------------------------------------------------------------------------------
// Kernel descriptors

interface Epilogue {
  hasBias: boolean;
  residual: boolean;
  activation: Activation;
}

export interface ConvKernelArgs extends ConvGeometry, Epilogue {
  plan: ConvPlan;
}

export interface DepthwiseKernelArgs extends ConvGeometry, Epilogue {}

function convSizes(a: ConvGeometry & Epilogue): Record<string, number> {
  const out = a.batch * a.cout * a.ho * a.wo;
  return {
    x: a.batch * a.cin * a.h * a.w,
    weight: a.cout * a.kh * a.kw * (a.cin / a.groups),
    bias: a.hasBias ? a.cout : 0,
    residual: a.residual ? out : 0,
    y: out,
  };
}

function convCost(a: ConvGeometry & Epilogue) {
  const s = convSizes(a);
  return { flops: convFlops(a), bytes: 4 * (s.x! + s.weight! + s.bias! + s.residual! + s.y!) };
}

function geometryUniforms(a: ConvGeometry) {
  return {
    cin: a.cin, h: a.h, w: a.w, cout: a.cout, ho: a.ho, wo: a.wo, kh: a.kh, kw: a.kw,
    // vec2<u32> fields: .x is the width axis, .y the height axis.
    stride: [a.stride[1], a.stride[0]], pad: [a.padding[1], a.padding[0]], dilation: [a.dilation[1], a.dilation[0]],
  };
}

function convTiles(a: ConvKernelArgs): { tilesN: number; tiles: number } {
  const tilesN = ceilDiv(a.ho * a.wo, a.plan.tn * a.plan.wgN);
  return { tilesN, tiles: tilesN * ceilDiv(a.cout / a.groups, a.plan.tm * a.plan.wgM) };
}

export const conv2dKernel = defineKernel<ConvKernelArgs>({
  name: 'conv2d',
  shader: 'conv/conv2d.wgsl',
  params: (a, t) => {
    const inv = a.plan.wgM * a.plan.wgN;
    if (inv > t.limits.maxComputeInvocationsPerWorkgroup) throw new KernelError('conv2d', `plan asks for ${inv} invocations per workgroup; this device allows ${t.limits.maxComputeInvocationsPerWorkgroup}`);
    return {
      TM: a.plan.tm, TN: a.plan.tn, WG_M: a.plan.wgM, WG_N: a.plan.wgN, FUSED: a.plan.fused,
      HAS_BIAS: a.hasBias, RESIDUAL: a.residual, ACT: activationCode(a.activation),
    };
  },
  uniforms: (a) => {
    const { tilesN, tiles } = convTiles(a);
    return { ...geometryUniforms(a), groups: a.groups, cin_g: a.cin / a.groups, cout_g: a.cout / a.groups, tiles_n: tilesN, tiles };
  },
  workgroups: (a, t) => {
    const z = a.batch * a.groups;
    if (z > t.limits.maxComputeWorkgroupsPerDimension) throw new KernelError('conv2d', `batch × groups = ${z} exceeds the device's ${t.limits.maxComputeWorkgroupsPerDimension} workgroups per dimension`);
    return [...grid1d(convTiles(a).tiles, t), z];
  },
  sizes: convSizes,
  cost: convCost,
});

const DW_WG = 64;

const dwCount = (a: ConvGeometry) => a.batch * a.cout * a.ho * ceilDiv(a.wo, 4);

export const depthwiseKernel = defineKernel<DepthwiseKernelArgs>({
  name: 'conv2d-depthwise',
  shader: 'conv/depthwise.wgsl',
  params: (a) => ({ WG: DW_WG, HAS_BIAS: a.hasBias, RESIDUAL: a.residual, ACT: activationCode(a.activation) }),
  uniforms: (a) => ({ ...geometryUniforms(a), mult: a.cout / a.groups, quads: ceilDiv(a.wo, 4), count: dwCount(a) }),
  workgroups: (a, t) => grid1d(ceilDiv(dwCount(a), DW_WG), t),
  sizes: convSizes,
  cost: convCost,
});

// ---------------------------------------------------------------------------------------------
// Tensor-level op

export type ConvVariant = 'gemm' | 'depthwise';

export interface Conv2dOptions extends ConvParams {
  /** Cout elements, added per output channel. */
  bias?: Tensor;
  /** The output's shape; added before the activation (ResNet's shortcut). */
  residual?: Tensor;
  activation?: Activation;
  out?: Tensor;
  /** Force a kernel; default: 'depthwise' when each group has one input channel, else 'gemm'. */
  variant?: ConvVariant;
  /** Force a GEMM tile plan (tests, benchmarks). */
  plan?: ConvPlan;
}

/** The kernel the tensor-level op picks for a geometry. */
export function pickConvVariant(g: ConvGeometry): ConvVariant {
  return g.groups > 1 && g.cin / g.groups === 1 ? 'depthwise' : 'gemm';
}

/**
 * y = act(conv2d(x, weight) + bias + residual) for x [N, Cin, H, W] and weight
 * [Cout, KH, KW, Cin/groups] (OHWI). Returns `out` or a new tensor [N, Cout, Ho, Wo].
 */
export async function conv2d(gpu: Gpu, x: Tensor, weight: Tensor, opts: Conv2dOptions = {}): Promise<Tensor> {
  for (const [name, t] of [['x', x], ['weight', weight], ['bias', opts.bias], ['residual', opts.residual], ['out', opts.out]] as const) {
    if (t !== undefined && !(t instanceof Tensor)) throw new KernelError(OP, 'is not a Tensor', name === 'out' ? 'y' : name);
    if (t && t.dtype !== 'f32') throw new KernelError(OP, `${t} is ${t.dtype}; conv2d takes f32`, name === 'out' ? 'y' : name);
  }
  const g = convGeometry(x.shape, weight.shape, opts);
  const outShape = convOutShape(g);
  const outputs = outShape.reduce((a, b) => a * b, 1);
  if (opts.bias && opts.bias.size !== g.cout) throw new KernelError(OP, `${opts.bias} has ${opts.bias.size} elements; there are ${g.cout} output channels`, 'bias');
  if (opts.residual && opts.residual.size !== outputs) throw new KernelError(OP, `${opts.residual} does not match the output ${fmt(outShape)}`, 'residual');
  const activation = opts.activation ?? 'none';
  activationCode(activation);
  const y = opts.out ?? gpu.empty(outShape, 'f32', OP);
  if (y.size !== outputs) throw new KernelError(OP, `${y} does not match the output ${fmt(outShape)}`, 'y');
  for (const [name, t] of [['x', x], ['weight', weight], ['bias', opts.bias], ['residual', opts.residual]] as const) {
    if (t && t.buffer === y.buffer && t.byteOffset < y.byteOffset + y.byteLength && y.byteOffset < t.byteOffset + t.byteLength) {
      throw new KernelError(OP, `the output overlaps ${name}; conv2d cannot write in place`, 'y');
    }
  }
  const epilogue: Epilogue = { hasBias: !!opts.bias, residual: !!opts.residual, activation };
  const variant = opts.variant ?? pickConvVariant(g);
  const bindings = { x, weight, bias: opts.bias, residual: opts.residual, y };
  if (variant === 'depthwise') {
    if (g.cin / g.groups !== 1) throw new KernelError(OP, `the depthwise kernel needs one input channel per group; x has ${g.cin} channels in ${g.groups} groups`);
    await gpu.run(depthwiseKernel, { ...g, ...epilogue }, bindings);
  } else if (variant === 'gemm') {
    const plan = opts.plan ?? pickConvPlan(g, gpu.traits.adapter.kind);
    if ((plan.tm !== 4 && plan.tm !== 8) || (plan.tn !== 4 && plan.tn !== 8)) throw new KernelError(OP, `plan tm = ${plan.tm}, tn = ${plan.tn}: each must be 4 or 8`);
    await gpu.run(conv2dKernel, { ...g, ...epilogue, plan }, bindings);
  } else {
    throw new KernelError(OP, `unknown variant '${String(variant)}' (known: gemm, depthwise)`);
  }
  return y;
}

// ---------------------------------------------------------------------------------------------
// Host-side weight preparation (float64 arithmetic, one rounding to float32)

/** PyTorch's [Cout, Cin/groups, KH, KW] weights reordered to the kernels' [Cout, KH, KW, Cin/groups]. */
export function ohwiFromOihw(w: Float32Array, shape: readonly number[]): Float32Array {
  if (shape.length !== 4) throw new KernelError(OP, `weight shape ${fmt(shape)} must be [Cout, Cin/groups, KH, KW]`, 'weight');
  const [co, ci, kh, kw] = shape as [number, number, number, number];
  if (w.length !== co * ci * kh * kw) throw new KernelError(OP, `${w.length} values for weight shape ${fmt(shape)}`, 'weight');
  const out = new Float32Array(w.length);
  const taps = kh * kw;
  for (let o = 0; o < co; o++) {
    for (let c = 0; c < ci; c++) {
      const src = (o * ci + c) * taps;
      for (let t = 0; t < taps; t++) out[(o * taps + t) * ci + c] = w[src + t]!;
    }
  }
  return out;
}

/** Eval-mode BatchNorm2d: y = (x − mean) / √(var + eps) · gamma + beta. */
export interface BatchNorm {
  gamma: Float32Array;
  beta: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  eps: number;
}

/**
 * Fold an eval-mode BatchNorm that follows a convolution into the convolution:
 *   s = gamma / √(var + eps),  W' = W · s[co],  b' = (b − mean) · s + beta.
 * Works on either weight order (the output channel is the leading axis of both). Computed in
 * float64 from the float32 parameters and rounded once.
 */
export function foldBatchNorm(weight: Float32Array, cout: number, bias: Float32Array | undefined, bn: BatchNorm): { weight: Float32Array; bias: Float32Array } {
  const what = 'batch-norm folding';
  if (!Number.isInteger(cout) || cout < 1 || weight.length % cout !== 0) throw new KernelError(what, `${weight.length} weights are not ${cout} output channels`);
  for (const [name, v] of [['gamma', bn.gamma], ['beta', bn.beta], ['mean', bn.mean], ['variance', bn.variance], ['bias', bias]] as const) {
    if (v && v.length !== cout) throw new KernelError(what, `${name} has ${v.length} entries; the convolution has ${cout} output channels`);
  }
  if (!(bn.eps >= 0)) throw new KernelError(what, `eps = ${bn.eps} must be ≥ 0`);
  const per = weight.length / cout;
  const w = new Float32Array(weight.length);
  const b = new Float32Array(cout);
  for (let o = 0; o < cout; o++) {
    const v = bn.variance[o]! + bn.eps;
    if (!(v > 0)) throw new KernelError(what, `channel ${o}: running_var + eps = ${v} is not positive`);
    const s = bn.gamma[o]! / Math.sqrt(v);
    for (let i = o * per; i < (o + 1) * per; i++) w[i] = weight[i]! * s;
    b[o] = ((bias ? bias[o]! : 0) - bn.mean[o]!) * s + bn.beta[o]!;
  }
  return { weight: w, bias: b };
}
