// `seedmask report` (what `npm start` runs): the whole pipeline on the bundled default — the
// synthetic world's held-out val images (seed 1, as in weights/world-clip/MODEL_CARD.md) and the
// bundled world CLIP — scored per stage, written as one HTML report.
//
//   1. generate the world's val images into OUT/world (skipped when already there)
//   2. seeds for every val image with all stages (Grad-CAM, +CAA, +CRF, +PAR, +random walk)
//   3. per-stage mIoU, per-class IoU, timings, example overlays → OUT/report.html (+ report.json)

import { access, mkdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gpu } from '../gpu/context.js';
import { writeFileAtomic } from '../io/atomic.js';
import { IoError } from '../io/errors.js';
import { readImage, readLabelMap } from '../io/files.js';
import { vocLayout } from '../io/voc.js';
import { ClipModel } from '../models/clip/model.js';
import { renderSeedReport, type ReportExample, type SeedReport } from '../eval/report.js';
import { reportExample } from '../eval/world-example.js';
import type { LabelMap } from '../io/labelpng.js';
import { generateWorld } from '../world/generate.js';
import { runDataset } from '../wsss/dataset.js';
import { loadLabelSet, maskClassNames } from '../wsss/labelset.js';
import { CAM_SOURCES, SEED_STAGES } from '../wsss/registry.js';
import { CAM_SOURCE_NAMES, SeedPipeline, STAGES, type SeedOptions, type Stage } from '../wsss/seeds.js';
import { camSourceOption } from './seeds.js';
import { integerOption, parseArgs, UsageError } from './args.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const WORLD_CLIP = join(ROOT, 'weights', 'world-clip', 'model.safetensors');
export const WORLD_FLOORS = join(ROOT, 'weights', 'world-clip', 'floors.json');
/** The evaluation world of the model card: seed 1, 200 train + 60 val (only val is generated). */
export const WORLD_SEED = 1;
export const WORLD_TRAIN = 200;

export const STAGE_DESCRIPTIONS = {
  ...Object.fromEntries(SEED_STAGES.map((s) => [s.name, s.description])),
  seeds: 'final seeds (the chosen refiner)',
} as Record<Stage | 'seeds', string>;

const USAGE = `usage:
  seedmask report [--out DIR] [--images N] [--weights W] [--examples N] [--cam SOURCE]
      Runs the whole seed pipeline on the synthetic world's val images with the bundled world CLIP
      and writes DIR/report.html (per-stage mIoU, per-class IoU, timings, examples) and report.json.
      Defaults: --out out/report, --images 60 (all val images), --examples 6, --cam ${CAM_SOURCE_NAMES[0]}
      (${CAM_SOURCES.map((c) => `${c.name}: ${c.description}`).join('; ')}).
`;

export async function run(argv: string[]): Promise<number> {
  let gpu: Gpu | undefined;
  try {
    const args = parseArgs(argv, { values: ['--out', '--images', '--weights', '--examples', '--cam'], flags: ['-h', '--help'] });
    if (args.flags.has('-h') || args.flags.has('--help')) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (args.positional.length > 0) throw new UsageError(`unexpected argument '${args.positional[0]}'`);
    const out = resolve(args.values.get('--out') ?? join(ROOT, 'out', 'report'));
    const images = integerOption(args, '--images', 60);
    if (images < 1 || images > 60) throw new UsageError(`--images must be 1..60 (the world's val split), got ${images}`);
    const weights = args.values.get('--weights') ?? WORLD_CLIP;
    const exampleCount = integerOption(args, '--examples', 6);
    const camSource = camSourceOption(args.values.get('--cam'));
    const started = performance.now();

    const worldDir = join(out, 'world');
    const layout = vocLayout(worldDir);
    if (!(await access(join(worldDir, 'world.json')).then(() => true, () => false))) {
      process.stderr.write(`generating the world's ${60} val images (seed ${WORLD_SEED}) into ${worldDir}\n`);
      await generateWorld({ out: worldDir, seed: WORLD_SEED, train: WORLD_TRAIN, val: 60, valOnly: true });
    }
    const labelSet = await loadLabelSet(join(worldDir, 'labelset.json'));
    const ids = (await readFile(layout.splitPath('val'), 'utf8')).split('\n').filter(Boolean).slice(0, images);
    const listFile = join(out, 'list.txt');
    await writeFileAtomic(listFile, ids.map((id) => `${id}\n`).join(''));

    gpu = await Gpu.open();
    const model = await ClipModel.load(gpu, weights);
    const pipeline = new SeedPipeline(model);
    const seedOptions: SeedOptions = { labelSet, refiner: 'crf', stages: [...STAGES], camSource };
    const runDir = join(out, 'run');
    await rm(runDir, { recursive: true, force: true }); // a report always reflects one fresh run
    const summary = await runDataset(pipeline, {
      root: worldDir, out: runDir, labelSet, seedOptions, listFile, cams: false, overlay: false,
      onProgress: (p) => process.stderr.write(`\r${p.done + p.failed}/${p.total} images`),
    });
    process.stderr.write('\n');
    if (summary.failures.length > 0) throw new Error(`${summary.failures.length} images failed: ${summary.failures.map((f) => `${f.id}: ${f.error}`).join('; ')}`);

    const ci = ciColumn(await readCiBand(), ids, camSource);
    const classNames = maskClassNames(labelSet);
    const stages = [...STAGES, 'seeds' as const]
      .filter((s) => summary.scores[s])
      .map((s) => ({ name: s, description: STAGE_DESCRIPTIONS[s], scores: summary.scores[s]!, ci: ci(s) }));
    const examples: ReportExample[] = [];
    for (const id of ids.slice(0, exampleCount)) {
      const image = await readImage(layout.imagePath(id));
      const gt = await readLabelMap(layout.maskPath(id));
      const maps: [string, LabelMap][] = [];
      for (const s of STAGES) {
        const map = await readLabelMap(join(runDir, 'stages', s, `${id}.png`)).catch(() => undefined);
        if (map) maps.push([s, map]);
      }
      examples.push(reportExample(id, image, gt, maps, classNames));
    }
    const stageMs = summary.stageMs;
    const report = worldReport({
      facts: [
        ['dataset', `synthetic world, seed ${WORLD_SEED}, val split: ${summary.processed} images (${worldDir})`],
        ['model', weights],
        ['CAM source', camSource],
        ['adapter', gpu.adapterName],
        ['runtime', `Node ${process.version}`],
        ['run time', `${((performance.now() - started) / 1000).toFixed(1)} s`],
      ],
      classNames,
      stages,
      timings: stageMs,
      examples,
    });
    await writeWorldReport(out, report, summary);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`seedmask report: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof IoError) {
      process.stderr.write(`seedmask report: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await gpu?.destroy();
  }
}

