// DeepLab's training augmentation on the GPU (src/kernels/train/augment.ts) and its deterministic
// sampler (src/train/augment.ts):
//   - against the original: kazuto1011/deeplab-pytorch at 4219467 run by
//     weights/make_augment_goldens.py (test/fixtures/train/augment/) with its random draws fixed:
//     every scale of its VOC list, flip off and on, crops smaller and larger than the scaled image;
//   - against a float64 host reference written from the spec (test/train/augment-ref.ts, a second
//     opinion) at awkward sizes (1×1, 7×13, 37×5, rectangular crops), both normalisations, both
//     nearest rules, both label layouts, and on draws of the sampler;
//   - the 1-D tables against PIL and OpenCV themselves (nearest indices; cv2's float32 linear taps,
//     bit for bit);
//   - slot isolation in a batch, the loss kernel reading the labels, and the time of one VOC-sized
//     sample (500×375 → 321×321) on this adapter.
// Tolerances (as src/kernels/train/augment.ts states): labels, placement, padding and flips exact;
// image values within u·(9·255/divisor + 2|mean_c|)/std_c + 5u·|want| (u = 2⁻²⁴) of the reference and
// of the original.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/context.js';
import type { Tensor } from '../../src/gpu/tensor.js';
import { linearAxis } from '../../src/kernels/bilinear.js';
import { packRgba } from '../../src/kernels/image.js';
import {
  augmentBatch, augmentSample, nearestAxis, NORMALIZATIONS, packLabelBytes, type AugmentBatch, type AugmentPlacement, type ImageNormalization, type LabelResize,
} from '../../src/kernels/train/augment.js';
import type { LabelLayout } from '../../src/kernels/train/loss.js';
import { softmaxCrossEntropy } from '../../src/kernels/train/loss.js';
import { AugmentError, baseFit, DEEPLAB_SCALES, placement, sampleAugment, scaledSize, type AugmentParams } from '../../src/train/augment.js';
import { testGpu } from '../helpers/gpu.js';
import { rng } from '../helpers/rng.js';
import { augmentRef, imageBound } from './augment-ref.js';
import { crossEntropyRef } from './reference.js';

const lines: string[] = [];
afterAll(() => {
  if (lines.length) console.log(`\ntraining augmentation (deeplab-pytorch ${golden().header.source.commit.slice(0, 7)}, OpenCV ${golden().header.versions.opencv}, Pillow ${golden().header.versions.pillow}):\n${lines.join('\n')}`);
});

/** Every element within its bound (exact where the bound is 0); records the largest error and its share of the bound. */
function expectWithin(what: string, got: ArrayLike<number>, want: ArrayLike<number>, bound: ArrayLike<number> | number, log = true): number {
  expect(got.length, `${what}: length`).toBe(want.length);
  let bad = 0, first = -1, maxErr = 0, worst = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!);
    const b = typeof bound === 'number' ? bound : bound[i]!;
    if (!(err <= b)) {
      bad++;
      if (first < 0) first = i;
    }
    maxErr = Math.max(maxErr, err);
    if (b > 0) worst = Math.max(worst, err / b);
  }
  if (log) lines.push(`  ${what.padEnd(62)} max |err| ${maxErr.toExponential(2)}${typeof bound === 'number' && bound === 0 ? ' (exact)' : `  ${(100 * worst).toFixed(1)}% of its bound`}`);
  expect(bad, `${what}: ${bad}/${want.length} outside the bound; first [${first}] got ${got[first]} want ${want[first]}`).toBe(0);
  return maxErr;
}

// ---------------------------------------------------------------------------------------------
// Inputs and read-back

interface Source {
  h: number;
  w: number;
  rgba: Uint8Array;
  labels: Uint8Array;
}

function randomSource(h: number, w: number, seed: number, classes = 21): Source {
  const r = rng(seed);
  const rgba = Uint8Array.from({ length: 4 * h * w }, (_, i) => (i % 4 === 3 ? 255 : Math.floor(r() * 256)));
  const labels = Uint8Array.from({ length: h * w }, () => (r() < 0.1 ? 255 : Math.floor(r() * classes)));
  return { h, w, rgba, labels };
}

