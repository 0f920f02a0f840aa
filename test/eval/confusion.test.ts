import { describe, expect, it } from 'vitest';
import { ConfusionMatrix, computeScores, type VoidPredictionRule } from '../../src/eval/confusion.js';

// A 3×4 image, classes 0 (background), 1, 2. GT 255 is void; prediction 255 abstains.
const GT = Uint8Array.of(0, 0, 1, 1, 0, 1, 1, 2, 255, 2, 2, 2);
const PRED = Uint8Array.of(0, 1, 1, 1, 0, 0, 1, 2, 1, 2, 0, 255);

describe('confusion matrix, hand-computed', () => {
  // rows = GT, columns = prediction 0, 1, 2, void:
  //   GT 0: 2 1 0 | 0     GT 1: 1 3 0 | 0     GT 2: 1 0 2 | 1     (GT 255 pixel ignored)
  it('counts pixels, ignoring void GT', () => {
    const m = new ConfusionMatrix(3);
    m.add(GT, PRED);
    const rows = [0, 1, 2].map((g) => [0, 1, 2, 3].map((p) => m.at(g, p)));
    expect(rows).toEqual([
      [2, 1, 0, 0],
      [1, 3, 0, 0],
      [1, 0, 2, 1],
    ]);
    expect(m.ignoredGtPixels).toBe(1);
    expect(m.strayGtPixels).toBe(0);
    expect(m.images).toBe(1);
  });

  it("scores with void predictions as misses ('miss', the default)", () => {
    const m = new ConfusionMatrix(3);
    m.add(GT, PRED);
    const s = computeScores(m);
    expect(s.classes.map((c) => c.iou)).toEqual([2 / 5, 3 / 5, 2 / 4]);
    expect(s.classes.map((c) => c.precision)).toEqual([2 / 4, 3 / 4, 2 / 2]);
    expect(s.classes.map((c) => c.recall)).toEqual([2 / 3, 3 / 4, 2 / 4]);
    expect(s.classes.map((c) => c.gtPixels)).toEqual([3, 4, 4]);
    expect(s.miou).toBeCloseTo(0.5, 15);
    expect(s.pixelAccuracy).toBeCloseTo(7 / 11, 15);
    expect(s.coverage).toBeCloseTo(10 / 11, 15);
    expect(s.voidPredictions).toBe(1);
    expect(s.scoredPixels).toBe(11);
  });

  it("scores with void predictions left out ('exclude')", () => {
    const m = new ConfusionMatrix(3);
    m.add(GT, PRED);
    const s = computeScores(m, 'exclude');
    expect(s.classes[2]!.iou).toBeCloseTo(2 / 3, 15);
    expect(s.classes[2]!.recall).toBeCloseTo(2 / 3, 15);
    expect(s.miou).toBeCloseTo((2 / 5 + 3 / 5 + 2 / 3) / 3, 15);
    expect(s.pixelAccuracy).toBeCloseTo(7 / 10, 15);
    expect(s.coverage).toBeCloseTo(10 / 11, 15);
  });

  it('averages only over classes present in the GT (§3.7); predicted-only classes still cost IoU', () => {
    const m = new ConfusionMatrix(4);
    m.add(Uint8Array.of(0, 0, 1, 1), Uint8Array.of(3, 0, 1, 1));
    const s = computeScores(m);
    expect(s.classes.map((c) => c.present)).toEqual([true, true, false, false]);
    expect(s.classes[3]!.iou).toBe(0); // predicted once, never in the GT: IoU 0 but not in the mean
    expect(s.classes[3]!.precision).toBe(0);
    expect(s.classes[3]!.recall).toBeNaN();
    expect(s.classes[2]!.iou).toBeNaN(); // neither in GT nor predicted
    expect(s.miou).toBeCloseTo((1 / 2 + 1) / 2, 15);
  });

  it('rejects predictions that are no class of the set, and mismatched sizes, naming the file', () => {
    const m = new ConfusionMatrix(3);
    expect(() => m.add(Uint8Array.of(0, 1), Uint8Array.of(0, 7), 'pred/x.png')).toThrow('pred/x.png: predicted value 7 at pixel 1 is not a class (0..2) nor void (255)');
    expect(() => m.add(Uint8Array.of(0, 1), Uint8Array.of(0), 'pred/y.png')).toThrow('pred/y.png: prediction has 1 pixels, ground truth 2');
    m.add(Uint8Array.of(9, 255), Uint8Array.of(0, 0));
    expect(m.ignoredGtPixels).toBe(2);
    expect(m.strayGtPixels).toBe(1);
    expect(computeScores(new ConfusionMatrix(2)).miou).toBeNaN();
    expect(() => new ConfusionMatrix(256)).toThrow(RangeError);
  });
});

