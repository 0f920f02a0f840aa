// Fused multi-head attention (src/kernels/attention.ts) against the float64 reference of
// test/helpers/attention-ref.ts, both variants forced on whatever adapter runs the tests.
//
// Tolerances follow from the logits. A logit is an f32 dot product over the head dim, off by a
// small multiple of ε·κ (ε = 2⁻²³; κ = max scale · Σ_d |q_d k_d| over visible pairs, which the
// reference reports as `logitCondition`); an error δ in a logit moves each probability by a factor
// e^δ ≈ 1 + δ, so probabilities are off by ≲ ε·κ. O = Σ_j p_j v_j adds the f32 rounding of sums
// over L keys (≈ √L·ε·max|v| in practice) to max|v| times the probability error. Hence
//   P atol = 1e-7 + ε·κ,   O atol = ε·max|v|·(κ + 2√L).
// Measured maxima were 3–20× below these (L = 197, |q|,|k|,|v| ≤ 3, κ ≈ 28: O 3.2e-6 of 2.0e-5,
// P 1.8e-7 of 3.4e-6; logits up to ±137, κ ≈ 290: O 6.1e-6 of 3.6e-5, P 7.0e-6 of 3.5e-5). For
// |q|, |k|, |v| ≤ 1 (κ ≈ 3) this is P atol 5e-7 and O atol 4e-6.
import { describe, expect, it } from 'vitest';
import { attention, attentionLayout, tiledKeys, tiledWorkgroupBytes, type AttentionOptions, type AttentionVariant } from '../../src/kernels/attention.js';
import { matmul } from '../../src/kernels/matmul.js';
import { softmax } from '../../src/kernels/softmax.js';
import { permute } from '../../src/kernels/layout.js';
import { Tensor } from '../../src/gpu/tensor.js';
import { attentionRef, splitQkv, type AttentionRefResult } from '../helpers/attention-ref.js';
import { testGpu } from '../helpers/gpu.js';
import { expectClose, randomArray } from '../helpers/reference.js';

const EPS = 2 ** -23;

interface Case {
  batch: number;
  len: number;
  heads: number;
  headDim: number;
  causal?: boolean;
  /** q, k in [-qk, qk]; v in [-1, 1]·vMag. */
  qk?: number;
  vMag?: number;
  scale?: number;
  seed?: number;
}

function caseName(c: Case): string {
  return `B=${c.batch} L=${c.len} H=${c.heads} hd=${c.headDim}${c.causal ? ' causal' : ''}${c.qk && c.qk > 3 ? ` |q|,|k|≤${c.qk}` : ''}${c.scale !== undefined ? ` scale=${c.scale}` : ''}`;
}

function makeQkv(c: Case): Float32Array {
  const d = c.heads * c.headDim;
  const tokens = c.batch * c.len;
  const qk = c.qk ?? 3, vMag = c.vMag ?? 3;
  const seed = (c.seed ?? 1) * 7919 + c.len * 31 + c.heads * 7 + c.headDim;
  const qkv = randomArray(tokens * 3 * d, seed, -qk, qk);
  // v gets its own range (it does not feed the logits).
  const v = randomArray(tokens * d, seed + 1, -vMag, vMag);
  for (let t = 0; t < tokens; t++) qkv.set(v.subarray(t * d, (t + 1) * d), t * 3 * d + 2 * d);
  return qkv;
}

const refs = new Map<string, { qkv: Float32Array; ref: AttentionRefResult }>();
function reference(c: Case): { qkv: Float32Array; ref: AttentionRefResult } {
  const key = JSON.stringify(c);
  let hit = refs.get(key);
  if (!hit) {
    const qkv = makeQkv(c);
    const ref = attentionRef({ qkv, batch: c.batch, len: c.len, heads: c.heads, headDim: c.headDim, scale: c.scale ?? 1 / Math.sqrt(c.headDim), causal: c.causal ?? false });
    refs.set(key, (hit = { qkv, ref }));
  }
  return hit;
}

