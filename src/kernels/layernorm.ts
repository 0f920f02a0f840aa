// LayerNorm over the last axis: y = (h − mean)/sqrt(var + eps) · gamma + beta with h = x or
// h = x + residual, biased variance, f32 statistics robust to a large mean (shaders/layernorm/).
import type { Gpu } from '../gpu/context.js';
import { KernelError } from '../gpu/errors.js';
import { defineKernel, type KernelDescriptor } from '../gpu/kernel.js';
import { Tensor } from '../gpu/tensor.js';
import { ROW_VARIANTS, rowParams, rowPlan, rowWorkgroups, type RowPlan, type RowVariant } from './rows.js';

export interface LayerNormArgs {
  rows: number;
  cols: number;
  eps: number;
  gamma: boolean;
  beta: boolean;
  /** Normalise x + residual and write that sum to `residual_sum`. */
  residual: boolean;
  /** Write (mean, rstd) per row to `stats` [rows, 2]. */
  stats: boolean;
  plan: RowPlan;
}

function layerNormKernel(variant: RowVariant): KernelDescriptor<LayerNormArgs> {
  return defineKernel<LayerNormArgs>({
    name: `layernorm.${variant}`,
    shader: `layernorm/${variant}.wgsl`,
    params: (a) => ({ ...rowParams(a.plan), HAS_GAMMA: a.gamma, HAS_BETA: a.beta, RESIDUAL: a.residual, STATS: a.stats }),
    uniforms: (a) => ({ rows: a.rows, cols: a.cols, eps: a.eps }),
    workgroups: (a, t) => rowWorkgroups(a.plan, a.rows, t),
    sizes: (a) => {
      const n = a.rows * a.cols;
      return {
        x: n,
        residual: a.residual ? n : 0,
        gamma: a.gamma ? a.cols : 0,
        beta: a.beta ? a.cols : 0,
        y: n,
        residual_sum: a.residual ? n : 0,
        stats: a.stats ? 2 * a.rows : 0,
      };
    },
    cost: (a) => {
      const n = a.rows * a.cols;
      // Three passes over h (x, and residual when fused) read from memory; one write of y (and of
      // the sum). Caches absorb the re-reads of short rows; the figure counts unique bytes.
      const reads = n * (a.residual ? 2 : 1) + a.cols * (Number(a.gamma) + Number(a.beta));
      const writes = n * (a.residual ? 2 : 1) + (a.stats ? 2 * a.rows : 0);
      return { flops: 8 * n, bytes: 4 * (reads + writes) };
    },
  });
}

export const layerNormKernels: Record<RowVariant, KernelDescriptor<LayerNormArgs>> = Object.fromEntries(
  ROW_VARIANTS.map((v) => [v, layerNormKernel(v)]),
) as Record<RowVariant, KernelDescriptor<LayerNormArgs>>;

export interface LayerNormOptions {
  gamma?: Tensor;
  beta?: Tensor;
  /** Added to the variance; default 1e-5 as torch.nn.LayerNorm. */
  eps?: number;
  /** Normalise x + residual (same shape as x); the sum is returned as `residualSum`. */
  residual?: Tensor;
  /** Also return the per-row (mean, rstd) as a [rows, 2] tensor, for the backward pass. */
  stats?: boolean;
  out?: Tensor;
  residualSumOut?: Tensor;
  statsOut?: Tensor;
  /** Force a variant (tests, benchmarks); default: chosen by shape and adapter (rows.ts). */
  variant?: RowVariant;
}

export interface LayerNormResult {
  y: Tensor;
  /** x + residual, when a residual was given. */
  residualSum?: Tensor;
  /** [rows, 2]: mean and 1/sqrt(var + eps) of each row, when asked for. */
  stats?: Tensor;
}

const OP = 'layernorm';

function checkF32(t: Tensor, binding: string): void {
  if (!(t instanceof Tensor)) throw new KernelError(OP, 'is not a Tensor', binding);
  if (t.dtype !== 'f32') throw new KernelError(OP, `${t} must be f32`, binding);
}

function checkSize(t: Tensor, binding: string, size: number, expected: string): void {
  checkF32(t, binding);
  if (t.size !== size) throw new KernelError(OP, `${t} has ${t.size} elements; expected ${expected}`, binding);
}

/** LayerNorm of x over its last axis (x viewed as [rows, cols]). */
export async function layerNorm(gpu: Gpu, x: Tensor, opts: LayerNormOptions = {}): Promise<LayerNormResult> {
  checkF32(x, 'x');
  if (x.rank < 1) throw new KernelError(OP, `${x} has no axis to normalise`, 'x');
  const cols = x.shape[x.rank - 1]!;
  if (cols === 0) throw new KernelError(OP, `${x} has an empty last axis; there is nothing to normalise`, 'x');
  const rows = x.size / cols;
  const xShape = `[${x.shape.join(', ')}]`;
  const { gamma, beta, residual } = opts;
  if (gamma) checkSize(gamma, 'gamma', cols, `${cols} (the last dimension of x ${xShape})`);
  if (beta) checkSize(beta, 'beta', cols, `${cols} (the last dimension of x ${xShape})`);
  if (residual) {
    checkF32(residual, 'residual');
    if (residual.shape.join() !== x.shape.join()) throw new KernelError(OP, `${residual} does not have the shape of x ${xShape}`, 'residual');
  }
  const eps = opts.eps ?? 1e-5;
  if (!Number.isFinite(eps) || eps < 0) throw new KernelError(OP, `eps = ${eps} must be a finite number ≥ 0`);
  const wantStats = opts.stats === true || opts.statsOut !== undefined;

  const plan = rowPlan(OP, { rows, len: cols, inner: 1 }, gpu.traits, opts.variant);
  // Check the given outputs before allocating any, so that an error leaks nothing.
  const sizeOfX = `${x.size} (x ${xShape})`;
  if (opts.out) checkSize(opts.out, 'y', x.size, sizeOfX);
  if (opts.residualSumOut) {
    if (!residual) throw new KernelError(OP, 'given without a residual to add', 'residual_sum');
    checkSize(opts.residualSumOut, 'residual_sum', x.size, sizeOfX);
  }
  if (opts.statsOut) checkSize(opts.statsOut, 'stats', 2 * rows, `${2 * rows} ([rows, 2] = [${rows}, 2])`);
  const y = opts.out ?? gpu.empty(x.shape, 'f32', OP);
  const residualSum = residual ? (opts.residualSumOut ?? gpu.empty(x.shape, 'f32', `${OP} residual sum`)) : undefined;
  const stats = wantStats ? (opts.statsOut ?? gpu.empty([rows, 2], 'f32', `${OP} stats`)) : undefined;
  const args: LayerNormArgs = { rows, cols, eps, gamma: !!gamma, beta: !!beta, residual: !!residual, stats: wantStats, plan };
  await gpu.run(layerNormKernels[plan.variant], args, {
    x,
    residual,
    gamma,
    beta,
    y,
    residual_sum: residualSum,
    stats,
  });
  return { y, residualSum, stats };
}
