// The synthetic world as a dataset on disk, in VOC layout:
//
//   OUT/JPEGImages/<id>.jpg                 the photos (JPEG quality 90)
//   OUT/SegmentationClass/<id>.png          VOC-palette ground truth (0 background, 1..10 classes, 255 void band)
//   OUT/ImageSets/Segmentation/train.txt    ids of the training images, then val.txt
//   OUT/captions.jsonl                      one JSON object per image: id, split, caption, labels, scene, …
//   OUT/labelset.json                       the label set (see src/wsss/labelset.ts)
//   OUT/world.json                          how it was made (generator version, seed, counts)
//
// Deterministic: image i depends only on (seed, i), through its own random stream, so the same seed
// gives byte-identical files, and changing --val leaves the training images unchanged. Metadata is
// written after all images, so an interrupted run has no split lists and is plainly incomplete.

import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { IoError } from '../io/errors.js';
import { encodeJpeg } from '../io/image.js';
import { encodeLabelPng } from '../io/labelpng.js';
import { vocLayout } from '../io/voc.js';
import { makeCaption } from './caption.js';
import { worldLabelSetJson } from './labelset.js';
import { WORLD_CLASSES } from './classes.js';
import { sampleLayout } from './layout.js';
import { renderLayout, type RenderedImage } from './render.js';
import { Rng, mixSeed } from './rng.js';
import { SCENES, type SceneKind } from './scenes.js';

/** Bump when a change alters the generated images, masks or captions for a given seed. */
export { worldLabelSetJson } from './labelset.js';

export const WORLD_VERSION = 1;
export const JPEG_QUALITY = 90;
/** An object must keep this many non-void ground-truth pixels, or the image is redrawn. */
const MIN_OBJECT_PIXELS = 60;

export interface WorldObjectRecord {
  class: string;
  color: string;
  texture: string;
  /** Non-void ground-truth pixels of this object. */
  pixels: number;
}

export interface WorldRecord {
  id: string;
  split: 'train' | 'val';
  width: number;
  height: number;
  scene: SceneKind;
  caption: string;
  /** Class names in order of first appearance (back to front); parse with parseLabels. */
  labels: string[];
  /** Mask values of `labels` (class index + 1). */
  classIds: number[];
  objects: WorldObjectRecord[];
  /** Void (255) pixels of the ground truth. */
  voidPixels: number;
}

export interface GeneratedImage {
  record: WorldRecord;
  image: RenderedImage;
}

export function imageId(index: number): string {
  return String(index).padStart(6, '0');
}

/** Generates image `index` of the world with this seed (pure: no files). */
export function generateImage(seed: number, index: number, split: 'train' | 'val'): GeneratedImage {
  const rng = new Rng(mixSeed(seed, index, WORLD_VERSION));
  for (let attempt = 0; ; attempt++) {
    // Redraws are rare (a few per hundred images); this many means the constraints cannot be met.
    if (attempt === 100) throw new Error(`world image ${index} (seed ${seed}): no acceptable layout in 100 draws`);
    const layout = sampleLayout(rng);
    if (layout.objects.length === 0) continue;
    const image = renderLayout(layout, rng);
    // The band can swallow a thin, mostly hidden object; such an image would carry a label that
    // the ground truth does not show, so it is redrawn.
    if (image.objectPixels.some((n) => n < MIN_OBJECT_PIXELS)) continue;

    const labels: string[] = [];
    for (const o of layout.objects) if (!labels.includes(o.cls.name)) labels.push(o.cls.name);
    let voidPixels = 0;
    for (const v of image.mask) if (v === 255) voidPixels++;
    const record: WorldRecord = {
      id: imageId(index),
      split,
      width: layout.width,
      height: layout.height,
      scene: layout.scene.kind,
      caption: makeCaption(layout.objects, layout.scene.kind, rng),
      labels,
      classIds: labels.map((name) => WORLD_CLASSES.findIndex((c) => c.name === name) + 1),
      objects: layout.objects.map((o, k) => ({ class: o.cls.name, color: o.paint.mainName, texture: o.paint.texture.kind, pixels: image.objectPixels[k]! })),
      voidPixels,
    };
    return { record, image };
  }
}


