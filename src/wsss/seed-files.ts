// The files of one image's seeds, as bytes: the same names and the same bytes from the CLI (which
// writes them atomically, outputs.ts) and from the browser app (which zips them or writes them to
// a picked folder).
//
//   <name>.png                 the seed mask: VOC-palette PNG, values = class id (0 = background,
//                              k + 1 = class k of the label set), 255 = ignore
//   <name>.overlay.png         the photo with the seed mask painted over it (optional)
//   <name>.cam.<class>.npy     float32 [H, W] refined CAM of each label (optional), the CAMs CLIP-ES
//                              saves as `attn_highres` (values rounded to float16 as it stores them)
//   <stage>/<name>.png         label maps of the intermediate stages, for per-stage evaluation
//
// The seed PNG comes last: writers that resume treat its presence as "this image is finished".

import { encodePng, type RgbaImage } from '../io/image.js';
import { encodeLabelPng } from '../io/labelpng.js';
import { encodeNpy } from '../io/npy.js';
import type { LabelSet } from './labelset.js';
import { overlayLabels } from './overlay.js';
import type { SeedResult, Stage } from './seeds.js';

/** Which optional files to make. */
export interface SeedFileOptions {
  /** The per-label CAMs as .npy (default: when the run read them back, SeedOptions.read). */
  cams?: boolean;
  /** The overlay PNG (default true). */
  overlay?: boolean;
  /** Each computed stage's label map as `<stage>/<name>.png` (default false). */
  stages?: boolean;
}

/** One output file: a path relative to the output folder, and its bytes. */
export interface SeedFile {
  path: string;
  bytes: Uint8Array;
  /** For a stage's label map: the stage (writers may put stage maps elsewhere). */
  stage?: Stage;
}

/** A file-name-safe form of a class name ("potted plant" → "potted_plant"). */
export function fileSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_');
}

/** The files for one image called `name` (no extension), seed PNG last. */
export function seedFiles(name: string, image: RgbaImage, result: SeedResult, labelSet: LabelSet, options: SeedFileOptions = {}): SeedFile[] {
  const files: SeedFile[] = [];
  const { width, height } = result;
  const plane = width * height;
  // The CAMs are written when they were read back (SeedOptions.read: ['cams']), unless told otherwise.
  if (options.cams ?? result.cams !== undefined) {
    const cams = result.cams;
    if (!cams) throw new Error(`seedFiles: ${name}: the CAMs were not read back (run the pipeline with read: ['cams'] to write them)`);
    for (const [k, c] of result.labels.entries()) {
      files.push({ path: `${name}.cam.${fileSafe(labelSet.classes[c]!.name)}.npy`, bytes: encodeNpy(cams.subarray(k * plane, (k + 1) * plane), [height, width]) });
    }
  }
  if (options.stages) {
    for (const [stage, map] of Object.entries(result.stages) as [Stage, Uint8Array][]) files.push({ path: `${stage}/${name}.png`, bytes: encodeLabelPng({ width, height, data: map }), stage });
  }
  const seeds = { width, height, data: result.seeds };
  if (options.overlay ?? true) files.push({ path: `${name}.overlay.png`, bytes: encodePng(overlayLabels(image, seeds)) });
  files.push({ path: `${name}.png`, bytes: encodeLabelPng(seeds) });
  return files;
}
