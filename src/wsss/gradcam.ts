// CLIP-ES's Softmax-Grad-CAM on the GPU (docs/algorithms.md §1.5, §3.3, §3.4), batched over the K labels
// of an image in one forward and one backward pass, plus the attention affinity W of §3.5.
//
//   const r = await gradCam(model, { rgba, height, width }, text, K);   // text [(K + M), E]
//   r.camsHost;  // [K, gh·gw] in [0, 1), row k = label k (text row k)
//   r.probs;     // [K + M] softmax over the K labels and M background prompts
//   r.affinity;  // GPU [n, n]: mean attention of the last 8 blocks, class token dropped
//   r.release();
//
// One graph per (input size, K, M, caaLayers, positional rounding), cached by the ClipModel:
//
//   vision blocks 0..L−2 (buildClipVision, keeping the attention maps CAA needs) → X
//   block L−1 forward, keeping what the backward needs:
//     A = ln_1(X); QKV → per-head Q, K, V [H, L, hd]; P = softmax(Q Kᵀ/√hd) [H, L, L] (per head);
//     O = P V; Y = X + O Woᵀ + bo; (U, stats₂) = ln_2(Y); H1 = U W1ᵀ + b1; Z = Y + QuickGELU(H1) W2ᵀ + b2
//   head: N = ln_post(Z) (+ stats); f = mean_{t≥1} N_t; e = f @ proj; clip_head → p [R], de [K, E]
//   backward (K right-hand sides, the forward tensors broadcast):
//     df = de projᵀ; dZ = LNback(df/n on patch rows; Z); dH1 = (dZ W2) ⊙ QuickGELU'(H1);
//     dY = dZ + LNback(dH1 W1; Y); dO = dY Wo; dP = dO_h V_hᵀ; dS = P ⊙ (dP − rowsum(dP ⊙ P))
//   CAM: w_k = mean_{t≥1} dA_k[t], cam_k = minmax²(ReLU(A_patch · w_k))
//
// The mean over patch tokens is linear, so w_k is formed without the [K, L, D] tensor dA = dQ Wq +
// dK Wk + dV Wv: with ν the patch-mean weights (ν_0 = 0, ν_t = 1/n),
//   νᵀ dQ_h = (νᵀ dS_h) K_h / √hd,   νᵀ dK_h = (dS_h ν)ᵀ Q_h / √hd,   νᵀ dV_h = (P_h ν)ᵀ dO_h,
// and w_k = [νᵀdQ | νᵀdK | νᵀdV] · W_in (W_in = in_proj_weight [3D, D]). That replaces four
// L·D-sized products per class (dQ, dK, dV, dA: ~16 of ~43 GFLOP at ViT-B/16, 512×384, K = 3) by
// matrix-vector products; the result is the same up to float32 summation order.
//
// dP and dS are [H, K, L, L]. To bound memory for large images with many labels, the classes are cut
// into chunks whose dP fits `chunkBytes` (default min(256 MiB, the device's binding limit)); each chunk
// is still one batched pass (at ViT-B/16, 512×384 a chunk holds 9 classes).
//
// Precision: float32 throughout (CLIP-ES's CPU path, §1.5), with the fp16-rounded positional table
// of buildClipVision. The last min-max of pytorch_grad_cam adds 1e-7 to the max in float32, as §3.4
// states; numpy adds it in float64 and rounds once, which can differ by one ulp of the divisor.
import type { Gpu } from '../gpu/context.js';
import { Tensor } from '../gpu/tensor.js';
import type { Graph, OpDef, Value } from '../graph/graph.js';
import {
  binaryOp, camMinMaxOp, clipHeadOp, concatOp, layerNormBackwardOp, layerNormOp, matmulOp, quickGeluBackwardOp, reduceOp,
  permuteOp, sliceOp, softmaxBackwardOp, softmaxOp, unaryOp, viewPermuteOp,
} from '../graph/ops.js';
import type { CompiledGraph, NodeProfile } from '../graph/runner.js';
import { CLIP_HEAD_MAX_ROWS } from '../kernels/backward.js';
import { clipEsInput, packRgba } from '../kernels/image.js';
import { copy } from '../kernels/layout.js';
import { param, tensorOf, type ClipWeights } from '../models/clip/common.js';
import type { ClipImageInput, ClipModel } from '../models/clip/model.js';
import { buildClipVision, visionGrid, type PositionalRounding } from '../models/clip/vision.js';
import type { ClipConfig } from '../weights/layouts/clip.js';
import type { CamMaps } from './stage.js';

