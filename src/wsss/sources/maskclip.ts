// MaskCLIP (Zhou et al., "Extract Free Dense Labels from CLIP"; docs/algorithms.md §7): dense
// labels from the value path of CLIP's last block. The query–key mixing of that block is dropped, so
// each patch keeps its own token:
//
//   X = input of the last block; A = ln_1(X); V = A Wvᵀ + bv
//   Y = X + V Woᵀ + bo;  Z = Y + MLP(ln_2(Y));  F_t = ln_post(Z_t) @ proj   (patch tokens t ≥ 1)
//   S[t, r] = (F_t / |F_t|) · T_r      (T: L2-normalised text rows; a 1×1 classifier)
//
// as MaskCLIP's ViT with `return_qkv` computes it (mmseg/models/backbones/vit.py: out_proj applied to
// v, the residual and the MLP kept, the final norm, then the head's 1×1 projection and cosine).
// The blocks themselves are CLIP's (QuickGELU, its LayerNorm eps), not MaskCLIP's mmseg ViT (GELU,
// eps 1e-6), and the input is CLIP-ES's (stretched to multiples of the patch size, CLIP's mean/std).
//
// As a CAM source (`camSource: 'maskclip'`), the scores over the K label rows and the M background
// rows become CAMs: softmax over the K + M rows at the model's logit scale κ, the K label columns,
// then pytorch_grad_cam's min-max per label as for Grad-CAM, so that CAA and every refiner take them
// unchanged. The affinity for CAA is the same mean attention of the last blocks as Grad-CAM's, and
// the random walk's patch features are the same ln_1 activations of the last block. The image-level
// probabilities are standard CLIP's (class token embedding) over the same rows.
//
// Zero-shot (`maskClipLabels`): no image labels; every class of the label set plus its background
// prompts, scores resized to the image (PyTorch bilinear, align_corners = False, as mmseg's
// `resize`), argmax; a background prompt's pixel is background.
//
// MaskCLIP's optional refinements (key smoothing, prompt denoising) are not applied.

import type { Gpu } from '../../gpu/context.js';
import type { Tensor } from '../../gpu/tensor.js';
import type { Graph, OpDef, Value } from '../../graph/graph.js';
import { binaryOp, camMinMaxOp, clipHeadOp, layerNormOp, matmulOp, permuteOp, reduceOp, sliceOp, softmaxOp, unaryOp } from '../../graph/ops.js';
import type { RgbaImage } from '../../io/image.js';
import { resizeLinear } from '../../kernels/bilinear.js';
import { reduce } from '../../kernels/reduce.js';
import { copy } from '../../kernels/layout.js';
import { param, tensorOf, type ClipWeights } from '../../models/clip/common.js';
import type { ClipModel } from '../../models/clip/model.js';
import { buildClipVision, visionGrid } from '../../models/clip/vision.js';
import type { ClipConfig } from '../../weights/layouts/clip.js';
import { attentionAffinity, caaBlocksOf, checkText, DEFAULT_CAA_LAYERS, GradCamError, imageTensor, type GradCamGraphOptions, type TextRows } from '../gradcam.js';
import { MAX_CLASSES, type LabelSet } from '../labelset.js';
import { checkFitsDevice } from '../limits.js';
import { SeedError, type CamSource } from '../stage.js';
import { labelSetEmbeddings } from '../text.js';

/** As Grad-CAM's graph options, without its class chunks; caaLayers 0 leaves the affinity out. */
export type MaskClipGraphOptions = Omit<GradCamGraphOptions, 'chunkBytes'>;

export interface MaskClipGraph {
  image: Value;
  text: Value;
  grid: [number, number];
  /** F: dense patch features [n, E] in CLIP's joint space, before normalisation. */
  dense: Value;
  /** S: cosine of each patch with each text row [n, R]. */
  scores: Value;
  /** CAMs of the K labels [K, n] in [0, 1]. */
  cams: Value;
  /** Standard CLIP's softmax over the R text rows (class token embedding) [R]. */
  probs: Value;
  /** CAA's W [n, n] (when caaLayers > 0). */
  affinity?: Value;
  /** A = ln_1(X) of the last block [L, D]: the patch features the random walk uses, as with Grad-CAM. */
  activations: Value;
}

