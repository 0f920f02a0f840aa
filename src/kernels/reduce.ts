// Reductions over one axis of a tensor viewed as [outer, len, inner]: sum, mean, l2 (Euclidean norm),
// max, min, argmax, argmin (shaders/reduce/). Arg-reductions return u32 indices; ties go to the first
// index and NaN counts as the largest value, as in PyTorch.
import type { Gpu } from '../gpu/context.js';
import { KernelError } from '../gpu/errors.js';
import { defineKernel, type KernelDescriptor } from '../gpu/kernel.js';
import { Tensor, type Shape } from '../gpu/tensor.js';
import { ROW_VARIANTS, rowParams, rowPlan, rowWorkgroups, type RowPlan, type RowVariant } from './rows.js';

export const REDUCE_OPS = { sum: 0, mean: 1, l2: 2, max: 3, min: 4, argmax: 5, argmin: 6 } as const;
export type ReduceOp = keyof typeof REDUCE_OPS;

/** The [outer, len, inner] view of a reduction over one axis. */
export interface AxisView {
  outer: number;
  len: number;
  inner: number;
}

export interface ReduceArgs extends AxisView {
  op: ReduceOp;
  plan: RowPlan;
}

const isArg = (op: ReduceOp) => op === 'argmax' || op === 'argmin';

function reduceKernel(variant: RowVariant): KernelDescriptor<ReduceArgs> {
  return defineKernel<ReduceArgs>({
    name: `reduce.${variant}`,
    shader: `reduce/${variant}.wgsl`,
    params: (a) => ({ ...rowParams(a.plan), OP: REDUCE_OPS[a.op] }),
    uniforms: (a) => ({ outer: a.outer, len: a.len, inner: a.inner }),
    workgroups: (a, t) => rowWorkgroups(a.plan, a.outer * a.inner, t),
    sizes: (a) => ({ x: a.outer * a.len * a.inner, y: a.outer * a.inner, index: isArg(a.op) ? a.outer * a.inner : 0 }),
    cost: (a) => {
      const n = a.outer * a.len * a.inner, outputs = a.outer * a.inner;
      return { flops: n, bytes: 4 * (n + outputs * (isArg(a.op) ? 2 : 1)) };
    },
  });
}

export const reduceKernels: Record<RowVariant, KernelDescriptor<ReduceArgs>> = Object.fromEntries(
  ROW_VARIANTS.map((v) => [v, reduceKernel(v)]),
) as Record<RowVariant, KernelDescriptor<ReduceArgs>>;

/**
 * [outer, len, inner] for a reduction of `shape` over `axis` (negative counts from the end, as in
 * PyTorch), or an error naming the op, the axis and the shape.
 */
export function axisView(shape: Shape, axis: number, op = 'reduce'): AxisView {
  const rank = shape.length;
  if (!Number.isInteger(axis) || axis < -Math.max(rank, 1) || axis >= Math.max(rank, 1)) {
    throw new KernelError(`reduce ${op}`, `axis ${axis} is out of range for a rank-${rank} tensor [${shape.join(', ')}] (valid: ${-Math.max(rank, 1)}..${Math.max(rank, 1) - 1})`);
  }
  if (rank === 0) return { outer: 1, len: 1, inner: 1 }; // a scalar reduces to itself
  const a = axis < 0 ? axis + rank : axis;
  const prod = (dims: Shape) => dims.reduce((p, d) => p * d, 1);
  return { outer: prod(shape.slice(0, a)), len: shape[a]!, inner: prod(shape.slice(a + 1)) };
}

/** Shape of the result: `shape` without `axis`, or with it set to 1 when keepDims. */
export function reducedShape(shape: Shape, axis: number, keepDims: boolean): number[] {
  if (shape.length === 0) return [];
  const a = axis < 0 ? axis + shape.length : axis;
  return keepDims ? shape.map((d, i) => (i === a ? 1 : d)) : shape.filter((_, i) => i !== a);
}

export interface ReduceOptions {
  /** Default -1 (the last axis). */
  axis?: number;
  /** Keep the reduced axis with size 1 (PyTorch's keepdim). Default false. */
  keepDims?: boolean;
  /** Output tensor: f32 values, or u32 indices for argmax/argmin. */
  out?: Tensor;
  /** Force a variant (tests, benchmarks); default: chosen by shape and adapter (rows.ts). */
  variant?: RowVariant;
}

function checkInput(x: Tensor, op: string): void {
  if (!(x instanceof Tensor)) throw new KernelError(`reduce ${op}`, 'is not a Tensor', 'x');
  if (x.dtype !== 'f32') throw new KernelError(`reduce ${op}`, `${x} must be f32`, 'x');
}

