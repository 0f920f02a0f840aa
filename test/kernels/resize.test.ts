// Resize kernels against float64/integer references (test/helpers/resize-ref.ts) and against golden
// outputs of real Pillow 9.4 and PyTorch 1.13 (test/fixtures/resize/, made by make_resize_fixtures.py).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RESIZE_PLAN, bicubicPilTable, pilFixedPoint, resize, type ResizeMode } from '../../src/kernels/resize.js';
import type { Gpu } from '../../src/gpu/context.js';
import { testGpu } from '../helpers/gpu.js';
import { expectClose, randomArray, rng } from '../helpers/reference.js';
import { hashedImage, pilAxisRef, pilResizeFloatRef, pilResizeU8Ref, torchBicubicRef, torchBilinearRef } from '../helpers/resize-ref.js';

type Case = [channels: number, inH: number, inW: number, outH: number, outW: number];

// Awkward sizes: 1, 7, 197, 4097 on some axis; shrink and enlarge in each axis, one axis only, and both.
const CASES: Case[] = [
  [1, 5, 7, 4, 3],
  [2, 7, 5, 3, 4],
  [1, 1, 1, 3, 2],
  [1, 3, 2, 1, 1],
  [1, 1, 7, 1, 197],
  [3, 6, 11, 13, 4],
  [1, 13, 4, 6, 11],
  [1, 9, 9, 9, 5],
  [1, 9, 9, 2, 9],
  [1, 7, 197, 7, 7],
  [1, 3, 4097, 7, 197],
  [2, 14, 14, 24, 32],
];

function bytes(n: number, seed: number): Uint32Array {
  const r = rng(seed);
  return Uint32Array.from({ length: n }, () => Math.floor(r() * 256));
}

async function run(gpu: Gpu, data: Float32Array | Uint32Array, [c, h, w, oh, ow]: Case, mode: ResizeMode): Promise<ArrayLike<number>> {
  const x = data instanceof Uint32Array ? gpu.upload(data, [c, h, w], 'u32') : gpu.upload(data, [1, c, h, w]);
  const y = await resize(gpu, x, [oh, ow], mode);
  expect(y.shape).toEqual(data instanceof Uint32Array ? [c, oh, ow] : [1, c, oh, ow]);
  const got = await gpu.read(y);
  gpu.release(x, y);
  return got;
}

const label = ([c, h, w, oh, ow]: Case) => `${c}×${h}×${w} → ${oh}×${ow}`;

describe('Pillow bicubic, exact uint8 mode', () => {
  it('equals the §1.3 integer reference bit for bit at awkward sizes', async () => {
    const gpu = await testGpu();
    for (const k of [...CASES, [3, 375, 500, 384, 512] as Case]) {
      const [c, h, w, oh, ow] = k;
      const x = bytes(c * h * w, h * 31 + w);
      const got = await run(gpu, x, k, 'bicubic-pil');
      expect(Array.from(got), label(k)).toEqual(Array.from(pilResizeU8Ref(x, c, h, w, oh, ow)));
    }
  });

  const fixture = JSON.parse(readFileSync(new URL('../fixtures/resize/pillow.json', import.meta.url), 'utf8')) as {
    cases: Array<{ channels: number; in: [number, number]; out: [number, number]; input: number[] | 'hash_pixel'; output?: number[]; output_sha256?: string; output_head?: number[] }>;
  };

  it(`equals real Pillow's output bit for bit (${fixture.cases.length} golden cases)`, async () => {
    const gpu = await testGpu();
    for (const f of fixture.cases) {
      const k: Case = [f.channels, ...f.in, ...f.out];
      const x = f.input === 'hash_pixel' ? hashedImage(f.channels, ...f.in) : Uint32Array.from(f.input);
      const got = Uint8Array.from(await run(gpu, x, k, 'bicubic-pil'));
      if (f.output) {
        expect(Array.from(got), label(k)).toEqual(f.output);
        // The reference agrees with Pillow too, so the integer tests above test the right thing.
        expect(Array.from(pilResizeU8Ref(x, f.channels, ...f.in, ...f.out)), `reference ${label(k)}`).toEqual(f.output);
      } else {
        expect(Array.from(got.subarray(0, 16)), label(k)).toEqual(f.output_head);
        expect(createHash('sha256').update(got).digest('hex'), `sha256 of ${label(k)}`).toBe(f.output_sha256);
      }
    }
  });

  it('gives the same results with the other work splits (one output per invocation as on GPUs; 3)', async () => {
    const gpu = await testGpu();
    const kind = gpu.traits.adapter.kind;
    const saved = RESIZE_PLAN[kind];
    try {
      for (const plan of [RESIZE_PLAN.gpu, { wg: 32, per: 3 }]) {
        RESIZE_PLAN[kind] = plan;
        for (const k of CASES) {
          const [c, h, w, oh, ow] = k;
          const x = bytes(c * h * w, h * 13 + w);
          const got = await run(gpu, x, k, 'bicubic-pil');
          expect(Array.from(got), `${JSON.stringify(plan)} ${label(k)}`).toEqual(Array.from(pilResizeU8Ref(x, c, h, w, oh, ow)));
          const xf = randomArray(c * h * w, h + w, -1, 1);
          const gotf = await run(gpu, xf, k, 'bicubic-torch');
          expectClose(gotf, torchBicubicRef(xf, c, h, w, oh, ow), { atol: 1e-6 }, `${JSON.stringify(plan)} f32 ${label(k)}`);
        }
      }
    } finally {
      RESIZE_PLAN[kind] = saved;
    }
  });

  it('uses weights that match the spec reference exactly after fixed-point rounding', () => {
    // The host tables evaluate the cubic in Pillow's operation order; the reference uses the
    // spec's polynomial. Their fixed-point weights must agree everywhere we test.
    for (const [n, m] of [[5, 3], [7, 197], [4097, 197], [375, 384], [500, 512], [14, 24], [1, 3], [3, 1]]) {
      const table = bicubicPilTable(n!, m!);
      const fixed = pilFixedPoint(table.weights);
      const ref = pilAxisRef(n!, m!);
      ref.forEach((r, o) => {
        expect(table.windows[2 * o], `start ${n}→${m} o=${o}`).toBe(r.xmin);
        expect(table.windows[2 * o + 1], `count ${n}→${m} o=${o}`).toBe(r.weights.length);
        const want = r.weights.map((w) => (w < 0 ? -Math.round(-w * 2 ** 22) : Math.round(w * 2 ** 22)) + 0); // + 0: no −0
        expect(Array.from(fixed.subarray(o * table.taps, o * table.taps + r.weights.length))).toEqual(want);
      });
    }
  });
});

