// CLIP's text tower as a graph for one batch size and context length (docs/algorithms.md §2.2), and
// the zero-shot classifier CLIP-ES builds from it (§2.3).
//
//   ids [B, C] → token_embedding rows (take_rows) + positional_embedding[:C]
//   → blocks with causal attention → ln_final → @ text_projection (every token) → EOT rows
//
// EOT pooling: the feature is the token at the first occurrence of the largest id of each row
// (`argmax(ids)`; <|endoftext|> is the largest id). The index b·C + t is computed on the host from
// the ids being fed (`eotIndices`) and given as the per-run input `eot`; a take_rows node picks
// those rows. The projection runs on all B·C tokens before the pick (C times the work of
// projecting B rows, under 1 % of the tower) so that it shares the matmul pipeline of the
// projections inside the blocks; rows are independent, so the picked values are the same.
//
// The context may be shorter than the checkpoint's (e.g. 16 instead of 77 for short prompts): with
// the causal mask, tokens up to EOT never see the padding after it, so the pooled feature only
// depends on C through the positional rows used, which are the first C either way.
import type { Graph, Value } from '../../graph/graph.js';
import { binaryOp, layerNormOp, matmulOp, takeRowsOp } from '../../graph/ops.js';
import type { ClipConfig } from '../../weights/layouts/clip.js';
import { ClipGraphError, param, residualBlock, tensorOf, transposed, zeroBias, type ClipWeights } from './common.js';

export interface ClipTextOptions {
  batch: number;
  /** Tokens per row (default the checkpoint's context length). */
  contextLength?: number;
}

export interface ClipTextGraph {
  /** Input 'ids' [B, C] i32. */
  ids: Value;
  /** Input 'eot' [B] u32: flat token index b·C + argmax(ids[b]) (see eotIndices). */
  eot: Value;
  contextLength: number;
  /** x entering block i, [B, C, W]; the last entry is the last block's output (before ln_final). */
  blockInputs: Value[];
  /** ln_final(x) @ text_projection for every token, [B, C, E]. */
  tokenFeatures: Value;
  /** The EOT token's feature per row, [B, E] (not normalised). */
  embedding: Value;
}

const posSlices = new WeakMap<Float32Array, Map<number, Float32Array>>();

/** The first `rows` rows of the positional table, memoized (shared by every graph of that length). */
function positionalRows(pos: Float32Array, width: number, rows: number): Float32Array {
  let m = posSlices.get(pos);
  if (!m) posSlices.set(pos, (m = new Map()));
  let s = m.get(rows);
  if (!s) m.set(rows, (s = rows * width === pos.length ? pos : pos.slice(0, rows * width)));
  return s;
}

export function buildClipText(g: Graph, weights: ClipWeights, config: ClipConfig, opts: ClipTextOptions): ClipTextGraph {
  const { width: W, layers, heads, mlpWidth, vocabSize } = config.text;
  const E = config.embedDim;
  const eps = config.layerNormEps;
  const B = opts.batch;
  const C = opts.contextLength ?? config.text.contextLength;
  if (!Number.isInteger(B) || B < 1) throw new ClipGraphError(`CLIP text: batch ${B} must be a positive integer`);
  if (!Number.isInteger(C) || C < 1 || C > config.text.contextLength) throw new ClipGraphError(`CLIP text: context length ${C} must be 1..${config.text.contextLength}`);
  const w = (name: string, shape: number[]) => param(g, name, tensorOf(weights, name, shape), shape);

  const ids = g.input('ids', [B, C], 'i32');
  const eot = g.input('eot', [B], 'u32');
  const [tok] = g.apply(takeRowsOp, [w('token_embedding.weight', [vocabSize, W]), ids], {}, 'token_embedding');
  const pos = param(g, `positional_embedding[:${C}]`, positionalRows(tensorOf(weights, 'positional_embedding'), W, C), [C, W]);
  const [x0] = g.apply(binaryOp, [tok!, pos], { op: 'add' }, 'text.add_positional');

  const blockInputs: Value[] = [x0!];
  let x = x0!;
  for (let i = 0; i < layers; i++) {
    x = residualBlock(g, x, weights, `transformer.resblocks.${i}`, W, mlpWidth, { heads, eps, causal: true }).y;
    blockInputs.push(x);
  }
  const [lnf] = g.apply(layerNormOp, [x, w('ln_final.weight', [W]), w('ln_final.bias', [W])], { eps }, 'ln_final');
  const projT = param(g, 'text_projection^T', transposed(tensorOf(weights, 'text_projection', [W, E]), W, E), [E, W]);
  const [tokenFeatures] = g.apply(matmulOp, [lnf!, projT, zeroBias(g, E)], { transB: true }, 'text_projection');
  const [embedding] = g.apply(takeRowsOp, [tokenFeatures!, eot], { rowLen: E }, 'text.eot_pool');
  return { ids, eot, contextLength: C, blockInputs, tokenFeatures: tokenFeatures!, embedding: embedding! };
}

