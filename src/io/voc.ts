// VOC-layout datasets on disk: where things are, and split lists.
//
//   ROOT/JPEGImages/<id>.jpg
//   ROOT/SegmentationClass/<id>.png          palette PNG, values = class ids, 255 = void
//   ROOT/ImageSets/Segmentation/<split>.txt  one id per line
//
// Split lists may also be CLIP-ES's COCO style "<id> <label> <label> …": the first token is the id.

import { join } from 'node:path';
import { IoError } from './errors.js';
import { readText } from './files.js';

export const VOC_DIRS = {
  images: 'JPEGImages',
  masks: 'SegmentationClass',
  splits: join('ImageSets', 'Segmentation'),
} as const;

export interface VocLayout {
  root: string;
  imagesDir: string;
  masksDir: string;
  splitsDir: string;
  imagePath(id: string): string;
  maskPath(id: string): string;
  splitPath(split: string): string;
}

export function vocLayout(root: string): VocLayout {
  const imagesDir = join(root, VOC_DIRS.images);
  const masksDir = join(root, VOC_DIRS.masks);
  const splitsDir = join(root, VOC_DIRS.splits);
  return {
    root,
    imagesDir,
    masksDir,
    splitsDir,
    imagePath: (id) => join(imagesDir, `${id}.jpg`),
    maskPath: (id) => join(masksDir, `${id}.png`),
    splitPath: (split) => join(splitsDir, `${split}.txt`),
  };
}

/** Parses a split list: ids in file order, blank lines skipped, first token of each line. */
export function parseSplitList(text: string, name = '<list>'): string[] {
  const ids = text
    .split(/\r?\n/)
    .map((line) => line.trim().split(/\s+/)[0]!)
    .filter((id) => id.length > 0);
  if (ids.length === 0) throw new IoError(name, 'the split list holds no ids');
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) throw new IoError(name, `id '${id}' is listed twice`);
    seen.add(id);
  }
  return ids;
}

export async function readSplitList(path: string): Promise<string[]> {
  return parseSplitList(await readText(path), path);
}
