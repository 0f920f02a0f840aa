// The backward kernels of CLIP-ES's Grad-CAM (src/kernels/backward.ts) against float64 references
// computed from the same float32 inputs, at awkward sizes (1, 5, 7, 197, 4097 on one axis at a time).
import { describe, expect, it } from 'vitest';
import { camMinMax, clipHead, CLIP_HEAD_MAX_ROWS, layerNormBackward, quickGeluBackward, softmaxBackward } from '../../src/kernels/backward.js';
import { testGpu } from '../helpers/gpu.js';
import { expectClose, randomArray, rng } from '../helpers/reference.js';

function maxAbs(v: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]!));
  return Math.max(m, 1e-30);
}

/** Per-row mean and rstd in float64, rounded to f32 as the forward layernorm stores them. */
function statsOf(x: Float32Array, rows: number, cols: number, eps = 1e-5): Float32Array {
  const st = new Float32Array(2 * rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += x[r * cols + j]!;
    const m = s / cols;
    let v = 0;
    for (let j = 0; j < cols; j++) v += (x[r * cols + j]! - m) ** 2;
    st[2 * r] = m;
    st[2 * r + 1] = 1 / Math.sqrt(v / cols + eps);
  }
  return st;
}

function layerNormBackwardRef(
  g: Float32Array, x: Float32Array, st: Float32Array, gamma: Float32Array, batch: number, rows: number, cols: number,
  o: { rowLayout?: boolean; scale?: number; zeroRows?: number; residual?: Float32Array },
): Float64Array {
  const out = new Float64Array(batch * rows * cols);
  const gh = new Float64Array(cols), xh = new Float64Array(cols);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < rows; t++) {
      const o0 = (b * rows + t) * cols;
      const zero = t < (o.zeroRows ?? 0);
      const g0 = o.rowLayout ? b * cols : o0;
      let sg = 0, sgx = 0;
      for (let j = 0; j < cols; j++) {
        gh[j] = zero ? 0 : g[g0 + j]! * (o.scale ?? 1) * gamma[j]!;
        xh[j] = (x[t * cols + j]! - st[2 * t]!) * st[2 * t + 1]!;
        sg += gh[j]!;
        sgx += gh[j]! * xh[j]!;
      }
      for (let j = 0; j < cols; j++) {
        out[o0 + j] = st[2 * t + 1]! * (gh[j]! - sg / cols - xh[j]! * (sgx / cols)) + (o.residual ? o.residual[o0 + j]! : 0);
      }
    }
  }
  return out;
}

describe('layerNormBackward vs float64', () => {
  // [batch, rows, cols]
  const shapes: Array<[number, number, number]> = [[1, 1, 1], [1, 7, 5], [3, 197, 7], [2, 5, 768], [1, 3, 4097]];
  it(`full g with a residual, and one g row per b with scale and zero rows; shapes ${shapes.map((s) => s.join('×')).join(' ')}`, async () => {
    const gpu = await testGpu();
    for (const [batch, rows, cols] of shapes) {
      const seed = batch * 1000 + rows * 10 + cols;
      const r = rng(seed);
      const x = randomArray(rows * cols, seed + 1, -2, 2);
      for (let t = 0; t < rows; t++) for (let j = 0; j < cols; j++) x[t * cols + j] = Math.fround(x[t * cols + j]! * (0.5 + r()) + 3 * r() - 1.5);
      const st = statsOf(x, rows, cols);
      const gamma = randomArray(cols, seed + 2, 0.5, 1.5);
      const gFull = randomArray(batch * rows * cols, seed + 3, -1, 1);
      const gRow = randomArray(batch * cols, seed + 4, -1, 1);
      const residual = randomArray(batch * rows * cols, seed + 5, -1, 1);
      const tx = gpu.upload(x, [rows, cols]), ts = gpu.upload(st, [rows, 2]), tgm = gpu.upload(gamma, [cols]);
      const tgf = gpu.upload(gFull, [batch, rows, cols]), tgr = gpu.upload(gRow, [batch, cols]), tres = gpu.upload(residual, [batch, rows, cols]);
      const full = await layerNormBackward(gpu, tgf, tx, ts, tgm, { residual: tres });
      const zeroRows = Math.min(1, rows - 1);
      const scale = 1 / Math.max(rows - zeroRows, 1);
      const row = await layerNormBackward(gpu, tgr, tx, ts, tgm, { gLayout: 'row', gScale: scale, zeroRows });
      expect(full.shape).toEqual([batch, rows, cols]);
      const wantFull = layerNormBackwardRef(gFull, x, st, gamma, batch, rows, cols, { residual });
      const wantRow = layerNormBackwardRef(gRow, x, st, gamma, batch, rows, cols, { rowLayout: true, scale, zeroRows });
      // f32 row sums of cols terms times rstd: measured worst errors 6e-8 to 9e-8 of the output's
      // scale at every size, so 4e-7 of the scale leaves 4× headroom, while a missing term
      // (mean(gh) or x̂·mean(gh x̂)), a wrong row of stats or a lost residual is off by O(0.1).
      const what = `[${batch}, ${rows}, ${cols}]`;
      const tol = (w: Float64Array) => ({ atol: 4e-7 * maxAbs(w) });
      expectClose(await gpu.readF32(full), wantFull, tol(wantFull), `${what} full + residual`);
      expectClose(await gpu.readF32(row), wantRow, tol(wantRow), `${what} row layout`);
      gpu.release(tx, ts, tgm, tgf, tgr, tres, full, row);
    }
  });

  it('rejects mismatched arguments, naming the binding', async () => {
    const gpu = await testGpu();
    const x = gpu.upload(new Float32Array(12), [3, 4]), st = gpu.upload(new Float32Array(6), [3, 2]), gm = gpu.upload(new Float32Array(4), [4]);
    const g = gpu.upload(new Float32Array(10), [10]), badStats = gpu.upload(new Float32Array(4), [2, 2]);
    await expect(layerNormBackward(gpu, g, x, st, gm)).rejects.toThrow(/binding 'g'.*not a whole number/);
    await expect(layerNormBackward(gpu, x, x, badStats, gm)).rejects.toThrow(/binding 'stats'/);
    gpu.release(x, st, gm, g, badStats);
  });
});

