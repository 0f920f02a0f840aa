// Optimizer steps as kernels (shaders/train/), one dispatch per parameter tensor, in PyTorch's
// semantics and order of operations (torch.optim.SGD and torch.optim.AdamW, single-tensor path):
//   sgdStep     d = g + wd·p; buf = μ·buf + (1 − dampening)·d (buf = d on the first step);
//               d = buf (or d + μ·buf with Nesterov); p −= lr·d
//   adamwStep   p ·= 1 − lr·wd; m, v moving averages; p −= lr/(1 − β1^t) · m/(√v/√(1 − β2^t) + eps)
//   polyLr      DeepLab's poly schedule lr = base·(1 − iter/maxIter)^power, evaluated on the host
// The learning rate and step-dependent scalars are uniforms: a schedule never rebuilds a pipeline.
// The caller owns the state tensors (momentum buffer; exp_avg, exp_avg_sq, zero-initialised).
import type { Gpu } from '../../gpu/context.js';
import { KernelError } from '../../gpu/errors.js';
import { ceilDiv, defineKernel, grid1d } from '../../gpu/kernel.js';
import type { Tensor } from '../../gpu/tensor.js';
import { checkFinite, checkNoOverlap, checkSize, checkTensor } from './common.js';

const WG = 256;

export interface SgdArgs {
  count: number;
  momentumBuffer: boolean;
  first: boolean;
  nesterov: boolean;
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
}

export const sgdStepKernel = defineKernel<SgdArgs>({
  name: 'sgd_step',
  shader: 'train/sgd_step.wgsl',
  params: (a) => ({ WG, MOMENTUM: a.momentumBuffer }),
  uniforms: (a) => ({
    count: a.count, first: a.first ? 1 : 0, nesterov: a.nesterov ? 1 : 0, lr: a.lr, momentum: a.momentum,
    one_minus_dampening: 1 - a.dampening, weight_decay: a.weightDecay,
  }),
  workgroups: (a, t) => grid1d(ceilDiv(a.count, WG), t),
  sizes: (a) => ({ grad: a.count, param: a.count, buf: a.momentumBuffer ? a.count : 0 }),
  cost: (a) => ({ flops: 6 * a.count, bytes: 4 * a.count * (a.momentumBuffer ? 5 : 3) }),
});

export interface SgdOptions {
  lr: number;
  /** Default 0 (no buffer). */
  momentum?: number;
  /** Default 0. */
  dampening?: number;
  /** Default 0. */
  weightDecay?: number;
  /** Default false. */
  nesterov?: boolean;
}

export interface SgdState {
  /** [param's size] f32; required when momentum ≠ 0. Its contents are ignored on step 1. */
  momentumBuffer?: Tensor;
  /** The step being taken, from 1. */
  step: number;
}

function checkStep(op: string, param: Tensor, grad: Tensor, step: number): void {
  checkTensor(op, param, 'param');
  checkTensor(op, grad, 'grad');
  checkSize(op, grad, param.shape, 'grad');
  if (!Number.isInteger(step) || step < 1) throw new KernelError(op, `step = ${step} must be an integer ≥ 1 (the step being taken)`);
  checkNoOverlap(op, 'param', param, { grad });
}

/** One torch.optim.SGD step on param (in place) with its gradient; updates state.momentumBuffer in place. */
export async function sgdStep(gpu: Gpu, param: Tensor, grad: Tensor, state: SgdState, opts: SgdOptions): Promise<void> {
  const op = 'sgd_step';
  checkStep(op, param, grad, state.step);
  const momentum = opts.momentum ?? 0, dampening = opts.dampening ?? 0, weightDecay = opts.weightDecay ?? 0;
  for (const [what, v] of [['lr', opts.lr], ['momentum', momentum], ['dampening', dampening], ['weightDecay', weightDecay]] as const) checkFinite(op, what, v);
  const nesterov = opts.nesterov ?? false;
  if (nesterov && (momentum <= 0 || dampening !== 0)) throw new KernelError(op, 'Nesterov momentum requires a momentum and zero dampening (as PyTorch)');
  const useBuffer = momentum !== 0;
  const buf = state.momentumBuffer;
  if (useBuffer) {
    if (!buf) throw new KernelError(op, `momentum = ${momentum} needs state.momentumBuffer`, 'buf');
    checkTensor(op, buf, 'buf');
    checkSize(op, buf, param.shape, 'buf');
    checkNoOverlap(op, 'buf', buf, { param, grad });
  }
  const args: SgdArgs = { count: param.size, momentumBuffer: useBuffer, first: state.step === 1, nesterov, lr: opts.lr, momentum, dampening, weightDecay };
  await gpu.run(sgdStepKernel, args, { grad, param, buf: useBuffer ? buf : undefined });
}

