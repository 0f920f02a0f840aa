// BatchNorm2d for training over NCHW f32 tensors (shaders/train/), in torch.nn.BatchNorm2d's
// semantics:
//   batchNormForward    training: batch mean and biased variance over N·H·W normalise; the running
//                       averages move by `momentum` with the unbiased variance. Frozen (eval):
//                       the running statistics normalise and nothing moves. Optionally a fused ReLU.
//   batchNormBackward   dx, dγ, dβ; in training mode dx goes through the batch statistics, in
//                       frozen mode dx = g·γ/√(running_var + eps).
// Both modes pass per-channel stats [C, 2] = (mean, rstd) from the forward to the backward.
// Reductions run one workgroup per channel with a fixed lane split and pairwise tree: deterministic.
import type { Gpu } from '../../gpu/context.js';
import { KernelError } from '../../gpu/errors.js';
import { ceilDiv, defineKernel, grid1d } from '../../gpu/kernel.js';
import type { Tensor } from '../../gpu/tensor.js';
import { checkFinite, checkNchw, checkNoOverlap, checkSize, checkTensor, resultTensor } from './common.js';

const STATS_OP = 'batchnorm_stats';
const APPLY_OP = 'batchnorm_apply';
const BACK_OP = 'batchnorm_backward';
/** Lanes per channel in the reducing kernels. */
const LANES = 64;
const EW_WG = 256;

export interface BatchNormShape {
  batch: number;
  channels: number;
  hw: number;
}

const count = (a: BatchNormShape) => a.batch * a.channels * a.hw;

// ---------------------------------------------------------------------------------------------
// Descriptors

export interface BatchNormStatsArgs extends BatchNormShape {
  /** Batch statistics (training) or the running ones (frozen). */
  training: boolean;
  updateRunning: boolean;
  eps: number;
  momentum: number;
}

export const batchNormStatsKernel = defineKernel<BatchNormStatsArgs>({
  name: STATS_OP,
  shader: 'train/batchnorm_stats.wgsl',
  params: (a) => ({ WG: LANES, MODE: a.training ? 0 : 1 }),
  uniforms: (a) => ({
    channels: a.channels, hw: a.hw, per_channel: a.batch * a.hw, eps: a.eps, momentum: a.momentum,
    update: a.training && a.updateRunning ? 1 : 0,
  }),
  workgroups: (a, t) => grid1d(a.channels, t),
  sizes: (a) => {
    const running = !a.training || a.updateRunning ? a.channels : 0;
    return { x: a.training ? count(a) : 0, stats: 2 * a.channels, running_mean: running, running_var: running };
  },
  cost: (a) => ({ flops: a.training ? 3 * count(a) : 2 * a.channels, bytes: 4 * ((a.training ? 2 * count(a) : 0) + 6 * a.channels) }),
});

export interface BatchNormApplyArgs extends BatchNormShape {
  relu: boolean;
}

export const batchNormApplyKernel = defineKernel<BatchNormApplyArgs>({
  name: APPLY_OP,
  shader: 'train/batchnorm_apply.wgsl',
  params: (a) => ({ WG: EW_WG, RELU: a.relu }),
  uniforms: (a) => ({ channels: a.channels, hw: a.hw, count: count(a) }),
  workgroups: (a, t) => grid1d(ceilDiv(count(a), EW_WG), t),
  sizes: (a) => ({ x: count(a), stats: 2 * a.channels, gamma: a.channels, beta: a.channels, y: count(a) }),
  cost: (a) => ({ flops: 4 * count(a), bytes: 4 * (2 * count(a) + 4 * a.channels) }),
});

export interface BatchNormBackwardArgs extends BatchNormShape {
  training: boolean;
  paramGrads: boolean;
  accumulate: boolean;
}

export const batchNormBackwardKernel = defineKernel<BatchNormBackwardArgs>({
  name: BACK_OP,
  shader: 'train/batchnorm_backward.wgsl',
  params: (a) => ({ WG: LANES, TRAINING: a.training, PARAM_GRADS: a.paramGrads }),
  uniforms: (a) => ({ channels: a.channels, hw: a.hw, per_channel: a.batch * a.hw, accumulate: a.accumulate ? 1 : 0 }),
  workgroups: (a, t) => grid1d(a.channels, t),
  sizes: (a) => ({
    g: count(a), x: a.training || a.paramGrads ? count(a) : 0, stats: 2 * a.channels, gamma: a.channels, dx: count(a),
    dgamma: a.paramGrads ? a.channels : 0, dbeta: a.paramGrads ? a.channels : 0,
  }),
  cost: (a) => {
    const reads = a.training || a.paramGrads ? 2 : 0;
    return { flops: (a.training ? 10 : 1) * count(a), bytes: 4 * ((reads + 1 + (a.training ? 2 : 1)) * count(a) + 6 * a.channels) };
  },
});

// ---------------------------------------------------------------------------------------------
// Tensor-level functions

/** A BatchNorm2d layer's parameters and buffers, each [C] f32; the running ones are updated in place. */
export interface BatchNormLayer {
  gamma: Tensor;
  beta: Tensor;
  runningMean: Tensor;
  runningVar: Tensor;
  /** Default 1e-5. */
  eps?: number;
  /** Default 0.1 (PyTorch's; the cumulative average, momentum=None, is not supported). */
  momentum?: number;
}

