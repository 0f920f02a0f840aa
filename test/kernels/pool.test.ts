// Pooling, bilinear resampling and per-pixel class softmax/argmax against float64 references written
// from PyTorch's definitions, at awkward sizes (1×1, 7×7, 13×9, 33×41 maps; 1, 3, 7, 21, 33, 65
// channels), plus PyTorch's own outputs for the cases whose semantics are easy to get wrong
// (ceil_mode windows, scale-factor bilinear), from test/fixtures/deeplab/ops.json
// (weights/make_deeplab_goldens.py).
//
// Tolerances: max pooling and argmax are exact; an average is a sum of ≤ 9 values (f32 rounding
// ~1e-7) and softmax goes through exp (a few ulps): 2e-6 absolute on values of size ≤ 2. Bilinear
// computes its source coordinates in float32 as PyTorch does: a coordinate up to ~40 carries an
// absolute error up to 40·2⁻²⁴ ≈ 2.4e-6 in λ, times neighbour differences up to 4 → BILINEAR_ATOL
// 1.2e-5 (PyTorch's own outputs differ from the float64 formula by as much). A wrong tap or
// divisor is off by ≥ 1e-2.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bilinear, bilinearAxis, scaledSize } from '../../src/kernels/bilinear.js';
import { avgPool2d, channelArgmax, channelSoftmax, globalAvgPool, maxPool2d, poolOutputSize, type Pool2dOptions } from '../../src/kernels/pool.js';
import { testGpu } from '../helpers/gpu.js';
import { expectClose, randomArray } from '../helpers/reference.js';

const BILINEAR_ATOL = 1.2e-5;

type Shape4 = [number, number, number, number];
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const pair = (v: Pool2dOptions['stride'], d: [number, number]): [number, number] => (v === undefined ? d : typeof v === 'number' ? [v, v] : [v[0], v[1]]);

/** float64 pooling after PyTorch's CPU kernels (max_pool2d / avg_pool2d). */
function poolRef(x: Float32Array, s: Shape4, mode: 'max' | 'avg', o: Pool2dOptions): { y: Float64Array; shape: Shape4 } {
  const [n, c, h, w] = s;
  const k = pair(o.kernel, [1, 1]), st = pair(o.stride, k), pd = pair(o.padding, [0, 0]), dl = pair(o.dilation, [1, 1]);
  const ho = poolOutputSize(h, k[0], st[0], pd[0], dl[0], o.ceilMode ?? false);
  const wo = poolOutputSize(w, k[1], st[1], pd[1], dl[1], o.ceilMode ?? false);
  const y = new Float64Array(n * c * ho * wo);
  for (let pl = 0; pl < n * c; pl++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        const y0 = oy * st[0] - pd[0], x0 = ox * st[1] - pd[1];
        let v: number;
        if (mode === 'max') {
          v = -Infinity;
          for (let ky = 0; ky < k[0]; ky++) {
            for (let kx = 0; kx < k[1]; kx++) {
              const iy = y0 + ky * dl[0], ix = x0 + kx * dl[1];
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              const t = x[(pl * h + iy) * w + ix]!;
              if (t > v || Number.isNaN(t)) v = t;
              if (Number.isNaN(v)) break;
            }
          }
        } else {
          const y1 = Math.min(y0 + k[0], h + pd[0]), x1 = Math.min(x0 + k[1], w + pd[1]);
          const padded = (y1 - y0) * (x1 - x0);
          const ya = Math.max(y0, 0), xa = Math.max(x0, 0), yb = Math.min(y1, h), xb = Math.min(x1, w);
          let sum = 0;
          for (let iy = ya; iy < yb; iy++) for (let ix = xa; ix < xb; ix++) sum += x[(pl * h + iy) * w + ix]!;
          v = sum / ((o.countIncludePad ?? true) ? padded : (yb - ya) * (xb - xa));
        }
        y[(pl * ho + oy) * wo + ox] = v;
      }
    }
  }
  return { y, shape: [n, c, ho, wo] };
}