function uploadSource(gpu: Gpu, s: Source): { pixels: Tensor; labels: Tensor } {
  const words = packLabelBytes(s.labels);
  return { pixels: gpu.upload(packRgba(s.rgba), [s.h, s.w], 'u32', 'augment source'), labels: gpu.upload(words, [words.length], 'u32', 'augment labels') };
}

/** Slot n of a read-back batch: image [3·cropH·cropW] and labels [cropH·cropW]. */
async function readBatch(gpu: Gpu, b: AugmentBatch, crop: readonly [number, number]): Promise<{ image: (n: number) => Float32Array; labels: (n: number) => Uint32Array }> {
  const plane = crop[0] * crop[1];
  const images = await gpu.readF32(b.images);
  const words = (await gpu.read(b.labels)) as Uint32Array;
  const labels = b.layout === 'u32' ? words : Uint32Array.from(new Uint8Array(words.buffer, words.byteOffset, words.byteLength));
  return {
    image: (n) => images.subarray(n * 3 * plane, (n + 1) * 3 * plane),
    labels: (n) => labels.subarray(n * plane, (n + 1) * plane),
  };
}

// ---------------------------------------------------------------------------------------------
// The goldens

interface Entry {
  offset: number;
  dtype: 'f32' | 'u8' | 'u16';
  shape: number[];
}
interface GoldenCase {
  source: number;
  crop: number;
  scale: number;
  offset: [number, number];
  flip: boolean;
  calls: (string | number | number[])[][];
  original_error?: string;
  resized?: [number, number];
  arrays?: { image: Entry; labels: Entry };
}
interface Header {
  versions: Record<string, string>;
  source: { repository: string; commit: string; verified: boolean };
  scales: number[];
  mean_bgr: number[];
  bin_bytes: number;
  bin_sha256: string;
  sources: { size: [number, number]; arrays: { rgb: Entry; labels: Entry } }[];
  cases: GoldenCase[];
  nearest: { in: number; out: number; pil: Entry; cv2: Entry }[];
  linear: { in: number; out: number; x: Entry; y: Entry }[];
}

let cached: { header: Header; buf: ArrayBuffer } | undefined;
function golden(): { header: Header; array: (e: Entry) => Float32Array | Uint8Array | Uint16Array; source: (i: number) => Source } {
  if (!cached) {
    const dir = new URL('../fixtures/train/augment/', import.meta.url);
    const header = JSON.parse(readFileSync(new URL('augment.json', dir), 'utf8')) as Header;
    const bytes = readFileSync(new URL('augment.bin', dir));
    if (bytes.byteLength !== header.bin_bytes || createHash('sha256').update(bytes).digest('hex') !== header.bin_sha256) {
      throw new Error('augment.bin does not match augment.json: regenerate with weights/make_augment_goldens.py');
    }
    cached = { header, buf: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) };
  }
  const { header, buf } = cached;
  const array = (e: Entry) => {
    const n = e.shape.reduce((a, b) => a * b, 1);
    return e.dtype === 'f32' ? new Float32Array(buf, e.offset, n) : e.dtype === 'u16' ? new Uint16Array(buf, e.offset, n) : new Uint8Array(buf, e.offset, n);
  };
  const source = (i: number): Source => {
    const s = header.sources[i]!;
    const [h, w] = s.size;
    const rgb = array(s.arrays.rgb);
    const rgba = new Uint8Array(4 * h * w);
    for (let p = 0; p < h * w; p++) rgba.set([rgb[3 * p]!, rgb[3 * p + 1]!, rgb[3 * p + 2]!, 255], 4 * p);
    return { h, w, rgba, labels: Uint8Array.from(array(s.arrays.labels)) };
  };
  return { header, array, source };
}

const CAFFE: ImageNormalization = NORMALIZATIONS['caffe-bgr'];

