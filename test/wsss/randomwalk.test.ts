// AffinityNet random walk (docs/algorithms.md §6) on the GPU against a float64 reference of psa's
// infer_aff.py written from the spec (pairs, border rule, W^β, column normalisation, T^(2^logt),
// α background, 8×8 average pooling, bilinear upsampling to the padded size, crop, argmax).
import { describe, expect, it } from 'vitest';
import { randomWalk, randomWalkTransition } from '../../src/wsss/randomwalk.js';
import { testGpu } from '../helpers/gpu.js';
import { expectClose, randomArray } from '../helpers/reference.js';

// ---------------------------------------------------------------------------------------------
// float64 reference

/** psa's half-plane offsets (tool/pyutils.py get_indices_of_pairs). */
function halfPlane(radius: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let x = 1; x < radius; x++) out.push([0, x]);
  for (let y = 1; y < radius; y++) for (let x = -radius + 1; x < radius; x++) if (x * x + y * y < radius * radius) out.push([y, x]);
  return out;
}

function transitionRef(f: ArrayLike<number>, c: number, h: number, w: number, beta: number, radius: number, logt: number): Float64Array {
  const n = h * w, rf = radius - 1;
  const wm = new Float64Array(n * n);
  for (let i = 0; i < n; i++) wm[i * n + i] = 1;
  for (let y = 0; y < h - rf; y++) {
    for (let x = rf; x < w - rf; x++) {
      const a = y * w + x;
      for (const [dy, dx] of halfPlane(radius)) {
        const b = (y + dy) * w + (x + dx);
        let d = 0;
        for (let ch = 0; ch < c; ch++) d += Math.abs(f[ch * n + a]! - f[ch * n + b]!);
        const v = Math.exp(-d / c);
        wm[a * n + b] = v;
        wm[b * n + a] = v;
      }
    }
  }
  let t = wm.map((v) => v ** beta);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += t[i * n + j]!;
    for (let i = 0; i < n; i++) t[i * n + j]! /= s;
  }
  for (let it = 0; it < logt; it++) {
    const sq = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) {
      const v = t[i * n + k]!;
      if (v !== 0) for (let j = 0; j < n; j++) sq[i * n + j]! += v * t[k * n + j]!;
    }
    t = sq;
  }
  return t;
}

function seedsRef(cams: ArrayLike<number>, k: number, hh: number, ww: number, h: number, w: number, pool: number, alpha: number): Float64Array {
  const out = new Float64Array((k + 1) * h * w);
  for (let ch = 0; ch <= k; ch++) {
    for (let cy = 0; cy < h; cy++) for (let cx = 0; cx < w; cx++) {
      let s = 0;
      for (let y = cy * pool; y < (cy + 1) * pool; y++) for (let x = cx * pool; x < (cx + 1) * pool; x++) {
        if (y >= hh || x >= ww) continue;
        const at = y * ww + x;
        if (ch === 0) {
          let m = -Infinity;
          for (let c = 0; c < k; c++) m = Math.max(m, cams[c * hh * ww + at]!);
          s += (1 - m) ** alpha;
        } else s += cams[(ch - 1) * hh * ww + at]!;
      }
      out[(ch * h + cy) * w + cx] = s / (pool * pool);
    }
  }
  return out;
}

function matvecRef(seeds: Float64Array, k1: number, t: Float64Array, n: number): Float64Array {
  const out = new Float64Array(k1 * n);
  for (let c = 0; c < k1; c++) for (let i = 0; i < n; i++) {
    const v = seeds[c * n + i]!;
    for (let j = 0; j < n; j++) out[c * n + j]! += v * t[i * n + j]!;
  }
  return out;
}