export class GradCamError extends Error {
  override name = 'GradCamError';
}

/** CLIP-ES averages the attention of the last 8 blocks for CAA (§3.5). */
export const DEFAULT_CAA_LAYERS = 8;
/** Largest dP (and dS) tensor of one class chunk, before the device's own limit. */
export const DEFAULT_CHUNK_BYTES = 256 * 2 ** 20;

// ---------------------------------------------------------------------------------------------
// Graph

const patchMeanWeights = new Map<number, Float32Array>();

/** ν [L]: 0 for the class token, 1/n for each of the n = L − 1 patch tokens (memoized per L). */
function patchMean(tokens: number): Float32Array {
  let v = patchMeanWeights.get(tokens);
  if (!v) {
    v = new Float32Array(tokens).fill(1 / (tokens - 1));
    v[0] = 0;
    patchMeanWeights.set(tokens, v);
  }
  return v;
}

export interface GradCamHeadOptions {
  /** Block input X [L, D] of the last block (CLIP-ES's image_features). */
  x: Value;
  /** Text rows [R, E], R = K + M: the image's K labels first. */
  text: Value;
  classes: number;
  /** Classes per backward chunk (default: all K in one). */
  classChunk?: number;
}

export interface GradCamHeadGraph {
  /** Softmax over the R text rows [R]. */
  probs: Value;
  /** Grad-CAMs after ReLU and the double min-max [K, n]. */
  cams: Value;
  /** The last block's head-averaged attention [1, L, L] (row = query). */
  attention: Value;
  /** w_k = mean over patch tokens of ∂p_k/∂A [K, D] (for tests and diagnostics). */
  weights: Value;
  /** A = ln_1(X), the Grad-CAM layer's activations [L, D] (the random walk's patch features). */
  activations: Value;
}

/**
 * The last vision block with CLIP-ES's head, its backward pass for K classes, and the CAMs, from
 * the block's input X (see the file header). Node names start with `gradcam.block`, `gradcam.head`,
 * `gradcam.back` and `gradcam.cam`.
 */
