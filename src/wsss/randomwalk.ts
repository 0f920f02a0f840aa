// AffinityNet's random walk (docs/algorithms.md §6, jiwoon-ahn/psa infer_aff.py) as a GPU pipeline:
//
//   W_ij = exp(−mean_c |f_i − f_j|) for pairs within `radius` (psa's half-plane offsets plus their
//          transposes, from-pixels only away from the left/right/bottom border), W_ii = 1, else 0
//   T    = W^β / colsum(W^β)                           (β = 8; column-stochastic, dense n×n)
//   T    ← T^(2^logt) by logt dense squarings           (logt = 8 → T^256, existing matmul kernel)
//   seeds = avg_pool_stride([bg, cams]) with bg = (1 − max_k cam_k)^α, α = 16, zero-padded to a
//           multiple of the stride (psa: 8); CAMs already at feature resolution are used as they are
//   scores = seeds [K + 1, n] @ T                       (out[:, j] = Σ_i seeds[:, i] T[i, j])
//   labels = argmax over channels of bilinear(scores) (align_corners=False) onto the padded size,
//            cropped to the CAMs' size, mapped through [0, keys + 1] (first maximum wins)
//
// The features can be anything [C, h, w]: psa uses its trained AffinityNet head (448 channels at
// stride 8). seedmask trains no AffinityNet, so its pipeline feeds CLIP patch features (stride 16:
// pass `stride: 16`); how well that works depends on their scale (the affinity is exp(−β·mean|Δf|)).
//
// Cost: T is n×n (n = h·w; 64 MiB at n = 4096) and each squaring is an n³ matmul: ~1 TFLOP for
// logt = 8 at n = 4000, fine on a GPU, far too slow for a CPU WebGPU (SwiftShader) at that size.
//
// Deviation (documented): bg uses the max over the K given CAMs. psa's array also holds the absent
// classes as zero planes, so its max is never below 0; the two differ only for negative CAMs.
//
// The kernels are in src/kernels/wsss/randomwalk.ts.
import type { Gpu } from '../gpu/context.js';
import { KernelError } from '../gpu/errors.js';
import { Tensor } from '../gpu/tensor.js';
import { resizeLinear } from '../kernels/bilinear.js';
import { matmul } from '../kernels/matmul.js';
import { rwAffinity, rwDense, rwSeeds } from '../kernels/wsss/randomwalk.js';
import { labelMapPacked, readLabelWords } from './labels.js';
import { MAX_CLASSES } from './labelset.js';

export const RW_DEFAULTS = { beta: 8, logt: 8, alpha: 16, radius: 5, stride: 8 } as const;

// ---------------------------------------------------------------------------------------------

export interface RwTransitionOptions {
  /** Exponent of the affinities (psa --beta 8). */
  beta?: number;
  /** Pairs within this radius: offsets with x² + y² < radius², |x|, |y| ≤ radius − 1 (psa: 5). */
  radius?: number;
  /** T is raised to 2^logt by logt squarings (psa --logt 8); 0 returns the one-step T. */
  logt?: number;
}

function checkFeatures(features: unknown): asserts features is Tensor {
  if (!(features instanceof Tensor) || features.dtype !== 'f32' || features.rank !== 3) throw new KernelError('randomwalk', `features ${String(features)} must be f32 [C, h, w]`);
  if (features.size === 0) throw new KernelError('randomwalk', `features ${features} are empty`);
}

function resolve(opts: RwTransitionOptions): { beta: number; radius: number; logt: number } {
  const beta = opts.beta ?? RW_DEFAULTS.beta, radius = opts.radius ?? RW_DEFAULTS.radius, logt = opts.logt ?? RW_DEFAULTS.logt;
  if (!Number.isFinite(beta) || beta <= 0) throw new KernelError('randomwalk', `beta must be a finite number > 0, got ${beta}`);
  // radius 1 would make psa's border crop `[:-0]` empty; radius ≥ 2 keeps its rule meaningful.
  if (!Number.isInteger(radius) || radius < 2 || radius > 32) throw new KernelError('randomwalk', `radius must be an integer in 2..32, got ${radius}`);
  if (!Number.isInteger(logt) || logt < 0 || logt > 30) throw new KernelError('randomwalk', `logt must be an integer in 0..30, got ${logt}`);
  return { beta, radius, logt };
}