function tolerances(ref: AttentionRefResult, len: number): { out: number; probs: number } {
  return { out: EPS * ref.maxAbsV * (ref.logitCondition + 2 * Math.sqrt(len)), probs: 1e-7 + EPS * ref.logitCondition };
}

async function check(c: Case, variant: AttentionVariant, opts: { probs?: boolean; rowsPerInvocation?: 1 | 2 | 4 } = {}): Promise<void> {
  const gpu = await testGpu();
  const { qkv, ref } = reference(c);
  const d = c.heads * c.headDim;
  const t = gpu.upload(qkv, [c.batch, c.len, 3 * d]);
  const r = await attention(gpu, t, { heads: c.heads, causal: c.causal, scale: c.scale, variant, probs: opts.probs, rowsPerInvocation: opts.rowsPerInvocation });
  expect(r.out.shape).toEqual([c.batch, c.len, d]);
  const tol = tolerances(ref, c.len);
  const what = `${variant} ${caseName(c)}`;
  expectClose(await gpu.readF32(r.out), ref.out, { atol: tol.out }, `${what}: O`);
  if (opts.probs) {
    expect(r.probs!.shape).toEqual([c.batch, c.len, c.len]);
    expectClose(await gpu.readF32(r.probs!), ref.probs, { atol: tol.probs }, `${what}: probabilities`);
    gpu.release(r.probs!);
  }
  gpu.release(t, r.out);
}

// The sizes: single token; tiny odd; CLIP text (77, causal); ViT-B/16 at 224 (197); ViT-B/16 at
// 448 (769, once per variant, the only large one).
const MAIN_CASES: Case[] = [
  { batch: 1, len: 1, heads: 1, headDim: 64 },
  { batch: 2, len: 7, heads: 3, headDim: 64 },
  { batch: 1, len: 77, heads: 12, headDim: 64, causal: true },
  { batch: 2, len: 197, heads: 12, headDim: 64 },
];
// |q|, |k| ≤ 10 with hd 64: logits reach ~±100, so exp overflows f32 without max-subtraction.
const LARGE_LOGITS: Case = { batch: 2, len: 50, heads: 3, headDim: 64, qk: 10, vMag: 1 };

describe('attention, register variant (SwiftShader) vs float64', () => {
  for (const c of MAIN_CASES) it(caseName(c), () => check(c, 'register'));

  it('L=769, 12 heads, with probabilities', () => check({ batch: 1, len: 769, heads: 12, headDim: 64 }, 'register', { probs: true }));

  it('large logits (|s| ~ 100) stay finite and exact', async () => {
    expect(reference(LARGE_LOGITS).ref.maxLogit).toBeGreaterThan(88); // e^88.7 overflows f32
    await check(LARGE_LOGITS, 'register', { probs: true });
    await check({ ...LARGE_LOGITS, causal: true, seed: 2 }, 'register');
  });

  it('1, 2 and 4 query rows per invocation, causal or not, a partial chunk (hd 12), own scale', async () => {
    for (const rows of [1, 2, 4] as const) {
      for (const causal of [false, true]) {
        // 33 rows: not a multiple of rows·16 (the workgroup's rows), nor of the 2-key step, nor of
        // the probabilities' 4×4 blocks.
        await check({ batch: 2, len: 33, heads: 2, headDim: 12, causal, scale: 0.3 }, 'register', { rowsPerInvocation: rows, probs: true });
      }
    }
  });

  it('head dims 4, 72 (4.5 register chunks) and 128 (eight)', async () => {
    await check({ batch: 1, len: 9, heads: 3, headDim: 4 }, 'register');
    await check({ batch: 1, len: 19, heads: 2, headDim: 72, causal: true }, 'register', { rowsPerInvocation: 1 });
    await check({ batch: 1, len: 21, heads: 2, headDim: 128 }, 'register', { rowsPerInvocation: 1 });
  });
});