export function buildGradCamHead(g: Graph, weights: ClipWeights, config: ClipConfig, o: GradCamHeadOptions): GradCamHeadGraph {
  const { width: D, layers, heads: H, mlpWidth: F } = config.vision;
  const E = config.embedDim;
  const eps = config.layerNormEps;
  const [L, xD] = o.x.shape as [number, number];
  if (o.x.shape.length !== 2 || xD !== D) throw new GradCamError(`Grad-CAM: x must be [L, ${D}], got [${o.x.shape.join(', ')}]`);
  if (L < 2) throw new GradCamError(`Grad-CAM: ${L} token(s); at least the class token and one patch are needed`);
  const [R, tE] = o.text.shape as [number, number];
  if (o.text.shape.length !== 2 || tE !== E) throw new GradCamError(`Grad-CAM: text must be [R, ${E}], got [${o.text.shape.join(', ')}]`);
  const K = o.classes;
  if (!Number.isInteger(K) || K < 1 || K > R) throw new GradCamError(`Grad-CAM: K = ${K} labels must be 1..${R} (the text rows)`);
  if (R > CLIP_HEAD_MAX_ROWS) throw new GradCamError(`Grad-CAM: ${R} text rows exceed the head kernel's ${CLIP_HEAD_MAX_ROWS}`);
  const chunk = Math.min(o.classChunk ?? K, K);
  if (!Number.isInteger(chunk) || chunk < 1) throw new GradCamError(`Grad-CAM: classChunk = ${o.classChunk} must be a positive integer`);
  const hd = D / H;
  const scale = 1 / Math.sqrt(hd);
  const logitScale = tensorOf(weights, 'logit_scale');
  if (logitScale.length !== 1 || !Number.isFinite(logitScale[0]!)) throw new GradCamError(`Grad-CAM: logit_scale must be one finite number`);
  const kappa = Math.fround(Math.exp(logitScale[0]!));

  const prefix = `visual.transformer.resblocks.${layers - 1}`;
  const w = (name: string, shape: number[]) => param(g, `${prefix}.${name}`, tensorOf(weights, `${prefix}.${name}`, shape), shape);
  const wv = (name: string, shape: number[]) => param(g, name, tensorOf(weights, name, shape), shape);
  const nu = patchMean(L);
  const nuRow = param(g, `gradcam.patch_mean@${L}`, nu, [1, L]);
  const wIn = w('attn.in_proj_weight', [3 * D, D]);
  const wOut = w('attn.out_proj.weight', [D, D]);
  const w1 = w('mlp.c_fc.weight', [F, D]);
  const w2 = w('mlp.c_proj.weight', [D, F]);
  const proj = wv('visual.proj', [D, E]);
  const gamma2 = w('ln_2.weight', [D]);
  const gammaPost = wv('visual.ln_post.weight', [D]);
  const one = <A>(op: OpDef<A>, inputs: Array<Value | undefined>, attrs: A, name: string): Value => g.apply(op, inputs, attrs, name)[0]!;

  // Forward of the last block, per head.
  const b = 'gradcam.block';
  const a = one(layerNormOp, [o.x, w('ln_1.weight', [D]), w('ln_1.bias', [D])], { eps }, `${b}.ln_1`);
  const qkv = one(matmulOp, [a, wIn, w('attn.in_proj_bias', [3 * D])], { transB: true }, `${b}.attn.in_proj`);
  const perHead = one(viewPermuteOp, [qkv], { view: [L, 3, H, hd], perm: [1, 2, 0, 3] }, `${b}.attn.heads`); // [3, H, L, hd]
  const part = (i: number, name: string) => one(sliceOp, [perHead], { ranges: [{ start: i, stop: i + 1 }] }, `${b}.attn.${name}`); // [1, H, L, hd]
  const q = part(0, 'q'), k = part(1, 'k'), v = part(2, 'v');
  const logits = one(matmulOp, [q, k], { transB: true, alpha: scale }, `${b}.attn.logits`); // [1, H, L, L]
  const p = one(softmaxOp, [logits], {}, `${b}.attn.softmax`);
  const attention = one(reduceOp, [p], { op: 'mean', axis: 1 }, `${b}.attn.mean`); // [1, L, L]
  const oh = one(matmulOp, [p, v], {}, `${b}.attn.pv`); // [1, H, L, hd]
  const oc = one(viewPermuteOp, [oh], { view: [H, L, hd], perm: [1, 0, 2], shape: [L, D] }, `${b}.attn.concat`);
  const y = one(matmulOp, [oc, wOut, w('attn.out_proj.bias', [D]), o.x], { transB: true }, `${b}.attn.out_proj`);
  const [u, stats2] = g.apply(layerNormOp, [y, gamma2, w('ln_2.bias', [D])], { eps, stats: true }, `${b}.ln_2`);
  const h1 = one(matmulOp, [u, w1, w('mlp.c_fc.bias', [F])], { transB: true }, `${b}.mlp.c_fc`);
  const g1 = one(unaryOp, [h1], { activation: 'quickgelu' }, `${b}.mlp.gelu`);
  const z = one(matmulOp, [g1, w2, w('mlp.c_proj.bias', [D]), y], { transB: true }, `${b}.mlp.c_proj`);

  // Head: probabilities and ∂p_c/∂e for the K labels.
  const hp = 'gradcam.head';
  const [post, statsPost] = g.apply(layerNormOp, [z, gammaPost, wv('visual.ln_post.bias', [D])], { eps, stats: true }, `${hp}.ln_post`);
  const f = one(matmulOp, [nuRow, post], {}, `${hp}.patch_mean`); // [1, D]
  const e = one(matmulOp, [f, proj], {}, `${hp}.proj`); // [1, E]
  const [probs, de] = g.apply(clipHeadOp, [e, o.text], { classes: K, kappa }, `${hp}.softmax`);

  // Backward, K right-hand sides.
  const bk = 'gradcam.back';
  const df = one(matmulOp, [de, proj], { transB: true }, `${bk}.proj`); // [K, D]
  const dZ = one(layerNormBackwardOp, [df, z, statsPost, gammaPost], { gLayout: 'row', gScale: nu[1]!, zeroRows: 1 }, `${bk}.ln_post`); // [K, L, D]
  const dG1 = one(matmulOp, [dZ, w2], {}, `${bk}.mlp.c_proj`); // [K, L, F]
  const dH1 = one(quickGeluBackwardOp, [dG1, h1], {}, `${bk}.mlp.gelu`);
  const dU = one(matmulOp, [dH1, w1], {}, `${bk}.mlp.c_fc`); // [K, L, D]
  const dY = one(layerNormBackwardOp, [dU, y, stats2, gamma2, dZ], {}, `${bk}.ln_2`);
  const dO = one(matmulOp, [dY, wOut], {}, `${bk}.attn.out_proj`); // [K, L, D] = [K, L, H, hd]
  // νᵀ dV_h = (P_h ν)ᵀ dO_h for all classes at once: dO as [H, L, K·hd].
  const dOByToken = one(viewPermuteOp, [dO], { view: [K, L, H, hd], perm: [2, 1, 0, 3], shape: [H, L, K * hd] }, `${bk}.attn.dO_tokens`);
  // Products with ν are taken as νᵀ Mᵀ (one output row, many columns) rather than M ν: a single
  // output column wastes most of a register block (measured 4.8 s against 0.3 s at ViT-B/16, K = 3).
  const pNu = one(matmulOp, [nuRow, p], { transB: true }, `${bk}.attn.p_nu`); // [1, H, 1, L] = (P ν)ᵀ
  const mV = one(matmulOp, [pNu, dOByToken], {}, `${bk}.attn.v_mean`); // [1, H, 1, K·hd]
  const mQs: Value[] = [], mKs: Value[] = [];
  for (let k0 = 0; k0 < K; k0 += chunk) {
    const kc = Math.min(chunk, K - k0);
    const c = K === chunk ? '' : `.${k0}`;
    const dOc = kc === K ? dO : one(sliceOp, [dO], { ranges: [{ start: k0, stop: k0 + kc }] }, `${bk}.attn.dO${c}`);
    const dOByClass = one(viewPermuteOp, [dOc], { view: [kc, L, H, hd], perm: [2, 0, 1, 3], shape: [H, kc * L, hd] }, `${bk}.attn.dO_classes${c}`);
    const dP = one(matmulOp, [dOByClass, v], { transB: true }, `${bk}.attn.dP${c}`); // [1, H, kc·L, L]
    const dS = one(softmaxBackwardOp, [dP, p], { batch: kc }, `${bk}.attn.dS${c}`); // [H, kc, L, L]
    const colMean = one(matmulOp, [nuRow, dS], {}, `${bk}.attn.dS_col_mean${c}`); // [H, kc, 1, L]
    const rowMean = one(matmulOp, [nuRow, dS], { transB: true }, `${bk}.attn.dS_row_mean${c}`); // [H, kc, 1, L] = (dS ν)ᵀ
    const flat = (x: Value, name: string) => one(viewPermuteOp, [x], { view: [H, kc, L], perm: [0, 1, 2] }, `${bk}.attn.${name}${c}`);
    mQs.push(one(matmulOp, [flat(colMean, 'col_mean'), k], { alpha: scale }, `${bk}.attn.q_mean${c}`)); // [1, H, kc, hd]
    mKs.push(one(matmulOp, [flat(rowMean, 'row_mean'), q], { alpha: scale }, `${bk}.attn.k_mean${c}`));
  }
  const joined = (xs: Value[], name: string) => (xs.length === 1 ? xs[0]! : one(concatOp, xs, { axis: 2 }, `${bk}.attn.${name}`));
  const byClass = (x: Value, name: string) => one(viewPermuteOp, [x], { view: [H, K, hd], perm: [1, 0, 2], shape: [K, D] }, `${bk}.attn.${name}`);
  const mQKV = one(concatOp, [byClass(joined(mQs, 'q_means'), 'q_rows'), byClass(joined(mKs, 'k_means'), 'k_rows'), byClass(mV, 'v_rows')], { axis: 1 }, `${bk}.attn.qkv_mean`); // [K, 3D]
  const gradWeights = one(matmulOp, [mQKV, wIn], {}, `${bk}.attn.in_proj`); // [K, D]: w_k

  // CAM: ReLU(A_patch · w_k), min-max twice.
  const raw = one(matmulOp, [gradWeights, a], { transB: true }, 'gradcam.cam.raw'); // [K, L]
  const cams = one(camMinMaxOp, [raw], { skip: 1 }, 'gradcam.cam.minmax'); // [K, n]
  return { probs: probs!, cams, attention, weights: gradWeights, activations: a };
}

