// Accuracy regression guard: the whole seed pipeline (Grad-CAM, CAA, CRF, PAR, random walk) on the
// first 8 held-out val images of the seed-1 world with the bundled world CLIP. Each stage's mIoU
// must lie within ±band of the values committed with the model (weights/world-clip/floors.json): a
// change that lowers a stage fails, and so does one that raises it until the committed values are
// updated on purpose. The relations between stages (CAA above the CAM, the CRF above CAA, …) must
// hold, and every stage must beat a blind baseline computed here from the labels alone.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { computeScores, ConfusionMatrix } from '../../src/eval/confusion.js';
import { readLabelMap } from '../../src/io/files.js';
import { vocLayout } from '../../src/io/voc.js';
import { ClipModel } from '../../src/models/clip/model.js';
import { generateWorld } from '../../src/world/generate.js';
import { runDataset } from '../../src/wsss/dataset.js';
import { loadLabelSet } from '../../src/wsss/labelset.js';
import { SeedPipeline, STAGES } from '../../src/wsss/seeds.js';
import { testGpu } from '../helpers/gpu.js';
import { ROOT } from '../weights/helpers.js';

interface FloorSpec {
  world: { seed: number; train: number; images: [string, string] };
  measured: Record<string, number>;
  band: number;
  relations: [string, '>', string][];
  baselineMargin: number;
}

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

/**
 * The blind baseline: for each image, a centred ellipse with half the image's width and height,
 * split into vertical bands, one per label (ascending class id), the rest background. It knows the
 * labels (as every stage does) but not the pixels.
 */
function centreBlob(width: number, height: number, classIds: number[]): Uint8Array {
  const map = new Uint8Array(width * height);
  const [cx, cy, rx, ry] = [width / 2, height / 2, width / 4, height / 4];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const dx = (x + 0.5 - cx) / rx, dy = (y + 0.5 - cy) / ry;
      if (dx * dx + dy * dy > 1) continue;
      const band = Math.min(classIds.length - 1, Math.floor(((x + 0.5 - (cx - rx)) / (2 * rx)) * classIds.length));
      map[y * width + x] = classIds[Math.max(0, band)]!;
    }
  }
  return map;
}

it('every stage lies in its band, the stages keep their order, and all beat a blind baseline', { timeout: 480_000 }, async () => {
  const spec = JSON.parse(await readFile(join(ROOT, 'weights', 'world-clip', 'floors.json'), 'utf8')) as FloorSpec;
  const first = Number(spec.world.images[0]), last = Number(spec.world.images[1]);
  const world = join(dir, 'world');
  await generateWorld({ out: world, seed: spec.world.seed, train: spec.world.train, val: last - first + 1, valOnly: true });
  const labelSet = await loadLabelSet(join(world, 'labelset.json'));
  const summary = await runDataset(new SeedPipeline(model), {
    root: world, out: join(dir, 'run'), labelSet, split: 'val',
    seedOptions: { labelSet, camSource: 'gradcam', refiner: 'crf', stages: STAGES },
  });
  expect(summary.failures).toEqual([]);
  expect(summary.processed).toBe(last - first + 1);
  const miou = Object.fromEntries(Object.entries(summary.scores).map(([k, s]) => [k, s!.miou]));
  const all = JSON.stringify(Object.fromEntries(Object.entries(miou).map(([k, v]) => [k, +(100 * v).toFixed(2)])));

  // The band, both ways.
  expect(Object.keys(spec.measured).sort()).toEqual([...STAGES, 'seeds'].sort());
  for (const [stage, want] of Object.entries(spec.measured)) {
    const got = miou[stage];
    expect(got, `stage ${stage} was scored`).toBeDefined();
    expect(Math.abs(got! - want), `${stage}: mIoU ${(100 * got!).toFixed(2)} % is outside ${(100 * want).toFixed(2)} ± ${(100 * spec.band).toFixed(1)} (all: ${all})`).toBeLessThanOrEqual(spec.band);
  }
  for (const [a, op, b] of spec.relations) {
    expect(op, 'floors.json relations use >').toBe('>');
    expect(miou[a]!, `${a} > ${b} (all: ${all})`).toBeGreaterThan(miou[b]!);
  }

  // The blind baseline on the same images, scored the same way.
  const layout = vocLayout(world);
  const matrix = new ConfusionMatrix(labelSet.classes.length + 1);
  for (let i = first; i <= last; i++) {
    const id = String(i).padStart(6, '0');
    const gt = await readLabelMap(layout.maskPath(id));
    const classIds = [...new Set(gt.data)].filter((v) => v !== 0 && v !== 255).sort((p, q) => p - q);
    matrix.add(gt.data, centreBlob(gt.width, gt.height, classIds), id);
  }
  const baseline = computeScores(matrix).miou;
  console.log(`world floors: ${all}; blind centre-blob baseline ${(100 * baseline).toFixed(2)}`);
  for (const stage of Object.keys(spec.measured)) {
    expect(miou[stage]!, `${stage}: ${(100 * miou[stage]!).toFixed(2)} % is not ${(100 * spec.baselineMargin).toFixed(0)} points above the blind baseline ${(100 * baseline).toFixed(2)} %`).toBeGreaterThan(baseline + spec.baselineMargin);
  }
});