/** T^(2^logt) [n, n] (n = h·w, row-major, column-stochastic) from features [C, h, w]. */
export async function randomWalkTransition(gpu: Gpu, features: Tensor, opts: RwTransitionOptions = {}): Promise<Tensor> {
  checkFeatures(features);
  const { beta, radius, logt } = resolve(opts);
  const [, h, w] = features.shape as [number, number, number];
  const n = h * w;
  const bytes = 4 * n * n;
  const limit = Math.min(gpu.traits.limits.maxStorageBufferBindingSize, gpu.traits.limits.maxBufferSize);
  if (bytes > limit) throw new KernelError('randomwalk', `the dense ${n}×${n} transition matrix needs ${bytes} bytes; the device allows ${limit} per buffer (use a coarser feature map)`);
  const { table, colsum } = await rwAffinity(gpu, features, radius, beta);
  let t = await rwDense(gpu, table, colsum, h, w, radius);
  gpu.release(table, colsum);
  for (let i = 0; i < logt; i++) {
    const squared = await matmul(gpu, t, t);
    gpu.release(t);
    t = squared;
  }
  return t;
}

export interface RandomWalkOptions extends RwTransitionOptions {
  /** [C, h, w] features that define the affinities (see the header). */
  features: Tensor;
  /**
   * Foreground CAMs [K, H, W]: at image resolution (ceil(H/stride) = h, ceil(W/stride) = w; zero-
   * padded and average-pooled to the feature grid) or already at feature resolution [K, h, w].
   */
  cams: Tensor;
  /** Class index of each CAM channel (label = key + 1); default 0..K−1. */
  keys?: readonly number[];
  /** Exponent of the background channel (psa --alpha 16). */
  alpha?: number;
  /** Image pixels per feature cell (psa: 8; CLIP ViT-B/16 patch features: 16). */
  stride?: number;
}

export interface RandomWalkResult {
  /** cam_rw [K + 1, h, w] at feature resolution: channel 0 background, then the K classes. */
  scores: Tensor;
  /** [H·W] row-major uint8 labels at the CAMs' resolution: 0 background, keys + 1 classes. */
  labels: Uint8Array;
}

/** psa's random-walk propagation of CAMs over feature affinities (§6). */
export async function randomWalk(gpu: Gpu, opts: RandomWalkOptions): Promise<RandomWalkResult> {
  const { scores, labelWords } = await randomWalkOnGpu(gpu, opts);
  return { scores, labels: await readLabelWords(gpu, labelWords, opts.cams.shape[1]! * opts.cams.shape[2]!) };
}

/** randomWalk with the labels left on the GPU: u32 [ceil(H·W/4)], four label bytes per word. */
export async function randomWalkOnGpu(gpu: Gpu, opts: RandomWalkOptions): Promise<{ scores: Tensor; labelWords: Tensor }> {
  const { features, cams } = opts;
  checkFeatures(features);
  resolve(opts);
  const [, h, w] = features.shape as [number, number, number];
  if (!(cams instanceof Tensor) || cams.dtype !== 'f32' || cams.rank !== 3 || cams.size === 0) throw new KernelError('randomwalk', `cams ${String(cams)} must be f32 [K, H, W] with K ≥ 1`);
  const [k, camH, camW] = cams.shape as [number, number, number];
  const stride = opts.stride ?? RW_DEFAULTS.stride;
  if (!Number.isInteger(stride) || stride < 1) throw new KernelError('randomwalk', `stride must be a positive integer, got ${stride}`);
  const atFeatures = camH === h && camW === w;
  const pool = atFeatures ? 1 : stride;
  if (!atFeatures && (Math.ceil(camH / stride) !== h || Math.ceil(camW / stride) !== w)) {
    throw new KernelError('randomwalk', `cams ${cams} fit neither the feature grid ${h}×${w} nor it at stride ${stride} (which needs ceil(H/${stride}) = ${h}, ceil(W/${stride}) = ${w})`);
  }
  const keys = opts.keys ?? Array.from({ length: k }, (_, i) => i);
  if (keys.length !== k) throw new KernelError('randomwalk', `${k} CAM channel(s) but ${keys.length} keys`);
  keys.forEach((key, i) => {
    if (!Number.isInteger(key) || key < 0 || key + 1 > MAX_CLASSES) throw new KernelError('randomwalk', `keys[${i}] = ${key} is not a class index in 0..${MAX_CLASSES - 1}`);
  });
  const alpha = opts.alpha ?? RW_DEFAULTS.alpha;
  if (!Number.isFinite(alpha) || alpha <= 0) throw new KernelError('randomwalk', `alpha must be a finite number > 0, got ${alpha}`);

  const seeds = await rwSeeds(gpu, cams, h, w, pool, alpha);
  const t = await randomWalkTransition(gpu, features, opts);
  const scores = await matmul(gpu, seeds, t);
  gpu.release(seeds, t);
  const grid = scores.view([k + 1, h, w]);
  // Upsample onto the padded image (pool·h × pool·w) and keep the CAMs' extent, as psa crops.
  const up = atFeatures ? grid : await resizeLinear(gpu, grid, [camH, camW], { mode: 'torch', fullSize: [pool * h, pool * w] });
  const labelWords = await labelMapPacked(gpu, up, { keys, background: { kind: 'channel0' } });
  if (up !== grid) gpu.release(up);
  return { scores: grid, labelWords };
}