export interface GradCamGraphOptions {
  height: number;
  width: number;
  /** K labels and M background rows. */
  classes: number;
  background: number;
  caaLayers?: number;
  positionalRounding?: PositionalRounding;
  /** Byte budget of one class chunk's dP (see the file header). */
  chunkBytes?: number;
}

export interface GradCamGraph extends GradCamHeadGraph {
  image: Value;
  text: Value;
  /** [1, n, n]: the mean attention W of §3.5 before Sinkhorn. */
  affinity: Value;
  grid: [number, number];
  tokens: number;
  classChunk: number;
  /** Blocks averaged into the affinity (0-based, ascending). */
  caaBlocks: number[];
}

/** How many classes fit one backward chunk. */
export function classChunkFor(config: ClipConfig, tokens: number, classes: number, budgetBytes: number): number {
  const perClass = 4 * config.vision.heads * tokens * tokens;
  if (perClass > budgetBytes) {
    throw new GradCamError(`Grad-CAM: one class's attention gradient [${config.vision.heads}, ${tokens}, ${tokens}] needs ${perClass} bytes, over the budget of ${budgetBytes}; use a smaller image`);
  }
  return Math.max(1, Math.min(classes, Math.floor(budgetBytes / perClass)));
}

/** CAA's W (§3.5): the mean of head-averaged attention maps [.., L, L], class token row and column dropped → [.., n, n]. */
export function attentionAffinity(g: Graph, maps: readonly Value[], name: string): Value {
  let sum = maps[0]!;
  maps.slice(1).forEach((m, i) => {
    sum = g.apply(binaryOp, [sum, m], { op: 'add' }, `${name}.sum${i}`)[0]!;
  });
  const rank = sum.shape.length;
  const ranges = [...Array(rank - 2).fill(undefined), { start: 1 }, { start: 1 }];
  const [cropped] = g.apply(sliceOp, [sum], { ranges }, `${name}.crop`);
  return g.apply(unaryOp, [cropped!], { activation: 'none', alpha: 1 / maps.length }, `${name}.mean`)[0]!;
}

