// The world's val images and the world CLIP, as the seed-pipeline tests use them.
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { Gpu } from '../../src/gpu/context.js';
import type { RgbaImage } from '../../src/io/image.js';
import { ClipModel } from '../../src/models/clip/model.js';
import { generateImage, worldLabelSetJson } from '../../src/world/generate.js';
import { parseLabelSet } from '../../src/wsss/labelset.js';
import { SeedPipeline } from '../../src/wsss/seeds.js';
import { testGpu } from './gpu.js';
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

/**
 * The test file's GPU, the world CLIP on it and a SeedPipeline, made before its tests (beforeAll)
 * and the model freed after them; read the fields inside tests.
 */
export function worldPipeline(): { readonly gpu: Gpu; readonly model: ClipModel; readonly pipeline: SeedPipeline } {
  const made = {} as { gpu: Gpu; model: ClipModel; pipeline: SeedPipeline };
  beforeAll(async () => {
    made.gpu = await testGpu();
    made.model = await ClipModel.load(made.gpu, WORLD_CLIP);
    made.pipeline = new SeedPipeline(made.model);
  });
  afterAll(async () => {
    await made.model?.destroy();
  });
  return made;
}
