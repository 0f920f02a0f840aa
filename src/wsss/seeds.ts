// CLIP-ES seed masks for one image (docs/algorithms.md §3.3–3.6), every heavy step on the GPU. The
// pipeline is a CAM source followed by label-map stages, all plug-ins listed in registry.ts:
//
//   labels ──► text rows [K + M, E] (label set prompts, cached per model)            text.ts
//   image  ──► CAM source: 'gradcam' Softmax Grad-CAM, all K labels in one batched    sources/gradcam.ts
//                          backward pass (+ the CAA affinity: mean attention of the
//                          last 8 blocks)
//                          'maskclip' MaskCLIP's value-path scores (+ the same        sources/maskclip.ts
//                          affinity)
//          ──► 'cam'  grid CAMs, cv2-bilinear to H×W, float16 (CLIP-ES `highres`)     stages/cam.ts
//          ──► 'caa'  Sinkhorn, box masks, S(S(B⊙cam)), min-max, cv2-bilinear,        stages/caa.ts
//                     float16 (CLIP-ES `attn_highres`, the CAMs written out)
//          ──► refiner: 'crf' dense CRF on [bg = 1 − max, CAMs], ignore < 0.95         stages/crf.ts
//                       'par' AFA's PAR labels (bg planes 0.55 / 0.35)                 stages/par.ts
//                       'randomwalk' psa's random walk on CLIP patch affinities         stages/rw.ts
//                       'none' the CAA label map
//
// The GPU kernels behind every step are described in src/kernels/ (those of CAA, the CRF, PAR, the
// random walk and the label maps in src/kernels/wsss/, the bilinear resizes in src/kernels/bilinear.ts);
// the modules here compose them.
//
// Label maps of the CAM stages use eval_cam.py's rule: bg = (1 − max)^τ in float16 (τ = 2 by
// default, the best of CLIP-ES's sweep for `attn` CAMs), first maximum wins (§3.6).
// Values: 0 background, class index + 1, 255 ignore. Every GPU tensor of a run belongs to its
// SeedContext (stage.ts) and is freed when the run ends, cancelled or failed.
//
// Choices where the spec leaves one (documented in README): the CRF sees CLIP-ES's wrapped
// BGR − mean image by default ('clip-es', parity with the published numbers; 'rgb' is the
// better-behaved alternative, §8.14); boxes keep the edge-clipping quirk by default (§8.8).

import { trafficSince, type Gpu, type GpuTraffic } from '../gpu/context.js';
import type { RgbaImage } from '../io/image.js';
import type { ClipModel } from '../models/clip/model.js';
import type { BoxMode } from './caa.js';
import { LabelSetError, VOC_LABELSET, parseLabels, type LabelSet } from './labelset.js';
import { CAM_SOURCE_NAMES, CAM_SOURCES, refinerStage, REFINERS, SEED_STAGES, STAGES, type CamSourceName, type Refiner, type Stage } from './registry.js';
import { checkFitsDevice } from './limits.js';
import { SeedContext, SeedError, type CamProduct } from './stage.js';
import { releaseCrfReplay } from './stages/crf.js';
import type { Tensor } from '../gpu/tensor.js';
import { labelSetEmbeddings } from './text.js';
import { unpackLabelWords } from './labels.js';

export { SeedError } from './stage.js';
export { checkFitsDevice } from './limits.js';
export { CAM_SOURCE_NAMES, REFINERS, STAGES, type CamSourceName, type Refiner, type Stage } from './registry.js';
export { RW_CLIP_DEFAULTS } from './stages/rw.js';