export interface BatchNormForwardOptions {
  /** Batch statistics (training mode) or the running ones (frozen BN, eval mode). */
  training: boolean;
  /** Training mode: move the running averages. Default true. */
  updateRunning?: boolean;
  /** y = max(BN(x), 0). Default false. */
  relu?: boolean;
  out?: Tensor;
  statsOut?: Tensor;
}

function checkLayer(op: string, c: number, layer: BatchNormLayer): { eps: number; momentum: number } {
  for (const [name, t] of [['gamma', layer.gamma], ['beta', layer.beta], ['running_mean', layer.runningMean], ['running_var', layer.runningVar]] as const) {
    checkTensor(op, t, name);
    checkSize(op, t, [c], name);
  }
  const eps = layer.eps ?? 1e-5, momentum = layer.momentum ?? 0.1;
  checkFinite(op, 'eps', eps);
  checkFinite(op, 'momentum', momentum);
  if (eps < 0) throw new KernelError(op, `eps = ${eps} must be ≥ 0`);
  return { eps, momentum };
}

/**
 * BatchNorm2d of x [N, C, H, W] → { y, stats [C, 2] = (mean, rstd) for batchNormBackward }.
 * Training mode updates layer.runningMean / runningVar in place (unless updateRunning is false).
 */
export async function batchNormForward(gpu: Gpu, x: Tensor, layer: BatchNormLayer, opts: BatchNormForwardOptions): Promise<{ y: Tensor; stats: Tensor }> {
  const [n, c, h, w] = checkNchw(STATS_OP, x, 'x');
  const { eps, momentum } = checkLayer(STATS_OP, c, layer);
  const training = opts.training;
  if (training && n * h * w < 2) throw new KernelError(STATS_OP, `${x} has ${n * h * w} value per channel; training needs more than 1 (as PyTorch)`, 'x');
  const shape = { batch: n, channels: c, hw: h * w };
  const updateRunning = opts.updateRunning ?? true;
  const stats = resultTensor(gpu, STATS_OP, 'stats', [c, 2], opts.statsOut);
  checkNoOverlap(STATS_OP, 'stats', stats, { x, running_mean: layer.runningMean, running_var: layer.runningVar });
  const y = resultTensor(gpu, APPLY_OP, 'y', x.shape, opts.out);
  checkNoOverlap(APPLY_OP, 'y', y, { x, stats, gamma: layer.gamma, beta: layer.beta });
  await gpu.run(batchNormStatsKernel, { ...shape, training, updateRunning, eps, momentum }, {
    x: training ? x : undefined, stats, running_mean: layer.runningMean, running_var: layer.runningVar,
  });
  await gpu.run(batchNormApplyKernel, { ...shape, relu: opts.relu ?? false }, { x, stats, gamma: layer.gamma, beta: layer.beta, y });
  return { y, stats };
}

export interface BatchNormBackwardOptions {
  /** As the forward ran: batch statistics (true) or frozen running statistics (false). */
  training: boolean;
  /** Compute dγ and dβ (default true; a frozen BN with frozen affine parameters needs neither). */
  paramGrads?: boolean;
  /** Add dγ, dβ to dgammaOut, dbetaOut. */
  accumulate?: boolean;
  out?: Tensor;
  dgammaOut?: Tensor;
  dbetaOut?: Tensor;
}

/**
 * Gradients of y = BatchNorm2d(x) for the output gradient g (after any ReLU's backward), the
 * forward's x and stats, and γ: { dx, dgamma?, dbeta? }.
 */
export async function batchNormBackward(gpu: Gpu, g: Tensor, x: Tensor, stats: Tensor, gamma: Tensor, opts: BatchNormBackwardOptions): Promise<{ dx: Tensor; dgamma?: Tensor; dbeta?: Tensor }> {
  const [n, c, h, w] = checkNchw(BACK_OP, x, 'x');
  checkTensor(BACK_OP, g, 'g');
  checkSize(BACK_OP, g, x.shape, 'g');
  checkTensor(BACK_OP, stats, 'stats');
  checkSize(BACK_OP, stats, [c, 2], 'stats');
  checkTensor(BACK_OP, gamma, 'gamma');
  checkSize(BACK_OP, gamma, [c], 'gamma');
  const paramGrads = opts.paramGrads ?? true;
  const accumulate = opts.accumulate ?? false;
  if (!paramGrads && (opts.dgammaOut || opts.dbetaOut || accumulate)) throw new KernelError(BACK_OP, 'dγ/dβ outputs or accumulate given with paramGrads: false');
  const dx = resultTensor(gpu, BACK_OP, 'dx', x.shape, opts.out);
  const dgamma = paramGrads ? resultTensor(gpu, BACK_OP, 'dgamma', [c], opts.dgammaOut, accumulate) : undefined;
  const dbeta = paramGrads ? resultTensor(gpu, BACK_OP, 'dbeta', [c], opts.dbetaOut, accumulate) : undefined;
  const inputs = { g, x, stats, gamma };
  checkNoOverlap(BACK_OP, 'dx', dx, { ...inputs, dgamma, dbeta });
  if (dgamma) checkNoOverlap(BACK_OP, 'dgamma', dgamma, { ...inputs, dbeta });
  if (dbeta) checkNoOverlap(BACK_OP, 'dbeta', dbeta, inputs);
  const args: BatchNormBackwardArgs = { batch: n, channels: c, hw: h * w, training: opts.training, paramGrads, accumulate };
  await gpu.run(batchNormBackwardKernel, args, { g, x: opts.training || paramGrads ? x : undefined, stats, gamma, dx, dgamma, dbeta });
  return paramGrads ? { dx, dgamma, dbeta } : { dx };
}
