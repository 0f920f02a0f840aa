// `seedmask train --dataset ROOT --seeds DIR -o RUN` trains a segmentation network on seed masks
// (what `seedmask seeds` wrote for the training split) and validates it on the dataset's ground
// truth. RUN holds:
//   checkpoint.safetensors  weights + optimizer state + the curve: a killed run resumes from it
//   best.safetensors        the weights of the best validation (a segmenter file: `seedmask segment`)
//   last.safetensors        the weights after the last step
//   curve.json              every step's loss and every validation
//   report.html             loss and validation mIoU curves
// Every file is written atomically. Running the same command again resumes where the run stopped;
// a RUN whose checkpoint has other settings is refused (the message names them).
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { escapeHtml, lineChart } from '../eval/charts.js';
import { Gpu } from '../gpu/context.js';
import { writeFileAtomic } from '../io/atomic.js';
import { IoError, messageOf } from '../io/errors.js';
import { readImage, readLabelMap } from '../io/files.js';
import { readSplitList, vocLayout } from '../io/voc.js';
import { CheckpointError, encodeCheckpoint, loadCheckpoint, type TrainCheckpoint, type ValidationRecord } from '../train/checkpoint.js';
import type { AugmentSettings } from '../train/batches.js';
import { DEEPLAB_SCALES } from '../train/augment.js';
import { encodeTrainedWeights, settingDifferences, train, trainedMetadata, TrainRunError, type ImageSet, type LabeledImage, type TrainSettings } from '../train/run.js';
import { SegmenterError } from '../train/segmenter.js';
import { DeepLabError } from '../models/deeplab/common.js';
import { TrainerError } from '../train/trainer.js';
import { WeightFileError } from '../weights/errors.js';
import { LabelSetError, loadLabelSet, maskClassNames } from '../wsss/labelset.js';
import { integerOption, numberOption, parseArgs, positiveList, requiredOption, UsageError, type ParsedArgs } from './args.js';
import { progressWriter, renderBar } from './progress.js';

const USAGE = `usage:
  seedmask train --dataset ROOT --seeds DIR -o RUN [options]
      Trains a segmentation network on the seed masks of ROOT's training split (DIR/seeds/<id>.png
      or DIR/<id>.png, as \`seedmask seeds --dataset ROOT --split train -o DIR\` writes them; 255 is
      ignored) and scores it on the validation split's ground truth (ROOT/SegmentationClass).
      Running the same command again resumes from RUN/checkpoint.safetensors.

options:
  --labelset S          'voc' (default), 'coco' or a label-set JSON file: the classes
  --model M             segmenter (default): a small ResNet-like network trained from scratch;
                        deeplabv2_resnet101: deeplab-pytorch's DeepLab-v2 from --init, with its
                        VOC recipe as defaults (SGD lr 2.5e-4, batch 5 × iter-size 2, 20000 steps,
                        lr ×10 ASPP weights, ×20 ASPP biases, poly every 10 steps, caffe-bgr, MSC loss)
  --init FILE           deeplabv2: a deeplab-pytorch checkpoint (whole DeepLabV2, or a COCO/ImageNet
                        backbone such as deeplabv1_resnet101-coco.pth with a fresh ASPP)
  --objective O         deeplabv2: msc (default: the four MSC outputs) | lowres | full
  --widths LIST         segmenter channels per stage (default 16,32,64)
  --steps N             training steps (default 2000)
  --batch N             images per step (default 8)
  --crop H[,W]          training crop (default 321)
  --base-size N         first set every image's longer side to N, training and validation
                        (default: images as they are)
  --scales LIST         random scale per sample, one of the list (default 0.5,0.75,1,1.25,1.5)
  --scale-range LO,HI   or a uniform draw from [LO, HI)
  --no-flip             no random horizontal flips
  --normalization N     imagenet (default: RGB/255, ImageNet mean and std) | caffe-bgr
  --optimizer O         sgd (default: momentum 0.9, the poly schedule) | adamw
  --lr X                base learning rate (default 0.01 for sgd, 0.001 for adamw)
  --weight-decay X      on convolution and classifier weights (default 5e-4 sgd, 1e-2 adamw)
  --power X             poly power (default 0.9; 0: constant learning rate)
  --head-lr-mult X      learning-rate multiplier of the classifier (default 10)
  --bias-lr-mult X      of the classifier's biases (default: --head-lr-mult; deeplabv2 20)
  --lr-decay-every N    recompute the poly rate every N steps (default 1; deeplabv2 10)
  --iter-size N         sub-batches per step, gradients summed (default 1; deeplabv2 2)
  --seed N              initial weights, data order and augmentation (default 1)
  --split S             training split (default train); --val-split S (default val, 'none': skip)
  --limit N             use the first N training images; --val-limit N likewise
  --val-every N         validate every N steps (default 500; always after the last)
  --checkpoint-every N  checkpoint every N steps (default 100; always after the last)
`;

