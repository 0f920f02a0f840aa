// PAR (docs/algorithms.md §5) on the GPU against a float64 TypeScript reference written from the spec,
// and against PyTorch: test/fixtures/par/par.json, made by weights/par_torch.py (an independent
// re-implementation of §5 in torch, including the AFA label wrapper).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AFA_IGNORE, PAR_DILATIONS, afaLabels, parAffinity, parOffsets, parPositionSoftmax, parRefine } from '../../src/wsss/par.js';
import { testGpu } from '../helpers/gpu.js';
import { expectClose, randomArray, rng } from '../helpers/reference.js';

// ---------------------------------------------------------------------------------------------
// float64 reference

function affinityRef(img: ArrayLike<number>, h: number, w: number, dilations: readonly number[], w1 = 0.3, w2 = 0.01): Float64Array {
  const off = parOffsets(dilations);
  const taps = off.length / 2;
  const pos = parPositionSoftmax(dilations, w1);
  const plane = h * w;
  const a = new Float64Array(taps * plane);
  const nb = (y: number, x: number, j: number) => Math.min(Math.max(y + off[2 * j]!, 0), h - 1) * w + Math.min(Math.max(x + off[2 * j + 1]!, 0), w - 1);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const kappa = new Float64Array(taps);
      for (let c = 0; c < 3; c++) {
        const v = Array.from({ length: taps }, (_, j) => img[c * plane + nb(y, x, j)]!);
        const mean = v.reduce((s, t) => s + t, 0) / taps;
        const sd = Math.sqrt(v.reduce((s, t) => s + (t - mean) ** 2, 0) / (taps - 1));
        v.forEach((t, j) => (kappa[j]! += -((Math.abs(t - img[c * plane + i]!) / (sd + 1e-8) / w1) ** 2) / 3));
      }
      const top = Math.max(...kappa);
      const e = Array.from(kappa, (k) => Math.exp(k - top));
      const total = e.reduce((s, t) => s + t, 0);
      e.forEach((t, j) => (a[j * plane + i] = t / total + w2 * pos[j]!));
    }
  }
  return a;
}

function alignCornersRef(x: ArrayLike<number>, c: number, h: number, w: number, oh: number, ow: number): Float64Array {
  const y = new Float64Array(c * oh * ow);
  const axis = (o: number, inn: number, out: number) => {
    const src = out > 1 ? (o * (inn - 1)) / (out - 1) : 0;
    const i0 = Math.min(Math.floor(src), inn - 1);
    return [i0, Math.min(i0 + 1, inn - 1), src - i0] as const;
  };
  for (let k = 0; k < c; k++) {
    for (let oy = 0; oy < oh; oy++) {
      const [y0, y1, fy] = axis(oy, h, oh);
      for (let ox = 0; ox < ow; ox++) {
        const [x0, x1, fx] = axis(ox, w, ow);
        const at = (yy: number, xx: number) => x[k * h * w + yy * w + xx]!;
        const r0 = at(y0, x0) * (1 - fx) + at(y0, x1) * fx, r1 = at(y1, x0) * (1 - fx) + at(y1, x1) * fx;
        y[(k * oh + oy) * ow + ox] = r0 * (1 - fy) + r1 * fy;
      }
    }
  }
  return y;
}

function parRef(img: ArrayLike<number>, h: number, w: number, masks: ArrayLike<number>, c: number, mh: number, mw: number, dilations: readonly number[], iterations: number): Float64Array {
  const a = affinityRef(img, h, w, dilations);
  const off = parOffsets(dilations);
  const taps = off.length / 2, plane = h * w;
  let m = alignCornersRef(masks, c, mh, mw, h, w);
  for (let it = 0; it < iterations; it++) {
    const next = new Float64Array(c * plane);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        for (let j = 0; j < taps; j++) {
          const n = Math.min(Math.max(y + off[2 * j]!, 0), h - 1) * w + Math.min(Math.max(x + off[2 * j + 1]!, 0), w - 1);
          for (let k = 0; k < c; k++) next[k * plane + i]! += a[j * plane + i]! * m[k * plane + n]!;
        }
      }
    }
    m = next;
  }
  return m;
}

/** A piecewise-flat noisy image in [0, 1] (flat regions give small σ, edges large κ). */
function imageLike(h: number, w: number, seed: number): Float32Array {
  const r = rng(seed);
  const img = new Float32Array(3 * h * w);
  const cut = Math.floor(w / 2) + 0.5;
  for (let c = 0; c < 3; c++) {
    const [a, b] = [r(), r()];
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) img[c * h * w + y * w + x] = Math.min(1, Math.max(0, (x < cut + y / 3 ? a : b) + 0.05 * (r() - 0.5)));
  }
  return img;
}

