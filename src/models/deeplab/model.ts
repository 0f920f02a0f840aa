// DeepLab models on the graph runner: load a checkpoint (either layout), prepare the convolutions
// once (batch-norm folded, OHWI weights), and build/compile one graph per input size, all graphs
// sharing one upload of the weights (WeightCache).
//
//   const model = await DeepLabModel.load(gpu, 'deeplabv3_resnet101.pth', { model: 'deeplabv3_resnet101' });
//   const { labels } = await model.segment(rgbaImage);
//
// Graph outputs (any subset; names are the keys of the result map):
//   logits     [N, K, H, W]  at the input size (torchvision: the model's `out`; DeepLab v2: the
//                            MSC-fused logits resized as deeplab-pytorch's demo and eval do),
//                            or at `outputSize` when given (one more bilinear resize)
//   lowres     [N, K, h, w]  logits at output stride 8 (v2: after the MSC max)
//   probs      softmax over the classes of `logits`;  labels  u32 [N, H, W], their argmax
//   aux, auxLowres           torchvision's aux head (when the weights have one)
//   base       v2 only: the scale-1 logits before the MSC max
import type { Gpu } from '../../gpu/context.js';
import { Graph, type HostData, type Value } from '../../graph/graph.js';
import { bilinearOp, channelArgmaxOp, channelSoftmaxOp } from '../../graph/ops.js';
import { CompiledGraph, WeightCache } from '../../graph/runner.js';
import type { RgbaImage } from '../../io/image.js';
import { openDeepLab, type DeepLabCheckpoint, type DeepLabConfig, type DeepLabModelName } from '../../weights/layouts/deeplab.js';
import type { LoadOptions } from '../../weights/weightfile.js';
import type { WeightInput } from '../../weights/source.js';
import { DeepLabError, prepareConvs, type DeepLabParams } from './common.js';
import { buildDeepLabV2, deeplabV2Convs, DEEPLABV2_MSC_SCALES, DEEPLABV2_RATES } from './deeplabv2.js';
import { buildDeepLabV3, deeplabV3Convs } from './deeplabv3.js';
import { deeplabInput, fitLongestSide } from './preprocess.js';

export const DEEPLAB_OUTPUTS = ['logits', 'lowres', 'probs', 'labels', 'aux', 'auxLowres', 'base'] as const;
/**
 * A DeepLab graph output: 'logits' [N, K, H, W] at the input (or output) size, 'lowres' logits at
 * output stride 8, 'probs' their softmax over classes, 'labels' u32 [N, H, W] argmax, 'aux' and
 * 'auxLowres' torchvision's aux head, 'base' DeepLab v2's scale-1 logits before the MSC max.
 */
export type DeepLabOutput = (typeof DEEPLAB_OUTPUTS)[number];

export interface DeepLabGraphOptions {
  /** Network input size. */
  height: number;
  width: number;
  /** Default 1. */
  batch?: number;
  /** Default ['logits']. */
  outputs?: readonly DeepLabOutput[];
  /** Size of logits/probs/labels when it differs from the input size. */
  outputSize?: readonly [number, number];
  /** DeepLab v2: MSC scales besides 1 (default 0.5, 0.75; [] = single scale). */
  scales?: readonly number[];
}

/** Options of {@link DeepLabModel.load} and {@link DeepLabModel.fromCheckpoint}. */
export interface DeepLabModelOptions {
  /** DeepLab v2 ASPP rates (default 6, 12, 18, 24; the weights cannot tell). */
  rates?: readonly number[];
  /** Compiled graphs kept (one per input size and output set); default 2. */
  maxGraphs?: number;
}

