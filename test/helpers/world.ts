// The world's val images and the world CLIP, as the seed-pipeline tests use them.
import { join } from 'node:path';
import type { RgbaImage } from '../../src/io/image.js';
import { generateImage, worldLabelSetJson } from '../../src/world/generate.js';
import { parseLabelSet } from '../../src/wsss/labelset.js';
import { ROOT } from '../weights/helpers.js';

/** The bundled world CLIP's folder. */
export const WORLD_CLIP = join(ROOT, 'weights', 'world-clip');

/** The world's label set. */
export const worldLabelSet = parseLabelSet(worldLabelSetJson(), 'world');

/** Val image `index` of world seed 1 as RGBA, with its image-level labels (class indices). */
export function worldImage(index: number): { image: RgbaImage; labels: number[] } {
  const { record, image } = generateImage(1, index, 'val');
  return { image: { width: image.width, height: image.height, data: image.rgba }, labels: record.classIds.map((c) => c - 1) };
}
