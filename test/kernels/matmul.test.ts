// Every matmul variant (forced, so all of them run on SwiftShader too) against a float64 reference,
// with the per-element error bound of test/helpers/matmul-ref.ts: γ_K·|alpha|·Σ_k|a·b| for the dot
// product (K·2⁻²⁴ relative to the sum of magnitudes, valid for any summation order, fma or not,
// split or not) plus one rounding per epilogue step, scaled by the activation's slope.
import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/context.js';
import type { Tensor } from '../../src/gpu/tensor.js';
import type { Activation } from '../../src/kernels/activation.js';
import { MATMUL_VARIANTS, matmul, type MatmulPlan, type MatmulVariant } from '../../src/kernels/matmul.js';
import { testGpu } from '../helpers/gpu.js';
import { expectWithin, matmulRef, transposed } from '../helpers/matmul-ref.js';
import { randomArray } from '../helpers/reference.js';

interface Case {
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
  /** Batch items of A and B; 1 with batch > 1 on the other side means broadcast. */
  batchA?: number;
  batchB?: number;
  alpha?: number;
  bias?: boolean;
  activation?: Activation;
  residual?: 'tensor' | 'inPlace';
}

let seed = 1;

/** Run one case with one variant (or plan) and check it against the reference. */
async function check(gpu: Gpu, variant: MatmulVariant | MatmulPlan, c: Case): Promise<void> {
  const { m, n, k } = c;
  const batchA = c.batchA ?? 1, batchB = c.batchB ?? 1;
  const batch = Math.max(batchA, batchB);
  const opA = Array.from({ length: batchA }, () => randomArray(m * k, seed++));
  const opB = Array.from({ length: batchB }, () => randomArray(k * n, seed++));
  const stored = (xs: Float32Array[], rows: number, cols: number, t: boolean) => {
    const out = new Float32Array(xs.length * rows * cols);
    xs.forEach((x, i) => out.set(t ? transposed(x, rows, cols) : x, i * rows * cols));
    return out;
  };
  const shape = (items: number, rows: number, cols: number, t: boolean) => [...(items > 1 ? [items] : []), ...(t ? [cols, rows] : [rows, cols])];
  const a = gpu.upload(stored(opA, m, k, !!c.transA), shape(batchA, m, k, !!c.transA));
  const b = gpu.upload(stored(opB, k, n, !!c.transB), shape(batchB, k, n, !!c.transB));
  const biasData = c.bias ? randomArray(n, seed++) : undefined;
  const residualData = c.residual ? randomArray(batch * m * n, seed++) : undefined;
  const bias = biasData && gpu.upload(biasData, [n]);
  const outShape = [...(batch > 1 ? [batch] : []), m, n];
  const residual = residualData && gpu.upload(residualData, outShape);
  const out = c.residual === 'inPlace' ? residual : undefined;

  const y = await matmul(gpu, a, b, {
    transA: c.transA,
    transB: c.transB,
    alpha: c.alpha,
    bias,
    activation: c.activation,
    residual,
    out,
    variant,
  });
  expect(y.shape).toEqual(outShape);
  const got = await gpu.readF32(y);
  const ref = matmulRef({
    m, n, k,
    a: Array.from({ length: batch }, (_, i) => opA[batchA > 1 ? i : 0]!),
    b: Array.from({ length: batch }, (_, i) => opB[batchB > 1 ? i : 0]!),
    alpha: c.alpha, bias: biasData, activation: c.activation, residual: residualData,
  });
  const name = typeof variant === 'string' ? variant : JSON.stringify(variant);
  expectWithin(got, ref.c, ref.tol, `${name} ${JSON.stringify(c)}`);
  const owned = [a, b, bias, residual, y === residual ? undefined : y].filter((t): t is Tensor => !!t);
  gpu.release(...owned);
}

const TRANSPOSES = [
  { transA: false, transB: false },
  { transA: false, transB: true },
  { transA: true, transB: false },
  { transA: true, transB: true },
];

// Non-multiples of every tile (4, 8, 32, 64, BK 16, gemv's 4 and 64), K not a multiple of 4.
const SMALL = [
  { m: 1, n: 1, k: 1 },
  { m: 7, n: 13, k: 5 },
  { m: 33, n: 70, k: 19 },
  { m: 65, n: 9, k: 130 },
];