describe('softmaxBackward vs float64', () => {
  // [groups, batch, rows, cols]
  const shapes: Array<[number, number, number, number]> = [[1, 1, 1, 1], [3, 2, 7, 197], [2, 3, 5, 7], [1, 2, 3, 4097]];
  it(`P shared by the batch; shapes ${shapes.map((s) => s.join('×')).join(' ')}`, async () => {
    const gpu = await testGpu();
    for (const [groups, batch, rows, cols] of shapes) {
      const seed = groups * 7 + batch * 13 + rows * 17 + cols;
      const logits = randomArray(groups * rows * cols, seed, -4, 4);
      const p = new Float32Array(logits.length);
      for (let r = 0; r < groups * rows; r++) {
        let z = 0;
        for (let j = 0; j < cols; j++) z += Math.exp(logits[r * cols + j]!);
        for (let j = 0; j < cols; j++) p[r * cols + j] = Math.exp(logits[r * cols + j]!) / z;
      }
      const dp = randomArray(groups * batch * rows * cols, seed + 1, -3, 3);
      const tp = gpu.upload(p, [groups, rows, cols]), tdp = gpu.upload(dp, [groups, batch, rows, cols]);
      const ds = await softmaxBackward(gpu, tdp, tp, { batch });
      const want = new Float64Array(dp.length);
      for (let g = 0; g < groups; g++) for (let b = 0; b < batch; b++) for (let r = 0; r < rows; r++) {
        const d0 = ((g * batch + b) * rows + r) * cols, p0 = (g * rows + r) * cols;
        let dot = 0;
        for (let j = 0; j < cols; j++) dot += dp[d0 + j]! * p[p0 + j]!;
        for (let j = 0; j < cols; j++) want[d0 + j] = p[p0 + j]! * (dp[d0 + j]! - dot);
      }
      // Each entry is P_j·(dp_j − dot) with dot an f32 sum of cols products, |dot| ≤ 3: its error
      // (≲ √cols·3·6e-8) times P_j, plus 2 ulp of the product. A wrong broadcast of P or a missing
      // dot is off by O(P_j).
      const got = await gpu.readF32(ds);
      for (let i = 0; i < want.length; i++) {
        const pj = p[(Math.floor(i / (batch * rows * cols)) * rows + (Math.floor(i / cols) % rows)) * cols + (i % cols)]!;
        const err = Math.abs(got[i]! - want[i]!);
        if (err > pj * 3e-7 * (1 + Math.sqrt(cols)) + 3e-7 * Math.abs(want[i]!)) {
          throw new Error(`[${groups}, ${batch}, ${rows}, ${cols}] entry ${i}: got ${got[i]}, want ${want[i]}`);
        }
      }
      gpu.release(tp, tdp, ds);
    }
  });

  it('rejects a dp that is not [G, B, R, C]', async () => {
    const gpu = await testGpu();
    const p = gpu.upload(new Float32Array(6), [2, 3]), dp = gpu.upload(new Float32Array(10), [10]);
    await expect(softmaxBackward(gpu, dp, p, { batch: 2 })).rejects.toThrow(/binding 'dp'.*\[1, 2, 2, 3\]/);
    gpu.release(p, dp);
  });
});