/** float64 bilinear with PyTorch's source-coordinate rule (align_corners False/True, optional scale factor). */
function bilinearRef(x: Float32Array, s: Shape4, ho: number, wo: number, align: boolean, scale?: number): Float64Array {
  const [n, c, h, w] = s;
  const taps = (inSize: number, outSize: number, o: number): [number, number, number] => {
    const step = align ? (outSize > 1 ? (inSize - 1) / (outSize - 1) : 0) : scale ? 1 / scale : inSize / outSize;
    const src = align ? step * o : Math.max(step * (o + 0.5) - 0.5, 0);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    return [i0, Math.min(i0 + 1, inSize - 1), Math.min(Math.max(src - i0, 0), 1)];
  };
  const y = new Float64Array(n * c * ho * wo);
  for (let pl = 0; pl < n * c; pl++) {
    for (let oy = 0; oy < ho; oy++) {
      const [y0, y1, ly] = taps(h, ho, oy);
      for (let ox = 0; ox < wo; ox++) {
        const [x0, x1, lx] = taps(w, wo, ox);
        const at = (iy: number, ix: number) => x[(pl * h + iy) * w + ix]!;
        y[(pl * ho + oy) * wo + ox] = (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) + ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
      }
    }
  }
  return y;
}

describe('max and average pooling vs float64', () => {
  const cases: Array<{ name: string; x: Shape4; mode: 'max' | 'avg'; o: Pool2dOptions }> = [
    { name: 'max 3×3 s2 p1 (torchvision ResNet stem), 13×9', x: [1, 7, 13, 9], mode: 'max', o: { kernel: 3, stride: 2, padding: 1 } },
    { name: 'max 3×3 s2 p1 ceil_mode (deeplab-pytorch stem), 13×9', x: [1, 7, 13, 9], mode: 'max', o: { kernel: 3, stride: 2, padding: 1, ceilMode: true } },
    { name: 'max 3×3 s2 p1 ceil_mode, 14×10 (overhanging last window)', x: [2, 3, 14, 10], mode: 'max', o: { kernel: 3, stride: 2, padding: 1, ceilMode: true } },
    { name: 'max 2×2 s2 ceil_mode, 7×7', x: [1, 33, 7, 7], mode: 'max', o: { kernel: 2, ceilMode: true } },
    { name: 'max 3×2 dilation 2, stride (1, 2), 13×9', x: [1, 3, 13, 9], mode: 'max', o: { kernel: [3, 2], stride: [1, 2], padding: [1, 1], dilation: 2 } },
    { name: 'max 3×3 s2 p1 on a 1×1 map', x: [1, 65, 1, 1], mode: 'max', o: { kernel: 3, stride: 2, padding: 1 } },
    { name: 'avg 3×3 s2 p1, padding counted', x: [1, 7, 13, 9], mode: 'avg', o: { kernel: 3, stride: 2, padding: 1 } },
    { name: 'avg 3×3 s2 p1, padding not counted', x: [1, 7, 13, 9], mode: 'avg', o: { kernel: 3, stride: 2, padding: 1, countIncludePad: false } },
    { name: 'avg 3×3 s2 p1 ceil_mode, 14×10, padding counted', x: [1, 3, 14, 10], mode: 'avg', o: { kernel: 3, stride: 2, padding: 1, ceilMode: true } },
    { name: 'avg 2×2 s2 ceil_mode, 7×7 (overhang past the image)', x: [1, 5, 7, 7], mode: 'avg', o: { kernel: 2, ceilMode: true } },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const gpu = await testGpu();
      const x = randomArray(numel(c.x), c.name.length, -2, 2);
      const tx = gpu.upload(x, c.x);
      const y = c.mode === 'max' ? await maxPool2d(gpu, tx, c.o) : await avgPool2d(gpu, tx, c.o);
      const want = poolRef(x, c.x, c.mode, c.o);
      expect(y.shape).toEqual(want.shape);
      expectClose(await gpu.readF32(y), want.y, { atol: c.mode === 'max' ? 0 : 2e-6 }, c.name);
      gpu.release(tx, y);
    });
  }

  it('max pooling propagates NaN, as PyTorch does', async () => {
    const gpu = await testGpu();
    const x = randomArray(49, 3);
    x[24] = NaN; // centre of a 7×7 map
    const tx = gpu.upload(x, [1, 1, 7, 7]);
    const y = await maxPool2d(gpu, tx, { kernel: 3, stride: 2, padding: 1 });
    const want = poolRef(x, [1, 1, 7, 7], 'max', { kernel: 3, stride: 2, padding: 1 });
    const got = await gpu.readF32(y);
    expect(Array.from(got, Number.isNaN)).toEqual(Array.from(want.y, Number.isNaN));
    expect(want.y.filter(Number.isNaN).length).toBe(4);
    gpu.release(tx, y);
  });

  it('global average pooling over 13×9 with 65 channels, batch 2', async () => {
    const gpu = await testGpu();
    const x = randomArray(2 * 65 * 117, 5, -2, 2);
    const tx = gpu.upload(x, [2, 65, 13, 9]);
    const y = await globalAvgPool(gpu, tx);
    expect(y.shape).toEqual([2, 65, 1, 1]);
    const want = Array.from({ length: 130 }, (_, i) => x.subarray(i * 117, (i + 1) * 117).reduce((s, v) => s + v, 0) / 117);
    expectClose(await gpu.readF32(y), want, { atol: 2e-6 }, 'global average');
    gpu.release(tx, y);
  });

  it('rejects bad windows, naming the culprit', async () => {
    const gpu = await testGpu();
    const x = gpu.upload(new Float32Array(49), [1, 1, 7, 7]);
    await expect(maxPool2d(gpu, x, { kernel: 3, padding: 2 })).rejects.toThrow(/padding 2 must be at most half the effective kernel size 3/);
    await expect(avgPool2d(gpu, x, { kernel: 3, dilation: 2 })).rejects.toThrow(/average pooling has no dilation/);
    await expect(maxPool2d(gpu, x, { kernel: 9 })).rejects.toThrow(/smaller than the 9×9 window/);
    await expect(maxPool2d(gpu, x.view([7, 7]), { kernel: 2 })).rejects.toThrow(/binding 'x'.*must be \[N, C, H, W\]/);
    await expect(maxPool2d(gpu, x, { kernel: 0 })).rejects.toThrow(/kernel 0 must be an integer ≥ 1/);
    gpu.release(x);
  });
});

