// A loaded CLIP on a Gpu: weights (uploaded once, shared by every compiled graph), the tokenizer,
// and compiled vision graphs per input size and text graphs per batch size, kept in small LRU
// caches.
//
//   const clip = await ClipModel.load(gpu, 'ViT-B-16.pt');            // tokenizer: next to the weights
//   const img = await clip.encodeImage({ rgba, height, width });      // CLIP-ES preprocessing on the GPU
//   img.embedding;   // [E] standard CLIP (class token)   img.patchMean;  // [E] CLIP-ES's feature
//   const txt = await clip.encodeText(['a clean origami cat.']);      // [B, E]
//   const cls = await clip.zeroShotClassifier(['cat', 'dog'], ['a clean origami {}.']);
import type { Gpu } from '../../gpu/context.js';
import { Graph } from '../../graph/graph.js';
import { CompiledGraph, WeightCache } from '../../graph/runner.js';
import { clipEsInput, packRgba } from '../../kernels/image.js';
import { loadClip, resolveWeightPath, type ClipLoadOptions, type LoadedClip } from '../../weights/index.js';
import type { WeightInput } from '../../weights/source.js';
import type { ClipConfig } from '../../weights/layouts/clip.js';
import { ClipGraphError, type ClipWeights } from './common.js';
import { buildClipText, eotIndices, zeroShotClassifier } from './text.js';
import type { ClipTokenizer } from './tokenizer.js';
import { buildClipVision, visionGrid, type PositionalRounding } from './vision.js';

/** An image for encodeImage: already normalised [3, H, W] values, or RGBA8 pixels to preprocess. */
export type ClipImageInput =
  | { tensor: Float32Array; height: number; width: number }
  | { rgba: Uint8Array | Uint8ClampedArray | Uint32Array; height: number; width: number };

/** Extra outputs for {@link ClipModel.encodeImage}; by default only the embeddings are returned. */
export interface EncodeImageOptions {
  /** Blocks whose head-averaged attention maps [L, L] to return. */
  attentionLayers?: readonly number[];
  /** Blocks whose input token states [L, D] to return (index `layers` = the last block's output). */
  blockInputs?: readonly number[];
  /** Also return features for every token, [L, E] (ln_post(x) @ proj). */
  features?: boolean;
}

/**
 * What {@link ClipModel.encodeImage} returns. Token arrays are row-major float32 over L = 1 + gh × gw
 * tokens: the class token first, then the patches in raster order.
 */
export interface ClipImageResult {
  /** Model input size (after preprocessing) and patch grid. */
  height: number;
  /** Model input width in pixels, after preprocessing (a multiple of the patch size). */
  width: number;
  /** Patch grid [gh, gw] = [height / patch, width / patch]. */
  grid: [number, number];
  /** Standard CLIP image embedding ln_post(x[0]) @ proj, [E], not normalised. */
  embedding: Float32Array;
  /** CLIP-ES's image feature (§1.5): mean over patch tokens of ln_post(x) @ proj, [E]. */
  patchMean: Float32Array;
  /** Every token's feature ln_post(x) @ proj, [L, E]; only with `features: true`. */
  features?: Float32Array;
  /** Head-averaged attention [L, L] per block index asked for in `attentionLayers` (empty otherwise). */
  attention: Map<number, Float32Array>;
  /** Input token states [L, D] per block index asked for in `blockInputs` (empty otherwise). */
  blockInputs: Map<number, Float32Array>;
}