describe('against deeplab-pytorch (weights/make_augment_goldens.py)', () => {
  it('the goldens come from the pinned commit, with its scales and mean', () => {
    const { header } = golden();
    expect(header.source).toMatchObject({ repository: 'kazuto1011/deeplab-pytorch', commit: '4219467fa5de07985f834f1bd8c04c186dc8f6d8', verified: true });
    expect(header.scales).toEqual(DEEPLAB_SCALES);
    expect(header.mean_bgr).toEqual(NORMALIZATIONS['caffe-bgr'].mean);
  });

  it('sizes and draws: int() truncation, pad-then-crop bounds, the draw order; a side truncated to 0 fails there and is 1 here', () => {
    const { header } = golden();
    for (const c of header.cases) {
      const [h, w] = header.sources[c.source]!.size;
      const p = placement([h, w], { crop: [c.crop, c.crop] }, c.scale, c.offset, c.flip);
      const what = `${h}×${w} s${c.scale} crop ${c.crop}`;
      // The original's calls: choice(scales), then (if it got that far) randint(0, H − crop),
      // randint(0, W − crop) and random() for the flip.
      expect(c.calls[0], what).toEqual(['choice', DEEPLAB_SCALES]);
      if (c.original_error) {
        expect(c.original_error, what).toMatch(/inv_scale_x > 0|inv_scale_y > 0/);
        expect(Math.min(Math.floor(h * c.scale), Math.floor(w * c.scale)), what).toBe(0);
        expect(p.resized.every((v) => v >= 1), what).toBe(true);
        continue;
      }
      expect(p.resized, what).toEqual(c.resized);
      expect(c.calls.slice(1), what).toEqual([['randint', 0, p.padded[0] - c.crop], ['randint', 0, p.padded[1] - c.crop], ['random']]);
    }
  });

  it('the float64 reference reproduces the original (labels exact, image within the bound)', () => {
    const { header, array, source } = golden();
    let worst = 0;
    for (const c of header.cases.filter((x) => x.arrays)) {
      const s = source(c.source);
      const p = placement([s.h, s.w], { crop: [c.crop, c.crop] }, c.scale, c.offset, c.flip);
      const ref = augmentRef(s.rgba, s.labels, s.h, s.w, p, CAFFE, 'pil');
      const what = `ref ${s.h}×${s.w} s${c.scale} crop ${c.crop} flip ${c.flip}`;
      expectWithin(what, ref.labels, array(c.arrays!.labels), 0, false);
      worst = Math.max(worst, expectWithin(what, ref.image, array(c.arrays!.image), ref.bound, false));
    }
    lines.push(`  ${'float64 reference vs original, every case: image'.padEnd(62)} max |err| ${worst.toExponential(2)}; labels exact`);
  });

  for (const layout of ['u8x4', 'u32'] as const) {
    it(`the GPU reproduces the original, one batch per source and crop, labels ${layout}`, async () => {
      const gpu = await testGpu();
      const { header, array, source } = golden();
      for (let si = 0; si < header.sources.length; si++) {
        const s = source(si);
        const t = uploadSource(gpu, s);
        for (const crop of [...new Set(header.cases.filter((c) => c.source === si).map((c) => c.crop))]) {
          const cases = header.cases.filter((c) => c.source === si && c.crop === crop && c.arrays);
          if (cases.length === 0) continue;
          const batch = augmentBatch(gpu, cases.length, [crop, crop], layout);
          for (const [n, c] of cases.entries()) {
            await augmentSample(gpu, t.pixels, t.labels, placement([s.h, s.w], { crop: [crop, crop] }, c.scale, c.offset, c.flip), batch, n, { normalization: 'caffe-bgr' });
          }
          const got = await readBatch(gpu, batch, [crop, crop]);
          let worst = 0;
          for (const [n, c] of cases.entries()) {
            const want = array(c.arrays!.image);
            const bound = Float64Array.from(want, (v, i) => imageBound(CAFFE, Math.floor(i / (crop * crop)), v));
            const what = `GPU ${s.h}×${s.w} s${c.scale} crop ${crop} off ${c.offset} flip ${c.flip}`;
            expectWithin(`${what} labels`, got.labels(n), array(c.arrays!.labels), 0, false);
            worst = Math.max(worst, expectWithin(`${what} image`, got.image(n), want, bound, false));
          }
          lines.push(`  ${`GPU vs original ${s.h}×${s.w} → crop ${crop}, ${cases.length} slots, ${layout}: image`.padEnd(62)} max |err| ${worst.toExponential(2)}; labels exact`);
          gpu.release(batch.images, batch.labels);
        }
        gpu.release(t.pixels, t.labels);
      }
    });
  }

  it("the label rules' indices are PIL's Image.resize(NEAREST) and cv2.resize(INTER_NEAREST) for in = 1..40 at every scale", () => {
    const { header, array } = golden();
    let ties = 0;
    for (const row of header.nearest) {
      expect(Array.from(nearestAxis('pil', row.in, row.out)), `pil ${row.in} → ${row.out}`).toEqual(Array.from(array(row.pil)));
      expect(Array.from(nearestAxis('cv2', row.in, row.out)), `cv2 ${row.in} → ${row.out}`).toEqual(Array.from(array(row.cv2)));
      // Where (o + 0.5)·in/out is an integer, PIL's stepped sum decides: count those rows.
      if (Array.from({ length: row.out }, (_, o) => ((2 * o + 1) * row.in) % (2 * row.out) === 0).some(Boolean)) ties++;
    }
    expect(ties).toBeGreaterThan(10);
    lines.push(`  ${`nearest indices: ${header.nearest.length} (in, out) pairs, ${ties} with exact ties`.padEnd(62)} PIL and cv2 exact`);
  });

  it("the resampler's 'cv2' taps are OpenCV's float32 INTER_LINEAR, bit for bit", () => {
    const { header, array } = golden();
    for (const row of header.linear) {
      const x = array(row.x) as Float32Array, want = array(row.y) as Float32Array;
      const ax = linearAxis('cv2', row.in, row.out);
      // OpenCV's horizontal pass in float32: S[i0]·w0 + S[i1]·w1 (the border's i1 = i0 with w1 = 0).
      const got = Float32Array.from({ length: row.out }, (_, o) => Math.fround(Math.fround(x[ax.i0[o]!]! * ax.w0[o]!) + Math.fround(x[ax.i1[o]!]! * ax.w1[o]!)));
      expect(Array.from(got), `${row.in} → ${row.out}`).toEqual(Array.from(want));
    }
    lines.push(`  ${`cv2 INTER_LINEAR float32 rows: ${header.linear.length} (in, out) pairs`.padEnd(62)} bit-exact`);
  });
});

