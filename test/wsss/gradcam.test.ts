// CLIP-ES's batched Grad-CAM on the GPU (src/wsss/gradcam.ts) against
//   1. PyTorch autograd (test/fixtures/gradcam/tiny.{json,bin}, weights/make_gradcam_goldens.py) on
//      the tiny fixture CLIP, end to end from the image: probabilities, CAMs, affinity;
//   2. a float64 host implementation of §3.4's backward formulas (full dQ, dK, dV, dA per class, not
//      the patch-mean shortcut the GPU graph takes), run from the fixture's block input X and, with
//      several heads (the tiny model has one), from random weights at awkward sizes, with the
//      classes split into backward chunks.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/context.js';
import { Graph } from '../../src/graph/graph.js';
import { CompiledGraph } from '../../src/graph/runner.js';
import { Golden, hashRgba } from '../../src/models/clip/golden.js';
import { ClipModel } from '../../src/models/clip/model.js';
import type { ClipWeights } from '../../src/models/clip/common.js';
import { loadClip } from '../../src/weights/index.js';
import type { ClipConfig } from '../../src/weights/layouts/clip.js';
import { buildGradCamHead, gradCam, GradCamError } from '../../src/wsss/gradcam.js';
import { testGpu } from '../helpers/gpu.js';
import { expectClose, randomArray, rng } from '../helpers/reference.js';
import { ROOT, TINY_CLIP_FILES } from '../weights/helpers.js';

interface GradCamCase {
  name: string;
  source: 'rgba' | 'hash';
  seed: number;
  source_size: [number, number];
  input_size: [number, number];
  grid: [number, number];
  classes: number;
  background: number;
  caa_layers: number;
  cams_torch32_nmse: number[];
  arrays: Record<'input' | 'text' | 'probs' | 'cams' | 'affinity' | 'block_input' | 'grad_weights', string>;
}

let golden: Golden;
let cases: GradCamCase[];
let gpu: Gpu;
let model: ClipModel;

beforeAll(async () => {
  golden = await Golden.read(join(ROOT, 'test', 'fixtures', 'gradcam', 'tiny'));
  cases = (golden.header as unknown as { cases: GradCamCase[] }).cases;
  gpu = await testGpu();
  model = ClipModel.fromWeights(gpu, await loadClip(TINY_CLIP_FILES.openaiSafetensors));
});

afterAll(async () => {
  await model?.destroy();
});

const arr = (c: GradCamCase, key: keyof GradCamCase['arrays']) => golden.array(c.arrays[key]).data;

/** Σ(got − want)² / Σ want² (0/0 = 0). */
function nmse(got: ArrayLike<number>, want: ArrayLike<number>, from = 0, to = want.length): number {
  let num = 0, den = 0;
  for (let i = from; i < to; i++) {
    num += (got[i]! - want[i]!) ** 2;
    den += want[i]! ** 2;
  }
  return den === 0 ? num : num / den;
}

function expectCamsClose(got: ArrayLike<number>, want: ArrayLike<number>, classes: number, bound: number, what: string): number[] {
  const n = want.length / classes;
  const per = Array.from({ length: classes }, (_, k) => nmse(got, want, k * n, (k + 1) * n));
  per.forEach((e, k) => expect(e, `${what}: class ${k} NMSE ${e.toExponential(2)}`).toBeLessThan(bound));
  return per;
}

// ---------------------------------------------------------------------------------------------
// float64 reference of §3.4 (the formulas as written: per class, full dQ, dK, dV and dA)

interface BlockWeights {
  ln1g: ArrayLike<number>; ln1b: ArrayLike<number>; wIn: ArrayLike<number>; bIn: ArrayLike<number>;
  wOut: ArrayLike<number>; bOut: ArrayLike<number>; ln2g: ArrayLike<number>; ln2b: ArrayLike<number>;
  w1: ArrayLike<number>; b1: ArrayLike<number>; w2: ArrayLike<number>; b2: ArrayLike<number>;
  lnpg: ArrayLike<number>; lnpb: ArrayLike<number>; proj: ArrayLike<number>; logitScale: number;
}