/** Options of {@link ClipModel.load} and {@link ClipModel.fromWeights}, plus those of weight loading. */
export interface ClipModelOptions extends ClipLoadOptions {
  /**
   * The BPE vocabulary: a path (OpenAI's bpe_simple_vocab_16e6.txt.gz, an HF vocab.json, or a
   * folder with either), a ClipTokenizer, or false for none. Default: the weights' folder if it
   * holds one (Node only); without a tokenizer encodeText fails, encodeTokens still works.
   */
  tokenizer?: string | ClipTokenizer | false;
  /** Positional-table rounding (default 'fp16', CLIP-ES's behaviour; see vision.ts). */
  positionalRounding?: PositionalRounding;
  /** Compiled graphs kept per tower (least recently used dropped first). Default 4. */
  maxGraphs?: number;
  /** Largest text batch per graph run; longer lists are encoded in chunks. Default 32. */
  maxTextBatch?: number;
}

class GraphCache {
  private readonly graphs = new Map<string, Promise<CompiledGraph>>();

  constructor(private readonly limit: number) {}

  async get(key: string, make: () => Promise<CompiledGraph>): Promise<CompiledGraph> {
    let p = this.graphs.get(key);
    if (p) {
      this.graphs.delete(key); // move to the most recent end
      this.graphs.set(key, p);
      return p;
    }
    p = make();
    this.graphs.set(key, p);
    p.catch(() => this.graphs.delete(key));
    while (this.graphs.size > this.limit) {
      const [oldKey, old] = this.graphs.entries().next().value as [string, Promise<CompiledGraph>];
      this.graphs.delete(oldKey);
      void old.then((g) => g.destroy(), () => undefined);
    }
    return p;
  }

  get size(): number {
    return this.graphs.size;
  }

  async clear(): Promise<void> {
    const all = [...this.graphs.values()];
    this.graphs.clear();
    for (const p of all) {
      try {
        (await p).destroy();
      } catch {
        // a graph that failed to compile holds nothing
      }
    }
  }
}

export class ClipModel {
  /** The model's weights on the GPU, uploaded once and shared by every compiled graph. */
  readonly weightCache: WeightCache;
  private readonly vision: GraphCache;
  private readonly text: GraphCache;
  private readonly other: GraphCache;
  private readonly rounding: PositionalRounding;
  private readonly maxTextBatch: number;

  private constructor(
    /** The device the model runs on. */
    readonly gpu: Gpu,
    /** The canonical CLIP tensors on the host (float32), by name. */
    readonly weights: ClipWeights,
    /** Architecture read from the weights: embedding width, vision and text tower sizes. */
    readonly config: ClipConfig,
    /** BPE tokenizer for encodeText; undefined when none was found or given. */
    readonly tokenizer: ClipTokenizer | undefined,
    opts: ClipModelOptions,
  ) {
    this.weightCache = new WeightCache(gpu);
    const limit = opts.maxGraphs ?? 4;
    if (!Number.isInteger(limit) || limit < 1) throw new ClipGraphError(`maxGraphs = ${limit} must be a positive integer`);
    this.vision = new GraphCache(limit);
    this.text = new GraphCache(limit);
    this.other = new GraphCache(limit);
    this.rounding = opts.positionalRounding ?? 'fp16';
    this.maxTextBatch = opts.maxTextBatch ?? 32;
  }

  /** Loads weights (any format src/weights reads) and, when found, the tokenizer. */
  static async load(gpu: Gpu, input: WeightInput, opts: ClipModelOptions = {}): Promise<ClipModel> {
    // A folder (Hugging Face layout) stands for the weight file inside it; its vocabulary and
    // config.json then sit beside that file.
    if (typeof input === 'string') input = await resolveWeightPath(input);
    const loaded = await loadClip(input, opts);
    let tokenizer: ClipTokenizer | undefined;
    if (typeof opts.tokenizer === 'object') tokenizer = opts.tokenizer;
    else if (opts.tokenizer !== false) {
      const { BUNDLED_CLIP_VOCAB, OPENAI_VOCAB_SIZE, loadClipTokenizer } = await import('./tokenizer-node.js');
      const contextLength = loaded.config.text.contextLength;
      if (typeof opts.tokenizer === 'string') tokenizer = await loadClipTokenizer(opts.tokenizer, { contextLength });
      else if (typeof input === 'string') {
        const { dirname } = await import('node:path');
        // No (fitting) vocabulary next to the weights is not an error: encodeTokens still works.
        tokenizer = await loadClipTokenizer(dirname(input), { contextLength }).catch(() => undefined);
        if (tokenizer && tokenizer.vocabSize > loaded.config.text.vocabSize) tokenizer = undefined;
        // OpenAI's own text towers use OpenAI's vocabulary, which seedmask ships.
        if (!tokenizer && loaded.config.text.vocabSize === OPENAI_VOCAB_SIZE) tokenizer = await loadClipTokenizer(BUNDLED_CLIP_VOCAB, { contextLength });
      }
    }
    return ClipModel.fromWeights(gpu, loaded, tokenizer, opts);
  }

