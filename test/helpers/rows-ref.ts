// float64 references for layernorm, softmax and the axis reductions (src/kernels/{layernorm,softmax,reduce}.ts).
// Inputs are the f32 values the GPU saw; everything after that is computed in float64.

export interface LayerNormRef {
  y: Float64Array;
  /** x + residual rounded to f32, as the kernel computes it, when a residual is given. */
  h: Float64Array;
  mean: Float64Array;
  rstd: Float64Array;
  /** Per-row standard deviation sqrt(var) (without eps), for scaling tolerances. */
  std: Float64Array;
}

export function layerNormRef(
  x: ArrayLike<number>,
  rows: number,
  cols: number,
  opts: { gamma?: ArrayLike<number>; beta?: ArrayLike<number>; eps?: number; residual?: ArrayLike<number> } = {},
): LayerNormRef {
  const eps = opts.eps ?? 1e-5;
  const h = new Float64Array(rows * cols);
  for (let i = 0; i < h.length; i++) h[i] = opts.residual ? Math.fround(x[i]! + opts.residual[i]!) : x[i]!;
  const y = new Float64Array(rows * cols);
  const mean = new Float64Array(rows), rstd = new Float64Array(rows), std = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += h[r * cols + j]!;
    const m = s / cols;
    let v = 0;
    for (let j = 0; j < cols; j++) v += (h[r * cols + j]! - m) ** 2;
    v /= cols;
    mean[r] = m;
    std[r] = Math.sqrt(v);
    rstd[r] = 1 / Math.sqrt(v + eps);
    for (let j = 0; j < cols; j++) {
      let o = (h[r * cols + j]! - m) * rstd[r]!;
      if (opts.gamma) o *= opts.gamma[j]!;
      if (opts.beta) o += opts.beta[j]!;
      y[r * cols + j] = o;
    }
  }
  return { y, h, mean, rstd, std };
}

/** softmax(scale · x + mask) per row; mask row r mod maskRows. A row with no finite logit is NaN. */
export function softmaxRef(x: ArrayLike<number>, rows: number, cols: number, opts: { scale?: number; mask?: ArrayLike<number>; maskRows?: number } = {}): Float64Array {
  const scale = opts.scale ?? 1;
  const out = new Float64Array(rows * cols);
  const z = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < cols; j++) {
      z[j] = scale * x[r * cols + j]! + (opts.mask ? opts.mask[(r % opts.maskRows!) * cols + j]! : 0);
      m = Math.max(m, z[j]!);
    }
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(z[j]! - m);
    for (let j = 0; j < cols; j++) out[r * cols + j] = m === -Infinity ? NaN : Math.exp(z[j]! - m) / s;
  }
  return out;
}

export type ReduceRefOp = 'sum' | 'mean' | 'l2' | 'max' | 'min' | 'argmax' | 'argmin';

/**
 * Reduce x viewed as [outer, len, inner] over the middle axis. Also returns, per output, Σ|term|
 * (the scale of the rounding error of a sum). max/min/argmax/argmin follow PyTorch: NaN wins, ties
 * go to the first index.
 */
export function reduceRef(x: ArrayLike<number>, outer: number, len: number, inner: number, op: ReduceRefOp): { value: Float64Array; absSum: Float64Array } {
  const value = new Float64Array(outer * inner);
  const absSum = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const at = (a: number) => x[(o * len + a) * inner + i]!;
      const n = o * inner + i;
      if (op === 'sum' || op === 'mean' || op === 'l2') {
        let s = 0, abs = 0;
        for (let a = 0; a < len; a++) {
          const t = op === 'l2' ? at(a) ** 2 : at(a);
          s += t;
          abs += Math.abs(t);
        }
        value[n] = op === 'mean' ? s / len : op === 'l2' ? Math.sqrt(s) : s;
        absSum[n] = abs;
      } else {
        const sign = op === 'max' || op === 'argmax' ? 1 : -1;
        let best = 0;
        for (let a = 1; a < len; a++) {
          const v = sign * at(a), b = sign * at(best);
          if (Number.isNaN(b)) break;
          if (Number.isNaN(v) || v > b) best = a;
        }
        value[n] = op === 'argmax' || op === 'argmin' ? best : at(best);
      }
    }
  }
  return { value, absSum };
}
