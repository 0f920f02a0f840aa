// Scoring a directory of predicted label PNGs against VOC-layout ground truth, and the table that
// `seedmask eval` prints.

import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { IoError, messageOf } from '../io/errors.js';
import { readLabelMap } from '../io/files.js';
import { ConfusionMatrix, computeScores, type Scores, type VoidPredictionRule } from './confusion.js';

export interface EvaluateOptions {
  /** Directory of ground-truth PNGs, `<id>.png`. */
  gtDir: string;
  /** Directory of predicted PNGs, `<id>.png` (palette or greyscale, values = class ids, 255 = void). */
  predDir: string;
  /** Ids to score; by default every `.png` in `predDir`, sorted. */
  ids?: readonly string[];
  /** Classes including background (21 for VOC). */
  numClasses: number;
  voidRule?: VoidPredictionRule;
  /**
   * An id of `ids` without a prediction file: an error (default), or skipped (a dataset run where
   * some images failed or are not done yet). `Evaluation.ids` lists the ids actually scored.
   */
  missing?: 'error' | 'skip';
}

export interface Evaluation {
  matrix: ConfusionMatrix;
  scores: Scores;
  ids: string[];
}

export async function evaluateDirectory(options: EvaluateOptions): Promise<Evaluation> {
  const ids = options.ids ? [...options.ids] : await pngIds(options.predDir);
  if (ids.length === 0) throw new IoError(options.predDir, 'no predictions to score (no .png files)');
  const matrix = new ConfusionMatrix(options.numClasses);
  const scored: string[] = [];
  for (const id of ids) {
    const gtPath = join(options.gtDir, `${id}.png`);
    const predPath = join(options.predDir, `${id}.png`);
    if (options.missing === 'skip' && !(await access(predPath).then(() => true, () => false))) continue;
    const [gt, pred] = await Promise.all([readLabelMap(gtPath), readLabelMap(predPath)]);
    if (gt.width !== pred.width || gt.height !== pred.height) {
      throw new IoError(predPath, `prediction is ${pred.width}×${pred.height}, ground truth ${gtPath} is ${gt.width}×${gt.height}`);
    }
    matrix.add(gt.data, pred.data, predPath);
    scored.push(id);
  }
  return { matrix, scores: computeScores(matrix, options.voidRule), ids: scored };
}

async function pngIds(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new IoError(dir, `cannot list directory: ${messageOf(err)}`, { cause: err });
  }
  return names
    .filter((n) => n.toLowerCase().endsWith('.png') && !n.startsWith('.'))
    .map((n) => n.slice(0, -4))
    .sort();
}

const percent = (x: number) => (Number.isNaN(x) ? '—' : (100 * x).toFixed(2));

/**
 * A plain-text table: one row per class (IoU, precision, recall in %, GT pixel count), classes absent
 * from the GT marked and left out of the mean, then mIoU and the protocol's side numbers.
 */
export function formatScoreTable(scores: Scores, classNames: readonly string[]): string {
  const width = Math.max(10, ...classNames.map((c) => c.length));
  const header = `${'class'.padEnd(width)}  ${'IoU'.padStart(7)}  ${'prec'.padStart(7)}  ${'recall'.padStart(7)}  ${'GT pixels'.padStart(12)}`;
  const lines = [header, '-'.repeat(header.length)];
  for (const c of scores.classes) {
    const name = classNames[c.id] ?? `class ${c.id}`;
    const note = c.present ? '' : '  (not in GT; not in mean)';
    lines.push(`${name.padEnd(width)}  ${percent(c.iou).padStart(7)}  ${percent(c.precision).padStart(7)}  ${percent(c.recall).padStart(7)}  ${String(c.gtPixels).padStart(12)}${note}`);
  }
  lines.push('-'.repeat(header.length));
  const present = scores.classes.filter((c) => c.present).length;
  lines.push(`${'mIoU'.padEnd(width)}  ${percent(scores.miou).padStart(7)}   over ${present} of ${scores.classes.length} classes present in the GT, ${scores.images} images`);
  lines.push(`pixel accuracy ${percent(scores.pixelAccuracy)} %, coverage ${percent(scores.coverage)} % (${scores.voidPredictions} void predictions, rule '${scores.rule}'), ${scores.ignoredGtPixels} GT pixels ignored (void)`);
  if (scores.strayGtPixels > 0) lines.push(`warning: ${scores.strayGtPixels} GT pixels hold values that are neither a class nor 255; is the label set right?`);
  return lines.join('\n') + '\n';
}
