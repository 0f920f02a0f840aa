// The random part of DeepLab's training augmentation (kazuto1011/deeplab-pytorch at 4219467,
// libs/datasets/base.py `_BaseDataset._augmentation`, the loader CLIP-ES's segmentation step
// trains with): per sample a scale, the resized size, a crop offset in the padded image and a
// horizontal flip. The pixel work runs on the GPU (src/kernels/train/augment.ts, `augmentSample`).
//
// Deterministic: the parameters are a pure function of (seed, step, sample index, source size,
// options), drawn from the project's Rng (sfc32, integer arithmetic and IEEE doubles only), so
// every machine gets the same ones. `step` is the epoch or the iteration, as the caller numbers its
// passes; sample `index` of one step gets the same parameters whatever the batch order.
//
// What the original does, and what is matched here (in its draw order):
//   1. base size (optional, None for VOC): the longer side becomes `base`, the other
//      int(base · other / longer) (truncated).
//   2. scale s = random.choice(scales), scales (0.5, 0.75, 1.0, 1.25, 1.5) in configs/voc12.yaml.
//      Here also `scale: { range: [lo, hi] }`, a uniform draw in [lo, hi), which the original does
//      not offer (other WSSS recipes do).
//   3. resized (int(h·s), int(w·s)): truncated, not rounded (375 · 0.75 = 281.25 → 281). The
//      original fails (cv2.resize of a zero size) when a side truncates to 0; here it becomes 1.
//   4. pad bottom and right to at least the crop (image with the mean, labels with 255).
//   5. crop offsets random.randint(0, H − crop) then random.randint(0, W − crop), both ends
//      inclusive, H, W the padded size.
//   6. flip: random.random() < 0.5, drawn only when flipping is enabled.
// The original crops squares (crop_size is one int); a [height, width] crop is allowed here.
import { Rng, mixSeed } from '../world/rng.js';
import type { AugmentPlacement } from '../kernels/train/augment.js';

/** deeplab-pytorch's VOC scales (configs/voc12.yaml DATASET.SCALES). */
export const DEEPLAB_SCALES: readonly number[] = [0.5, 0.75, 1.0, 1.25, 1.5];

/** Keeps this stream apart from other draws keyed by the same seed ('augm'). */
const STREAM = 0x6175676d;

export interface AugmentOptions {
  /** Crop [height, width] (deeplab-pytorch: 321 × 321 for VOC training). */
  crop: readonly [number, number];
  /**
   * The scale: a uniform choice from a list (the original; default DEEPLAB_SCALES) or a uniform
   * draw from [lo, hi) (an extension).
   */
  scale?: { choice: readonly number[] } | { range: readonly [number, number] };
  /** deeplab-pytorch's base_size: the longer side is first set to it (default none, as for VOC). */
  baseSize?: number;
  /** Random horizontal flip with probability 0.5 (default true). */
  flip?: boolean;
}

/** One sample's augmentation: the placement the GPU kernels take, and how it was reached. */
export interface AugmentParams extends AugmentPlacement {
  /** The drawn scale factor. */
  scale: number;
  /** The size the scale applies to: the source, or its base-size fit. */
  base: [number, number];
  /** The resized image padded to at least the crop: [max(h', cropH), max(w', cropW)]. */
  padded: [number, number];
}

export class AugmentError extends Error {
  override name = 'AugmentError';
}

function positiveInt(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new AugmentError(`${what} = ${v} must be a positive integer`);
}

function word(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new AugmentError(`${what} = ${v} must be an integer in 0..4294967295`);
}

function positiveScale(v: number): void {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new AugmentError(`scale ${v} must be a positive finite number`);
}

/** The size the original scales: the source, or with the longer side set to `baseSize` (int() of the other). */
export function baseFit(source: readonly [number, number], baseSize?: number): [number, number] {
  const [h, w] = source;
  if (baseSize === undefined) return [h, w];
  positiveInt('baseSize', baseSize);
  // Python: int(self.base_size * w / h), evaluated left to right in doubles.
  return h > w ? [baseSize, Math.max(1, Math.floor((baseSize * w) / h))] : [Math.max(1, Math.floor((baseSize * h) / w)), baseSize];
}

/** (int(h·s), int(w·s)) as the original computes it (in doubles, truncated), at least 1. */
export function scaledSize(size: readonly [number, number], scale: number): [number, number] {
  positiveScale(scale);
  return [Math.max(1, Math.floor(size[0] * scale)), Math.max(1, Math.floor(size[1] * scale))];
}

/** The placement for an explicit scale, offset and flip (the parts the sampler draws), checked. */
export function placement(source: readonly [number, number], opts: Pick<AugmentOptions, 'crop' | 'baseSize'>, scale: number, offset: readonly [number, number], flip: boolean): AugmentParams {
  positiveInt('source height', source[0]);
  positiveInt('source width', source[1]);
  const [cropH, cropW] = opts.crop;
  positiveInt('crop height', cropH);
  positiveInt('crop width', cropW);
  const base = baseFit(source, opts.baseSize);
  const resized = scaledSize(base, scale);
  const padded: [number, number] = [Math.max(resized[0], cropH), Math.max(resized[1], cropW)];
  const [oy, ox] = offset;
  if (!Number.isInteger(oy) || oy < 0 || oy > padded[0] - cropH || !Number.isInteger(ox) || ox < 0 || ox > padded[1] - cropW) {
    throw new AugmentError(`crop offset [${oy}, ${ox}] is outside 0..[${padded[0] - cropH}, ${padded[1] - cropW}] of the padded ${padded[0]}×${padded[1]}`);
  }
  return { scale, base, resized, padded, crop: [cropH, cropW], offset: [oy, ox], flip };
}

/**
 * Sample `index`'s augmentation at `step` (epoch or iteration) of a run seeded with `seed`, for a
 * source image of [height, width]: draws scale, crop row, crop column and flip, in the original's
 * order, from an Rng of its own.
 */
export function sampleAugment(seed: number, step: number, index: number, source: readonly [number, number], opts: AugmentOptions): AugmentParams {
  word('seed', seed);
  word('step', step);
  word('index', index);
  const rng = new Rng(mixSeed(mixSeed(seed, STREAM), step, index));
  const spec = opts.scale ?? { choice: DEEPLAB_SCALES };
  let scale: number;
  if ('choice' in spec) {
    if (!Array.isArray(spec.choice) || spec.choice.length === 0) throw new AugmentError('scale.choice must be a non-empty list');
    spec.choice.forEach(positiveScale);
    scale = rng.pick(spec.choice);
  } else if ('range' in spec) {
    const [lo, hi] = spec.range;
    positiveScale(lo);
    positiveScale(hi);
    if (lo > hi) throw new AugmentError(`scale.range [${lo}, ${hi}] is empty`);
    scale = rng.range(lo, hi);
  } else {
    throw new AugmentError("scale must be { choice: [...] } or { range: [lo, hi] }");
  }
  // The sizes first (they bound the offsets); placement() checks the draws again.
  positiveInt('crop height', opts.crop[0]);
  positiveInt('crop width', opts.crop[1]);
  positiveInt('source height', source[0]);
  positiveInt('source width', source[1]);
  const resized = scaledSize(baseFit(source, opts.baseSize), scale);
  const oy = rng.int(0, Math.max(resized[0], opts.crop[0]) - opts.crop[0]);
  const ox = rng.int(0, Math.max(resized[1], opts.crop[1]) - opts.crop[1]);
  const flip = (opts.flip ?? true) && rng.chance(0.5);
  return placement(source, opts, scale, [oy, ox], flip);
}
