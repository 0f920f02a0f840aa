// The kernels of AffinityNet's random walk (docs/algorithms.md §6; shaders/wsss/randomwalk_*.wgsl); the
// pipeline (matrix powers, propagation, upsampling, labels) is in src/wsss/randomwalk.ts.
//   rwAffinity  W^β within the radius as a per-pixel window table [(2R − 1)², n], and its column sums
//   rwDense     the dense column-stochastic T [n, n] = W^β / colsum from that table
//   rwSeeds     [bg = (1 − max_k cam_k)^α, cams], zero-padded and average-pooled to the feature grid
import type { Gpu } from '../../gpu/context.js';
import { ceilDiv, defineKernel, grid1d } from '../../gpu/kernel.js';
import type { Tensor } from '../../gpu/tensor.js';

const WG = 64;
const ELEMENT_WG = 256;

/** An exponent as the kernels take it: the integer for binary powering (1..64), else 0 → pow(). */
const integerExponent = (v: number) => (Number.isInteger(v) && v >= 1 && v <= 64 ? v : 0);

export interface RwAffinityArgs {
  c: number;
  h: number;
  w: number;
  radius: number;
  beta: number;
}

const windowSlots = (radius: number) => (2 * radius - 1) ** 2;

export const rwAffinityKernel = defineKernel<RwAffinityArgs>({
  name: 'randomwalk_affinity',
  shader: 'wsss/randomwalk_affinity.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ c: a.c, h: a.h, w: a.w, radius: a.radius, beta: a.beta, beta_int: integerExponent(a.beta) }),
  workgroups: (a, t) => grid1d(ceilDiv(a.h * a.w, WG), t),
  sizes: (a) => ({ features: a.c * a.h * a.w, table: windowSlots(a.radius) * a.h * a.w, colsum: a.h * a.w }),
  cost: (a) => ({ flops: 2 * 2 * 34 * a.c * a.h * a.w, bytes: 4 * (2 * 34 * a.c + windowSlots(a.radius)) * a.h * a.w }),
});

export const rwDenseKernel = defineKernel<{ h: number; w: number; radius: number }>({
  name: 'randomwalk_dense',
  shader: 'wsss/randomwalk_dense.wgsl',
  params: () => ({ WG: ELEMENT_WG }),
  uniforms: (a) => ({ h: a.h, w: a.w, radius: a.radius, count: (a.h * a.w) ** 2 }),
  workgroups: (a, t) => grid1d(ceilDiv((a.h * a.w) ** 2, ELEMENT_WG), t),
  sizes: (a) => ({ table: windowSlots(a.radius) * a.h * a.w, colsum: a.h * a.w, t: (a.h * a.w) ** 2 }),
  cost: (a) => ({ flops: a.h * a.w * windowSlots(a.radius), bytes: 4 * (a.h * a.w) ** 2 }),
});

export interface RwSeedsArgs {
  k: number;
  camH: number;
  camW: number;
  h: number;
  w: number;
  pool: number;
  alpha: number;
}

export const rwSeedsKernel = defineKernel<RwSeedsArgs>({
  name: 'randomwalk_cams',
  shader: 'wsss/randomwalk_cams.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({
    k: a.k, cam_h: a.camH, cam_w: a.camW, h: a.h, w: a.w, pool: a.pool, alpha: a.alpha, alpha_int: integerExponent(a.alpha), count: (a.k + 1) * a.h * a.w,
  }),
  workgroups: (a, t) => grid1d(ceilDiv((a.k + 1) * a.h * a.w, WG), t),
  sizes: (a) => ({ cams: a.k * a.camH * a.camW, seeds: (a.k + 1) * a.h * a.w }),
  cost: (a) => ({ flops: 2 * (a.k + 1) * a.camH * a.camW, bytes: 4 * (2 * a.k * a.camH * a.camW + (a.k + 1) * a.h * a.w) }),
});

// ---------------------------------------------------------------------------------------------
// Tensor-level ops

/** The window table [(2R − 1)², h·w] of W^β from features [C, h, w], and its column sums [h·w]. */
export async function rwAffinity(gpu: Gpu, features: Tensor, radius: number, beta: number): Promise<{ table: Tensor; colsum: Tensor }> {
  const [c, h, w] = features.shape as [number, number, number];
  const table = gpu.empty([windowSlots(radius), h * w], 'f32', 'randomwalk window');
  const colsum = gpu.empty([h * w], 'f32', 'randomwalk colsum');
  await gpu.run(rwAffinityKernel, { c, h, w, radius, beta }, { features, table, colsum });
  return { table, colsum };
}

/** The dense T [n, n] (n = h·w, row-major) from rwAffinity's table and column sums. */
export async function rwDense(gpu: Gpu, table: Tensor, colsum: Tensor, h: number, w: number, radius: number): Promise<Tensor> {
  const n = h * w;
  const t = gpu.empty([n, n], 'f32', 'randomwalk T');
  await gpu.run(rwDenseKernel, { h, w, radius }, { table, colsum, t });
  return t;
}

/** The seeds [K + 1, h·w] from CAMs [K, camH, camW], pooled pool×pool onto the h×w grid. */
export async function rwSeeds(gpu: Gpu, cams: Tensor, h: number, w: number, pool: number, alpha: number): Promise<Tensor> {
  const [k, camH, camW] = cams.shape as [number, number, number];
  const seeds = gpu.empty([k + 1, h * w], 'f32', 'randomwalk seeds');
  await gpu.run(rwSeedsKernel, { k, camH, camW, h, w, pool, alpha }, { cams, seeds });
  return seeds;
}
