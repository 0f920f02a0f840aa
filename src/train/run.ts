// A training run: the segmenter trained on (image, label map) pairs, with validation, checkpoints
// and an exact resume. Platform-neutral: the images come from a TrainData (files in Node, fetched
// or generated in a browser) and checkpoints go to a callback.
//
// Determinism. Step i takes batch slots k = i·B … i·B + B − 1; slot k reads sample
// order(seed, ⌊k/N⌋)[k mod N] (a permutation per epoch) and augments it with parameters that are a
// pure function of (seed, k) (src/train/augment.ts). Nothing else is random, so a run resumed from
// the checkpoint of step i takes the same steps as one that never stopped: the same losses, bit
// for bit, on the same adapter.
import type { Gpu } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';
import type { RgbaImage } from '../io/image.js';
import { ConfusionMatrix, computeScores } from '../eval/confusion.js';
import { channelArgmax } from '../kernels/pool.js';
import { Rng, mixSeed } from '../world/rng.js';
import { Tape } from './autodiff.js';
import { type TrainCheckpoint, type ValidationRecord } from './checkpoint.js';
import { initSegmenter, loadSegmenter, saveSegmenter, SegmenterError, SegmenterModel, type SegmenterConfig } from './segmenter.js';
import { encodeSafetensors, f32Entry } from '../weights/safetensors.js';
import { loadWeights, type WeightInput } from '../weights/index.js';
import { SegmenterTrainer, TrainerError, type GpuBatch, type OptimizerOptions } from './trainer.js';
import { DeepLabV2Trainable, type DeepLabV2Objective } from './deeplab.js';
import type { TrainableModel } from './model.js';
import { augmentBatch, validationInput, type AugmentSettings } from './batches.js';

/** The network a run trains: the small segmenter from scratch, or DeepLab-v2 from a checkpoint. */
export type TrainModelSettings =
  | { /** The small segmenter, from scratch. */ kind: 'segmenter'; config: SegmenterConfig }
  | {
      /** deeplab-pytorch's DeepLab-v2 ResNet-101. */
      kind: 'deeplabv2';
      /** deeplab-pytorch checkpoint: a whole DeepLabV2, or a backbone (COCO/ImageNet init) with a fresh ASPP. */
      init: string;
      /** Output classes, background included. */
      classes: number;
      /** 'msc' (the original's: the four MSC outputs at stride 8), 'lowres' or 'full'. */
      objective: DeepLabV2Objective;
    };

/** Everything that decides a run's steps (a checkpoint keeps it; a resume must bring the same). */
export interface TrainSettings {
  /** The network and where its first weights come from. */
  model: TrainModelSettings;
  /** Initial weights, data order and augmentation. */
  seed: number;
  /** Steps of the whole run (the poly schedule's length). */
  steps: number;
  /** Images per sub-batch. */
  batch: number;
  /** How each training image becomes a crop (and validation images a network input). */
  augment: AugmentSettings;
  /** SGD or AdamW and their rates. */
  optimizer: OptimizerOptions;
  /** Poly power; 0 for a constant learning rate. */
  power: number;
  /** Learning-rate multiplier of the classifier's weights. */
  headLrMult: number;
  /** Learning-rate multiplier of biases (deeplab-pytorch's ASPP biases: 20). */
  biasLrMult: number;
  /** The poly rate is recomputed every this many steps (deeplab-pytorch: 10). */
  lrDecayEvery: number;
  /** Sub-batches of `batch` images per step, gradients summed (deeplab-pytorch's ITER_SIZE 2). */
  iterSize: number;
  /** Validate every this many steps (and after the last); 0: only after the last. */
  valEvery: number;
  /** Checkpoint every this many steps (and after the last). */
  checkpointEvery: number;
}

/** An image and its label map (same size; classes 0..K−1, 255 ignored). */
export interface LabeledImage {
  /** Names the image in errors. */
  id: string;
  image: RgbaImage;
  /** [H·W] class ids, row-major. */
  labels: Uint8Array;
  /** Where the labels come from (a file path), named by errors about them; default the id. */
  labelSource?: string;
}

/** Labeled images by id: files in Node, fetched or generated images in a browser. */
export interface ImageSet {
  /** The ids, in the order the data order permutes. */
  readonly ids: readonly string[];
  /** The image and labels of `id` (called once per use; cache inside if decoding is costly). */
  load(id: string): Promise<LabeledImage>;
}

