import { describe, expect, it } from 'vitest';
import { ROW_VARIANTS, type RowVariant } from '../../src/kernels/rows.js';
import { softmax } from '../../src/kernels/softmax.js';
import { testGpu } from '../helpers/gpu.js';
import { expectClose, randomArray } from '../helpers/reference.js';
import { softmaxRef } from '../helpers/rows-ref.js';

const SHAPES: Array<[number, number]> = [
  [1, 1], [7, 1], [1, 7], [7, 7], [197, 7], [7, 197], [197, 197], [1, 768], [1, 4097], [7, 4097],
];

/**
 * |p − p64| ≤ 1e-7 + 1e-6·p64. The absolute 1e-7 is below one ulp of the largest probabilities;
 * the relative part (8 ulp) covers what f32 adds to the biggest ones: the rounding of scale·x + mask,
 * of z − max (an error of u·|z| in the exponent is a relative error u·|z| of the probability: up to
 * 4e-6 for |z| = 60, on probabilities far below the absolute floor), of the exps and their blocked
 * sum, and of the reciprocal. Measured worst: 1.8e-7 absolute, 8e-7 relative for p > 1e-3.
 */
const TOL = { atol: 1e-7, rtol: 1e-6 };

const NEG_INF = -Infinity;

describe('softmax vs float64, every variant forced', () => {
  for (const variant of ROW_VARIANTS) {
    it(`${variant}: shapes ${SHAPES.map((s) => s.join('×')).join(' ')}`, async (ctx) => {
      const gpu = await testGpu();
      if (variant === 'subgroup' && !gpu.traits.features.subgroups) ctx.skip();
      for (const [rows, cols] of SHAPES) {
        const x = randomArray(rows * cols, rows * 131 + cols, -8, 8);
        const tx = gpu.upload(x, [rows, cols]);
        const y = await softmax(gpu, tx, { variant });
        expectClose(await gpu.readF32(y), softmaxRef(x, rows, cols), TOL, `${variant} [${rows}, ${cols}]`);
        gpu.release(tx, y);
      }
    });

    it(`${variant}: scale, masks with -inf ([cols], [rows, cols], [m, cols] per head), a fully masked row`, async (ctx) => {
      const gpu = await testGpu();
      if (variant === 'subgroup' && !gpu.traits.features.subgroups) ctx.skip();
      const heads = 3, rowsPerHead = 7, cols = 197, rows = heads * rowsPerHead;
      const x = randomArray(rows * cols, 3, -40, 40);
      const tx = gpu.upload(x, [heads, rowsPerHead, cols]);
      const scale = 0.125;
      const maskOf = (m: number, seed: number) => {
        const mask = randomArray(m * cols, seed, -2, 2);
        for (let i = 0; i < mask.length; i += 5) mask[i] = NEG_INF;
        return mask;
      };
      for (const maskRows of [1, rowsPerHead, rows]) {
        const mask = maskOf(maskRows, maskRows);
        if (maskRows === rows) mask.fill(NEG_INF, 4 * cols, 5 * cols); // row 4 sees no logit at all
        const shape = maskRows === 1 ? [cols] : maskRows === rowsPerHead ? [1, rowsPerHead, cols] : [rows, cols];
        const tm = gpu.upload(mask, shape);
        const y = await softmax(gpu, tx, { scale, mask: tm, variant });
        const got = await gpu.readF32(y);
        const want = softmaxRef(x, rows, cols, { scale, mask, maskRows });
        expectClose(got, want, TOL, `${variant} mask [${shape.join(', ')}]`);
        for (let r = 0; r < rows; r++) {
          for (let j = 0; j < cols; j++) {
            // -inf in the mask is probability exactly 0 (except in the fully masked row: NaN).
            if (mask[(r % maskRows) * cols + j] === NEG_INF && !(maskRows === rows && r === 4)) expect(got[r * cols + j]).toBe(0);
          }
        }
        if (maskRows === rows) {
          // Documented choice, as PyTorch: a row with no finite logit is NaN everywhere.
          expect(Array.from(got.subarray(4 * cols, 5 * cols)).every(Number.isNaN)).toBe(true);
          expect(got.subarray(3 * cols, 4 * cols).some(Number.isNaN)).toBe(false);
        }
        gpu.release(tm, y);
      }
      gpu.release(tx);
    });

    it(`${variant}: huge logits do not overflow (max subtraction); all -inf, a NaN or a +inf make a NaN row`, async (ctx) => {
      const gpu = await testGpu();
      if (variant === 'subgroup' && !gpu.traits.features.subgroups) ctx.skip();
      const rows = 7, cols = 768;
      const x = randomArray(rows * cols, 17, -3e4, 3e4);
      for (let j = 0; j < cols; j++) x[2 * cols + j] = 8e37 + j * 1e33; // near f32 max: exp would overflow without the shift
      x.fill(NEG_INF, 4 * cols, 5 * cols);
      x[5 * cols + 300] = NaN;
      x[6 * cols + 10] = Infinity;
      const tx = gpu.upload(x, [rows, cols]);
      const y = await softmax(gpu, tx, { variant });
      const got = await gpu.readF32(y);
      expectClose(got.subarray(0, 4 * cols), softmaxRef(x, rows, cols).subarray(0, 4 * cols), TOL, `${variant} huge logits`);
      expect(got.subarray(0, 4 * cols).every(Number.isFinite)).toBe(true);
      for (const r of [4, 5, 6]) expect(Array.from(got.subarray(r * cols, (r + 1) * cols)).every(Number.isNaN), `row ${r}`).toBe(true);
      gpu.release(tx, y);
    });
  }

  it('takes the last axis of a rank-3 tensor and writes into a given output', async () => {
    const gpu = await testGpu();
    const x = randomArray(2 * 3 * 5, 23, -4, 4);
    const tx = gpu.upload(x, [2, 3, 5]);
    const out = gpu.empty([2, 3, 5]);
    expect(await softmax(gpu, tx, { out, scale: 2 })).toBe(out);
    expectClose(await gpu.readF32(out), softmaxRef(x, 6, 5, { scale: 2 }), TOL, 'rank 3');
    gpu.release(tx, out);
  });
});

describe('softmax argument errors name the op and the argument', () => {
  it('rejects masks of the wrong shape, a bad scale, bad x and out', async () => {
    const gpu = await testGpu();
    const x = gpu.upload(new Float32Array(6 * 5), [6, 5]);
    const mask4 = gpu.upload(new Float32Array(4), [4]);
    const mask4x5 = gpu.upload(new Float32Array(20), [4, 5]);
    const idx = gpu.upload(new Uint32Array(30), [6, 5], 'u32');
    const small = gpu.empty([6, 4]);
    await expect(softmax(gpu, x, { mask: mask4 })).rejects.toThrow(/kernel 'softmax', binding 'mask': .*last dimension 5/);
    await expect(softmax(gpu, x, { mask: mask4x5 })).rejects.toThrow(/kernel 'softmax', binding 'mask': .*4 rows, which do not divide the 6 rows/);
    await expect(softmax(gpu, x, { scale: Infinity })).rejects.toThrow(/kernel 'softmax': scale = Infinity/);
    await expect(softmax(gpu, idx)).rejects.toThrow(/kernel 'softmax', binding 'x': .*must be f32/);
    await expect(softmax(gpu, x, { out: small })).rejects.toThrow(/kernel 'softmax', binding 'y'/);
    await expect(softmax(gpu, x, { variant: 'warp' as RowVariant })).rejects.toThrow(/kernel 'softmax': unknown variant 'warp'/);
    gpu.release(x, mask4, mask4x5, idx, small);
  });
});