  /**
   * A model over weights already loaded (e.g. by loadClip). Throws ClipGraphError when the tokenizer's
   * vocabulary is larger than the text tower's.
   */
  static fromWeights(gpu: Gpu, loaded: Pick<LoadedClip, 'config' | 'tensors'>, tokenizer?: ClipTokenizer, opts: ClipModelOptions = {}): ClipModel {
    if (tokenizer && tokenizer.vocabSize > loaded.config.text.vocabSize) {
      throw new ClipGraphError(`the tokenizer's ${tokenizer.vocabSize} tokens do not fit the model's vocabulary of ${loaded.config.text.vocabSize}`);
    }
    return new ClipModel(gpu, loaded.tensors, loaded.config, tokenizer, opts);
  }

  /** κ = exp(logit_scale) from the checkpoint. */
  get logitScale(): number {
    return Math.exp(this.weights.get('logit_scale')?.data[0] ?? Math.log(100));
  }

  /** The compiled vision graph for an input size and set of outputs (cached). */
  visionGraph(height: number, width: number, opts: EncodeImageOptions = {}): Promise<CompiledGraph> {
    const attn = [...new Set(opts.attentionLayers ?? [])].sort((a, b) => a - b);
    const inputs = [...new Set(opts.blockInputs ?? [])].sort((a, b) => a - b);
    const key = `${height}x${width}|a${attn.join(',')}|b${inputs.join(',')}|${this.rounding}`;
    return this.vision.get(key, async () => {
      const g = new Graph();
      const v = buildClipVision(g, this.weights, this.config, { height, width, attentionLayers: attn, positionalRounding: this.rounding });
      g.output('features', v.features!);
      g.output('embedding', v.embedding!);
      for (const i of attn) g.output(`attention.${i}`, v.attention.get(i)!);
      for (const i of inputs) {
        const x = v.blockInputs[i];
        if (!x) throw new ClipGraphError(`blockInputs: ${i} is not 0..${v.blockInputs.length - 1}`);
        g.output(`block_input.${i}`, x);
      }
      return this.compile(g);
    });
  }

  /** The compiled text graph for a batch and context length (cached). */
  textGraph(batch: number, contextLength = this.config.text.contextLength): Promise<CompiledGraph> {
    return this.text.get(`${batch}x${contextLength}`, async () => {
      const g = new Graph();
      const t = buildClipText(g, this.weights, this.config, { batch, contextLength });
      g.output('embedding', t.embedding);
      return this.compile(g);
    });
  }

  /** The positional-table rounding this model's vision graphs use (see vision.ts). */
  get positionalRounding(): PositionalRounding {
    return this.rounding;
  }

  /**
   * A graph over this model's weights built by `build` and compiled once per `key` (the key must
   * say everything the graph depends on), sharing the uploaded weights; kept in its own LRU cache
   * of `maxGraphs` entries. For pipelines beyond the two towers, e.g. Grad-CAM (src/wsss/gradcam.ts).
   */
  customGraph(key: string, build: (g: Graph) => void): Promise<CompiledGraph> {
    return this.other.get(key, async () => {
      const g = new Graph();
      build(g);
      return this.compile(g);
    });
  }