// ---------------------------------------------------------------------------------------------
// Against the float64 reference

describe('against the float64 reference', () => {
  const sources: [number, number][] = [[1, 1], [7, 13], [37, 5]];
  const crops: [number, number][] = [[1, 1], [3, 2], [5, 17], [40, 3], [9, 9]];
  const combos: { norm: 'imagenet' | 'caffe-bgr'; rule: LabelResize; layout: LabelLayout }[] = [];
  for (const norm of ['imagenet', 'caffe-bgr'] as const) for (const rule of ['pil', 'cv2'] as const) for (const layout of ['u8x4', 'u32'] as const) combos.push({ norm, rule, layout });

  it('awkward sizes: every scale, flip off and on, crops smaller and larger than the scaled image, all option combinations', async () => {
    const gpu = await testGpu();
    let k = 0;
    for (const [h, w] of sources) {
      const s = randomSource(h, w, 31 * h + w);
      const t = uploadSource(gpu, s);
      for (const crop of crops) {
        const { norm, rule, layout } = combos[k++ % combos.length]!;
        const r = rng(k);
        const places: AugmentParams[] = [];
        for (const scale of DEEPLAB_SCALES) {
          for (const flip of [false, true]) {
            const [rh, rw] = scaledSize([h, w], scale);
            const my = Math.max(rh, crop[0]) - crop[0], mx = Math.max(rw, crop[1]) - crop[1];
            // The extremes and a draw between.
            const pick = (m: number, k: number) => [0, m, Math.floor(r() * (m + 1))][k % 3]!;
            places.push(placement([h, w], { crop }, scale, [pick(my, places.length), pick(mx, places.length + 1)], flip));
          }
        }
        const batch = augmentBatch(gpu, places.length, crop, layout);
        for (const [n, p] of places.entries()) await augmentSample(gpu, t.pixels, t.labels, p, batch, n, { normalization: norm, labelResize: rule });
        const got = await readBatch(gpu, batch, crop);
        let worst = 0;
        for (const [n, p] of places.entries()) {
          const ref = augmentRef(s.rgba, s.labels, h, w, p, NORMALIZATIONS[norm], rule);
          const what = `${h}×${w} s${p.scale} → ${p.resized} crop ${crop} off ${p.offset} flip ${p.flip} ${norm} ${rule} ${layout}`;
          expectWithin(`${what} labels`, got.labels(n), ref.labels, 0, false);
          worst = Math.max(worst, expectWithin(`${what} image`, got.image(n), ref.image, ref.bound, false));
        }
        lines.push(`  ${`GPU vs f64 ref ${h}×${w} → crop ${crop.join('×')}, 10 slots, ${norm} ${rule} ${layout}`.padEnd(62)} max |err| ${worst.toExponential(2)}; labels exact`);
        gpu.release(batch.images, batch.labels);
      }
      gpu.release(t.pixels, t.labels);
    }
    expect(k).toBeGreaterThanOrEqual(combos.length);
  });

  it("the sampler's draws (continuous scale range, base size) through the GPU", async () => {
    const gpu = await testGpu();
    const s = randomSource(37, 5, 77);
    const t = uploadSource(gpu, s);
    const opts = { crop: [9, 4] as [number, number], scale: { range: [0.5, 2] as [number, number] }, baseSize: 23 };
    const places = Array.from({ length: 24 }, (_, i) => sampleAugment(2024, 3, i, [37, 5], opts));
    expect(new Set(places.map((p) => p.resized.join('×'))).size).toBeGreaterThan(5);
    const batch = augmentBatch(gpu, places.length, opts.crop);
    for (const [n, p] of places.entries()) await augmentSample(gpu, t.pixels, t.labels, p, batch, n, { normalization: 'imagenet' });
    const got = await readBatch(gpu, batch, opts.crop);
    let worst = 0;
    for (const [n, p] of places.entries()) {
      const ref = augmentRef(s.rgba, s.labels, 37, 5, p, NORMALIZATIONS.imagenet, 'pil');
      expectWithin(`sampled ${n} labels`, got.labels(n), ref.labels, 0, false);
      worst = Math.max(worst, expectWithin(`sampled ${n} image`, got.image(n), ref.image, ref.bound, false));
    }
    lines.push(`  ${'GPU vs f64 ref, 24 sampler draws (range [0.5, 2], base 23)'.padEnd(62)} max |err| ${worst.toExponential(2)}; labels exact`);
    gpu.release(batch.images, batch.labels, t.pixels, t.labels);
  });
});

