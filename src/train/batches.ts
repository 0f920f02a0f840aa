// Training batches and validation inputs on the GPU: each sample's pixels and labels go up once and
// are augmented into its slot of the batch by src/kernels/train/augment.ts, with parameters from
// the deterministic sampler (src/train/augment.ts) keyed by the run's seed and the sample's global
// slot number (step · batch + slot).
import type { Gpu } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';
import type { RgbaImage } from '../io/image.js';
import { packRgba } from '../kernels/image.js';
import { augmentBatch as allocateBatch, augmentSample, packLabelBytes, type NormalizationName } from '../kernels/train/augment.js';
import { baseFit, placement, sampleAugment, type AugmentOptions } from './augment.js';
import type { GpuBatch } from './trainer.js';

/** The augmentation of a training run (JSON: it is part of the run's settings). */
export interface AugmentSettings {
  /** Training crop [height, width]. */
  crop: [number, number];
  /** The longer side of every image is first set to this (training and validation). */
  baseSize?: number;
  /** The random scale: one of a list (deeplab-pytorch), or uniform in [lo, hi). */
  scale: { /** Scales to pick from. */ choice: number[] } | { /** [lo, hi). */ range: [number, number] };
  /** Random horizontal flips (p = 0.5). */
  flip: boolean;
  /** 'imagenet' (torchvision weights) or 'caffe-bgr' (deeplab-pytorch's Caffe-converted weights). */
  normalization: NormalizationName;
}

const options = (a: AugmentSettings): AugmentOptions => ({ crop: a.crop, scale: a.scale, baseSize: a.baseSize, flip: a.flip });

function upload(gpu: Gpu, image: RgbaImage, labels: Uint8Array): { pixels: Tensor; words: Tensor } {
  const pixels = gpu.upload(packRgba(image.data), [image.height, image.width], 'u32', 'sample pixels');
  const packed = packLabelBytes(labels);
  return { pixels, words: gpu.upload(packed, [packed.length], 'u32', 'sample labels') };
}

/**
 * The batch of `samples`: sample i is global slot firstSlot + i of a run seeded with `seed` (its
 * augmentation is drawn for that slot). Labels are bytes packed four per word (what the loss and
 * the per-output label resize read on the GPU). The caller releases the tensors.
 */
export async function augmentBatch(gpu: Gpu, samples: readonly { image: RgbaImage; labels: Uint8Array }[], augment: AugmentSettings, seed: number, firstSlot: number): Promise<GpuBatch> {
  const out = allocateBatch(gpu, samples.length, augment.crop, 'u8x4');
  try {
    for (let i = 0; i < samples.length; i++) {
      const { image, labels } = samples[i]!;
      const place = sampleAugment(seed, firstSlot + i, 0, [image.height, image.width], options(augment));
      const { pixels, words } = upload(gpu, image, labels);
      try {
        await augmentSample(gpu, pixels, words, place, out, i, { normalization: augment.normalization });
      } finally {
        gpu.release(pixels, words);
      }
    }
  } catch (err) {
    gpu.release(out.images, out.labels);
    throw err;
  }
  return out;
}

/** A validation image as the network sees it: the base size, no scale, crop or flip, normalised [1, 3, h, w]. */
export async function validationInput(gpu: Gpu, image: RgbaImage, augment: AugmentSettings): Promise<Tensor> {
  const size = baseFit([image.height, image.width], augment.baseSize);
  const place = placement([image.height, image.width], { crop: size, baseSize: augment.baseSize }, 1, [0, 0], false);
  const out = allocateBatch(gpu, 1, size, 'u32');
  const { pixels, words } = upload(gpu, image, new Uint8Array(image.width * image.height));
  try {
    await augmentSample(gpu, pixels, words, place, out, 0, { normalization: augment.normalization });
  } catch (err) {
    gpu.release(out.images);
    throw err;
  } finally {
    gpu.release(pixels, words, out.labels);
  }
  return out.images;
}