describe('matmul variants vs float64', () => {
  for (const variant of MATMUL_VARIANTS) {
    it(`${variant}: all transposes at small awkward sizes`, async () => {
      const gpu = await testGpu();
      for (const t of TRANSPOSES) for (const s of SMALL) await check(gpu, variant, { ...s, ...t });
    });

    it(`${variant}: ViT-like 197×768×64 (and Linear-style transB)`, async () => {
      const gpu = await testGpu();
      // gemv does 4 rows per workgroup and is meant for M ≤ 4: check it at its own shape, with
      // the same long N and K, and at M = 197 with a narrower N to keep the runtime modest.
      if (variant === 'gemv') {
        await check(gpu, variant, { m: 3, n: 768, k: 197, transB: true });
        await check(gpu, variant, { m: 197, n: 40, k: 64 });
      } else {
        await check(gpu, variant, { m: 197, n: 768, k: 64, transB: true, bias: true, activation: 'quickgelu' });
        await check(gpu, variant, { m: 197, n: 64, k: 768, transA: true });
      }
    });

    it(`${variant}: 4097 on each dim`, async () => {
      const gpu = await testGpu();
      await check(gpu, variant, { m: 4097, n: 5, k: 3 });
      await check(gpu, variant, { m: 3, n: 4097, k: 6, transB: true });
      await check(gpu, variant, { m: 2, n: 5, k: 4097, transA: true });
    });

    // Pipelines are compiled per (variant, transposes, epilogue) and cost 0.1–1 s each on
    // SwiftShader, so the cases below reuse a few combinations; the epilogue code itself is shared
    // (matmul/epilogue.wgsl) and is checked in full on the register and split-K kernels.
    const FULL_EPILOGUE = { transB: true, alpha: -2, bias: true, activation: 'gelu', residual: 'tensor' } as const;
    const IN_PLACE = { transB: true, alpha: 0.125, bias: true, residual: 'inPlace' } as const;

    it(`${variant}: epilogues (alpha, bias, relu/gelu/quickgelu, residual, in-place residual)`, async () => {
      const gpu = await testGpu();
      const base = { m: 37, n: 45, k: 29 };
      await check(gpu, variant, { ...base, ...FULL_EPILOGUE });
      await check(gpu, variant, { ...base, ...IN_PLACE });
      if (variant === 'register' || variant === 'splitk') {
        await check(gpu, variant, { ...base, transB: true, bias: true, activation: 'relu' });
        await check(gpu, variant, { ...base, transB: true, activation: 'quickgelu', residual: 'tensor' });
      }
    });

    it(`${variant}: batches, with B or A broadcast`, async () => {
      const gpu = await testGpu();
      await check(gpu, variant, { m: 19, n: 11, k: 23, batchA: 3, batchB: 3 });
      await check(gpu, variant, { m: 19, n: 11, k: 23, batchA: 3, batchB: 1, ...FULL_EPILOGUE });
      await check(gpu, variant, { m: 19, n: 11, k: 23, batchA: 1, batchB: 4, transA: true });
    });

    it(`${variant}: K = 0 gives the epilogue of zero; an empty M gives an empty C`, async () => {
      const gpu = await testGpu();
      await check(gpu, variant, { m: 5, n: 6, k: 0, ...FULL_EPILOGUE });
      const a = gpu.upload(new Float32Array(0), [0, 4]);
      const b = gpu.upload(randomArray(12, 3), [4, 3]);
      const y = await matmul(gpu, a, b, { variant });
      expect(y.shape).toEqual([0, 3]);
      gpu.release(a, b, y);
    });
  }

  it('splitk with several slices and a K that is not a multiple of the chunk', async () => {
    const gpu = await testGpu();
    for (const partial of [
      { variant: 'register', tm: 8, tn: 4, wgM: 2, wgN: 4, fused: true },
      { variant: 'tiled', wgM: 4, wgN: 8, bk: 8, fused: false },
    ] as const) {
      const plan = { variant: 'splitk', kChunk: 37, partial } as const;
      await check(gpu, plan, { m: 9, n: 21, k: 300, transB: true, bias: true, activation: 'gelu', residual: 'tensor', batchA: 2, batchB: 1 });
    }
  });

  it('other register, tiled and gemv plans (4×4 and 8×4 blocks, fma, small tiles)', async () => {
    const gpu = await testGpu();
    // The 4×4 register block with every transpose; the rest with one each.
    for (const t of TRANSPOSES) await check(gpu, { variant: 'register', tm: 4, tn: 4, wgM: 4, wgN: 4, fused: false }, { m: 27, n: 22, k: 41, ...t, bias: true });
    const plans: Array<[MatmulPlan, (typeof TRANSPOSES)[number]]> = [
      [{ variant: 'register', tm: 8, tn: 4, wgM: 1, wgN: 16, fused: true }, TRANSPOSES[1]!],
      [{ variant: 'register', tm: 4, tn: 8, wgM: 3, wgN: 2, fused: false }, TRANSPOSES[2]!],
      [{ variant: 'tiled', wgM: 8, wgN: 4, bk: 4, fused: true }, TRANSPOSES[3]!],
      [{ variant: 'gemv', wg: 16, fused: false }, TRANSPOSES[0]!],
    ];
    for (const [plan, t] of plans) await check(gpu, plan, { m: 27, n: 22, k: 41, ...t, bias: true });
  });

  it('keeps leading batch dims and leading 1s in the output shape', async () => {
    const gpu = await testGpu();
    const a = gpu.upload(randomArray(2 * 3 * 4 * 5, 1), [2, 3, 4, 5]);
    const b = gpu.upload(randomArray(5 * 6, 2), [1, 5, 6]);
    const y = await matmul(gpu, a, b);
    expect(y.shape).toEqual([2, 3, 4, 6]);
    const got = await gpu.readF32(y);
    const A = await gpu.readF32(a), B = await gpu.readF32(b);
    const ref = matmulRef({ m: 4, n: 6, k: 5, a: Array.from({ length: 6 }, (_, i) => A.subarray(i * 20, i * 20 + 20)), b: Array.from({ length: 6 }, () => B) });
    expectWithin(got, ref.c, ref.tol, 'batched [2, 3, 4, 5] · [1, 5, 6]');
    gpu.release(a, b, y);
  });
});

