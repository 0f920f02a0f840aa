// Float64 references for the training kernels (src/kernels/train/), written from PyTorch's
// definitions, each with a per-element error bound for a float32 evaluation in any summation order.
// The golden tests check these references against PyTorch autograd (float64) first, then use
// their bounds for the GPU results; the multi-workgroup tests and the conformance table
// (test/helpers/conformance-cases.ts) use them at sizes the fixtures do not hold.
// Free of vitest (the conformance helpers import it).
//
// Bounds. u = 2⁻²⁴ (float32 unit roundoff), γ_n = n·u/(1 − n·u). A sum of n float32 products in
// any order is within γ_{n+1}·Σ|terms| of the exact sum (Higham, Thm 3.1/3.5); the references return
// Σ|terms| or the bound itself. WGSL's exp is accurate to (3 + 2|x|) ulp, log to 2⁻²¹ absolute on
// [0.5, 2] and 3 ulp elsewhere, division to 2.5 ulp, sqrt as an inverse sqrt·x (≤ 4 ulp here):
// bounds that involve them say so.

export const U = 2 ** -24;
/** γ_n: the worst-case relative error of an n-term float32 sum. */
export const gammaN = (n: number): number => (n * U) / (1 - n * U);
/** One ulp relative (2⁻²³), the unit WGSL states its function accuracies in. */
const ULP = 2 ** -23;

export type Pair = [number, number];
export type Shape4 = [number, number, number, number];

// ---------------------------------------------------------------------------------------------
// Convolution

export interface ConvSpec {
  /** x [N, Cin, H, W] */
  x: Shape4;
  /** weight [Cout, KH, KW, Cin/groups] (OHWI, seedmask's order) */
  w: Shape4;
  stride: Pair;
  padding: Pair;
  dilation: Pair;
  groups: number;
}

export function convOutSize(s: ConvSpec): Pair {
  const [, , h, w] = s.x, [, kh, kw] = s.w;
  return [
    Math.floor((h + 2 * s.padding[0] - s.dilation[0] * (kh - 1) - 1) / s.stride[0]) + 1,
    Math.floor((w + 2 * s.padding[1] - s.dilation[1] * (kw - 1) - 1) / s.stride[1]) + 1,
  ];
}

export interface ConvGradsRef {
  dx: Float64Array;
  dw: Float64Array;
  db: Float64Array;
  /** Σ|terms| of each element, and the number of terms. */
  dxAbs: Float64Array;
  dwAbs: Float64Array;
  dbAbs: Float64Array;
  dxTerms: number;
  dwTerms: number;
}

/** dx, dw, db of y = conv2d(x, w) + b for the output gradient dy [N, Cout, Ho, Wo]. */
export function conv2dBackwardRef(s: ConvSpec, x: ArrayLike<number>, w: ArrayLike<number>, dy: ArrayLike<number>): ConvGradsRef {
  const [n, cin, h, wd] = s.x, [cout, kh, kw, cinG] = s.w;
  const [ho, wo] = convOutSize(s);
  const coutG = cout / s.groups;
  const r: ConvGradsRef = {
    dx: new Float64Array(n * cin * h * wd), dxAbs: new Float64Array(n * cin * h * wd),
    dw: new Float64Array(cout * kh * kw * cinG), dwAbs: new Float64Array(cout * kh * kw * cinG),
    db: new Float64Array(cout), dbAbs: new Float64Array(cout),
    dxTerms: kh * kw * coutG, dwTerms: n * ho * wo,
  };
  for (let b = 0; b < n; b++) {
    for (let co = 0; co < cout; co++) {
      const g = Math.floor(co / coutG);
      for (let oy = 0; oy < ho; oy++) {
        for (let ox = 0; ox < wo; ox++) {
          const d = dy[((b * cout + co) * ho + oy) * wo + ox]!;
          r.db[co] += d;
          r.dbAbs[co] += Math.abs(d);
          for (let ky = 0; ky < kh; ky++) {
            const iy = oy * s.stride[0] - s.padding[0] + ky * s.dilation[0];
            if (iy < 0 || iy >= h) continue;
            for (let kx = 0; kx < kw; kx++) {
              const ix = ox * s.stride[1] - s.padding[1] + kx * s.dilation[1];
              if (ix < 0 || ix >= wd) continue;
              for (let c = 0; c < cinG; c++) {
                const xi = ((b * cin + g * cinG + c) * h + iy) * wd + ix;
                const wi = ((co * kh + ky) * kw + kx) * cinG + c;
                r.dx[xi] += d * w[wi]!;
                r.dxAbs[xi] += Math.abs(d * w[wi]!);
                r.dw[wi] += d * x[xi]!;
                r.dwAbs[wi] += Math.abs(d * x[xi]!);
              }
            }
          }
        }
      }
    }
  }
  return r;
}