/** torch bilinear, align_corners=False, onto (fullH, fullW), cropped to (oh, ow); then argmax with margins. */
function labelsRef(scores: Float64Array, k1: number, h: number, w: number, oh: number, ow: number, fullH: number, fullW: number, keys: number[]) {
  const axis = (o: number, inn: number, full: number) => {
    const src = Math.max(((o + 0.5) * inn) / full - 0.5, 0);
    const i0 = Math.min(Math.floor(src), inn - 1);
    return [i0, Math.min(i0 + 1, inn - 1), src - i0] as const;
  };
  const labels = new Uint8Array(oh * ow), margin = new Float64Array(oh * ow);
  for (let y = 0; y < oh; y++) {
    const [y0, y1, fy] = axis(y, h, fullH);
    for (let x = 0; x < ow; x++) {
      const [x0, x1, fx] = axis(x, w, fullW);
      const v = Array.from({ length: k1 }, (_, c) => {
        const at = (yy: number, xx: number) => scores[(c * h + yy) * w + xx]!;
        return (at(y0, x0) * (1 - fx) + at(y0, x1) * fx) * (1 - fy) + (at(y1, x0) * (1 - fx) + at(y1, x1) * fx) * fy;
      });
      const best = v.indexOf(Math.max(...v));
      const sorted = [...v].sort((a, b) => b - a);
      labels[y * ow + x] = best === 0 ? 0 : keys[best - 1]! + 1;
      margin[y * ow + x] = (sorted[0]! - (sorted[1] ?? -Infinity)) / Math.abs(sorted[0]!);
    }
  }
  return { labels, margin };
}

/** Features with a few flat regions (strong affinities inside, weak across) plus noise. */
function featureMap(c: number, h: number, w: number, seed: number): Float32Array {
  const noise = randomArray(c * h * w, seed, -0.05, 0.05);
  const levels = randomArray(3 * c, seed + 1, 0, 1.5);
  return Float32Array.from(noise, (v, i) => {
    const ch = Math.floor(i / (h * w)), p = i % (h * w), y = Math.floor(p / w), x = p % w;
    const region = x < w / 3 ? 0 : y < h / 2 ? 1 : 2;
    return v + levels[region * c + ch]!;
  });
}

// ---------------------------------------------------------------------------------------------

describe('randomWalkTransition vs float64', () => {
  const cases: Array<[c: number, h: number, w: number, radius: number, beta: number]> = [
    [3, 1, 1, 5, 8],
    [2, 3, 3, 5, 8], // every pixel is on the border: no pairs, T = I
    [5, 7, 11, 5, 8],
    [4, 9, 9, 5, 2.5],
    [3, 6, 30, 3, 8],
    [1, 13, 15, 5, 8], // n = 195: not a multiple of the workgroup
  ];
  it('one step (logt 0): pairs, the border rule, W_ii = 1, W^β, column normalisation', async () => {
    const gpu = await testGpu();
    for (const [c, h, w, radius, beta] of cases) {
      const f = featureMap(c, h, w, h * w);
      const ft = gpu.upload(f, [c, h, w]);
      const t = await randomWalkTransition(gpu, ft, { radius, beta, logt: 0 });
      const n = h * w;
      expect(t.shape).toEqual([n, n]);
      const want = transitionRef(f, c, h, w, beta, radius, 0);
      // exp, a power by ≤ 3 squarings (or pow for β = 2.5) and one division in f32: ~1e-6 relative.
      expectClose(await gpu.readF32(t), want, { rtol: 4e-6, atol: 1e-12 }, `T ${c}×${h}×${w} r=${radius} β=${beta}`);
      if (h === 3) expectClose(await gpu.readF32(t), Float64Array.from({ length: 81 }, (_, i) => (i % 10 === 0 ? 1 : 0)), { atol: 0 }, 'no pairs → identity');
      gpu.release(ft, t);
    }
  });

  it('T^(2^logt) by squaring, logt = 1, 3, 8 (column sums stay 1)', async () => {
    const gpu = await testGpu();
    const [c, h, w] = [5, 7, 11];
    const f = featureMap(c, h, w, 3);
    const ft = gpu.upload(f, [c, h, w]);
    for (const logt of [1, 3, 8]) {
      const t = await randomWalkTransition(gpu, ft, { logt });
      const got = await gpu.readF32(t);
      // Each squaring roughly doubles the relative error of the previous power and adds a sum of
      // n = 77 f32 products: ≲ 2^logt·1e-7 + 1e-5.
      expectClose(got, transitionRef(f, c, h, w, 8, 5, logt), { rtol: 2e-5 + 2 ** logt * 1e-7, atol: 1e-9 }, `T^(2^${logt})`);
      const n = h * w;
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += got[i * n + j]!;
        expect(Math.abs(s - 1), `column ${j} sum after logt ${logt}`).toBeLessThan(1e-4);
      }
      gpu.release(t);
    }
    gpu.release(ft);
  });
});