/** Builds the graph of a model for one input size (no GPU needed: shapes are checked here). */
export function buildDeepLabGraph(params: DeepLabParams, config: DeepLabConfig, opts: DeepLabGraphOptions, modelOpts: DeepLabModelOptions = {}): Graph {
  const { height, width } = opts;
  const batch = opts.batch ?? 1;
  for (const [what, v] of [['height', height], ['width', width], ['batch', batch]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new DeepLabError(`${config.name}: input ${what} ${v} must be a positive integer`);
  }
  const wanted = new Set<DeepLabOutput>(opts.outputs ?? ['logits']);
  for (const o of wanted) if (!DEEPLAB_OUTPUTS.includes(o)) throw new DeepLabError(`unknown output '${o}' (known: ${DEEPLAB_OUTPUTS.join(', ')})`);
  if ((wanted.has('aux') || wanted.has('auxLowres')) && config.auxChannels === 0) throw new DeepLabError(`${config.name}: the weights have no aux head`);
  if (wanted.has('base') && config.layout !== 'deeplab-pytorch') throw new DeepLabError(`${config.name}: 'base' is a DeepLab v2 output`);
  const g = new Graph();
  const x = g.input('image', [batch, 3, height, width]);
  let values: Partial<Record<DeepLabOutput, Value>>;
  if (config.layout === 'torchvision') {
    const v = buildDeepLabV3(g, params, config, x, { aux: wanted.has('aux') || wanted.has('auxLowres') });
    values = { logits: v.logits, lowres: v.lowres, aux: v.aux, auxLowres: v.auxLowres };
  } else {
    const v = buildDeepLabV2(g, params, config, x, { rates: modelOpts.rates ?? DEEPLABV2_RATES, scales: opts.scales ?? DEEPLABV2_MSC_SCALES });
    values = { logits: v.logits, lowres: v.lowres, base: v.base };
  }
  let logits = values.logits!;
  if (opts.outputSize && (opts.outputSize[0] !== height || opts.outputSize[1] !== width)) {
    logits = g.apply(bilinearOp, [logits], { size: [opts.outputSize[0], opts.outputSize[1]] }, 'resize_output')[0]!;
    values.logits = logits;
  }
  if (wanted.has('probs')) values.probs = g.apply(channelSoftmaxOp, [logits], {}, 'probs')[0]!;
  if (wanted.has('labels')) values.labels = g.apply(channelArgmaxOp, [logits], {}, 'labels')[0]!;
  for (const o of wanted) g.output(o, values[o]!);
  return g;
}

export class DeepLabModel {
  /** The prepared weights on the GPU, uploaded once and shared by every compiled graph. */
  readonly weightCache: WeightCache;
  private readonly graphs = new Map<string, Promise<CompiledGraph>>();
  private readonly maxGraphs: number;

  private constructor(
    /** The device the model runs on. */
    readonly gpu: Gpu,
    /** Architecture read from the checkpoint: layout, backbone widths, class count K, head sizes. */
    readonly config: DeepLabConfig,
    /** Convolutions prepared on the host (batch-norm folded, OHWI weights), by checkpoint name. */
    readonly params: DeepLabParams,
    /** Name of the checkpoint the weights came from (its path or File name), for messages. */
    readonly source: string,
    private readonly opts: DeepLabModelOptions,
  ) {
    this.weightCache = new WeightCache(gpu);
    this.maxGraphs = opts.maxGraphs ?? 2;
    if (!Number.isInteger(this.maxGraphs) || this.maxGraphs < 1) throw new DeepLabError(`maxGraphs = ${opts.maxGraphs} must be a positive integer`);
  }

  /** Opens and validates a checkpoint (any format src/weights reads) and prepares its weights. */
  static async load(gpu: Gpu, input: WeightInput, opts: DeepLabModelOptions & LoadOptions & { model?: DeepLabModelName } = {}): Promise<DeepLabModel> {
    const ckpt = await openDeepLab(input, opts);
    try {
      return await DeepLabModel.fromCheckpoint(gpu, ckpt, opts);
    } finally {
      await ckpt.file.close();
    }
  }

  /**
   * A model from a checkpoint already opened with openDeepLab; the caller closes its file. Throws
   * DeepLabError when a v2 checkpoint's ASPP branch count does not match `rates`.
   */
  static async fromCheckpoint(gpu: Gpu, ckpt: DeepLabCheckpoint, opts: DeepLabModelOptions = {}): Promise<DeepLabModel> {
    const config = ckpt.config;
    if (config.layout === 'deeplab-pytorch') {
      const rates = opts.rates ?? DEEPLABV2_RATES;
      if (rates.length !== config.asppBranches) throw new DeepLabError(`${ckpt.file.name}: ${config.asppBranches} ASPP branches in the weights but ${rates.length} atrous rates [${rates.join(', ')}]`);
    }
    const convs = config.layout === 'torchvision' ? deeplabV3Convs(config) : deeplabV2Convs(config);
    const params = await prepareConvs(ckpt, convs);
    return new DeepLabModel(gpu, config, params, ckpt.file.name, opts);
  }

  /** Checkpoint layout: 'torchvision' (DeepLab v3) or 'deeplab-pytorch' (DeepLab v2). */
  get layout() {
    return this.config.layout;
  }

  /** The compiled graph for these options (cached; the least recently used is destroyed past maxGraphs). */
  graph(opts: DeepLabGraphOptions): Promise<CompiledGraph> {
    const key = JSON.stringify([opts.height, opts.width, opts.batch ?? 1, [...(opts.outputs ?? ['logits'])].sort(), opts.outputSize ?? null, opts.scales ?? null]);
    let p = this.graphs.get(key);
    if (p) {
      this.graphs.delete(key);
      this.graphs.set(key, p);
      return p;
    }
    p = (async () => {
      const g = buildDeepLabGraph(this.params, this.config, opts, this.opts);
      // No warm-up forward: the first run builds the pipelines on its way, and a forward is costly
      // enough (seconds to minutes on SwiftShader) not to run one on zeros first.
      return CompiledGraph.compile(this.gpu, g, { weights: this.weightCache, warmup: false });
    })();
    this.graphs.set(key, p);
    p.catch(() => this.graphs.delete(key));
    while (this.graphs.size > this.maxGraphs) {
      const [oldKey, old] = this.graphs.entries().next().value as [string, Promise<CompiledGraph>];
      this.graphs.delete(oldKey);
      void old.then((c) => c.destroy(), () => undefined);
    }
    return p;
  }

  /** Runs the network on a prepared input [batch, 3, height, width]. */
  async run(image: Float32Array, opts: DeepLabGraphOptions): Promise<Map<string, HostData>> {
    const compiled = await this.graph(opts);
    return (await compiled.exclusive(() => compiled.run({ image }))).outputs;
  }

  /** The network input for an RGBA image: normalised for this model's layout, optionally resampled. */
  input(image: RgbaImage, size?: readonly [number, number]): Float32Array {
    return deeplabInput(image, this.config.layout, size);
  }

  /**
   * Segments one image: labels (class per pixel, at the image's size) and, when asked, the logits
   * [K, H, W] at the image's size. `resize` runs the network at that longest side (deeplab-pytorch's
   * demo uses 513) and resizes the logits back bilinearly before the argmax. `scales`: DeepLab v2's
   * MSC scales (default 0.5, 0.75).
   */
  async segment(
    image: RgbaImage,
    opts: {
      resize?: number;
      logits?: boolean;
      scales?: readonly number[];
      /** Cancels: rejects with the signal's reason before the forward pass, or after it instead of returning. */
      signal?: AbortSignal;
    } = {},
  ): Promise<{
    /** Class id per pixel, [H, W] row-major, at the image's size. */
    labels: Uint32Array;
    /** Logits [K, H, W] float32, row-major, at the image's size; only with `logits: true`. */
    logits?: Float32Array;
    /** H: the image's height in pixels. */
    height: number;
    /** W: the image's width in pixels. */
    width: number;
    /** K: number of classes, background included. */
    classes: number;
  }> {
    const size: [number, number] = opts.resize ? fitLongestSide(image.height, image.width, opts.resize) : [image.height, image.width];
    const outputs: DeepLabOutput[] = opts.logits ? ['labels', 'logits'] : ['labels'];
    opts.signal?.throwIfAborted();
    const out = await this.run(this.input(image, size), { height: size[0], width: size[1], outputs, outputSize: [image.height, image.width], scales: opts.scales });
    opts.signal?.throwIfAborted();
    return {
      labels: out.get('labels') as Uint32Array,
      logits: opts.logits ? (out.get('logits') as Float32Array) : undefined,
      height: image.height,
      width: image.width,
      classes: this.config.classes,
    };
  }

  /** Destroys every compiled graph and frees the weights. */
  async destroy(): Promise<void> {
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