/** γ_{n+1}·Σ|terms| per element: the bound of an n-term float32 dot product in any order. */
export const sumBound = (abs: ArrayLike<number>, terms: number): Float64Array => Float64Array.from(abs, (a) => gammaN(terms + 1) * a + 1e-30);

// ---------------------------------------------------------------------------------------------
// Batch norm

export interface BatchNormRef {
  mean: Float64Array;
  rstd: Float64Array;
  y: Float64Array;
  runningMean: Float64Array;
  runningVar: Float64Array;
  dx: Float64Array;
  dgamma: Float64Array;
  dbeta: Float64Array;
  bounds: { mean: Float64Array; rstd: Float64Array; y: Float64Array; runningMean: Float64Array; runningVar: Float64Array; dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array };
}

/**
 * torch.nn.BatchNorm2d forward (training: batch statistics, running update with the unbiased
 * variance; frozen: running statistics) and backward for the output gradient g, all in float64.
 * Bounds, with M = N·H·W values per channel and μ_c = rstd·mean|x| (how much an error in the
 * mean moves x̂, relatively):
 *   mean  γ_M·mean|x|;  rstd  (γ_M + 6u)·rstd (the variance's relative error halved, plus sqrt
 *   and division);  y  |γ|·rstd·(|δmean| + |x − mean|·δ_rstd) + 4u·(|y| + |β|);
 *   dx (training)  2γ_{M+8}·|γ|·rstd·(|g| + A_g·(1 + μ) + (1 + |x̂| + μ)·A_gx), A_g = Σ|g|/M,
 *   A_gx = Σ|g·x̂|/M: each term of γ·rstd·(g − Σg/M − x̂·Σgx̂/M) with its sum's error;
 *   dγ  γ_{M+8}·Σ|g|·(|x̂| + μ);  dβ  γ_M·Σ|g|; frozen dx  8u·|dx| (three products, sqrt, division).
 */