describe('randomWalk end to end vs float64', () => {
  it('image-resolution CAMs (stride 8, padded), logt 8: scores and labels', async () => {
    const gpu = await testGpu();
    // Features 7×11 (n = 77); CAMs 50×83 → ceil(/8) = 7×11 with 6 and 5 rows/columns of padding.
    for (const [c, h, w, camH, camW, k, stride] of [
      [5, 7, 11, 50, 83, 2, 8],
      [3, 6, 9, 96, 140, 3, 16],
    ] as const) {
      const f = featureMap(c, h, w, 7 + k);
      const cams = randomArray(k * camH * camW, 11 + k, 0, 1);
      const keys = [14, 2, 9].slice(0, k);
      const ft = gpu.upload(f, [c, h, w]);
      const ct = gpu.upload(cams, [k, camH, camW]);
      const { scores, labels } = await randomWalk(gpu, { features: ft, cams: ct, keys, stride });
      expect(scores.shape).toEqual([k + 1, h, w]);
      const n = h * w;
      const seeds = seedsRef(cams, k, camH, camW, h, w, stride, 16);
      const want = matvecRef(seeds, k + 1, transitionRef(f, c, h, w, 8, 5, 8), n);
      // T^256's error (≲ 4e-5 relative, see above) carries over to the scores.
      expectClose(await gpu.readF32(scores), want, { rtol: 5e-5, atol: 1e-9 }, `scores ${h}×${w} stride ${stride}`);
      const ref = labelsRef(want, k + 1, h, w, camH, camW, stride * h, stride * w, keys);
      let compared = 0;
      for (let i = 0; i < labels.length; i++) {
        if (ref.margin[i]! < 1e-3) continue; // near-ties may flip within the f32 error
        compared++;
        if (labels[i] !== ref.labels[i]) throw new Error(`label at ${i} (row ${Math.floor(i / camW)}): got ${labels[i]}, want ${ref.labels[i]}`);
      }
      expect(compared).toBeGreaterThan(0.9 * labels.length);
      expect(new Set(labels).size).toBeGreaterThan(1);
      gpu.release(ft, ct, scores);
    }
  });

  it('feature-resolution CAMs skip pooling and upsampling', async () => {
    const gpu = await testGpu();
    const [c, h, w, k] = [4, 8, 10, 2];
    const f = featureMap(c, h, w, 21);
    const cams = randomArray(k * h * w, 22, 0, 1);
    const ft = gpu.upload(f, [c, h, w]);
    const ct = gpu.upload(cams, [k, h, w]);
    const { scores, labels } = await randomWalk(gpu, { features: ft, cams: ct, logt: 4, alpha: 2.5 });
    const want = matvecRef(seedsRef(cams, k, h, w, h, w, 1, 2.5), k + 1, transitionRef(f, c, h, w, 8, 5, 4), h * w);
    expectClose(await gpu.readF32(scores), want, { rtol: 3e-5, atol: 1e-9 }, 'scores at feature resolution');
    const ref = labelsRef(want, k + 1, h, w, h, w, h, w, [0, 1]);
    for (let i = 0; i < labels.length; i++) if (ref.margin[i]! > 1e-3) expect(labels[i], `label ${i}`).toBe(ref.labels[i]);
    gpu.release(ft, ct, scores);
  });

  it('rejects bad arguments naming the culprit', async () => {
    const gpu = await testGpu();
    const ft = gpu.upload(new Float32Array(2 * 4 * 5), [2, 4, 5]);
    const ct = gpu.upload(new Float32Array(40 * 30), [1, 40, 30]);
    await expect(randomWalk(gpu, { features: ft, cams: ct })).rejects.toThrow(/fit neither the feature grid 4×5 nor it at stride 8 .*ceil\(W\/8\) = 5/);
    await expect(randomWalkTransition(gpu, ft, { radius: 1 })).rejects.toThrow(/radius must be an integer in 2..32/);
    await expect(randomWalkTransition(gpu, ft, { beta: 0 })).rejects.toThrow(/beta must be a finite number > 0/);
    await expect(randomWalkTransition(gpu, ft, { logt: -1 })).rejects.toThrow(/logt must be an integer/);
    await expect(randomWalkTransition(gpu, ft.view([40]) as never)).rejects.toThrow(/features .*\[C, h, w\]/);
    const c2 = gpu.upload(new Float32Array(32 * 40), [1, 32, 40]);
    await expect(randomWalk(gpu, { features: ft, cams: c2, keys: [1, 2] })).rejects.toThrow(/1 CAM channel\(s\) but 2 keys/);
    gpu.release(ft, ct, c2);
  });
});