  private compile(g: Graph): Promise<CompiledGraph> {
    // Pipelines live in the Gpu's cache: only the first graph of a kind gains from a warm-up run
    // (on SwiftShader the warm-up of another size would cost a whole forward for nothing).
    return CompiledGraph.compile(this.gpu, g, { weights: this.weightCache, warmup: false });
  }

  /** Normalised [3, H', W'] input for an image: given as is, or RGBA8 through CLIP-ES's preprocessing (§1.3). */
  async preprocess(image: ClipImageInput): Promise<{
    /** Normalised model input [3, H', W'], float32, row-major. */
    data: Float32Array;
    /** H' in pixels, a multiple of the patch size. */
    height: number;
    /** W' in pixels, a multiple of the patch size. */
    width: number;
  }> {
    if ('tensor' in image) {
      if (image.tensor.length !== 3 * image.height * image.width) throw new ClipGraphError(`image tensor: ${image.tensor.length} values for [3, ${image.height}, ${image.width}]`);
      return { data: image.tensor, height: image.height, width: image.width };
    }
    const pixels = image.rgba instanceof Uint32Array ? image.rgba : packRgba(image.rgba);
    if (pixels.length !== image.height * image.width) throw new ClipGraphError(`rgba image: ${pixels.length} pixels for ${image.height}×${image.width}`);
    const src = this.gpu.upload(pixels, [image.height, image.width], 'u32', 'clip rgba');
    const x = await clipEsInput(this.gpu, src, { patch: this.config.vision.patch });
    try {
      const data = await this.gpu.readF32(x);
      return { data, height: x.shape[1]!, width: x.shape[2]! };
    } finally {
      this.gpu.release(src, x);
    }
  }