/** The blocks CLIP-ES averages into the affinity: the last `caaLayers` (all of them when there are fewer, as its [-8:] slice). */
export function caaBlocksOf(layers: number, caaLayers: number): number[] {
  if (!Number.isInteger(caaLayers) || caaLayers < 1) throw new GradCamError(`caaLayers = ${caaLayers} must be a positive integer`);
  const count = Math.min(caaLayers, layers);
  return Array.from({ length: count }, (_, i) => layers - count + i);
}

/** The whole pipeline for one input size: image and text inputs → probs, cams, affinity. */
export function buildGradCam(g: Graph, weights: ClipWeights, config: ClipConfig, o: GradCamGraphOptions): GradCamGraph {
  const layers = config.vision.layers;
  const caa = o.caaLayers ?? DEFAULT_CAA_LAYERS;
  if (!Number.isInteger(o.background) || o.background < 0) throw new GradCamError(`Grad-CAM: M = ${o.background} background rows must be a non-negative integer`);
  const caaBlocks = caaBlocksOf(layers, caa);
  const fromVision = caaBlocks.filter((i) => i < layers - 1);
  const { tokens } = visionGrid(config, o.height, o.width);
  const chunk = classChunkFor(config, tokens, o.classes, o.chunkBytes ?? DEFAULT_CHUNK_BYTES);
  const vision = buildClipVision(g, weights, config, {
    height: o.height, width: o.width, blocks: layers - 1, attentionLayers: fromVision, positionalRounding: o.positionalRounding,
  });
  const text = g.input('text', [o.classes + o.background, config.embedDim]);
  const head = buildGradCamHead(g, weights, config, { x: vision.blockInputs[layers - 1]!, text, classes: o.classes, classChunk: chunk });

  const affinity = attentionAffinity(g, [...fromVision.map((i) => vision.attention.get(i)!), head.attention], 'gradcam.affinity');
  return { ...head, image: vision.image, text, affinity, grid: vision.grid, tokens, classChunk: chunk, caaBlocks };
}

// ---------------------------------------------------------------------------------------------
// Running it

export interface GradCamOptions {
  /** Blocks averaged into the affinity, counted from the last (default 8, CLIP-ES). */
  caaLayers?: number;
  /** Per-stage GPU times from timestamp queries (dispatches then run one per pass: a little slower). */
  profile?: boolean;
  /** Byte budget of one class chunk's dP; default min(256 MiB, the device's storage-binding limit). */
  chunkBytes?: number;
  /** Also return the patch features (A's patch rows, channels first) for the random walk. */
  features?: boolean;
  /** Read the CAMs and the softmax back to the host (default true); false leaves them on the GPU only. */
  read?: boolean;
}