/** Options of {@link SeedPipeline.run} and {@link generateSeeds}; every field has a default. */
export interface SeedOptions {
  /** Classes and prompts (default VOC). */
  labelSet?: LabelSet;
  /** Where the CAMs come from: 'gradcam' (CLIP-ES's softmax Grad-CAM, default) or 'maskclip'. */
  camSource?: CamSourceName;
  /** What turns the CAA CAMs into the seeds (default 'crf'). */
  refiner?: Refiner;
  /** Extra stages whose label maps to compute as well (for per-stage evaluation). */
  stages?: readonly Stage[];
  /** CAA box threshold λ (default 0.7 for the COCO set, else 0.4). */
  boxThreshold?: number;
  /**
   * CAA box masks: 'clip-es' (default) clips boxes touching the right/bottom grid edge by one cell, as
   * CLIP-ES does; 'corrected' keeps them whole.
   */
  boxes?: BoxMode;
  /** τ of the CAM label maps: bg = (1 − max)^τ (default 2). */
  camExponent?: number;
  /** The colours the CRF's bilateral kernel sees (default 'clip-es'). */
  crfImage?: 'clip-es' | 'rgb';
  /**
   * The pixels the CRF reads, where they differ from the image's: CLIP-ES reads the file again with
   * cv2.imread for its CRF step (decodeSeedImage gives them). Same size as the image. Default: the image.
   */
  crfPixels?: RgbaImage;
  /** CRF confidence below which a pixel is ignored (default 0.95). */
  confidence?: number;
  /** Blocks averaged into the CAA affinity (default 8). */
  caaLayers?: number;
  /**
   * Random-walk parameters (psa's defaults β 8, logt 8, α 16 are tuned for AffinityNet features at
   * stride 8; on CLIP patch features at stride 16 the walk must be shorter: see RW_CLIP_DEFAULTS).
   */
  randomWalk?: {
    /** Exponent of the affinities, > 0 (default 32). */
    beta?: number;
    /** Walk length: the transition matrix is raised to 2^logt; integer 0..30 (default 1). */
    logt?: number;
    /** Exponent of the background channel (1 − max CAM)^α, > 0 (default 2). */
    alpha?: number;
    /** Neighbourhood of the affinities in patch cells, integer 2..32 (default 5). */
    radius?: number;
  };
  /**
   * What to read back besides the seeds, the softmax and the label maps of `stages`: 'cams' (the CAA
   * CAMs at image size, [K, H, W] floats: the largest read-back by far) and 'gridCams'. Everything
   * read comes back in one read-back at the end of the run. Default: neither.
   */
  read?: readonly SeedReadback[];
  /**
   * Wait for the GPU after every step, so that `timings` holds each step's wall time (for reports and
   * benchmarks). Without it the steps only record GPU work, which runs behind them and is waited
   * for once, in `read`. Default false.
   */
  stageTimes?: boolean;
  /** GPU time (and FLOPs) per Grad-CAM stage from timestamp queries (when the adapter has them). */
  profile?: boolean;
  /**
   * Cancels the run: it rejects with the signal's reason (an AbortError) at the next step boundary
   * (after the text rows, Grad-CAM, CAA, each refiner), having freed every GPU tensor it made.
   */
  signal?: AbortSignal;
}

/** Optional read-backs of a seed run (see SeedOptions.read). */
export type SeedReadback = 'cams' | 'gridCams';
const READBACKS: readonly SeedReadback[] = ['cams', 'gridCams'];

/**
 * The seeds of one image and what led to them. Label maps (`seeds`, `stages`) are row-major H × W
 * bytes: 0 = background, class index + 1, 255 = ignore.
 */
export interface SeedResult {
  /** W: the image's width in pixels. */
  width: number;
  /** H: the image's height in pixels. */
  height: number;
  /** Class indices of the labels, in CAM channel order. */
  labels: number[];
  /** Patch grid [gh, gw]. */
  grid: [number, number];
  /** Softmax over the K label rows and the M background rows. */
  probs: Float32Array;
  /** With `read: ['gridCams']`: the CAM source's CAMs on the grid, [K, gh·gw] in [0, 1]. */
  gridCams?: Float32Array;
  /** With `read: ['cams']`: CAA-refined CAMs at image size, [K, H, W], float16 values (CLIP-ES's `attn_highres`). */
  cams?: Float32Array;
  /** The seed mask [H·W]: the refiner's labels (0 background, index + 1, 255 ignore). */
  seeds: Uint8Array;
  /** Label maps of the stages asked for in `stages`, and the refiner's (the seeds). */
  stages: Partial<Record<Stage, Uint8Array>>;
  /**
   * Milliseconds per step: text, the CAM source (gradcam or maskclip), cam, caa, crf, par, rw, read
   * (the one read-back, and the GPU work still queued), total. Without `stageTimes` a step's time is
   * what it took to record its GPU work.
   */
  timings: Record<string, number>;
  /** With `profile`: FLOPs of the profiled Grad-CAM stages (keys as in `timings`: gradcam.vision, …). */
  flops?: Record<string, number>;
  /**
   * Host↔device traffic of the run (uploads, read-backs, submits, dispatches; other work on the same
   * device at the same time is counted too) and `hostMs`: the run's wall time minus the time it
   * spent waiting for the GPU (on a CPU WebGPU driver the GPU's work runs on the host's cores too).
   * `hostMs` splits into `webgpuMs` (inside WebGPU calls: encoding, submits, the read-back's copy)
   * and `ownMs`, seedmask's own code.
   */
  traffic: GpuTraffic & { hostMs: number; ownMs: number };
}

