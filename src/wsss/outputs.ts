// Files written for one image's seeds, always atomically (src/io/atomic.ts), so a crash leaves
// either the complete file or none:
//
//   <base>.png                 the seed mask: VOC-palette PNG, values = class id (0 = background,
//                              k + 1 = class k of the label set), 255 = ignore
//   <base>.overlay.png         the photo with the seed mask painted over it (optional)
//   <base>.cam.<class>.npy     float32 [H, W] refined CAM of each label (optional), the CAMs CLIP-ES
//                              saves as `attn_highres` (values rounded to float16 as it stores them)
//   <stageDir>/<stage>/<id>.png label maps of the intermediate stages, for per-stage evaluation
//
// The seed PNG is written last: its presence marks a finished image (dataset runs resume on it).

import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { encodePng, type RgbaImage } from '../io/image.js';
import { encodeLabelPng } from '../io/labelpng.js';
import { encodeNpy } from '../io/npy.js';
import type { LabelSet } from './labelset.js';
import { overlayLabels } from './overlay.js';
import type { SeedResult } from './seeds.js';

export interface WriteSeedOptions {
  /** Write the per-label CAMs as .npy (default true). */
  cams?: boolean;
  /** Write the overlay PNG (default true). */
  overlay?: boolean;
  /** Write each computed stage's label map to `<stageDir>/<stage>/<id>.png`. */
  stageDir?: string;
  id?: string;
}

/** A file-name-safe form of a class name ("potted plant" → "potted_plant"). */
export function fileSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_');
}

export async function writeSeedOutputs(base: string, image: RgbaImage, result: SeedResult, labelSet: LabelSet, options: WriteSeedOptions = {}): Promise<string[]> {
  const written: string[] = [];
  await mkdir(dirname(base), { recursive: true });
  const { width, height } = result;
  const plane = width * height;
  if (options.cams ?? true) {
    for (const [k, c] of result.labels.entries()) {
      const path = `${base}.cam.${fileSafe(labelSet.classes[c]!.name)}.npy`;
      await writeFileAtomic(path, encodeNpy(result.cams.subarray(k * plane, (k + 1) * plane), [height, width]));
      written.push(path);
    }
  }
  if (options.stageDir !== undefined) {
    if (options.id === undefined) throw new RangeError('writeSeedOutputs: stageDir needs an id');
    for (const [stage, map] of Object.entries(result.stages)) {
      const dir = join(options.stageDir, stage);
      await mkdir(dir, { recursive: true });
      const path = join(dir, `${options.id}.png`);
      await writeFileAtomic(path, encodeLabelPng({ width, height, data: map }));
      written.push(path);
    }
  }
  const seeds = { width, height, data: result.seeds };
  if (options.overlay ?? true) {
    const path = `${base}.overlay.png`;
    await writeFileAtomic(path, encodePng(overlayLabels(image, seeds)));
    written.push(path);
  }
  await writeFileAtomic(`${base}.png`, encodeLabelPng(seeds));
  written.push(`${base}.png`);
  return written;
}
