// Segmentation accuracy with the VOC protocol as CLIP-ES evaluates it (docs/algorithms.md §3.7,
// eval_cam.py / eval_cam_with_crf.py `scores`):
//   - one confusion matrix accumulated over all images (not a mean of per-image scores);
//     rows = ground truth, columns = prediction;
//   - ground-truth pixels with a value ≥ numClasses (255 = VOC boundary/void) are ignored;
//   - IoU_k = TP_k / (GT_k + Pred_k − TP_k);
//   - mIoU = mean IoU over the classes *present*, i.e. with a non-zero ground-truth pixel count
//     (`valid = hist.sum(axis=1) > 0`). A class that is only predicted, never in the ground truth,
//     does not enter the mean (its false positives still lower the IoU of the true classes).
//
// Predicted 255 (void). CLIP-ES never scores void predictions: its evaluation runs on argmax labels,
// and its 255s (CRF confidence < 0.95) are only written to the pseudo-mask files. Its bincount
// formula would misfile them, so there is no behaviour to copy. We keep them in an extra column and
// offer two readings:
//   'miss' (default)   a void prediction on a valid GT pixel is a miss for the GT class: it counts in
//                      that class's GT total (lowering recall and IoU) and in no predicted total.
//                      Abstaining can therefore never raise a score.
//   'exclude'          void-predicted pixels are dropped, as if they were void in the GT too: scores
//                      of the confident pixels only (the "precision of seeds" view). Report coverage
//                      alongside.
// Predicted values from numClasses to 254 are an error: they mean the wrong label set.

/**
 * How predicted void (255) pixels on valid ground truth are scored: 'miss' counts them as misses
 * of the GT class, 'exclude' drops them from scoring (see {@link computeScores}).
 */
export type VoidPredictionRule = 'miss' | 'exclude';

/** Value of void (ignore) pixels in masks. */
export const VOID = 255;

export class ConfusionMatrix {
  /** Number of classes, background included (1..255); class ids are 0..numClasses − 1. */
  readonly numClasses: number;
  /**
   * counts[gt * (numClasses + 1) + pred], pred in 0..numClasses where column numClasses holds void
   * predictions. float64, so counts stay exact up to 2^53 pixels.
   */
  readonly counts: Float64Array;
  /** GT pixels ignored because their value is ≥ numClasses (255 and any stray value). */
  ignoredGtPixels = 0;
  /** Of those, pixels whose GT value is neither 255 nor a class: a hint that the label set is wrong. */
  strayGtPixels = 0;
  /** Number of images added (merged matrices included). */
  images = 0;

  constructor(numClasses: number) {
    if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > 255) throw new RangeError(`numClasses must be an integer in 1..255 (background included), got ${numClasses}`);
    this.numClasses = numClasses;
    this.counts = new Float64Array(numClasses * (numClasses + 1));
  }

  /** Adds one image. `name` (the prediction's file) is used in errors. */
  add(gt: Uint8Array, pred: Uint8Array, name = '<prediction>'): void {
    if (gt.length !== pred.length) throw new RangeError(`${name}: prediction has ${pred.length} pixels, ground truth ${gt.length}`);
    const n = this.numClasses;
    const stride = n + 1;
    // Per-image counts in int32 are faster than float64 increments and cannot overflow (< 2^31 pixels).
    const local = new Int32Array(n * stride);
    let ignored = 0;
    let stray = 0;
    for (let i = 0; i < gt.length; i++) {
      const g = gt[i]!;
      let p = pred[i]!;
      if (p >= n) {
        if (p !== VOID) throw new RangeError(`${name}: predicted value ${p} at pixel ${i} is not a class (0..${n - 1}) nor void (255); wrong label set?`);
        p = n;
      }
      if (g >= n) {
        ignored++;
        if (g !== VOID) stray++;
        continue;
      }
      local[g * stride + p]!++;
    }
    for (let k = 0; k < local.length; k++) this.counts[k]! += local[k]!;
    this.ignoredGtPixels += ignored;
    this.strayGtPixels += stray;
    this.images++;
  }

  /** Adds another matrix's counts (e.g. from a worker). */
  merge(other: ConfusionMatrix): void {
    if (other.numClasses !== this.numClasses) throw new RangeError(`cannot merge a ${other.numClasses}-class matrix into a ${this.numClasses}-class one`);
    for (let k = 0; k < this.counts.length; k++) this.counts[k]! += other.counts[k]!;
    this.ignoredGtPixels += other.ignoredGtPixels;
    this.strayGtPixels += other.strayGtPixels;
    this.images += other.images;
  }

  /** Count of pixels with ground truth `gt` and prediction `pred` (pred = numClasses: void). */
  at(gt: number, pred: number): number {
    return this.counts[gt * (this.numClasses + 1) + pred]!;
  }
}

