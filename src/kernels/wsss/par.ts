// The kernels of AFA's pixel-adaptive refinement (PAR, docs/algorithms.md §5; shaders/wsss/par_*.wgsl);
// the neighbour tables and the iteration are in src/wsss/par.ts.
//   parAffinityWeights  per pixel, the P weights a_ij = softmax_j(κ_ij) + pos_j over its neighbours
//   parStep             one gather M_i ← Σ_j a_ij M_j (neighbours clamped to the image)
//   parSoftmax          AFA's softmax over [bg plane, CAMs] per pixel
//   afaCombine          AFA's two-threshold label rule on two packed label maps
import type { Gpu } from '../../gpu/context.js';
import { ceilDiv, defineKernel, grid1d } from '../../gpu/kernel.js';
import type { Tensor } from '../../gpu/tensor.js';

const WG = 64;

export interface ParAffinityArgs {
  h: number;
  w: number;
  taps: number;
  w1: number;
}

export const parAffinityKernel = defineKernel<ParAffinityArgs>({
  name: 'par_affinity',
  shader: 'wsss/par_affinity.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ h: a.h, w: a.w, taps: a.taps, w1: a.w1 }),
  workgroups: (a, t) => grid1d(ceilDiv(a.h * a.w, WG), t),
  sizes: (a) => ({ image: 3 * a.h * a.w, offsets: 2 * a.taps, pos: a.taps, aff: a.taps * a.h * a.w }),
  cost: (a) => ({ flops: 30 * a.taps * a.h * a.w, bytes: 4 * (3 + 5 * a.taps) * a.h * a.w }),
});

export interface ParStepArgs {
  h: number;
  w: number;
  taps: number;
  channels: number;
}

export const parStepKernel = defineKernel<ParStepArgs>({
  name: 'par_step',
  shader: 'wsss/par_step.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ h: a.h, w: a.w, taps: a.taps, channels: a.channels, groups: ceilDiv(a.channels, 4) }),
  workgroups: (a, t) => grid1d(ceilDiv(a.h * a.w * ceilDiv(a.channels, 4), WG), t),
  sizes: (a) => ({ aff: a.taps * a.h * a.w, offsets: 2 * a.taps, m_in: a.channels * a.h * a.w, m_out: a.channels * a.h * a.w }),
  cost: (a) => ({ flops: 2 * a.taps * a.channels * a.h * a.w, bytes: 4 * a.taps * (1 + a.channels) * a.h * a.w }),
});

export const parSoftmaxKernel = defineKernel<{ k: number; pixels: number }>({
  name: 'par_softmax',
  shader: 'wsss/par_softmax.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ k: a.k, pixels: a.pixels }),
  workgroups: (a, t) => grid1d(ceilDiv(a.pixels, WG), t),
  sizes: (a) => ({ bg: a.pixels, cams: a.k * a.pixels, probs: (a.k + 1) * a.pixels }),
  cost: (a) => ({ flops: 6 * (a.k + 1) * a.pixels, bytes: 8 * (a.k + 1) * a.pixels }),
});

export const afaCombineKernel = defineKernel<{ words: number }>({
  name: 'afa_combine',
  shader: 'wsss/afa_combine.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ words: a.words }),
  workgroups: (a, t) => grid1d(ceilDiv(a.words, WG), t),
  sizes: (a) => ({ high: a.words, low: a.words, labels: a.words }),
  cost: (a) => ({ flops: 0, bytes: 12 * a.words }),
});

/**
 * The PAR weights aff [P, h, w] of an image [3, h, w], for the neighbour offsets [P, 2] ((dy, dx),
 * i32) and the per-neighbour position term pos [P] (f32, already scaled by w2).
 */
export async function parAffinityWeights(gpu: Gpu, image: Tensor, offsets: Tensor, pos: Tensor, w1: number): Promise<Tensor> {
  const [, h, w] = image.shape as [number, number, number];
  const taps = pos.shape[0]!;
  const aff = gpu.empty([taps, h, w], 'f32', 'par affinity');
  await gpu.run(parAffinityKernel, { h, w, taps, w1 }, { image, offsets, pos, aff });
  return aff;
}

/** One PAR iteration: mOut [C, h, w] = the aff-weighted sum of mIn's neighbours at every pixel. */
export async function parStep(gpu: Gpu, aff: Tensor, offsets: Tensor, mIn: Tensor, mOut: Tensor): Promise<void> {
  const [taps, h, w] = aff.shape as [number, number, number];
  await gpu.run(parStepKernel, { h, w, taps, channels: mIn.shape[0]! }, { aff, offsets, m_in: mIn, m_out: mOut });
}

/** softmax over [bg, cams] per pixel: bg [1, h, w], cams [K, h, w] → [K + 1, h, w]. */
export async function parSoftmax(gpu: Gpu, bg: Tensor, cams: Tensor): Promise<Tensor> {
  const [k, h, w] = cams.shape as [number, number, number];
  const probs = gpu.empty([k + 1, h, w], 'f32', 'afa probabilities');
  await gpu.run(parSoftmaxKernel, { k, pixels: h * w }, { bg, cams, probs });
  return probs;
}

/**
 * AFA's label rule on packed label maps (four bytes per u32 word): the high-background run's labels,
 * its background pixels 255 (ignore) unless the low-background run also says background (then 0).
 */
export async function afaCombine(gpu: Gpu, high: Tensor, low: Tensor): Promise<Tensor> {
  const words = high.size;
  const labels = gpu.empty([words], 'u32', 'afa labels');
  if (words > 0) await gpu.run(afaCombineKernel, { words }, { high, low, labels });
  return labels;
}
