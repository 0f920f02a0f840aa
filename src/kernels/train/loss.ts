// Softmax cross-entropy over the classes of segmentation logits [N, C, H, W] (shaders/train/), as
// F.cross_entropy(logits, target, weight, ignore_index=255, reduction='mean'):
//   loss = Σ_i w_i·(−log softmax(x_i)[t_i]) / Σ_i w_i,  w_i = weight[t_i], 0 for ignored pixels
//   dlogits_i = scale·w_i·(softmax(x_i) − onehot(t_i)) / Σ w
// Three dispatches: per-pixel terms summed per workgroup (cross_entropy_pixels), one workgroup
// adding those pairs (cross_entropy_reduce: loss, Σ w·l, Σ w), and the gradient, which reads Σ w
// on the GPU (cross_entropy_backward). Both sums use fixed orders: the loss is bit-identical from
// run to run on one adapter.
import type { Gpu } from '../../gpu/context.js';
import { KernelError } from '../../gpu/errors.js';
import { ceilDiv, defineKernel, grid1d } from '../../gpu/kernel.js';
import type { Tensor } from '../../gpu/tensor.js';
import { checkFinite, checkNchw, checkNoOverlap, checkSize, checkTensor, resultTensor } from './common.js';

const PIXELS_WG = 64;
const REDUCE_WG = 256;

export type LabelLayout = 'u32' | 'u8x4';

export interface CrossEntropyArgs {
  batch: number;
  channels: number;
  hw: number;
  ignoreIndex: number;
  /** Labels as one u32 per pixel, or bytes packed four per u32 (little-endian). */
  labelLayout: LabelLayout;
  weighted: boolean;
}

const pixels = (a: CrossEntropyArgs) => a.batch * a.hw;
const logitCount = (a: CrossEntropyArgs) => a.batch * a.channels * a.hw;
const labelWords = (a: CrossEntropyArgs) => (a.labelLayout === 'u32' ? pixels(a) : ceilDiv(pixels(a), 4));
const pairCount = (a: CrossEntropyArgs) => ceilDiv(pixels(a), PIXELS_WG);

function pixelUniforms(a: CrossEntropyArgs) {
  return { channels: a.channels, hw: a.hw, count: pixels(a), ignore_index: a.ignoreIndex };
}

function pixelParams(a: CrossEntropyArgs) {
  return { WG: PIXELS_WG, PACKED: a.labelLayout === 'u8x4', WEIGHTED: a.weighted };
}

export const crossEntropyPixelsKernel = defineKernel<CrossEntropyArgs>({
  name: 'cross_entropy_pixels',
  shader: 'train/cross_entropy_pixels.wgsl',
  params: pixelParams,
  uniforms: pixelUniforms,
  workgroups: (a, t) => grid1d(pairCount(a), t),
  sizes: (a) => ({ logits: logitCount(a), labels: labelWords(a), class_weight: a.weighted ? a.channels : 0, partial: 2 * pairCount(a) }),
  cost: (a) => ({ flops: 5 * logitCount(a), bytes: 4 * (logitCount(a) + labelWords(a) + 2 * pairCount(a)) }),
});

export const crossEntropyReduceKernel = defineKernel<{ pairs: number }>({
  name: 'cross_entropy_reduce',
  shader: 'train/cross_entropy_reduce.wgsl',
  params: () => ({ WG: REDUCE_WG }),
  uniforms: (a) => ({ pairs: a.pairs }),
  workgroups: () => [1],
  sizes: (a) => ({ partial: 2 * a.pairs, loss: 3 }),
  cost: (a) => ({ flops: 2 * a.pairs, bytes: 4 * (2 * a.pairs + 3) }),
});

export interface CrossEntropyBackwardArgs extends CrossEntropyArgs {
  scale: number;
}

export const crossEntropyBackwardKernel = defineKernel<CrossEntropyBackwardArgs>({
  name: 'cross_entropy_backward',
  shader: 'train/cross_entropy_backward.wgsl',
  params: pixelParams,
  uniforms: (a) => ({ ...pixelUniforms(a), scale: a.scale }),
  workgroups: (a, t) => grid1d(pairCount(a), t),
  sizes: (a) => ({ logits: logitCount(a), labels: labelWords(a), class_weight: a.weighted ? a.channels : 0, loss: 3, dlogits: logitCount(a) }),
  cost: (a) => ({ flops: 8 * logitCount(a), bytes: 4 * (2 * logitCount(a) + labelWords(a)) }),
});

