// Elementwise kernels: unary y = act(alpha·x + beta) and broadcasting binary y = act(a ∘ b).
import type { Gpu } from '../gpu/context.js';
import { KernelError } from '../gpu/errors.js';
import { ceilDiv, defineKernel, grid1d } from '../gpu/kernel.js';
import { Tensor, numel, type Shape } from '../gpu/tensor.js';
import { activationCode, type Activation } from './activation.js';

const WG = 256;

export interface UnaryArgs {
  count: number;
  activation: Activation;
  alpha: number;
  beta: number;
}

export const unaryKernel = defineKernel<UnaryArgs>({
  name: 'unary',
  shader: 'elementwise/unary.wgsl',
  params: (a) => ({ ACT: activationCode(a.activation), WG }),
  uniforms: (a) => ({ count: a.count, alpha: a.alpha, beta: a.beta }),
  workgroups: (a, t) => grid1d(ceilDiv(a.count, WG), t),
  sizes: (a) => ({ x: a.count, y: a.count }),
  cost: (a) => ({ flops: 2 * a.count, bytes: 8 * a.count }),
});

export const BINARY_OPS = { add: 0, sub: 1, mul: 2, div: 3, max: 4, min: 5 } as const;
export type BinaryOp = keyof typeof BINARY_OPS;

export interface BinaryArgs {
  op: BinaryOp;
  activation: Activation;
  outShape: Shape;
  aShape: Shape;
  bShape: Shape;
}

/** Output shape of NumPy broadcasting, or an error naming both shapes. */
export function broadcastShape(a: Shape, b: Shape, what = 'broadcast'): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`${what}: shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Strides of `shape` in the index space of `out` (right-aligned to rank 4; 0 where broadcast). */
function broadcastStrides4(shape: Shape, out: Shape): number[] {
  const strides = [0, 0, 0, 0];
  let stride = 1;
  for (let k = 1; k <= shape.length; k++) {
    const d = shape[shape.length - k]!;
    strides[4 - k] = d === 1 && out[out.length - k] !== 1 ? 0 : stride;
    stride *= d;
  }
  return strides;
}

function shape4(shape: Shape): number[] {
  return [1, 1, 1, 1, ...shape].slice(-4).map((d) => Math.max(d, 1));
}

export const binaryKernel = defineKernel<BinaryArgs>({
  name: 'binary',
  shader: 'elementwise/binary.wgsl',
  params: (a) => ({ OP: BINARY_OPS[a.op], ACT: activationCode(a.activation), WG }),
  uniforms: (a) => ({
    count: numel(a.outShape),
    out_shape: shape4(a.outShape),
    a_strides: broadcastStrides4(a.aShape, a.outShape),
    b_strides: broadcastStrides4(a.bShape, a.outShape),
  }),
  workgroups: (a, t) => grid1d(ceilDiv(numel(a.outShape), WG), t),
  sizes: (a) => ({ a: numel(a.aShape), b: numel(a.bShape), y: numel(a.outShape) }),
  cost: (a) => ({ flops: numel(a.outShape), bytes: 4 * (numel(a.aShape) + numel(a.bShape) + numel(a.outShape)) }),
});

// ---------------------------------------------------------------------------------------------
// Tensor-level ops

export async function unary(gpu: Gpu, x: Tensor, activation: Activation, opts: { alpha?: number; beta?: number; out?: Tensor } = {}): Promise<Tensor> {
  const y = opts.out ?? gpu.empty(x.shape, 'f32', 'unary');
  if (y.size !== x.size) throw new KernelError('unary', `output ${y} does not match input ${x}`);
  await gpu.run(unaryKernel, { count: x.size, activation, alpha: opts.alpha ?? 1, beta: opts.beta ?? 0 }, { x, y });
  return y;
}

export async function binary(gpu: Gpu, op: BinaryOp, a: Tensor, b: Tensor, opts: { activation?: Activation; out?: Tensor } = {}): Promise<Tensor> {
  if (a.rank > 4 || b.rank > 4) throw new KernelError('binary', `rank above 4 is not supported (${a}, ${b})`);
  const outShape = broadcastShape(a.shape, b.shape, `binary ${op}`);
  const y = opts.out ?? gpu.empty(outShape, 'f32', `binary ${op}`);
  if (y.size !== numel(outShape)) throw new KernelError('binary', `output ${y} does not match the broadcast shape [${outShape.join(', ')}]`);
  await gpu.run(binaryKernel, { op, activation: opts.activation ?? 'none', outShape, aShape: a.shape, bShape: b.shape }, { a, b, y });
  return y;
}
