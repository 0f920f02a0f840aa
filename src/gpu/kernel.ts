// The kernel descriptor: everything seedmask knows about one WGSL kernel besides its source.
//
// One op = one `.wgsl` file in shaders/ + one descriptor in src/kernels/. A descriptor is plain data
// and pure functions of the op's arguments:
//   - `params`: the specialisation (`// @param` constants). Together with the shader file it is the
//     pipeline cache key, so it must not contain shapes (those go in `uniforms`).
//   - `uniforms`: values for the shader's uniform struct, packed by field name through reflection.
//   - `workgroups`: the dispatch grid.
//   - `sizes`: how many elements each bound buffer must hold; checked before every dispatch.
// Bindings and the uniform layout are not declared here: they are reflected from the WGSL.
import type { AdapterDescription, GpuFeatures } from './device.js';
import type { ShaderParams } from './shader.js';

export interface DeviceTraits {
  adapter: AdapterDescription;
  features: GpuFeatures;
  limits: GPUSupportedLimits;
}

export type UniformValues = Record<string, number | readonly number[]>;

export interface KernelDescriptor<A> {
  /** Unique, human-readable; appears in errors, profiles and pipeline labels. */
  name: string;
  /** Path under shaders/, e.g. 'matmul/register.wgsl'. */
  shader: string;
  params?(args: A, traits: DeviceTraits): ShaderParams;
  uniforms?(args: A, traits: DeviceTraits): UniformValues;
  workgroups(args: A, traits: DeviceTraits): readonly [number, number?, number?];
  sizes(args: A): Record<string, number>;
  /** Floating-point operations and bytes moved per dispatch, for profiles and benchmarks. */
  cost?(args: A): { flops: number; bytes: number };
}

export function defineKernel<A>(descriptor: KernelDescriptor<A>): KernelDescriptor<A> {
  return descriptor;
}

/**
 * Fold a 1-D count of workgroups into a 2-D grid that respects the per-dimension limit. Shaders
 * recover the linear index with `wid.x + wid.y * nwg.x` and must skip indices past the count
 * (see shaders/README.md, "Dispatch").
 */
export function grid1d(workgroups: number, traits: DeviceTraits): [number, number] {
  const max = traits.limits.maxComputeWorkgroupsPerDimension;
  if (workgroups <= max) return [Math.max(workgroups, 1), 1];
  const y = Math.ceil(workgroups / max);
  if (y > max) throw new Error(`${workgroups} workgroups exceed the device's dispatch limit (${max}²)`);
  return [Math.ceil(workgroups / y), y];
}

export const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);