describe('attention, tiled variant (real GPUs) vs float64', () => {
  for (const c of MAIN_CASES) it(caseName(c), () => check(c, 'tiled'));

  it('L=769, one head (many K/V tiles), with probabilities', () => check({ batch: 1, len: 769, heads: 1, headDim: 64 }, 'tiled', { probs: true }));

  it('large logits (|s| ~ 100)', () => check(LARGE_LOGITS, 'tiled', { probs: true }));

  it('head dims 12 and 72, causal, own scale', async () => {
    await check({ batch: 2, len: 33, heads: 2, headDim: 12, causal: true, scale: 0.3 }, 'tiled');
    await check({ batch: 1, len: 50, heads: 2, headDim: 72, causal: true }, 'tiled');
  });
});

describe('head-averaged attention probabilities', () => {
  for (const variant of ['register', 'tiled'] as const) {
    it(`${variant}: L = 7 (B=2), 77 causal, 197 (12 heads)`, async () => {
      await check({ batch: 2, len: 7, heads: 3, headDim: 64 }, variant, { probs: true });
      await check({ batch: 1, len: 77, heads: 12, headDim: 64, causal: true }, variant, { probs: true });
      await check({ batch: 1, len: 197, heads: 12, headDim: 64 }, variant, { probs: true });
    });
  }

  it('rows sum to 1; causal entries above the diagonal are exactly 0', async () => {
    const gpu = await testGpu();
    const c: Case = { batch: 1, len: 77, heads: 12, headDim: 64, causal: true };
    const t = gpu.upload(reference(c).qkv, [1, 77, 3 * 768]);
    const r = await attention(gpu, t, { heads: 12, causal: true, probs: true });
    const p = await gpu.readF32(r.probs!);
    for (let i = 0; i < 77; i++) {
      let sum = 0;
      for (let j = 0; j < 77; j++) {
        sum += p[i * 77 + j]!;
        if (j > i) expect(p[i * 77 + j], `P̄[${i}, ${j}]`).toBe(0);
      }
      // 77 terms of at most 1, each with ~1e-7 relative error.
      expect(Math.abs(sum - 1), `row ${i} sum`).toBeLessThan(2e-6);
    }
    gpu.release(t, r.out, r.probs!);
  });

  it('probsOut and accumulateProbs add the maps of several layers', async () => {
    const gpu = await testGpu();
    const a: Case = { batch: 2, len: 50, heads: 3, headDim: 64, seed: 3 };
    const b: Case = { ...a, seed: 4 };
    const ra = reference(a), rb = reference(b);
    const ta = gpu.upload(ra.qkv, [2, 50, 576]), tb = gpu.upload(rb.qkv, [2, 50, 576]);
    const start = randomArray(2 * 50 * 50, 5, 0, 1);
    const acc = gpu.upload(start, [2, 50, 50]);
    for (const variant of ['register', 'tiled'] as const) {
      gpu.write(acc, start);
      const r1 = await attention(gpu, ta, { heads: 3, probsOut: acc, accumulateProbs: true, variant });
      expect(r1.probs).toBe(acc);
      const r2 = await attention(gpu, tb, { heads: 3, probsOut: acc, accumulateProbs: true, variant });
      const want = start.map((s, i) => s + ra.ref.probs[i]! + rb.ref.probs[i]!);
      expectClose(await gpu.readF32(acc), want, { atol: 2 * tolerances(ra.ref, 50).probs + 1e-7 }, `${variant}: accumulated probabilities`);
      // Without accumulate, probsOut is overwritten.
      const r3 = await attention(gpu, ta, { heads: 3, probsOut: acc, variant });
      expectClose(await gpu.readF32(acc), ra.ref.probs, { atol: tolerances(ra.ref, 50).probs }, `${variant}: overwritten probabilities`);
      gpu.release(r1.out, r2.out, r3.out);
    }
    gpu.release(ta, tb, acc);
  });
});