describe('quickGeluBackward vs float64', () => {
  const cases: Array<[number, number]> = [[1, 1], [3, 7], [2, 4097], [1, 197 * 5]];
  it(`h shared by B blocks of g; [B, |h|] = ${cases.map((c) => c.join('×')).join(' ')}`, async () => {
    const gpu = await testGpu();
    for (const [batch, n] of cases) {
      const h = randomArray(n, n + 1, -6, 6), g = randomArray(batch * n, n + 2, -2, 2);
      const th = gpu.upload(h, [n]), tg = gpu.upload(g, [batch, n]);
      const dh = await quickGeluBackward(gpu, tg, th);
      const want = Array.from(g, (gv, i) => {
        const hv = h[i % n]!;
        const s = 1 / (1 + Math.exp(-1.702 * hv));
        return gv * (s + 1.702 * hv * s * (1 - s));
      });
      // The derivative is O(1) with slope ≤ 1.702·0.6: a few f32 roundings of s and of the sum.
      expectClose(await gpu.readF32(dh), want, { rtol: 2e-6, atol: 2e-7 }, `[${batch}, ${n}]`);
      gpu.release(th, tg, dh);
    }
  });
});

/** float64 head: probabilities and de_c = ∂p_c/∂e straight from the definitions (ê·dê summed over E). */
function clipHeadRef(e: Float32Array, text: Float32Array, rows: number, classes: number, kappa: number): { probs: Float64Array; de: Float64Array } {
  const dim = e.length;
  const en = Math.sqrt(e.reduce((s, v) => s + v * v, 0));
  const eh = Array.from(e, (v) => v / en);
  const th = new Float64Array(rows * dim);
  const logits = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let tt = 0;
    for (let d = 0; d < dim; d++) tt += text[r * dim + d]! ** 2;
    for (let d = 0; d < dim; d++) th[r * dim + d] = text[r * dim + d]! / Math.sqrt(tt);
    let c = 0;
    for (let d = 0; d < dim; d++) c += eh[d]! * th[r * dim + d]!;
    logits[r] = kappa * c;
  }
  const m = Math.max(...logits);
  const ex = logits.map((l) => Math.exp(l - m));
  const z = ex.reduce((a, b) => a + b, 0);
  const probs = ex.map((v) => v / z);
  const de = new Float64Array(classes * dim);
  for (let c = 0; c < classes; c++) {
    const dEh = new Float64Array(dim);
    for (let r = 0; r < rows; r++) {
      const dl = probs[c]! * ((r === c ? 1 : 0) - probs[r]!);
      for (let d = 0; d < dim; d++) dEh[d] += kappa * dl * th[r * dim + d]!;
    }
    let proj = 0;
    for (let d = 0; d < dim; d++) proj += eh[d]! * dEh[d]!;
    for (let d = 0; d < dim; d++) de[c * dim + d] = (dEh[d]! - eh[d]! * proj) / en;
  }
  return { probs, de };
}

