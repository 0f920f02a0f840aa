// DeepLab's training augmentation of one sample on the GPU (shaders/train/augment_image.wgsl,
// augment_labels.wgsl), as kazuto1011/deeplab-pytorch (commit 4219467, libs/datasets/base.py
// `_augmentation` + `__getitem__`) does it for VOC, which CLIP-ES trains its segmentation step with:
//   resize   the image by cv2.resize(INTER_LINEAR) on float32 pixels, through the project's one
//            bilinear resampler's taps (src/kernels/bilinear.ts, linearAxis 'cv2': the float32
//            coordinate and weights of OpenCV's non-fixed-point path, which is the one float32
//            images take; the uint8 fixed-point path does not apply). The labels by nearest
//            neighbour: 'pil' (default) as the original, PIL Image.resize(NEAREST): source index
//            trunc(xo), xo = in/out · 0.5 stepped by in/out in doubles (ImagingScaleAffine);
//            or 'cv2' as cv2.resize(INTER_NEAREST): min(floor(o · (1/(out/in))), in − 1).
//   pad      bottom and right to the crop size: image with the mean (0 after normalisation),
//            labels with 255 (ignoreIndex)
//   crop     crop_h × crop_w at the offset in the padded image
//   flip     left-right mirror of the crop
//   normalise per output channel (v / divisor − mean) / std, channels in 'rgb' or 'bgr' order:
//            'caffe-bgr' BGR minus [104.008, 116.669, 122.675] (deeplab-pytorch: `image -= mean_bgr`);
//            'imagenet' RGB / 255 then (v − mean) / std with torchvision's ImageNet statistics.
// The sizes and offsets come from the deterministic sampler (src/train/augment.ts, sampleAugment),
// or from the caller. Outputs go into slot n of batch tensors: images f32 [N, 3, cropH, cropW],
// labels u32 [N, cropH, cropW] ('u32') or N·cropH·cropW bytes packed four per u32 word ('u8x4'),
// both as softmaxCrossEntropy reads them (src/kernels/train/loss.ts).
//
// Tolerances (test/train/augment.test.ts, and the conformance case): labels, crop placement, padding
// and flips exact. Image values, against the float64 reference (same float32 taps, float64
// arithmetic) and against deeplab-pytorch's own output, per element
//   |err| ≤ u · (9 · 255 / divisor + 2 · |mean_c|) / std_c + 5u · |want|,   u = 2⁻²⁴
// (the two-level lerp's roundings on values ≤ 255, WGSL's 2.5-ulp division, the float32 mean and
// std; for 'caffe-bgr' ≤ 2.0e-4 at |want| ≤ 151, for 'imagenet' ≤ 3.4e-6 at |want| ≤ 2.7). Measured
// on SwiftShader: ≤ 1.5e-5 against the original, one float32 ulp of the value (it subtracts its
// mean in float64, the kernel the float32 mean), ≤ 2.3e-5 against the float64 reference.
import type { Gpu } from '../../gpu/context.js';
import { KernelError } from '../../gpu/errors.js';
import { ceilDiv, defineKernel, grid1d } from '../../gpu/kernel.js';
import { Tensor } from '../../gpu/tensor.js';
import { linearAxis } from '../bilinear.js';
import { checkNoOverlap } from './common.js';
import type { LabelLayout } from './loss.js';

const WG = 256;
const OP = 'augment';

// ---------------------------------------------------------------------------------------------
// Normalisation and placement