export interface CrossEntropyOptions {
  /** Per-class weights [C] (F.cross_entropy's weight). */
  classWeights?: Tensor;
  /** Default 255. */
  ignoreIndex?: number;
  /** How `target` holds the labels: 'u32' (default) one per pixel, 'u8x4' bytes packed four per u32. */
  labelLayout?: LabelLayout;
  /** Compute dlogits (default true). */
  grad?: boolean;
  /** The gradient arriving at the loss (default 1): dlogits are scaled by it. */
  gradScale?: number;
  lossOut?: Tensor;
  dlogitsOut?: Tensor;
}

/**
 * Mean softmax cross-entropy of logits [N, C, H, W] against labels [N, H, W] (u32, see
 * CrossEntropyOptions.labelLayout) → { loss: f32 [3] = (mean loss, Σ w·l, Σ w), dlogits?: [N, C, H, W] }.
 * The loss is NaN when no pixel counts (as PyTorch); dlogits are then 0. A label ≥ C other than
 * ignoreIndex makes the loss (and that pixel's gradient) NaN.
 */
export async function softmaxCrossEntropy(gpu: Gpu, logits: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Promise<{ loss: Tensor; dlogits?: Tensor }> {
  const op = 'cross_entropy_pixels';
  const [n, c, h, w] = checkNchw(op, logits, 'logits');
  if (c < 1) throw new KernelError(op, `${logits} has no classes`, 'logits');
  checkTensor(op, target, 'labels', 'u32');
  const labelLayout = opts.labelLayout ?? 'u32';
  if (labelLayout !== 'u32' && labelLayout !== 'u8x4') throw new KernelError(op, `labelLayout '${String(labelLayout)}' is not 'u32' or 'u8x4'`);
  const ignoreIndex = opts.ignoreIndex ?? 255;
  if (!Number.isInteger(ignoreIndex) || ignoreIndex < 0 || ignoreIndex > (labelLayout === 'u8x4' ? 255 : 0xffffffff)) {
    throw new KernelError(op, `ignoreIndex = ${ignoreIndex} is not a label value of layout '${labelLayout}'`);
  }
  const args: CrossEntropyArgs = { batch: n, channels: c, hw: h * w, ignoreIndex, labelLayout, weighted: !!opts.classWeights };
  if (target.size !== labelWords(args)) {
    throw new KernelError(op, `${target} must hold ${labelWords(args)} u32 words: ${n * h * w} labels${labelLayout === 'u8x4' ? ' packed four per word' : ''} for logits ${logits}`, 'labels');
  }
  if (opts.classWeights) {
    checkTensor(op, opts.classWeights, 'class_weight');
    checkSize(op, opts.classWeights, [c], 'class_weight');
  }
  const scale = opts.gradScale ?? 1;
  checkFinite('cross_entropy_backward', 'gradScale', scale);
  const loss = resultTensor(gpu, 'cross_entropy_reduce', 'loss', [3], opts.lossOut);
  const inputs = { logits, labels: target, class_weight: opts.classWeights };
  checkNoOverlap('cross_entropy_reduce', 'loss', loss, inputs);
  const grad = opts.grad ?? true;
  const dlogits = grad ? resultTensor(gpu, 'cross_entropy_backward', 'dlogits', logits.shape, opts.dlogitsOut) : undefined;
  if (dlogits) checkNoOverlap('cross_entropy_backward', 'dlogits', dlogits, { ...inputs, loss });

  const partial = gpu.empty([pairCount(args), 2], 'f32', 'cross_entropy partial sums');
  await gpu.run(crossEntropyPixelsKernel, args, { ...inputs, partial });
  await gpu.run(crossEntropyReduceKernel, { pairs: pairCount(args) }, { partial, loss });
  // Reused only by work recorded after these dispatches, which WebGPU orders after them.
  gpu.release(partial);
  if (dlogits) await gpu.run(crossEntropyBackwardKernel, { ...args, scale }, { ...inputs, loss, dlogits });
  return dlogits ? { loss, dlogits } : { loss };
}
