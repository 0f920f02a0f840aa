// CAA (docs/algorithms.md §3.5) on the GPU against float64 references, Appendix B's vectors, and the
// numpy/OpenCV golden fixture test/fixtures/caa/caa.json (made by weights/clip_es_caa.py: real
// cv2.findContours boxes, CLIP-ES's float32 CAA with S² formed, cv2.resize, float16 storage).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { roundToF16 } from '../../src/models/clip/common.js';
import { linearAxis, resizeLinear, type LinearMode } from '../../src/kernels/bilinear.js';
import { minMaxRows, propagateSymmetric, sinkhornAffinity } from '../../src/kernels/wsss/caa.js';
import { boxMask, caaHighres, caaRefine, scoremapBoxes } from '../../src/wsss/caa.js';
import { testGpu } from '../helpers/gpu.js';
import { expectClose, randomArray } from '../helpers/reference.js';

// ---------------------------------------------------------------------------------------------
// float64 references

function sinkhornRef(w: ArrayLike<number>, n: number, rounds = 3, eps = 0): Float64Array {
  const t = Float64Array.from(w);
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < n; j++) {
      let s = eps;
      for (let i = 0; i < n; i++) s += t[i * n + j]!;
      for (let i = 0; i < n; i++) t[i * n + j]! /= s;
    }
    for (let i = 0; i < n; i++) {
      let s = eps;
      for (let j = 0; j < n; j++) s += t[i * n + j]!;
      for (let j = 0; j < n; j++) t[i * n + j]! /= s;
    }
  }
  return t;
}

function propagateRef(t: ArrayLike<number>, n: number, v: ArrayLike<number>, k: number): Float64Array {
  const u = new Float64Array(k * n);
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += ((t[i * n + j]! + t[j * n + i]!) / 2) * v[c * n + j]!;
      u[c * n + i] = s;
    }
  }
  return u;
}

function minMaxRef(x: ArrayLike<number>, rows: number, len: number, eps = 1e-7): Float64Array {
  const y = new Float64Array(rows * len);
  for (let r = 0; r < rows; r++) {
    let lo = Infinity;
    for (let j = 0; j < len; j++) lo = Math.min(lo, x[r * len + j]!);
    let hi = 0;
    for (let j = 0; j < len; j++) hi = Math.max(hi, x[r * len + j]! - lo);
    for (let j = 0; j < len; j++) y[r * len + j] = (x[r * len + j]! - lo) / (eps + hi);
  }
  return y;
}

/** The resample kernel's float32 arithmetic, emulated with Math.fround on linearAxis's tables. */
function resizeRef(x: ArrayLike<number>, planes: number, h: number, w: number, oh: number, ow: number, mode: LinearMode, f16: boolean, full?: [number, number]): Float64Array {
  const f = Math.fround;
  const ay = linearAxis(mode, h, full?.[0] ?? oh, oh), ax = linearAxis(mode, w, full?.[1] ?? ow, ow);
  const y = new Float64Array(planes * oh * ow);
  for (let c = 0; c < planes; c++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const at = (yy: number, xx: number) => f(x[c * h * w + yy * w + xx]!);
        const row = (yy: number) => f(f(at(yy, ax.i0[ox]!) * ax.w0[ox]!) + f(at(yy, ax.i1[ox]!) * ax.w1[ox]!));
        let v = f(f(row(ay.i0[oy]!) * ay.w0[oy]!) + f(row(ay.i1[oy]!) * ay.w1[oy]!));
        if (f16) v = roundToF16(v);
        y[(c * oh + oy) * ow + ox] = v;
      }
    }
  }
  return y;
}

/** A positive, attention-like matrix: rows of a softmax, as the mean attention roughly is. */
function attentionLike(n: number, seed: number): Float32Array {
  const raw = randomArray(n * n, seed, -2, 2);
  const w = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.exp(raw[i * n + j]!);
    for (let j = 0; j < n; j++) w[i * n + j] = Math.exp(raw[i * n + j]!) / s;
  }
  return w;
}

// ---------------------------------------------------------------------------------------------
// Appendix B

