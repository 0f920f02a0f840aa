// Spatial ops of segmentation networks over NCHW f32 tensors (shaders/pool/):
//   pool2d           max / average pooling in PyTorch's semantics (padding, dilation for max,
//                    ceil_mode, count_include_pad)
//   globalAvgPool    mean over H·W per channel (AdaptiveAvgPool2d(1)): the reduce kernel's mean
//   channelSoftmax   per-pixel softmax over the classes (F.softmax(x, dim=1))
//   channelArgmax    per-pixel argmax over the classes: the reduce kernel's argmax (u32 [N, H, W];
//                    ties to the first class, NaN counts as the largest, as in PyTorch)
// The networks' bilinear upsampling (F.interpolate) is `bilinear` in src/kernels/bilinear.ts.
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
