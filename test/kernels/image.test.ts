// Image → tensor kernels against float64 references.
import { describe, expect, it } from 'vitest';
import { CLIP_MEAN, CLIP_STD, clipEsInput, clipEsSize, imageToTensor, normalizeBytes, packRgba, unpackRgba } from '../../src/kernels/image.js';
import { testGpu } from '../helpers/gpu.js';
import { expectClose, rng } from '../helpers/reference.js';
import { pilResizeU8Ref } from '../helpers/resize-ref.js';

/** Random RGBA8 bytes as ImageData would hold them. */
function rgbaBytes(pixels: number, seed: number): Uint8ClampedArray {
  const r = rng(seed);
  return Uint8ClampedArray.from({ length: 4 * pixels }, () => Math.floor(r() * 256));
}

/** float64 (v/255 − mean_c)/std_c of channel c of RGBA bytes, planar. */
function normalizedRef(bytes: ArrayLike<number>, pixels: number, mean: readonly number[], std: readonly number[]): Float64Array {
  const out = new Float64Array(3 * pixels);
  for (let c = 0; c < 3; c++) for (let i = 0; i < pixels; i++) out[c * pixels + i] = (bytes[4 * i + c]! / 255 - mean[c]!) / std[c]!;
  return out;
}

// Outputs lie within ±2.2; f32 evaluation of v/255, the subtraction and the division (WGSL allows
// 2.5 ulp for division) is a few ulps of 2 (2.4e-7 each), plus the f32 rounding of mean and std
// (≈ 3e-8 relative, amplified by 1/std ≈ 4): 1e-6 absolute bounds it with margin.
const ATOL = 1e-6;

const SIZES: Array<[number, number]> = [[1, 1], [7, 197], [4097, 3]];

describe('packRgba', () => {
  it('puts R in the low byte and A in the high byte', () => {
    expect(Array.from(packRgba(Uint8ClampedArray.from([1, 2, 3, 4, 255, 0, 128, 7])))).toEqual([0x04030201, 0x078000ff]);
    const offset = new Uint8Array(9).subarray(1); // not 4-byte aligned: copied
    offset.set([9, 8, 7, 6, 5, 4, 3, 2]);
    expect(Array.from(packRgba(offset))).toEqual([0x06070809, 0x02030405]);
    expect(() => packRgba(new Uint8Array(7))).toThrow(/'packRgba'.*7 bytes is not a whole number of RGBA pixels/);
  });
});

describe('imageToTensor', () => {
  it('normalises RGBA8 to CHW f32 with CLIP mean/std by default, and with given ones', async () => {
    const gpu = await testGpu();
    for (const [h, w] of SIZES) {
      const bytes = rgbaBytes(h * w, h + w);
      const px = gpu.upload(packRgba(bytes), [h, w], 'u32');
      const y = await imageToTensor(gpu, px);
      expect(y.shape).toEqual([3, h, w]);
      expectClose(await gpu.readF32(y), normalizedRef(bytes, h * w, CLIP_MEAN, CLIP_STD), { atol: ATOL }, `CLIP ${h}×${w}`);
      const mean = [0.5, 0.25, 0], std = [0.5, 1, 2];
      const y2 = await imageToTensor(gpu, px, { mean, std });
      expectClose(await gpu.readF32(y2), normalizedRef(bytes, h * w, mean, std), { atol: ATOL }, `custom ${h}×${w}`);
      gpu.release(px, y, y2);
    }
  });

  it('rejects bad pixels and normalisation, naming the op and the culprit', async () => {
    const gpu = await testGpu();
    const f = gpu.upload(new Float32Array(4), [2, 2]);
    const px = gpu.upload(new Uint32Array(4), [2, 2], 'u32');
    await expect(imageToTensor(gpu, f)).rejects.toThrow(/'imageToTensor'.*pixels .* must be u32 \[H, W\]/);
    await expect(imageToTensor(gpu, px.view([4]))).rejects.toThrow(/'imageToTensor'.*must be u32 \[H, W\]/);
    await expect(imageToTensor(gpu, px, { mean: [0.5, 0.5] })).rejects.toThrow(/'imageToTensor'.*mean has 2 values for 3 channels/);
    await expect(imageToTensor(gpu, px, { std: [1, 0, 1] })).rejects.toThrow(/'imageToTensor'.*std\[1\] = 0 must be a positive finite number/);
    gpu.release(f, px);
  });
});

describe('unpackRgba + normalizeBytes', () => {
  it('unpacks to byte planes exactly and normalises them like imageToTensor', async () => {
    const gpu = await testGpu();
    for (const [h, w] of SIZES) {
      const bytes = rgbaBytes(h * w, 7 * h + w);
      const px = gpu.upload(packRgba(bytes), [h, w], 'u32');
      const planes = await unpackRgba(gpu, px);
      expect(planes.shape).toEqual([3, h, w]);
      const want = [0, 1, 2].flatMap((c) => Array.from({ length: h * w }, (_, i) => bytes[4 * i + c]!));
      expect(Array.from(await gpu.read(planes)), `${h}×${w}`).toEqual(want);
      const y = await normalizeBytes(gpu, planes);
      expectClose(await gpu.readF32(y), normalizedRef(bytes, h * w, CLIP_MEAN, CLIP_STD), { atol: ATOL }, `normalizeBytes ${h}×${w}`);
      gpu.release(px, planes, y);
    }
  });

  it('handles 1 and 4 channels with their own mean and std', async () => {
    const gpu = await testGpu();
    for (const c of [1, 4]) {
      const n = 197;
      const data = Uint32Array.from({ length: c * n }, (_, i) => (i * 37) % 256);
      const mean = [0.1, 0.2, 0.3, 0.4].slice(0, c), std = [0.9, 0.8, 0.7, 0.6].slice(0, c);
      const x = gpu.upload(data, [c, 1, n], 'u32');
      const y = await normalizeBytes(gpu, x, { mean, std });
      const want = Array.from(data, (v, i) => (v / 255 - mean[Math.floor(i / n)]!) / std[Math.floor(i / n)]!);
      expectClose(await gpu.readF32(y), want, { atol: ATOL }, `${c} channels`);
      gpu.release(x, y);
    }
    const five = gpu.upload(new Uint32Array(5), [5, 1, 1], 'u32');
    await expect(normalizeBytes(gpu, five)).rejects.toThrow(/'normalizeBytes'.*C ≤ 4/);
    gpu.release(five);
  });
});

describe('clipEsInput', () => {
  it('resizes the bytes with exact Pillow bicubic to multiples of 16, then normalises', async () => {
    const gpu = await testGpu();
    for (const [h, w] of [[23, 37], [32, 16], [1, 7]] as Array<[number, number]>) {
      const bytes = rgbaBytes(h * w, h * w);
      const px = gpu.upload(packRgba(bytes), [h, w], 'u32');
      const y = await clipEsInput(gpu, px);
      const [oh, ow] = clipEsSize(h, w);
      expect(y.shape).toEqual([3, oh, ow]);
      const planes = [0, 1, 2].flatMap((c) => Array.from({ length: h * w }, (_, i) => bytes[4 * i + c]!));
      const resized = pilResizeU8Ref(planes, 3, h, w, oh, ow);
      const want = Array.from(resized, (v, i) => {
        const c = Math.floor(i / (oh * ow));
        return (v / 255 - CLIP_MEAN[c]!) / CLIP_STD[c]!;
      });
      expectClose(await gpu.readF32(y), want, { atol: ATOL }, `${h}×${w} → ${oh}×${ow}`);
      gpu.release(px, y);
    }
  });
});