export function batchNormRef(
  shape: Shape4, x: ArrayLike<number>, g: ArrayLike<number>,
  p: { gamma: ArrayLike<number>; beta: ArrayLike<number>; runningMean: ArrayLike<number>; runningVar: ArrayLike<number>; eps: number; momentum: number; training: boolean },
): BatchNormRef {
  const [n, c, h, w] = shape;
  const hw = h * w, m = n * hw, count = n * c * hw;
  const at = (ch: number, i: number) => (Math.floor(i / hw) * c + ch) * hw + (i % hw);
  const f = (len: number) => new Float64Array(len);
  const r: BatchNormRef = {
    mean: f(c), rstd: f(c), y: f(count), runningMean: Float64Array.from(p.runningMean), runningVar: Float64Array.from(p.runningVar),
    dx: f(count), dgamma: f(c), dbeta: f(c),
    bounds: { mean: f(c), rstd: f(c), y: f(count), runningMean: f(c), runningVar: f(c), dx: f(count), dgamma: f(c), dbeta: f(c) },
  };
  const gM = gammaN(m), gM8 = gammaN(m + 8);
  for (let ch = 0; ch < c; ch++) {
    let s = 0, sAbs = 0;
    for (let i = 0; i < m; i++) {
      s += x[at(ch, i)]!;
      sAbs += Math.abs(x[at(ch, i)]!);
    }
    let mean: number, variance: number;
    if (p.training) {
      mean = s / m;
      let s2 = 0;
      for (let i = 0; i < m; i++) s2 += (x[at(ch, i)]! - mean) ** 2;
      variance = s2 / m;
      r.runningMean[ch] = (1 - p.momentum) * p.runningMean[ch]! + p.momentum * mean;
      r.runningVar[ch] = (1 - p.momentum) * p.runningVar[ch]! + p.momentum * (s2 / (m - 1));
    } else {
      mean = p.runningMean[ch]!;
      variance = p.runningVar[ch]!;
    }
    const rstd = 1 / Math.sqrt(variance + p.eps);
    r.mean[ch] = mean;
    r.rstd[ch] = rstd;
    const dMean = p.training ? gM * (sAbs / m) + U * Math.abs(mean) : 0;
    const dRstd = p.training ? gM + 6 * U : 6 * U;
    r.bounds.mean[ch] = dMean + 1e-30;
    r.bounds.rstd[ch] = dRstd * rstd;
    r.bounds.runningMean[ch] = 4 * U * (Math.abs(p.runningMean[ch]!) + Math.abs(r.runningMean[ch]!)) + p.momentum * dMean + 1e-30;
    r.bounds.runningVar[ch] = (gM + 6 * U) * (Math.abs(r.runningVar[ch]!) + Math.abs(p.runningVar[ch]!)) + 1e-30;
    const gam = p.gamma[ch]!, bet = p.beta[ch]!;
    const mu = rstd * (sAbs / m);
    let sg = 0, sgx = 0, ag = 0, agx = 0;
    for (let i = 0; i < m; i++) {
      const k = at(ch, i);
      const xh = (x[k]! - mean) * rstd;
      r.y[k] = xh * gam + bet;
      r.bounds.y[k] = Math.abs(gam) * rstd * (dMean + Math.abs(x[k]! - mean) * dRstd) + 4 * U * (Math.abs(r.y[k]!) + Math.abs(bet)) + 1e-30;
      sg += g[k]!;
      sgx += g[k]! * xh;
      ag += Math.abs(g[k]!);
      agx += Math.abs(g[k]! * xh);
    }
    r.dgamma[ch] = sgx;
    r.dbeta[ch] = sg;
    r.bounds.dgamma[ch] = gM8 * (agx + ag * (p.training ? mu : 0)) + (p.training ? 0 : 6 * U * agx) + 1e-30;
    r.bounds.dbeta[ch] = gM * ag + 1e-30;
    for (let i = 0; i < m; i++) {
      const k = at(ch, i);
      const xh = (x[k]! - mean) * rstd;
      if (p.training) {
        r.dx[k] = gam * rstd * (g[k]! - sg / m - xh * (sgx / m));
        r.bounds.dx[k] = 2 * gM8 * Math.abs(gam) * rstd * (Math.abs(g[k]!) + (ag / m) * (1 + mu) + (1 + Math.abs(xh) + mu) * (agx / m)) + 1e-30;
      } else {
        r.dx[k] = gam * rstd * g[k]!;
        r.bounds.dx[k] = 8 * U * Math.abs(r.dx[k]!) + 1e-30;
      }
    }
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// ReLU

export function reluBackwardRef(g: ArrayLike<number>, y: ArrayLike<number>): Float64Array {
  return Float64Array.from(g, (v, i) => (y[i]! > 0 ? v : 0));
}

// ---------------------------------------------------------------------------------------------
// Max pooling

export interface PoolSpec {
  kernel: Pair;
  stride: Pair;
  padding: Pair;
  dilation: Pair;
  ceilMode: boolean;
}

function poolOut(size: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  let o = Math.floor((size + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (o - 1) * s >= size + p) o--;
  return o;
}

/** PyTorch's CPU max_pool2d with indices: the first in-image tap starts as the winner at −inf; a tap wins if larger or NaN. */
export function maxPoolRef(x: ArrayLike<number>, planes: number, h: number, w: number, s: PoolSpec): { y: Float64Array; idx: Uint32Array; ho: number; wo: number } {
  const ho = poolOut(h, s.kernel[0], s.stride[0], s.padding[0], s.dilation[0], s.ceilMode);
  const wo = poolOut(w, s.kernel[1], s.stride[1], s.padding[1], s.dilation[1], s.ceilMode);
  const y = new Float64Array(planes * ho * wo), idx = new Uint32Array(planes * ho * wo);
  for (let pl = 0; pl < planes; pl++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        let best = -Infinity, at = -1;
        for (let ky = 0; ky < s.kernel[0]; ky++) {
          const iy = oy * s.stride[0] - s.padding[0] + ky * s.dilation[0];
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < s.kernel[1]; kx++) {
            const ix = ox * s.stride[1] - s.padding[1] + kx * s.dilation[1];
            if (ix < 0 || ix >= w) continue;
            const v = x[(pl * h + iy) * w + ix]!;
            if (at < 0) at = iy * w + ix;
            if (v > best || Number.isNaN(v)) {
              best = v;
              at = iy * w + ix;
            }
          }
        }
        const o = (pl * ho + oy) * wo + ox;
        y[o] = best;
        idx[o] = at;
      }
    }
  }
  return { y, idx, ho, wo };
}

