// CLIP's image tower (ViT) as a graph for one image size (docs/algorithms.md §1.1–1.5).
//
//   image [3, H', W'] (normalised, H', W' multiples of the patch p; see clipEsInput)
//   → patch embedding: conv2d(stride = kernel = p, no bias) as im2col + one matmul
//   → [class token; patches] + positional embedding (interpolated to the grid on the host)
//   → ln_pre → blocks (pre-LN, fused QKV, attention op, fused epilogues) → ln_post → @ proj
//
// Patch embedding. A convolution whose stride equals its kernel reads every pixel exactly once and
// its windows do not overlap, so its implicit-GEMM form needs no gather at all: im2col is a pure
// permutation. The image [3, H', W'] viewed as [3, gh, p, gw, p] and permuted to [gh, gw, 3, p, p]
// is the patch matrix [n, 3·p²] (row = patch in row-major grid order, columns = channel, then row,
// then column within the patch, which is conv1.weight's [D, 3, p, p] order). One strided copy and
// one matmul with conv1.weight viewed as [D, 3·p²] (transposed) give the patch tokens; the matmul's
// residual epilogue adds the patch rows of the positional table on the way out.
//
// Positional embedding (§1.4, CLIP-ES `upsample_pos_emb`): row 0 (class) is kept, the g×g grid
// rows are resized bilinearly (align_corners = False, no antialiasing) to gh×gw on the host, and
// then — by default, as CLIP-ES does on every forward, including at the training size — the whole
// table is rounded to float16 and back (round to nearest, ties to even). The host computes the
// exactly rounded value of the formula (float64, plus an exact rational evaluation wherever float64
// is too close to a float16 midpoint to decide), so the table is independent of evaluation order.
// Set `positionalRounding: 'none'` for the unrounded table (OpenAI's standard fp32 CLIP on CPU).
// CLIP-ES itself interpolates in float32, so its table differs from the exact one by one float16
// ulp in some entries: a few tenths of a percent for real checkpoints per §1.4, and 0–3 % for the
// few-bit random test weights (whose products land on midpoints often); the embeddings still agree
// to 1 − cos ≈ 1e-10 (test/models/clip/clip.test.ts, verify.ts).
//
// Outputs (values; the caller declares which are graph outputs):
//   blockInputs[i]  x entering block i, [L, D]; blockInputs[blocks] = the last block's output
//                   (before ln_post). CLIP-ES's `image_features` X is blockInputs[layers − 1] (§3.3).
//   attention[i]    head-averaged post-softmax attention of block i, [L, L] (row = query), for the
//                   blocks in `attentionLayers` (CLIP-ES's A_i, §1.2 / §3.5).
//   postTokens      ln_post(x) for every token, [L, D] (when all blocks run).
//   features        postTokens @ proj, [L, E]: row 0 is standard CLIP's image embedding; the mean of
//                   rows 1..n is CLIP-ES's image feature (mean of patch tokens, §1.5).
//   embedding       features row 0, [1, E].
import type { Graph, Value } from '../../graph/graph.js';
import { concatOp, layerNormOp, matmulOp, sliceOp, viewPermuteOp } from '../../graph/ops.js';
import type { ClipConfig } from '../../weights/layouts/clip.js';
import { ClipGraphError, param, residualBlock, roundToF16, tensorOf, transposed, zeroBias, type ClipWeights } from './common.js';

export type PositionalRounding = 'fp16' | 'none';

export interface ClipVisionOptions {
  /** Input height and width in pixels (already resized; multiples of the patch size). */
  height: number;
  width: number;
  /** Blocks whose head-averaged attention maps are computed (0-based). Default none. */
  attentionLayers?: readonly number[];
  /** Run only the first `blocks` blocks (default all); then there is no ln_post/proj. */
  blocks?: number;
  /** Rounding of the interpolated positional table: 'fp16' (CLIP-ES, default) or 'none'. */
  positionalRounding?: PositionalRounding;
  /** Name of the graph input (default 'image'). */
  inputName?: string;
}

export interface ClipVisionGraph {
  /** The input [3, H', W'] f32. */
  image: Value;
  grid: [number, number];
  /** Tokens L = gh·gw + 1. */
  tokens: number;
  blockInputs: Value[];
  attention: Map<number, Value>;
  postTokens?: Value;
  features?: Value;
  embedding?: Value;
}

/** The grid and token count of an input size, or an error naming what is wrong. */
export function visionGrid(config: ClipConfig, height: number, width: number): { gh: number; gw: number; tokens: number } {
  const p = config.vision.patch;
  for (const [what, v] of [['height', height], ['width', width]] as const) {
    if (!Number.isInteger(v) || v < p || v % p !== 0) {
      throw new ClipGraphError(`CLIP vision: image ${what} ${v} must be a positive multiple of the patch size ${p} (resize first, e.g. clipEsInput)`);
    }
  }
  const gh = height / p, gw = width / p;
  return { gh, gw, tokens: gh * gw + 1 };
}