function checkOut(t: Tensor, op: string, binding: string, dtype: 'f32' | 'u32', size: number, shape: Shape): void {
  if (!(t instanceof Tensor) || t.dtype !== dtype || t.size !== size) {
    throw new KernelError(`reduce ${op}`, `${t} does not fit the result [${shape.join(', ')}] ${dtype}`, binding);
  }
}

function planFor(gpu: Gpu, op: ReduceOp, view: AxisView, variant: RowVariant | undefined): RowPlan {
  return rowPlan(`reduce ${op}`, { rows: view.outer * view.inner, len: view.len, inner: view.inner }, gpu.traits, variant);
}

async function runReduce(gpu: Gpu, op: ReduceOp, view: AxisView, plan: RowPlan, x: Tensor, y: Tensor, index: Tensor | undefined): Promise<void> {
  await gpu.run(reduceKernels[plan.variant], { ...view, op, plan }, { x, y, index });
}

function checkView(x: Tensor, op: ReduceOp, view: AxisView, axis: number): void {
  if (view.len === 0 && op !== 'sum' && op !== 'l2' && view.outer * view.inner > 0) {
    throw new KernelError(`reduce ${op}`, `axis ${axis} of ${x} is empty; ${op} of no elements is undefined`);
  }
}

/**
 * Reduce x over one axis. sum, mean, l2, max and min give f32 values; argmax and argmin give u32
 * indices along the axis.
 */
export async function reduce(gpu: Gpu, x: Tensor, op: ReduceOp, opts: ReduceOptions = {}): Promise<Tensor> {
  if (!Object.hasOwn(REDUCE_OPS, op)) throw new KernelError('reduce', `unknown op '${String(op)}' (known: ${Object.keys(REDUCE_OPS).join(', ')})`);
  checkInput(x, op);
  const axis = opts.axis ?? -1;
  const view = axisView(x.shape, axis, op);
  checkView(x, op, view, axis);
  const shape = reducedShape(x.shape, axis, opts.keepDims ?? false);
  const outputs = view.outer * view.inner;
  const plan = planFor(gpu, op, view, opts.variant);
  if (opts.out) checkOut(opts.out, op, isArg(op) ? 'index' : 'y', isArg(op) ? 'u32' : 'f32', outputs, shape);
  if (isArg(op)) {
    const indices = opts.out ?? gpu.empty(shape, 'u32', `reduce ${op}`);
    // The kernel finds the extreme value on the way; it goes to a scratch tensor here.
    const values = gpu.empty(shape, 'f32', `reduce ${op} values`);
    await runReduce(gpu, op, view, plan, x, values, indices);
    // Safe before the dispatch executes: any later use of the buffer is ordered after it.
    gpu.release(values);
    return indices;
  }
  const y = opts.out ?? gpu.empty(shape, 'f32', `reduce ${op}`);
  await runReduce(gpu, op, view, plan, x, y, undefined);
  return y;
}

/** Max (or min) over one axis together with its first index, like torch.max(x, dim). */
export async function reduceWithIndex(
  gpu: Gpu,
  x: Tensor,
  op: 'max' | 'min',
  opts: Omit<ReduceOptions, 'out'> & { valuesOut?: Tensor; indicesOut?: Tensor } = {},
): Promise<{ values: Tensor; indices: Tensor }> {
  if (op !== 'max' && op !== 'min') throw new KernelError('reduceWithIndex', `op must be 'max' or 'min', not '${String(op)}'`);
  const argOp: ReduceOp = op === 'max' ? 'argmax' : 'argmin';
  checkInput(x, argOp);
  const axis = opts.axis ?? -1;
  const view = axisView(x.shape, axis, argOp);
  checkView(x, argOp, view, axis);
  const shape = reducedShape(x.shape, axis, opts.keepDims ?? false);
  const outputs = view.outer * view.inner;
  const plan = planFor(gpu, argOp, view, opts.variant);
  if (opts.valuesOut) checkOut(opts.valuesOut, argOp, 'y', 'f32', outputs, shape);
  if (opts.indicesOut) checkOut(opts.indicesOut, argOp, 'index', 'u32', outputs, shape);
  const values = opts.valuesOut ?? gpu.empty(shape, 'f32', `reduce ${op} values`);
  const indices = opts.indicesOut ?? gpu.empty(shape, 'u32', `reduce ${argOp}`);
  await runReduce(gpu, argOp, view, plan, x, values, indices);
  return { values, indices };
}
