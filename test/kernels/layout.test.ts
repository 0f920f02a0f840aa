// Layout kernels (permute / transpose, slice, concat, copy, gather rows) against plain index
// arithmetic on the host. They move bits and compute nothing, so every comparison is exact.
import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/context.js';
import { numel, type Tensor } from '../../src/gpu/tensor.js';
import {
  COPY_PLAN,
  concat,
  copy,
  gatherRows,
  permute,
  planCopy,
  slice,
  transpose,
  type SliceRange,
  type TransposeVariant,
} from '../../src/kernels/layout.js';
import { testGpu } from '../helpers/gpu.js';

const strides = (shape: readonly number[]) => shape.map((_, k) => numel(shape.slice(k + 1)));

/** Host reference: out[i] = x[Σ coord_k(i) · srcStride_k + base] over `shape`. */
function gatherRef(x: ArrayLike<number>, shape: readonly number[], srcStrides: readonly number[], base: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < numel(shape); i++) {
    let rest = i, off = base;
    for (let k = shape.length - 1; k >= 0; k--) {
      off += (rest % shape[k]!) * srcStrides[k]!;
      rest = Math.floor(rest / shape[k]!);
    }
    out.push(x[off]!);
  }
  return out;
}

/** Distinct values (element index + offset) so any misplaced element is caught. */
function iota(n: number, offset = 0): Uint32Array {
  return Uint32Array.from({ length: n }, (_, i) => i + offset);
}

async function readU32(gpu: Gpu, t: Tensor): Promise<number[]> {
  return Array.from(await gpu.read(t));
}