/** One output position's bilinear taps along an axis: exact rational weights (l0, l1) = (den − l1Num, l1Num)/den and their float64 values. */
interface Tap {
  i0: number;
  i1: number;
  w0: number;
  w1: number;
  l1Num: number;
  den: number;
}

/**
 * Taps of a g → G resize with half-pixel centres (align_corners = False): source s = (o + 0.5)·g/G −
 * 0.5, clamped below at 0, i0 = ⌊s⌋, i1 = min(i0 + 1, g − 1), weights 1 − (s − i0) and s − i0.
 * Exactly, s = ((2o + 1)·g − G) / 2G.
 */
function bilinearTaps(g: number, outSize: number): Tap[] {
  const den = 2 * outSize;
  return Array.from({ length: outSize }, (_, o) => {
    const num = Math.max((2 * o + 1) * g - outSize, 0); // small integers: exact
    const i0 = Math.floor(num / den);
    const l1Num = num - i0 * den;
    return { i0, i1: Math.min(i0 + 1, g - 1), w0: (den - l1Num) / den, w1: l1Num / den, l1Num, den };
  });
}

const f64View = new DataView(new ArrayBuffer(8));

/** A finite double as m·2^e with an integer m (exact). */
function dyadic(x: number): [bigint, number] {
  if (x === 0) return [0n, 0];
  f64View.setFloat64(0, x);
  const hi = f64View.getUint32(0), lo = f64View.getUint32(4);
  const bits = (hi >>> 20) & 0x7ff;
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (bits !== 0) m |= 1n << 52n;
  return [hi >>> 31 ? -m : m, bits === 0 ? -1074 : bits - 1075];
}

/** sign(Σ num_k·x_k / den − t), exactly (den > 0; x_k and t finite doubles). */
function compareExact(terms: ReadonlyArray<readonly [number, number]>, den: number, t: number): number {
  const parts = [...terms.map(([num, x]) => [BigInt(num), ...dyadic(x)] as const), [-BigInt(den), ...dyadic(t)] as const];
  const emin = Math.min(...parts.map(([, , e]) => e));
  let sum = 0n;
  for (const [num, m, e] of parts) sum += num * m * (1n << BigInt(e - emin));
  return sum > 0n ? 1 : sum < 0n ? -1 : 0;
}

/**
 * Rounds the exact value Σ num_k·x_k / den to float16, given its float64 estimate v. Only a value
 * within the float64 error of a rounding boundary (the midpoint of two float16 neighbours) needs
 * the exact comparison; that is common here, because bilinear weights such as 1/4, 3/4 or 7/16
 * times weights with few significant bits land exactly on midpoints.
 */
function roundExactF16(v: number, terms: ReadonlyArray<readonly [number, number]>, den: number, scale: number): number {
  const a = Math.abs(v);
  if (a === 0 || a >= 65504) return roundToF16(v);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  const q = 2 ** (Math.max(e, -14) - 10);
  const lo = Math.floor(a / q) * q;
  const mid = lo + q / 2;
  // float64 error of v: a few ulps of the largest term; 2^-40 leaves a wide margin.
  if (Math.abs(a - mid) > scale * 2 ** -40) return roundToF16(v);
  const sign = v < 0 ? -1 : 1;
  const c = compareExact(terms.map(([num, x]) => [num, sign * x] as const), den, mid);
  const evenLow = (lo / q) % 2 === 0;
  const mag = c > 0 ? lo + q : c < 0 ? lo : evenLow ? lo : lo + q;
  return sign * mag;
}

/**
 * The positional table for a gh×gw grid (§1.4): [1 + gh·gw, width], class row first, grid rows
 * row-major. `pos` is the checkpoint's [1 + g², width] table. Bilinear with half-pixel centres
 * (see bilinearTaps), evaluated in float64, then — unless `rounding` is 'none' — rounded to
 * float16: the exactly rounded value of the formula (ties to even), because where float64 lands
 * within its error of a midpoint between two float16 values, an exact rational evaluation decides.
 * The result therefore does not depend on evaluation order or fused multiply-adds.
 */