/** dx of max pooling: each output gradient added to its window's winner; bound γ_k·Σ|terms| (k terms at most). */
export function maxPoolBackwardRef(g: ArrayLike<number>, idx: ArrayLike<number>, planes: number, h: number, w: number, ho: number, wo: number): { dx: Float64Array; bound: Float64Array } {
  const dx = new Float64Array(planes * h * w), abs = new Float64Array(planes * h * w), terms = new Uint32Array(planes * h * w);
  for (let pl = 0; pl < planes; pl++) {
    for (let o = 0; o < ho * wo; o++) {
      const at = pl * h * w + idx[pl * ho * wo + o]!;
      dx[at] += g[pl * ho * wo + o]!;
      abs[at] += Math.abs(g[pl * ho * wo + o]!);
      terms[at]!++;
    }
  }
  return { dx, bound: Float64Array.from(abs, (a, i) => gammaN(Math.max(terms[i]! - 1, 0)) * a + 1e-30) };
}

// ---------------------------------------------------------------------------------------------
// Bilinear resize

/** PyTorch's float64 source index and weights for one axis (area_pixel_compute_source_index). */
function torchAxis(inSize: number, outSize: number, align: boolean, scaleFactor?: number): { i0: number[]; i1: number[]; l0: number[]; l1: number[] } {
  const r = { i0: [] as number[], i1: [] as number[], l0: [] as number[], l1: [] as number[] };
  for (let o = 0; o < outSize; o++) {
    let src: number;
    if (align) src = outSize > 1 ? (o * (inSize - 1)) / (outSize - 1) : 0;
    else src = Math.max((scaleFactor !== undefined ? 1 / scaleFactor : inSize / outSize) * (o + 0.5) - 0.5, 0);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const l1 = src - i0;
    r.i0.push(i0);
    r.i1.push(i0 < inSize - 1 ? i0 + 1 : i0);
    r.l0.push(1 - l1);
    r.l1.push(l1);
  }
  return r;
}

/**
 * dx [planes, inH, inW] of F.interpolate(mode='bilinear') for g [planes, outH, outW], weights in
 * float64 as PyTorch's float64 backward computes them. Bound: the sum (γ_n·Σ|terms|, n the most
 * contributions to one input) plus the float32 weights' error: seedmask's coordinates are float32
 * (up to three roundings of values below the input size: δλ ≤ 4u·in per axis), so a weight product
 * is off by ≤ δλ_y + δλ_x + u, times Σ|g| over the contributions.
 */
export function bilinearBackwardRef(
  g: ArrayLike<number>, planes: number, inH: number, inW: number, outH: number, outW: number, align: boolean, scaleFactor?: Pair,
): { dx: Float64Array; abs: Float64Array; bound: Float64Array; terms: number } {
  const ry = torchAxis(inH, outH, align, scaleFactor?.[0]), rx = torchAxis(inW, outW, align, scaleFactor?.[1]);
  const dx = new Float64Array(planes * inH * inW), abs = new Float64Array(dx.length), gAbs = new Float64Array(dx.length), terms = new Uint32Array(dx.length);
  for (let pl = 0; pl < planes; pl++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const v = g[(pl * outH + oy) * outW + ox]!;
        for (const [iy, wy] of [[ry.i0[oy]!, ry.l0[oy]!], [ry.i1[oy]!, ry.l1[oy]!]] as const) {
          for (const [ix, wx] of [[rx.i0[ox]!, rx.l0[ox]!], [rx.i1[ox]!, rx.l1[ox]!]] as const) {
            const at = (pl * inH + iy) * inW + ix;
            dx[at] += wy * wx * v;
            abs[at] += Math.abs(wy * wx * v);
            gAbs[at] += Math.abs(v);
            terms[at]!++;
          }
        }
      }
    }
  }
  const n = Math.max(...terms);
  const dl = 4 * U * inH + 4 * U * inW + U;
  return { dx, abs, terms: n, bound: Float64Array.from(abs, (a, i) => gammaN(n + 2) * a + dl * gAbs[i]! + 1e-30) };
}