const APPENDIX_W = [0.5, 0.2, 0.1, 0.1, 0.1, 0.6, 0.1, 0.1, 0.05, 0.05, 0.7, 0.1, 0.2, 0.1, 0.1, 0.5];
const APPENDIX_T = [0.583103, 0.200937, 0.090952, 0.125008, 0.124675, 0.644448, 0.097234, 0.133642, 0.067007, 0.057726, 0.731615, 0.143652, 0.222197, 0.095712, 0.086645, 0.595446];

describe('Appendix B CAA vectors', () => {
  it('float64 reference reproduces T, refined and the min-max exactly (6 decimals)', () => {
    const t = sinkhornRef(APPENDIX_W, 4);
    expectClose(t, APPENDIX_T, { atol: 5e-7 }, 'T');
    const v = [1.0, 0.6, 0.0, 0.2].map((c, j) => c * [1, 1, 0, 1][j]!);
    const refined = propagateRef(t, 4, propagateRef(t, 4, v, 1), 1);
    expectClose(refined, [0.584892, 0.53834, 0.251129, 0.422208], { atol: 5e-7 }, 'refined');
    expectClose(minMaxRef(refined, 1, 4), [0.9999997, 0.860523, 0, 0.512576], { atol: 5e-7 }, 'min-max');
  });

  it('GPU Sinkhorn, symmetric propagation and min-max are within 1e-6 of them', async () => {
    const gpu = await testGpu();
    const w = gpu.upload(APPENDIX_W, [4, 4]);
    const t = await sinkhornAffinity(gpu, w);
    // 1e-6: the appendix's 6 printed decimals (±5e-7) plus float32 rounding (~1e-7).
    expectClose(await gpu.readF32(t), APPENDIX_T, { atol: 1e-6 }, 'T');
    const v = gpu.upload([1.0, 0.6, 0.0, 0.2], [1, 4]);
    const once = await propagateSymmetric(gpu, t, v);
    const twice = await propagateSymmetric(gpu, t, once);
    expectClose(await gpu.readF32(twice), [0.584892, 0.53834, 0.251129, 0.422208], { atol: 1e-6 }, 'refined');
    const scaled = await minMaxRows(gpu, twice);
    const got = await gpu.readF32(scaled);
    expectClose(got, [0.9999997, 0.860523, 0, 0.512576], { atol: 1e-6 }, 'min-max');
    expect(got[0]).toBeLessThan(1); // the epsilon keeps the maximum below 1
    // W itself is untouched unless inPlace.
    expectClose(await gpu.readF32(w), Float32Array.from(APPENDIX_W), { atol: 0 }, 'W after sinkhorn');
    gpu.release(w, t, v, once, twice, scaled);
  });

  it('box masks of the 4×5 vector: two boxes at λ 0.4 (one clipped away), one cell at λ 0.7', () => {
    const cam = Float32Array.from([0, 0.1, 0, 0, 0, 0, 0.9999999, 0.5, 0, 0, 0.3, 0, 0.41, 0, 0.6, 0, 0, 0, 0, 0.45]);
    expect(scoremapBoxes(cam, 4, 5, 0.4)).toEqual([
      { x0: 1, y0: 1, x1: 3, y1: 3 },
      { x0: 4, y0: 2, x1: 4, y1: 3 },
    ]);
    const m04 = new Uint8Array(20);
    for (const i of [6, 7, 11, 12]) m04[i] = 1;
    expect(Array.from(boxMask(cam, 4, 5, 0.4))).toEqual(Array.from(m04));
    const m07 = new Uint8Array(20);
    m07[6] = 1;
    expect(Array.from(boxMask(cam, 4, 5, 0.7))).toEqual(Array.from(m07));
    // Without the clipping quirk the right-edge component keeps its column and the box its last row.
    expect(scoremapBoxes(cam, 4, 5, 0.4, 'corrected')).toEqual([
      { x0: 1, y0: 1, x1: 3, y1: 3 },
      { x0: 4, y0: 2, x1: 5, y1: 4 },
    ]);
    const corrected = boxMask(cam, 4, 5, 0.4, 'corrected');
    for (const i of [6, 7, 11, 12, 14, 19]) expect(corrected[i], `cell ${i}`).toBe(1);
    expect(corrected.reduce((a, b) => a + b, 0)).toBe(6);
  });
});

