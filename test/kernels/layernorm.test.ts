import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/context.js';
import { layerNorm } from '../../src/kernels/layernorm.js';
import { ROW_VARIANTS, type RowVariant } from '../../src/kernels/rows.js';
import { testGpu } from '../helpers/gpu.js';
import { expectClose, randomArray, rng } from '../helpers/reference.js';
import { layerNormRef } from '../helpers/rows-ref.js';

// Awkward sizes: 1, 7, 197, 768, 4097 on both axes, big ones on one axis at a time.
const SHAPES: Array<[number, number]> = [
  [1, 1], [7, 1], [1, 7], [7, 7], [197, 7], [7, 197], [1, 768], [197, 768], [1, 4097], [7, 4097],
];

/**
 * Tolerance of y: 2e-6 of the output's scale (max |y| of the case), about 16 ulp. Measured worst
 * errors are 1.2e-7 to 3e-7 of the scale for every variant, including rows of 1e5 + 0.01·noise:
 * a few ulp from rstd (inverseSqrt is within 2 ulp), the centred value and the affine step, and the
 * blocked f32 row sums add a few more. A wrong mean, variance, eps or affine term is off by 1e-4 or
 * far more. (A careless f32 variance, E[x²] − E[x]² of the raw values, is off by order 1 on the
 * large-mean rows.)
 */
const Y_TOL = 2e-6;

function scaleOf(v: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]!));
  return Math.max(m, 1e-30);
}

/** Rows with distinct offsets and spreads, so that a row mix-up cannot pass. */
function rowsData(rows: number, cols: number, seed: number): Float32Array {
  const r = rng(seed);
  const x = randomArray(rows * cols, seed + 1, -1, 1);
  for (let i = 0; i < rows; i++) {
    const offset = 4 * r() - 2, spread = 0.5 + 2 * r();
    for (let j = 0; j < cols; j++) x[i * cols + j] = Math.fround(offset + spread * x[i * cols + j]!);
  }
  return x;
}

async function skipWithoutSubgroups(gpu: Gpu, variant: RowVariant, skip: () => void): Promise<void> {
  if (variant === 'subgroup' && !gpu.traits.features.subgroups) skip();
}

