import { describe, expect, it } from 'vitest';
import { KernelError } from '../../src/gpu/errors.js';
import { bilateralFeatures, buildLattice, gaussianFeatures } from '../../src/wsss/crf-lattice.js';
import { crfUnaryKernel, negLogTableFor, unaryOfF16 } from '../../src/kernels/wsss/crf.js';
import { buildCrfLattice, crfImage, crfSeeds, denseCrf, wrapToUint8 } from '../../src/wsss/crf.js';
import { f16BitsToF32 } from '../../src/weights/dtype.js';
import {
  bilateralFeaturesRef,
  crfSeedsRef,
  denseCrfRef,
  exactGaussianFilterRef,
  fp16,
  gaussianFeaturesRef,
  latticeFilterRef,
  latticeRef,
  unaryRef,
} from '../helpers/crf-ref.js';
import { testGpu } from '../helpers/gpu.js';
import { expectClose, rng } from '../helpers/reference.js';

// ---------------------------------------------------------------------------------------------
// Inputs

interface Case {
  h: number;
  w: number;
  c: number;
  image: Uint8Array;
  /** Planar [C, H·W], float16 values. */
  probs: Float32Array;
}

/** Uniform random colours and probabilities: the adversarial case (no structure to agree on). */
function randomCase(h: number, w: number, c: number, seed: number): Case {
  const r = rng(seed);
  const image = new Uint8Array(h * w * 3).map(() => Math.floor(r() * 256));
  const probs = new Float32Array(c * h * w).map(() => fp16(r()));
  return { h, w, c, image, probs };
}

/** A photo-like scene: a disc and a band on a background, noisy colours, CAM-like probabilities
 *  (the right class high inside its region, with noise; others low). */
function structuredCase(h: number, w: number, c: number, seed: number): Case {
  const r = rng(seed);
  const image = new Uint8Array(h * w * 3);
  const probs = new Float32Array(c * h * w);
  const n = h * w;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      const region = (x - 0.4 * w) ** 2 + (y - 0.5 * h) ** 2 < (0.25 * Math.min(h, w)) ** 2 ? 1 : x > 0.75 * w ? 2 : 0;
      const base = [40, 180, 110][region]!;
      for (let k = 0; k < 3; k++) image[3 * p + k] = Math.min(255, Math.max(0, base + 20 * k + Math.floor((r() - 0.5) * 30)));
      for (let k = 0; k < c; k++) {
        const mean = k === region % c ? 0.7 : 0.15;
        probs[k * n + p] = fp16(Math.min(1, Math.max(0, mean + (r() - 0.5) * 0.5)));
      }
    }
  }
  return { h, w, c, image, probs };
}

/** Index of the largest and the gap to the second largest of channel values at pixel i. */
function topTwo(q: ArrayLike<number>, c: number, n: number, i: number): { best: number; gap: number } {
  let best = 0;
  for (let k = 1; k < c; k++) if (q[k * n + i]! > q[best * n + i]!) best = k;
  let second = -Infinity;
  for (let k = 0; k < c; k++) if (k !== best) second = Math.max(second, q[k * n + i]!);
  return { best, gap: q[best * n + i]! - second };
}

// ---------------------------------------------------------------------------------------------
// Host side: lattice and unary