// ---------------------------------------------------------------------------------------------

describe('PAR constants', () => {
  it('position softmax of §5: 0.0683 / 0.0765 at d = 1 … ≈ 0 at d ≥ 12, σ_ρ = 9.9003, sum 1', () => {
    const p = parPositionSoftmax();
    expect(p.length).toBe(48);
    // [d, diagonal, axial, half a unit of the last printed digit] as printed in §5 ("~0" → 1e-6).
    const want: Array<[number, number, number, number, number]> = [
      [1, 0.0683, 0.0765, 5e-5, 5e-5],
      [2, 0.0346, 0.0544, 5e-5, 5e-5],
      [4, 0.00228, 0.014, 5e-6, 5e-5],
      [8, 0, 6.1e-5, 1e-6, 5e-7],
    ];
    for (const [d, diag, axial, tolDiag, tolAxial] of want) {
      const g = PAR_DILATIONS.indexOf(d) * 8;
      expect(Math.abs(p[g]! - diag), `d=${d} diagonal ${p[g]}`).toBeLessThanOrEqual(tolDiag);
      expect(Math.abs(p[g + 1]! - axial), `d=${d} axial ${p[g + 1]}`).toBeLessThanOrEqual(tolAxial);
      for (const j of [2, 5, 7]) expect(p[g + j]).toBe(p[g]); // the four diagonals are equal
      for (const j of [3, 4, 6]) expect(p[g + j]).toBe(p[g + 1]);
    }
    for (let j = 32; j < 48; j++) expect(p[j]!).toBeLessThan(1e-8); // d ≥ 12: "≈ 0" (7e-9 at d = 12)
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const rho = PAR_DILATIONS.flatMap((d) => [Math.SQRT2, 1, Math.SQRT2, 1, 1, Math.SQRT2, 1, Math.SQRT2].map((r) => r * d));
    const mean = rho.reduce((a, b) => a + b, 0) / 48;
    expect(Math.sqrt(rho.reduce((a, r) => a + (r - mean) ** 2, 0) / 47)).toBeCloseTo(9.9003, 4);
    expect(Array.from(parOffsets([2]))).toEqual([-2, -2, -2, 0, -2, 2, 0, -2, 0, 2, 2, -2, 2, 0, 2, 2]);
  });
});

describe('PAR kernels vs float64', () => {
  const sizes: Array<[number, number]> = [[1, 1], [1, 7], [7, 1], [13, 17], [197, 3], [2, 4097]];
  it('parAffinity at 1×1, 1×7, 7×1, 13×17, 197×3, 2×4097 (48 neighbours; and 2 dilations)', async () => {
    const gpu = await testGpu();
    for (const [h, w] of sizes) {
      for (const dil of [PAR_DILATIONS, [1, 3]]) {
        const img = imageLike(h, w, h * w + dil.length);
        const t = gpu.upload(img, [3, h, w]);
        const a = await parAffinity(gpu, t, { dilations: dil });
        expect(a.shape).toEqual([8 * dil.length, h, w]);
        // κ = −(Δ/σ/w1)² reaches −1e3 and more at edges next to flat, low-σ regions; its f32
        // rounding (~1e-7·|κ|) becomes a relative error of the softmax weights, hence 2e-4.
        expectClose(await gpu.readF32(a), affinityRef(img, h, w, dil), { rtol: 2e-4, atol: 1e-7 }, `affinity ${h}×${w} dilations ${dil}`);
        gpu.release(t, a);
      }
    }
  });

  it('parRefine with the align_corners resize and 10 iterations, C = 1, 3, 5, 6', async () => {
    const gpu = await testGpu();
    const cases: Array<[h: number, w: number, c: number, mh: number, mw: number, dil: readonly number[], it: number]> = [
      [1, 1, 1, 1, 1, PAR_DILATIONS, 10],
      [13, 17, 3, 7, 9, PAR_DILATIONS, 10],
      [9, 31, 5, 9, 31, [1, 2], 4],
      [20, 7, 6, 3, 2, PAR_DILATIONS, 10],
      [1, 197, 1, 1, 50, [1, 2, 4], 10],
    ];
    for (const [h, w, c, mh, mw, dil, it] of cases) {
      const img = imageLike(h, w, h + w);
      const masks = randomArray(c * mh * mw, c + mh, 0, 1);
      const ti = gpu.upload(img, [3, h, w]);
      const tm = gpu.upload(masks, [c, mh, mw]);
      const out = await parRefine(gpu, { image: ti, masks: tm, dilations: dil, iterations: it });
      expect(out.shape).toEqual([c, h, w]);
      // Convex-ish averages (weights sum to 1.01) of values in [0, 1]: the weights' 2e-4 relative
      // error accumulates over the iterations to ≲ 1e-4 absolute.
      expectClose(await gpu.readF32(out), parRef(img, h, w, masks, c, mh, mw, dil, it), { atol: 2e-4 }, `PAR ${h}×${w} C=${c} from ${mh}×${mw}`);
      expectClose(await gpu.readF32(tm), masks, { atol: 0 }, 'masks are not modified');
      gpu.release(ti, tm, out);
    }
  });

  it('rejects bad arguments naming the culprit', async () => {
    const gpu = await testGpu();
    const img = gpu.upload(new Float32Array(12), [3, 2, 2]);
    const gray = gpu.upload(new Float32Array(4), [1, 2, 2]);
    await expect(parRefine(gpu, { image: gray, masks: gray })).rejects.toThrow(/par.*image .*\[3, h, w\]/);
    await expect(parRefine(gpu, { image: img, masks: gray.view([4]) })).rejects.toThrow(/masks .*\[C, h', w'\]/);
    await expect(parRefine(gpu, { image: img, masks: gray, dilations: [1, 0] })).rejects.toThrow(/dilation 0 is not a positive integer/);
    await expect(parRefine(gpu, { image: img, masks: gray, iterations: -1 })).rejects.toThrow(/iterations must be an integer ≥ 0/);
    await expect(parAffinity(gpu, img, { w1: 0 })).rejects.toThrow(/w1 must be a finite number > 0/);
    await expect(afaLabels(gpu, { image: img, cams: gray, keys: [1, 2] })).rejects.toThrow(/1 CAM channel\(s\) but 2 keys/);
    await expect(afaLabels(gpu, { image: img, cams: gray, keys: [1], downscale: 4 })).rejects.toThrow(/too small for downscale 4/);
    gpu.release(img, gray);
  });
});