function blockWeights(weights: ClipWeights, config: ClipConfig): BlockWeights {
  const pre = `visual.transformer.resblocks.${config.vision.layers - 1}.`;
  const t = (name: string) => weights.get(name)!.data;
  return {
    ln1g: t(`${pre}ln_1.weight`), ln1b: t(`${pre}ln_1.bias`), wIn: t(`${pre}attn.in_proj_weight`), bIn: t(`${pre}attn.in_proj_bias`),
    wOut: t(`${pre}attn.out_proj.weight`), bOut: t(`${pre}attn.out_proj.bias`), ln2g: t(`${pre}ln_2.weight`), ln2b: t(`${pre}ln_2.bias`),
    w1: t(`${pre}mlp.c_fc.weight`), b1: t(`${pre}mlp.c_fc.bias`), w2: t(`${pre}mlp.c_proj.weight`), b2: t(`${pre}mlp.c_proj.bias`),
    lnpg: t('visual.ln_post.weight'), lnpb: t('visual.ln_post.bias'), proj: t('visual.proj'), logitScale: t('logit_scale')[0]!,
  };
}

/** y = x Wᵀ + b for x [rows, inDim], W [outDim, inDim]. */
function linear(x: Float64Array, w: ArrayLike<number>, b: ArrayLike<number> | null, rows: number, inDim: number, outDim: number): Float64Array {
  const y = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) for (let o = 0; o < outDim; o++) {
    let s = b ? b[o]! : 0;
    for (let i = 0; i < inDim; i++) s += x[r * inDim + i]! * w[o * inDim + i]!;
    y[r * outDim + o] = s;
  }
  return y;
}

/** y = x W for x [rows, inDim], W [inDim, outDim] (the backward through a Linear). */
function linearBack(x: Float64Array, w: ArrayLike<number>, rows: number, inDim: number, outDim: number): Float64Array {
  const y = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) for (let i = 0; i < inDim; i++) {
    const v = x[r * inDim + i]!;
    if (v !== 0) for (let o = 0; o < outDim; o++) y[r * outDim + o] += v * w[i * outDim + o]!;
  }
  return y;
}

function layerNorm(x: ArrayLike<number>, g: ArrayLike<number>, b: ArrayLike<number>, rows: number, cols: number, eps: number) {
  const y = new Float64Array(rows * cols), xhat = new Float64Array(rows * cols), rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let j = 0; j < cols; j++) m += x[r * cols + j]!;
    m /= cols;
    let v = 0;
    for (let j = 0; j < cols; j++) v += (x[r * cols + j]! - m) ** 2;
    rstd[r] = 1 / Math.sqrt(v / cols + eps);
    for (let j = 0; j < cols; j++) {
      xhat[r * cols + j] = (x[r * cols + j]! - m) * rstd[r]!;
      y[r * cols + j] = xhat[r * cols + j]! * g[j]! + b[j]!;
    }
  }
  return { y, xhat, rstd };
}

function layerNormBack(dy: Float64Array, ln: { xhat: Float64Array; rstd: Float64Array }, g: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const dx = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let s1 = 0, s2 = 0;
    for (let j = 0; j < cols; j++) {
      const gh = dy[r * cols + j]! * g[j]!;
      s1 += gh;
      s2 += gh * ln.xhat[r * cols + j]!;
    }
    for (let j = 0; j < cols; j++) {
      const gh = dy[r * cols + j]! * g[j]!;
      dx[r * cols + j] = ln.rstd[r]! * (gh - s1 / cols - ln.xhat[r * cols + j]! * (s2 / cols));
    }
  }
  return dx;
}

function minMax2(v: number[]): number[] {
  let out = v.map((x) => Math.max(x, 0));
  for (let pass = 0; pass < 2; pass++) {
    const lo = Math.min(...out);
    const hi = Math.max(...out.map((x) => x - lo));
    out = out.map((x) => (x - lo) / (1e-7 + hi));
  }
  return out;
}

interface Reference {
  probs: Float64Array;
  weights: Float64Array;
  cams: Float64Array;
  attention: Float64Array;
}