describe('permutohedral lattice (host)', () => {
  it('matches the independent reference lattice (same vertices, same weights) for both kernels', () => {
    for (const [h, w, seed] of [
      [7, 5, 1],
      [23, 17, 2],
    ] as const) {
      const { image } = randomCase(h, w, 1, seed);
      const cases = [
        { mine: buildLattice(gaussianFeatures(h, w, 1), 2, h * w), ref: latticeRef(gaussianFeaturesRef(h, w, 1), 2) },
        { mine: buildLattice(bilateralFeatures(image, h, w, 67, 3), 5, h * w), ref: latticeRef(bilateralFeaturesRef(image, h, w, 67, 3), 5) },
        { mine: buildLattice(bilateralFeatures(image, h, w, 5, 13), 5, h * w), ref: latticeRef(bilateralFeaturesRef(image, h, w, 5, 13), 5) },
      ];
      for (const { mine, ref } of cases) {
        const d = mine.d;
        expect(mine.vertices).toBe(ref.keys.length);
        for (let p = 0; p < h * w; p++) {
          for (let r = 0; r <= d; r++) {
            const v = mine.offsets[p * (d + 1) + r]!;
            expect(Array.from(mine.keys.subarray(v * d, v * d + d)).join(','), `point ${p} vertex ${r}`).toBe(ref.keys[ref.vertices[p]![r]!]);
          }
          // Weights: float32 accumulation (here) vs float64 from the same float32 residuals.
          expectClose(mine.weights.subarray(p * (d + 1), (p + 1) * (d + 1)), ref.weights[p]!, { atol: 3e-7 }, `weights of point ${p}`);
        }
        // Blur neighbours: every stored neighbour is the vertex at key ∓ (1,…,1) ± (d+1)·e_j.
        const refIndex = new Map(ref.keys.map((k, i) => [k, i]));
        for (let j = 0; j <= d; j++) {
          for (let v = 0; v < mine.vertices; v++) {
            const key = Array.from(mine.keys.subarray(v * d, v * d + d));
            for (const [side, s] of [[0, 1], [1, -1]] as const) {
              const nb = mine.neighbours[(j * mine.vertices + v) * 2 + side]!;
              const want = key.map((k, i) => (i === j ? k + s * d : k - s)).join(',');
              if (nb !== (refIndex.get(want) ?? -1)) throw new Error(`vertex ${v} axis ${j}: neighbour ${nb}, want ${refIndex.get(want)}`);
            }
          }
        }
      }
    }
  });

  it("keeps densecrf's SSE padding: zero feature vectors fill the last group of 4, and their vertices exist", () => {
    // One pixel (x = y = 0) with colour (90, 30, 150): its 6 bilateral vertices plus the 6 of the
    // all-zero padding points; a black pixel there shares them.
    const lone = buildLattice(bilateralFeatures(Uint8Array.of(90, 30, 150), 1, 1, 67, 3), 5, 1);
    expect(lone.vertices).toBe(12);
    expect(latticeRef(bilateralFeaturesRef([90, 30, 150], 1, 1, 67, 3), 5).keys.length).toBe(12);
    expect(buildLattice(bilateralFeatures(Uint8Array.of(0, 0, 0), 1, 1, 67, 3), 5, 1).vertices).toBe(6);
    const hasOrigin = (lat: { vertices: number; keys: Int32Array }) =>
      Array.from({ length: lat.vertices }, (_, v) => lat.keys.subarray(v * 5, v * 5 + 5).every((k) => k === 0)).some(Boolean);
    expect(hasOrigin(lone)).toBe(true);
    // Bright pixels lie far from the origin: with 4 of them (no padding) no vertex is there, with 5
    // (three padding points) the origin's simplex is inserted.
    const bright = (n: number) => buildLattice(bilateralFeatures(new Uint8Array(3 * n).fill(200), 1, n, 67, 3), 5, n);
    expect(hasOrigin(bright(4))).toBe(false);
    expect(hasOrigin(bright(5))).toBe(true);
    expect(bright(5).vertices).toBe(latticeRef(bilateralFeaturesRef(new Uint8Array(15).fill(200), 1, 5, 67, 3), 5).keys.length);
  });

  it('represents every point exactly: weights ≥ 0 summing to 1, Σ weight · vertex = elevated point', () => {
    const { image } = randomCase(11, 9, 1, 3);
    for (const [features, d] of [
      [gaussianFeaturesRef(11, 9, 1), 2],
      [bilateralFeaturesRef(image, 11, 9, 67, 3), 5],
    ] as const) {
      const lat = latticeRef(features as number[][], d);
      lat.vertices.forEach((verts, p) => {
        const weights = lat.weights[p]!;
        expect(Math.min(...weights)).toBeGreaterThanOrEqual(-1e-6);
        expect(Math.abs(weights.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-9);
        const mix = new Array<number>(d + 1).fill(0);
        verts.forEach((v, r) => {
          const key = lat.keys[v]!.split(',').map(Number);
          const full = [...key, -key.reduce((a, b) => a + b, 0)];
          full.forEach((k, i) => (mix[i] += weights[r]! * k));
        });
        // The elevated coordinates are float32 values up to ~200: 1e-4 is a few float32 ulps.
        expectClose(mix, lat.elevated[p]!, { atol: 1e-4 }, `point ${p}`);
      });
    }
  });

  // The lattice approximates Σ_j exp(−½‖f_i − f_j‖²) v_j. Measured (lattice / exact) for the
  // normalisation Filter(1) on 23×17 images: Gaussian kernel (sxy 1) 0.759 … 0.919 whatever the
  // image; bilateral (sxy 67, srgb 3) 0.39 … 0.56 on flat colour regions, 0.28 … 0.68 with ±15
  // colour noise, 0.37 … 0.78 on random colours. Symmetric normalisation cancels most of that scale:
  // posteriors after 10 iterations (40×33, 4 labels) of structured scenes differ from an exact-
  // Gaussian CRF by 0.003 … 0.005 with identical labels (3 seeds); on uniform noise by up to 0.98 at
  // 2–3 % of the pixels (isolated colours are where the lattice is least Gaussian).
  it('stays within the known distance of the exact Gaussian filter it approximates', () => {
    const { image } = structuredCase(23, 17, 1, 4);
    const ones = Array.from({ length: 23 * 17 }, () => Float64Array.of(1));
    for (const [features, d, lo, hi] of [
      [gaussianFeaturesRef(23, 17, 1), 2, 0.74, 0.94],
      [bilateralFeaturesRef(image, 23, 17, 67, 3), 5, 0.2, 0.75],
    ] as const) {
      const f = features as number[][];
      const lattice = latticeFilterRef(latticeRef(f, d), ones, 1);
      const exact = exactGaussianFilterRef(f, ones, 1);
      const ratios = lattice.map((v, i) => v[0]! / exact[i]![0]!);
      expect(Math.min(...ratios), `d = ${d}`).toBeGreaterThan(lo);
      expect(Math.max(...ratios), `d = ${d}`).toBeLessThan(hi);
    }
    const c = structuredCase(40, 33, 4, 7);
    const args = { image: c.image, height: c.h, width: c.w, probs: c.probs, channels: c.c };
    const q = denseCrfRef(args);
    const qExact = denseCrfRef({ ...args, filter: 'exact' });
    expectClose(q, qExact, { atol: 0.01 }, 'lattice vs exact posteriors');
  });
});

describe('unary (pydensecrf unary_from_softmax on float16)', () => {
  it('matches the reference for every float16 probability in [0, 1], with the fp16(1e-5) clip', () => {
    for (let h = 0; h <= 0x3c00; h++) {
      const [want] = unaryRef([f16BitsToF32(h)]);
      if (unaryOfF16(h) !== want) throw new Error(`float16 ${h.toString(16)}: ${unaryOfF16(h)} vs ${want}`);
    }
    // −log(fp16(1e-5)) = 11.5115…, rounded to float16 (ulp 2^-7 there): the largest unary.
    expect(unaryOfF16(0)).toBe(11.5078125);
    expect(Math.abs(unaryOfF16(0x3c00))).toBe(0); // −log(1) = −0, as in numpy
  });

  it('GPU kernel: bit-exact, also for values outside [0, 1] and not float16', async () => {
    const gpu = await testGpu();
    const extra = [1.5, 65504, -0.25, -0, 2e-6, 0.3, 0.99999, 1.00001, 6.1e-5, 6.2e-5];
    const values = Float32Array.from([...Array.from({ length: 0x3c01 }, (_, h) => f16BitsToF32(h)), ...extra]);
    const channels = 3;
    const pixels = Math.ceil(values.length / channels);
    const probs = new Float32Array(channels * pixels).fill(0.5);
    probs.set(values);
    const tProbs = gpu.upload(probs, [channels, pixels]);
    const unary = gpu.empty([pixels, 1, 4]);
    const bad = gpu.upload(new Uint32Array(1), [1], 'u32');
    await gpu.run(crfUnaryKernel, { pixels, channels }, { probs: tProbs, neg_log: negLogTableFor(gpu), unary, bad });
    const got = await gpu.readF32(unary);
    const want = unaryRef(probs);
    for (let c = 0; c < channels; c++) {
      for (let i = 0; i < pixels; i++) {
        if (got[i * 4 + c] !== want[c * pixels + i]) throw new Error(`p = ${probs[c * pixels + i]}: GPU ${got[i * 4 + c]} vs ${want[c * pixels + i]}`);
      }
    }
    for (let i = 0; i < pixels; i++) expect(got[i * 4 + 3]).toBe(0); // padding lane
    expect((await gpu.read(bad))[0]).toBe(0);
    gpu.release(tProbs, unary, bad);
  });
});

// ---------------------------------------------------------------------------------------------
// GPU inference vs the float64 reference (same lattice)

// Tolerances. The GPU filters in float32 (splat sums of up to a few thousand terms, blur, slice),
// so a message carries ~1e-7 relative error; mean field then amplifies differences: each update
// feeds Σ_k w_k·(normalised kernel)·ΔQ (w = 3 + 4) through a softmax (gain ≤ ½). On smooth, confident
// inputs the posteriors saturate and the measured GPU−reference difference after 10 iterations is
// ~1.4e-7; on uniform noise (many pixels undecided) it grows ×1.8 per iteration, measured 1e-7 after
// one iteration to ≤ 9.4e-5 after ten (8 seeds, 40×33×4). Bounds: 7× / 5× the worst seen.
const TOL_STRUCTURED = { atol: 1e-6 };
const TOL_NOISE = { atol: 5e-4 };

async function checkAgainstReference(c: Case, tol: { atol: number }, extra: { iterations?: number; gaussian?: { sxy: number; compat: number }; bilateral?: { sxy: number; srgb: number; compat: number } } = {}) {
  const gpu = await testGpu();
  const probs = gpu.upload(c.probs, [c.c, c.h, c.w]);
  const { q } = await denseCrf(gpu, { image: c.image, height: c.h, width: c.w, probs, ...extra });
  expect(q.shape).toEqual([c.c, c.h, c.w]);
  const got = await gpu.readF32(q);
  const want = denseCrfRef({ image: c.image, height: c.h, width: c.w, probs: c.probs, channels: c.c, ...extra });
  const what = `${c.h}×${c.w}×${c.c}`;
  expectClose(got, want, tol, `${what} posteriors`);
  const n = c.h * c.w;
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let k = 0; k < c.c; k++) sum += got[k * n + i]!;
    expect(Math.abs(sum - 1), `${what}: Q sums to 1 at pixel ${i}`).toBeLessThan(1e-5);
    const ref = topTwo(want, c.c, n, i);
    if (ref.gap > 1e-4) expect(topTwo(got, c.c, n, i).best, `${what}: label at pixel ${i}`).toBe(ref.best);
  }
  gpu.release(probs, q);
}