/** Reusable pipeline for one model: text embeddings and compiled graphs are cached across images. */
export class SeedPipeline {
  /** The model's device, on which every step runs. */
  readonly gpu: Gpu;

  /** @param model The CLIP model (with a tokenizer) whose Grad-CAMs and attention make the seeds. */
  constructor(readonly model: ClipModel) {
    this.gpu = model.gpu;
  }

  /**
   * Gives back the device memory the pipeline keeps between images of one size (the recorded CRF,
   * up to CRF_REPLAY_MAX_BYTES), e.g. before other work on the same device. The model's weights
   * and compiled graphs stay; the next image records again.
   */
  releaseCaches(): void {
    releaseCrfReplay(this.gpu);
  }

  /**
   * Prepares everything a run on `width`×`height` images with each label count in `labelCounts`
   * needs, so that the first real image is as fast as the next: the label set's text embeddings,
   * the compiled graphs (buffers, weights on the GPU), the device constants, and every pipeline,
   * built all at once (Gpu.precompile) rather than one after another during a first run. Nothing
   * else may use the Gpu meanwhile. Returns the milliseconds it took.
   */
  async warmup(size: { width: number; height: number }, labelCounts: readonly number[] = [1], options: SeedOptions = {}): Promise<number> {
    const start = performance.now();
    const labelSet = options.labelSet ?? VOC_LABELSET;
    const { width, height } = size;
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) throw new SeedError(`warmup: image size ${width}×${height} must be positive integers`);
    for (const k of labelCounts) {
      if (!(Number.isInteger(k) && k >= 1 && k <= labelSet.classes.length)) throw new SeedError(`warmup: ${k} labels: must be 1..${labelSet.classes.length} (the label set's classes)`);
    }
    // The embeddings are read back and cached: made for real, before the dry run.
    await labelSetEmbeddings(this.model, labelSet);
    const image = { width, height, data: new Uint8Array(width * height * 4) };
    await this.gpu.precompile(async () => {
      for (const k of labelCounts) await this.run(image, Array.from({ length: k }, (_, i) => i), { ...options, signal: undefined });
    });
    return performance.now() - start;
  }

  /**
   * Seeds for one RGBA image from its image-level labels: class indices of the label set, in CAM
   * channel order, or a string such as 'cat, sofa' (see parseLabels). Throws SeedError or
   * LabelSetError on bad input.
   */
  async run(image: RgbaImage, labelsIn: readonly number[] | string, options: SeedOptions = {}): Promise<SeedResult> {
    const start = performance.now();
    const before = this.gpu.trafficCounters;
    const signal = options.signal;
    signal?.throwIfAborted();
    const gpu = this.gpu;
    const labelSet = options.labelSet ?? VOC_LABELSET;
    const labels = typeof labelsIn === 'string' ? parseLabels(labelsIn, labelSet) : checkLabels(labelsIn, labelSet);
    const { width: W, height: H } = image;
    if (!(Number.isInteger(W) && Number.isInteger(H) && W > 0 && H > 0) || image.data.length !== W * H * 4) {
      throw new SeedError(`image: ${image.data?.length} bytes do not hold a ${W}×${H} RGBA image`);
    }
    const crfPixels = options.crfPixels;
    if (crfPixels && (crfPixels.width !== W || crfPixels.height !== H || crfPixels.data.length !== W * H * 4)) {
      throw new SeedError(`crfPixels: a ${crfPixels.width}×${crfPixels.height} image for a ${W}×${H} one`);
    }
    const K = labels.length;
    const refiner = options.refiner ?? 'crf';
    const seedStage = REFINERS.includes(refiner) ? refinerStage(refiner) : undefined;
    if (!seedStage) throw new SeedError(`unknown refiner '${String(refiner)}' (${REFINERS.join(', ')})`);
    const source = CAM_SOURCES.find((c) => c.name === (options.camSource ?? CAM_SOURCE_NAMES[0]));
    if (!source) throw new SeedError(`unknown CAM source '${String(options.camSource)}' (${CAM_SOURCE_NAMES.join(', ')})`);
    const asked = new Set<Stage>([...(options.stages ?? []), seedStage]);
    for (const s of asked) if (!STAGES.includes(s)) throw new SeedError(`unknown stage '${String(s)}' (${STAGES.join(', ')})`);
    // The refiners read the CAA CAMs, so 'caa' always runs; its map is read only when asked for.
    const wanted = new Set<Stage>([...asked, 'caa']);
    const read = new Set(options.read ?? []);
    for (const r of read) if (!READBACKS.includes(r)) throw new SeedError(`unknown read-back '${String(r)}' (${READBACKS.join(', ')})`);
    checkFitsDevice(gpu, this.model.config.vision, H, W, K, { source: source.name });
    const stages = SEED_STAGES.filter((s) => wanted.has(s.name));
    const products = new Set<CamProduct>(stages.flatMap((s) => s.needs ?? []));

    const emb = await labelSetEmbeddings(this.model, labelSet);
    const ctx = new SeedContext(gpu, this.model, image, labels, labelSet, emb, options, products);
    const { timings } = ctx;
    let t = performance.now();
    const lap = async (name: string) => {
      if (options.stageTimes) await gpu.sync();
      const now = performance.now();
      timings[name] = (timings[name] ?? 0) + (now - t);
      t = now;
      signal?.throwIfAborted();
    };
    try {
      await lap('text');
      ctx.cam = await source.run(ctx);
      await lap(source.name);
      for (const [k, v] of Object.entries(ctx.cam.timings ?? {})) timings[`${source.name}.${k}`] = v;
      const onGpu = new Map<Stage, Tensor>();
      for (const stage of stages) {
        onGpu.set(stage.name, ctx.own(await stage.run(ctx)));
        await lap(stage.name);
      }
      // The one read-back of the run: the flags, the softmax, the maps asked for, the CAMs asked for.
      const mapNames = [...asked];
      const tensors = [...ctx.flags.map((f) => f.flag), ctx.cam.probs, ...mapNames.map((s) => onGpu.get(s)!)];
      if (read.has('gridCams')) tensors.push(ctx.cam.cams);
      if (read.has('cams')) tensors.push(ctx.caaCams());
      const host = await gpu.readMany(tensors);
      const redo = [];
      for (const [i, f] of ctx.flags.entries()) {
        const value = (host[i] as Uint32Array)[0]!;
        if (value === 0) continue;
        if (f.redo?.when(value)) redo.push(f.redo);
        else throw f.explain(value);
      }
      let at = ctx.flags.length;
      const probs = host[at++] as Float32Array;
      const maps: Partial<Record<Stage, Uint8Array>> = {};
      for (const s of mapNames) maps[s] = unpackLabelWords(host[at++] as Uint32Array, W * H);
      // A stage whose first try was not valid makes its map again (see SeedContext.check).
      for (const r of redo) {
        const map = ctx.own(await r.run());
        if (asked.has(r.stage as Stage)) maps[r.stage as Stage] = unpackLabelWords((await gpu.read(map)) as Uint32Array, W * H);
      }
      await lap('read');
      const gridCams = read.has('gridCams') ? (host[at++] as Float32Array) : undefined;
      const cams = read.has('cams') ? (host[at++] as Float32Array) : undefined;
      const flops = ctx.cam.flops ? Object.fromEntries(Object.entries(ctx.cam.flops).map(([k, v]) => [`${source.name}.${k}`, v])) : undefined;
      timings.total = performance.now() - start;
      const traffic = trafficSince(gpu, before);
      return {
        width: W, height: H, labels, grid: ctx.cam.grid, probs, gridCams, cams, seeds: maps[seedStage]!,
        stages: maps, timings, flops, traffic: { ...traffic, hostMs: timings.total - traffic.waitMs, ownMs: timings.total - traffic.waitMs - traffic.webgpuMs },
      };
    } finally {
      ctx.release();
    }
  }
}

/**
 * One call for one image: `generateSeeds(image, 'cat, sofa', { model })`. Same in the browser and
 * in Node; for many images keep a SeedPipeline (it caches text embeddings and graphs).
 */
export async function generateSeeds(image: RgbaImage, labels: readonly number[] | string, options: SeedOptions & { model: ClipModel }): Promise<SeedResult> {
  return new SeedPipeline(options.model).run(image, labels, options);
}

function checkLabels(labels: readonly number[], set: LabelSet): number[] {
  if (labels.length === 0) throw new LabelSetError(`no labels given; an image needs at least one class of label set '${set.name}' (unlabelled images are skipped, §8.5)`);
  const seen = new Set<number>();
  for (const c of labels) {
    if (!Number.isInteger(c) || c < 0 || c >= set.classes.length) throw new LabelSetError(`label ${c} is not a class index of label set '${set.name}' (0..${set.classes.length - 1})`);
    if (seen.has(c)) throw new LabelSetError(`label ${c} ('${set.classes[c]!.name}') is given twice`);
    seen.add(c);
  }
  return [...labels];
}