/** The MaskCLIP graph for one input size (see the file header). Node names start with `maskclip.`. */
export function buildMaskClip(g: Graph, weights: ClipWeights, config: ClipConfig, o: MaskClipGraphOptions): MaskClipGraph {
  const { width: D, layers, mlpWidth: F } = config.vision;
  const E = config.embedDim;
  const eps = config.layerNormEps;
  const K = o.classes;
  const R = o.classes + o.background;
  if (!Number.isInteger(K) || K < 1) throw new GradCamError(`MaskCLIP: K = ${K} labels must be a positive integer`);
  if (!Number.isInteger(o.background) || o.background < 0) throw new GradCamError(`MaskCLIP: M = ${o.background} background rows must be a non-negative integer`);
  const caa = o.caaLayers ?? DEFAULT_CAA_LAYERS;
  const caaBlocks = caa === 0 ? [] : caaBlocksOf(layers, caa);
  const logitScale = tensorOf(weights, 'logit_scale');
  if (logitScale.length !== 1 || !Number.isFinite(logitScale[0]!)) throw new GradCamError('MaskCLIP: logit_scale must be one finite number');
  const kappa = Math.fround(Math.exp(logitScale[0]!));

  const vision = buildClipVision(g, weights, config, { height: o.height, width: o.width, attentionLayers: caaBlocks, positionalRounding: o.positionalRounding });
  const [gh, gw] = vision.grid;
  const text = g.input('text', [R, E]);
  const one = <A>(op: OpDef<A>, inputs: Array<Value | undefined>, attrs: A, name: string): Value => g.apply(op, inputs, attrs, name)[0]!;
  const prefix = `visual.transformer.resblocks.${layers - 1}`;
  const w = (name: string, shape: number[]) => param(g, `${prefix}.${name}`, tensorOf(weights, `${prefix}.${name}`, shape), shape);

  // The last block's value path.
  const b = 'maskclip.block';
  const x = vision.blockInputs[layers - 1]!;
  const a = one(layerNormOp, [x, w('ln_1.weight', [D]), w('ln_1.bias', [D])], { eps }, `${b}.ln_1`);
  const wIn = tensorOf(weights, `${prefix}.attn.in_proj_weight`, [3 * D, D]);
  const bIn = tensorOf(weights, `${prefix}.attn.in_proj_bias`, [3 * D]);
  const wv = param(g, `${prefix}.attn.in_proj_weight[v]`, wIn.subarray(2 * D * D), [D, D]);
  const bv = param(g, `${prefix}.attn.in_proj_bias[v]`, bIn.subarray(2 * D), [D]);
  const v = one(matmulOp, [a, wv, bv], { transB: true }, `${b}.attn.v`);
  const y = one(matmulOp, [v, w('attn.out_proj.weight', [D, D]), w('attn.out_proj.bias', [D]), x], { transB: true }, `${b}.attn.out_proj`);
  const u = one(layerNormOp, [y, w('ln_2.weight', [D]), w('ln_2.bias', [D])], { eps }, `${b}.ln_2`);
  const h1 = one(matmulOp, [u, w('mlp.c_fc.weight', [F, D]), w('mlp.c_fc.bias', [F])], { transB: true }, `${b}.mlp.c_fc`);
  const g1 = one(unaryOp, [h1], { activation: 'quickgelu' }, `${b}.mlp.gelu`);
  const z = one(matmulOp, [g1, w('mlp.c_proj.weight', [D, F]), w('mlp.c_proj.bias', [D]), y], { transB: true }, `${b}.mlp.c_proj`);

  // Head: dense features, cosine with the text rows.
  const hd = 'maskclip.head';
  const patches = one(sliceOp, [z], { ranges: [{ start: 1 }, undefined] }, `${hd}.patches`);
  const post = one(layerNormOp, [patches, param(g, 'visual.ln_post.weight', tensorOf(weights, 'visual.ln_post.weight', [D]), [D]), param(g, 'visual.ln_post.bias', tensorOf(weights, 'visual.ln_post.bias', [D]), [D])], { eps }, `${hd}.ln_post`);
  const dense = one(matmulOp, [post, param(g, 'visual.proj#dense', tensorOf(weights, 'visual.proj', [D, E]), [D, E])], {}, `${hd}.proj`); // [n, E]
  const norms = one(reduceOp, [dense], { op: 'l2', axis: 1, keepDims: true }, `${hd}.norm`); // [n, 1]
  const unit = one(binaryOp, [dense, norms], { op: 'div' }, `${hd}.normalize`);
  const scores = one(matmulOp, [unit, text], { transB: true }, `${hd}.scores`); // [n, R]

  // CAMs: softmax over the rows at the logit scale, the K label columns, min-max per label.
  const c = 'maskclip.cam';
  const soft = one(softmaxOp, [one(unaryOp, [scores], { activation: 'none', alpha: kappa }, `${c}.logits`)], {}, `${c}.softmax`);
  const labelCols = K === R ? soft : one(sliceOp, [soft], { ranges: [undefined, { start: 0, stop: K }] }, `${c}.labels`);
  const byLabel = one(permuteOp, [labelCols], { perm: [1, 0] }, `${c}.by_label`); // [K, n]
  const cams = one(camMinMaxOp, [byLabel], { skip: 0 }, `${c}.minmax`);

  const [probs] = g.apply(clipHeadOp, [vision.embedding!, text], { classes: K, kappa }, 'maskclip.probs');
  const out: MaskClipGraph = { image: vision.image, text, grid: [gh, gw], dense, scores, cams, probs: probs!, activations: a };
  if (caaBlocks.length > 0) out.affinity = attentionAffinity(g, caaBlocks.map((i) => vision.attention.get(i)!), 'maskclip.affinity');
  return out;
}