describe('denseCrf on the GPU vs float64 pydensecrf reference', () => {
  it('7×5, 2 labels, noise', async () => checkAgainstReference(randomCase(7, 5, 2, 11), TOL_NOISE));
  it('23×17, 3 labels, noise', async () => checkAgainstReference(randomCase(23, 17, 3, 12), TOL_NOISE));
  it('40×33, 4 labels, structured scene', async () => checkAgainstReference(structuredCase(40, 33, 4, 13), TOL_STRUCTURED));
  it('40×33, 3 labels, noise', async () => checkAgainstReference(randomCase(40, 33, 3, 14), TOL_NOISE));
  it('19×13, 6 labels (two channel chunks, padded), structured scene', async () => checkAgainstReference(structuredCase(19, 13, 6, 15), TOL_STRUCTURED));
  it('1×1 and 1×9 images', async () => {
    await checkAgainstReference(randomCase(1, 1, 2, 16), TOL_STRUCTURED);
    await checkAgainstReference(randomCase(1, 9, 3, 17), TOL_NOISE);
  });
  it('other kernel parameters and iteration counts are honoured', async () => {
    const params = { gaussian: { sxy: 3, compat: 2 }, bilateral: { sxy: 20, srgb: 10, compat: 5 } };
    await checkAgainstReference(structuredCase(17, 23, 3, 18), TOL_STRUCTURED, { ...params, iterations: 4 });
    // No iterations: Q = softmax(−U), the float16 unary included.
    await checkAgainstReference(randomCase(9, 7, 5, 19), { atol: 1e-6 }, { iterations: 0 });
  });
  it('a lattice built once serves several probability maps; a mismatched one is refused', async () => {
    const gpu = await testGpu();
    const c = structuredCase(12, 10, 3, 20);
    const lattice = buildCrfLattice(c.image, c.h, c.w);
    const probs = gpu.upload(c.probs, [c.c, c.h, c.w]);
    const { q } = await denseCrf(gpu, { image: c.image, height: c.h, width: c.w, probs, lattice });
    expectClose(await gpu.readF32(q), denseCrfRef({ image: c.image, height: c.h, width: c.w, probs: c.probs, channels: c.c }), TOL_STRUCTURED);
    await expect(denseCrf(gpu, { image: c.image, height: c.h, width: c.w, probs, lattice, bilateral: { sxy: 50, srgb: 3, compat: 4 } })).rejects.toThrow(/lattice/);
    const other = c.image.slice();
    other[5] ^= 1;
    await expect(denseCrf(gpu, { image: other, height: c.h, width: c.w, probs, lattice })).rejects.toThrow(/'lattice'.*another image/);
    gpu.release(probs, q);
  });
});

