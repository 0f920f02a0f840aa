// Elementwise pieces of the backward pass (shaders/train/):
//   reluBackward     dx = g where the forward's output y > 0 (PyTorch's threshold_backward)
//   accumulateGrad   acc += alpha·g in place: a tensor read by several consumers (the two inputs of
//                    a residual add both receive the sum's gradient; the shortcut is also read by
//                    the block) collects the sum of their gradients
import type { Gpu } from '../../gpu/context.js';
import { ceilDiv, defineKernel, grid1d } from '../../gpu/kernel.js';
import type { Tensor } from '../../gpu/tensor.js';
import { checkFinite, checkNoOverlap, checkSize, checkTensor, resultTensor } from './common.js';

const WG = 256;

export interface ReluBackwardArgs {
  count: number;
  accumulate: boolean;
}

export const reluBackwardKernel = defineKernel<ReluBackwardArgs>({
  name: 'relu_backward',
  shader: 'train/relu_backward.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ count: a.count, accumulate: a.accumulate ? 1 : 0 }),
  workgroups: (a, t) => grid1d(ceilDiv(a.count, WG), t),
  sizes: (a) => ({ g: a.count, y: a.count, dx: a.count }),
  cost: (a) => ({ flops: a.count, bytes: 4 * (a.accumulate ? 4 : 3) * a.count }),
});

/** dx = g ⊙ [y > 0] for y = relu(x) (any shape; y must match g). `accumulate` adds to out. */
export async function reluBackward(gpu: Gpu, g: Tensor, y: Tensor, opts: { out?: Tensor; accumulate?: boolean } = {}): Promise<Tensor> {
  const op = 'relu_backward';
  checkTensor(op, g, 'g');
  checkTensor(op, y, 'y');
  checkSize(op, y, g.shape, 'y');
  const accumulate = opts.accumulate ?? false;
  const dx = resultTensor(gpu, op, 'dx', g.shape, opts.out, accumulate);
  checkNoOverlap(op, 'dx', dx, { g, y });
  await gpu.run(reluBackwardKernel, { count: g.size, accumulate }, { g, y, dx });
  return dx;
}

export interface GradAccumulateArgs {
  count: number;
  alpha: number;
}

export const gradAccumulateKernel = defineKernel<GradAccumulateArgs>({
  name: 'grad_accumulate',
  shader: 'train/grad_accumulate.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ count: a.count, alpha: a.alpha }),
  workgroups: (a, t) => grid1d(ceilDiv(a.count, WG), t),
  sizes: (a) => ({ g: a.count, acc: a.count }),
  cost: (a) => ({ flops: 2 * a.count, bytes: 12 * a.count }),
});

/** acc = acc + alpha·g in place (alpha default 1, which adds exactly). Returns acc. */
export async function accumulateGrad(gpu: Gpu, acc: Tensor, g: Tensor, opts: { alpha?: number } = {}): Promise<Tensor> {
  const op = 'grad_accumulate';
  checkTensor(op, acc, 'acc');
  checkTensor(op, g, 'g');
  checkSize(op, g, acc.shape, 'g');
  const alpha = opts.alpha ?? 1;
  checkFinite(op, 'alpha', alpha);
  checkNoOverlap(op, 'acc', acc, { g });
  await gpu.run(gradAccumulateKernel, { count: acc.size, alpha }, { g, acc });
  return acc;
}