describe('permute', () => {
  const cases: Array<[number[], number[]]> = [
    [[12, 197, 64], [1, 0, 2]], // attention heads ↔ tokens: 64-word runs (vec4 path)
    [[197, 12, 64], [1, 2, 0]], // merges to a [197, 768] transpose
    [[197, 3, 12, 64], [1, 2, 0, 3]], // qkv split
    [[197, 12, 63], [1, 0, 2]], // odd inner run (scalar path)
    [[7, 1, 197], [2, 1, 0]],
    [[4097], [0]],
    [[1], [0]],
    [[2, 3, 4, 5, 6, 7], [5, 3, 1, 0, 2, 4]], // rank 6, nothing merges
    [[3, 1, 5, 1, 7, 2], [4, 0, 5, 2, 1, 3]],
    [[2, 4097, 3], [2, 0, 1]],
  ];
  it('matches index arithmetic for f32, i32 and u32 at awkward shapes', async () => {
    const gpu = await testGpu();
    for (const [shape, perm] of cases) {
      for (const dtype of ['u32', 'f32', 'i32'] as const) {
        await checkPermute(gpu, shape, perm, dtype);
      }
    }
  });

  it('the real-GPU copy configuration (one element per invocation) also matches', async () => {
    const gpu = await testGpu();
    const kind = gpu.traits.adapter.kind;
    const saved = COPY_PLAN[kind];
    COPY_PLAN[kind] = COPY_PLAN.gpu.per === saved.per ? { wg: 64, per: 16 } : COPY_PLAN.gpu;
    try {
      for (const [shape, perm] of cases) await checkPermute(gpu, shape, perm, 'u32');
    } finally {
      COPY_PLAN[kind] = saved;
    }
  });

  async function checkPermute(gpu: Gpu, shape: number[], perm: number[], dtype: 'u32' | 'f32' | 'i32'): Promise<void> {
    const n = numel(shape);
    const data = dtype === 'f32' ? Float32Array.from(iota(n), (v) => v * 0.5 - 3) : dtype === 'i32' ? Int32Array.from(iota(n), (v) => -v) : iota(n);
    const x = gpu.upload(data, shape, dtype);
    const y = await permute(gpu, x, perm);
    expect(y.shape).toEqual(perm.map((p) => shape[p]));
    expect(y.dtype).toBe(dtype);
    const xs = strides(shape);
    expect(Array.from(await gpu.read(y)), `[${shape}] perm [${perm}] ${dtype}`).toEqual(gatherRef(data, y.shape, perm.map((p) => xs[p]!), 0));
    gpu.release(x, y);
  }

  it('every transpose kernel agrees on batched 2-D transposes of awkward sizes', async () => {
    const gpu = await testGpu();
    const shapes = [[1, 1], [7, 197], [197, 7], [33, 65], [3, 31, 17], [2, 4097, 5], [5, 2, 4097]];
    for (const variant of ['gather', 'block', 'tiled'] as TransposeVariant[]) {
      for (const shape of shapes) {
        const x = gpu.upload(iota(numel(shape), 5), shape, 'u32');
        const y = await transpose(gpu, x, -2, -1, { transposeVariant: variant });
        const perm = shape.map((_, k) => (k === shape.length - 2 ? k + 1 : k === shape.length - 1 ? k - 1 : k));
        const xs = strides(shape);
        expect(await readU32(gpu, y), `${variant} [${shape}]`).toEqual(gatherRef(iota(numel(shape), 5), y.shape, perm.map((p) => xs[p]!), 0));
        gpu.release(x, y);
      }
    }
  });

  it('plans the cheap kernel for common transformer layouts', () => {
    const dense = (shape: number[], perm: number[]) => {
      const xs = strides(shape);
      const out = perm.map((p) => shape[p]!);
      return { shape: out, srcStrides: perm.map((p) => xs[p]!), srcBase: 0, dstStrides: strides(out), dstBase: 0 };
    };
    expect(planCopy(dense([12, 197, 64], [1, 0, 2]), 151296, 151296, 'gpu')).toMatchObject({ kernel: 'strided_copy4', args: { shape: [197, 12, 16] } });
    expect(planCopy(dense([197, 12, 64], [1, 2, 0]), 151296, 151296, 'gpu')).toMatchObject({ kernel: 'transpose_tiled', args: { batch: 1, rows: 768, cols: 197, srcCol: 768 } });
    expect(planCopy(dense([197, 12, 64], [1, 2, 0]), 151296, 151296, 'swiftshader')).toMatchObject({ kernel: 'transpose_block' });
    expect(planCopy(dense([197, 12, 63], [1, 0, 2]), 148932, 148932, 'gpu')).toMatchObject({ kernel: 'strided_copy', args: { shape: [12, 197, 63] } });
  });

  it('rejects bad permutations, naming the op and the culprit', async () => {
    const gpu = await testGpu();
    const x = gpu.upload(new Float32Array(24), [2, 3, 4]);
    await expect(permute(gpu, x, [0, 0, 1])).rejects.toThrow(/'permute'.*perm \[0, 0, 1\] is not a permutation of 0\.\.2/);
    await expect(permute(gpu, x, [1, 0])).rejects.toThrow(/'permute'.*perm \[1, 0\] has 2 axes but the input .* has rank 3/);
    await expect(permute(gpu, x, [0, 1, 3])).rejects.toThrow(/'permute'.*perm entry 3 is out of range for rank 3/);
    await expect(transpose(gpu, x, 0, 5)).rejects.toThrow(/'transpose'.*axis1 5 is out of range/);
    const big = gpu.upload(new Float32Array(1), [1, 1, 1, 1, 1, 1, 1]);
    await expect(permute(gpu, big, [0, 1, 2, 3, 4, 5, 6])).rejects.toThrow(/'permute'.*rank 7; at most 6/);
    const half = gpu.empty([2, 2], 'f16');
    await expect(permute(gpu, half, [1, 0])).rejects.toThrow(/'permute'.*dtype f16; layout kernels move 4-byte elements/);
    gpu.release(x, big, half);
  });
});