  /**
   * Runs the vision tower on one image (preprocessed as {@link preprocess} does): the embeddings and
   * any extra outputs asked for in `opts`.
   */
  async encodeImage(image: ClipImageInput, opts: EncodeImageOptions = {}): Promise<ClipImageResult> {
    const { data, height, width } = await this.preprocess(image);
    const { gh, gw, tokens } = visionGrid(this.config, height, width);
    const graph = await this.visionGraph(height, width, opts);
    const { outputs } = await graph.exclusive(() => graph.run({ image: data }));
    const E = this.config.embedDim;
    const features = outputs.get('features') as Float32Array;
    const patchMean = new Float32Array(E);
    for (let e = 0; e < E; e++) {
      let s = 0;
      for (let t = 1; t < tokens; t++) s += features[t * E + e]!;
      patchMean[e] = s / (tokens - 1);
    }
    const pick = (prefix: string) => new Map([...outputs].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [Number(k.slice(prefix.length)), v as Float32Array]));
    return {
      height, width, grid: [gh, gw],
      embedding: (outputs.get('embedding') as Float32Array).slice(),
      patchMean,
      features: opts.features ? features : undefined,
      attention: pick('attention.'),
      blockInputs: pick('block_input.'),
    };
  }

  /** Text embeddings [B, E] (not normalised) of token rows `ids` [B, C] (EOT = the largest id per row). */
  async encodeTokens(ids: Int32Array, batch: number, contextLength = ids.length / batch): Promise<Float32Array> {
    if (!Number.isInteger(contextLength) || ids.length !== batch * contextLength) throw new ClipGraphError(`encodeTokens: ${ids.length} ids are not ${batch} rows`);
    const vocab = this.config.text.vocabSize;
    for (let i = 0; i < ids.length; i++) {
      if (!(ids[i]! >= 0 && ids[i]! < vocab)) throw new ClipGraphError(`encodeTokens: id ${ids[i]} at row ${Math.floor(i / contextLength)} is outside the vocabulary 0..${vocab - 1}`);
    }
    const E = this.config.embedDim;
    const out = new Float32Array(batch * E);
    for (let start = 0; start < batch; start += this.maxTextBatch) {
      const b = Math.min(this.maxTextBatch, batch - start);
      const chunk = ids.subarray(start * contextLength, (start + b) * contextLength);
      const graph = await this.textGraph(b, contextLength);
      const { outputs } = await graph.exclusive(() => graph.run({ ids: chunk, eot: eotIndices(chunk, b, contextLength) }));
      out.set(outputs.get('embedding') as Float32Array, start * E);
    }
    return out;
  }

  /**
   * Text embeddings [B, E] (not normalised), tokenized with `clip.tokenize` rules. By default each
   * prompt runs only as far as it needs: with the causal mask the EOT token never sees the padding
   * after it, so the features are those of the full context up to float32 summation order. Prompts
   * are grouped by their length rounded up to a multiple of 8 tokens (few graph sizes arise) and
   * each group runs as one batch at that context: a VOC prompt has 7–13 tokens of 77, and the 45
   * prompts of the VOC label set take 392 token rows instead of 720 at one shared context.
   * `contextLength: 'full'` keeps all 77 for every prompt.
   */
  async encodeText(texts: string | readonly string[], opts: { contextLength?: 'auto' | 'full' } = {}): Promise<Float32Array> {
    if (!this.tokenizer) throw new ClipGraphError('encodeText: this model has no tokenizer (give ClipModelOptions.tokenizer, or use encodeTokens)');
    const list = typeof texts === 'string' ? [texts] : texts;
    const full = this.config.text.contextLength;
    const ids = this.tokenizer.tokenize(list, full);
    if (opts.contextLength === 'full') return this.encodeTokens(ids, list.length, full);
    const E = this.config.embedDim;
    const out = new Float32Array(list.length * E);
    for (const { contextLength: ctx, rows } of this.textGroups(ids, list.length)) {
      const cut = new Int32Array(rows.length * ctx);
      rows.forEach((b, r) => cut.set(ids.subarray(b * full, b * full + ctx), r * ctx));
      const emb = await this.encodeTokens(cut, rows.length, ctx);
      rows.forEach((b, r) => out.set(emb.subarray(r * E, (r + 1) * E), b * E));
    }
    return out;
  }

  /**
   * How encodeText batches token rows `ids` ([B, 77]): the prompts grouped by their length (EOT
   * position + 1) rounded up to a multiple of 8, shortest context first.
   */
  textGroups(ids: Int32Array, batch: number): Array<{
    /** Context length the group runs at: a multiple of 8, at most the model's full context. */
    contextLength: number;
    /** Indices into `ids` (0..batch − 1) of the prompts in this group, in input order. */
    rows: number[];
  }> {
    const full = this.config.text.contextLength;
    const groups = new Map<number, number[]>();
    eotIndices(ids, batch, full).forEach((eot, b) => {
      const ctx = Math.min(full, Math.ceil(((eot % full) + 1) / 8) * 8);
      const rows = groups.get(ctx);
      if (rows) rows.push(b);
      else groups.set(ctx, [b]);
    });
    return [...groups].sort((a, b) => a[0] - b[0]).map(([contextLength, rows]) => ({ contextLength, rows }));
  }

  /** CLIP-ES's zero-shot class embeddings [classes, E], L2-normalised (§2.3). */
  zeroShotClassifier(classNames: readonly string[], templates: readonly string[] = ['a clean origami {}.']): Promise<Float32Array> {
    return zeroShotClassifier((t) => this.encodeText(t), classNames, templates, this.config.embedDim);
  }

  /** Cached graphs per tower. */
  get cachedGraphs(): {
    /** Compiled vision graphs (one per input size and output set). */
    vision: number;
    /** Compiled text graphs (one per batch size and context length). */
    text: number;
  } {
    return { vision: this.vision.size, text: this.text.size };
  }

  /** Frees every compiled graph and the uploaded weights. */
  async destroy(): Promise<void> {
    await this.vision.clear();
    await this.text.clear();
    await this.other.clear();
  }
}