// ---------------------------------------------------------------------------------------------
// Batches, the loss, errors

describe('batches', () => {
  it('a sample writes its own slot only, also where packed label words straddle two slots', async () => {
    const gpu = await testGpu();
    const s = randomSource(7, 13, 5);
    const t = uploadSource(gpu, s);
    for (const layout of ['u8x4', 'u32'] as const) {
      // 3×3 crops: 9 labels a slot, so slot 1's bytes 9..17 share word 2 with slot 0 and word 4 with slot 2.
      const batch = augmentBatch(gpu, 3, [3, 3], layout);
      const sentinelImages = new Float32Array(3 * 27).fill(-7.5);
      const sentinelWords = new Uint32Array(batch.labels.size).fill(layout === 'u8x4' ? 0xabababab : 0xabab);
      gpu.write(batch.images, sentinelImages);
      gpu.write(batch.labels, sentinelWords);
      const p = placement([7, 13], { crop: [3, 3] }, 1.25, [2, 5], true);
      await augmentSample(gpu, t.pixels, t.labels, p, batch, 1, { normalization: 'caffe-bgr' });
      const got = await readBatch(gpu, batch, [3, 3]);
      const ref = augmentRef(s.rgba, s.labels, 7, 13, p, CAFFE);
      const other = layout === 'u8x4' ? 0xab : 0xabab;
      expect(Array.from(got.labels(0)), layout).toEqual(Array(9).fill(other));
      expect(Array.from(got.labels(2)), layout).toEqual(Array(9).fill(other));
      expect(Array.from(got.labels(1)), layout).toEqual(Array.from(ref.labels));
      expect(Array.from(got.image(0))).toEqual(Array(27).fill(-7.5));
      expect(Array.from(got.image(2))).toEqual(Array(27).fill(-7.5));
      expectWithin(`slot 1 of 3, ${layout}`, got.image(1), ref.image, ref.bound, false);
      if (layout === 'u8x4') {
        // 27 bytes in 7 words: the padding byte past the batch stays as it was.
        const words = (await gpu.read(batch.labels)) as Uint32Array;
        expect(words[6]! >>> 24).toBe(0xab);
      }
      gpu.release(batch.images, batch.labels);
    }
    gpu.release(t.pixels, t.labels);
  });

  it('the cross-entropy kernels read the batch labels (packed and u32) as written', async () => {
    const gpu = await testGpu();
    const s = randomSource(37, 5, 9, 4);
    const t = uploadSource(gpu, s);
    const crop: [number, number] = [9, 7];
    const places = [0, 1, 2].map((i) => sampleAugment(5, 0, i, [37, 5], { crop }));
    const r = rng(3);
    const logits = Float32Array.from({ length: 3 * 4 * 63 }, () => 4 * r() - 2);
    const tl = gpu.upload(logits, [3, 4, 9, 7]);
    for (const layout of ['u8x4', 'u32'] as const) {
      const batch = augmentBatch(gpu, 3, crop, layout);
      for (const [n, p] of places.entries()) await augmentSample(gpu, t.pixels, t.labels, p, batch, n, { normalization: 'imagenet' });
      const labels = new Uint32Array(3 * 63);
      places.forEach((p, n) => labels.set(augmentRef(s.rgba, s.labels, 37, 5, p, NORMALIZATIONS.imagenet).labels, n * 63));
      expect(labels.some((v) => v === 255)).toBe(true); // 37×5 is narrower than 7 at most scales: padding
      const { loss } = await softmaxCrossEntropy(gpu, tl, batch.labels, { labelLayout: batch.layout, grad: false });
      const ref = crossEntropyRef(logits, labels, [3, 4, 9, 7], undefined, 255);
      expectWithin(`loss on augmented labels (${layout})`, [(await gpu.readF32(loss))[0]!], [ref.loss], ref.lossBound);
      gpu.release(loss, batch.images, batch.labels);
    }
    gpu.release(tl, t.pixels, t.labels);
  });

  it('rejects bad arguments, naming what is wrong', async () => {
    const gpu = await testGpu();
    const s = randomSource(7, 13, 1);
    const t = uploadSource(gpu, s);
    const batch = augmentBatch(gpu, 2, [5, 5]);
    const p = placement([7, 13], { crop: [5, 5] }, 1, [1, 3], false);
    const run = (over: Partial<AugmentPlacement>, slot = 0, opts: object = {}) => augmentSample(gpu, t.pixels, t.labels, { ...p, ...over }, batch, slot, { normalization: 'caffe-bgr', ...opts });
    await expect(run({}, 2)).rejects.toThrow(/slot 2 is outside the batch of 2/);
    await expect(run({ offset: [3, 0] })).rejects.toThrow(/outside the padded 7×13/);
    await expect(run({ crop: [4, 5] })).rejects.toThrow(/must be f32 \[N, 3, 4, 5\]/);
    await expect(run({}, 0, { normalization: 'vgg' })).rejects.toThrow(/unknown normalization 'vgg'/);
    await expect(run({}, 0, { labelResize: 'bilinear' })).rejects.toThrow(/labelResize 'bilinear'/);
    await expect(run({}, 0, { ignoreIndex: 256 })).rejects.toThrow(/ignoreIndex 256/);
    await expect(augmentSample(gpu, t.pixels, t.pixels, p, batch, 0, { normalization: 'imagenet' })).rejects.toThrow(/must be u32 holding 23 words/);
    gpu.release(batch.images, batch.labels, t.pixels, t.labels);
  });
});