/** The maps of one MaskCLIP pass; the tensors belong to the caller. */
export interface MaskClipMaps {
  grid: [number, number];
  /** [K, n] CAMs on the GPU, and on the host (unless `read: false`). */
  cams: Tensor;
  camsHost?: Float32Array;
  /** Standard CLIP's softmax over the R text rows [R] on the GPU, and on the host (unless `read: false`). */
  probs: Tensor;
  probsHost?: Float32Array;
  /** [R, gh, gw] scores on the GPU (zero-shot), channels first. */
  scores?: Tensor;
  affinity?: Tensor;
  /** [D, n] patch features (with `features`). */
  features?: Tensor;
  ms: number;
}

/** What a MaskCLIP pass returns besides the CAMs and probabilities. */
export interface MaskClipOptions {
  /** Blocks averaged into the affinity (0: none). */
  caaLayers: number;
  /** The score maps [R, gh, gw]. */
  scores?: boolean;
  /** The patch features [D, n]. */
  features?: boolean;
  /** Read the CAMs and probabilities back to the host (default true). */
  read?: boolean;
}

/**
 * One MaskCLIP pass over an RGBA image with text rows [R, E] (the K label rows first), through the
 * cached graph of its size (see the file header).
 */
export async function maskClip(model: ClipModel, image: RgbaImage | { rgbaTensor: Tensor }, text: TextRows, K: number, o: MaskClipOptions): Promise<MaskClipMaps> {
  const start = performance.now();
  const gpu = model.gpu;
  const rows = checkText(text, model.config.embedDim);
  if (!Number.isInteger(K) || K < 1 || K > rows) throw new GradCamError(`MaskCLIP: K = ${K} labels must be 1..${rows} (the text rows)`);
  const input = await imageTensor(gpu, model, 'rgbaTensor' in image ? image : { rgba: image.data, height: image.height, width: image.width });
  try {
    const { height, width } = input;
    const { gh, gw } = visionGrid(model.config, height, width);
    const rounding = model.positionalRounding;
    const key = `maskclip|${height}x${width}|K${K}|M${rows - K}|caa${o.caaLayers}|${rounding}${o.scores ? '|scores' : ''}${o.features ? '|features' : ''}`;
    const graph = await model.customGraph(key, (g) => {
      const r = buildMaskClip(g, model.weights, model.config, { height, width, classes: K, background: rows - K, caaLayers: o.caaLayers, positionalRounding: rounding });
      g.output('cams', r.cams);
      g.output('probs', r.probs);
      if (r.affinity) g.output('affinity', r.affinity);
      if (o.scores) g.output('scores', g.apply(permuteOp, [r.scores], { perm: [1, 0] }, 'maskclip.scores_by_row')[0]!);
      if (o.features) {
        const [patches] = g.apply(sliceOp, [r.activations], { ranges: [{ start: 1 }, undefined] }, 'maskclip.features.patches');
        g.output('features', g.apply(permuteOp, [patches!], { perm: [1, 0] }, 'maskclip.features')[0]!);
      }
    });
    return await graph.exclusive(async () => {
      const { outputs } = await graph.run({ image: input.data, text }, { read: (o.read ?? true) ? ['probs', 'cams'] : [] });
      const n = gh * gw;
      // The graph's buffers are reused by its next run: the result keeps copies (freed here if a later copy fails).
      const copies: Tensor[] = [];
      const keep = async (name: string) => {
        const t = await copy(gpu, graph.outputTensor(name));
        copies.push(t);
        return t;
      };
      try {
        const cams = await keep('cams');
        const probs = await keep('probs');
        const affinity = o.caaLayers > 0 ? (await keep('affinity')).view([n, n]) : undefined;
        const scores = o.scores ? (await keep('scores')).view([rows, gh, gw]) : undefined;
        const features = o.features ? await keep('features') : undefined;
        const camsHost = outputs.get('cams') as Float32Array | undefined;
        const probsHost = outputs.get('probs') as Float32Array | undefined;
        return { grid: [gh, gw] as [number, number], cams, camsHost, probs, probsHost, affinity, scores, features, ms: performance.now() - start };
      } catch (err) {
        gpu.release(...copies);
        throw err;
      }
    });
  } finally {
    if (input.owned) gpu.release(input.owned);
  }
}

