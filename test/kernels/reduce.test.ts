import { describe, expect, it } from 'vitest';
import { numel } from '../../src/gpu/tensor.js';
import { axisView, reduce, reducedShape, reduceWithIndex, REDUCE_OPS, type ReduceOp } from '../../src/kernels/reduce.js';
import { ROW_VARIANTS, type RowVariant } from '../../src/kernels/rows.js';
import { testGpu } from '../helpers/gpu.js';
import { expectClose, randomArray, rng } from '../helpers/reference.js';
import { reduceRef } from '../helpers/rows-ref.js';

// [shape, axis]: contiguous rows (inner = 1), strided axes (inner > 1), length-1 axes, awkward sizes.
const CASES: Array<[number[], number]> = [
  [[4097], 0],
  [[7, 197], 1],
  [[7, 197], 0],
  [[197, 768], -1],
  [[197, 768], 0],
  [[4097, 7], 0],
  [[1, 4097], 1],
  [[3, 197, 5], 1],
  [[2, 3, 4, 5], -2],
  [[7, 1], 1],
  [[1, 1], 0],
];

const U = 2 ** -24; // unit roundoff of f32
const OPS = Object.keys(REDUCE_OPS) as ReduceOp[];
const EXTREME: ReduceOp[] = ['max', 'min', 'argmax', 'argmin'];

/** Values on a grid of 0.25 in [-2, 2]: every row has many ties, so "first index" is tested. */
function tiedArray(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => Math.round(16 * r()) / 4 - 2);
}

describe('reductions vs float64, every variant forced', () => {
  for (const variant of ROW_VARIANTS) {
    it(`${variant}: ${OPS.join(', ')} over ${CASES.length} shape/axis cases`, async (ctx) => {
      const gpu = await testGpu();
      if (variant === 'subgroup' && !gpu.traits.features.subgroups) ctx.skip();
      for (const [shape, axis] of CASES) {
        const { outer, len, inner } = axisView(shape, axis);
        const n = numel(shape);
        const smooth = randomArray(n, n + axis, -2, 2);
        const tied = tiedArray(n, n + axis + 1);
        const tSmooth = gpu.upload(smooth, shape), tTied = gpu.upload(tied, shape);
        for (const op of OPS) {
          const extreme = EXTREME.includes(op);
          const data = extreme ? tied : smooth;
          const out = await reduce(gpu, extreme ? tTied : tSmooth, op, { axis, variant });
          expect(out.shape).toEqual(reducedShape(shape, axis, false));
          expect(out.dtype).toBe(op.startsWith('arg') ? 'u32' : 'f32');
          const got = await gpu.read(out);
          const { value, absSum } = reduceRef(data, outer, len, inner, op);
          const what = `${variant} ${op} [${shape.join(', ')}] axis ${axis}`;
          if (extreme) {
            // Max, min and their indices are exact (the first index among ties).
            expectClose(got, value, { atol: 0 }, what);
          } else {
            // Any order of f32 additions errs by at most (len − 1)·u·Σ|term|; the kernels' blocked,
            // lane-split sums err like a random walk, well inside 4·√len·u·Σ|term| (plus the final
            // rounding). l2 is the square root: half the relative error of its sum of squares.
            for (let i = 0; i < value.length; i++) {
              const sumTol = 4 * Math.sqrt(len) * U * absSum[i]! + U * Math.abs(value[i]!);
              const tol = op === 'mean' ? sumTol / len : op === 'l2' ? sumTol / (2 * Math.max(value[i]!, 1e-30)) + 2 * U * value[i]! : sumTol;
              if (!(Math.abs(got[i]! - value[i]!) <= tol)) throw new Error(`${what}: output ${i} got ${got[i]}, want ${value[i]} (tolerance ${tol})`);
            }
          }
          gpu.release(out);
        }
        gpu.release(tSmooth, tTied);
      }
    });

    it(`${variant}: sums of integers are exact (no element dropped or counted twice)`, async (ctx) => {
      const gpu = await testGpu();
      if (variant === 'subgroup' && !gpu.traits.features.subgroups) ctx.skip();
      for (const [shape, axis] of [[[7, 4097], 1], [[4097, 7], 0], [[3, 197, 5], 1]] as Array<[number[], number]>) {
        const r = rng(numel(shape));
        const x = Float32Array.from({ length: numel(shape) }, () => Math.floor(17 * r()) - 8);
        const t = gpu.upload(x, shape);
        const y = await reduce(gpu, t, 'sum', { axis, variant });
        const { outer, len, inner } = axisView(shape, axis);
        expectClose(await gpu.readF32(y), reduceRef(x, outer, len, inner, 'sum').value, { atol: 0 }, `${variant} integer sum [${shape.join(', ')}]`);
        gpu.release(t, y);
      }
    });

    it(`${variant}: NaN wins max/min and its first index; -inf rows; values with indices`, async (ctx) => {
      const gpu = await testGpu();
      if (variant === 'subgroup' && !gpu.traits.features.subgroups) ctx.skip();
      const rows = 5, cols = 197;
      const x = tiedArray(rows * cols, 99);
      x[0 * cols + 150] = NaN; // row 0: one NaN late in the row
      x[1 * cols + 3] = NaN; // row 1: two NaNs, the first one wins
      x[1 * cols + 100] = NaN;
      x.fill(-Infinity, 2 * cols, 3 * cols); // row 2: all -inf: max -inf at index 0
      x.fill(-Infinity, 3 * cols, 4 * cols); // row 3: -inf except one finite value
      x[3 * cols + 196] = -5;
      const t = gpu.upload(x, [rows, cols]);
      for (const op of ['max', 'min'] as const) {
        const { values, indices } = await reduceWithIndex(gpu, t, op, { variant, keepDims: true });
        expect(values.shape).toEqual([rows, 1]);
        const wantIdx = reduceRef(x, rows, cols, 1, op === 'max' ? 'argmax' : 'argmin').value;
        const wantVal = reduceRef(x, rows, cols, 1, op).value;
        expectClose(await gpu.read(indices), wantIdx, { atol: 0 }, `${variant} arg${op} with NaN and -inf`);
        expectClose(await gpu.readF32(values), wantVal, { atol: 0 }, `${variant} ${op} with NaN and -inf`);
        expect(Array.from(wantIdx.slice(0, 4))).toEqual(op === 'max' ? [150, 3, 0, 196] : [150, 3, 0, Array.from(x.subarray(3 * cols, 4 * cols)).indexOf(-Infinity)]);
        gpu.release(values, indices);
      }
      gpu.release(t);
    });
  }

  it('keeps dims on request and writes into a given output', async () => {
    const gpu = await testGpu();
    const x = randomArray(2 * 3 * 4, 5, -1, 1);
    const t = gpu.upload(x, [2, 3, 4]);
    const out = gpu.empty([2, 1, 4]);
    expect(await reduce(gpu, t, 'mean', { axis: 1, keepDims: true, out })).toBe(out);
    const want = reduceRef(x, 2, 3, 4, 'mean').value;
    expectClose(await gpu.readF32(out), want, { rtol: 4 * U, atol: 1e-7 }, 'mean keepDims');
    gpu.release(t, out);
  });

  it('reduces a scalar to itself and an empty axis of sum to 0', async () => {
    const gpu = await testGpu();
    const s = gpu.upload([2.5], []);
    const y = await reduce(gpu, s, 'l2', { axis: 0 });
    expect(y.shape).toEqual([]);
    expect(Array.from(await gpu.readF32(y))).toEqual([2.5]);
    const e = gpu.empty([3, 0]);
    const z = await reduce(gpu, e, 'sum', { axis: 1 });
    expect(Array.from(await gpu.readF32(z))).toEqual([0, 0, 0]);
    gpu.release(s, y, e, z);
  });
});