function gradCamRef(x: ArrayLike<number>, text: ArrayLike<number>, classes: number, w: BlockWeights, config: ClipConfig): Reference {
  const { width: D, heads: H, mlpWidth: F } = config.vision;
  const E = config.embedDim;
  const L = x.length / D, n = L - 1, hd = D / H, R = text.length / E, eps = config.layerNormEps;
  const scale = 1 / Math.sqrt(hd);
  const ln1 = layerNorm(x, w.ln1g, w.ln1b, L, D, eps);
  const a = ln1.y;
  const qkv = linear(a, w.wIn, w.bIn, L, D, 3 * D);
  const at = (t: number, part: number, h: number, d: number) => qkv[t * 3 * D + part * D + h * hd + d]!;
  const P = new Float64Array(H * L * L);
  const o = new Float64Array(L * D);
  for (let h = 0; h < H; h++) for (let i = 0; i < L; i++) {
    const s = new Float64Array(L);
    for (let j = 0; j < L; j++) {
      let dot = 0;
      for (let d = 0; d < hd; d++) dot += at(i, 0, h, d) * at(j, 1, h, d);
      s[j] = dot * scale;
    }
    const m = Math.max(...s);
    let z = 0;
    for (let j = 0; j < L; j++) z += Math.exp(s[j]! - m);
    for (let j = 0; j < L; j++) P[(h * L + i) * L + j] = Math.exp(s[j]! - m) / z;
    for (let d = 0; d < hd; d++) {
      let acc = 0;
      for (let j = 0; j < L; j++) acc += P[(h * L + i) * L + j]! * at(j, 2, h, d);
      o[i * D + h * hd + d] = acc;
    }
  }
  const attention = new Float64Array(L * L);
  for (let h = 0; h < H; h++) for (let i = 0; i < L * L; i++) attention[i] += P[h * L * L + i]! / H;
  const y = linear(o, w.wOut, w.bOut, L, D, D);
  for (let i = 0; i < L * D; i++) y[i] += x[i]!;
  const ln2 = layerNorm(y, w.ln2g, w.ln2b, L, D, eps);
  const h1 = linear(ln2.y, w.w1, w.b1, L, D, F);
  const sig = (v: number) => 1 / (1 + Math.exp(-1.702 * v));
  const g1 = h1.map((v) => v * sig(v));
  const z = linear(g1, w.w2, w.b2, L, F, D);
  for (let i = 0; i < L * D; i++) z[i] += y[i]!;
  const lnp = layerNorm(z, w.lnpg, w.lnpb, L, D, eps);
  const f = new Float64Array(D);
  for (let t = 1; t < L; t++) for (let d = 0; d < D; d++) f[d] += lnp.y[t * D + d]! / n;
  const e = new Float64Array(E);
  for (let d = 0; d < D; d++) for (let j = 0; j < E; j++) e[j] += f[d]! * w.proj[d * E + j]!;
  const en = Math.hypot(...e);
  const eh = e.map((v) => v / en);
  const th = new Float64Array(R * E);
  const logits = new Float64Array(R);
  const kappa = Math.exp(w.logitScale);
  for (let r = 0; r < R; r++) {
    let tt = 0;
    for (let j = 0; j < E; j++) tt += text[r * E + j]! ** 2;
    for (let j = 0; j < E; j++) th[r * E + j] = text[r * E + j]! / Math.sqrt(tt);
    for (let j = 0; j < E; j++) logits[r] += kappa * eh[j]! * th[r * E + j]!;
  }
  const lm = Math.max(...logits);
  const ex = logits.map((l) => Math.exp(l - lm));
  const zsum = ex.reduce((s, v) => s + v, 0);
  const probs = ex.map((v) => v / zsum);

  const weights = new Float64Array(classes * D);
  const cams = new Float64Array(classes * n);
  for (let c = 0; c < classes; c++) {
    const dEh = new Float64Array(E);
    for (let r = 0; r < R; r++) {
      const dl = probs[c]! * ((r === c ? 1 : 0) - probs[r]!);
      for (let j = 0; j < E; j++) dEh[j] += kappa * dl * th[r * E + j]!;
    }
    let proj = 0;
    for (let j = 0; j < E; j++) proj += eh[j]! * dEh[j]!;
    const de = dEh.map((v, j) => (v - eh[j]! * proj) / en);
    const df = new Float64Array(D);
    for (let d = 0; d < D; d++) for (let j = 0; j < E; j++) df[d] += w.proj[d * E + j]! * de[j]!;
    const dN = new Float64Array(L * D);
    for (let t = 1; t < L; t++) for (let d = 0; d < D; d++) dN[t * D + d] = df[d]! / n;
    const dZ = layerNormBack(dN, lnp, w.lnpg, L, D);
    const dG1 = linearBack(dZ, w.w2, L, D, F);
    const dH1 = dG1.map((v, i) => {
      const s = sig(h1[i]!);
      return v * (s + 1.702 * h1[i]! * s * (1 - s));
    });
    const dU = linearBack(dH1, w.w1, L, F, D);
    const dY = layerNormBack(dU, ln2, w.ln2g, L, D);
    for (let i = 0; i < L * D; i++) dY[i] += dZ[i]!;
    const dO = linearBack(dY, w.wOut, L, D, D);
    const dQKV = new Float64Array(L * 3 * D);
    for (let h = 0; h < H; h++) {
      const dS = new Float64Array(L * L);
      for (let i = 0; i < L; i++) {
        const dP = new Float64Array(L);
        let rho = 0;
        for (let j = 0; j < L; j++) {
          for (let d = 0; d < hd; d++) dP[j] += dO[i * D + h * hd + d]! * at(j, 2, h, d);
          rho += dP[j]! * P[(h * L + i) * L + j]!;
        }
        for (let j = 0; j < L; j++) dS[i * L + j] = P[(h * L + i) * L + j]! * (dP[j]! - rho);
      }
      for (let i = 0; i < L; i++) for (let d = 0; d < hd; d++) {
        let dq = 0, dk = 0, dv = 0;
        for (let j = 0; j < L; j++) {
          dq += dS[i * L + j]! * at(j, 1, h, d);
          dk += dS[j * L + i]! * at(j, 0, h, d);
          dv += P[(h * L + j) * L + i]! * dO[j * D + h * hd + d]!;
        }
        dQKV[i * 3 * D + h * hd + d] = dq * scale;
        dQKV[i * 3 * D + D + h * hd + d] = dk * scale;
        dQKV[i * 3 * D + 2 * D + h * hd + d] = dv;
      }
    }
    const dA = linearBack(dQKV, w.wIn, L, 3 * D, D);
    for (let t = 1; t < L; t++) for (let d = 0; d < D; d++) weights[c * D + d] += dA[t * D + d]! / n;
    const raw: number[] = [];
    for (let t = 1; t < L; t++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += a[t * D + d]! * weights[c * D + d]!;
      raw.push(s);
    }
    cams.set(minMax2(raw), c * n);
  }
  return { probs, weights, cams, attention };
}

