// Seeds for a whole VOC-layout dataset (docs/algorithms.md §3.1, §3.7): every id of a split list, each
// image's labels from its ground-truth mask or from a label file, outputs per image under OUT, and
// an evaluation per stage when ground truth exists.
//
//   OUT/seeds/<id>.png            seed masks (the pipeline's final refiner)
//   OUT/seeds/<id>.overlay.png    overlays (optional)
//   OUT/seeds/<id>.cam.<c>.npy    refined CAMs per label (optional)
//   OUT/stages/<stage>/<id>.png   label maps of the stages asked for, for per-stage mIoU
//   OUT/summary.json              what was done, what failed and why, timings, scores
//   OUT/settings.json             what makes the seeds (CAM source, refiner, thresholds, …): a run
//                                 that resumes in OUT must use the same
//
// Resumable: an image whose seed PNG exists is skipped (it is written last, atomically). One bad
// image (corrupt file, unknown label, no labels) is reported and skipped; the rest go on.

import { access, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Scores } from '../eval/confusion.js';
import { evaluateDirectory } from '../eval/evaluate.js';
import { writeFileAtomic } from '../io/atomic.js';
import { IoError, messageOf } from '../io/errors.js';
import { readLabelMap, readSeedImage, readText } from '../io/files.js';
import { readSplitList, vocLayout } from '../io/voc.js';
import { maskClassNames, parseLabels, type LabelSet } from './labelset.js';
import { CAM_SOURCE_NAMES } from './registry.js';
import { writeSeedOutputs } from './outputs.js';
import type { SeedOptions, SeedResult, Stage } from './seeds.js';

export interface SeedRunner {
  run(image: import('../io/image.js').RgbaImage, labels: readonly number[], options: SeedOptions): Promise<SeedResult>;
  /** The device the runner computes on (a SeedPipeline's): its loss is what `recover` answers. */
  readonly gpu?: { readonly lost: boolean };
  /** Builds what a run on this image size needs before the first image (SeedPipeline.warmup). */
  warmup?(size: { width: number; height: number }, labelCounts: readonly number[], options: SeedOptions): Promise<number>;
}

export interface DatasetOptions {
  root: string;
  out: string;
  labelSet: LabelSet;
  /** Split name under ImageSets/Segmentation (default 'train'), or an explicit list file. */
  split?: string;
  listFile?: string;
  /** Labels per image: 'masks' (classes present in SegmentationClass/<id>.png, ascending) or a label file. */
  labelFile?: string;
  /** Process at most this many ids of the list (after the resume skip). */
  limit?: number;
  seedOptions: SeedOptions;
  cams?: boolean;
  overlay?: boolean;
  /** Score the stages against SegmentationClass when it exists (default true). */
  evaluate?: boolean;
  onProgress?: (p: DatasetProgress) => void;
  /**
   * Stops the run: the image in progress is abandoned (nothing of it is written), finished images
   * stay complete, and runDataset rejects with the signal's reason. A later run resumes.
   */
  signal?: AbortSignal;
  /**
   * Makes a new runner on a new device after the GPU device is lost (a driver reset, a GPU taken
   * away): the image that was running fails with the loss, then is tried once more on the new
   * runner, and the run goes on. Without it, a lost device fails every remaining image.
   */
  recover?: () => Promise<SeedRunner>;
}

export interface DatasetProgress {
  done: number;
  skipped: number;
  failed: number;
  total: number;
  id: string;
  seconds: number;
}

export interface DatasetFailure {
  id: string;
  error: string;
}

export interface DatasetSummary {
  root: string;
  out: string;
  labelSet: string;
  ids: number;
  processed: number;
  resumed: number;
  unlabeled: string[];
  failures: DatasetFailure[];
  seconds: number;
  /** Mean per-stage time over processed images, ms. */
  stageMs: Record<string, number>;
  /** Milliseconds spent preparing the pipelines before the first image (see SeedPipeline.warmup). */
  warmupMs: number;
  /** GPU devices lost during the run and re-created through `recover`. */
  deviceLosses: number;
  /** Scores per stage over every finished image of the list (resumed ones included), when GT exists. */
  scores: Partial<Record<Stage | 'seeds', Scores>>;
}

/**
 * Whether the runner's device is lost. An error can reach us before the device's `lost` promise has
 * settled (it settles asynchronously), so a failure is given a moment to show itself as a loss.
 */