// ---------------------------------------------------------------------------------------------
// Kernels against float64 at awkward sizes

describe('Sinkhorn, propagation and min-max kernels vs float64', () => {
  it('sinkhornAffinity at n = 1, 7, 197, 333 (3 rounds; 1 and 2 rounds; epsilon; in place)', async () => {
    const gpu = await testGpu();
    for (const n of [1, 7, 197, 333]) {
      const w = attentionLike(n, n);
      const wt = gpu.upload(w, [n, n]);
      for (const [rounds, eps] of [[3, 0], [1, 0], [2, 1e-3]] as const) {
        const t = await sinkhornAffinity(gpu, wt, { rounds, epsilon: eps });
        // Each of the 2·rounds sums is a chain of n/4 f32 additions (4 interleaved accumulators),
        // relative error ≲ (n/4)·2^-24 ≈ 5e-6 at n = 333 in the worst case; measured ~1e-6.
        expectClose(await gpu.readF32(t), sinkhornRef(w, n, rounds, eps), { rtol: 1e-5, atol: 1e-9 }, `T n=${n} rounds=${rounds} eps=${eps}`);
        gpu.release(t);
      }
      const same = await sinkhornAffinity(gpu, wt, { inPlace: true });
      expect(same).toBe(wt);
      expectClose(await gpu.readF32(wt), sinkhornRef(w, n), { rtol: 1e-5, atol: 1e-9 }, `in place n=${n}`);
      gpu.release(wt);
    }
  });

  it('propagateSymmetric at n = 1, 7, 197, 333 with K = 1, 3, 4, 5, 9 right-hand sides', async () => {
    const gpu = await testGpu();
    for (const n of [1, 7, 197, 333]) {
      const t = randomArray(n * n, 3 * n, 0, 2 / n);
      const tt = gpu.upload(t, [n, n]);
      for (const k of [1, 3, 4, 5, 9]) {
        if (n > 7 && k === 9) continue;
        const v = randomArray(k * n, k + n, -1, 1);
        const vt = gpu.upload(v, [k, n]);
        const u = await propagateSymmetric(gpu, tt, vt);
        expect(u.shape).toEqual([k, n]);
        // Sums of n products in f32: error ≲ n·2^-24·Σ|terms|; Σ|terms| ≤ 2 here, so 2e-5 covers n = 333.
        expectClose(await gpu.readF32(u), propagateRef(t, n, v, k), { rtol: 1e-5, atol: 2e-6 }, `U n=${n} k=${k}`);
        gpu.release(vt, u);
      }
      gpu.release(tt);
    }
  });

  it('minMaxRows at lengths 1, 7, 197, 4097, including constant and all-zero rows', async () => {
    const gpu = await testGpu();
    for (const len of [1, 7, 197, 4097]) {
      const rows = 4;
      const x = randomArray(rows * len, len, -3, 5);
      x.fill(0.25, len, 2 * len); // constant row → all zeros
      x.fill(0, 2 * len, 3 * len); // all-zero row
      const xt = gpu.upload(x, [rows, len]);
      const y = await minMaxRows(gpu, xt);
      // One f32 subtraction and one division: ≤ 2 ulp of values in [0, 1].
      expectClose(await gpu.readF32(y), minMaxRef(x, rows, len), { rtol: 3e-7, atol: 3e-7 }, `len=${len}`);
      gpu.release(xt, y);
    }
  });

  it('§8 items 7–8: an all-zero CAM and a CAM whose only box is clipped away refine to zeros', async () => {
    const gpu = await testGpu();
    const [gh, gw] = [3, 4];
    const w = gpu.upload(attentionLike(12, 4), [12, 12]);
    const edge = new Float32Array(12);
    edge[1 * gw + 3] = 0.9999999; // a single hot cell in the last column
    const live = new Float32Array(12);
    live[5] = 0.9999999;
    live[6] = 0.5;
    const cams = Float32Array.from([...new Float32Array(12), ...edge, ...live]);
    for (const mode of ['clip-es', 'corrected'] as const) {
      const { refined, masks } = await caaRefine(gpu, { affinity: w, cams, grid: [gh, gw], boxes: mode });
      const got = await gpu.readF32(refined);
      expect(masks[0]!.every((m) => m === 0)).toBe(true);
      expect(got.subarray(0, 12).every((v) => v === 0), `${mode}: zero CAM`).toBe(true);
      // CLIP-ES clips the box (3, 1, 4, 2) to x1 = 3 = x0: nothing left; 'corrected' keeps the cell.
      expect(masks[1]!.reduce((a, b) => a + b, 0)).toBe(mode === 'clip-es' ? 0 : 1);
      expect(got.subarray(12, 24).every((v) => v === 0), `${mode}: clipped edge CAM`).toBe(mode === 'clip-es');
      expect(Math.max(...got.subarray(24))).toBeGreaterThan(0.99);
      gpu.release(refined);
    }
    gpu.release(w);
  });

  it('rejects bad arguments with errors naming the op and the culprit', async () => {
    const gpu = await testGpu();
    const rect = gpu.upload(new Float32Array(6), [2, 3]);
    await expect(sinkhornAffinity(gpu, rect)).rejects.toThrow(/sinkhorn.*W .*square/);
    const sq = gpu.upload(new Float32Array(4).fill(1), [2, 2]);
    await expect(sinkhornAffinity(gpu, sq, { rounds: 0 })).rejects.toThrow(/rounds must be a positive integer/);
    await expect(sinkhornAffinity(gpu, sq, { epsilon: -1 })).rejects.toThrow(/epsilon/);
    await expect(propagateSymmetric(gpu, sq, rect)).rejects.toThrow(/propagate.*V .*\[K, 2\]/);
    await expect(caaRefine(gpu, { affinity: sq, transition: sq, cams: new Float32Array(4), grid: [2, 2] })).rejects.toThrow(/exactly one of affinity/);
    await expect(caaRefine(gpu, { affinity: sq, cams: new Float32Array(4), grid: [3, 3] })).rejects.toThrow(/affinity .*\[9, 9\]/);
    await expect(caaRefine(gpu, { affinity: sq, cams: Float32Array.from([0, 0.5, 1.5, 0]), grid: [1, 2] })).rejects.toThrow(/class 1: .*1\.5 at index 0 .*outside \[0, 1\]/);
    await expect(caaRefine(gpu, { affinity: sq, cams: new Float32Array(5), grid: [1, 2] })).rejects.toThrow(/5 values, not a multiple of n = 1·2 = 2/);
    expect(() => boxMask(new Float32Array(5), 2, 2, 0.4)).toThrow(/5 values; the grid 2×2 needs 4/);
    expect(() => boxMask(new Float32Array(4), 2, 2, 1.5)).toThrow(/threshold/);
    expect(() => boxMask(new Float32Array(4), 2, 2, 0.4, 'fixed' as never)).toThrow(/unknown box mode 'fixed'/);
    gpu.release(rect, sq);
  });
});

