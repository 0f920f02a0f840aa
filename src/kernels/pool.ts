// Spatial ops of segmentation networks over NCHW f32 tensors (shaders/pool/):
//   pool2d           max / average pooling in PyTorch's semantics (padding, dilation for max,
//                    ceil_mode, count_include_pad)
//   globalAvgPool    mean over H·W per channel (AdaptiveAvgPool2d(1)): the reduce kernel's mean
//   bilinear         F.interpolate(mode='bilinear') with align_corners False or True, by output size
//                    or by scale factor (PyTorch then uses 1/scale, not in/out, as the step)
//   channelSoftmax   per-pixel softmax over the classes (F.softmax(x, dim=1))
//   channelArgmax    per-pixel argmax over the classes: the reduce kernel's argmax (u32 [N, H, W];
//                    ties to the first class, NaN counts as the largest, as in PyTorch)
import type { Gpu } from '../gpu/context.js';
import { KernelError } from '../gpu/errors.js';
import { ceilDiv, defineKernel, grid1d } from '../gpu/kernel.js';
import { Tensor, numel, type Shape } from '../gpu/tensor.js';
import type { Pair } from './conv.js';
import { reduce } from './reduce.js';

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;
const WG = 64;

function pair(op: string, v: Pair | undefined, fallback: readonly [number, number], what: string, min: number): [number, number] {
  const p: [number, number] = v === undefined ? [fallback[0], fallback[1]] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!p.every((d) => Number.isInteger(d) && d >= min)) throw new KernelError(op, `${what} ${JSON.stringify(v)} must be an integer ≥ ${min} or a pair of them`);
  return p;
}

function checkNchw(op: string, x: Tensor): [number, number, number, number] {
  if (!(x instanceof Tensor)) throw new KernelError(op, 'is not a Tensor', 'x');
  if (x.dtype !== 'f32') throw new KernelError(op, `${x} must be f32`, 'x');
  if (x.rank !== 4) throw new KernelError(op, `input ${x} must be [N, C, H, W]`, 'x');
  return x.shape as [number, number, number, number];
}

function checkOut(op: string, out: Tensor | undefined, shape: Shape, dtype: 'f32' | 'u32' = 'f32'): void {
  if (out && (!(out instanceof Tensor) || out.dtype !== dtype || out.size !== numel(shape))) {
    throw new KernelError(op, `${out} does not hold the result ${fmt(shape)} ${dtype}`, 'y');
  }
}

// ---------------------------------------------------------------------------------------------
// Pooling

export type PoolMode = 'max' | 'avg';

export interface Pool2dOptions {
  kernel: Pair;
  /** Default: the kernel size. */
  stride?: Pair;
  /** Implicit padding on each side (never wins a max; see countIncludePad for averages). Default 0. */
  padding?: Pair;
  /** Max pooling only; default 1. */
  dilation?: Pair;
  /** Round the output size up (a last window may overhang the padded image). Default false. */
  ceilMode?: boolean;
  /** Average pooling: padding counts in the divisor (PyTorch's default true). */
  countIncludePad?: boolean;
  out?: Tensor;
}

export interface PoolGeometry {
  planes: number;
  h: number;
  w: number;
  ho: number;
  wo: number;
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
}

/** PyTorch's pooling_output_shape: with ceil_mode, a last window must start inside the image or its left padding. */
export function poolOutputSize(size: number, kernel: number, stride: number, pad: number, dilation: number, ceilMode: boolean): number {
  const span = size + 2 * pad - dilation * (kernel - 1) - 1 + (ceilMode ? stride - 1 : 0);
  let out = Math.floor(span / stride) + 1;
  if (ceilMode && (out - 1) * stride >= size + pad) out--;
  return out;
}