// ---------------------------------------------------------------------------------------------
// Cross-entropy

export interface CrossEntropyRef {
  loss: number;
  weightSum: number;
  dlogits: Float64Array;
  lossBound: number;
  dBound: Float64Array;
}

/**
 * F.cross_entropy(logits, labels, weight, ignore_index, reduction='mean') and its gradient, float64.
 * Bounds per pixel with R = max_c |x_c − m| (m the pixel's max), e = (3 + 2R)·2⁻²³ (WGSL's exp):
 * s = Σ exp is off by e + γ_C relatively, log(s) by 2⁻²¹ + 3·2⁻²³·|log s| + (e + γ_C), the term
 * l = log s − (x_t − m) by that plus u·(|x_t − m| + |l|); the loss adds γ_P over the P pixel terms
 * (relative to Σ w·|l|) and the division. dlogits: softmax_c is off by (2e + γ_C + 3·2⁻²³)·p_c, the
 * factor w/Σw by γ_P + 3u, the result by u.
 */
export function crossEntropyRef(logits: ArrayLike<number>, labels: ArrayLike<number>, shape: Shape4, weights: ArrayLike<number> | undefined, ignore: number): CrossEntropyRef {
  const [n, c, h, w] = shape;
  const hw = h * w, pixels = n * hw;
  let sl = 0, sw = 0, slAbs = 0, termErr = 0;
  const probs = new Float64Array(n * c * hw), perPixel: { wt: number; t: number; eSoft: number }[] = [];
  for (let i = 0; i < pixels; i++) {
    const base = Math.floor(i / hw) * c * hw + (i % hw);
    const t = labels[i]!;
    let m = -Infinity, lo = Infinity;
    for (let k = 0; k < c; k++) {
      m = Math.max(m, logits[base + k * hw]!);
      lo = Math.min(lo, logits[base + k * hw]!);
    }
    let s = 0;
    for (let k = 0; k < c; k++) s += Math.exp(logits[base + k * hw]! - m);
    for (let k = 0; k < c; k++) probs[base + k * hw] = Math.exp(logits[base + k * hw]! - m) / s;
    const e = (3 + 2 * (m - lo)) * ULP;
    perPixel.push({ wt: 0, t, eSoft: 2 * e + gammaN(c) + 3 * ULP });
    if (t === ignore) continue;
    const wt = weights ? weights[t]! : 1;
    const l = Math.log(s) - (logits[base + t * hw]! - m);
    perPixel[i]!.wt = wt;
    sl += wt * l;
    sw += wt;
    slAbs += Math.abs(wt * l);
    termErr += Math.abs(wt) * (2 ** -21 + 3 * ULP * Math.abs(Math.log(s)) + e + gammaN(c) + U * (Math.abs(logits[base + t * hw]! - m) + Math.abs(l)) + U * Math.abs(l));
  }
  const loss = sl / sw;
  const gP = gammaN(pixels + 1);
  const lossBound = (termErr + gP * slAbs) / Math.abs(sw) + (gP + 3 * U) * Math.abs(loss) + 1e-30;
  const dlogits = new Float64Array(n * c * hw), dBound = new Float64Array(n * c * hw);
  for (let i = 0; i < pixels; i++) {
    const base = Math.floor(i / hw) * c * hw + (i % hw);
    const { wt, t, eSoft } = perPixel[i]!;
    if (t === ignore) continue;
    for (let k = 0; k < c; k++) {
      const p = probs[base + k * hw]!;
      const v = (wt / sw) * (p - (k === t ? 1 : 0));
      dlogits[base + k * hw] = v;
      dBound[base + k * hw] = Math.abs(wt / sw) * (eSoft * p + U * Math.abs(p - (k === t ? 1 : 0))) + (gP + 4 * U) * Math.abs(v) + 1e-30;
    }
  }
  return { loss, weightSum: sw, dlogits, lossBound, dBound };
}