describe('attention input layouts and options', () => {
  it('separate Q, K, V give exactly the packed result; rank-2 input gives rank-2 outputs', async () => {
    const gpu = await testGpu();
    const c: Case = { batch: 2, len: 13, heads: 3, headDim: 64 };
    const { qkv } = reference(c);
    const packed = gpu.upload(qkv, [2, 13, 576]);
    const parts = splitQkv(qkv, 26, 192);
    const q = gpu.upload(parts.q, [2, 13, 192]), k = gpu.upload(parts.k, [2, 13, 192]), v = gpu.upload(parts.v, [2, 13, 192]);
    for (const variant of ['register', 'tiled'] as const) {
      const a = await attention(gpu, packed, { heads: 3, variant, probs: true });
      const b = await attention(gpu, { q, k, v }, { heads: 3, variant, probs: true });
      expect(Array.from(await gpu.readF32(b.out))).toEqual(Array.from(await gpu.readF32(a.out)));
      expect(Array.from(await gpu.readF32(b.probs!))).toEqual(Array.from(await gpu.readF32(a.probs!)));
      gpu.release(a.out, a.probs!, b.out, b.probs!);
    }
    // [L, 3D] for a single sequence: the first batch item.
    const single = gpu.upload(qkv.subarray(0, 13 * 576), [13, 576]);
    const out = gpu.empty([13, 192]);
    const r = await attention(gpu, single, { heads: 3, probs: true, out });
    expect(r.out).toBe(out);
    expect(r.probs!.shape).toEqual([13, 13]);
    const full = await attention(gpu, packed, { heads: 3, probs: true });
    expect(Array.from(await gpu.readF32(out))).toEqual(Array.from(await gpu.readF32(full.out)).slice(0, 13 * 192));
    expect(Array.from(await gpu.readF32(r.probs!))).toEqual(Array.from(await gpu.readF32(full.probs!)).slice(0, 13 * 13));
    gpu.release(packed, q, k, v, single, out, r.probs!, full.out, full.probs!);
  });

  it('agrees with the unfused path: matmul Q·Kᵀ, softmax, matmul P·V', async () => {
    const gpu = await testGpu();
    const [B, L, H, hd] = [1, 77, 4, 64];
    for (const causal of [false, true]) {
      const c: Case = { batch: B, len: L, heads: H, headDim: hd, causal };
      const { qkv, ref } = reference(c);
      const t = gpu.upload(qkv, [B, L, 3, H, hd]);
      // [B, L, 3, H, hd] → [3, B, H, L, hd]; q, k, v are the three [B·H, L, hd] slabs.
      const split = await permute(gpu, t, [2, 0, 3, 1, 4]);
      const slab = B * H * L * hd * 4;
      const [q, k, v] = [0, 1, 2].map((i) => new Tensor([B * H, L, hd], 'f32', split.buffer, split.byteOffset + i * slab));
      const s = await matmul(gpu, q!, k!, { transB: true, alpha: 1 / Math.sqrt(hd) });
      let mask: Tensor | undefined;
      if (causal) {
        const m = new Float32Array(L * L);
        for (let i = 0; i < L; i++) for (let j = i + 1; j < L; j++) m[i * L + j] = -Infinity;
        mask = gpu.upload(m, [L, L]);
      }
      const p = await softmax(gpu, s, { mask });
      const oh = await matmul(gpu, p, v!); // [B·H, L, hd]
      const unfused = await permute(gpu, oh.view([B, H, L, hd]), [0, 2, 1, 3]);
      const fused = await attention(gpu, t.view([B, L, 3 * H * hd]), { heads: H, causal });
      // Both paths are f32 with different summation orders; each is within the tolerance of the
      // float64 reference, so they agree within twice that.
      expectClose(await gpu.readF32(fused.out), await gpu.readF32(unfused), { atol: 2 * tolerances(ref, L).out }, `fused vs unfused${causal ? ' (causal)' : ''}`);
      gpu.release(t, split, s, p, oh, unfused, fused.out, ...(mask ? [mask] : []));
    }
  });

  it('tiledKeys picks the largest K/V tile that fits the workgroup storage', () => {
    expect(tiledKeys(64, 32, { maxComputeWorkgroupStorageSize: 32768 })).toBe(32);
    expect(tiledKeys(64, 32, { maxComputeWorkgroupStorageSize: 16384 })).toBe(16);
    expect(tiledKeys(128, 32, { maxComputeWorkgroupStorageSize: 16384 })).toBe(8);
    expect(tiledWorkgroupBytes(64, 16)).toBe(16 * 64 * 5 + 4 * 16 * 64);
    expect(() => tiledKeys(128, 32, { maxComputeWorkgroupStorageSize: 2048 })).toThrow(/attention\.tiled.*head dim 128.*2048/);
  });
});