/** What a run reads: training images with their (seed) labels, and validation images with ground truth. */
export interface TrainData {
  /** Training images and their labels (e.g. seed masks). */
  train: ImageSet;
  /** Validation images and their ground truth; without it the run does not validate. */
  val?: ImageSet;
}

/** A progress report: the losses read back since the last one. */
export interface TrainProgress {
  /** The step of losses[0] (0-based). */
  iteration: number;
  /** Steps of the whole run. */
  steps: number;
  /** Losses read since the last report (steps first … first + length − 1). */
  losses: number[];
  /** The base learning rate of the next step. */
  lr: number;
  /** Wall seconds of this process's steps so far and how many it took. */
  seconds: number;
  /** Steps this process took (a resumed run starts at 0). */
  stepsThisRun: number;
}

/** What a caller sees of a run and where its files go. */
export interface TrainHooks<S = TrainSettings> {
  /** After each read-back of losses. */
  onProgress?(p: TrainProgress): void;
  /** After each validation; `best` when its mIoU beats every earlier one. */
  onValidation?(v: ValidationRecord, best: boolean): void | Promise<void>;
  /** A checkpoint to persist (every checkpointEvery steps and after the last). */
  onCheckpoint?(c: TrainCheckpoint<S>, shapes: ReadonlyMap<string, readonly number[]>): Promise<void>;
  /** Weights of the best validation so far, PyTorch layout (after onValidation reports a best). */
  onBest?(weights: Map<string, Float32Array>, v: ValidationRecord, shapes: ReadonlyMap<string, readonly number[]>): Promise<void>;
  /** Checked between steps; true stops the run after the step in progress (no checkpoint written). */
  shouldStop?(): boolean;
  /** Read the losses back every this many steps (default 10). */
  readEvery?: number;
}

/** The end of a run. */
export interface TrainResult<S = TrainSettings> {
  /** The state after the last step taken (also what onCheckpoint saw last, when the run completed). */
  checkpoint: TrainCheckpoint<S>;
  /** PyTorch shapes of the model's tensors. */
  shapes: ReadonlyMap<string, readonly number[]>;
  /** shouldStop ended the run before settings.steps. */
  stoppedEarly: boolean;
}

export class TrainRunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainRunError';
  }
}

/**
 * The settings that differ between two runs, as "path: a ≠ b". How often a run validates or
 * checkpoints does not change its weights, so those two may differ between a run and its resume.
 */
export function settingDifferences(a: unknown, b: unknown, path = ''): string[] {
  if (path === 'valEvery' || path === 'checkpointEvery') return [];
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) || Array.isArray(b)) {
    return JSON.stringify(a) === JSON.stringify(b) ? [] : [`${path || 'settings'}: ${JSON.stringify(a)} ≠ ${JSON.stringify(b)}`];
  }
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.flatMap((k) => settingDifferences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k));
}

export function checkSettings(s: TrainSettings): void {
  const positive = (v: number, name: string) => {
    if (!Number.isInteger(v) || v < 1) throw new TrainRunError(`${name} = ${v} must be a positive integer`);
  };
  positive(s.steps, 'steps');
  positive(s.batch, 'batch');
  if (!Number.isInteger(s.seed) || s.seed < 0 || s.seed > 0xffffffff) throw new TrainRunError(`seed = ${s.seed} must be an integer in 0..4294967295`);
  if (!Number.isInteger(s.valEvery) || s.valEvery < 0) throw new TrainRunError(`valEvery = ${s.valEvery} must be a non-negative integer`);
  positive(s.checkpointEvery, 'checkpointEvery');
  positive(s.lrDecayEvery, 'lrDecayEvery');
  positive(s.iterSize, 'iterSize');
  if (!(s.biasLrMult > 0 && Number.isFinite(s.biasLrMult))) throw new TrainRunError(`biasLrMult = ${s.biasLrMult} must be positive`);
  if (!(s.optimizer.lr > 0 && Number.isFinite(s.optimizer.lr))) throw new TrainRunError(`lr = ${s.optimizer.lr} must be a positive number`);
  if (!(s.power >= 0 && Number.isFinite(s.power))) throw new TrainRunError(`power = ${s.power} must be a non-negative number`);
  if (!(s.headLrMult > 0 && Number.isFinite(s.headLrMult))) throw new TrainRunError(`headLrMult = ${s.headLrMult} must be positive`);
}