export function poolGeometry(xShape: Shape, mode: PoolMode, opts: Pool2dOptions): PoolGeometry {
  const op = `${mode}_pool2d`;
  if (xShape.length !== 4) throw new KernelError(op, `input ${fmt(xShape)} must be [N, C, H, W]`, 'x');
  const [n, c, h, w] = xShape as [number, number, number, number];
  const kernel = pair(op, opts.kernel, [0, 0], 'kernel', 1);
  const stride = pair(op, opts.stride, kernel, 'stride', 1);
  const padding = pair(op, opts.padding, [0, 0], 'padding', 0);
  const dilation = pair(op, opts.dilation, [1, 1], 'dilation', 1);
  if (mode === 'avg' && (dilation[0] !== 1 || dilation[1] !== 1)) throw new KernelError(op, `average pooling has no dilation (got ${dilation.join('×')})`);
  for (const a of [0, 1]) {
    const effective = dilation[a]! * (kernel[a]! - 1) + 1;
    // PyTorch's rule: otherwise a window could lie entirely in the padding.
    if (padding[a]! > Math.floor((mode === 'max' ? effective : kernel[a]!) / 2)) {
      throw new KernelError(op, `padding ${padding[a]} must be at most half the ${mode === 'max' ? 'effective ' : ''}kernel size ${mode === 'max' ? effective : kernel[a]}`);
    }
  }
  const ho = poolOutputSize(h, kernel[0], stride[0], padding[0], dilation[0], opts.ceilMode ?? false);
  const wo = poolOutputSize(w, kernel[1], stride[1], padding[1], dilation[1], opts.ceilMode ?? false);
  if (ho < 1 || wo < 1) throw new KernelError(op, `input ${fmt(xShape)} is smaller than the ${kernel.join('×')} window: output would be ${ho}×${wo}`, 'x');
  return { planes: n * c, h, w, ho, wo, kernel, stride, padding, dilation };
}

export interface PoolKernelArgs extends PoolGeometry {
  mode: PoolMode;
  countIncludePad: boolean;
}

const poolCount = (a: PoolGeometry) => a.planes * a.ho * a.wo;
const xy = (v: readonly [number, number]) => [v[1], v[0]]; // vec2 .x = width axis

export const pool2dKernel = defineKernel<PoolKernelArgs>({
  name: 'pool2d',
  shader: 'pool/pool2d.wgsl',
  params: (a) => ({ MODE: a.mode === 'max' ? 0 : 1, COUNT_PAD: a.countIncludePad, WG }),
  uniforms: (a) => ({
    h: a.h, w: a.w, ho: a.ho, wo: a.wo,
    kernel: xy(a.kernel), stride: xy(a.stride), pad: xy(a.padding), dilation: xy(a.dilation), count: poolCount(a),
  }),
  workgroups: (a, t) => grid1d(ceilDiv(poolCount(a), WG), t),
  sizes: (a) => ({ x: a.planes * a.h * a.w, y: poolCount(a) }),
  cost: (a) => ({ flops: poolCount(a) * a.kernel[0] * a.kernel[1], bytes: 4 * (a.planes * a.h * a.w + poolCount(a)) }),
});

/** Max or average pooling of x [N, C, H, W]; see Pool2dOptions. */
export async function pool2d(gpu: Gpu, x: Tensor, mode: PoolMode, opts: Pool2dOptions): Promise<Tensor> {
  if (mode !== 'max' && mode !== 'avg') throw new KernelError('pool2d', `unknown mode '${String(mode)}' (known: max, avg)`);
  const [n, c] = checkNchw(`${mode}_pool2d`, x);
  const g = poolGeometry(x.shape, mode, opts);
  const shape = [n, c, g.ho, g.wo];
  checkOut(`${mode}_pool2d`, opts.out, shape);
  const y = opts.out ?? gpu.empty(shape, 'f32', `${mode}_pool2d`);
  await gpu.run(pool2dKernel, { ...g, mode, countIncludePad: opts.countIncludePad ?? true }, { x, y });
  return y;
}

export const maxPool2d = (gpu: Gpu, x: Tensor, opts: Pool2dOptions) => pool2d(gpu, x, 'max', opts);
export const avgPool2d = (gpu: Gpu, x: Tensor, opts: Pool2dOptions) => pool2d(gpu, x, 'avg', opts);

