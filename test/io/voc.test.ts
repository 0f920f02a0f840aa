import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readLabelMap, writeLabelMap } from '../../src/io/files.js';
import { parseSplitList, readSplitList, vocLayout } from '../../src/io/voc.js';
import { tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('VOC layout', () => {
  it('builds the standard paths', () => {
    const layout = vocLayout('/data/VOC2012');
    expect(layout.imagePath('2007_000032')).toBe(join('/data/VOC2012', 'JPEGImages', '2007_000032.jpg'));
    expect(layout.maskPath('2007_000032')).toBe(join('/data/VOC2012', 'SegmentationClass', '2007_000032.png'));
    expect(layout.splitPath('val')).toBe(join('/data/VOC2012', 'ImageSets', 'Segmentation', 'val.txt'));
  });

  it('parses split lists: VOC ids, COCO-style "id labels…" lines, blank lines and CRLF', () => {
    expect(parseSplitList('2007_000032\n2007_000039\n\n')).toEqual(['2007_000032', '2007_000039']);
    expect(parseSplitList('COCO_train2014_000000000009 44 50 \r\nCOCO_train2014_000000000025 23\r\n')).toEqual(['COCO_train2014_000000000009', 'COCO_train2014_000000000025']);
    expect(() => parseSplitList('\n \n', 'train.txt')).toThrow('train.txt: the split list holds no ids');
    expect(() => parseSplitList('a\nb\na\n', 'val.txt')).toThrow("val.txt: id 'a' is listed twice");
  });

  it('reads split lists and label maps from disk', async () => {
    const list = tmp.path('val.txt');
    writeFileSync(list, 'x\ny\n');
    expect(await readSplitList(list)).toEqual(['x', 'y']);
    await expect(readSplitList(tmp.path('none.txt'))).rejects.toThrow(`${tmp.path('none.txt')}: cannot read`);
    const map = { width: 3, height: 2, data: Uint8Array.of(0, 1, 255, 20, 0, 0) };
    await writeLabelMap(tmp.path('m.png'), map);
    expect(await readLabelMap(tmp.path('m.png'))).toEqual(map);
  });
});