// ---------------------------------------------------------------------------------------------
// The sampler

describe('sampleAugment (deterministic parameters)', () => {
  const voc = { crop: [321, 321] as [number, number] };

  it('is a pure function of its inputs, pinned to these values on every machine', () => {
    const pinned = [
      [0, 0, 0, 1.5, [562, 750], [173, 229], true],
      [1, 0, 0, 1.25, [468, 625], [84, 256], true],
      [1, 1, 0, 1, [375, 500], [35, 69], false],
      [1, 0, 1, 1.5, [562, 750], [199, 30], false],
      [12345, 7, 42, 1.5, [562, 750], [148, 296], true],
    ] as const;
    for (const [seed, step, index, scale, resized, offset, flip] of pinned) {
      const p = sampleAugment(seed, step, index, [375, 500], voc);
      expect([p.scale, p.resized, p.offset, p.flip], `${seed} ${step} ${index}`).toEqual([scale, resized, offset, flip]);
      expect(sampleAugment(seed, step, index, [375, 500], voc)).toEqual(p);
    }
    expect(sampleAugment(3, 2, 1, [37, 5], { crop: [9, 4], scale: { range: [0.5, 2] } })).toEqual({
      scale: 1.4067226786864921, base: [37, 5], resized: [52, 7], padded: [52, 7], crop: [9, 4], offset: [29, 0], flip: true,
    });
  });

  it('draws every scale, both flips and every offset of its range, uniformly', () => {
    const counts = new Map<number, number>();
    let flips = 0;
    const rows = new Set<number>(), cols = new Set<number>();
    const n = 4000;
    for (let i = 0; i < n; i++) {
      const p = sampleAugment(9, Math.floor(i / 100), i % 100, [30, 40], { crop: [25, 25] });
      counts.set(p.scale, (counts.get(p.scale) ?? 0) + 1);
      if (p.flip) flips++;
      expect(p.offset[0]).toBeLessThanOrEqual(p.padded[0] - 25);
      expect(p.offset[1]).toBeLessThanOrEqual(p.padded[1] - 25);
      if (p.scale === 1.5) rows.add(p.offset[0]), cols.add(p.offset[1]);
    }
    expect([...counts.keys()].sort()).toEqual([...DEEPLAB_SCALES].sort());
    for (const c of counts.values()) expect(Math.abs(c / n - 0.2)).toBeLessThan(0.03);
    expect(Math.abs(flips / n - 0.5)).toBeLessThan(0.03);
    // 45×60 padded: rows 0..20, columns 0..35, both ends included.
    expect([Math.min(...rows), Math.max(...rows), rows.size]).toEqual([0, 20, 21]);
    expect([Math.min(...cols), Math.max(...cols), cols.size]).toEqual([0, 35, 36]);
    expect(sampleAugment(9, 0, 0, [30, 40], { crop: [25, 25], flip: false }).flip).toBe(false);
  });

  it('sizes as the original: int() truncation, base size, at least 1; the range option', () => {
    expect(scaledSize([375, 500], 0.75)).toEqual([281, 375]); // 281.25: truncated, not rounded
    expect(scaledSize([7, 13], 1.5)).toEqual([10, 19]);
    expect(scaledSize([1, 1], 0.5)).toEqual([1, 1]); // the original fails here (cv2.resize of size 0)
    expect(baseFit([375, 500], 513)).toEqual([384, 513]); // int(513·375/500) = int(384.75)
    expect(baseFit([500, 375], 513)).toEqual([513, 384]);
    for (let i = 0; i < 200; i++) {
      const p = sampleAugment(1, 2, i, [37, 5], { crop: [9, 4], scale: { range: [0.7, 1.3] } });
      expect(p.scale).toBeGreaterThanOrEqual(0.7);
      expect(p.scale).toBeLessThan(1.3);
      expect(p.resized).toEqual([Math.floor(37 * p.scale), Math.max(1, Math.floor(5 * p.scale))]);
    }
    expect(sampleAugment(1, 2, 3, [37, 5], { crop: [9, 4], scale: { choice: [2] } }).resized).toEqual([74, 10]);
  });

  it('rejects bad options', () => {
    expect(() => sampleAugment(-1, 0, 0, [5, 5], voc)).toThrow(AugmentError);
    expect(() => sampleAugment(0, 0.5, 0, [5, 5], voc)).toThrow(/step = 0.5/);
    expect(() => sampleAugment(0, 0, 0, [0, 5], voc)).toThrow(/source height = 0/);
    expect(() => sampleAugment(0, 0, 0, [5, 5], { crop: [0, 5] })).toThrow(/crop height = 0/);
    expect(() => sampleAugment(0, 0, 0, [5, 5], { ...voc, scale: { choice: [] } })).toThrow(/non-empty/);
    expect(() => sampleAugment(0, 0, 0, [5, 5], { ...voc, scale: { range: [2, 1] } })).toThrow(/is empty/);
    expect(() => sampleAugment(0, 0, 0, [5, 5], { ...voc, scale: { choice: [0] } })).toThrow(/scale 0/);
    expect(() => placement([5, 5], { crop: [3, 3] }, 1, [3, 0], false)).toThrow(/outside 0\.\.\[2, 2\]/);
  });
});