export const DEFAULT_STEPS = 2000;

/** The settings of a command-line run: TrainSettings plus what identifies its data. */
interface RunSettings extends TrainSettings {
  data: { train: number; trainIds: string; val: number; valIds: string; classes: string[] };
}

/** FNV-1a (64-bit) of the ids in order, hex: equal lists, equal hashes. */
function idsHash(ids: readonly string[]): string {
  let h = 0xcbf29ce484222325n;
  for (const ch of Buffer.from(ids.join('\n'), 'utf8')) h = BigInt.asUintN(64, (h ^ BigInt(ch)) * 0x100000001b3n);
  return h.toString(16).padStart(16, '0');
}

/** The settings a command line asks for (the classes come from the label set). */
export function settingsFromArgs(args: ParsedArgs, classes: number): TrainSettings {
  const model = args.values.get('--model') ?? 'segmenter';
  if (model !== 'segmenter' && model !== 'deeplabv2_resnet101') throw new UsageError(`--model must be segmenter or deeplabv2_resnet101, got '${model}'`);
  // DeepLab-v2's defaults are deeplab-pytorch's VOC recipe (configs/voc12.yaml).
  const v2 = model === 'deeplabv2_resnet101';
  if (v2 && args.values.has('--widths')) throw new UsageError('--widths applies to the segmenter only');
  if (!v2 && (args.values.has('--init') || args.values.has('--objective'))) throw new UsageError('--init and --objective apply to deeplabv2_resnet101 only');
  const init = args.values.get('--init');
  if (v2 && init === undefined) throw new UsageError('deeplabv2_resnet101 needs --init: a deeplab-pytorch checkpoint (a whole DeepLabV2, or a COCO/ImageNet backbone)');
  const objective = args.values.get('--objective') ?? 'msc';
  if (objective !== 'msc' && objective !== 'lowres' && objective !== 'full') throw new UsageError(`--objective must be msc, lowres or full, got '${objective}'`);
  const widths = args.values.has('--widths') ? positiveList(args.values.get('--widths')!, '--widths', true) : [16, 32, 64];
  const crop = args.values.has('--crop') ? positiveList(args.values.get('--crop')!, '--crop', true) : [321];
  if (crop.length > 2) throw new UsageError(`--crop takes H or H,W, got '${args.values.get('--crop')}'`);
  const baseSize = args.values.has('--base-size') ? integerOption(args, '--base-size', 0) : undefined;
  if (baseSize === 0) throw new UsageError('--base-size must be a positive integer');
  if (args.values.has('--scales') && args.values.has('--scale-range')) throw new UsageError('give --scales or --scale-range, not both');
  let scale: AugmentSettings['scale'] = { choice: [...DEEPLAB_SCALES] };
  if (args.values.has('--scales')) scale = { choice: positiveList(args.values.get('--scales')!, '--scales', false) };
  if (args.values.has('--scale-range')) {
    const r = positiveList(args.values.get('--scale-range')!, '--scale-range', false);
    if (r.length !== 2 || r[0]! > r[1]!) throw new UsageError(`--scale-range takes LO,HI with LO ≤ HI, got '${args.values.get('--scale-range')}'`);
    scale = { range: [r[0]!, r[1]!] };
  }
  const normalization = args.values.get('--normalization') ?? (v2 ? 'caffe-bgr' : 'imagenet');
  if (normalization !== 'imagenet' && normalization !== 'caffe-bgr') throw new UsageError(`--normalization must be imagenet or caffe-bgr, got '${normalization}'`);
  const kind = args.values.get('--optimizer') ?? 'sgd';
  if (kind !== 'sgd' && kind !== 'adamw') throw new UsageError(`--optimizer must be sgd or adamw, got '${kind}'`);
  const lr = numberOption(args, '--lr') ?? (v2 ? 2.5e-4 : kind === 'sgd' ? 0.01 : 0.001);
  if (!(lr > 0)) throw new UsageError(`--lr must be positive, got ${lr}`);
  const weightDecay = numberOption(args, '--weight-decay') ?? (kind === 'sgd' ? 5e-4 : 1e-2);
  if (!(weightDecay >= 0)) throw new UsageError(`--weight-decay must be non-negative, got ${weightDecay}`);
  const power = numberOption(args, '--power') ?? 0.9;
  if (!(power >= 0)) throw new UsageError(`--power must be non-negative, got ${power}`);
  const headLrMult = numberOption(args, '--head-lr-mult') ?? 10;
  if (!(headLrMult > 0)) throw new UsageError(`--head-lr-mult must be positive, got ${headLrMult}`);
  const biasLrMult = numberOption(args, '--bias-lr-mult') ?? (v2 ? 20 : headLrMult);
  if (!(biasLrMult > 0)) throw new UsageError(`--bias-lr-mult must be positive, got ${biasLrMult}`);
  const positive = (name: string, fallback: number) => {
    const v = integerOption(args, name, fallback);
    if (v < 1) throw new UsageError(`${name} must be a positive integer`);
    return v;
  };
  const augment: AugmentSettings = {
    crop: [crop[0]!, crop[1] ?? crop[0]!],
    ...(baseSize === undefined ? {} : { baseSize }),
    scale,
    flip: !args.flags.has('--no-flip'),
    normalization,
  };
  return {
    model: v2 ? { kind: 'deeplabv2', init: resolve(init!), classes, objective } : { kind: 'segmenter', config: { classes, widths } },
    seed: integerOption(args, '--seed', 1),
    steps: positive('--steps', v2 ? 20000 : DEFAULT_STEPS),
    batch: positive('--batch', v2 ? 5 : 8),
    augment,
    optimizer: kind === 'sgd' ? { kind, lr, momentum: 0.9, weightDecay } : { kind, lr, weightDecay },
    power,
    headLrMult,
    biasLrMult,
    lrDecayEvery: positive('--lr-decay-every', v2 ? 10 : 1),
    iterSize: positive('--iter-size', v2 ? 2 : 1),
    valEvery: integerOption(args, '--val-every', 500),
    checkpointEvery: positive('--checkpoint-every', 100),
  };
}