describe('clipHead vs float64', () => {
  // [rows R, classes K, dim E, kappa]
  const cases: Array<[number, number, number, number]> = [[1, 1, 5, 100], [7, 7, 5, 14.25], [28, 3, 512, 100], [70, 1, 33, 100], [5, 2, 197, 1]];
  it(`probabilities and ∂p_c/∂e, cases ${cases.map((c) => c.join('/')).join(' ')}`, async () => {
    const gpu = await testGpu();
    for (const [rows, classes, dim, kappa] of cases) {
      const seed = rows * 31 + classes * 7 + dim;
      const e = randomArray(dim, seed, -1, 1), text = randomArray(rows * dim, seed + 1, -1, 1);
      // Scale rows differently so that a missing normalisation cannot pass.
      for (let r = 0; r < rows; r++) for (let d = 0; d < dim; d++) text[r * dim + d] = Math.fround(text[r * dim + d]! * (1 + r));
      const te = gpu.upload(e, [dim]), tt = gpu.upload(text, [rows, dim]);
      const { probs, de } = await clipHead(gpu, te, tt, { classes, kappa });
      const want = clipHeadRef(e, text, rows, classes, kappa);
      // Logits are κ·cos with cos from f32 sums of E products, so their error grows with κ and p
      // inherits it: measured ≤ 2e-7 absolute at κ = 100, E = 512. de is a difference of such terms
      // over |e|: measured 2e-7 (κ = 1) to 1.8e-6 (κ = 100) of its scale. The bounds below leave 3–5×;
      // a wrong sign, a missing normalisation or the wrong class is off by O(1).
      const what = `R=${rows} K=${classes} E=${dim} κ=${kappa}`;
      expectClose(await gpu.readF32(probs), want.probs, { atol: 5e-7 * Math.max(1, kappa / 10) }, `${what} probs`);
      expectClose(await gpu.readF32(de), want.de, { atol: (1e-6 + 5e-8 * kappa) * maxAbs(want.de) }, `${what} de`);
      gpu.release(te, tt, probs, de);
    }
  });

  it('rejects K outside 1..R and too many rows', async () => {
    const gpu = await testGpu();
    const e = gpu.upload(new Float32Array(4).fill(1), [4]), t = gpu.upload(new Float32Array(8).fill(1), [2, 4]);
    await expect(clipHead(gpu, e, t, { classes: 3, kappa: 100 })).rejects.toThrow(/K = 3 must be 1\.\.2/);
    const big = gpu.upload(new Float32Array((CLIP_HEAD_MAX_ROWS + 1) * 4), [CLIP_HEAD_MAX_ROWS + 1, 4]);
    await expect(clipHead(gpu, e, big, { classes: 1, kappa: 100 })).rejects.toThrow(/exceed the kernel's capacity/);
    gpu.release(e, t, big);
  });
});

/** pytorch_grad_cam's ReLU + two min-max passes, operation by operation in float32. */
function camMinMaxRef(raw: Float32Array, rows: number, stride: number, skip: number): Float32Array {
  const f = Math.fround, n = stride - skip;
  const out = new Float32Array(rows * n);
  const eps = f(1e-7);
  for (let r = 0; r < rows; r++) {
    let v = Array.from(raw.subarray(r * stride + skip, (r + 1) * stride), (x) => Math.max(x, 0));
    for (let pass = 0; pass < 2; pass++) {
      const lo = Math.min(...v);
      const shifted = v.map((x) => f(x - lo));
      const den = f(eps + Math.max(...shifted));
      v = shifted.map((x) => f(x / den));
    }
    out.set(v, r * n);
  }
  return out;
}

describe('camMinMax vs float32 emulation', () => {
  const cases: Array<[number, number]> = [[1, 2], [3, 8], [2, 770], [1, 4098]];
  it(`ReLU and the double min-max, class token skipped; [rows, stride] = ${cases.map((c) => c.join('×')).join(' ')}`, async () => {
    const gpu = await testGpu();
    for (const [rows, stride] of cases) {
      const raw = randomArray(rows * stride, rows + stride, -1, 3);
      if (rows > 1) raw.fill(-0.5, stride, 2 * stride); // an all-negative row stays 0
      if (rows > 2) raw.fill(1.25, 2 * stride, 3 * stride); // a constant row is 0 after the first pass
      const t = gpu.upload(raw, [rows, stride]);
      const cam = await camMinMax(gpu, t, { skip: 1 });
      expect(cam.shape).toEqual([rows, stride - 1]);
      // Every step is one correctly rounded f32 operation in both; allow 1 ulp for the division.
      expectClose(await gpu.readF32(cam), camMinMaxRef(raw, rows, stride, 1), { rtol: 1.2e-7, atol: 1e-30 }, `[${rows}, ${stride}]`);
      gpu.release(t, cam);
    }
  });

  it('keeps the maximum at m/(m + 1e-7) < 1, never exactly 1 (docs/algorithms.md §3.4)', async () => {
    const gpu = await testGpu();
    const t = gpu.upload(new Float32Array([9, 0, 0.5, 2, 1]), [1, 5]);
    const cam = await gpu.readF32(await camMinMax(gpu, t, { skip: 1 }));
    expect(Math.max(...cam)).toBeLessThan(1);
    expect(Math.floor(Math.fround(Math.max(...cam) * 255))).toBe(254);
    expect(cam[0]).toBe(0);
    gpu.release(t);
  });
});