export interface AdamwArgs {
  count: number;
  decay: number;
  beta1: number;
  beta2: number;
  stepSize: number;
  bc2Sqrt: number;
  eps: number;
}

export const adamwStepKernel = defineKernel<AdamwArgs>({
  name: 'adamw_step',
  shader: 'train/adamw_step.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({
    count: a.count, decay: a.decay, beta1: a.beta1, one_minus_beta1: 1 - a.beta1, beta2: a.beta2, one_minus_beta2: 1 - a.beta2,
    step_size: a.stepSize, bc2_sqrt: a.bc2Sqrt, eps: a.eps,
  }),
  workgroups: (a, t) => grid1d(ceilDiv(a.count, WG), t),
  sizes: (a) => ({ grad: a.count, param: a.count, exp_avg: a.count, exp_avg_sq: a.count }),
  cost: (a) => ({ flops: 14 * a.count, bytes: 28 * a.count }),
});

export interface AdamwOptions {
  lr: number;
  /** Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** Default 1e-2 (PyTorch's AdamW default). */
  weightDecay?: number;
}

export interface AdamwState {
  /** First and second moment estimates, [param's size] f32, zero before step 1. */
  expAvg: Tensor;
  expAvgSq: Tensor;
  /** The step being taken, from 1 (bias correction uses it). */
  step: number;
}

/** One torch.optim.AdamW step on param (in place) with its gradient; updates the moments in place. */
export async function adamwStep(gpu: Gpu, param: Tensor, grad: Tensor, state: AdamwState, opts: AdamwOptions): Promise<void> {
  const op = 'adamw_step';
  checkStep(op, param, grad, state.step);
  const [beta1, beta2] = opts.betas ?? [0.9, 0.999];
  const eps = opts.eps ?? 1e-8, weightDecay = opts.weightDecay ?? 1e-2;
  for (const [what, v] of [['lr', opts.lr], ['beta1', beta1], ['beta2', beta2], ['eps', eps], ['weightDecay', weightDecay]] as const) checkFinite(op, what, v);
  if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1)) throw new KernelError(op, `betas (${beta1}, ${beta2}) must lie in [0, 1)`);
  for (const [name, t] of [['exp_avg', state.expAvg], ['exp_avg_sq', state.expAvgSq]] as const) {
    checkTensor(op, t, name);
    checkSize(op, t, param.shape, name);
    checkNoOverlap(op, name, t, { param, grad });
  }
  checkNoOverlap(op, 'exp_avg', state.expAvg, { exp_avg_sq: state.expAvgSq });
  const t = state.step;
  const args: AdamwArgs = {
    count: param.size, decay: 1 - opts.lr * weightDecay, beta1, beta2,
    stepSize: opts.lr / (1 - beta1 ** t), bc2Sqrt: Math.sqrt(1 - beta2 ** t), eps,
  };
  await gpu.run(adamwStepKernel, args, { grad, param, exp_avg: state.expAvg, exp_avg_sq: state.expAvgSq });
}

/** DeepLab's poly learning rate: base·(1 − iter/maxIter)^power for iter in 0..maxIter (0 at the end). */
export function polyLr(base: number, iter: number, maxIter: number, power = 0.9): number {
  if (!Number.isInteger(maxIter) || maxIter < 1) throw new Error(`polyLr: maxIter = ${maxIter} must be a positive integer`);
  if (!Number.isInteger(iter) || iter < 0 || iter > maxIter) throw new Error(`polyLr: iter = ${iter} must be an integer in 0..${maxIter}`);
  if (!Number.isFinite(base) || !Number.isFinite(power)) throw new Error(`polyLr: base ${base} and power ${power} must be finite`);
  return base * (1 - iter / maxIter) ** power;
}
