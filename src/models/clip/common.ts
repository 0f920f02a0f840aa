// Pieces shared by the CLIP vision and text graphs: weight access, host-side derived constants,
// and the pre-LN residual attention block (docs/algorithms.md §1.2) as graph nodes.
import type { Graph, Value } from '../../graph/graph.js';
import { attentionOp, layerNormOp, matmulOp } from '../../graph/ops.js';

/** Canonical CLIP tensors (src/weights/layouts/clip.ts), e.g. `LoadedClip.tensors`. */
export type ClipWeights = ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>;

export class ClipGraphError extends Error {
  override name = 'ClipGraphError';
}

/** A canonical tensor, with its shape checked when `shape` is given. */
export function tensorOf(weights: ClipWeights, name: string, shape?: readonly number[]): Float32Array {
  const t = weights.get(name);
  if (!t) throw new ClipGraphError(`CLIP weights: '${name}' is missing`);
  if (shape) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== n) throw new ClipGraphError(`CLIP weights: '${name}' has ${t.data.length} values [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
  return t.data;
}

/**
 * A weight value of the graph, created once per name. Graph weights that share a host array are
 * uploaded once when the graph is compiled with a WeightCache, so derived constants below are
 * memoized per source array: every graph built from one set of weights uses the same arrays.
 */
export function param(g: Graph, name: string, data: Float32Array, shape: readonly number[]): Value {
  const have = g.weights.get(name);
  if (have) {
    if (have.data !== data) throw new ClipGraphError(`graph weight '${name}' is already bound to other data`);
    return have.value;
  }
  return g.weight(name, data, [...shape]);
}

const transposes = new WeakMap<Float32Array, Float32Array>();

/** [rows, cols] → [cols, rows], memoized per source array. */
export function transposed(data: Float32Array, rows: number, cols: number): Float32Array {
  let t = transposes.get(data);
  if (!t) {
    if (data.length !== rows * cols) throw new ClipGraphError(`transpose: ${data.length} values for [${rows}, ${cols}]`);
    t = new Float32Array(data.length);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = data[r * cols + c]!;
    transposes.set(data, t);
  }
  return t;
}

const zeroArrays = new Map<number, Float32Array>();

/** A shared all-zero array of length n (never written). */
export function zeros(n: number): Float32Array {
  let z = zeroArrays.get(n);
  if (!z) zeroArrays.set(n, (z = new Float32Array(n)));
  return z;
}

/**
 * A zero bias of N elements as a graph weight. Projections without a bias (visual.proj,
 * text_projection, the patch embedding) are run as `x · Wᵀ + 0` so that they reuse the matmul
 * pipeline of the biased Linear layers instead of compiling another specialisation (1–4 s each on
 * SwiftShader). Adding +0 changes no value (only −0 becomes +0).
 */
export function zeroBias(g: Graph, n: number): Value {
  return param(g, `zeros[${n}]`, zeros(n), [n]);
}

export interface BlockOptions {
  heads: number;
  eps: number;
  /** Mask key j > query i (text tower). */
  causal?: boolean;
  /** Also output the head-averaged attention probabilities [.., L, L]. */
  probs?: boolean;
}

/**
 * One pre-LN residual attention block, `prefix` = its canonical key prefix (e.g.
 * `visual.transformer.resblocks.3`); node names are the prefix plus the module path:
 *   x1 = x + out_proj(MHA(ln_1(x)))      fused QKV matmul → attention op → out-proj with residual
 *   y  = x1 + c_proj(QuickGELU(c_fc(ln_2(x1))))   activation and residual fused into the matmuls
 * x is [L, W] or [B, L, W].
 */
export function residualBlock(g: Graph, x: Value, weights: ClipWeights, prefix: string, width: number, mlpWidth: number, o: BlockOptions): { y: Value; probs?: Value } {
  const w = (name: string, shape: number[]) => param(g, `${prefix}.${name}`, tensorOf(weights, `${prefix}.${name}`, shape), shape);
  const [h1] = g.apply(layerNormOp, [x, w('ln_1.weight', [width]), w('ln_1.bias', [width])], { eps: o.eps }, `${prefix}.ln_1`);
  const [qkv] = g.apply(matmulOp, [h1, w('attn.in_proj_weight', [3 * width, width]), w('attn.in_proj_bias', [3 * width])], { transB: true }, `${prefix}.attn.in_proj`);
  const [att, probs] = g.apply(attentionOp, [qkv], { heads: o.heads, causal: o.causal, probs: o.probs }, `${prefix}.attn`);
  const [x1] = g.apply(matmulOp, [att, w('attn.out_proj.weight', [width, width]), w('attn.out_proj.bias', [width]), x], { transB: true }, `${prefix}.attn.out_proj`);
  const [h2] = g.apply(layerNormOp, [x1, w('ln_2.weight', [width]), w('ln_2.bias', [width])], { eps: o.eps }, `${prefix}.ln_2`);
  const [f] = g.apply(matmulOp, [h2, w('mlp.c_fc.weight', [mlpWidth, width]), w('mlp.c_fc.bias', [mlpWidth])], { transB: true, activation: 'quickgelu' }, `${prefix}.mlp.c_fc`);
  const [y] = g.apply(matmulOp, [f, w('mlp.c_proj.weight', [width, mlpWidth]), w('mlp.c_proj.bias', [width]), x1], { transB: true }, `${prefix}.mlp.c_proj`);
  return { y: y!, probs };
}

/** The nearest float16 value to a float64 number (round to nearest, ties to even), as a number. */
export function roundToF16(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  // 65520 is halfway between the largest half (65504) and 2^16; the tie goes to the even 2^16 = Inf.
  if (a >= 65520) return x > 0 ? Infinity : -Infinity;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  const quantum = 2 ** (Math.max(e, -14) - 10); // 10 mantissa bits; subnormals below 2^-14
  const m = a / quantum; // exact: a power-of-two scaling
  let r = Math.floor(m);
  const frac = m - r;
  if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r++;
  return Math.sign(x) * r * quantum;
}