describe('bilinear resampling vs float64', () => {
  const cases: Array<{ name: string; x: Shape4; size: [number, number]; align: boolean; scale?: number }> = [
    { name: '1×1 → 7×7 (ASPP pooling branch: a broadcast)', x: [1, 33, 1, 1], size: [7, 7], align: false },
    { name: '13×9 → 33×41, align_corners False', x: [1, 21, 13, 9], size: [33, 41], align: false },
    { name: '13×9 → 33×41, align_corners True', x: [1, 21, 13, 9], size: [33, 41], align: true },
    { name: '33×41 → 7×1, both', x: [2, 3, 33, 41], size: [7, 1], align: true },
    { name: '33×41 × 0.5 (scale factor: step 2, not 33/16)', x: [1, 3, 33, 41], size: [16, 20], align: false, scale: 0.5 },
    { name: '33×41 × 0.75 (scale factor: step 4/3, not 33/24)', x: [1, 3, 33, 41], size: [24, 30], align: false, scale: 0.75 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const gpu = await testGpu();
      const x = randomArray(numel(c.x), c.name.length, -2, 2);
      const tx = gpu.upload(x, c.x);
      const y = await bilinear(gpu, tx, c.size, { alignCorners: c.align, scaleFactor: c.scale });
      expect(y.shape).toEqual([c.x[0], c.x[1], ...c.size]);
      expectClose(await gpu.readF32(y), bilinearRef(x, c.x, c.size[0], c.size[1], c.align, c.scale), { atol: BILINEAR_ATOL }, c.name);
      gpu.release(tx, y);
    });
  }

  it('scaledSize is ⌊size · scale⌋ and the step of a scale factor differs from in/out', () => {
    expect([scaledSize(33, 0.5), scaledSize(33, 0.75), scaledSize(41, 0.75), scaledSize(513, 0.75)]).toEqual([16, 24, 30, 384]);
    expect(bilinearAxis(33, 24, false, 0.75).i0[23]).toBe(30); // step 4/3: source 30.5
    expect(bilinearAxis(33, 24, false).i0[23]).toBe(31); // step 33/24: source 31.6875
  });
});

