// `seedmask seeds`: CLIP-ES seed masks for one or more images, or for a VOC-layout dataset
// (src/wsss/seeds.ts does the work; src/wsss/dataset.ts walks datasets).

import { mkdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { Gpu } from '../gpu/context.js';
import { IoError } from '../io/errors.js';
import { readSeedImage } from '../io/files.js';
import { ClipModel } from '../models/clip/model.js';
import { runDataset, type DatasetProgress } from '../wsss/dataset.js';
import { LabelSetError, loadLabelSet, parseLabels, type LabelSet } from '../wsss/labelset.js';
import { writeSeedOutputs } from '../wsss/outputs.js';
import { CAM_SOURCES, SEED_STAGES } from '../wsss/registry.js';
import { CAM_SOURCE_NAMES, REFINERS, SeedPipeline, STAGES, type CamSourceName, type Refiner, type SeedOptions, type SeedReadback, type Stage } from '../wsss/seeds.js';
import { eachImage } from './images.js';
import { integerOption, numberOption, parseArgs, requiredOption, UsageError, type ParsedArgs } from './args.js';
import { progressWriter, renderBar } from './progress.js';

const USAGE = `usage:
  seedmask seeds --weights W --labels cat,dog IMAGE... -o OUT [options]
      Seed masks for the given images (JPEG or PNG), all with the same labels. Writes
      OUT/<name>.png (VOC-palette seed mask: class id = index + 1, 0 background, 255 ignore),
      OUT/<name>.overlay.png and OUT/<name>.cam.<class>.npy (float32 [H, W] refined CAM per label).
  seedmask seeds --weights W --dataset ROOT -o OUT [--split train | --list FILE] [options]
      Every image of a VOC-layout dataset (JPEGImages/, SegmentationClass/, ImageSets/Segmentation/).
      Labels come from each SegmentationClass PNG, or from --label-file. Resumable: images whose
      OUT/seeds/<id>.png exists are skipped. A bad image is reported and skipped. With ground truth,
      prints the mIoU of every stage; OUT/summary.json has everything.

options:
  --weights W         CLIP weights: .pt/.pth (OpenAI), .safetensors, or an HF folder
  --tokenizer PATH    BPE vocabulary (default: next to the weights)
  --labelset S        'voc' (default), 'coco' or a label-set JSON file
  --cam SOURCE        where the CAMs come from:
${CAM_SOURCES.map((c, i) => `                        ${c.name}${i === 0 ? ' (default)' : ''}: ${c.description}`).join('\n')}
  --refiner R         what makes the seeds from the CAA CAMs: crf (default), ${REFINERS.filter((r) => r !== 'crf').join(', ')}
${SEED_STAGES.filter((s) => s.refiner).map((s) => `                        ${s.refiner}: ${s.refiner === 'none' ? 'the CAA label map itself' : s.description.replace(/^\+ /, '')}`).join('\n')}
  --stages LIST       also make and score these stages: ${STAGES.join(',')} or 'all'
  --box-threshold L   CAA box threshold lambda (default 0.4; 0.7 for coco)
  --boxes MODE        clip-es (default: the edge-clipping quirk of docs/algorithms.md §3.5) | corrected
  --tau T             background exponent for CAM label maps (default 2)
  --crf-image MODE    clip-es (default: BGR − mean with the uint8 wrap, §3.6) | rgb
  --confidence C      CRF confidence below which a pixel is ignored (default 0.95)
  --label-file FILE   dataset labels: lines '<id> label label …' (names or 0-based indices)
  --limit N           dataset: process at most N images this run
  --no-cams           do not write the .npy CAMs
  --no-overlay        do not write overlays
  --json              print the result (dataset: the summary) as JSON
`;

export async function run(argv: string[]): Promise<number> {
  let gpu: Gpu | undefined;
  try {
    const args = parseArgs(argv, {
      values: ['--weights', '--tokenizer', '--labels', '--labelset', '--cam', '--refiner', '--stages', '--box-threshold', '--boxes', '--tau', '--crf-image', '--confidence', '--dataset', '--split', '--list', '--label-file', '--limit', '-o', '--out'],
      flags: ['--no-cams', '--no-overlay', '--json', '-h', '--help'],
    });
    if (args.flags.has('-h') || args.flags.has('--help')) {
      process.stdout.write(USAGE);
      return 0;
    }
    const out = args.values.get('-o') ?? args.values.get('--out');
    if (out === undefined) throw new UsageError('-o OUT is required');
    const weights = requiredOption(args, '--weights');
    const labelSet = await loadLabelSet(args.values.get('--labelset') ?? 'voc');
    const seedOptions = parseSeedOptions(args, labelSet);
    const dataset = args.values.get('--dataset');
    if (dataset === undefined) {
      if (args.positional.length === 0) throw new UsageError('no images given (or use --dataset ROOT)');
      if (!args.values.has('--labels')) throw new UsageError('--labels is required for single images (e.g. --labels cat,sofa)');
    } else if (args.positional.length > 0) throw new UsageError(`unexpected argument '${args.positional[0]}' with --dataset`);
    // Labels are checked before anything slow starts.
    const labels = dataset === undefined ? parseLabels(args.values.get('--labels')!, labelSet) : [];

    gpu = await Gpu.open();
    const tokenizer = args.values.get('--tokenizer');
    const model = await ClipModel.load(gpu, weights, tokenizer === undefined ? {} : { tokenizer });
    const pipeline = new SeedPipeline(model);
    // A lost device (driver reset, GPU taken away) during a dataset run: a new device and model,
    // and the run goes on from the image it was on.
    const recover = async () => {
      process.stderr.write('\nseedmask seeds: the GPU device was lost; opening a new one and retrying the image\n');
      await gpu?.destroy().catch(() => undefined);
      gpu = await Gpu.open();
      return new SeedPipeline(await ClipModel.load(gpu, weights, tokenizer === undefined ? {} : { tokenizer }));
    };
    if (dataset !== undefined) return await runDatasetCommand(args, pipeline, dataset, out, labelSet, seedOptions, recover);

    await mkdir(out, { recursive: true });
    return await eachImage('seeds', args.positional, args.flags.has('--json'), async (path) => {
      const { image, crfImage } = await readSeedImage(path);
      const result = await pipeline.run(image, labels, crfImage ? { ...seedOptions, crfPixels: crfImage } : seedOptions);
      const base = join(out, basename(path, extname(path)));
      const files = await writeSeedOutputs(base, image, result, labelSet, { cams: !args.flags.has('--no-cams'), overlay: !args.flags.has('--no-overlay') });
      const timing = Object.entries(result.timings).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(', ');
      return {
        record: { image: path, files, width: result.width, height: result.height, grid: result.grid, probabilities: Array.from(result.probs.subarray(0, labels.length)), timings: result.timings },
        line: `${path}: ${result.width}×${result.height}, grid ${result.grid.join('×')} → ${base}.png (${timing})`,
      };
    });
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`seedmask seeds: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof IoError || err instanceof LabelSetError || err instanceof RangeError) {
      process.stderr.write(`seedmask seeds: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await gpu?.destroy();
  }
}

/** The value of a `--cam` option: a registered CAM source (default the first). */
export function camSourceOption(text: string | undefined): CamSourceName {
  if (text === undefined) return CAM_SOURCE_NAMES[0]!;
  if (!(CAM_SOURCE_NAMES as readonly string[]).includes(text)) throw new UsageError(`--cam must be one of ${CAM_SOURCE_NAMES.join(', ')}, got '${text}'`);
  return text as CamSourceName;
}

function parseSeedOptions(args: ParsedArgs, labelSet: LabelSet): SeedOptions {
  const refiner = (args.values.get('--refiner') ?? 'crf') as Refiner;
  if (!REFINERS.includes(refiner)) throw new UsageError(`--refiner must be one of ${REFINERS.join(', ')}, got '${refiner}'`);
  const camSource = camSourceOption(args.values.get('--cam'));
  const stagesText = args.values.get('--stages');
  let stages: Stage[] = [];
  if (stagesText !== undefined) {
    stages = stagesText === 'all' ? [...STAGES] : (stagesText.split(',').map((s) => s.trim()).filter(Boolean) as Stage[]);
    for (const s of stages) if (!STAGES.includes(s)) throw new UsageError(`--stages: unknown stage '${s}' (known: ${STAGES.join(', ')}, all)`);
  }
  const boxes = args.values.get('--boxes') ?? 'clip-es';
  if (boxes !== 'clip-es' && boxes !== 'corrected') throw new UsageError(`--boxes must be clip-es or corrected, got '${boxes}'`);
  const crfImage = args.values.get('--crf-image') ?? 'clip-es';
  if (crfImage !== 'clip-es' && crfImage !== 'rgb') throw new UsageError(`--crf-image must be clip-es or rgb, got '${crfImage}'`);
  const boxThreshold = numberOption(args, '--box-threshold');
  if (boxThreshold !== undefined && !(boxThreshold >= 0 && boxThreshold < 1)) throw new UsageError(`--box-threshold must be in [0, 1), got ${boxThreshold}`);
  const confidence = numberOption(args, '--confidence');
  if (confidence !== undefined && !(confidence >= 0 && confidence <= 1)) throw new UsageError(`--confidence must be in [0, 1], got ${confidence}`);
  const tau = numberOption(args, '--tau');
  if (tau !== undefined && !(tau > 0)) throw new UsageError(`--tau must be positive, got ${tau}`);
  // The CAMs are written as .npy files unless --no-cams: only then are they read back.
  const read: SeedReadback[] = args.flags.has('--no-cams') ? [] : ['cams'];
  return { labelSet, camSource, refiner, stages, boxes, crfImage, boxThreshold, confidence, camExponent: tau, read };
}

async function runDatasetCommand(args: ParsedArgs, pipeline: SeedPipeline, root: string, out: string, labelSet: LabelSet, seedOptions: SeedOptions, recover: () => Promise<SeedPipeline>): Promise<number> {
  const progress = progressWriter();
  const onProgress = (p: DatasetProgress) => {
    const n = p.done + p.skipped + p.failed;
    const rate = p.done > 0 ? p.seconds / p.done : 0;
    const eta = rate > 0 ? ` eta ${Math.round(rate * (p.total - n))} s` : '';
    progress.update(`${renderBar(n / p.total)} ${n}/${p.total} (${p.done} new, ${p.skipped} resumed, ${p.failed} failed)${eta} ${p.id}`, p.seconds, n === p.total);
  };
  const limitText = args.values.get('--limit');
  const summary = await runDataset(pipeline, {
    root, out, labelSet, seedOptions,
    split: args.values.get('--split'),
    listFile: args.values.get('--list'),
    labelFile: args.values.get('--label-file'),
    limit: limitText === undefined ? undefined : integerOption(args, '--limit', 0),
    cams: !args.flags.has('--no-cams'),
    overlay: !args.flags.has('--no-overlay'),
    onProgress,
    recover,
  });
  progress.end();
  if (args.flags.has('--json')) {
    process.stdout.write(`${JSON.stringify(summary, (_k, v) => (typeof v === 'number' && Number.isNaN(v) ? null : v), 2)}\n`);
  } else {
    process.stdout.write(`${summary.processed} images done, ${summary.resumed} already done, ${summary.unlabeled.length} without labels skipped, ${summary.failures.length} failed, ${summary.seconds.toFixed(1)} s${summary.deviceLosses ? `, ${summary.deviceLosses} GPU device loss${summary.deviceLosses > 1 ? 'es' : ''} recovered` : ''}\n`);
    for (const f of summary.failures) process.stdout.write(`  failed ${f.id}: ${f.error}\n`);
    const stages = Object.entries(summary.stageMs).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ');
    if (stages) process.stdout.write(`mean ms per image: ${stages}\n`);
    for (const [stage, s] of Object.entries(summary.scores)) process.stdout.write(`mIoU ${stage.padEnd(6)} ${(100 * s!.miou).toFixed(2)} %\n`);
    process.stdout.write(`summary: ${join(out, 'summary.json')}\n`);
  }
  return summary.failures.length > 0 ? 1 : 0;
}