export interface ImageNormalization {
  /** Output channel order: 'rgb', or 'bgr' (output channel 0 is blue). */
  order: 'rgb' | 'bgr';
  /** Bytes are divided by it first: 255 for torchvision's ToTensor, 1 for raw 0..255 values. */
  divisor: number;
  /** Per output channel, in `order`. */
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/** The two normalisations of the DeepLab recipes. */
export const NORMALIZATIONS = {
  /** torchvision: RGB / 255, then (v − mean) / std with ImageNet's statistics. */
  imagenet: { order: 'rgb', divisor: 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  /** deeplab-pytorch (configs/voc12.yaml IMAGE.MEAN): BGR in 0..255 minus its mean, no scaling. */
  'caffe-bgr': { order: 'bgr', divisor: 1, mean: [104.008, 116.669, 122.675], std: [1, 1, 1] },
} as const satisfies Record<string, ImageNormalization>;

export type NormalizationName = keyof typeof NORMALIZATIONS;

/** Where one sample's crop comes from (src/train/augment.ts draws it). */
export interface AugmentPlacement {
  /** The resized image [h', w'] (before padding). */
  resized: readonly [number, number];
  /** The crop [cropH, cropW]. */
  crop: readonly [number, number];
  /** The crop's top-left corner [y, x] in the resized image padded bottom and right to ≥ the crop. */
  offset: readonly [number, number];
  /** Mirror the crop left-right. */
  flip: boolean;
}

/** The nearest-neighbour rule of the labels: 'pil' the original's, 'cv2' cv2.INTER_NEAREST's. */
export type LabelResize = 'pil' | 'cv2';
export const LABEL_RESIZES: readonly LabelResize[] = ['pil', 'cv2'];

/**
 * Source index of every output index of one axis of a nearest-neighbour resize from `inSize` to
 * `outSize` samples.
 *   pil: a = in/out in double; xo = a · 0.5, then xo += a per index; index = trunc(xo) (PIL's
 *        ImagingScaleAffine, which Image.resize(NEAREST) runs; the stepped sum, not (o + 0.5)·a,
 *        decides ties such as in/out = 2/3), clamped to in − 1.
 *   cv2: min(floor(o · (1 / (out/in))), in − 1) in double (OpenCV's resizeNN).
 */
export function nearestAxis(mode: LabelResize, inSize: number, outSize: number): Uint32Array {
  if (!LABEL_RESIZES.includes(mode)) throw new Error(`nearestAxis: unknown mode '${String(mode)}' (known: ${LABEL_RESIZES.join(', ')})`);
  for (const [what, v] of [['input size', inSize], ['output size', outSize]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`nearestAxis: ${what} must be a positive integer, got ${v}`);
  }
  const out = new Uint32Array(outSize);
  if (mode === 'pil') {
    const a = inSize / outSize;
    let xo = a * 0.5;
    for (let o = 0; o < outSize; o++) {
      out[o] = Math.min(Math.trunc(xo), inSize - 1);
      xo += a;
    }
  } else {
    const ifx = 1 / (outSize / inSize);
    for (let o = 0; o < outSize; o++) out[o] = Math.min(Math.floor(o * ifx), inSize - 1);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Kernel descriptors

interface PlacementArgs {
  srcH: number;
  srcW: number;
  resH: number;
  resW: number;
  cropH: number;
  cropW: number;
  offY: number;
  offX: number;
  flip: boolean;
  /** Batch size of the output tensors, and this sample's slot in it. */
  batch: number;
  slot: number;
}

export interface AugmentImageArgs extends PlacementArgs {
  /** RGBA byte (0 R, 1 G, 2 B) of each output channel. */
  channels: readonly [number, number, number];
  divisor: number;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

export interface AugmentLabelsArgs extends PlacementArgs {
  layout: LabelLayout;
  ignore: number;
}

const cropPixels = (a: PlacementArgs) => a.cropH * a.cropW;

function placementUniforms(a: PlacementArgs) {
  return { src_w: a.srcW, res_h: a.resH, res_w: a.resW, crop_w: a.cropW, off_y: a.offY, off_x: a.offX, flip: a.flip ? 1 : 0, count: cropPixels(a) };
}

/** Packed labels: the words slot `slot` touches, from the first. */
function labelWordRange(a: AugmentLabelsArgs): { first: number; words: number } {
  const base = a.slot * cropPixels(a);
  const first = Math.floor(base / 4);
  return { first, words: Math.floor((base + cropPixels(a) - 1) / 4) - first + 1 };
}

const labelWork = (a: AugmentLabelsArgs) => (a.layout === 'u8x4' ? labelWordRange(a).words : cropPixels(a));
const batchLabelWords = (a: AugmentLabelsArgs) => (a.layout === 'u8x4' ? ceilDiv(a.batch * cropPixels(a), 4) : a.batch * cropPixels(a));

export const augmentImageKernel = defineKernel<AugmentImageArgs>({
  name: 'augment_image',
  shader: 'train/augment_image.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({
    ...placementUniforms(a),
    out_base: a.slot * 3 * cropPixels(a),
    channel: [...a.channels, 3],
    mean: [...a.mean, 0],
    stddev: [...a.std, 1],
    divisor: a.divisor,
  }),
  workgroups: (a, t) => grid1d(ceilDiv(cropPixels(a), WG), t),
  sizes: (a) => ({ rgba: a.srcH * a.srcW, tab: a.resH + a.resW, y: a.batch * 3 * cropPixels(a) }),
  // Per pixel: three channels of two-level lerp (6 multiply-adds) and normalisation (2 operations).
  cost: (a) => ({ flops: 3 * 14 * cropPixels(a), bytes: 4 * (4 + 2 * 4 + 3) * cropPixels(a) }),
});

export const augmentLabelsKernel = defineKernel<AugmentLabelsArgs>({
  name: 'augment_labels',
  shader: 'train/augment_labels.wgsl',
  params: (a) => ({ PACKED: a.layout === 'u8x4', WG }),
  uniforms: (a) => ({
    ...placementUniforms(a),
    out_base: a.slot * cropPixels(a),
    first_word: a.layout === 'u8x4' ? labelWordRange(a).first : 0,
    work: labelWork(a),
    ignore: a.ignore,
  }),
  workgroups: (a, t) => grid1d(ceilDiv(labelWork(a), WG), t),
  sizes: (a) => ({ src: ceilDiv(a.srcH * a.srcW, 4), tab: a.resH + a.resW, labels: batchLabelWords(a) }),
  cost: (a) => ({ flops: 0, bytes: (a.layout === 'u8x4' ? 1 : 4) * cropPixels(a) + 4 * 3 * cropPixels(a) }),
});

// ---------------------------------------------------------------------------------------------
// Tensor-level

/** Batch outputs: images f32 [N, 3, cropH, cropW]; labels u32 [N, cropH, cropW] or packed bytes [⌈N·cropH·cropW/4⌉]. */
export interface AugmentBatch {
  images: Tensor;
  labels: Tensor;
  layout: LabelLayout;
}

export interface AugmentSampleOptions {
  /** A preset name or an explicit normalisation. */
  normalization: NormalizationName | ImageNormalization;
  /** Default 'pil' (deeplab-pytorch). */
  labelResize?: LabelResize;
  /** The label of padded pixels (default 255; ≤ 255 for packed labels). */
  ignoreIndex?: number;
}

/** Packs label bytes four per u32 word (byte 0 = the first pixel), the source label layout of augmentSample. */
export function packLabelBytes(labels: Uint8Array): Uint32Array {
  const words = new Uint32Array(Math.ceil(labels.length / 4));
  new Uint8Array(words.buffer).set(labels);
  return words;
}

/** Allocates the outputs of `batch` samples cropped to [cropH, cropW] (labels packed by default). */
export function augmentBatch(gpu: Gpu, batch: number, crop: readonly [number, number], layout: LabelLayout = 'u8x4'): AugmentBatch {
  const [h, w] = crop;
  for (const [what, v] of [['batch', batch], ['crop height', h], ['crop width', w]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new KernelError(OP, `${what} = ${v} must be a positive integer`);
  }
  if (layout !== 'u32' && layout !== 'u8x4') throw new KernelError(OP, `label layout '${String(layout)}' is not 'u32' or 'u8x4'`);
  const images = gpu.empty([batch, 3, h, w], 'f32', 'augmented images');
  const labels = layout === 'u32' ? gpu.empty([batch, h, w], 'u32', 'augmented labels') : gpu.empty([ceilDiv(batch * h * w, 4)], 'u32', 'augmented labels');
  return { images, labels, layout };
}

function resolveNormalization(n: AugmentSampleOptions['normalization']): ImageNormalization {
  const norm: ImageNormalization | undefined = typeof n === 'string' ? (NORMALIZATIONS as Record<string, ImageNormalization>)[n] : n;
  if (!norm || typeof norm !== 'object') throw new KernelError(OP, `unknown normalization '${String(n)}' (known: ${Object.keys(NORMALIZATIONS).join(', ')})`);
  if (norm.order !== 'rgb' && norm.order !== 'bgr') throw new KernelError(OP, `normalization order '${String(norm.order)}' is not 'rgb' or 'bgr'`);
  if (!(norm.divisor > 0) || !Number.isFinite(norm.divisor)) throw new KernelError(OP, `normalization divisor ${norm.divisor} must be positive and finite`);
  if (norm.mean?.length !== 3 || norm.std?.length !== 3) throw new KernelError(OP, 'normalization mean and std need 3 values each');
  norm.mean.forEach((m, c) => {
    if (!Number.isFinite(m)) throw new KernelError(OP, `mean[${c}] = ${m} must be finite`);
  });
  norm.std.forEach((s, c) => {
    if (!(s > 0) || !Number.isFinite(s)) throw new KernelError(OP, `std[${c}] = ${s} must be positive and finite`);
  });
  return norm;
}

function checkPlacement(place: AugmentPlacement): void {
  const ints = [...place.resized, ...place.crop];
  if (ints.length !== 4 || !ints.every((v) => Number.isInteger(v) && v >= 1)) {
    throw new KernelError(OP, `resized ${JSON.stringify(place.resized)} and crop ${JSON.stringify(place.crop)} must be [height, width] of positive integers`);
  }
  const padH = Math.max(place.resized[0], place.crop[0]), padW = Math.max(place.resized[1], place.crop[1]);
  const [oy, ox] = place.offset;
  if (!Number.isInteger(oy) || !Number.isInteger(ox) || oy < 0 || ox < 0 || oy + place.crop[0] > padH || ox + place.crop[1] > padW) {
    throw new KernelError(OP, `crop offset ${JSON.stringify(place.offset)} puts the ${place.crop[0]}×${place.crop[1]} crop outside the padded ${padH}×${padW} image`);
  }
  if (typeof place.flip !== 'boolean') throw new KernelError(OP, `flip ${String(place.flip)} must be a boolean`);
}

/**
 * Augments one sample into slot `slot` of `out`: `pixels` u32 [h, w] (packed RGBA8, see packRgba),
 * `labels` u32 [⌈h·w/4⌉] (label bytes packed four per word, see packLabelBytes), placed by
 * `place` (src/train/augment.ts, sampleAugment). Writes out.images[slot] and the slot's labels;
 * nothing else of the batch changes.
 */
export async function augmentSample(gpu: Gpu, pixels: Tensor, labels: Tensor, place: AugmentPlacement, out: AugmentBatch, slot: number, opts: AugmentSampleOptions): Promise<void> {
  if (!(pixels instanceof Tensor) || pixels.dtype !== 'u32' || pixels.rank !== 2) {
    throw new KernelError(OP, `pixels ${String(pixels)} must be u32 [H, W], one packed RGBA8 pixel per element`, 'rgba');
  }
  const [srcH, srcW] = pixels.shape as [number, number];
  if (srcH < 1 || srcW < 1) throw new KernelError(OP, `pixels ${pixels} is empty`, 'rgba');
  if (!(labels instanceof Tensor) || labels.dtype !== 'u32' || labels.size !== ceilDiv(srcH * srcW, 4)) {
    throw new KernelError(OP, `labels ${String(labels)} must be u32 holding ${ceilDiv(srcH * srcW, 4)} words: ${srcH}×${srcW} label bytes packed four per word`, 'src');
  }
  checkPlacement(place);
  const norm = resolveNormalization(opts.normalization);
  const labelResize = opts.labelResize ?? 'pil';
  if (!LABEL_RESIZES.includes(labelResize)) throw new KernelError(OP, `labelResize '${String(labelResize)}' is not one of ${LABEL_RESIZES.join(', ')}`);
  const { images, labels: outLabels, layout } = out;
  if (layout !== 'u32' && layout !== 'u8x4') throw new KernelError(OP, `label layout '${String(layout)}' is not 'u32' or 'u8x4'`);
  const ignore = opts.ignoreIndex ?? 255;
  if (!Number.isInteger(ignore) || ignore < 0 || ignore > (layout === 'u8x4' ? 255 : 0xffffffff)) throw new KernelError(OP, `ignoreIndex ${ignore} is not a label of layout '${layout}'`);
  const [cropH, cropW] = place.crop;
  if (!(images instanceof Tensor) || images.dtype !== 'f32' || images.rank !== 4 || images.shape[1] !== 3 || images.shape[2] !== cropH || images.shape[3] !== cropW) {
    throw new KernelError(OP, `images ${String(images)} must be f32 [N, 3, ${cropH}, ${cropW}]`, 'y');
  }
  const batch = images.shape[0]!;
  if (!Number.isInteger(slot) || slot < 0 || slot >= batch) throw new KernelError(OP, `slot ${slot} is outside the batch of ${batch}`);
  const words = layout === 'u8x4' ? ceilDiv(batch * cropH * cropW, 4) : batch * cropH * cropW;
  if (!(outLabels instanceof Tensor) || outLabels.dtype !== 'u32' || outLabels.size !== words) {
    throw new KernelError(OP, `batch labels ${String(outLabels)} must be u32 holding ${words} words (${batch}×${cropH}×${cropW} labels, '${layout}')`, 'labels');
  }
  if (batch * 3 * cropH * cropW > 0xffffffff) throw new KernelError(OP, `the batch of ${batch}×3×${cropH}×${cropW} values exceeds the u32 index range`);
  checkNoOverlap(OP, 'y', images, { rgba: pixels, src: labels });
  checkNoOverlap(OP, 'labels', outLabels, { rgba: pixels, src: labels, y: images });

  const [resH, resW] = place.resized;
  const placement: PlacementArgs = { srcH, srcW, resH, resW, cropH, cropW, offY: place.offset[0], offX: place.offset[1], flip: place.flip, batch, slot };
  // Both tables depend only on the sizes (and the label rule): device constants, reused by every
  // sample of that size and scale.
  const taps = gpu.constant(`augment cv2 taps ${srcH}×${srcW}→${resH}×${resW}`, [resH + resW, 4], 'u32', () => {
    const tab = new Uint32Array(4 * (resH + resW));
    const weights = new Float32Array(tab.buffer);
    let at = 0;
    for (const ax of [linearAxis('cv2', srcH, resH), linearAxis('cv2', srcW, resW)]) {
      for (let o = 0; o < ax.i0.length; o++, at++) {
        tab[4 * at] = ax.i0[o]!;
        tab[4 * at + 1] = ax.i1[o]!;
        weights[4 * at + 2] = ax.w0[o]!;
        weights[4 * at + 3] = ax.w1[o]!;
      }
    }
    return tab;
  });
  const nearest = gpu.constant(`augment nearest ${labelResize} ${srcH}×${srcW}→${resH}×${resW}`, [resH + resW], 'u32', () => {
    const tab = new Uint32Array(resH + resW);
    tab.set(nearestAxis(labelResize, srcH, resH));
    tab.set(nearestAxis(labelResize, srcW, resW), resH);
    return tab;
  });
  const channels: [number, number, number] = norm.order === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  await gpu.run(augmentImageKernel, { ...placement, channels, divisor: norm.divisor, mean: norm.mean, std: norm.std }, { rgba: pixels, tab: taps, y: images });
  await gpu.run(augmentLabelsKernel, { ...placement, layout, ignore }, { src: labels, tab: nearest, labels: outLabels });
}