/** Decoded images kept in memory, up to this many bytes (a world fits; VOC's 10,582 would not). */
const CACHE_BYTES = 1 << 30;

/** Images with their label maps from files, decoded once while they fit in CACHE_BYTES. */
class FileImageSet implements ImageSet {
  private readonly cache = new Map<string, LabeledImage>();
  private cached = 0;
  constructor(
    readonly ids: readonly string[],
    private readonly imagePath: (id: string) => string,
    private readonly labelPath: (id: string) => string,
  ) {}

  async load(id: string): Promise<LabeledImage> {
    const have = this.cache.get(id);
    if (have) return have;
    const [image, labels] = await Promise.all([readImage(this.imagePath(id)), readLabelMap(this.labelPath(id))]);
    if (image.width !== labels.width || image.height !== labels.height) {
      throw new IoError(this.labelPath(id), `label map is ${labels.width}×${labels.height}, the image ${this.imagePath(id)} is ${image.width}×${image.height}`);
    }
    const s = { id, image, labels: labels.data, labelSource: this.labelPath(id) };
    const bytes = image.data.byteLength + labels.data.byteLength;
    if (this.cached + bytes <= CACHE_BYTES) {
      this.cache.set(id, s);
      this.cached += bytes;
    }
    return s;
  }
}