describe('reduction argument errors name the op and the argument', () => {
  it('rejects bad axes, ops, inputs and outputs', async () => {
    const gpu = await testGpu();
    const x = gpu.upload(new Float32Array(21), [3, 7]);
    const idx = gpu.upload(new Uint32Array(21), [3, 7], 'u32');
    const empty = gpu.empty([3, 0]);
    const f3 = gpu.empty([3]);
    await expect(reduce(gpu, x, 'sum', { axis: 2 })).rejects.toThrow(/kernel 'reduce sum': axis 2 is out of range for a rank-2 tensor \[3, 7\]/);
    await expect(reduce(gpu, x, 'argmax', { axis: -3 })).rejects.toThrow(/kernel 'reduce argmax': axis -3 is out of range/);
    await expect(reduce(gpu, x, 'sum', { axis: 0.5 })).rejects.toThrow(/axis 0.5 is out of range/);
    await expect(reduce(gpu, x, 'median' as ReduceOp)).rejects.toThrow(/kernel 'reduce': unknown op 'median'/);
    await expect(reduce(gpu, idx, 'sum')).rejects.toThrow(/kernel 'reduce sum', binding 'x': .*must be f32/);
    await expect(reduce(gpu, empty, 'max', { axis: 1 })).rejects.toThrow(/kernel 'reduce max': axis 1 of .* is empty/);
    await expect(reduce(gpu, x, 'argmax', { out: f3 })).rejects.toThrow(/kernel 'reduce argmax', binding 'index': .*\[3\] u32/);
    await expect(reduce(gpu, x, 'sum', { axis: 0, out: f3 })).rejects.toThrow(/kernel 'reduce sum', binding 'y': .*\[7\] f32/);
    await expect(reduce(gpu, x, 'sum', { variant: 'warp' as RowVariant })).rejects.toThrow(/kernel 'reduce sum': unknown variant 'warp'/);
    await expect(reduceWithIndex(gpu, x, 'sum' as 'max')).rejects.toThrow(/kernel 'reduceWithIndex': op must be 'max' or 'min'/);
    gpu.release(x, idx, empty, f3);
  });
});