// ---------------------------------------------------------------------------------------------
// Optimizers

export interface SgdRefOptions {
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/** torch.optim.SGD steps in float64: the parameter after each step (one row per step) and the final buffer. */
export function sgdRef(p0: ArrayLike<number>, grads: ArrayLike<number>[], lrs: number[], o: SgdRefOptions): { params: Float64Array[]; buffer: Float64Array } {
  const p = Float64Array.from(p0), buf = new Float64Array(p.length), params: Float64Array[] = [];
  grads.forEach((g, step) => {
    for (let i = 0; i < p.length; i++) {
      let d = g[i]! + o.weightDecay * p[i]!;
      if (o.momentum !== 0) {
        buf[i] = step === 0 ? d : o.momentum * buf[i]! + (1 - o.dampening) * d;
        d = o.nesterov ? d + o.momentum * buf[i]! : buf[i]!;
      }
      p[i] = p[i]! - lrs[step]! * d;
    }
    params.push(Float64Array.from(p));
  });
  return { params, buffer: buf };
}

export interface AdamwRefOptions {
  betas: Pair;
  eps: number;
  weightDecay: number;
}

/** torch.optim.AdamW steps in float64 (PyTorch's formula: bias corrections, decoupled decay). */
export function adamwRef(p0: ArrayLike<number>, grads: ArrayLike<number>[], lrs: number[], o: AdamwRefOptions): { params: Float64Array[]; expAvg: Float64Array; expAvgSq: Float64Array } {
  const p = Float64Array.from(p0), m = new Float64Array(p.length), v = new Float64Array(p.length), params: Float64Array[] = [];
  const [b1, b2] = o.betas;
  grads.forEach((g, step) => {
    const t = step + 1, lr = lrs[step]!;
    const bc1 = 1 - b1 ** t, bc2 = 1 - b2 ** t;
    for (let i = 0; i < p.length; i++) {
      p[i] = p[i]! * (1 - lr * o.weightDecay);
      m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
      v[i] = b2 * v[i]! + (1 - b2) * g[i]! * g[i]!;
      p[i] = p[i]! - (lr / bc1) * (m[i]! / (Math.sqrt(v[i]!) / Math.sqrt(bc2) + o.eps));
    }
    params.push(Float64Array.from(p));
  });
  return { params, expAvg: m, expAvgSq: v };
}

/**
 * A bound for `steps` optimizer steps of `opsPerStep` float32 operations each on values of
 * magnitude ≤ scale: every operation rounds once (division and sqrt: a few ulp, counted as extra
 * operations), and the errors of earlier steps carry forward unamplified (the update's factors
 * are ≤ 1 in magnitude: momentum, decay, lr·|d|/|p| small).
 */
export const optimizerBound = (steps: number, opsPerStep: number, scale: number): number => steps * opsPerStep * U * scale;

/** Largest |v|, at least 1e-30. */
export function maxAbs(v: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]!));
  return Math.max(m, 1e-30);
}

/** Largest |got − want| and largest |got − want| / bound (≤ 1 passes), NaN-aware. */
export function errorStats(got: ArrayLike<number>, want: ArrayLike<number>, bound: ArrayLike<number> | number): { maxErr: number; worst: number; bad: number; first: number } {
  let maxErr = 0, worst = 0, bad = 0, first = -1;
  if (got.length !== want.length) return { maxErr: Infinity, worst: Infinity, bad: Math.max(got.length, want.length), first: 0 };
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    const same = g === w || (Number.isNaN(g) && Number.isNaN(w));
    const err = same ? 0 : Math.abs(g - w);
    const b = typeof bound === 'number' ? bound : bound[i]!;
    if (!(err <= b)) {
      bad++;
      if (first < 0) first = i;
    }
    maxErr = Number.isNaN(err) ? Infinity : Math.max(maxErr, err);
    if (err > 0) worst = Math.max(worst, Number.isNaN(err) ? Infinity : err / b);
  }
  return { maxErr, worst, bad, first };
}
