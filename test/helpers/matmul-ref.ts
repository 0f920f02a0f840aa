// float64 reference for the matmul family, and the error bound its tests use.
import { activateRef, type Activation } from '../../src/kernels/activation.js';

export interface MatmulRefInput {
  m: number;
  n: number;
  k: number;
  /** op(A) per batch item, row-major M×K (logical layout, whatever the stored one). */
  a: Float32Array[];
  /** op(B) per batch item, row-major K×N. */
  b: Float32Array[];
  alpha?: number;
  bias?: Float32Array;
  activation?: Activation;
  residual?: Float32Array;
}

export interface MatmulRefOutput {
  /** C, batch items concatenated. */
  c: Float64Array;
  /** Allowed |error| per element of C (see matmulTolerance). */
  tol: Float64Array;
}

const U = 2 ** -24; // unit roundoff of f32

/**
 * C = act(alpha · A·B + bias) + residual in float64, and for each element a rigorous bound on the
 * error of an f32 kernel that accumulates in f32 in any order (with or without fma):
 *   - the dot product: |fl(Σ a·b) − Σ a·b| ≤ γ_K · Σ|a·b|, γ_K = K·u / (1 − K·u) (Higham, Thm 3.1;
 *     it holds for every summation order, so also for split-K's per-slice sums added later);
 *   - alpha·s and + bias: one rounding each, relative to the magnitudes involved;
 *   - the activation: its slope is at most 1.13 (gelu; relu 1, quickgelu 1.1), so the error above
 *     passes through scaled by ≤ 1.13, plus the f32 activation's own error (≤ 2e-6 relative, the
 *     bound the elementwise tests use, and 1e-6 absolute for the gelu/sigmoid tails);
 *   - + residual: one rounding of the result.
 * The inputs are exactly representable in f32 and used as such by both sides, so no input rounding.
 */
export function matmulRef(x: MatmulRefInput): MatmulRefOutput {
  const { m, n, k } = x;
  const batch = x.a.length;
  const alpha = x.alpha ?? 1;
  const act = x.activation ?? 'none';
  const gammaK = (k * U) / (1 - k * U);
  const slope = act === 'none' || act === 'relu' ? 1 : 1.13;
  const c = new Float64Array(batch * m * n);
  const tol = new Float64Array(batch * m * n);
  const sum = new Float64Array(n), mag = new Float64Array(n);
  for (let item = 0; item < batch; item++) {
    const A = x.a[item]!, B = x.b[item]!;
    for (let i = 0; i < m; i++) {
      sum.fill(0);
      mag.fill(0);
      for (let kk = 0; kk < k; kk++) {
        const av = A[i * k + kk]!;
        if (av === 0) continue;
        const row = kk * n;
        for (let j = 0; j < n; j++) {
          const prod = av * B[row + j]!;
          sum[j] += prod;
          mag[j] += Math.abs(prod);
        }
      }
      for (let j = 0; j < n; j++) {
        const at = (item * m + i) * n + j;
        const bias = x.bias ? x.bias[j]! : 0;
        const pre = alpha * sum[j]! + bias;
        let v = activateRef(act, pre);
        const preErr = gammaK * Math.abs(alpha) * mag[j]! + U * (Math.abs(alpha * sum[j]!) + Math.abs(pre));
        let err = slope * preErr + (act === 'none' ? 0 : 2e-6 * Math.abs(v) + 1e-6);
        if (x.residual) {
          v += x.residual[at]!;
          err += U * Math.abs(v);
        }
        c[at] = v;
        // 1.5×: headroom for the bound's second-order terms, so a result right at it still passes.
        tol[at] = 1.5 * err + 1e-30;
      }
    }
  }
  return { c, tol };
}

/** Store a row-major rows×cols matrix transposed (cols×rows). */
export function transposed(x: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(x.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = x[i * cols + j]!;
  return t;
}

/** Assert |got − want| ≤ tol elementwise, naming the first bad element and the worst ratio. */
export function expectWithin(got: ArrayLike<number>, want: ArrayLike<number>, tol: ArrayLike<number>, what: string): void {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} values, want ${want.length}`);
  let bad = 0, first = -1, worst = 0, worstAt = -1;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!);
    const ratio = err / tol[i]!;
    if (!(err <= tol[i]!)) {
      bad++;
      if (first < 0) first = i;
    }
    if (!(ratio <= worst)) {
      worst = ratio;
      worstAt = i;
    }
  }
  if (bad) {
    throw new Error(
      `${what}: ${bad}/${want.length} elements off; first at ${first}: got ${got[first]}, want ${want[first]} ± ${tol[first]}; ` +
        `worst |err|/tol ${worst.toFixed(2)} at ${worstAt}`,
    );
  }
}
