// Image → tensor kernels. Pixels arrive as RGBA8, one u32 per pixel (byte 0 = R, byte 3 = A), which
// is what a Uint32Array view of ImageData.data or of a decoded RGBA buffer gives on little-endian
// hosts (every WebGPU platform). Alpha is dropped: CLIP-ES decodes JPEGs to RGB (docs/algorithms.md
// §1.3; Pillow would resample RGBA premultiplied, which opaque images do not notice).
//
//   imageToTensor:   RGBA → normalised f32 [3, H, W], (v/255 − mean_c)/std_c (CLIP's by default).
//   unpackRgba:      RGBA → byte planes u32 [3, H, W] (0..255), for the exact Pillow resize.
//   normalizeBytes:  byte planes [C, H, W] → normalised f32.
//   clipEsInput:     CLIP-ES's preprocessing: byte planes, Pillow bicubic resize to the next
//                    multiple of 16 on the bytes (bit-exact), then normalisation (§1.3 order).
import type { Gpu } from '../gpu/context.js';
import { KernelError } from '../gpu/errors.js';
import { ceilDiv, defineKernel, grid1d } from '../gpu/kernel.js';
import { type Tensor } from '../gpu/tensor.js';
import { resize } from './resize.js';

/** OpenAI CLIP's per-channel normalisation (RGB). */
export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

const WG = 256;

export const rgbaToChwKernel = defineKernel<{ pixels: number; mean: readonly number[]; std: readonly number[] }>({
  name: 'rgba_to_chw',
  shader: 'image/rgba_to_chw.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ pixels: a.pixels, mean: pad4(a.mean, 0), stddev: pad4(a.std, 1) }),
  workgroups: (a, t) => grid1d(ceilDiv(a.pixels, WG), t),
  sizes: (a) => ({ rgba: a.pixels, y: 3 * a.pixels }),
  cost: (a) => ({ flops: 6 * a.pixels, bytes: 16 * a.pixels }),
});

export const unpackRgbaKernel = defineKernel<{ pixels: number }>({
  name: 'unpack_rgba',
  shader: 'image/unpack_rgba.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ pixels: a.pixels }),
  workgroups: (a, t) => grid1d(ceilDiv(a.pixels, WG), t),
  sizes: (a) => ({ rgba: a.pixels, planes: 3 * a.pixels }),
  cost: (a) => ({ flops: 0, bytes: 16 * a.pixels }),
});

export const normalizeBytesKernel = defineKernel<{ channels: number; plane: number; mean: readonly number[]; std: readonly number[] }>({
  name: 'normalize_bytes',
  shader: 'image/normalize_bytes.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ count: a.channels * a.plane, plane: a.plane, mean: pad4(a.mean, 0), stddev: pad4(a.std, 1) }),
  workgroups: (a, t) => grid1d(ceilDiv(a.channels * a.plane, WG), t),
  sizes: (a) => ({ x: a.channels * a.plane, y: a.channels * a.plane }),
  cost: (a) => ({ flops: 3 * a.channels * a.plane, bytes: 8 * a.channels * a.plane }),
});

function pad4(v: readonly number[], fill: number): number[] {
  return [...v, fill, fill, fill, fill].slice(0, 4);
}

/** Reinterpret RGBA8 bytes (ImageData.data) as one u32 per pixel, without copying when aligned. */
export function packRgba(bytes: Uint8Array | Uint8ClampedArray): Uint32Array {
  if (bytes.length % 4 !== 0) throw new KernelError('packRgba', `${bytes.length} bytes is not a whole number of RGBA pixels`);
  if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) throw new KernelError('packRgba', 'this host is big-endian; the RGBA layout assumes little-endian u32 words');
  if (bytes.byteOffset % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  return new Uint32Array(Uint8Array.from(bytes).buffer);
}

function checkPixels(op: string, pixels: Tensor): [number, number] {
  if (pixels.dtype !== 'u32' || pixels.rank !== 2) {
    throw new KernelError(op, `pixels ${pixels} must be u32 [H, W], one packed RGBA8 pixel per element (see packRgba)`);
  }
  return [pixels.shape[0]!, pixels.shape[1]!];
}