/** Per-class counts straight from the pixels, in float64, without a confusion matrix. */
function bruteForce(images: [Uint8Array, Uint8Array][], n: number, rule: VoidPredictionRule) {
  const tp = new Float64Array(n);
  const fp = new Float64Array(n);
  const fn = new Float64Array(n);
  for (const [gt, pred] of images) {
    for (let i = 0; i < gt.length; i++) {
      const g = gt[i]!;
      const p = pred[i]!;
      if (g >= n) continue;
      if (p === 255 && rule === 'exclude') continue;
      if (p === g) tp[g]!++;
      else {
        fn[g]!++;
        if (p !== 255) fp[p]!++;
      }
    }
  }
  const iou = Array.from(tp, (t, k) => t / (t + fp[k]! + fn[k]!));
  const present = Array.from(tp, (t, k) => t + fn[k]! > 0);
  const meanOver = iou.filter((_, k) => present[k]);
  return {
    iou,
    precision: Array.from(tp, (t, k) => t / (t + fp[k]!)),
    recall: Array.from(tp, (t, k) => t / (t + fn[k]!)),
    miou: meanOver.reduce((a, b) => a + b, 0) / meanOver.length,
  };
}

describe('confusion matrix against a brute-force float64 reference', () => {
  it.each(['miss', 'exclude'] as const)('agrees on random images (%s)', (rule) => {
    let seed = 12345;
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const n = 6;
    const images: [Uint8Array, Uint8Array][] = [];
    const whole = new ConfusionMatrix(n);
    const parts = [new ConfusionMatrix(n), new ConfusionMatrix(n)];
    for (let k = 0; k < 7; k++) {
      const size = 50 + Math.floor(rand() * 500);
      const gt = new Uint8Array(size);
      const pred = new Uint8Array(size);
      for (let i = 0; i < size; i++) {
        // Class 5 never appears in the GT; GT is sometimes void; predictions lean towards the GT.
        gt[i] = rand() < 0.08 ? 255 : Math.floor(rand() * 5);
        const r = rand();
        pred[i] = r < 0.05 ? 255 : r < 0.6 && gt[i]! < n ? gt[i]! : Math.floor(rand() * n);
      }
      images.push([gt, pred]);
      whole.add(gt, pred);
      parts[k % 2]!.add(gt, pred);
    }
    parts[0]!.merge(parts[1]!);
    const reference = bruteForce(images, n, rule);
    for (const matrix of [whole, parts[0]!]) {
      const s = computeScores(matrix, rule);
      for (let k = 0; k < n; k++) {
        const c = s.classes[k]!;
        for (const [got, want] of [[c.iou, reference.iou[k]!], [c.precision, reference.precision[k]!], [c.recall, reference.recall[k]!]] as const) {
          if (Number.isNaN(want)) expect(got).toBeNaN();
          else expect(got).toBeCloseTo(want, 14);
        }
      }
      expect(s.miou).toBeCloseTo(reference.miou, 14);
      expect(s.classes[5]!.present).toBe(false);
    }
  });
});