// ---------------------------------------------------------------------------------------------

describe('gradCam vs PyTorch autograd (tiny CLIP, test/fixtures/gradcam)', () => {
  it('probabilities, CAMs and affinity of every case, the RGBA case through CLIP-ES preprocessing', async () => {
    for (const c of cases) {
      const text = arr(c, 'text');
      const [h, w] = c.input_size;
      const image = c.source === 'rgba'
        ? { rgba: hashRgba(c.source_size[0], c.source_size[1], c.seed), height: c.source_size[0], width: c.source_size[1] }
        : { tensor: arr(c, 'input'), height: h, width: w };
      const r = await gradCam(model, image, text, c.classes, { caaLayers: c.caa_layers });
      try {
        const n = c.grid[0] * c.grid[1];
        expect(r.grid).toEqual(c.grid);
        expect(r.cams.shape).toEqual([c.classes, n]);
        expect(r.affinity.shape).toEqual([n, n]);
        // Probabilities: float32 forwards in different summation orders agree to ~1e-7 (κ ≈ 14).
        expectClose(r.probsHost!, arr(c, 'probs'), { atol: 2e-6 }, `case ${c.name} probs`);
        expect(Array.from(await gpu.readF32(r.probs))).toEqual(Array.from(r.probsHost!));
        // CAMs in [0, 1): the acceptance bar is NMSE 1e-6 per class; measured ≲ 1e-10.
        expectCamsClose(r.camsHost!, arr(c, 'cams'), c.classes, 1e-6, `case ${c.name} cams`);
        expect(Array.from(await gpu.readF32(r.cams))).toEqual(Array.from(r.camsHost!));
        // Attention probabilities are O(1/L): per-element 1e-6 as in the CLIP tests.
        expectClose(await gpu.readF32(r.affinity), arr(c, 'affinity'), { atol: 1e-6 }, `case ${c.name} affinity`);
      } finally {
        r.release();
      }
    }
  });

  it('the float64 reference of §3.4 reproduces autograd from the fixture\'s block input', () => {
    const bw = blockWeights(model.weights, model.config);
    for (const c of cases) {
      const ref = gradCamRef(arr(c, 'block_input'), arr(c, 'text'), c.classes, bw, model.config);
      // Independent check of the reference itself (torch float32 against float64).
      expectClose(ref.probs, arr(c, 'probs'), { atol: 1e-6 }, `case ${c.name} probs`);
      const tw = arr(c, 'grad_weights');
      expectClose(ref.weights, tw, { atol: 1e-5 * Math.max(...Array.from(tw, Math.abs)) }, `case ${c.name} w_k`);
      expectCamsClose(ref.cams, arr(c, 'cams'), c.classes, 1e-8, `case ${c.name} cams`);
    }
  });

  it('caches one graph per size and label count, and timings per stage with profile', async () => {
    const c = cases.find((x) => x.source === 'hash')!;
    const before = model.cachedGraphs.vision;
    const image = { tensor: arr(c, 'input'), height: c.input_size[0], width: c.input_size[1] };
    const r = await gradCam(model, image, arr(c, 'text'), c.classes, { caaLayers: c.caa_layers, profile: true });
    try {
      for (const stage of ['vision', 'block', 'cam', 'total']) expect(r.timings[stage], stage).toBeGreaterThan(0);
      expectCamsClose(r.camsHost!, arr(c, 'cams'), c.classes, 1e-6, 'profiled run');
      expect(model.cachedGraphs.vision).toBe(before); // gradCam graphs live in their own cache
    } finally {
      r.release();
    }
  });

  it('a GPU image tensor gives the same result as host data', async () => {
    const c = cases.find((x) => x.source === 'hash')!;
    const [h, w] = c.input_size;
    const t = gpu.upload(arr(c, 'input'), [3, h, w]);
    const r = await gradCam(model, { tensor: t }, arr(c, 'text'), c.classes, { caaLayers: c.caa_layers });
    try {
      expectCamsClose(r.camsHost!, arr(c, 'cams'), c.classes, 1e-6, 'GPU input');
    } finally {
      r.release();
      gpu.release(t);
    }
  });

  it('rejects bad labels and text rows with a clear error', async () => {
    const c = cases[0]!;
    const image = { tensor: arr(c, 'input'), height: c.input_size[0], width: c.input_size[1] };
    const text = arr(c, 'text');
    await expect(gradCam(model, image, text, 0)).rejects.toThrow(GradCamError);
    await expect(gradCam(model, image, text, 0)).rejects.toThrow(/K = 0 labels must be 1\.\.8/);
    const zeroRow = text.slice();
    zeroRow.fill(0, 32, 64);
    await expect(gradCam(model, image, zeroRow, 1)).rejects.toThrow(/text row 1 has norm 0/);
    await expect(gradCam(model, image, text.subarray(0, 33), 1)).rejects.toThrow(/not a whole number of rows of E = 32/);
    await expect(gradCam(model, image, text, 1, { caaLayers: 0 })).rejects.toThrow(/caaLayers = 0/);
  });
});