/** Flat EOT token index per row: b·C + (first position of the row's largest id), as torch's argmax. */
export function eotIndices(ids: ArrayLike<number>, batch: number, contextLength: number): Uint32Array {
  if (ids.length !== batch * contextLength) throw new ClipGraphError(`eotIndices: ${ids.length} ids for ${batch} rows of ${contextLength}`);
  const out = new Uint32Array(batch);
  for (let b = 0; b < batch; b++) {
    let best = 0;
    for (let t = 1; t < contextLength; t++) if (ids[b * contextLength + t]! > ids[b * contextLength + best]!) best = t;
    out[b] = b * contextLength + best;
  }
  return out;
}

/** Rows of a [rows, cols] matrix scaled to unit L2 norm (float64 sums, as plain norms: no epsilon). */
export function l2NormalizeRows(x: Float32Array, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / cols; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += x[r * cols + c]! ** 2;
    const inv = 1 / Math.sqrt(s);
    for (let c = 0; c < cols; c++) out[r * cols + c] = x[r * cols + c]! * inv;
  }
  return out;
}

/** `template.format(name)` for templates with exactly one `{}`. */
export function fillTemplate(template: string, name: string): string {
  const parts = template.split('{}');
  if (parts.length !== 2) throw new ClipGraphError(`template '${template}' must contain exactly one {} (it has ${parts.length - 1})`);
  return parts[0] + name + parts[1];
}

/**
 * Zero-shot class embeddings as CLIP-ES builds them (§2.3, `zeroshot_classifier`): for every class,
 * encode each template filled with the class name, L2-normalise each embedding, average over the
 * templates, L2-normalise again. `encode(texts)` returns [texts.length, E] row-major. Returns
 * [classes, E] row-major (all prompts go to `encode` in one call, class-major).
 */
export async function zeroShotClassifier(
  encode: (texts: string[]) => Promise<Float32Array>,
  classNames: readonly string[],
  templates: readonly string[],
  embedDim: number,
): Promise<Float32Array> {
  if (!templates.length) throw new ClipGraphError('zeroShotClassifier: no templates');
  const prompts = classNames.flatMap((c) => templates.map((t) => fillTemplate(t, c)));
  const emb = await encode(prompts);
  if (emb.length !== prompts.length * embedDim) throw new ClipGraphError(`zeroShotClassifier: encode returned ${emb.length} values for ${prompts.length} prompts of ${embedDim}`);
  const unit = l2NormalizeRows(emb, embedDim);
  const T = templates.length;
  const mean = new Float32Array(classNames.length * embedDim);
  for (let c = 0; c < classNames.length; c++) {
    for (let e = 0; e < embedDim; e++) {
      let s = 0;
      for (let t = 0; t < T; t++) s += unit[(c * T + t) * embedDim + e]!;
      mean[c * embedDim + e] = s / T;
    }
  }
  return l2NormalizeRows(mean, embedDim);
}