describe('slice', () => {
  const cases: Array<[number[], SliceRange[]]> = [
    [[197, 768], [{ start: 1 }]], // drop the class token (vec4 path)
    [[7, 4097], [{ start: 2, stop: 7, step: 2 }, { start: 4095 }]],
    [[3, 197, 7], [{}, { start: 5, stop: 197, step: 3 }, { start: 6 }]],
    [[4097], [{ step: 4096 }]],
    [[2, 3, 4, 5, 6, 7], [{ start: 1 }, {}, { stop: 3, step: 2 }, {}, { start: 1, stop: 5 }, { step: 7 }]],
    [[5, 8], [{ start: 2, stop: 2 }]], // empty
  ];
  it('matches index arithmetic', async () => {
    const gpu = await testGpu();
    for (const [shape, ranges] of cases) {
      const data = iota(numel(shape), 11);
      const x = gpu.upload(data, shape, 'u32');
      const y = await slice(gpu, x, ranges);
      const xs = strides(shape);
      const want = shape.map((d, k) => {
        const r = ranges[k] ?? {};
        return Math.ceil(((r.stop ?? d) - (r.start ?? 0)) / (r.step ?? 1));
      });
      expect(y.shape).toEqual(want);
      const base = shape.reduce((acc, _, k) => acc + (ranges[k]?.start ?? 0) * xs[k]!, 0);
      expect(await readU32(gpu, y), `[${shape}] ${JSON.stringify(ranges)}`).toEqual(gatherRef(data, want, xs.map((s, k) => s * (ranges[k]?.step ?? 1)), base));
      gpu.release(x, y);
    }
  });

  it('rejects out-of-range slices, naming axis and bound', async () => {
    const gpu = await testGpu();
    const x = gpu.upload(new Float32Array(56), [7, 8]);
    await expect(slice(gpu, x, [{}, { stop: 9 }])).rejects.toThrow(/'slice'.*axis 1 \(length 8\): stop 9 is outside 0\.\.8/);
    await expect(slice(gpu, x, [{ start: 8 }])).rejects.toThrow(/'slice'.*axis 0 \(length 7\): start 8 is outside 0\.\.7/);
    await expect(slice(gpu, x, [{ start: 5, stop: 3 }])).rejects.toThrow(/axis 0 .*stop 3 is outside 5\.\.7/);
    await expect(slice(gpu, x, [{ start: -1 }])).rejects.toThrow(/axis 0 .*start -1 is outside/);
    await expect(slice(gpu, x, [{}, { step: 0 }])).rejects.toThrow(/axis 1 .*step 0 must be a positive integer/);
    await expect(slice(gpu, x, [{}, {}, {}])).rejects.toThrow(/'slice'.*3 ranges given for the input .* of rank 2/);
    gpu.release(x);
  });
});

describe('concat', () => {
  it('writes each input into its region along any axis', async () => {
    const gpu = await testGpu();
    const cases: Array<[number[][], number]> = [
      [[[2, 3, 4], [2, 5, 4], [2, 1, 4]], 1],
      [[[1, 7], [197, 7], [4097, 7]], 0],
      [[[7, 1], [7, 197], [7, 3]], -1],
      [[[3, 4]], 0],
      [[[2, 0, 3], [2, 2, 3]], 1], // an empty input
      // More inputs than a shader stage has storage bindings: one dispatch per input.
      [Array.from({ length: 13 }, (_, i) => [2, i + 1, 3]), 1],
    ];
    for (const [shapes, axis] of cases) {
      let offset = 0;
      const datas = shapes.map((s) => {
        const d = Int32Array.from(iota(numel(s), offset), (v) => -v);
        offset += numel(s);
        return d;
      });
      const xs = shapes.map((s, i) => gpu.upload(datas[i]!, s, 'i32'));
      const y = await concat(gpu, xs, axis);
      const ax = axis < 0 ? axis + shapes[0]!.length : axis;
      // Reference: walk the output, find which input each index along `ax` falls into.
      const want: number[] = [];
      for (let i = 0; i < y.size; i++) {
        let rest = i;
        const coord = new Array<number>(y.rank);
        for (let k = y.rank - 1; k >= 0; k--) {
          coord[k] = rest % y.shape[k]!;
          rest = Math.floor(rest / y.shape[k]!);
        }
        let j = 0, c = coord[ax]!;
        while (c >= shapes[j]![ax]!) c -= shapes[j++]![ax]!;
        const local = coord.map((v, k) => (k === ax ? c : v));
        want.push(datas[j]![local.reduce((acc, v, k) => acc + v * strides(shapes[j]!)[k]!, 0)]!);
      }
      expect(y.shape[ax]).toBe(shapes.reduce((s, t) => s + t[ax]!, 0));
      expect(await readU32(gpu, y).then((v) => v.map((u) => u | 0)), `${JSON.stringify(shapes)} axis ${axis}`).toEqual(want);
      gpu.release(...xs, y);
    }
  });

  it('rejects mismatched inputs, naming the input and the axis', async () => {
    const gpu = await testGpu();
    const a = gpu.upload(new Float32Array(6), [2, 3]);
    const b = gpu.upload(new Float32Array(8), [2, 4]);
    const c = gpu.upload(new Float32Array(6), [6]);
    const d = gpu.upload(new Int32Array(6), [2, 3], 'i32');
    await expect(concat(gpu, [a, b], 0)).rejects.toThrow(/'concat'.*input 1 has shape \[2, 4\], which differs from input 0 \[2, 3\] on axis 1/);
    await expect(concat(gpu, [a, c], 0)).rejects.toThrow(/'concat'.*input 1 .* has rank 1/);
    await expect(concat(gpu, [a, d], 0)).rejects.toThrow(/'concat'.*input 1 .* has dtype i32, input 0 has f32/);
    await expect(concat(gpu, [a, b], 2)).rejects.toThrow(/'concat'.*axis 2 is out of range for rank 2/);
    await expect(concat(gpu, [], 0)).rejects.toThrow(/'concat'.*no inputs/);
    gpu.release(a, b, c, d);
  });
});

