// Accuracy regression guard: the whole seed pipeline (Grad-CAM, CAA, CRF, PAR, random walk) on the
// first 8 held-out val images of the seed-1 world with the bundled world CLIP must not score below
// the floors committed with the model (weights/world-clip/floors.json, a few points under the
// measured values). A change that breaks a stage's quality — not just its numerics — fails here.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ClipModel } from '../../src/models/clip/model.js';
import { generateWorld } from '../../src/world/generate.js';
import { runDataset } from '../../src/wsss/dataset.js';
import { loadLabelSet } from '../../src/wsss/labelset.js';
import { SeedPipeline, STAGES } from '../../src/wsss/seeds.js';
import { testGpu } from '../helpers/gpu.js';
import { ROOT } from '../weights/helpers.js';

let dir: string;
let model: ClipModel;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'seedmask-floors-'));
  model = await ClipModel.load(await testGpu(), join(ROOT, 'weights', 'world-clip', 'model.safetensors'));
});
afterAll(async () => {
  await model?.destroy();
  await rm(dir, { recursive: true, force: true });
});

it('every stage holds its mIoU floor on the world subset', { timeout: 480_000 }, async () => {
  const spec = JSON.parse(await readFile(join(ROOT, 'weights', 'world-clip', 'floors.json'), 'utf8')) as {
    world: { seed: number; train: number; images: [string, string] };
    floors: Record<string, number>;
  };
  const first = Number(spec.world.images[0]), last = Number(spec.world.images[1]);
  const world = join(dir, 'world');
  await generateWorld({ out: world, seed: spec.world.seed, train: spec.world.train, val: last - first + 1, valOnly: true });
  const labelSet = await loadLabelSet(join(world, 'labelset.json'));
  const summary = await runDataset(new SeedPipeline(model), {
    root: world, out: join(dir, 'run'), labelSet, split: 'val',
    seedOptions: { labelSet, refiner: 'crf', stages: STAGES },
  });
  expect(summary.failures).toEqual([]);
  expect(summary.processed).toBe(last - first + 1);
  const report = Object.fromEntries(Object.entries(summary.scores).map(([k, s]) => [k, +(100 * s!.miou).toFixed(2)]));
  await writeFile(join(dir, 'scores.json'), JSON.stringify(report));
  for (const [stage, floor] of Object.entries(spec.floors)) {
    const score = summary.scores[stage as keyof typeof summary.scores];
    expect(score, `stage ${stage} was scored`).toBeDefined();
    expect(score!.miou, `${stage}: mIoU ${(100 * score!.miou).toFixed(2)} % under the floor ${(100 * floor).toFixed(1)} % (all: ${JSON.stringify(report)})`).toBeGreaterThanOrEqual(floor);
  }
});