describe('layernorm vs float64, every variant forced', () => {
  for (const variant of ROW_VARIANTS) {
    it(`${variant}: affine, stats, shapes ${SHAPES.map((s) => s.join('×')).join(' ')}`, async (ctx) => {
      const gpu = await testGpu();
      await skipWithoutSubgroups(gpu, variant, () => ctx.skip());
      for (const [rows, cols] of SHAPES) {
        const x = rowsData(rows, cols, rows * 31 + cols);
        const gamma = randomArray(cols, cols + 1, 0.5, 1.5);
        const beta = randomArray(cols, cols + 2, -1, 1);
        const tx = gpu.upload(x, [rows, cols]), tg = gpu.upload(gamma, [cols]), tb = gpu.upload(beta, [cols]);
        const { y, stats } = await layerNorm(gpu, tx, { gamma: tg, beta: tb, stats: true, variant });
        const want = layerNormRef(x, rows, cols, { gamma, beta });
        const what = `${variant} [${rows}, ${cols}]`;
        expectClose(await gpu.readF32(y), want.y, { atol: Y_TOL * scaleOf(want.y) }, `${what} y`);
        const got = await gpu.readF32(stats!);
        // The mean is rounded to f32 once (≤ 2 ulp with the offset) after sums whose error is a
        // small part of σ; rstd carries about the same relative error as y.
        let maxStd = 0;
        for (const s of want.std) maxStd = Math.max(maxStd, s);
        expectClose(got.filter((_, i) => i % 2 === 0), want.mean, { rtol: 2.4e-7, atol: 1e-6 * maxStd }, `${what} mean`);
        expectClose(got.filter((_, i) => i % 2 === 1), want.rstd, { rtol: Y_TOL }, `${what} rstd`);
        gpu.release(tx, tg, tb, y, stats!);
      }
    });

    it(`${variant}: large mean, small variance (1000 + 0.01·noise) and an outlier in column 0`, async (ctx) => {
      const gpu = await testGpu();
      await skipWithoutSubgroups(gpu, variant, () => ctx.skip());
      for (const cols of [768, 4097]) {
        const rows = 7;
        const noise = randomArray(rows * cols, cols, -1, 1);
        const x = new Float32Array(rows * cols);
        for (let r = 0; r < rows; r++) {
          const mean = r < 3 ? 1000 : r < 6 ? -12345 : 1e5;
          for (let j = 0; j < cols; j++) x[r * cols + j] = mean + 0.01 * noise[r * cols + j]!;
        }
        x[3 * cols] = -12345 + 50; // a first element far from the rest: the shift is not typical of the row
        const tx = gpu.upload(x, [rows, cols]);
        const { y, stats } = await layerNorm(gpu, tx, { stats: true, variant });
        const want = layerNormRef(x, rows, cols);
        // Same tolerance as for well-conditioned rows: the shifted, corrected two-pass statistics
        // lose nothing to the mean.
        expectClose(await gpu.readF32(y), want.y, { atol: Y_TOL * scaleOf(want.y) }, `${variant} [${rows}, ${cols}] y`);
        const got = await gpu.readF32(stats!);
        expectClose(got.filter((_, i) => i % 2 === 1), want.rstd, { rtol: Y_TOL }, `${variant} [${rows}, ${cols}] rstd`);
        gpu.release(tx, y, stats!);
      }
    });

    it(`${variant}: without affine, gamma only, beta only; fused residual add`, async (ctx) => {
      const gpu = await testGpu();
      await skipWithoutSubgroups(gpu, variant, () => ctx.skip());
      const rows = 7, cols = 197;
      const x = rowsData(rows, cols, 5), r = randomArray(rows * cols, 6, -3, 3);
      const gamma = randomArray(cols, 7, -2, 2), beta = randomArray(cols, 8, -1, 1);
      const tx = gpu.upload(x, [rows, cols]), tr = gpu.upload(r, [rows, cols]);
      const tg = gpu.upload(gamma, [cols]), tb = gpu.upload(beta, [cols]);
      const cases = [
        { name: 'plain', opts: {}, ref: {} },
        { name: 'gamma', opts: { gamma: tg }, ref: { gamma } },
        { name: 'beta', opts: { beta: tb }, ref: { beta } },
      ];
      for (const c of cases) {
        const { y } = await layerNorm(gpu, tx, { ...c.opts, variant });
        const want = layerNormRef(x, rows, cols, c.ref).y;
        expectClose(await gpu.readF32(y), want, { atol: Y_TOL * scaleOf(want) }, `${variant} ${c.name}`);
        gpu.release(y);
      }
      const { y, residualSum, stats } = await layerNorm(gpu, tx, { gamma: tg, beta: tb, residual: tr, eps: 1e-6, stats: true, variant });
      const want = layerNormRef(x, rows, cols, { gamma, beta, residual: r, eps: 1e-6 });
      // The kernel writes the same f32 sum the reference rounds: exact.
      expectClose(await gpu.readF32(residualSum!), want.h, { atol: 0 }, `${variant} residual sum`);
      expectClose(await gpu.readF32(y), want.y, { atol: Y_TOL * scaleOf(want.y) }, `${variant} LN(x + r)`);
      expectClose((await gpu.readF32(stats!)).filter((_, i) => i % 2 === 1), want.rstd, { rtol: Y_TOL }, `${variant} LN(x + r) rstd`);
      gpu.release(tx, tr, tg, tb, y, residualSum!, stats!);
    });

    it(`${variant}: constant rows give beta, and rstd = 1/sqrt(eps)`, async (ctx) => {
      const gpu = await testGpu();
      await skipWithoutSubgroups(gpu, variant, () => ctx.skip());
      const rows = 7, cols = 197, eps = 1e-3;
      const x = new Float32Array(rows * cols);
      for (let r = 0; r < rows; r++) x.fill(r - 3.25, r * cols, (r + 1) * cols);
      const beta = randomArray(cols, 9, -1, 1);
      const tx = gpu.upload(x, [rows, cols]), tb = gpu.upload(beta, [cols]);
      const { y, stats } = await layerNorm(gpu, tx, { beta: tb, eps, stats: true, variant });
      const got = await gpu.readF32(y);
      // Every centred value is exactly 0, so y is exactly beta.
      expectClose(got, Array.from({ length: rows * cols }, (_, i) => beta[i % cols]!), { atol: 0 }, `${variant} constant rows`);
      const st = await gpu.readF32(stats!);
      expectClose(st.filter((_, i) => i % 2 === 0), Array.from({ length: rows }, (_, r) => r - 3.25), { atol: 0 }, `${variant} constant means`);
      expectClose(st.filter((_, i) => i % 2 === 1), Array(rows).fill(1 / Math.sqrt(eps)), { rtol: 3e-7 }, `${variant} rstd`);
      gpu.release(tx, tb, y, stats!);
    });
  }

  it('rows with a NaN or an infinity are NaN throughout, mean and rstd included (as in PyTorch)', async () => {
    const gpu = await testGpu();
    const rows = 4, cols = 197;
    const x = rowsData(rows, cols, 41);
    x[1 * cols + 100] = NaN;
    x[2 * cols + 0] = Infinity;
    x[3 * cols + 196] = -Infinity;
    const tx = gpu.upload(x, [rows, cols]);
    for (const variant of ROW_VARIANTS) {
      if (variant === 'subgroup' && !gpu.traits.features.subgroups) continue;
      const { y, stats } = await layerNorm(gpu, tx, { stats: true, variant });
      const got = await gpu.readF32(y), st = await gpu.readF32(stats!);
      expect(got.subarray(0, cols).every(Number.isFinite), `${variant} row 0`).toBe(true);
      for (const r of [1, 2, 3]) {
        expect(Array.from(got.subarray(r * cols, (r + 1) * cols)).every(Number.isNaN), `${variant} y row ${r}`).toBe(true);
        expect(Number.isNaN(st[2 * r + 1]!), `${variant} rstd row ${r}`).toBe(true);
      }
      gpu.release(y, stats!);
    }
    gpu.release(tx);
  });

  it('normalises the last axis of a rank-3 tensor and writes into given outputs', async () => {
    const gpu = await testGpu();
    const x = rowsData(3 * 5, 7, 11);
    const tx = gpu.upload(x, [3, 5, 7]);
    const out = gpu.empty([3, 5, 7]), statsOut = gpu.empty([15, 2]);
    const res = await layerNorm(gpu, tx, { out, statsOut });
    expect(res.y).toBe(out);
    expect(res.stats).toBe(statsOut);
    const want = layerNormRef(x, 15, 7);
    expectClose(await gpu.readF32(out), want.y, { atol: Y_TOL * scaleOf(want.y) }, 'rank 3');
    gpu.release(tx, out, statsOut);
  });
});