export interface WorldOptions {
  out: string;
  seed: number;
  train: number;
  val: number;
  /**
   * Write only the val images (default false). Their ids and pixels are those of the full world
   * (image i depends only on (seed, i)), so a val-only world scores exactly like the full one's val
   * split, at a fraction of the cost; train.txt is then empty and world.json says so.
   */
  valOnly?: boolean;
  /** Called after each image. */
  onProgress?: (done: number, total: number) => void;
}

export interface WorldSummary {
  records: WorldRecord[];
  seconds: number;
}

const MANIFEST = 'world.json';
/** Writes in flight at once: lets encoding of the next image overlap the fsyncs of the last. */
const MAX_PENDING_WRITES = 8;

export async function generateWorld(options: WorldOptions): Promise<WorldSummary> {
  const { out, seed, train, val } = options;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`seed must be an integer in 0..4294967295, got ${seed}`);
  for (const [name, n] of [['train', train], ['val', val]] as const) {
    if (!Number.isInteger(n) || n < 0 || n > 999999) throw new RangeError(`--${name} must be an integer in 0..999999, got ${n}`);
  }
  if (train + val === 0) throw new RangeError('nothing to generate: --train and --val are both 0');
  await checkOutputDirectory(out);
  const layout = vocLayout(out);
  await Promise.all([layout.imagesDir, layout.masksDir, layout.splitsDir].map((d) => mkdir(d, { recursive: true })));

  const start = performance.now();
  const total = train + val;
  const first = options.valOnly ? train : 0;
  const records: WorldRecord[] = [];
  // Writes run in the background, a few at a time; the first failure stops the run.
  const pending = new Set<Promise<void>>();
  let failure: unknown;
  const track = (write: Promise<void>) => {
    const settled: Promise<void> = write
      .catch((err: unknown) => {
        failure ??= err;
      })
      .finally(() => pending.delete(settled));
    pending.add(settled);
  };
  for (let index = first; index < total; index++) {
    const { record, image } = generateImage(seed, index, index < train ? 'train' : 'val');
    records.push(record);
    track(writeFileAtomic(layout.imagePath(record.id), encodeJpeg({ width: image.width, height: image.height, data: image.rgba }, JPEG_QUALITY)));
    track(writeFileAtomic(layout.maskPath(record.id), encodeLabelPng({ width: image.width, height: image.height, data: image.mask })));
    if (pending.size >= MAX_PENDING_WRITES) await Promise.race(pending);
    if (failure !== undefined) break;
    options.onProgress?.(index + 1 - first, total - first);
  }
  await Promise.all(pending);
  if (failure !== undefined) throw failure;

  const ids = (split: string) => records.filter((r) => r.split === split).map((r) => `${r.id}\n`).join('');
  await writeFileAtomic(layout.splitPath('train'), ids('train'));
  await writeFileAtomic(layout.splitPath('val'), ids('val'));
  await writeFileAtomic(join(out, 'captions.jsonl'), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  await writeFileAtomic(join(out, 'labelset.json'), `${JSON.stringify(worldLabelSetJson(), null, 2)}\n`);
  const manifest = {
    generator: 'seedmask world',
    version: WORLD_VERSION,
    seed,
    train,
    val,
    ...(options.valOnly ? { valOnly: true } : {}),
    jpegQuality: JPEG_QUALITY,
    classes: WORLD_CLASSES.map((c) => ({ name: c.name, context: c.context ?? null })),
    scenes: SCENES.map((s) => s.kind),
  };
  await writeFileAtomic(join(out, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  return { records, seconds: (performance.now() - start) / 1000 };
}

/** Refuses to write into a directory that holds something other than an earlier world. */
async function checkOutputDirectory(out: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(out);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new IoError(out, `cannot use as output directory: ${(err as Error).message}`);
  }
  if (entries.length > 0 && !entries.includes(MANIFEST)) {
    throw new IoError(out, `directory is not empty and holds no ${MANIFEST}; refusing to write a world into it (choose an empty or new --out)`);
  }
}
