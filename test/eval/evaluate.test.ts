import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/eval.js';
import { evaluateDirectory, formatScoreTable } from '../../src/eval/evaluate.js';
import { writeLabelMap } from '../../src/io/files.js';
import { maskClassNames, VOC_LABELSET } from '../../src/wsss/labelset.js';
import { tempDir } from '../io/helpers.js';
import { captureStdio } from '../helpers/stdio.js';

const tmp = tempDir('seedmask-eval-');
afterAll(() => tmp.cleanup());

// Two 4×2 images; VOC ids (0 background, 8 cat, 12 dog), 255 void.
const gtA = Uint8Array.of(0, 0, 8, 8, 0, 255, 8, 8);
const predA = Uint8Array.of(0, 8, 8, 8, 0, 0, 8, 0);
const gtB = Uint8Array.of(12, 12, 0, 0, 12, 12, 0, 0);
const predB = Uint8Array.of(12, 12, 0, 0, 12, 255, 0, 0);

async function writeDataset(): Promise<void> {
  for (const [dir, a, b] of [['gt', gtA, gtB], ['pred', predA, predB]] as const) {
    await import('node:fs/promises').then((fs) => fs.mkdir(tmp.path(dir), { recursive: true }));
    await writeLabelMap(tmp.path(dir, 'a.png'), { width: 4, height: 2, data: a });
    await writeLabelMap(tmp.path(dir, 'b.png'), { width: 4, height: 2, data: b });
  }
  writeFileSync(tmp.path('list.txt'), 'a\nb\n');
}

describe('evaluateDirectory', () => {
  it('scores a directory of predictions over a list', async () => {
    await writeDataset();
    const { scores, ids } = await evaluateDirectory({ gtDir: tmp.path('gt'), predDir: tmp.path('pred'), ids: ['a', 'b'], numClasses: 21 });
    expect(ids).toEqual(['a', 'b']);
    // background: GT 7 valid pixels, predicted 7 times, 6 right → 6 / (7 + 7 − 6)
    expect(scores.classes[0]!.iou).toBeCloseTo(6 / 8, 12);
    // cat: GT 4, predicted 4, right 3 → 3 / 5; dog: GT 4, predicted 3, right 3, one void miss → 3 / 4
    expect(scores.classes[8]!.iou).toBeCloseTo(3 / 5, 12);
    expect(scores.classes[12]!.iou).toBeCloseTo(3 / 4, 12);
    expect(scores.miou).toBeCloseTo((6 / 8 + 3 / 5 + 3 / 4) / 3, 12);
    const table = formatScoreTable(scores, maskClassNames(VOC_LABELSET));
    expect(table).toMatch(/cat\s+60\.00\s+75\.00\s+75\.00\s+4/);
    expect(table).toMatch(/mIoU\s+70\.00\s+over 3 of 21 classes present in the GT, 2 images/);
    expect(table).toMatch(/aeroplane\s+—\s+—\s+—\s+0\s+\(not in GT; not in mean\)/);
    // Without a list: every PNG in the prediction directory.
    expect((await evaluateDirectory({ gtDir: tmp.path('gt'), predDir: tmp.path('pred'), numClasses: 21 })).ids).toEqual(['a', 'b']);
  });

  it('names the missing or mismatched file', async () => {
    await writeDataset();
    await writeLabelMap(tmp.path('pred', 'c.png'), { width: 3, height: 2, data: new Uint8Array(6) });
    await writeLabelMap(tmp.path('gt', 'c.png'), { width: 4, height: 2, data: new Uint8Array(8) });
    await expect(evaluateDirectory({ gtDir: tmp.path('gt'), predDir: tmp.path('pred'), ids: ['c'], numClasses: 21 })).rejects.toThrow(`${tmp.path('pred', 'c.png')}: prediction is 3×2, ground truth ${tmp.path('gt', 'c.png')} is 4×2`);
    await expect(evaluateDirectory({ gtDir: tmp.path('gt'), predDir: tmp.path('pred'), ids: ['zz'], numClasses: 21 })).rejects.toThrow(/zz\.png: cannot read/);
  });
});

describe('seedmask eval', () => {
  const io = captureStdio();

  it('prints the table, or JSON with the confusion matrix', async () => {
    await writeDataset();
    const common = ['--gt', tmp.path('gt'), '--pred', tmp.path('pred'), '--list', tmp.path('list.txt'), '--labelset', 'voc'];
    expect(await run(common)).toBe(0);
    expect(io.stdout).toContain("label set 'voc' (21 classes with background), 2 images");
    expect(io.stdout).toMatch(/mIoU\s+70\.00/);
    io.stdout = '';
    expect(await run([...common, '--json', '--void', 'exclude'])).toBe(0);
    const report = JSON.parse(io.stdout);
    expect(report.rule).toBe('exclude');
    expect(report.classes[12].name).toBe('dog');
    expect(report.classes[12].iou).toBe(1);
    expect(report.classes[1].iou).toBeNull();
    expect(report.confusion.columns.at(-1)).toBe('void');
    expect(report.confusion.counts[12][21]).toBe(1);
  });

  it('exits 2 on usage errors and 1 on bad inputs', async () => {
    expect(await run(['--gt', tmp.path('gt')])).toBe(2);
    expect(io.stderr).toContain('--pred is required');
    expect(await run(['--gt', 'g', '--pred', 'p', '--labelset', 'voc', '--void', 'maybe'])).toBe(2);
    expect(await run(['--gt', tmp.path('gt'), '--pred', tmp.path('pred'), '--labelset', 'nosuchset'])).toBe(1);
    expect(io.stderr).toContain('nosuchset: cannot read label set');
  });
});