describe('layernorm argument errors name the op and the argument', () => {
  it('rejects bad gamma, beta, residual, eps, x and outputs', async () => {
    const gpu = await testGpu();
    const x = gpu.upload(new Float32Array(21), [3, 7]);
    const g5 = gpu.upload(new Float32Array(5), [5]);
    const r = gpu.upload(new Float32Array(21), [7, 3]);
    const idx = gpu.upload(new Uint32Array(21), [3, 7], 'u32');
    const empty = gpu.empty([3, 0]);
    const small = gpu.empty([3, 6]);
    await expect(layerNorm(gpu, x, { gamma: g5 })).rejects.toThrow(/kernel 'layernorm', binding 'gamma': .*5 elements; expected 7/);
    await expect(layerNorm(gpu, x, { beta: g5 })).rejects.toThrow(/kernel 'layernorm', binding 'beta'/);
    await expect(layerNorm(gpu, x, { residual: r })).rejects.toThrow(/kernel 'layernorm', binding 'residual': .*shape of x \[3, 7\]/);
    await expect(layerNorm(gpu, x, { eps: -1 })).rejects.toThrow(/kernel 'layernorm': eps = -1/);
    await expect(layerNorm(gpu, x, { eps: NaN })).rejects.toThrow(/kernel 'layernorm': eps = NaN/);
    await expect(layerNorm(gpu, idx)).rejects.toThrow(/kernel 'layernorm', binding 'x': .*must be f32/);
    await expect(layerNorm(gpu, empty)).rejects.toThrow(/kernel 'layernorm', binding 'x': .*empty last axis/);
    await expect(layerNorm(gpu, x, { out: small })).rejects.toThrow(/kernel 'layernorm', binding 'y'/);
    await expect(layerNorm(gpu, x, { residualSumOut: small })).rejects.toThrow(/kernel 'layernorm', binding 'residual_sum': given without a residual/);
    await expect(layerNorm(gpu, x, { statsOut: small })).rejects.toThrow(/kernel 'layernorm', binding 'stats': .*expected 6/);
    await expect(layerNorm(gpu, x, { variant: 'warp' as RowVariant })).rejects.toThrow(/kernel 'layernorm': unknown variant 'warp'/);
    gpu.release(x, g5, r, idx, empty, small);
  });
});