// ---------------------------------------------------------------------------------------------
// Speed

describe('speed', () => {
  it('one 500×375 image → 321×321 crop (packed labels), warm', async () => {
    const gpu = await testGpu();
    const s = randomSource(375, 500, 123);
    const t = uploadSource(gpu, s);
    const crop: [number, number] = [321, 321];
    const batch = augmentBatch(gpu, 1, crop);
    const places = Array.from({ length: 10 }, (_, i) => sampleAugment(77, 0, i, [375, 500], { crop }));
    // Warm every scale's tables and the pipelines.
    for (const scale of DEEPLAB_SCALES) await augmentSample(gpu, t.pixels, t.labels, placement([375, 500], { crop }, scale, [0, 0], false), batch, 0, { normalization: 'caffe-bgr' });
    await gpu.sync();
    const ms: number[] = [];
    for (const p of places) {
      const t0 = performance.now();
      await augmentSample(gpu, t.pixels, t.labels, p, batch, 0, { normalization: 'caffe-bgr' });
      await gpu.sync();
      ms.push(performance.now() - t0);
    }
    // The last sample against the reference, so the timing is of correct work.
    const got = await readBatch(gpu, batch, crop);
    const ref = augmentRef(s.rgba, s.labels, 375, 500, places.at(-1)!, CAFFE);
    expectWithin('500×375 → 321×321 (last timed sample) labels', got.labels(0), ref.labels, 0, false);
    expectWithin(`500×375 → 321×321 (last timed sample, s ${places.at(-1)!.scale}) image`, got.image(0), ref.image, ref.bound);
    const sorted = [...ms].sort((a, b) => a - b);
    lines.push(`  ${`time, 500×375 → 321×321 on ${gpu.adapterName}`.padEnd(62)} median ${sorted[sorted.length >> 1]!.toFixed(2)} ms over ${ms.length} warm samples (${ms.map((v) => v.toFixed(1)).join(', ')})`);
    gpu.release(batch.images, batch.labels, t.pixels, t.labels);
  });
});