function renderReport(c: TrainCheckpoint<RunSettings>, classes: readonly string[]): string {
  const s = c.settings;
  // A running mean over 1 % of the run keeps the curve readable at thousands of steps.
  const window = Math.max(1, Math.round(c.losses.length / 100));
  const smooth: Array<[number, number]> = c.losses.map((_, i) => {
    const lo = Math.max(0, i - window + 1);
    let sum = 0;
    for (let k = lo; k <= i; k++) sum += c.losses[k]!;
    return [i + 1, sum / (i - lo + 1)];
  });
  const loss = lineChart({ series: [{ label: `loss (mean of ${window})`, points: smooth }], xLabel: 'step' });
  const val = c.validation.length
    ? lineChart({ series: [{ label: 'val mIoU', points: c.validation.map((v) => [v.iteration, v.miou]), min: 0, max: 1, format: (v) => `${(100 * v).toFixed(1)} %` }], xLabel: 'step' })
    : '<p>no validation</p>';
  const rows = c.validation.map((v) => `<tr><td>${v.iteration}</td><td>${(100 * v.miou).toFixed(2)}</td><td>${(100 * v.pixelAccuracy).toFixed(2)}</td><td>${v.images}</td></tr>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>seedmask train</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;max-width:900px}td,th{padding:2px 10px;text-align:right}pre{background:#f5f5f5;padding:8px}</style></head><body>
<h1>Training run</h1>
<p>${c.optimizer.iteration} of ${s.steps} steps, ${classes.length} classes (${escapeHtml(classes.join(', '))}).</p>
<h2>Loss</h2>${loss}
<h2>Validation</h2>${val}
<table><tr><th>step</th><th>mIoU %</th><th>pixel acc. %</th><th>images</th></tr>${rows}</table>
<h2>Settings</h2><pre>${escapeHtml(JSON.stringify(s, null, 2))}</pre>
</body></html>
`;
}

export async function run(argv: string[]): Promise<number> {
  let gpu: Gpu | undefined;
  try {
    const args = parseArgs(argv, {
      values: ['--dataset', '--seeds', '-o', '--out', '--labelset', '--model', '--widths', '--steps', '--batch', '--crop', '--base-size', '--scales', '--scale-range', '--normalization', '--optimizer', '--lr', '--weight-decay', '--power', '--head-lr-mult', '--bias-lr-mult', '--lr-decay-every', '--iter-size', '--init', '--objective', '--seed', '--split', '--val-split', '--limit', '--val-limit', '--val-every', '--checkpoint-every'],
      flags: ['--no-flip', '-h', '--help'],
    });
    if (args.flags.has('-h') || args.flags.has('--help')) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (args.positional.length > 0) throw new UsageError(`unexpected argument '${args.positional[0]}'`);
    const root = requiredOption(args, '--dataset');
    const seedsDir = requiredOption(args, '--seeds');
    const out = args.values.get('-o') ?? args.values.get('--out');
    if (out === undefined) throw new UsageError('-o/--out is required');
    const labelSet = await loadLabelSet(args.values.get('--labelset') ?? 'voc');
    const classNames = maskClassNames(labelSet);
    const settings = settingsFromArgs(args, classNames.length);

    const voc = vocLayout(root);
    let trainIds = await readSplitList(voc.splitPath(args.values.get('--split') ?? 'train'));
    if (args.values.has('--limit')) trainIds = trainIds.slice(0, integerOption(args, '--limit', trainIds.length));
    const seedPath = (id: string) => (existsSync(join(seedsDir, 'seeds')) ? join(seedsDir, 'seeds', `${id}.png`) : join(seedsDir, `${id}.png`));
    const missing = trainIds.filter((id) => !existsSync(seedPath(id)));
    if (missing.length > 0) {
      throw new IoError(seedsDir, `${missing.length} of ${trainIds.length} training images have no seed mask (first: ${seedPath(missing[0]!)}); make them with \`seedmask seeds --dataset ${root} --split ${args.values.get('--split') ?? 'train'} -o ${seedsDir}\`, or use --limit`);
    }
    const valSplit = args.values.get('--val-split') ?? 'val';
    let valIds: string[] = [];
    if (valSplit !== 'none') {
      valIds = await readSplitList(voc.splitPath(valSplit));
      if (args.values.has('--val-limit')) valIds = valIds.slice(0, integerOption(args, '--val-limit', valIds.length));
      const noGt = valIds.find((id) => !existsSync(voc.maskPath(id)));
      if (noGt) throw new IoError(voc.maskPath(noGt), `validation image '${noGt}' has no ground truth (use --val-split none to train without validation)`);
    }
    const data = {
      train: new FileImageSet(trainIds, voc.imagePath, seedPath),
      val: valIds.length ? new FileImageSet(valIds, voc.imagePath, voc.maskPath) : undefined,
    };

    // What the run reads is part of its settings: a resume over other images would take other steps.
    const runSettings: RunSettings = {
      ...settings,
      data: { train: trainIds.length, trainIds: idsHash(trainIds), val: valIds.length, valIds: idsHash(valIds), classes: classNames },
    };
    const checkpointPath = join(out, 'checkpoint.safetensors');
    let resume: TrainCheckpoint<RunSettings> | undefined;
    if (existsSync(checkpointPath)) {
      resume = await loadCheckpoint<RunSettings>(checkpointPath);
      const diff = settingDifferences(resume.settings, runSettings);
      if (diff.length > 0) throw new UsageError(`${checkpointPath} belongs to a run with other settings (${diff.slice(0, 4).join('; ')}${diff.length > 4 ? '; …' : ''}); use another -o, or the same options`);
      if (resume.optimizer.iteration >= settings.steps) {
        // A run stopped between its last checkpoint and its last file: write what is missing.
        if (!existsSync(join(out, 'last.safetensors'))) {
          await writeFileAtomic(join(out, 'last.safetensors'), await encodeTrainedWeights(settings, resume.weights, resume.shapes!, { step: String(resume.optimizer.iteration), labelset: labelSet.name, ...trainedMetadata(settings, classNames) }));
        }
        process.stdout.write(`${out}: the run is complete (${settings.steps} steps)\n`);
        return 0;
      }
    }
    await mkdir(out, { recursive: true }).catch((err: unknown) => {
      throw new IoError(out, `cannot create the run folder: ${messageOf(err)}`, { cause: err });
    });

    gpu = await Gpu.open();
    const perStep = settings.batch * settings.iterSize;
    process.stderr.write(`training on ${trainIds.length} images (${settings.steps} steps of ${settings.batch}${settings.iterSize > 1 ? ` × ${settings.iterSize}` : ''}), validating on ${valIds.length}, on ${gpu.adapterName}${resume ? `; resuming at step ${resume.optimizer.iteration}` : ''}\n`);
    const progress = progressWriter();
    let lastLoss = Number.NaN;
    const saveWeights = async (name: string, weights: Map<string, Float32Array>, shapes: ReadonlyMap<string, readonly number[]>, meta: Record<string, string>) =>
      writeFileAtomic(join(out, name), await encodeTrainedWeights(settings, weights, shapes, { ...meta, labelset: labelSet.name, ...trainedMetadata(settings, classNames) }));
    const result = await train(gpu, data, runSettings, {
      onProgress: (p) => {
        if (p.losses.length) lastLoss = p.losses[p.losses.length - 1]!;
        const done = p.iteration + p.losses.length;
        const rate = p.stepsThisRun > 0 ? p.seconds / p.stepsThisRun : 0;
        const eta = rate > 0 ? ` eta ${Math.round(rate * (p.steps - done))} s` : '';
        progress.update(`${renderBar(done / p.steps)} step ${done}/${p.steps} loss ${lastLoss.toFixed(4)} lr ${p.lr.toPrecision(3)} ${rate > 0 ? (perStep / rate).toFixed(2) : '—'} img/s${eta}`, p.seconds, done === p.steps);
      },
      onValidation: (v, best) => {
        progress.note(`step ${v.iteration}: val mIoU ${(100 * v.miou).toFixed(2)} % (pixel accuracy ${(100 * v.pixelAccuracy).toFixed(2)} %, ${v.images} images)${best ? ', best so far' : ''}`);
      },
      onBest: (weights, v, shapes) => saveWeights('best.safetensors', weights, shapes, { step: String(v.iteration), miou: String(v.miou) }),
      onCheckpoint: async (c, shapes) => {
        await writeFileAtomic(checkpointPath, await encodeCheckpoint(c, shapes));
        await writeFileAtomic(join(out, 'curve.json'), `${JSON.stringify({ steps: settings.steps, losses: c.losses, validation: c.validation }, null, 1)}\n`);
        await writeFileAtomic(join(out, 'report.html'), renderReport(c, classNames));
      },
    }, resume);
    progress.end();
    const c = result.checkpoint;
    await saveWeights('last.safetensors', c.weights, result.shapes, { step: String(c.optimizer.iteration) });
    const last = c.validation[c.validation.length - 1];
    const best = c.validation.reduce<ValidationRecord | undefined>((b, v) => (!b || v.miou > b.miou ? v : b), undefined);
    process.stdout.write(`${c.optimizer.iteration} steps, final loss ${c.losses[c.losses.length - 1]?.toFixed(4)}${last ? `, val mIoU ${(100 * last.miou).toFixed(2)} % (best ${(100 * best!.miou).toFixed(2)} % at step ${best!.iteration})` : ''}\n`);
    process.stdout.write(`run: ${out} (checkpoint.safetensors, ${c.validation.length ? 'best.safetensors, ' : ''}last.safetensors, curve.json, report.html)\n`);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`seedmask train: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof IoError || err instanceof WeightFileError || err instanceof CheckpointError || err instanceof LabelSetError || err instanceof TrainRunError || err instanceof TrainerError || err instanceof SegmenterError || err instanceof DeepLabError) {
      process.stderr.write(`seedmask train: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await gpu?.destroy();
  }
}