describe('attention rejects bad arguments, naming the culprit', () => {
  it('shapes', () => {
    expect(() => attentionLayout({ qkv: [1, 7, 768 * 3] }, 5)).toThrow(/D = 768 .* not a multiple of heads = 5/);
    expect(() => attentionLayout({ qkv: [1, 7, 1000] }, 4)).toThrow(/binding 'qkv'.*width 1000, not 3·D/);
    expect(() => attentionLayout({ qkv: [1, 7, 90] }, 3)).toThrow(/head dim D \/ heads = 30 \/ 3 = 10 is not supported/);
    expect(() => attentionLayout({ qkv: [1, 7, 3 * 256] }, 1)).toThrow(/head dim .* = 256 is not supported .* to 128/);
    expect(() => attentionLayout({ qkv: [7 * 3 * 64] }, 1)).toThrow(/binding 'qkv'.*must be \[B, L, width\] or \[L, width\]/);
    expect(() => attentionLayout({ qkv: [1, 1, 7, 192] }, 1)).toThrow(/must be \[B, L, width\]/);
    expect(() => attentionLayout({ qkv: [1, 7, 192] }, 0)).toThrow(/heads = 0 must be a positive integer/);
    expect(() => attentionLayout({ qkv: [1, 7, 192] }, 1.5)).toThrow(/heads = 1.5/);
    expect(() => attentionLayout({ q: [1, 7, 64], k: [1, 7, 64], v: [1, 8, 64] }, 1)).toThrow(/binding 'v'.*\[1, 8, 64\] differs from q \[1, 7, 64\]/);
    expect(attentionLayout({ qkv: [2, 197, 2304] }, 12)).toMatchObject({ batch: 2, len: 197, headDim: 64, rowStride: 2304, kOff: 768, vOff: 1536, outShape: [2, 197, 768] });
  });

  it('tensors and options', async () => {
    const gpu = await testGpu();
    const qkv = gpu.upload(randomArray(7 * 192, 1), [1, 7, 192]);
    const ints = gpu.empty([1, 7, 192], 'i32');
    const run = (o: Partial<AttentionOptions>, input: Tensor = qkv) => attention(gpu, input, { heads: 1, ...o });
    await expect(run({}, ints)).rejects.toThrow(/kernel 'attention', binding 'qkv'.*must be f32/);
    await expect(run({ heads: 3 }, gpu.empty([1, 7, 191]))).rejects.toThrow(/width 191/);
    await expect(run({ scale: NaN })).rejects.toThrow(/scale = NaN must be finite/);
    await expect(run({ out: gpu.empty([1, 7, 63]) })).rejects.toThrow(/binding 'o'.*does not match the output \[1, 7, 64\]/);
    await expect(run({ out: qkv })).rejects.toThrow(/binding 'o'.*out .* does not match|out overlaps/);
    await expect(run({ out: new Tensor([1, 7, 64], 'f32', qkv.buffer, 0) })).rejects.toThrow(/out overlaps q/);
    await expect(run({ probsOut: gpu.empty([1, 7, 8]) })).rejects.toThrow(/binding 'probs'.*does not match the probabilities \[1, 7, 7\]/);
    await expect(run({ accumulateProbs: true })).rejects.toThrow(/accumulateProbs needs probsOut/);
    await expect(run({ variant: 'naive' as AttentionVariant })).rejects.toThrow(/unknown variant 'naive' \(known: register, tiled\)/);
    await expect(run({ rowsPerInvocation: 3 as 1 })).rejects.toThrow(/rowsPerInvocation = 3 must be 1, 2 or 4/);
    await expect(attention(gpu, { q: qkv, k: qkv, v: ints }, { heads: 1 })).rejects.toThrow(/binding 'v'.*must be f32/);
    gpu.release(qkv, ints);
  });
});
