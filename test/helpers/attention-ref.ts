// Float64 reference for multi-head attention, written the plain way (no online softmax), exactly as
// torch.nn.MultiheadAttention computes it after its in-projection:
//   S_h = scale · Q_h K_hᵀ (+ -inf above the diagonal when causal),  P_h = softmax_rows(S_h),
//   O = concat_h(P_h V_h),  P̄ = mean_h P_h.
// Input: packed QKV [B, L, 3·D] (row t: q for all heads, then k, then v; head h at columns
// h·hd .. h·hd+hd−1 of each D-wide block).

export interface AttentionRefArgs {
  qkv: ArrayLike<number>;
  batch: number;
  len: number;
  heads: number;
  headDim: number;
  scale: number;
  causal: boolean;
}

export interface AttentionRefResult {
  /** [B, L, D], heads concatenated. */
  out: Float64Array;
  /** [B, L, L]: row i (query) averaged over heads; each row sums to 1. */
  probs: Float64Array;
  /** max |scale · q·k| over visible pairs: how large the logits get. */
  maxLogit: number;
  /**
   * max scale · Σ_d |q_d·k_d| over visible pairs: the condition of the logits. An f32 dot product
   * is off by at most a few ε times this (ε = 2⁻²³), and a logit error δ moves a probability by a
   * factor e^δ, so it sets the scale of every error tolerance.
   */
  logitCondition: number;
  /** max |v|. */
  maxAbsV: number;
}

export function attentionRef(a: AttentionRefArgs): AttentionRefResult {
  const { batch, len, heads, headDim: hd, scale, causal } = a;
  const d = heads * hd;
  const out = new Float64Array(batch * len * d);
  const probs = new Float64Array(batch * len * len);
  const p = new Float64Array(len);
  let maxLogit = 0, logitCondition = 0, maxAbsV = 0;
  for (let b = 0; b < batch; b++) {
    const row = (t: number) => (b * len + t) * 3 * d;
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < len; i++) {
        const qi = row(i) + h * hd;
        const end = causal ? i + 1 : len;
        let max = -Infinity;
        for (let j = 0; j < end; j++) {
          const kj = row(j) + d + h * hd;
          let s = 0, abs = 0;
          for (let c = 0; c < hd; c++) {
            const qk = a.qkv[qi + c]! * a.qkv[kj + c]!;
            s += qk;
            abs += Math.abs(qk);
          }
          p[j] = scale * s;
          maxLogit = Math.max(maxLogit, Math.abs(p[j]!));
          logitCondition = Math.max(logitCondition, Math.abs(scale) * abs);
          if (p[j]! > max) max = p[j]!;
        }
        let sum = 0;
        for (let j = 0; j < end; j++) sum += (p[j] = Math.exp(p[j]! - max));
        const o = (b * len + i) * d + h * hd;
        for (let j = 0; j < end; j++) {
          const w = p[j]! / sum;
          probs[(b * len + i) * len + j] += w / heads;
          const vj = row(j) + 2 * d + h * hd;
          for (let c = 0; c < hd; c++) {
            out[o + c] += w * a.qkv[vj + c]!;
            maxAbsV = Math.max(maxAbsV, Math.abs(a.qkv[vj + c]!));
          }
        }
      }
    }
  }
  return { out, probs, maxLogit, logitCondition, maxAbsV };
}

/** Split packed QKV [B, L, 3·D] into separate Q, K, V arrays [B, L, D]. */
export function splitQkv(qkv: Float32Array, tokens: number, d: number): { q: Float32Array; k: Float32Array; v: Float32Array } {
  const q = new Float32Array(tokens * d), k = new Float32Array(tokens * d), v = new Float32Array(tokens * d);
  for (let t = 0; t < tokens; t++) {
    q.set(qkv.subarray(t * 3 * d, t * 3 * d + d), t * d);
    k.set(qkv.subarray(t * 3 * d + d, t * 3 * d + 2 * d), t * d);
    v.set(qkv.subarray(t * 3 * d + 2 * d, t * 3 * d + 3 * d), t * d);
  }
  return { q, k, v };
}
