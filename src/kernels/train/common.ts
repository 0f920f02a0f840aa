// Argument checks shared by the training kernels' tensor-level functions (src/kernels/train/).
import type { Gpu } from '../../gpu/context.js';
import { KernelError } from '../../gpu/errors.js';
import { Tensor, numel, type DType, type Shape } from '../../gpu/tensor.js';

export const fmt = (s: Shape): string => `[${s.join(', ')}]`;

/** A vec2<u32> uniform from a [height, width] pair: the shaders' .x is the width axis. */
export const xy = (v: readonly [number, number]): [number, number] => [v[1], v[0]];

export function checkTensor(op: string, t: unknown, binding: string, dtype: DType = 'f32'): Tensor {
  if (!(t instanceof Tensor)) throw new KernelError(op, 'is not a Tensor', binding);
  if (t.dtype !== dtype) throw new KernelError(op, `${t} must be ${dtype}`, binding);
  return t;
}

export function checkNchw(op: string, t: unknown, binding: string): [number, number, number, number] {
  const x = checkTensor(op, t, binding);
  if (x.rank !== 4) throw new KernelError(op, `${x} must be [N, C, H, W]`, binding);
  return x.shape as [number, number, number, number];
}

export function checkSize(op: string, t: Tensor, shape: Shape, binding: string): void {
  if (t.size !== numel(shape)) throw new KernelError(op, `${t} does not hold ${fmt(shape)} (${numel(shape)} elements)`, binding);
}

export function overlaps(a: Tensor, b: Tensor): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/**
 * The tensor a result goes to: `out` (checked) or a new one. `accumulate` adds to the existing
 * contents, so it needs `out`.
 */
export function resultTensor(gpu: Gpu, op: string, binding: string, shape: Shape, out: Tensor | undefined, accumulate = false): Tensor {
  if (!out) {
    if (accumulate) throw new KernelError(op, 'accumulate needs the existing gradient passed as out', binding);
    return gpu.empty(shape, 'f32', op);
  }
  checkTensor(op, out, binding);
  checkSize(op, out, shape, binding);
  return out;
}

/** A written tensor must not share memory with any input (WebGPU forbids aliasing a written binding). */
export function checkNoOverlap(op: string, binding: string, out: Tensor, inputs: Record<string, Tensor | undefined>): void {
  for (const [name, t] of Object.entries(inputs)) {
    if (t && overlaps(out, t)) throw new KernelError(op, `overlaps ${name}; the kernel cannot write over its inputs`, binding);
  }
}

export function checkFinite(op: string, what: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new KernelError(op, `${what} = ${v} must be a finite number`);
}