async function deviceLost(runner: SeedRunner): Promise<boolean> {
  if (!runner.gpu) return false;
  for (let i = 0; i < 10 && !runner.gpu.lost; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  return runner.gpu.lost;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

/**
 * A label file: one image per line, `<id> <label> <label> …` or `<id>: label, label`, labels by
 * class name/synonym or by 0-based class index (CLIP-ES's COCO lists). Order is kept (CAM channel
 * order, §8.17).
 */
export async function readLabelFile(path: string, set: LabelSet): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  const lines = (await readText(path)).split(/\r?\n/);
  lines.forEach((line, i) => {
    const text = line.trim();
    if (text === '' || text.startsWith('#')) return;
    const m = /^(\S+?):?\s+(.*)$/.exec(text) ?? [text, text, ''];
    const id = m[1]!;
    const rest = m[2]!.trim();
    const terms = rest === '' ? [] : rest.includes(',') ? rest.split(',') : rest.split(/\s+/);
    try {
      const labels = terms.every((t) => /^\d+$/.test(t.trim()))
        ? terms.map((t) => {
            const k = Number(t);
            if (k >= set.classes.length) throw new RangeError(`class index ${k} is outside label set '${set.name}' (0..${set.classes.length - 1})`);
            return k;
          })
        : parseLabels(terms, set, { dedupe: true, allowEmpty: true });
      out.set(id, labels);
    } catch (err) {
      throw new IoError(path, `line ${i + 1} (${id}): ${messageOf(err)}`, { cause: err });
    }
  });
  return out;
}

/** Class indices present in a ground-truth mask (values 1..classes; 0 and 255 are not labels). */
export function labelsFromMask(data: Uint8Array, classes: number, path: string): number[] {
  const seen = new Uint8Array(256);
  for (const v of data) seen[v] = 1;
  const labels: number[] = [];
  for (let v = 1; v < 255; v++) {
    if (!seen[v]) continue;
    if (v > classes) throw new IoError(path, `mask value ${v} is not a class of the label set (1..${classes}, 255 = void)`);
    labels.push(v - 1);
  }
  return labels;
}

/**
 * What makes the seeds of a run differ from another's, recorded in OUT/settings.json by the first
 * run: a resumed run with other settings would mix two kinds of seeds in one folder, so it is
 * refused, naming the setting.
 */
async function checkSameSettings(o: DatasetOptions): Promise<void> {
  const so = o.seedOptions;
  const settings: Record<string, unknown> = {
    labelSet: o.labelSet.name, camSource: so.camSource ?? CAM_SOURCE_NAMES[0], refiner: so.refiner ?? 'crf',
    boxThreshold: so.boxThreshold ?? null, boxes: so.boxes ?? 'clip-es', camExponent: so.camExponent ?? 2,
    crfImage: so.crfImage ?? 'clip-es', confidence: so.confidence ?? 0.95, caaLayers: so.caaLayers ?? 8, randomWalk: so.randomWalk ?? null,
  };
  const path = join(o.out, 'settings.json');
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) {
    await writeFileAtomic(path, `${JSON.stringify(settings, null, 2)}\n`);
    return;
  }
  let before: Record<string, unknown>;
  try {
    before = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new IoError(path, 'not JSON; delete it (and the seeds it describes) to start over');
  }
  for (const [key, value] of Object.entries(settings)) {
    if (JSON.stringify(before[key] ?? null) !== JSON.stringify(value)) {
      throw new IoError(path, `this folder holds seeds made with ${key} = ${JSON.stringify(before[key] ?? null)}, not ${JSON.stringify(value)}: use another output folder, or delete it to start over`);
    }
  }
}