function checkNorm(op: string, channels: number, mean: readonly number[], std: readonly number[]): void {
  if (mean.length !== channels) throw new KernelError(op, `mean has ${mean.length} values for ${channels} channels`);
  if (std.length !== channels) throw new KernelError(op, `std has ${std.length} values for ${channels} channels`);
  std.forEach((s, c) => {
    if (!(s > 0) || !Number.isFinite(s)) throw new KernelError(op, `std[${c}] = ${s} must be a positive finite number`);
  });
  mean.forEach((m, c) => {
    if (!Number.isFinite(m)) throw new KernelError(op, `mean[${c}] = ${m} must be finite`);
  });
}

function outputFor(gpu: Gpu, op: string, shape: number[], dtype: Tensor['dtype'], out: Tensor | undefined): Tensor {
  if (!out) return gpu.empty(shape, dtype, op);
  if (out.dtype !== dtype || out.size !== shape.reduce((a, b) => a * b, 1)) {
    throw new KernelError(op, `output ${out} does not hold the result [${shape.join(', ')}] ${dtype}`);
  }
  return out;
}

export interface NormalizeOptions {
  mean?: readonly number[];
  std?: readonly number[];
  out?: Tensor;
}

/** RGBA8 pixels u32 [H, W] → f32 [3, H, W], (v/255 − mean_c)/std_c (CLIP's mean and std by default). */
export async function imageToTensor(gpu: Gpu, pixels: Tensor, opts: NormalizeOptions = {}): Promise<Tensor> {
  const [h, w] = checkPixels('imageToTensor', pixels);
  const mean = opts.mean ?? CLIP_MEAN, std = opts.std ?? CLIP_STD;
  checkNorm('imageToTensor', 3, mean, std);
  const y = outputFor(gpu, 'imageToTensor', [3, h, w], 'f32', opts.out);
  await gpu.run(rgbaToChwKernel, { pixels: h * w, mean, std }, { rgba: pixels, y });
  return y;
}

/** RGBA8 pixels u32 [H, W] → byte planes u32 [3, H, W] (values 0..255). */
export async function unpackRgba(gpu: Gpu, pixels: Tensor, opts: { out?: Tensor } = {}): Promise<Tensor> {
  const [h, w] = checkPixels('unpackRgba', pixels);
  const y = outputFor(gpu, 'unpackRgba', [3, h, w], 'u32', opts.out);
  await gpu.run(unpackRgbaKernel, { pixels: h * w }, { rgba: pixels, planes: y });
  return y;
}

/** Byte planes u32 [C, H, W] (C ≤ 4, values 0..255) → f32 (v/255 − mean_c)/std_c. */
export async function normalizeBytes(gpu: Gpu, planes: Tensor, opts: NormalizeOptions = {}): Promise<Tensor> {
  if (planes.dtype !== 'u32' || planes.rank !== 3 || planes.shape[0]! > 4) {
    throw new KernelError('normalizeBytes', `input ${planes} must be u32 byte planes [C, H, W] with C ≤ 4`);
  }
  const [c, h, w] = planes.shape as [number, number, number];
  const mean = opts.mean ?? CLIP_MEAN, std = opts.std ?? CLIP_STD;
  checkNorm('normalizeBytes', c, mean, std);
  const y = outputFor(gpu, 'normalizeBytes', [c, h, w], 'f32', opts.out);
  await gpu.run(normalizeBytesKernel, { channels: c, plane: h * w, mean, std }, { x: planes, y });
  return y;
}

/** CLIP-ES's input size for an H×W image: each side rounded up to a multiple of the patch size. */
export function clipEsSize(height: number, width: number, patch = 16): [number, number] {
  return [Math.ceil(height / patch) * patch, Math.ceil(width / patch) * patch];
}

/**
 * CLIP-ES preprocessing (docs/algorithms.md §1.3): stretch the decoded image to
 * ceil(H/16)·16 × ceil(W/16)·16 with Pillow's bicubic resize on the 8-bit values (bit-exact), then
 * ToTensor + Normalize with CLIP's mean and std. Returns f32 [3, H', W'].
 */
export async function clipEsInput(gpu: Gpu, pixels: Tensor, opts: NormalizeOptions & { patch?: number } = {}): Promise<Tensor> {
  const [h, w] = checkPixels('clipEsInput', pixels);
  const planes = await unpackRgba(gpu, pixels);
  const resized = await resize(gpu, planes, clipEsSize(h, w, opts.patch), 'bicubic-pil');
  const y = await normalizeBytes(gpu, resized, opts);
  gpu.release(planes, resized);
  return y;
}