// ---------------------------------------------------------------------------------------------

interface ParFixture {
  par: Array<{ image: string; size: [number, number]; masks: string; mask_size: [number, number, number]; dilations: number[]; iterations: number; affinity?: string; out: string }>;
  afa: Array<{ image: string; size: [number, number]; cams: string; keys: number[]; labels: string }>;
}

function f32From(b64: string): Float32Array {
  const buf = Buffer.from(b64, 'base64');
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

describe('PyTorch reference (test/fixtures/par/par.json)', () => {
  const fixture = JSON.parse(readFileSync(new URL('../fixtures/par/par.json', import.meta.url), 'utf8')) as ParFixture;

  it('parAffinity and parRefine match torch', async () => {
    const gpu = await testGpu();
    for (const c of fixture.par) {
      const [h, w] = c.size;
      const img = gpu.upload(f32From(c.image), [3, h, w]);
      const masks = gpu.upload(f32From(c.masks), c.mask_size);
      if (c.affinity) {
        const a = await parAffinity(gpu, img, { dilations: c.dilations });
        // Both sides are float32 with different summation orders (torch's Welford std, its mean).
        expectClose(await gpu.readF32(a), f32From(c.affinity), { rtol: 2e-4, atol: 1e-7 }, `affinity ${h}×${w}`);
        gpu.release(a);
      }
      const out = await parRefine(gpu, { image: img, masks, dilations: c.dilations, iterations: c.iterations });
      expectClose(await gpu.readF32(out), f32From(c.out), { atol: 2e-4 }, `PAR ${h}×${w} ${c.dilations} ×${c.iterations}`);
      gpu.release(img, masks, out);
    }
  });

  it('afaLabels reproduces the torch AFA wrapper (255 where only the high-bg run says background)', async () => {
    const gpu = await testGpu();
    for (const c of fixture.afa) {
      const [h, w] = c.size;
      const img = gpu.upload(f32From(c.image), [3, h, w]);
      const cams = gpu.upload(f32From(c.cams), [c.keys.length, h, w]);
      const got = await afaLabels(gpu, { image: img, cams, keys: c.keys });
      const want = Buffer.from(c.labels, 'base64');
      let differ = 0;
      for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) differ++;
      // Labels flip only where two refined scores tie to within float32 noise: none expected.
      expect(differ, `AFA ${h}×${w}: pixels that differ from torch`).toBe(0);
      // The fixture's CAMs give all three kinds of pixel: background, a class, and the uncertain band.
      expect(got).toContain(0);
      expect(got).toContain(AFA_IGNORE);
      expect(got.some((v) => c.keys.includes(v - 1))).toBe(true);
      gpu.release(img, cams);
    }
  });
});
