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

/** The paths of a VOC-layout dataset under one root folder; see {@link vocLayout}. */
export interface VocLayout {
  /** The dataset's root folder, as given to {@link vocLayout}. */
  root: string;
  /** ROOT/JPEGImages: the photos, one `<id>.jpg` each. */
  imagesDir: string;
  /** ROOT/SegmentationClass: the ground-truth label PNGs (class ids, 255 = void). */
  masksDir: string;
  /** ROOT/ImageSets/Segmentation: the split lists, one `<split>.txt` each. */
  splitsDir: string;
  /** Path of image `id`: ROOT/JPEGImages/<id>.jpg. */
  imagePath(id: string): string;
  /** Path of the ground-truth label PNG of `id`: ROOT/SegmentationClass/<id>.png. */
  maskPath(id: string): string;
  /** Path of a split list such as 'train' or 'val': ROOT/ImageSets/Segmentation/<split>.txt. */
  splitPath(split: string): string;
}

/** The VOC-layout paths under `root`; nothing is read or checked on disk. */
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

/** Reads a split list file and parses it as {@link parseSplitList} does; errors name `path`. */
export async function readSplitList(path: string): Promise<string[]> {
  return parseSplitList(await readText(path), path);
}
