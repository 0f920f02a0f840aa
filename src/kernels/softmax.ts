// Softmax over the last axis: y = softmax(scale · x + mask), f32, max-subtracted (shaders/softmax/).
// A row whose logits are all -inf (e.g. fully masked) yields NaN in every entry, as in PyTorch.
import type { Gpu } from '../gpu/context.js';
import { KernelError } from '../gpu/errors.js';
import { defineKernel, type KernelDescriptor } from '../gpu/kernel.js';
import { Tensor } from '../gpu/tensor.js';
import { ROW_VARIANTS, rowParams, rowPlan, rowWorkgroups, type RowPlan, type RowVariant } from './rows.js';

export interface SoftmaxArgs {
  rows: number;
  cols: number;
  scale: number;
  /** Rows of the mask (1 for a [cols] vector); 0 without a mask. Row r uses mask row r mod maskRows. */
  maskRows: number;
  plan: RowPlan;
}

function softmaxKernel(variant: RowVariant): KernelDescriptor<SoftmaxArgs> {
  return defineKernel<SoftmaxArgs>({
    name: `softmax.${variant}`,
    shader: `softmax/${variant}.wgsl`,
    params: (a) => ({ ...rowParams(a.plan), HAS_MASK: a.maskRows > 0 }),
    uniforms: (a) => ({ rows: a.rows, cols: a.cols, scale: a.scale, mask_rows: Math.max(a.maskRows, 1) }),
    workgroups: (a, t) => rowWorkgroups(a.plan, a.rows, t),
    sizes: (a) => ({ x: a.rows * a.cols, mask: a.maskRows * a.cols, y: a.rows * a.cols }),
    cost: (a) => {
      const n = a.rows * a.cols;
      // Unique bytes: x and the mask read, y written (its re-read in the last pass hits the cache).
      return { flops: 6 * n, bytes: 4 * (2 * n + a.maskRows * a.cols) };
    },
  });
}

export const softmaxKernels: Record<RowVariant, KernelDescriptor<SoftmaxArgs>> = Object.fromEntries(
  ROW_VARIANTS.map((v) => [v, softmaxKernel(v)]),
) as Record<RowVariant, KernelDescriptor<SoftmaxArgs>>;

export interface SoftmaxOptions {
  /** Multiplies x before the mask is added: softmax(scale · x + mask). Default 1. */
  scale?: number;
  /**
   * Additive mask with last dimension cols: a [cols] vector for every row, or an [m, cols] matrix
   * (any leading shape with m rows in all) where row r of x uses mask row r mod m; m must divide the
   * row count ([rows, cols] per row; [L, L] repeated over the heads of a [H·L, L] attention).
   * -inf entries give probability 0.
   */
  mask?: Tensor;
  out?: Tensor;
  /** Force a variant (tests, benchmarks); default: chosen by shape and adapter (rows.ts). */
  variant?: RowVariant;
}

const OP = 'softmax';

/** Softmax of x over its last axis (x viewed as [rows, cols]). */
export async function softmax(gpu: Gpu, x: Tensor, opts: SoftmaxOptions = {}): Promise<Tensor> {
  if (!(x instanceof Tensor)) throw new KernelError(OP, 'is not a Tensor', 'x');
  if (x.dtype !== 'f32') throw new KernelError(OP, `${x} must be f32`, 'x');
  if (x.rank < 1) throw new KernelError(OP, `${x} has no axis to take the softmax over`, 'x');
  const cols = x.shape[x.rank - 1]!;
  const rows = cols === 0 ? 0 : x.size / cols;
  const xShape = `[${x.shape.join(', ')}]`;
  const scale = opts.scale ?? 1;
  if (!Number.isFinite(scale)) throw new KernelError(OP, `scale = ${scale} must be finite`);
  let maskRows = 0;
  const { mask } = opts;
  if (mask) {
    if (!(mask instanceof Tensor)) throw new KernelError(OP, 'is not a Tensor', 'mask');
    if (mask.dtype !== 'f32') throw new KernelError(OP, `${mask} must be f32`, 'mask');
    const last = mask.shape[mask.rank - 1];
    if (mask.rank < 1 || last !== cols) throw new KernelError(OP, `${mask} must have last dimension ${cols} (that of x ${xShape})`, 'mask');
    maskRows = cols === 0 ? 1 : mask.size / cols;
    if (maskRows === 0 || (rows > 0 && rows % maskRows !== 0)) {
      throw new KernelError(OP, `${mask} has ${maskRows} rows, which do not divide the ${rows} rows of x ${xShape}; use a [${cols}] vector or [m, ${cols}] with m dividing ${rows}`, 'mask');
    }
  }
  const { out } = opts;
  if (out && (!(out instanceof Tensor) || out.dtype !== 'f32' || out.size !== x.size)) throw new KernelError(OP, `${out} does not match x ${xShape} (f32)`, 'y');
  const plan = rowPlan(OP, { rows, len: cols, inner: 1 }, gpu.traits, opts.variant);
  const y = out ?? gpu.empty(x.shape, 'f32', OP);
  await gpu.run(softmaxKernels[plan.variant], { rows, cols, scale, maskRows, plan }, { x, mask, y });
  return y;
}