/** Mean over H·W of x [N, C, H, W] → [N, C, 1, 1] (AdaptiveAvgPool2d(1)). */
export async function globalAvgPool(gpu: Gpu, x: Tensor, opts: { out?: Tensor } = {}): Promise<Tensor> {
  const [n, c, h, w] = checkNchw('global_avg_pool', x);
  checkOut('global_avg_pool', opts.out, [n, c, 1, 1]);
  const y = opts.out ?? gpu.empty([n, c, 1, 1], 'f32', 'global_avg_pool');
  await reduce(gpu, x.view([n, c, h * w]), 'mean', { axis: 2, out: y.view([n, c]) });
  return y;
}

// ---------------------------------------------------------------------------------------------
// Bilinear resampling

export interface BilinearAxis {
  /** Per output index: the two source taps and the weight λ of the second (the first gets 1 − λ). */
  i0: Uint32Array;
  i1: Uint32Array;
  lambda: Float32Array;
}

/**
 * Taps of one axis as PyTorch's CPU kernel computes them, in float32 (Math.fround after every
 * operation): step = align_corners ? (in − 1)/(out − 1) : scaleFactor ? 1/scaleFactor : in/out;
 * source = align_corners ? step·o : max(step·(o + 0.5) − 0.5, 0); i0 = ⌊source⌋ (≤ in − 1),
 * i1 = min(i0 + 1, in − 1), λ = clamp(source − i0, 0, 1).
 */
export function bilinearAxis(inSize: number, outSize: number, alignCorners: boolean, scaleFactor?: number): BilinearAxis {
  const f = Math.fround;
  let step: number;
  if (alignCorners) step = outSize > 1 ? f((inSize - 1) / (outSize - 1)) : 0;
  else step = scaleFactor !== undefined && scaleFactor > 0 ? f(1 / scaleFactor) : f(inSize / outSize);
  const i0 = new Uint32Array(outSize), i1 = new Uint32Array(outSize), lambda = new Float32Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const src = alignCorners ? f(step * o) : Math.max(f(f(step * f(o + 0.5)) - 0.5), 0);
    const i = Math.min(Math.floor(src), inSize - 1);
    i0[o] = i;
    i1[o] = i < inSize - 1 ? i + 1 : i;
    lambda[o] = Math.min(Math.max(f(src - i), 0), 1);
  }
  return { i0, i1, lambda };
}

/** F.interpolate's output size for a scale factor: ⌊size · scale⌋ (Python, in double). */
export function scaledSize(size: number, scaleFactor: number): number {
  if (!(scaleFactor > 0) || !Number.isFinite(scaleFactor)) throw new KernelError('bilinear', `scale factor ${scaleFactor} must be positive and finite`);
  return Math.floor(size * scaleFactor);
}

export interface BilinearOptions {
  /** PyTorch's align_corners (default false). */
  alignCorners?: boolean;
  /**
   * The scale factor the size came from (F.interpolate(scale_factor=s) without
   * recompute_scale_factor): the sampling step is then 1/s instead of in/out. Ignored with
   * alignCorners. A number or [height, width].
   */
  scaleFactor?: number | readonly [number, number];
  out?: Tensor;
}

export interface BilinearArgs {
  planes: number;
  h: number;
  w: number;
  ho: number;
  wo: number;
}

const bilinearCount = (a: BilinearArgs) => a.planes * a.ho * a.wo;

export const bilinearKernel = defineKernel<BilinearArgs>({
  name: 'bilinear',
  shader: 'pool/bilinear.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ h: a.h, w: a.w, ho: a.ho, wo: a.wo, count: bilinearCount(a) }),
  workgroups: (a, t) => grid1d(ceilDiv(bilinearCount(a), WG), t),
  sizes: (a) => ({ x: a.planes * a.h * a.w, index: 2 * (a.ho + a.wo), lambda: a.ho + a.wo, y: bilinearCount(a) }),
  cost: (a) => ({ flops: 8 * bilinearCount(a), bytes: 4 * (a.planes * a.h * a.w + bilinearCount(a)) }),
});