describe('per-pixel class softmax and argmax', () => {
  it('softmax over 1, 7, 21 and 65 classes on 13×9 (batch 2), with -inf logits', async () => {
    const gpu = await testGpu();
    for (const c of [1, 7, 21, 65]) {
      const shape: Shape4 = [2, c, 13, 9];
      const x = randomArray(numel(shape), c, -8, 8);
      if (c > 1) x[5 * 117 % x.length] = -Infinity;
      const tx = gpu.upload(x, shape);
      const y = await channelSoftmax(gpu, tx);
      const want = new Float64Array(x.length);
      for (let b = 0; b < 2; b++) {
        for (let p = 0; p < 117; p++) {
          const at = (k: number) => (b * c + k) * 117 + p;
          let m = -Infinity;
          for (let k = 0; k < c; k++) m = Math.max(m, x[at(k)]!);
          let s = 0;
          for (let k = 0; k < c; k++) s += Math.exp(x[at(k)]! - m);
          for (let k = 0; k < c; k++) want[at(k)] = Math.exp(x[at(k)]! - m) / s;
        }
      }
      expectClose(await gpu.readF32(y), want, { atol: 2e-6, rtol: 1e-5 }, `softmax over ${c}`);
      gpu.release(tx, y);
    }
  });

  it('argmax over 21 classes on 33×41, ties to the first class', async () => {
    const gpu = await testGpu();
    const shape: Shape4 = [1, 21, 33, 41];
    const x = randomArray(numel(shape), 9, -1, 1);
    const hw = 33 * 41;
    for (let p = 0; p < 40; p++) {
      x[3 * hw + p] = 5; // a tie between classes 3 and 11 at the first 40 pixels
      x[11 * hw + p] = 5;
    }
    const tx = gpu.upload(x, shape);
    const y = await channelArgmax(gpu, tx);
    expect(y.shape).toEqual([1, 33, 41]);
    const want = Array.from({ length: hw }, (_, p) => {
      let best = 0;
      for (let k = 1; k < 21; k++) if (x[k * hw + p]! > x[best * hw + p]!) best = k;
      return best;
    });
    expect(Array.from(await gpu.read(y))).toEqual(want);
    expect(want.slice(0, 40).every((k) => k === 3)).toBe(true);
    gpu.release(tx, y);
  });
});

describe('PyTorch outputs (fixture)', () => {
  interface OpCase { name: string; op: string; x_shape: Shape4; x: number[]; y_shape: number[]; y: number[]; args: Record<string, unknown> }
  const fixture = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'deeplab', 'ops.json'), 'utf8')) as { generator: string; cases: OpCase[] };
  for (const c of fixture.cases) {
    it(`${c.op}: ${c.name}`, async () => {
      const gpu = await testGpu();
      const tx = gpu.upload(Float32Array.from(c.x), c.x_shape);
      const a = c.args;
      let y;
      if (c.op === 'max_pool2d' || c.op === 'avg_pool2d') {
        const o = { kernel: a.kernel as number, stride: a.stride as number, padding: a.padding as number, ceilMode: a.ceil_mode as boolean, countIncludePad: a.count_include_pad as boolean | undefined };
        y = c.op === 'max_pool2d' ? await maxPool2d(gpu, tx, o) : await avgPool2d(gpu, tx, o);
      } else {
        const size = a.size as [number, number] | undefined;
        const scale = a.scale_factor as number | undefined;
        const out: [number, number] = size ?? [scaledSize(c.x_shape[2], scale!), scaledSize(c.x_shape[3], scale!)];
        y = await bilinear(gpu, tx, out, { alignCorners: a.align_corners as boolean, scaleFactor: scale });
      }
      expect(y.shape).toEqual(c.y_shape);
      expectClose(await gpu.readF32(y), c.y, { atol: c.op === 'max_pool2d' ? 0 : c.op === 'bilinear' ? BILINEAR_ATOL : 2e-6 }, c.name);
      gpu.release(tx, y);
    });
  }
});