/**
 * The CAM source's maps (CamMaps): Grad-CAMs after ReLU and the two float32 min-max passes, the
 * softmax over the K + M text rows, the mean attention of the last caaLayers blocks, and with
 * `features` A = ln_1(X) of the last block at the patch tokens, channels first [D, n].
 */
export interface GradCamResult extends CamMaps {
  /** The CAMs [K, gh·gw] on the host (unless `read: false`). */
  camsHost?: Float32Array;
  /** The softmax [K + M] on the host (unless `read: false`). */
  probsHost?: Float32Array;
  /**
   * Milliseconds. Always `total` (wall clock of the call, including upload and read-back). With
   * `profile`: GPU time per stage, `vision` (patch embedding and blocks 0..L−2), `block` (the last
   * block's forward, the head and the backward pass), `cam` (CAM and affinity).
   */
  timings: Record<string, number>;
  /** Frees `cams`, `probs`, `affinity` and `features`. */
  release(): void;
}

/**
 * An image for gradCam: as for ClipModel.encodeImage; its RGBA pixels already on the GPU (u32 [H, W],
 * one RGBA8 pixel per word); or a normalised [3, H', W'] tensor already on the GPU.
 */
export type GradCamImage = ClipImageInput | { rgbaTensor: Tensor } | { tensor: Tensor; height?: number; width?: number };

/** Profiled GPU time and FLOPs (of the nodes that declare them) per stage, by node-name prefix. */
export function stageTotals(profile: readonly NodeProfile[]): { ms: Record<string, number>; flops: Record<string, number> } {
  const ms: Record<string, number> = { vision: 0, block: 0, cam: 0 };
  const flops: Record<string, number> = { vision: 0, block: 0, cam: 0 };
  for (const p of profile) {
    const stage = p.node.startsWith('visual.') ? 'vision' : /^gradcam\.(block|head|back)/.test(p.node) ? 'block' : 'cam';
    ms[stage]! += p.ms;
    flops[stage]! += p.flops;
  }
  return { ms, flops };
}

/** Text rows: L2-normalised [(K + M), E] on the host, or already on the GPU (e.g. from textRowsOnGpu). */
export type TextRows = Float32Array | Tensor;

/** The number of text rows; host rows are checked to be finite and non-zero (GPU rows were when they were made). */
export function checkText(text: TextRows, dim: number): number {
  if (text instanceof Tensor) {
    if (text.dtype !== 'f32' || text.rank !== 2 || text.shape[1] !== dim || text.shape[0]! < 1) throw new GradCamError(`gradCam: text ${text} must be f32 [(K + M), ${dim}]`);
    return text.shape[0]!;
  }
  if (!(text instanceof Float32Array)) throw new GradCamError('gradCam: text must be a Float32Array [(K + M), E] or an f32 tensor');
  if (text.length === 0 || text.length % dim !== 0) throw new GradCamError(`gradCam: text has ${text.length} values, not a whole number of rows of E = ${dim}`);
  const rows = text.length / dim;
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += text[r * dim + d]! ** 2;
    if (!(s > 0 && Number.isFinite(s))) throw new GradCamError(`gradCam: text row ${r} has norm ${Math.sqrt(s)}; rows must be finite and non-zero`);
  }
  return rows;
}