// ---------------------------------------------------------------------------------------------
// Bilinear resampling

describe('table-driven bilinear resampling vs the float32-emulating reference', () => {
  const cases: Array<[planes: number, h: number, w: number, oh: number, ow: number]> = [
    [1, 1, 1, 7, 9],
    [2, 1, 7, 3, 197],
    [1, 7, 1, 4097, 2],
    [3, 3, 4, 45, 61],
    [1, 24, 32, 375, 500],
    [2, 9, 9, 4, 5], // shrinking too
  ];
  for (const mode of ['cv2', 'torch', 'torch-align-corners'] as const) {
    it(`${mode}, f32 and float16-rounded outputs`, async () => {
      const gpu = await testGpu();
      for (const [planes, h, w, oh, ow] of cases) {
        const x = randomArray(planes * h * w, h * w + oh, 0, 1);
        const xt = gpu.upload(x, [planes, h, w]);
        for (const f16 of [false, true]) {
          const y = await resizeLinear(gpu, xt, [oh, ow], { mode, roundF16: f16 });
          expect(y.shape).toEqual([planes, oh, ow]);
          const want = resizeRef(x, planes, h, w, oh, ow, mode, f16);
          // Same float32 operations in the same order: exact, or 1 ulp where a driver contracts
          // a·b + c into a fused multiply-add (≤ 1.2e-7 in [0, 1]); after float16 rounding that ulp
          // can only matter at a rounding tie, so the same bound is 1 float16 ulp (≤ 4.9e-4) there.
          expectClose(await gpu.readF32(y), want, { atol: f16 ? 4.9e-4 : 1.2e-7 }, `${mode} ${planes}×${h}×${w} → ${oh}×${ow} f16=${f16}`);
          gpu.release(y);
        }
        gpu.release(xt);
      }
    });
  }

  it('crops a larger virtual output (fullSize), as the random walk does after padding', async () => {
    const gpu = await testGpu();
    const x = randomArray(2 * 5 * 6, 11, 0, 1);
    const xt = gpu.upload(x, [2, 5, 6]);
    const y = await resizeLinear(gpu, xt, [37, 45], { mode: 'torch', fullSize: [40, 48] });
    expectClose(await gpu.readF32(y), resizeRef(x, 2, 5, 6, 37, 45, 'torch', false, [40, 48]), { atol: 1.2e-7 }, 'cropped');
    await expect(resizeLinear(gpu, xt, [41, 45], { mode: 'torch', fullSize: [40, 48] })).rejects.toThrow(/larger than the full size/);
    await expect(resizeLinear(gpu, xt, [4, 4], { mode: 'nearest' as never })).rejects.toThrow(/unknown mode 'nearest'/);
    gpu.release(xt, y);
  });

  it('linearAxis: cv2 clamps both ends, torch align_corners hits the corners exactly', () => {
    const cv = linearAxis('cv2', 3, 12);
    // (o + 0.5)·0.25 − 0.5 < 0 for o = 0, 1 → clamped to (0, 0); ≥ 2 = in − 1 for o = 10, 11 → (2, 0).
    expect([cv.i0[0], cv.w1[0], cv.i0[1], cv.w1[1]]).toEqual([0, 0, 0, 0]);
    expect([cv.i0[11], cv.i1[11], cv.w0[11], cv.w1[11]]).toEqual([2, 2, 1, 0]);
    expect([cv.i0[2], cv.w1[2]]).toEqual([0, 0.125]);
    const ac = linearAxis('torch-align-corners', 4, 7);
    expect([ac.i0[0], ac.w1[0], ac.i0[6], ac.w1[6]]).toEqual([3 * 0, 0, 3, 0]);
    expect([ac.i0[1], ac.w1[1]]).toEqual([0, 0.5]);
  });
});

