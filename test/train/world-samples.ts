// Fixed training samples from the synthetic world for the equivalence and smoke tests, made on the
// host so that PyTorch reads the very same inputs: an image reduced to a small training size and
// normalised, and its label map (0 background, 1..10 objects, 255 void). Training runs augment on
// the GPU instead (src/train/batches.ts).
//
// Reduction: the image by area averaging (every source pixel weighted by its overlap with the
// target pixel, so small sizes do not alias), the labels by the source pixel under the target
// pixel's centre (nearest; a label is never averaged). Normalisation as torchvision's ImageNet
// models: RGB/255, then (v − mean)/std per channel, in float64 and rounded once.
import { generateImage } from '../../src/world/generate.js';

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

export interface Sample {
  /** [3, H, W] f32, normalised. */
  image: Float32Array;
  /** [H, W]. */
  labels: Uint8Array;
  height: number;
  width: number;
}

/** Area weights of source indices for each of `outSize` target indices over `inSize`. */
function areaAxis(inSize: number, outSize: number): { start: number; weights: number[] }[] {
  const scale = inSize / outSize;
  return Array.from({ length: outSize }, (_, o) => {
    const lo = o * scale, hi = (o + 1) * scale;
    const start = Math.floor(lo), end = Math.min(Math.ceil(hi), inSize);
    const weights: number[] = [];
    for (let i = start; i < end; i++) weights.push((Math.min(i + 1, hi) - Math.max(i, lo)) / scale);
    return { start, weights };
  });
}

/** RGBA8 pixels [h, w] → normalised [3, height, width] f32 (area-averaged when the size changes). */
export function normalizeRgba(rgba: Uint8Array, w: number, h: number, height = h, width = w): Float32Array {
  if (rgba.length !== 4 * w * h) throw new RangeError(`${rgba.length} bytes are not ${w}×${h} RGBA`);
  const ys = areaAxis(h, height), xs = areaAxis(w, width);
  const out = new Float32Array(3 * height * width);
  for (let y = 0; y < height; y++) {
    const ay = ys[y]!;
    for (let x = 0; x < width; x++) {
      const ax = xs[x]!;
      for (let c = 0; c < 3; c++) {
        let v = 0;
        ay.weights.forEach((wy, i) => {
          const row = (ay.start + i) * w;
          ax.weights.forEach((wx, j) => (v += wy * wx * rgba[4 * (row + ax.start + j) + c]!));
        });
        out[(c * height + y) * width + x] = (v / 255 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!;
      }
    }
  }
  return out;
}

/** Label map [h, w] → [height, width] by the source pixel under each target centre. */
export function resizeLabels(labels: Uint8Array, w: number, h: number, height: number, width: number): Uint8Array {
  const out = new Uint8Array(height * width);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(Math.floor(((y + 0.5) * h) / height), h - 1);
    for (let x = 0; x < width; x++) out[y * width + x] = labels[sy * w + Math.min(Math.floor(((x + 0.5) * w) / width), w - 1)]!;
  }
  return out;
}

/** World image `index` (seed, split) at [height, width]: normalised image and ground-truth labels. */
export function worldSample(seed: number, index: number, split: 'train' | 'val', height: number, width: number): Sample {
  const { image } = generateImage(seed, index, split);
  return {
    image: normalizeRgba(image.rgba, image.width, image.height, height, width),
    labels: resizeLabels(image.mask, image.width, image.height, height, width),
    height, width,
  };
}

/** Samples of one size stacked into a batch: images [N, 3, H, W], labels [N, H, W]. */
export function stackSamples(samples: readonly Sample[]): { images: Float32Array; labels: Uint8Array; shape: [number, number, number] } {
  if (samples.length === 0) throw new RangeError('no samples to stack');
  const { height, width } = samples[0]!;
  if (samples.some((s) => s.height !== height || s.width !== width)) throw new RangeError('samples of a batch must share one size');
  const images = new Float32Array(samples.length * 3 * height * width);
  const labels = new Uint8Array(samples.length * height * width);
  samples.forEach((s, i) => {
    images.set(s.image, i * 3 * height * width);
    labels.set(s.labels, i * height * width);
  });
  return { images, labels, shape: [samples.length, height, width] };
}
