// The app's worker: owns the GPU, the model, the pipeline, every output file, the seed masks of
// the runs and the training of a segmenter on them. The page stays responsive because nothing
// heavy runs on its thread.
import { zipSync } from 'fflate';
import {
  BUILTIN_LABELSETS,
  CAM_SOURCES,
  ClipModel,
  ClipTokenizer,
  DEEPLAB_SCALES,
  decodeImage,
  decodeSeedImage,
  decodeLabelPng,
  encodeTrainedWeights,
  Gpu,
  parseLabels,
  parseLabelSet,
  SeedPipeline,
  train,
  trainedMetadata,
  type ByteSource,
  type ImageSet,
  type LabeledImage,
  type LabelSet,
  type RgbaImage,
  type TrainSettings,
} from '../src/browser.js';
import { WORLD_TRAIN_RECIPE } from '../src/train/world-recipe.js';
import { BlobSource } from '../src/weights/source.js';
import { worldLabelSetJson } from '../src/world/labelset.js';
import { maskClassNames } from '../src/wsss/labelset.js';
import { seedFiles } from '../src/wsss/seed-files.js';
import type { FromWorker, RunItem, ToWorker, TrainFile, TrainRequest, WeightSource } from './protocol.js';

const post = (message: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(message, transfer);
const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

let gpu: Gpu | undefined;
let model: ClipModel | undefined;
let pipeline: SeedPipeline | undefined;
let labelSet: LabelSet = BUILTIN_LABELSETS.voc!;
/** Cancels the run in progress: the image being computed is abandoned at its next step. */
let cancel = new AbortController();
/** The page's folder URL: world-clip/ and clip/ are served beside it. */
let base = self.location.href;
/** Output files of every image finished since the page opened, for the zip: path → bytes. */
const outputs = new Map<string, Uint8Array>();

const WEIGHT_FILE = /\.(safetensors|pt|pth|bin)$/i;
const CACHE_DIR = 'seedmask-weights';

async function openGpu(): Promise<Gpu> {
  if (gpu && !gpu.lost) return gpu;
  if (gpu?.lost) {
    // A lost device (driver reset, the browser reclaiming the GPU) holds nothing usable: start over.
    model = undefined;
    pipeline = undefined;
    gpu = undefined;
  }
  if (!('gpu' in navigator) || !navigator.gpu) {
    throw new Error('this browser has no WebGPU. Use a current Chrome or Edge (or Firefox/Safari with WebGPU enabled); on Linux Chrome needs chrome://flags/#enable-unsafe-webgpu');
  }
  try {
    gpu = await Gpu.open();
  } catch (err) {
    throw new Error(`no WebGPU adapter (${messageOf(err)}). Check that hardware acceleration is on in the browser's settings, or try another browser`);
  }
  return gpu;
}

/** A Blob as a ByteSource that reports how much of it has been read (the progress bar while loading). */
function countingSource(blob: Blob, name: string): ByteSource {
  const source = new BlobSource(blob, name);
  let read = 0;
  let last = 0;
  return {
    name,
    size: source.size,
    async readInto(offset, target) {
      await source.readInto(offset, target);
      read += target.byteLength;
      if (read - last > blob.size / 100 || read === blob.size) {
        last = read;
        post({ type: 'progress', phase: `reading ${name}`, done: read, total: blob.size });
      }
    },
    close: () => source.close(),
  };
}

interface WeightFiles {
  weights: File;
  config?: File;
  vocab?: File;
  merges?: File;
  bpe?: File;
}

function pickWeightFiles(files: File[]): WeightFiles {
  const byName = (n: string) => files.find((f) => f.name === n);
  const candidates = files.filter((f) => WEIGHT_FILE.test(f.name));
  const weights = byName('model.safetensors') ?? byName('pytorch_model.bin') ?? (candidates.length === 1 ? candidates[0] : undefined);
  if (!weights) {
    const names = files.map((f) => f.name).join(', ') || 'nothing';
    throw new Error(candidates.length > 1 ? `several weight files (${candidates.map((f) => f.name).join(', ')}): pick one` : `no weight file among ${names} (expected .pt, .pth, .safetensors, or a Hugging Face folder with model.safetensors)`);
  }
  return { weights, config: byName('config.json'), vocab: byName('vocab.json'), merges: byName('merges.txt'), bpe: byName('bpe_simple_vocab_16e6.txt.gz') };
}

async function worldFiles(): Promise<WeightFiles> {
  const get = async (name: string) => {
    const response = await fetch(new URL(`world-clip/${name}`, base));
    if (!response.ok) throw new Error(`world-clip/${name}: HTTP ${response.status}`);
    return new File([await response.blob()], name);
  };
  const [weights, config, vocab, merges] = await Promise.all(['model.safetensors', 'config.json', 'vocab.json', 'merges.txt'].map(get));
  return { weights: weights!, config, vocab, merges };
}

async function bundledVocabulary(): Promise<File> {
  const response = await fetch(new URL('clip/bpe_simple_vocab_16e6.txt.gz', base));
  if (!response.ok) throw new Error(`the bundled CLIP vocabulary: HTTP ${response.status}`);
  return new File([await response.blob()], 'bpe_simple_vocab_16e6.txt.gz');
}

/** The weights last loaded, kept to load them again on a new device after the GPU device is lost. */
let loaded: { files: WeightFiles; from: 'world' | 'files' | 'cache' } | undefined;

async function loadModel(files: WeightFiles, from: 'world' | 'files' | 'cache'): Promise<void> {
  const start = performance.now();
  const g = await openGpu();
  const bytes = async (f: File) => new Uint8Array(await f.arrayBuffer());
  let tokenizer: ClipTokenizer;
  if (files.vocab && files.merges) tokenizer = ClipTokenizer.fromHuggingFace(await bytes(files.vocab), await bytes(files.merges));
  else tokenizer = ClipTokenizer.fromOpenAiBpe(await bytes(files.bpe ?? (await bundledVocabulary())));
  const config = files.config ? (JSON.parse(await files.config.text()) as Record<string, unknown>) : undefined;
  const next = await ClipModel.load(g, countingSource(files.weights, files.weights.name), { tokenizer, ...(config ? { config } : {}) });
  post({ type: 'progress', phase: 'encoding the label set' });
  const nextPipeline = new SeedPipeline(next);
  // A model on a lost device cannot be destroyed any more than it can compute: it is dropped.
  if (model && !model.gpu.lost) await model.destroy();
  model = next;
  pipeline = nextPipeline;
  loaded = { files, from };
  post({ type: 'weights-ready', name: files.weights.name, from, ms: performance.now() - start, bytes: files.weights.size });
}

/** Errors that say what is wrong with an input or a request, never with the device. */
const INPUT_ERRORS = new Set(['IoError', 'LabelSetError', 'SeedError', 'ImageRefusal', 'DecoderUnavailable', 'AbortError']);

/**
 * Whether the GPU device is lost. The error that reports a loss can arrive before the device's
 * `lost` promise settles, so after any other error this waits for it up to a second.
 */
async function deviceLost(err: unknown): Promise<boolean> {
  if (!gpu) return false;
  if (gpu.lost) return true;
  if (err instanceof Error && INPUT_ERRORS.has(err.name)) return false;
  await Promise.race([gpu.device.lost, new Promise((resolve) => setTimeout(resolve, 1000))]);
  return gpu.lost;
}

/** A new device and the same weights on it, after the old device was lost; the pipeline to go on with. */
async function recoverDevice(): Promise<SeedPipeline> {
  if (!loaded) throw new Error('the GPU device was lost and no weights were loaded: load weights again');
  const start = performance.now();
  post({ type: 'progress', phase: 'the GPU device was lost: opening a new one and loading the weights again' });
  try {
    await loadModel(loaded.files, loaded.from);
  } catch (err) {
    throw new Error(`the GPU device was lost and a new one could not be set up: ${messageOf(err)}`, { cause: err });
  }
  post({ type: 'device-restored', ms: performance.now() - start });
  return pipeline!;
}

/** The picked weights go to the origin-private file system, so that a reload does not ask again. */
async function cacheWeights(files: WeightFiles): Promise<void> {
  const root = await navigator.storage.getDirectory();
  await root.removeEntry(CACHE_DIR, { recursive: true }).catch(() => undefined);
  const dir = await root.getDirectoryHandle(CACHE_DIR, { create: true });
  const list = [files.weights, files.config, files.vocab, files.merges, files.bpe].filter((f): f is File => f !== undefined);
  for (const file of list) {
    const writable = await (await dir.getFileHandle(file.name, { create: true })).createWritable();
    await writable.write(file);
    await writable.close();
  }
  // The manifest last: a cache without it is incomplete and ignored.
  const writable = await (await dir.getFileHandle('manifest.json', { create: true })).createWritable();
  await writable.write(JSON.stringify({ files: list.map((f) => f.name) }));
  await writable.close();
}

async function cachedWeights(): Promise<WeightFiles | undefined> {
  try {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(CACHE_DIR);
    const manifest = JSON.parse(await (await (await dir.getFileHandle('manifest.json')).getFile()).text()) as { files: string[] };
    const files = await Promise.all(manifest.files.map(async (n) => (await dir.getFileHandle(n)).getFile()));
    return pickWeightFiles(files);
  } catch {
    return undefined;
  }
}

async function loadWeights(source: WeightSource): Promise<void> {
  const files = source.kind === 'world' ? await worldFiles() : pickWeightFiles(source.files);
  await loadModel(files, source.kind);
  if (source.kind === 'files') {
    await cacheWeights(files).then(
      () => post({ type: 'weights-cached' }),
      (err: unknown) => post({ type: 'progress', phase: `ready, but not cached for the next visit: ${messageOf(err)}` }),
    );
  }
}

async function setLabelSet(name: string, file?: File): Promise<void> {
  if (name === 'file') {
    if (!file) throw new Error('no label-set file given');
    let json: unknown;
    try {
      json = JSON.parse(await file.text());
    } catch (err) {
      throw new Error(`${file.name}: not JSON (${messageOf(err)})`);
    }
    labelSet = parseLabelSet(json, file.name);
  } else if (name === 'world') labelSet = parseLabelSet(worldLabelSetJson(), 'world');
  else labelSet = BUILTIN_LABELSETS[name]!;
  post({ type: 'label-set-ready', name: labelSet.name, classes: labelSet.classes.map((c) => c.name) });
}

async function exists(dir: FileSystemDirectoryHandle, path: string): Promise<boolean> {
  try {
    await dir.getFileHandle(path);
    return true;
  } catch {
    return false;
  }
}

async function writeInto(dir: FileSystemDirectoryHandle, path: string, bytes: Uint8Array): Promise<void> {
  const parts = path.split('/');
  let folder = dir;
  for (const part of parts.slice(0, -1)) folder = await folder.getDirectoryHandle(part, { create: true });
  const writable = await (await folder.getFileHandle(parts.at(-1)!, { create: true })).createWritable();
  await writable.write(bytes as Uint8Array<ArrayBuffer>);
  await writable.close();
}

async function labelsOf(item: RunItem, labelSet: LabelSet): Promise<number[]> {
  if (item.mask) {
    const mask = decodeLabelPng(new Uint8Array(await item.mask.arrayBuffer()), item.mask.name);
    const ids = [...new Set(mask.data)].filter((v) => v !== 0 && v !== 255).sort((a, b) => a - b);
    for (const id of ids) if (id > labelSet.classes.length) throw new Error(`${item.mask.name}: class id ${id} is not in label set '${labelSet.name}'`);
    return ids.map((id) => id - 1);
  }
  return parseLabels(item.labels ?? '', labelSet);
}

/** Whether a seeds run or a training is in progress: weights and label set stay as they are until it ends. */
let running = false;

async function run(items: RunItem[], camSourceName: string, output?: FileSystemDirectoryHandle): Promise<void> {
  if (!pipeline) throw new Error('load weights first');
  const camSource = CAM_SOURCES.find((c) => c.name === camSourceName)?.name;
  if (!camSource) throw new Error(`unknown CAM source '${camSourceName}' (${CAM_SOURCES.map((c) => c.name).join(', ')})`);
  const runLabelSet = labelSet;
  cancel = new AbortController();
  const signal = cancel.signal;
  const start = performance.now();
  let done = 0;
  let skipped = 0;
  let failed = 0;
  let deviceLosses = 0;
  /** Set when the device was lost and could not be replaced: the run ends there. */
  let fatal: string | undefined;
  /** A new device and model after a loss; false (and `fatal` set) when that fails. */
  const recover = async (): Promise<boolean> => {
    deviceLosses++;
    try {
      runPipeline = await recoverDevice();
      return true;
    } catch (err) {
      fatal = messageOf(err);
      return false;
    }
  };
  let runPipeline = pipeline;
  // A device lost since the last run (a driver reset, the browser taking the GPU back) is replaced first.
  if (gpu?.lost && !(await recover())) items = [];
  for (const item of items) {
    if (signal.aborted || fatal) break;
    const name = item.name.replace(/\.[^.]*$/, '');
    if (output && (await exists(output, `${name}.png`))) {
      skipped++;
      seedRecords.set(item.id, { item, missing: `skipped: ${name}.png was already in the output folder` });
      post({ type: 'image-skipped', id: item.id, name: item.name, reason: `${name}.png is already in the output folder` });
      continue;
    }
    // An image under which the device is lost is tried once more on a new device.
    for (let attempt = 0; ; attempt++) {
      try {
        const t0 = performance.now();
        const { image, crfImage } = await decodeSeedImage(new Uint8Array(await item.file.arrayBuffer()), item.name);
        const labels = await labelsOf(item, runLabelSet);
        if (labels.length === 0) {
          skipped++;
          seedRecords.set(item.id, { item, missing: 'skipped: no labels' });
          post({ type: 'image-skipped', id: item.id, name: item.name, reason: 'no labels' });
          break;
        }
        const decodeMs = performance.now() - t0;
        const result = await runPipeline.run(image, labels, { labelSet: runLabelSet, stages: ['cam', 'caa', 'crf'], camSource, signal, stageTimes: true, read: ['cams'], ...(crfImage ? { crfPixels: crfImage } : {}) });
        // A cancel that arrived after the last step still abandons the image: nothing of it is kept or written.
        if (signal.aborted) break;
        const t1 = performance.now();
        const files = seedFiles(name, image, result, runLabelSet);
        for (const f of files) outputs.set(f.path, f.bytes);
        if (output) for (const f of files) await writeInto(output, f.path, f.bytes);
        done++;
        seedRecords.set(item.id, { item, seeds: { data: result.seeds, labelSet: runLabelSet } });
        post(
          {
            type: 'image-done',
            result: {
              id: item.id,
              name: item.name,
              width: result.width,
              height: result.height,
              rgba: image.data,
              stages: result.stages,
              probabilities: result.labels.map((c, k) => [runLabelSet.classes[c]!.name, result.probs[k]!]),
              timings: { decode: decodeMs, ...result.timings, files: performance.now() - t1 },
            },
          },
          [image.data.buffer],
        );
        break;
      } catch (err) {
        if (signal.aborted) break;
        const lost = await deviceLost(err);
        // Every loss is replaced at once (so that the next image, or the next run, has a device);
        // the image itself gets one retry.
        if (lost && !(await recover())) {
          failed++;
          seedRecords.set(item.id, { item, missing: `its seeds failed: ${fatal!}` });
          post({ type: 'image-failed', id: item.id, name: item.name, message: fatal! });
          break;
        }
        if (lost && attempt === 0) continue;
        failed++;
        seedRecords.set(item.id, { item, missing: `its seeds failed: ${messageOf(err)}` });
        post({ type: 'image-failed', id: item.id, name: item.name, message: messageOf(err) });
        break;
      }
    }
  }
  post({ type: 'run-done', done, skipped, failed, deviceLosses, cancelled: signal.aborted, ms: performance.now() - start, ...(fatal ? { error: fatal } : {}) });
}

// ---- training

/** What a seeds run left of each image it reached, by queue id: the seed mask, or why there is none. */
interface SeedRecord {
  item: RunItem;
  /** The seed mask (0 background, class + 1, 255 ignore) and the label set it was made with. */
  seeds?: { data: Uint8Array; labelSet: LabelSet };
  /** Why the image has no seed mask. */
  missing?: string;
}
const seedRecords = new Map<number, SeedRecord>();

/** Cancels the training in progress after its current step. */
let stopTraining = false;

/** Decoded photos are kept for the steps that draw them again while they fit in this many bytes (a world does; a VOC split does not). */
const DECODED_CACHE_BYTES = 512 * 2 ** 20;

/** Decodes each photo as `seedmask train` reads it (PIL's pixels), once while the cache has room. */
class DecodedPhotos {
  private readonly cache = new Map<File, RgbaImage>();
  private bytes = 0;

  async get(file: File, name: string): Promise<RgbaImage> {
    const have = this.cache.get(file);
    if (have) return have;
    const image = await decodeImage(new Uint8Array(await file.arrayBuffer()), name);
    if (this.bytes + image.data.byteLength <= DECODED_CACHE_BYTES) {
      this.cache.set(file, image);
      this.bytes += image.data.byteLength;
    }
    return image;
  }
}

/** An ImageSet over images of the runs, by file name (sorted, so that the data order does not depend on the order they were added in). */
function runImageSet(byName: Map<string, SeedRecord>, labelsOf: (record: SeedRecord, image: RgbaImage) => Promise<LabeledImage>, photos: DecodedPhotos): ImageSet {
  return {
    ids: [...byName.keys()].sort(),
    async load(id) {
      const record = byName.get(id)!;
      return labelsOf(record, await photos.get(record.item.file, record.item.name));
    },
  };
}

function positiveInteger(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${value}`);
}

/** The run's settings: the page's, and the rest as `seedmask train` sets them with the world recipe (src/train/world-recipe.ts; see TrainRequest). */
function trainSettings(r: TrainRequest, classes: number): TrainSettings {
  positiveInteger(r.steps, 'steps');
  positiveInteger(r.batch, 'batch');
  positiveInteger(r.crop, 'crop');
  if (r.baseSize !== undefined) positiveInteger(r.baseSize, 'base size');
  if (!Number.isInteger(r.valEvery) || r.valEvery < 0) throw new Error(`validate every must be 0 (only after the last step) or a positive integer, got ${r.valEvery}`);
  if (!(r.lr > 0 && Number.isFinite(r.lr))) throw new Error(`learning rate must be a positive number, got ${r.lr}`);
  return {
    model: { kind: 'segmenter', config: { classes, widths: [...WORLD_TRAIN_RECIPE.widths] } },
    seed: r.seed,
    steps: r.steps,
    batch: r.batch,
    // The key order of `seedmask train`'s settings: the weights files' metadata carries this JSON.
    augment: { crop: [r.crop, r.crop], ...(r.baseSize === undefined ? {} : { baseSize: r.baseSize }), scale: { choice: [...DEEPLAB_SCALES] }, flip: true, normalization: 'imagenet' },
    optimizer: { kind: 'sgd', lr: r.lr, momentum: 0.9, weightDecay: 5e-4 },
    power: 0.9,
    headLrMult: WORLD_TRAIN_RECIPE.headLrMult,
    biasLrMult: WORLD_TRAIN_RECIPE.headLrMult,
    lrDecayEvery: 1,
    iterSize: 1,
    valEvery: r.valEvery,
    // No checkpoint is kept in the page; the interval changes nothing of the weights or the losses.
    checkpointEvery: 100,
  };
}

/** A device for training: the current one, or, after a loss, a new one with the CLIP weights loaded again (the next seeds run needs them). */
async function trainingGpu(): Promise<Gpu> {
  if (gpu && !gpu.lost) return gpu;
  if (loaded) await recoverDevice();
  return openGpu();
}

async function trainSegmenter(items: { id: number; name: string }[], request: TrainRequest): Promise<void> {
  const start = performance.now();
  stopTraining = false;
  // The queue's images with a seed mask, by name; a later image of the same name replaces an
  // earlier one, as it does in the zip.
  const byName = new Map<string, SeedRecord>();
  const leftOut: { name: string; reason: string }[] = [];
  for (const { id, name } of items) {
    const record = seedRecords.get(id);
    if (!record?.seeds) {
      leftOut.push({ name, reason: record?.missing ?? 'no seed mask: its seeds have not been made yet' });
      continue;
    }
    const earlier = byName.get(name);
    if (earlier) leftOut.push({ name, reason: 'replaced by a later image of the same name' });
    byName.set(name, record);
  }
  if (byName.size === 0) {
    const why = leftOut.length ? `: ${leftOut.map((l) => `${l.name} (${l.reason})`).join('; ')}` : '';
    throw new Error(`no image has a seed mask${why}. Make seeds first`);
  }
  const records = [...byName.values()];
  const runLabelSet = records[0]!.seeds!.labelSet;
  const other = records.find((r) => r.seeds!.labelSet !== runLabelSet);
  if (other) {
    throw new Error(`${records[0]!.item.name}'s seeds were made with label set '${runLabelSet.name}', ${other.item.name}'s with '${other.seeds!.labelSet.name}': training needs one label set (make the seeds again with one)`);
  }
  const classNames = maskClassNames(runLabelSet);
  const settings = trainSettings(request, classNames.length);
  const photos = new DecodedPhotos();
  const trainSet = runImageSet(byName, async (r, image) => ({ id: r.item.name, image, labels: r.seeds!.data, labelSource: `the seed mask of ${r.item.name}` }), photos);
  const withMask = new Map([...byName].filter(([, r]) => r.item.mask !== undefined));
  const masks = new Map<File, Uint8Array>();
  const valSet = runImageSet(
    withMask,
    async (r, image) => {
      const file = r.item.mask!;
      const source = file.webkitRelativePath || file.name;
      let labels = masks.get(file);
      if (!labels) {
        const mask = decodeLabelPng(new Uint8Array(await file.arrayBuffer()), source);
        if (mask.width !== image.width || mask.height !== image.height) throw new Error(`${source}: the mask is ${mask.width}×${mask.height}, its image ${r.item.name} ${image.width}×${image.height}`);
        masks.set(file, (labels = mask.data));
      }
      return { id: r.item.name, image, labels, labelSource: source };
    },
    photos,
  );
  post({ type: 'train-started', images: byName.size, validation: withMask.size, leftOut, steps: settings.steps, batch: settings.batch });

  const g = await trainingGpu();
  // The seeds run's recorded CRF would sit idle beside the training's tensors.
  pipeline?.releaseCaches();
  const encode = async (weights: Map<string, Float32Array>, shapes: ReadonlyMap<string, readonly number[]>, meta: Record<string, string>): Promise<Blob> => {
    const bytes = await encodeTrainedWeights(settings, weights, shapes, { ...meta, labelset: runLabelSet.name, ...trainedMetadata(settings, classNames) });
    return new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' });
  };
  let best: TrainFile | undefined;
  let lastStep = 0;
  let result: Awaited<ReturnType<typeof train>>;
  try {
    result = await train(
      g,
      { train: trainSet, ...(withMask.size ? { val: valSet } : {}) },
      settings,
      {
        // Every step's loss, so that the page's line and chart move with each step.
        readEvery: 1,
        onProgress: (p) => {
          lastStep = p.iteration + p.losses.length;
          post({ type: 'train-progress', first: p.iteration, losses: p.losses, steps: p.steps, lr: p.lr, seconds: p.seconds, stepsDone: p.stepsThisRun });
        },
        onValidation: (v, isBest) => {
          // A best validation goes to the page with its weights file, from onBest (called next).
          if (!isBest) post({ type: 'train-validation', iteration: v.iteration, miou: v.miou, pixelAccuracy: v.pixelAccuracy, images: v.images, best: false });
        },
        onBest: async (weights, v, shapes) => {
          best = { name: 'best.safetensors', blob: await encode(weights, shapes, { step: String(v.iteration), miou: String(v.miou) }) };
          post({ type: 'train-validation', iteration: v.iteration, miou: v.miou, pixelAccuracy: v.pixelAccuracy, images: v.images, best: true, file: best });
        },
        shouldStop: () => stopTraining,
      },
    );
  } catch (err) {
    if (await deviceLost(err)) throw new Error(`the GPU device was lost during training, after step ${lastStep}: train again (a new device is opened then)`, { cause: err });
    throw err;
  }
  const c = result.checkpoint;
  const files: TrainFile[] = best ? [best] : [];
  files.push({ name: 'last.safetensors', blob: await encode(c.weights, result.shapes, { step: String(c.optimizer.iteration) }) });
  // curve.json as `seedmask train` writes it.
  files.push({ name: 'curve.json', blob: new Blob([`${JSON.stringify({ steps: settings.steps, losses: c.losses, validation: c.validation }, null, 1)}\n`], { type: 'application/json' }) });
  post({ type: 'train-done', steps: c.optimizer.iteration, cancelled: result.stoppedEarly, ms: performance.now() - start, files });
}

function zip(): void {
  const tree: Record<string, Uint8Array> = {};
  for (const [path, bytes] of outputs) tree[path] = bytes;
  // Level 0: PNG and .npy bytes are stored as they are; zipping stays fast for hundreds of images.
  const bytes = zipSync(tree, { level: 0 });
  post({ type: 'zip', blob: new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/zip' }), files: outputs.size });
}

post({ type: 'cam-sources', sources: CAM_SOURCES.map((c) => ({ name: c.name, label: c.label, description: c.description })) });

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const m = event.data;
  const fail = (scope: 'weights' | 'label-set' | 'run' | 'gpu' | 'train') => (err: unknown) => post({ type: 'error', scope, message: messageOf(err) });
  switch (m.type) {
    case 'restore':
      base = m.base;
      void cachedWeights()
        .then((files) => (files ? loadModel(files, 'cache') : post({ type: 'no-cache' })))
        .catch(fail('weights'));
      break;
    case 'load-weights':
      if (running) fail('weights')(new Error('a run is in progress: cancel it or let it finish first'));
      else void loadWeights(m.source).catch(fail('weights'));
      break;
    case 'label-set':
      if (running) fail('label-set')(new Error('a run is in progress: the label set changes after it'));
      else void setLabelSet(m.name, m.file).catch(fail('label-set'));
      break;
    case 'run':
      if (running) break;
      running = true;
      void run(m.items, m.camSource, m.output)
        .catch(fail('run'))
        .finally(() => (running = false));
      break;
    case 'cancel':
      cancel.abort();
      break;
    case 'zip':
      zip();
      break;
    case 'train':
      if (running) break;
      running = true;
      void trainSegmenter(m.items, m.settings)
        .catch(fail('train'))
        .finally(() => (running = false));
      break;
    case 'train-cancel':
      stopTraining = true;
      break;
  }
};