describe('copy', () => {
  it('copies any element count exactly', async () => {
    const gpu = await testGpu();
    for (const n of [1, 7, 197, 4097, 4096]) {
      const x = gpu.upload(iota(n, 3), [n], 'u32');
      const y = await copy(gpu, x);
      expect(await readU32(gpu, y)).toEqual(Array.from(iota(n, 3)));
      gpu.release(x, y);
    }
  });
});

describe('gatherRows', () => {
  it('gathers rows for i32, u32 and host indices; out-of-range tensor indices give zero rows', async () => {
    const gpu = await testGpu();
    for (const [rows, rowShape] of [[197, [7]], [5, [2, 3]], [4097, [1]], [1, [768]]] as Array<[number, number[]]>) {
      const rowLen = numel(rowShape);
      const tableData = Float32Array.from(iota(rows * rowLen), (v) => v + 0.25);
      const table = gpu.upload(tableData, [rows, ...rowShape]);
      const picks = [0, rows - 1, Math.floor(rows / 2), 0, rows - 1, 3 % rows];
      const bad = [-1, rows, 1000000, -2147483648];
      const rowOf = (r: number) => (r >= 0 && r < rows ? Array.from(tableData.subarray(r * rowLen, (r + 1) * rowLen)) : new Array<number>(rowLen).fill(0));

      const i32 = [...picks, ...bad];
      const idx = gpu.upload(Int32Array.from(i32), [2, i32.length / 2], 'i32');
      const y = await gatherRows(gpu, table, idx);
      expect(y.shape).toEqual([2, i32.length / 2, ...rowShape]);
      expect(Array.from(await gpu.readF32(y)), `i32 rows=${rows}`).toEqual(i32.flatMap(rowOf));

      const u32 = [...picks, rows, 0xffffffff];
      const uidx = gpu.upload(Uint32Array.from(u32), [u32.length], 'u32');
      const yu = await gatherRows(gpu, table, uidx);
      expect(Array.from(await gpu.readF32(yu)), `u32 rows=${rows}`).toEqual(u32.flatMap(rowOf));

      const yh = await gatherRows(gpu, table, picks);
      expect(Array.from(await gpu.readF32(yh)), `host rows=${rows}`).toEqual(picks.flatMap(rowOf));
      gpu.release(table, idx, y, uidx, yu, yh);
    }
  });

  it('rejects bad host indices and non-integer index tensors, naming them', async () => {
    const gpu = await testGpu();
    const table = gpu.upload(new Float32Array(10), [5, 2]);
    await expect(gatherRows(gpu, table, [0, 4, 5])).rejects.toThrow(/'gatherRows'.*index 5 at position 2 is outside the table's rows 0\.\.4/);
    await expect(gatherRows(gpu, table, [-1])).rejects.toThrow(/'gatherRows'.*index -1 at position 0/);
    const f = gpu.upload(new Float32Array(2), [2]);
    await expect(gatherRows(gpu, table, f)).rejects.toThrow(/'gatherRows'.*indices .* must be i32 or u32, not f32/);
    gpu.release(table, f);
  });
});
