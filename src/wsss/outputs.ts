// Writes one image's seed files (seed-files.ts says which) into a folder, each atomically
// (src/io/atomic.ts), so a crash leaves either the complete file or none. Stage label maps go to
// `<stageDir>/<stage>/<id>.png`, for per-stage evaluation. The seed PNG is written last: its
// presence marks a finished image (dataset runs resume on it).

import { mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import type { RgbaImage } from '../io/image.js';
import type { LabelSet } from './labelset.js';
import { seedFiles } from './seed-files.js';
import type { SeedResult } from './seeds.js';

export { fileSafe } from './seed-files.js';

/** Which files writeSeedOutputs writes besides the seed PNG. */
export interface WriteSeedOptions {
  /** Write the per-label CAMs as .npy (default: when the run read them back, SeedOptions.read). */
  cams?: boolean;
  /** Write the overlay PNG (default true). */
  overlay?: boolean;
  /** Write each computed stage's label map to `<stageDir>/<stage>/<id>.png`. */
  stageDir?: string;
  /** The image id used for the stage maps' file names (required with stageDir). */
  id?: string;
}

/** Writes the seed files of one image as `<base>.png`, `<base>.overlay.png`, `<base>.cam.<class>.npy`; returns their paths. */
export async function writeSeedOutputs(base: string, image: RgbaImage, result: SeedResult, labelSet: LabelSet, options: WriteSeedOptions = {}): Promise<string[]> {
  if (options.stageDir !== undefined && options.id === undefined) throw new RangeError('writeSeedOutputs: stageDir needs an id');
  const folder = dirname(base);
  await mkdir(folder, { recursive: true });
  const written: string[] = [];
  for (const file of seedFiles(basename(base), image, result, labelSet, { cams: options.cams, overlay: options.overlay, stages: options.stageDir !== undefined })) {
    const path = file.stage ? join(options.stageDir!, file.stage, `${options.id}.png`) : join(folder, file.path);
    if (file.stage) await mkdir(dirname(path), { recursive: true });
    await writeFileAtomic(path, file.bytes);
    written.push(path);
  }
  return written;
}