export async function imageTensor(gpu: Gpu, model: ClipModel, image: GradCamImage): Promise<{ data: Float32Array | Tensor; height: number; width: number; owned?: Tensor }> {
  if ('tensor' in image && image.tensor instanceof Tensor) {
    const t = image.tensor;
    if (t.dtype !== 'f32' || t.rank !== 3 || t.shape[0] !== 3) throw new GradCamError(`gradCam: image tensor ${t} must be [3, H', W'] f32`);
    const [height, width] = [t.shape[1]!, t.shape[2]!];
    if ((image.height !== undefined && image.height !== height) || (image.width !== undefined && image.width !== width)) {
      throw new GradCamError(`gradCam: image tensor ${t} does not match the given ${image.height}×${image.width}`);
    }
    return { data: t, height, width };
  }
  if ('tensor' in image) {
    const { data, height, width } = await model.preprocess(image as ClipImageInput);
    return { data, height, width };
  }
  if ('rgbaTensor' in image) {
    const src = image.rgbaTensor;
    if (!(src instanceof Tensor) || src.dtype !== 'u32' || src.rank !== 2) throw new GradCamError(`gradCam: rgbaTensor ${String(src)} must be u32 [H, W], one RGBA8 pixel per element`);
    const x = await clipEsInput(gpu, src, { patch: model.config.vision.patch });
    return { data: x, height: x.shape[1]!, width: x.shape[2]!, owned: x };
  }
  // RGBA: CLIP-ES's preprocessing on the GPU, straight into the graph (no read-back).
  const pixels = image.rgba instanceof Uint32Array ? image.rgba : packRgba(image.rgba);
  if (pixels.length !== image.height * image.width) throw new GradCamError(`gradCam: rgba image has ${pixels.length} pixels for ${image.height}×${image.width}`);
  const src = gpu.upload(pixels, [image.height, image.width], 'u32', 'gradcam rgba');
  try {
    const x = await clipEsInput(gpu, src, { patch: model.config.vision.patch });
    return { data: x, height: x.shape[1]!, width: x.shape[2]!, owned: x };
  } finally {
    gpu.release(src); // safe: later users of the buffer are ordered after the dispatches above
  }
}

/**
 * CLIP-ES's Grad-CAMs of one image for its K labels (text rows 0..K−1; rows K.. are the M background
 * prompts), in one batched pass on the GPU; see the file header.
 */
export async function gradCam(model: ClipModel, image: GradCamImage, text: TextRows, K: number, opts: GradCamOptions = {}): Promise<GradCamResult> {
  const start = performance.now();
  const gpu = model.gpu;
  const config = model.config;
  const rows = checkText(text, config.embedDim);
  if (!Number.isInteger(K) || K < 1 || K > rows) throw new GradCamError(`gradCam: K = ${K} labels must be 1..${rows} (the text rows); an image without labels has no CAM (§8.5)`);
  const caa = opts.caaLayers ?? DEFAULT_CAA_LAYERS;
  const limits = gpu.traits.limits;
  const chunkBytes = opts.chunkBytes ?? Math.min(DEFAULT_CHUNK_BYTES, limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const input = await imageTensor(gpu, model, image);
  try {
    const { height, width } = input;
    const { gh, gw } = visionGrid(config, height, width);
    const M = rows - K;
    const rounding = model.positionalRounding;
    const key = `gradcam|${height}x${width}|K${K}|M${M}|caa${caa}|${rounding}|chunk${chunkBytes}${opts.features ? '|features' : ''}`;
    const graph = await model.customGraph(key, (g) => {
      const r = buildGradCam(g, model.weights, config, { height, width, classes: K, background: M, caaLayers: caa, positionalRounding: rounding, chunkBytes });
      g.output('probs', r.probs);
      g.output('cams', r.cams);
      g.output('affinity', r.affinity);
      if (opts.features) {
        const [patches] = g.apply(sliceOp, [r.activations], { ranges: [{ start: 1 }, undefined] }, 'gradcam.features.patches');
        const [features] = g.apply(permuteOp, [patches!], { perm: [1, 0] }, 'gradcam.features');
        g.output('features', features!);
      }
    });
    return await graph.exclusive(async () => {
      const read = opts.read ?? true;
      const { outputs, profile } = await graph.run({ image: input.data, text }, { read: read ? ['probs', 'cams'] : [], profile: opts.profile });
      const n = gh * gw;
      // The graph's buffers are reused by its next run: the result keeps copies.
      const cams = await copy(gpu, graph.outputTensor('cams'));
      const probs = await copy(gpu, graph.outputTensor('probs'));
      const affinity = (await copy(gpu, graph.outputTensor('affinity'))).view([n, n]);
      const features = opts.features ? await copy(gpu, graph.outputTensor('features')) : undefined;
      const totals = profile ? stageTotals(profile) : undefined;
      const timings: Record<string, number> = { ...totals?.ms };
      timings.total = performance.now() - start;
      let released = false;
      return {
        grid: [gh, gw],
        cams,
        camsHost: outputs.get('cams') as Float32Array | undefined,
        probs,
        probsHost: outputs.get('probs') as Float32Array | undefined,
        affinity,
        features,
        timings,
        flops: totals?.flops,
        release() {
          if (released) return;
          released = true;
          gpu.release(cams, probs, affinity, ...(features ? [features] : []));
        },
      };
    });
  } finally {
    if (input.owned) gpu.release(input.owned);
  }
}