/** The scores of one class from {@link computeScores}; pixel counts are summed over all images. */
export interface ClassScore {
  /** Mask value (0 = background). */
  id: number;
  /** Valid GT pixels of this class (void predictions included under 'miss'). */
  gtPixels: number;
  /** Pixels predicted as this class, on valid GT. */
  predictedPixels: number;
  /** Pixels where both GT and prediction are this class. */
  truePositives: number;
  /** TP / (GT + predicted − TP); NaN when the class is neither in GT nor predicted. */
  iou: number;
  /** TP / predicted; NaN when never predicted. */
  precision: number;
  /** TP / GT; NaN when absent from the GT. */
  recall: number;
  /** Has GT pixels, so counts in the mIoU. */
  present: boolean;
}

/** Segmentation scores of a confusion matrix under the VOC protocol, from {@link computeScores}. */
export interface Scores {
  /** How void predictions were scored. */
  rule: VoidPredictionRule;
  /** One entry per class, indexed by class id (0 = background). */
  classes: ClassScore[];
  /** Mean IoU over present classes (NaN if none is present). */
  miou: number;
  /** Correct / scored pixels. */
  pixelAccuracy: number;
  /** Valid GT pixels that were scored (all of them under 'miss'). */
  scoredPixels: number;
  /** Valid GT pixels predicted void. */
  voidPredictions: number;
  /** Fraction of valid GT pixels with a non-void prediction. */
  coverage: number;
  /** GT pixels left out of scoring because their value is ≥ numClasses (255 = void, and stray values). */
  ignoredGtPixels: number;
  /** Of those, pixels whose GT value is neither 255 nor a class: a hint that the label set is wrong. */
  strayGtPixels: number;
  /** Number of images scored. */
  images: number;
}

/** Per-class IoU, precision, recall and the mIoU of a confusion matrix (see the file comment). */
export function computeScores(matrix: ConfusionMatrix, rule: VoidPredictionRule = 'miss'): Scores {
  const n = matrix.numClasses;
  const gtTotal = new Float64Array(n);
  const predTotal = new Float64Array(n);
  let correct = 0;
  let voidPredictions = 0;
  let validGt = 0;
  for (let g = 0; g < n; g++) {
    for (let p = 0; p < n; p++) {
      const c = matrix.at(g, p);
      gtTotal[g]! += c;
      predTotal[p]! += c;
      if (g === p) correct += c;
    }
    const v = matrix.at(g, n);
    voidPredictions += v;
    if (rule === 'miss') gtTotal[g]! += v;
  }
  for (let g = 0; g < n; g++) validGt += gtTotal[g]!;
  if (rule === 'exclude') validGt += voidPredictions;

  const classes: ClassScore[] = [];
  let iouSum = 0;
  let present = 0;
  for (let k = 0; k < n; k++) {
    const tp = matrix.at(k, k);
    const gt = gtTotal[k]!;
    const predicted = predTotal[k]!;
    const union = gt + predicted - tp;
    const score: ClassScore = {
      id: k,
      gtPixels: gt,
      predictedPixels: predicted,
      truePositives: tp,
      iou: union > 0 ? tp / union : Number.NaN,
      precision: predicted > 0 ? tp / predicted : Number.NaN,
      recall: gt > 0 ? tp / gt : Number.NaN,
      present: gt > 0,
    };
    if (score.present) {
      iouSum += score.iou;
      present++;
    }
    classes.push(score);
  }
  const scoredPixels = rule === 'miss' ? validGt : validGt - voidPredictions;
  return {
    rule,
    classes,
    miou: present > 0 ? iouSum / present : Number.NaN,
    pixelAccuracy: scoredPixels > 0 ? correct / scoredPixels : Number.NaN,
    scoredPixels,
    voidPredictions,
    coverage: validGt > 0 ? (validGt - voidPredictions) / validGt : Number.NaN,
    ignoredGtPixels: matrix.ignoredGtPixels,
    strayGtPixels: matrix.strayGtPixels,
    images: matrix.images,
  };
}