export async function runDataset(runner: SeedRunner, o: DatasetOptions): Promise<DatasetSummary> {
  const layout = vocLayout(o.root);
  const listPath = o.listFile ?? layout.splitPath(o.split ?? 'train');
  const ids = await readSplitList(listPath);
  const labelFile = o.labelFile === undefined ? undefined : await readLabelFile(o.labelFile, o.labelSet);
  const seedsDir = join(o.out, 'seeds');
  const stageDir = join(o.out, 'stages');
  await mkdir(seedsDir, { recursive: true });
  await checkSameSettings(o);
  const started = performance.now();
  const summary: DatasetSummary = {
    root: o.root, out: o.out, labelSet: o.labelSet.name, ids: ids.length, processed: 0, resumed: 0,
    unlabeled: [], failures: [], seconds: 0, stageMs: {}, warmupMs: 0, deviceLosses: 0, scores: {},
  };
  const stageTotals = new Map<string, number>();
  let budget = o.limit ?? Infinity;
  // Per-stage times go into the summary, so every step waits for its GPU work; the CAMs are read
  // back only when they are written.
  const read = new Set([...(o.seedOptions.read ?? []), ...(o.cams ? (['cams'] as const) : [])]);
  const seedOptions: SeedOptions = { stageTimes: true, ...o.seedOptions, read: [...read], ...(o.signal ? { signal: o.signal } : {}) };
  let current = runner;
  let warmed = false;
  for (const id of ids) {
    o.signal?.throwIfAborted();
    const base = join(seedsDir, id);
    if (await exists(`${base}.png`)) {
      summary.resumed++;
    } else if (budget > 0) {
      budget--;
      try {
        let labels: number[];
        if (labelFile) {
          const l = labelFile.get(id);
          if (l === undefined) throw new IoError(o.labelFile!, `no labels for image '${id}'`);
          labels = l;
        } else {
          const mask = await readLabelMap(layout.maskPath(id));
          labels = labelsFromMask(mask.data, o.labelSet.classes.length, layout.maskPath(id));
        }
        if (labels.length === 0) {
          // §8.5: an image without labels has no seeds to make; skip it, do not stop the run.
          summary.unlabeled.push(id);
        } else {
          const { image, crfImage } = await readSeedImage(layout.imagePath(id));
          const options = crfImage ? { ...seedOptions, crfPixels: crfImage } : seedOptions;
          let result: SeedResult;
          try {
            // The first image's size stands for the rest: most pipelines do not depend on it
            // (once: a warm-up that fails fails this image, and the run goes on without one).
            if (!warmed && current.warmup) {
              warmed = true;
              summary.warmupMs += await current.warmup(image, [labels.length], options);
            }
            result = await current.run(image, labels, options);
          } catch (err) {
            if (!o.recover || o.signal?.aborted || !(await deviceLost(current))) throw err;
            // The device was lost (under this image or before it): a new one, and this image once more.
            // A recover that fails ends the run: every later image would fail the same way.
            summary.deviceLosses++;
            try {
              current = await o.recover();
            } catch (recoverErr) {
              throw new Error(`the GPU device was lost and a new one could not be opened: ${messageOf(recoverErr)}`, { cause: recoverErr });
            }
            result = await current.run(image, labels, options);
          }
          o.signal?.throwIfAborted();
          for (const [k, v] of Object.entries(result.timings)) stageTotals.set(k, (stageTotals.get(k) ?? 0) + v);
          await writeSeedOutputs(base, image, result, o.labelSet, { cams: o.cams ?? false, overlay: o.overlay ?? false, stageDir, id });
          summary.processed++;
        }
      } catch (err) {
        if (o.signal?.aborted) throw err;
        summary.failures.push({ id, error: messageOf(err) });
      }
    }
    o.onProgress?.({ done: summary.processed, skipped: summary.resumed, failed: summary.failures.length, total: ids.length, id, seconds: (performance.now() - started) / 1000 });
  }
  summary.seconds = (performance.now() - started) / 1000;
  for (const [k, v] of stageTotals) summary.stageMs[k] = summary.processed > 0 ? v / summary.processed : 0;
  if ((o.evaluate ?? true) && (await exists(layout.masksDir))) {
    summary.scores = await scoreStages(o, ids, seedsDir, stageDir, layout.masksDir);
  }
  await writeFileAtomic(join(o.out, 'summary.json'), `${JSON.stringify(summary, (_k, v) => (typeof v === 'number' && Number.isNaN(v) ? null : v), 2)}\n`);
  return summary;
}

/** Per-stage scores over every id whose output exists (a failed image simply has none). */
async function scoreStages(o: DatasetOptions, ids: readonly string[], seedsDir: string, stageDir: string, gtDir: string): Promise<DatasetSummary['scores']> {
  const numClasses = maskClassNames(o.labelSet).length;
  const dirs: [Stage | 'seeds', string][] = [...(o.seedOptions.stages ?? []).map((s) => [s, join(stageDir, s)] as [Stage, string]), ['seeds', seedsDir]];
  const scores: DatasetSummary['scores'] = {};
  for (const [stage, predDir] of dirs) {
    const evaluation = await evaluateDirectory({ gtDir, predDir, ids, numClasses, missing: 'skip' });
    if (evaluation.ids.length > 0) scores[stage] = evaluation.scores;
  }
  return scores;
}