export function interpolatePositionalEmbedding(pos: Float32Array, width: number, gh: number, gw: number, rounding: PositionalRounding = 'fp16'): Float32Array {
  const rows = pos.length / width;
  const g = Math.round(Math.sqrt(rows - 1));
  if (!Number.isInteger(rows) || g * g + 1 !== rows) throw new ClipGraphError(`positional embedding: ${pos.length} values are not [1 + g², ${width}]`);
  const ty = bilinearTaps(g, gh), tx = bilinearTaps(g, gw);
  const out = new Float32Array((1 + gh * gw) * width);
  const fp16 = rounding === 'fp16';
  for (let d = 0; d < width; d++) out[d] = fp16 ? roundToF16(pos[d]!) : pos[d]!;
  const at = (r: number, c: number, d: number) => pos[(1 + r * g + c) * width + d]!;
  for (let r = 0; r < gh; r++) {
    const y = ty[r]!;
    for (let c = 0; c < gw; c++) {
      const x = tx[c]!;
      const base = (1 + r * gw + c) * width;
      for (let d = 0; d < width; d++) {
        const p00 = at(y.i0, x.i0, d), p01 = at(y.i0, x.i1, d), p10 = at(y.i1, x.i0, d), p11 = at(y.i1, x.i1, d);
        const v = y.w0 * (x.w0 * p00 + x.w1 * p01) + y.w1 * (x.w0 * p10 + x.w1 * p11);
        if (!fp16) {
          out[base + d] = v;
          continue;
        }
        const [yl0, yl1, xl0, xl1] = [y.den - y.l1Num, y.l1Num, x.den - x.l1Num, x.l1Num];
        const terms = [[yl0 * xl0, p00], [yl0 * xl1, p01], [yl1 * xl0, p10], [yl1 * xl1, p11]] as const;
        const scale = Math.max(Math.abs(p00), Math.abs(p01), Math.abs(p10), Math.abs(p11));
        out[base + d] = roundExactF16(v, terms, y.den * x.den, scale);
      }
    }
  }
  return out;
}

/** Adds CLIP's image tower for one input size to `g`; see the file header for the outputs. */
export function buildClipVision(g: Graph, weights: ClipWeights, config: ClipConfig, opts: ClipVisionOptions): ClipVisionGraph {
  const { width: D, layers, heads, patch: p, mlpWidth } = config.vision;
  const E = config.embedDim;
  const eps = config.layerNormEps;
  const { gh, gw, tokens: L } = visionGrid(config, opts.height, opts.width);
  const n = gh * gw;
  const blocks = opts.blocks ?? layers;
  if (!Number.isInteger(blocks) || blocks < 0 || blocks > layers) throw new ClipGraphError(`CLIP vision: blocks = ${blocks} must be 0..${layers}`);
  const attentionLayers = new Set(opts.attentionLayers ?? []);
  for (const i of attentionLayers) {
    if (!Number.isInteger(i) || i < 0 || i >= blocks) throw new ClipGraphError(`CLIP vision: attention layer ${i} is not one of the ${blocks} blocks run (0..${blocks - 1})`);
  }
  const w = (name: string, shape: number[]) => param(g, name, tensorOf(weights, name, shape), shape);

  const image = g.input(opts.inputName ?? 'image', [3, opts.height, opts.width]);
  const [patches] = g.apply(viewPermuteOp, [image], { view: [3, gh, p, gw, p], perm: [1, 3, 0, 2, 4], shape: [n, 3 * p * p] }, 'visual.im2col');

  const pos = interpolatePositionalEmbedding(tensorOf(weights, 'visual.positional_embedding'), D, gh, gw, opts.positionalRounding ?? 'fp16');
  const cls = tensorOf(weights, 'visual.class_embedding', [D]);
  const clsRow = new Float32Array(D);
  for (let d = 0; d < D; d++) clsRow[d] = Math.fround(cls[d]! + pos[d]!); // one float32 addition, as torch's
  const tag = `${gh}x${gw}${opts.positionalRounding === 'none' ? '' : '.f16'}`;
  const posPatches = g.weight(`visual.positional_embedding@${tag}`, pos.subarray(D), [n, D]);
  const clsToken = g.weight(`visual.class_token@${tag}`, clsRow, [1, D]);

  const [embedded] = g.apply(matmulOp, [patches, w('visual.conv1.weight', [D, 3 * p * p]), zeroBias(g, D), posPatches], { transB: true }, 'visual.conv1');
  const [x0] = g.apply(concatOp, [clsToken, embedded], { axis: 0 }, 'visual.tokens');
  const [pre] = g.apply(layerNormOp, [x0, w('visual.ln_pre.weight', [D]), w('visual.ln_pre.bias', [D])], { eps }, 'visual.ln_pre');

  const blockInputs: Value[] = [pre!];
  const attention = new Map<number, Value>();
  let x = pre!;
  for (let i = 0; i < blocks; i++) {
    const r = residualBlock(g, x, weights, `visual.transformer.resblocks.${i}`, D, mlpWidth, { heads, eps, probs: attentionLayers.has(i) });
    if (r.probs) attention.set(i, r.probs);
    x = r.y;
    blockInputs.push(x);
  }
  const out: ClipVisionGraph = { image, grid: [gh, gw], tokens: L, blockInputs, attention };
  if (blocks === layers) {
    const [post] = g.apply(layerNormOp, [x, w('visual.ln_post.weight', [D]), w('visual.ln_post.bias', [D])], { eps }, 'visual.ln_post');
    const projT = param(g, 'visual.proj^T', transposed(tensorOf(weights, 'visual.proj', [D, E]), D, E), [E, D]);
    const [features] = g.apply(matmulOp, [post!, projT, zeroBias(g, E)], { transB: true }, 'visual.proj');
    const [embedding] = g.apply(sliceOp, [features!], { ranges: [{ start: 0, stop: 1 }] }, 'visual.embedding');
    Object.assign(out, { postTokens: post, features, embedding });
  }
  return out;
}