describe('matmul argument checks', () => {
  async function tensors(gpu: Gpu, ...shapes: number[][]): Promise<Tensor[]> {
    return shapes.map((s) => gpu.upload(new Float32Array(s.reduce((x, y) => x * y, 1)), s));
  }

  it('names the mismatched K, both shapes and the transposes', async () => {
    const gpu = await testGpu();
    const [a, b] = await tensors(gpu, [4, 768], [512, 3]);
    await expect(matmul(gpu, a!, b!)).rejects.toThrow(/matmul.*K of A \(768\) ≠ K of B \(512\): A \[4, 768\], B \[512, 3\]/);
    await expect(matmul(gpu, a!, b!, { transB: true })).rejects.toThrow(/K of A \(768\) ≠ K of B \(3\).*B \[512, 3\] transposed/);
    gpu.release(a!, b!);
  });

  it('rejects rank < 2, batch dims that do not match, and bad bias/residual/out sizes', async () => {
    const gpu = await testGpu();
    const [v, a, b, a3, b4, bias, res, out] = await tensors(gpu, [5], [2, 3, 5], [5, 4], [3, 3, 5], [4, 5, 4], [3], [2, 3, 3], [7]);
    await expect(matmul(gpu, v!, b!)).rejects.toThrow(/matmul.*A must have rank ≥ 2.*\[5\]/);
    await expect(matmul(gpu, b!, v!)).rejects.toThrow(/matmul.*B must have rank ≥ 2/);
    await expect(matmul(gpu, a!, b4!)).rejects.toThrow(/matmul.*batch dims of A \[2\] and B \[4\] differ/);
    await expect(matmul(gpu, a3!, b4!)).rejects.toThrow(/batch dims of A \[3\] and B \[4\]/);
    await expect(matmul(gpu, a!, b!, { bias: bias! })).rejects.toThrow(/matmul.*bias .* has 3 elements; N is 4/);
    await expect(matmul(gpu, a!, b!, { residual: res! })).rejects.toThrow(/matmul.*residual .* has 18 elements; C is \[2, 3, 4\] \(24\)/);
    await expect(matmul(gpu, a!, b!, { out: out! })).rejects.toThrow(/matmul.*out .* has 7 elements; C is \[2, 3, 4\]/);
    gpu.release(v!, a!, b!, a3!, b4!, bias!, res!, out!);
  });

  it('rejects out aliasing an input, unknown variants, bad plans, non-f32 tensors', async () => {
    const gpu = await testGpu();
    const [a, b] = await tensors(gpu, [4, 4], [4, 4]);
    await expect(matmul(gpu, a!, b!, { out: a! })).rejects.toThrow(/matmul.*out overlaps A/);
    await expect(matmul(gpu, a!, b!, { variant: 'winograd' as MatmulVariant })).rejects.toThrow(/matmul.*unknown variant 'winograd' \(known: register, tiled, gemv, splitk\)/);
    await expect(matmul(gpu, a!, b!, { variant: { variant: 'register', tm: 5, tn: 4, wgM: 4, wgN: 4, fused: false } as unknown as MatmulPlan })).rejects.toThrow(
      /matmul.*register plan has tm = 5; it must be 4 or 8/,
    );
    await expect(matmul(gpu, a!, b!, { variant: { variant: 'tiled', wgM: 32, wgN: 32, bk: 16, fused: true } })).rejects.toThrow(
      /matmul-tiled.*1024 invocations per workgroup; this device allows 256/,
    );
    const i = gpu.upload(new Int32Array(16), [4, 4], 'i32');
    await expect(matmul(gpu, i, b!)).rejects.toThrow(/matmul.*A is i32; matmul takes f32/);
    await expect(matmul(gpu, a!, b!, { activation: 'swish' as Activation })).rejects.toThrow(/unknown activation 'swish'/);
    gpu.release(a!, b!, i);
  });
});