// ---------------------------------------------------------------------------------------------
// Seeds and the CRF image

describe('crfSeeds', () => {
  it('applies the 0.95 rule as numpy does (float32 posterior < float64 0.95) and takes the first maximum', async () => {
    const gpu = await testGpu();
    const f95 = Math.fround(0.95); // 0.949999988…: below 0.95, so → 255
    const above = new Float32Array([f95]);
    new Uint32Array(above.buffer)[0]! += 1; // the next float32: ≥ 0.95 → kept
    const pixels: number[][] = [
      [f95, 0.05, 0], // exactly fp32(0.95) → ignore
      [0, above[0]!, 0], // just above → keys[0] + 1
      [0, 0, 0.99], // → keys[1] + 1
      [0.97, 0.97, 0], // tie bg/class → bg (first)
      [0, 0.96, 0.96], // tie between classes → the earlier
      [0.2, 0.3, 0.5], // unsure → ignore
      [1, 0, 0], // background
    ];
    const n = pixels.length;
    const q = new Float32Array(3 * n);
    pixels.forEach((v, i) => v.forEach((x, c) => (q[c * n + i] = x)));
    const t = gpu.upload(q, [3, 1, n]);
    const keys = [14, 0];
    const seeds = await crfSeeds(gpu, t, keys, { confidence: 0.95 });
    expect(Array.from(seeds)).toEqual([255, 15, 1, 0, 15, 255, 0]);
    expect(Array.from(seeds)).toEqual(Array.from(crfSeedsRef(q, 3, keys, 0.95)));
    gpu.release(t);
  });

  it('matches the reference on random posteriors (sizes not a multiple of 4 bytes)', async () => {
    const gpu = await testGpu();
    for (const [c, h, w, conf] of [
      [2, 1, 1, 0.95],
      [4, 7, 5, 0.6],
      [21, 13, 11, 0.1],
    ] as const) {
      const r = rng(c * 100 + h);
      const n = h * w;
      const q = new Float32Array(c * n);
      for (let i = 0; i < n; i++) {
        let sum = 0;
        const raw = Array.from({ length: c }, () => r() ** 4);
        raw.forEach((x) => (sum += x));
        raw.forEach((x, k) => (q[k * n + i] = x / sum));
      }
      const keys = Array.from({ length: c - 1 }, (_, k) => (k * 7) % 20);
      const t = gpu.upload(q, [c, h, w]);
      const seeds = await crfSeeds(gpu, t, keys, { confidence: conf });
      expect(Array.from(seeds), `${c}×${h}×${w}`).toEqual(Array.from(crfSeedsRef(q, c, keys, conf)));
      gpu.release(t);
    }
  });

  it('rejects bad arguments', async () => {
    const gpu = await testGpu();
    const t = gpu.upload(new Float32Array(3 * 4), [3, 2, 2]);
    await expect(crfSeeds(gpu, t, [1])).rejects.toThrow(/keys.*1 keys given for 2 foreground channels/);
    await expect(crfSeeds(gpu, t, [1, 254])).rejects.toThrow(/keys\[1\] = 254/);
    await expect(crfSeeds(gpu, t, [1, 2], { confidence: Number.NaN })).rejects.toThrow(/confidence/);
    await expect(crfSeeds(gpu, t.view([12]), [])).rejects.toThrow(/\[C, H, W\]/);
    gpu.release(t);
  });
});