// ---------------------------------------------------------------------------------------------
// Against the numpy/OpenCV golden fixture

interface Fixture {
  boxes: Array<{ gh: number; gw: number; cam: string; 'mask_0.4': string; 'mask_0.7': string; 'boxes_0.4': number[][]; 'boxes_0.7': number[][] }>;
  caa: Array<{
    gh: number;
    gw: number;
    k: number;
    size: [number, number];
    threshold: number;
    keys: number[];
    w: string;
    cams: string;
    masks: string;
    refined: string;
    highres_f16: string;
  }>;
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/caa/caa.json', import.meta.url), 'utf8')) as Fixture;

function f32From(b64: string): Float32Array {
  const buf = Buffer.from(b64, 'base64');
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** float16 bits (little-endian, base64) → their values. */
function f16From(b64: string): Float64Array {
  const buf = Buffer.from(b64, 'base64');
  const bits = new Uint16Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  return Float64Array.from(bits, (h) => {
    const e = (h >> 10) & 0x1f, m = h & 0x3ff, s = h & 0x8000 ? -1 : 1;
    if (e === 0) return s * m * 2 ** -24;
    if (e === 31) return m ? NaN : s * Infinity;
    return s * (1 + m / 1024) * 2 ** (e - 15);
  });
}

const bits = (s: string) => Array.from(s, Number);

describe('golden fixture (numpy + OpenCV 4.6)', () => {
  it('box masks equal real cv2.findContours + boundingRect on random and special grids, both λ', () => {
    expect(fixture.boxes.length).toBeGreaterThan(10);
    for (const [i, b] of fixture.boxes.entries()) {
      const cam = f32From(b.cam);
      for (const thr of [0.4, 0.7] as const) {
        expect(Array.from(boxMask(cam, b.gh, b.gw, thr)), `map ${i} (${b.gh}×${b.gw}) λ=${thr}`).toEqual(bits(b[`mask_${thr}`]));
        const sort = (xs: number[][]) => xs.map((x) => x.join(',')).sort();
        const got = scoremapBoxes(cam, b.gh, b.gw, thr).map((x) => [x.x0, x.y0, x.x1, x.y1]);
        // cv2 also lists hole borders; their boxes lie inside their component's box.
        const cv = b[`boxes_${thr}`];
        for (const box of got) expect(sort(cv), `map ${i} λ=${thr}`).toContain(box.join(','));
        for (const [x0, y0, x1, y1] of cv) {
          expect(got.some((g) => g[0]! <= x0! && g[1]! <= y0! && g[2]! >= x1! && g[3]! >= y1!), `map ${i} λ=${thr}: cv2 box ${[x0, y0, x1, y1]} is inside a component box`).toBe(true);
        }
      }
    }
  });

  it('caaRefine matches CLIP-ES float32 CAA (S² formed) within 1e-6, from W and from a reused T', async () => {
    const gpu = await testGpu();
    for (const c of fixture.caa) {
      const n = c.gh * c.gw;
      const w = gpu.upload(f32From(c.w), [n, n]);
      const camsHost = f32From(c.cams);
      const cams = gpu.upload(camsHost, [c.k, n]);
      const want = f32From(c.refined);
      // The GPU's own box masks (read back) against cv2's.
      const a = await caaRefine(gpu, { affinity: w, cams, grid: [c.gh, c.gw], threshold: c.threshold, readMasks: true });
      expect(a.masks.flatMap((m) => Array.from(m)), `masks ${c.gh}×${c.gw}`).toEqual(bits(c.masks));
      // The reference forms S² and sums in another order: both are float32 chains of ~2n terms, so
      // the raw refined values agree to a few 1e-7 relative; the min-max divides by max − min,
      // which amplifies that by max/(max − min) (≤ 1.6 here: the fixture's attention is local, as
      // real attention is; the numpy float32 reference itself is within 4e-7 of float64).
      expectClose(await gpu.readF32(a.refined), want, { atol: 1e-6 }, `refined ${c.gh}×${c.gw} (from W)`);
      const t = await sinkhornAffinity(gpu, w);
      const b = await caaRefine(gpu, { transition: t, cams, camsHost, grid: [c.gh, c.gw], threshold: c.threshold });
      expectClose(await gpu.readF32(b.refined), want, { atol: 1e-6 }, `refined ${c.gh}×${c.gw} (reused T)`);
      gpu.release(w, cams, a.refined, t, b.refined);
    }
  });

  it('caaHighres (cv2 INTER_LINEAR + float16) reproduces attn_highres from the reference grid CAMs', async () => {
    const gpu = await testGpu();
    for (const c of fixture.caa) {
      const refined = gpu.upload(f32From(c.refined), [c.k, c.gh * c.gw]);
      const hi = await caaHighres(gpu, refined, [c.gh, c.gw], c.size);
      expect(hi.shape).toEqual([c.k, ...c.size]);
      const got = await gpu.readF32(hi);
      const want = f16From(c.highres_f16);
      // Bit-exact float16 except where a 1-ulp float32 difference (OpenCV's SIMD order or a fused
      // multiply-add) straddles a float16 rounding tie: at most 1 float16 ulp, at a handful of pixels.
      expectClose(got, want, { atol: 4.9e-4 }, `highres ${c.gh}×${c.gw} → ${c.size}`);
      let differ = 0;
      for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) differ++;
      expect(differ / want.length, `highres ${c.gh}×${c.gw}: share of pixels not bit-exact`).toBeLessThan(1e-3);
      gpu.release(refined, hi);
    }
  });
});