/** The sample order of epoch `epoch`: a permutation of 0..n−1 (Fisher–Yates on its own stream). */
export function epochOrder(seed: number, epoch: number, n: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rng = new Rng(mixSeed(mixSeed(seed, 0x6f726472), epoch));
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/** Sample indices of step `iteration`'s slots. */
export function stepSamples(seed: number, iteration: number, batch: number, n: number, cache = new Map<number, Uint32Array>()): number[] {
  const out: number[] = [];
  for (let slot = 0; slot < batch; slot++) {
    const k = iteration * batch + slot;
    const epoch = Math.floor(k / n);
    let order = cache.get(epoch);
    if (!order) {
      cache.clear();
      cache.set(epoch, (order = epochOrder(seed, epoch, n)));
    }
    out.push(order[k % n]!);
  }
  return out;
}

const shapesOf = (model: TrainableModel) => new Map(model.tensorSpecs.map((s) => [s.name, s.shape] as [string, readonly number[]]));

/**
 * Trains (or resumes from `resume`) for settings.steps steps. Settings of a resumed run must equal
 * the checkpoint's: the caller compares them (they decide the data order and the schedule).
 */
export async function train<S extends TrainSettings>(gpu: Gpu, data: TrainData, settings: S, hooks: TrainHooks<S> = {}, resume?: TrainCheckpoint<S>): Promise<TrainResult<S>> {
  checkSettings(settings);
  if (data.train.ids.length === 0) throw new TrainRunError('no training images');
  if (resume) {
    const diff = settingDifferences(resume.settings, settings);
    if (diff.length > 0) throw new TrainRunError(`the checkpoint belongs to a run with other settings (${diff.slice(0, 4).join('; ')}${diff.length > 4 ? '; …' : ''})`);
  }
  const classes = settings.model.kind === 'segmenter' ? settings.model.config.classes : settings.model.classes;
  const model = await createModel(gpu, settings, resume?.weights);
  let trainer: SegmenterTrainer;
  try {
    trainer = new SegmenterTrainer(model, {
      optimizer: settings.optimizer,
      maxIter: settings.power > 0 ? settings.steps : undefined,
      power: settings.power,
      headLrMult: settings.headLrMult,
      biasLrMult: settings.biasLrMult,
      lrDecayEvery: settings.lrDecayEvery,
      iterSize: settings.iterSize,
    });
  } catch (err) {
    model.release();
    throw err;
  }
  const losses: number[] = resume ? [...resume.losses] : [];
  const validation: ValidationRecord[] = resume ? [...resume.validation] : [];
  let best = validation.reduce((m, v) => Math.max(m, v.miou), -Infinity);
  const readEvery = hooks.readEvery ?? 10;
  const orders = new Map<number, Uint32Array>();
  const checked = new Set<string>();
  const started = performance.now();
  let stepsThisRun = 0;
  let stoppedEarly = false;
  try {
    if (resume) trainer.importState(resume.optimizer);
    // The weights of one step are read back once, however many of best, checkpoint and the
    // result want them (at the last step all three do).
    let downloaded: { iteration: number; weights: Map<string, Float32Array> } | undefined;
    const weightsNow = async () => {
      if (downloaded?.iteration !== trainer.iteration) downloaded = { iteration: trainer.iteration, weights: await model.download() };
      return downloaded.weights;
    };
    let saved: TrainCheckpoint<S> | undefined;
    const state = async (): Promise<TrainCheckpoint<S>> => {
      if (saved?.optimizer.iteration === trainer.iteration) return saved;
      const [weights, optimizer] = [await weightsNow(), await trainer.exportState()];
      return (saved = { settings, weights, optimizer, losses: [...losses], validation: [...validation] });
    };
    const readLosses = async () => {
      const first = losses.length;
      const read = await trainer.readLosses();
      losses.push(...read);
      hooks.onProgress?.({ iteration: first, steps: settings.steps, losses: read, lr: trainer.iteration < settings.steps ? trainer.lrAt(trainer.iteration) : 0, seconds: (performance.now() - started) / 1000, stepsThisRun });
    };
    const validate = async () => {
      if (!data.val) return;
      const v = await evaluate(model, data.val, settings.augment, trainer.iteration, classes);
      validation.push(v);
      const isBest = v.miou > best;
      if (isBest) best = v.miou;
      await hooks.onValidation?.(v, isBest);
      if (isBest && hooks.onBest) await hooks.onBest(await weightsNow(), v, shapesOf(model));
    };

    while (trainer.iteration < settings.steps) {
      if (hooks.shouldStop?.()) {
        stoppedEarly = true;
        break;
      }
      const it = trainer.iteration;
      const perStep = settings.batch * settings.iterSize;
      const samples = await Promise.all(stepSamples(settings.seed, it, perStep, data.train.ids.length, orders).map((i) => data.train.load(data.train.ids[i]!)));
      for (const sample of samples) {
        if (!checked.has(sample.id)) {
          checkSample(sample, classes);
          checked.add(sample.id);
        }
      }
      const batches: GpuBatch[] = [];
      try {
        for (let k = 0; k < settings.iterSize; k++) {
          batches.push(await augmentBatch(gpu, samples.slice(k * settings.batch, (k + 1) * settings.batch), settings.augment, settings.seed, it * perStep + k * settings.batch));
        }
        await trainer.stepOn(settings.iterSize === 1 ? batches[0]! : batches);
      } finally {
        for (const b of batches) gpu.release(b.images, b.labels);
      }
      stepsThisRun++;
      const done = trainer.iteration;
      const atCheckpoint = done % settings.checkpointEvery === 0 || done === settings.steps;
      const atValidation = (settings.valEvery > 0 && done % settings.valEvery === 0) || done === settings.steps;
      if (done % readEvery === 0 || atCheckpoint || atValidation) await readLosses();
      if (atValidation) await validate();
      if (atCheckpoint) await hooks.onCheckpoint?.(await state(), shapesOf(model));
    }
    if (stoppedEarly) await readLosses();
    return { checkpoint: await state(), shapes: shapesOf(model), stoppedEarly };
  } finally {
    trainer.release();
    model.release();
  }
}

/** A training sample's labels match its image and hold only classes and 255 (else NaN losses would follow). */
function checkSample(s: LabeledImage, classes: number): void {
  const { width, height } = s.image;
  if (s.image.data.length !== 4 * width * height) throw new TrainRunError(`image '${s.id}': ${s.image.data.length} bytes are not ${width}×${height} RGBA`);
  if (s.labels.length !== width * height) throw new TrainRunError(`image '${s.id}': ${s.labels.length} labels for its ${width}×${height} pixels`);
  const bad = s.labels.findIndex((v) => v >= classes && v !== 255);
  if (bad >= 0) throw new TrainRunError(`${s.labelSource ?? `image '${s.id}'`}: pixel (${bad % width}, ${Math.floor(bad / width)}) is labelled ${s.labels[bad]}, neither a class (0..${classes - 1}) nor 255`);
}

/** The run's model: fresh (or the checkpoint's `weights` when resuming). */
async function createModel(gpu: Gpu, settings: TrainSettings, weights?: ReadonlyMap<string, Float32Array>): Promise<TrainableModel> {
  const m = settings.model;
  if (m.kind === 'segmenter') return SegmenterModel.create(gpu, m.config, (weights as Map<string, Float32Array> | undefined) ?? initSegmenter(m.config, settings.seed));
  if (m.kind !== 'deeplabv2') throw new TrainRunError(`unknown model kind '${String((m as { kind: unknown }).kind)}'`);
  const { model } = await DeepLabV2Trainable.load(gpu, m.init, { classes: m.classes, seed: settings.seed });
  try {
    if (model.config.classes !== m.classes) throw new TrainRunError(`${m.init} has ${model.config.classes} classes, the run ${m.classes}`);
    model.objective = m.objective;
    if (weights) model.upload(weights);
  } catch (err) {
    model.release();
    throw err;
  }
  return model;
}

/** Predicted labels [H, W] at the image's size (the network at the run's base scale). */
export async function predictLabels(model: TrainableModel, image: RgbaImage, augment: AugmentSettings): Promise<Uint8Array> {
  const gpu = model.gpu;
  const x = await validationInput(gpu, image, augment);
  const tape = new Tape(gpu, { training: false, grad: false });
  let logits: Tensor;
  try {
    const y = await model.forward(tape, tape.input(x));
    const full = y.shape[2] === image.height && y.shape[3] === image.width ? y : await tape.bilinear(y, [image.height, image.width]);
    logits = tape.keep(full);
  } finally {
    tape.dispose();
    gpu.release(x);
  }
  let classes: Tensor | undefined;
  try {
    classes = await channelArgmax(gpu, logits);
    return Uint8Array.from((await gpu.read(classes)) as Uint32Array);
  } finally {
    gpu.release(logits);
    if (classes) gpu.release(classes);
  }
}

/** mIoU (VOC protocol) of the model's predictions on every image of `set`. */
export async function evaluate(model: TrainableModel, set: ImageSet, augment: AugmentSettings, iteration: number, classes: number): Promise<ValidationRecord> {
  if (set.ids.length === 0) throw new TrainRunError('no validation images');
  const matrix = new ConfusionMatrix(classes);
  for (const id of set.ids) {
    const s = await set.load(id);
    checkSample(s, classes);
    matrix.add(s.labels, await predictLabels(model, s.image, augment), id);
  }
  const scores = computeScores(matrix);
  return { iteration, miou: scores.miou, pixelAccuracy: scores.pixelAccuracy, images: set.ids.length };
}

/** Metadata of a weights file written by a training run: what predicting with it needs. */
export function trainedMetadata(settings: TrainSettings, classNames: readonly string[]): Record<string, string> {
  return { classes: JSON.stringify(classNames), augment: JSON.stringify(settings.augment) };
}

/**
 * A run's weights as a file the inference side loads: the segmenter's own format (`seedmask
 * segment --model segmenter`), or DeepLab-v2 in deeplab-pytorch's names (`--model deeplabv2_resnet101`).
 */
export async function encodeTrainedWeights(settings: TrainSettings, weights: ReadonlyMap<string, Float32Array>, shapes: ReadonlyMap<string, readonly number[]>, metadata: Record<string, string>): Promise<Uint8Array> {
  if (settings.model.kind === 'segmenter') return saveSegmenter(settings.model.config, weights as Map<string, Float32Array>, metadata);
  const entries = [...weights].map(([name, data]) => {
    const shape = shapes.get(name);
    if (!shape) throw new TrainRunError(`no shape for '${name}'`);
    return f32Entry(name, data, shape);
  });
  return encodeSafetensors(entries, metadata);
}

/** What trainedMetadata wrote, parsed; undefined when the metadata has none of it. */
function parseTrainedMetadata(file: string, metadata: Readonly<Record<string, string>>): { classNames: string[]; augment: AugmentSettings } | undefined {
  const { classes, augment } = metadata;
  if (classes === undefined || augment === undefined) return undefined;
  try {
    return { classNames: JSON.parse(classes) as string[], augment: JSON.parse(augment) as AugmentSettings };
  } catch (err) {
    throw new TrainRunError(`${file}: training metadata is not valid JSON (${(err as Error).message})`);
  }
}

/** The class names and augmentation a training run wrote into a weights file; undefined for other files. */
export async function trainedRunMetadata(input: WeightInput): Promise<{ classNames: string[]; augment: AugmentSettings } | undefined> {
  const file = await loadWeights(input);
  try {
    return parseTrainedMetadata(file.name, file.metadata);
  } finally {
    await file.close();
  }
}

/**
 * A segmenter weights file of a training run (RUN/best.safetensors) on the GPU, with its class
 * names and the augmentation settings whose base scale and normalisation prediction uses.
 */
export async function loadTrainedSegmenter(gpu: Gpu, input: WeightInput): Promise<{ /** On the GPU. */ model: SegmenterModel; /** One per class, background first. */ classNames: string[]; /** The run's augmentation settings. */ augment: AugmentSettings }> {
  const { config, weights, metadata } = await loadSegmenter(input);
  const name = typeof input === 'string' ? input : 'the weights';
  const meta = parseTrainedMetadata(name, metadata);
  if (!meta) throw new SegmenterError(`${name}: no class names or augmentation settings in the metadata (not written by seedmask train?)`);
  const { classNames, augment } = meta;
  if (!Array.isArray(classNames) || classNames.length !== config.classes) throw new SegmenterError(`${name}: no class names for its ${config.classes} classes in the metadata (not written by seedmask train?)`);
  if (!augment || typeof augment !== 'object') throw new SegmenterError(`${name}: no augmentation settings in the metadata (not written by seedmask train?)`);
  return { model: SegmenterModel.create(gpu, config, weights), classNames, augment };
}