// ---------------------------------------------------------------------------------------------

/** Random weights for the last block and the head of a CLIP with the given dims. */
function randomHeadWeights(config: ClipConfig, seed: number): ClipWeights {
  const { width: D, layers, mlpWidth: F } = config.vision;
  const E = config.embedDim;
  const m = new Map<string, { shape: number[]; data: Float32Array }>();
  let s = seed;
  const put = (name: string, shape: number[], lo: number, hi: number) => {
    m.set(name, { shape, data: randomArray(shape.reduce((a, b) => a * b, 1), s++, lo, hi) });
  };
  const pre = `visual.transformer.resblocks.${layers - 1}.`;
  const lin = (name: string, out: number, inDim: number) => {
    const b = 1.5 / Math.sqrt(inDim);
    put(`${pre}${name}.weight`, [out, inDim], -b, b);
  };
  put(`${pre}ln_1.weight`, [D], 0.5, 1.5);
  put(`${pre}ln_1.bias`, [D], -0.3, 0.3);
  m.set(`${pre}attn.in_proj_weight`, { shape: [3 * D, D], data: randomArray(3 * D * D, s++, -2 / Math.sqrt(D), 2 / Math.sqrt(D)) });
  put(`${pre}attn.in_proj_bias`, [3 * D], -0.3, 0.3);
  lin('attn.out_proj', D, D);
  put(`${pre}attn.out_proj.bias`, [D], -0.1, 0.1);
  put(`${pre}ln_2.weight`, [D], 0.5, 1.5);
  put(`${pre}ln_2.bias`, [D], -0.3, 0.3);
  lin('mlp.c_fc', F, D);
  put(`${pre}mlp.c_fc.bias`, [F], -0.3, 0.3);
  lin('mlp.c_proj', D, F);
  put(`${pre}mlp.c_proj.bias`, [D], -0.1, 0.1);
  put('visual.ln_post.weight', [D], 0.5, 1.5);
  put('visual.ln_post.bias', [D], -0.3, 0.3);
  put('visual.proj', [D, E], -1 / Math.sqrt(D), 1 / Math.sqrt(D));
  m.set('logit_scale', { shape: [], data: new Float32Array([Math.log(20)]) });
  return m;
}