/** Bilinear resampling of x [N, C, H, W] to [N, C, size[0], size[1]] (see BilinearOptions). */
export async function bilinear(gpu: Gpu, x: Tensor, size: readonly [number, number], opts: BilinearOptions = {}): Promise<Tensor> {
  const [n, c, h, w] = checkNchw('bilinear', x);
  if (!Array.isArray(size) || size.length !== 2 || !size.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new KernelError('bilinear', `size ${JSON.stringify(size)} must be [height, width] of positive integers`);
  }
  if (h < 1 || w < 1) throw new KernelError('bilinear', `input ${x} is empty`, 'x');
  const [ho, wo] = size;
  const sf = opts.scaleFactor;
  const [sy, sx] = sf === undefined ? [undefined, undefined] : typeof sf === 'number' ? [sf, sf] : [sf[0], sf[1]];
  for (const s of [sy, sx]) if (s !== undefined && !(s > 0 && Number.isFinite(s))) throw new KernelError('bilinear', `scale factor ${s} must be positive and finite`);
  const shape = [n, c, ho, wo];
  checkOut('bilinear', opts.out, shape);
  const y = opts.out ?? gpu.empty(shape, 'f32', 'bilinear');
  const align = opts.alignCorners ?? false;
  const ay = bilinearAxis(h, ho, align, sy), ax = bilinearAxis(w, wo, align, sx);
  const index = new Uint32Array(2 * (ho + wo));
  index.set(ay.i0, 0);
  index.set(ay.i1, ho);
  index.set(ax.i0, 2 * ho);
  index.set(ax.i1, 2 * ho + wo);
  const lambda = new Float32Array(ho + wo);
  lambda.set(ay.lambda, 0);
  lambda.set(ax.lambda, ho);
  // Upload the tables before recording: an upload submits the batch recorded so far.
  const ti = gpu.upload(index, [index.length], 'u32', 'bilinear taps');
  const tl = gpu.upload(lambda, [lambda.length], 'f32', 'bilinear weights');
  await gpu.run(bilinearKernel, { planes: n * c, h, w, ho, wo }, { x, index: ti, lambda: tl, y });
  // Reused only by work recorded after this dispatch, which WebGPU orders after it.
  gpu.release(ti, tl);
  return y;
}

// ---------------------------------------------------------------------------------------------
// Per-pixel class softmax and argmax

export interface ChannelSoftmaxArgs {
  batch: number;
  channels: number;
  pixels: number;
}

export const channelSoftmaxKernel = defineKernel<ChannelSoftmaxArgs>({
  name: 'channel_softmax',
  shader: 'pool/channel_softmax.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ channels: a.channels, pixels: a.pixels, count: a.batch * a.pixels }),
  workgroups: (a, t) => grid1d(ceilDiv(a.batch * a.pixels, WG), t),
  sizes: (a) => ({ x: a.batch * a.channels * a.pixels, y: a.batch * a.channels * a.pixels }),
  cost: (a) => ({ flops: 5 * a.batch * a.channels * a.pixels, bytes: 8 * a.batch * a.channels * a.pixels }),
});

/** Softmax over the channels of x [N, C, H, W] at every pixel (F.softmax(x, dim=1)). */
export async function channelSoftmax(gpu: Gpu, x: Tensor, opts: { out?: Tensor } = {}): Promise<Tensor> {
  const [n, c, h, w] = checkNchw('channel_softmax', x);
  if (c < 1) throw new KernelError('channel_softmax', `input ${x} has no channels`, 'x');
  checkOut('channel_softmax', opts.out, x.shape);
  const y = opts.out ?? gpu.empty(x.shape, 'f32', 'channel_softmax');
  await gpu.run(channelSoftmaxKernel, { batch: n, channels: c, pixels: h * w }, { x, y });
  return y;
}

/** Index of the largest channel at every pixel of x [N, C, H, W] → u32 [N, H, W]. */
export async function channelArgmax(gpu: Gpu, x: Tensor, opts: { out?: Tensor } = {}): Promise<Tensor> {
  const [n, c, h, w] = checkNchw('channel_argmax', x);
  if (c < 1) throw new KernelError('channel_argmax', `input ${x} has no channels`, 'x');
  checkOut('channel_argmax', opts.out, [n, h, w], 'u32');
  return reduce(gpu, x, 'argmax', { axis: 1, out: opts.out });
}