describe('crfImage', () => {
  it('emulates the x86 float → uint8 wrap of CLIP-ES (BGR − mean_bgr)', () => {
    expect(wrapToUint8(-4.008)).toBe(252);
    expect(wrapToUint8(-104.008)).toBe(152);
    expect(wrapToUint8(-0.5)).toBe(0);
    expect(wrapToUint8(95.992)).toBe(95);
    // RGB (0, 116, 100) → BGR (100, 116, 0) − (104.008, 116.669, 122.675) = (−4.008, −0.669, −122.675)
    // → (252, 0, 134); RGB (255, 255, 200) → (95.992, 138.331, 132.325) → (95, 138, 132).
    const rgb = Uint8Array.from([0, 116, 100, 255, 255, 200]);
    expect(Array.from(crfImage(rgb, 'clip-es'))).toEqual([252, 0, 134, 95, 138, 132]);
    expect(Array.from(crfImage(rgb, 'rgb'))).toEqual(Array.from(rgb));
    expect(() => crfImage(Uint8Array.from([1, 2]), 'rgb')).toThrow(/whole number of RGB pixels/);
    expect(() => crfImage(rgb, 'bgr' as 'rgb')).toThrow(/unknown mode 'bgr'/);
  });
});

describe('denseCrf input checks', () => {
  it('rejects mismatched sizes, no labels, bad parameters and non-finite probabilities', async () => {
    const gpu = await testGpu();
    const image = new Uint8Array(4 * 3 * 3);
    const probs = gpu.upload(new Float32Array(2 * 12).fill(0.5), [2, 4, 3]);
    const run = (o: Partial<Parameters<typeof denseCrf>[1]>) => denseCrf(gpu, { image, height: 4, width: 3, probs, ...o });
    await expect(run({ image: new Uint8Array(35) })).rejects.toThrow(/'image'.*35 bytes do not match \[4, 3, 3\]/);
    await expect(run({ width: 4 })).rejects.toThrow(/'image'/);
    const wrongShape = gpu.upload(new Float32Array(24), [2, 3, 4]);
    await expect(run({ probs: wrongShape })).rejects.toThrow(/'probs'.*must be \[C, 4, 3\]/);
    const none = gpu.empty([0, 4, 3]);
    await expect(run({ probs: none })).rejects.toThrow(/C = 0/);
    await expect(run({ iterations: -1 })).rejects.toThrow(/iterations = -1/);
    await expect(run({ iterations: 1.5 })).rejects.toThrow(/iterations = 1.5/);
    await expect(run({ gaussian: { sxy: 0, compat: 3 } })).rejects.toThrow(/gaussian.sxy = 0/);
    await expect(run({ bilateral: { sxy: 67, srgb: Number.NaN, compat: 4 } })).rejects.toThrow(/bilateral.srgb = NaN/);
    await expect(run({ height: 0 })).rejects.toThrow(/height = 0/);
    for (const [bad, at] of [
      [Number.NaN, 7],
      [Number.POSITIVE_INFINITY, 12 + 5],
    ] as const) {
      const values = new Float32Array(2 * 12).fill(0.5);
      values[at] = bad;
      const t = gpu.upload(values, [2, 4, 3]);
      const c = Math.floor(at / 12), y = Math.floor((at % 12) / 3), x = at % 3;
      await expect(run({ probs: t })).rejects.toThrow(new RegExp(`non-finite values \\(e.g. channel ${c}, row ${y}, column ${x}\\)`));
      gpu.release(t);
    }
    await expect(run({ probs: undefined as unknown as typeof probs })).rejects.toThrow(KernelError);
    gpu.release(probs, wrongShape, none);
  });
});