function smallConfig(D: number, heads: number, F: number, E: number): ClipConfig {
  return {
    embedDim: E,
    vision: { width: D, layers: 3, heads, patch: 16, imageSize: 48, mlpWidth: F },
    text: { width: 8, layers: 1, heads: 1, contextLength: 4, vocabSize: 8, mlpWidth: 8 },
    layerNormEps: 1e-5,
    activation: 'quick_gelu',
  };
}

describe('buildGradCamHead vs the float64 reference, several heads, awkward sizes', () => {
  // [tokens L, width D, heads, MLP width, E, K, M, classes per backward chunk]
  const shapes: Array<[number, number, number, number, number, number, number, number]> = [
    [23, 48, 3, 80, 20, 3, 4, 2], // 3 heads of 16; K = 3 in chunks of 2 and 1
    [2, 24, 2, 40, 12, 1, 2, 1], // a single patch: the CAM min-max is degenerate (all 0)
    [57, 36, 3, 52, 7, 2, 0, 2], // no background rows: the labels compete only with each other
  ];
  for (const [L, D, H, F, E, K, M, chunk] of shapes) {
    it(`L=${L} D=${D} H=${H} F=${F} E=${E} K=${K} M=${M} chunk=${chunk}`, async () => {
      const config = smallConfig(D, H, F, E);
      const weights = randomHeadWeights(config, L + D);
      const r = rng(L * 7 + K);
      const x = randomArray(L * D, L + 3, -1, 1);
      for (let t = 0; t < L; t++) {
        const off = 2 * r() - 1, sp = 0.5 + 2 * r();
        for (let d = 0; d < D; d++) x[t * D + d] = Math.fround(off + sp * x[t * D + d]!);
      }
      const text = randomArray((K + M) * E, L + 4, -1, 1);
      const g = new Graph();
      const xv = g.input('x', [L, D]), tv = g.input('text', [K + M, E]);
      const head = buildGradCamHead(g, weights, config, { x: xv, text: tv, classes: K, classChunk: chunk });
      g.output('probs', head.probs);
      g.output('cams', head.cams);
      g.output('weights', head.weights);
      g.output('attention', head.attention);
      const compiled = await CompiledGraph.compile(gpu, g, { warmup: false });
      try {
        const { outputs } = await compiled.run({ x, text });
        const ref = gradCamRef(x, text, K, blockWeights(weights, config), config);
        const what = `L=${L} D=${D} H=${H}`;
        // float32 forward and backward against float64: probabilities to ~1e-7, w_k to ~1e-6 of its
        // scale (measured); a wrong head layout, transposition or missing term is off by O(1).
        expectClose(outputs.get('probs')!, ref.probs, { atol: 1e-6 }, `${what} probs`);
        const wRef = ref.weights;
        expectClose(outputs.get('weights')!, wRef, { atol: 2e-5 * Math.max(...Array.from(wRef, Math.abs)) }, `${what} w_k`);
        expectClose(outputs.get('attention')!, ref.attention, { atol: 1e-6 }, `${what} attention`);
        expectCamsClose(outputs.get('cams')!, ref.cams, K, 1e-8, `${what} cams`);
        if (L === 2) expect(Array.from(outputs.get('cams')!)).toEqual(new Array(K).fill(0));
      } finally {
        compiled.destroy();
      }
    });
  }
});