describe('float modes vs float64 references', () => {
  // Each output is two f32 passes of ≤ K multiply-adds with f32-rounded weights; for inputs in
  // [−1, 1] and Σ|w| ≤ 1.5 that is a few f32 ulps of 1 (≈ 1.2e-7 each); observed ≤ 2e-7 on every
  // case, including Pillow's 84-tap windows for 4097 → 197. 1e-6 leaves a 5× margin.
  const modes: Array<[ResizeMode, (x: ArrayLike<number>, ...s: Case) => Float64Array]> = [
    ['bilinear-torch', (x, c, h, w, oh, ow) => torchBilinearRef(x, c, h, w, oh, ow)],
    ['bicubic-torch', (x, c, h, w, oh, ow) => torchBicubicRef(x, c, h, w, oh, ow)],
    ['bicubic-pil', (x, c, h, w, oh, ow) => pilResizeFloatRef(x, c, h, w, oh, ow)],
  ];
  for (const [mode, ref] of modes) {
    it(mode, async () => {
      const gpu = await testGpu();
      for (const k of CASES) {
        const [c, h, w] = k;
        const x = randomArray(c * h * w, h * 7 + w, -1, 1);
        const got = await run(gpu, x, k, mode);
        expectClose(got, ref(x, ...k), { atol: 1e-6 }, `${mode} ${label(k)}`);
      }
    });
  }
});

describe('torch modes vs real PyTorch', () => {
  const fixture = JSON.parse(readFileSync(new URL('../fixtures/resize/torch.json', import.meta.url), 'utf8')) as {
    cases: Array<{ mode: 'bilinear' | 'bicubic'; channels: number; in: [number, number]; out: [number, number]; input: number[]; output: number[] }>;
  };
  // torch computes the source coordinate and the weights in float32, we in float64: its coordinate
  // is off by up to ulp(14) ≈ 1e-6 (for a 14-pixel input), which times the slope of the cubic
  // weights (≤ 1.5) and data differences (≤ 2 for inputs in [−1, 1]) bounds the discrepancy near
  // 3e-6. Observed: 6.3e-7 bilinear, 1.35e-6 bicubic (the float64 reference shows the same).
  it(`matches F.interpolate (${fixture.cases.length} golden cases)`, async () => {
    const gpu = await testGpu();
    for (const f of fixture.cases) {
      const k: Case = [f.channels, ...f.in, ...f.out];
      const got = await run(gpu, Float32Array.from(f.input), k, f.mode === 'bilinear' ? 'bilinear-torch' : 'bicubic-torch');
      expectClose(got, f.output, { atol: 4e-6 }, `torch ${f.mode} ${label(k)}`);
      // ... and the float64 reference agrees with torch, so the tests above measure the right thing.
      const ref = (f.mode === 'bilinear' ? torchBilinearRef : torchBicubicRef)(f.input, ...k);
      expectClose(ref, f.output, { atol: 4e-6 }, `reference ${f.mode} ${label(k)}`);
    }
  });
});

describe('resize arguments', () => {
  it('keeps leading axes and copies when no axis changes', async () => {
    const gpu = await testGpu();
    const data = randomArray(2 * 3 * 4 * 5, 9);
    const x = gpu.upload(data, [2, 3, 4, 5]);
    const y = await resize(gpu, x, [4, 5], 'bicubic-torch');
    expect(y.shape).toEqual([2, 3, 4, 5]);
    expect(y.buffer).not.toBe(x.buffer);
    expect(Array.from(await gpu.readF32(y))).toEqual(Array.from(data));
    gpu.release(x, y);
  });

  it('fails naming the op and the culprit', async () => {
    const gpu = await testGpu();
    const x = gpu.upload(new Float32Array(12), [3, 4]);
    const b = gpu.upload(new Uint32Array(12), [3, 4], 'u32');
    await expect(resize(gpu, x, [0, 4], 'bilinear-torch')).rejects.toThrow(/'resize'.*output height 0 must be a positive integer/);
    await expect(resize(gpu, x, [3, 2.5], 'bilinear-torch')).rejects.toThrow(/'resize'.*output width 2\.5/);
    await expect(resize(gpu, x, [3, 4], 'nearest' as ResizeMode)).rejects.toThrow(/'resize'.*unknown mode 'nearest'/);
    await expect(resize(gpu, b, [3, 4], 'bilinear-torch')).rejects.toThrow(/'resize'.*'bilinear-torch' needs f32 input/);
    await expect(resize(gpu, x.view([12]), [3, 4], 'bilinear-torch')).rejects.toThrow(/'resize'.*rank ≥ 2/);
    const empty = gpu.empty([2, 0, 4]);
    await expect(resize(gpu, empty, [3, 4], 'bilinear-torch')).rejects.toThrow(/'resize'.*height 0 must be a positive integer/);
    gpu.release(x, b, empty);
  });
});