/** The report document of a world run (Node or browser): facts, per-stage scores, timings, examples. */
export function worldReport(parts: Pick<SeedReport, 'classNames' | 'stages' | 'timings' | 'examples'> & { facts: [string, string][] }): SeedReport {
  return {
    title: 'seedmask: CLIP-ES seeds on the synthetic world',
    facts: [
      ...parts.facts,
      ['options', 'refiner crf, box threshold 0.4 (clip-es box quirk), τ = 2, CRF image clip-es'],
      ['date', new Date().toISOString()],
    ],
    classNames: parts.classNames,
    stages: parts.stages,
    timings: parts.timings,
    examples: parts.examples,
    notes: [
      'mIoU follows the VOC protocol (docs/algorithms.md §3.7): one confusion matrix over all images, ground-truth 255 ignored, mean over classes present.',
      'Coverage is the share of valid ground-truth pixels that got a label (the CRF marks pixels with max posterior < 0.95 as 255 = ignore; they count as misses here).',
      'The world CLIP is small and weak (see weights/world-clip/MODEL_CARD.md); these numbers measure the pipeline on it, not CLIP ViT-B/16 on VOC.',
    ],
  };
}

/** Writes OUT/report.html and OUT/report.json, prints the per-stage table and where the report is. */
export async function writeWorldReport(out: string, report: SeedReport, summary: object): Promise<void> {
  await mkdir(out, { recursive: true });
  await writeFileAtomic(join(out, 'report.html'), renderSeedReport(report));
  await writeFileAtomic(join(out, 'report.json'), `${JSON.stringify({ ...report, examples: report.examples.map((e) => e.id), summary }, (_k, v) => (typeof v === 'number' && Number.isNaN(v) ? null : v), 2)}\n`);
  process.stdout.write(`\n${'stage'.padEnd(7)} ${'mIoU %'.padStart(7)}  what\n`);
  for (const s of report.stages) process.stdout.write(`${s.name.padEnd(7)} ${(100 * s.scores.miou).toFixed(2).padStart(7)}  ${s.description}\n`);
  process.stdout.write(`\nmean ms per image: ${Object.entries(report.timings).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}\n`);
  process.stdout.write(`report: ${join(out, 'report.html')}\n`);
}

/** CI's accuracy band (test/world/floors.test.ts): the committed mIoU per stage and the ± band, on its images. */
export interface CiBand {
  measured: Partial<Record<Stage | 'seeds', number>>;
  band: number;
  /** The val images CI scores (ids, first to last) and its CAM source. */
  images: [string, string];
  camSource: string;
}

export async function readCiBand(): Promise<CiBand | undefined> {
  try {
    const json = JSON.parse(await readFile(WORLD_FLOORS, 'utf8')) as { measured: CiBand['measured']; band: number; world: { images: [string, string] }; options: { camSource: string } };
    return { measured: json.measured, band: json.band, images: json.world.images, camSource: json.options.camSource };
  } catch {
    return undefined;
  }
}

/**
 * The CI value of each stage, for a report's table, when the report scored exactly CI's images
 * with CI's CAM source (on other images the CI values say nothing).
 */
export function ciColumn(ci: CiBand | undefined, ids: readonly string[], camSource: string): (stage: Stage | 'seeds') => { value: number; band: number } | undefined {
  const same = ci && ci.camSource === camSource && ids.length > 0 && ids[0] === ci.images[0] && ids.at(-1) === ci.images[1] && ids.length === Number(ci.images[1]) - Number(ci.images[0]) + 1;
  return (stage) => (same && ci.measured[stage] !== undefined ? { value: ci.measured[stage]!, band: ci.band } : undefined);
}