export const maskClipSource: CamSource<'maskclip'> = {
  name: 'maskclip',
  label: 'MaskCLIP',
  description: 'MaskCLIP: the last block’s value path per patch, scored against the labels and background prompts',
  async run(ctx) {
    const caaLayers = ctx.options.caaLayers ?? DEFAULT_CAA_LAYERS;
    if (!(Number.isInteger(caaLayers) && caaLayers >= 1)) throw new SeedError(`caaLayers = ${caaLayers} must be a positive integer (CAA needs the attention of at least one block)`);
    const r = await maskClip(ctx.model, { rgbaTensor: ctx.rgba() }, await ctx.textRows(), ctx.classes, { caaLayers, scores: false, features: ctx.products.has('features'), read: false });
    return { grid: r.grid, cams: ctx.own(r.cams), probs: ctx.own(r.probs), affinity: ctx.own(r.affinity!), features: r.features && ctx.own(r.features) };
  },
};

/** A zero-shot MaskCLIP label map. */
export interface MaskClipLabels {
  width: number;
  height: number;
  grid: [number, number];
  /** [H·W]: 0 background (a background prompt won), class index + 1. */
  labels: Uint8Array;
  /** Milliseconds: `maskclip` (graph), `labels` (resize and argmax), `total`. */
  timings: Record<string, number>;
}

/**
 * MaskCLIP's dense zero-shot labels for an image, without image-level labels: every class of the
 * label set and its background prompts compete at every pixel (see the file header).
 */
export async function maskClipLabels(model: ClipModel, image: RgbaImage, labelSet: LabelSet): Promise<MaskClipLabels> {
  const C = labelSet.classes.length;
  if (C > MAX_CLASSES) throw new GradCamError(`MaskCLIP: label set '${labelSet.name}' has ${C} classes, more than ${MAX_CLASSES}`);
  const emb = await labelSetEmbeddings(model, labelSet);
  const text = new Float32Array(emb.classes.length + emb.background.length);
  text.set(emb.classes);
  text.set(emb.background, emb.classes.length);
  return maskClipLabelsOf(model, image, text, C);
}

/** Zero-shot labels from text rows [R, E]: rows 0..C−1 are classes (label c + 1), the rest background prompts (label 0). */
export async function maskClipLabelsOf(model: ClipModel, image: RgbaImage, text: Float32Array, C: number): Promise<MaskClipLabels> {
  const start = performance.now();
  const gpu: Gpu = model.gpu;
  const { width: W, height: H } = image;
  const rows = checkText(text, model.config.embedDim);
  // The score maps at image size are [rows, H, W]: as the pipeline's maps with rows − 1 labels.
  checkFitsDevice(gpu, model.config.vision, H, W, rows - 1, { source: 'maskclip' });
  const r = await maskClip(model, image, text, C, { caaLayers: 0, scores: true, read: false });
  const owned: Tensor[] = [r.cams, r.probs, r.scores!];
  try {
    const t0 = performance.now();
    const full = await resizeLinear(gpu, r.scores!, [H, W], { mode: 'torch' });
    owned.push(full);
    const winner = await reduce(gpu, full.view([full.shape[0]!, H * W]), 'argmax', { axis: 0 });
    owned.push(winner);
    const rows = (await gpu.read(winner)) as Uint32Array;
    const labels = new Uint8Array(H * W);
    for (let i = 0; i < labels.length; i++) labels[i] = rows[i]! < C ? rows[i]! + 1 : 0;
    const now = performance.now();
    return { width: W, height: H, grid: r.grid, labels, timings: { maskclip: r.ms, labels: now - t0, total: now - start } };
  } finally {
    gpu.release(...owned);
  }
}
