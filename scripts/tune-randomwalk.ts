// `npx tsx scripts/tune-randomwalk.ts [--images N] [--out FILE]`: sweeps the random walk's β, logt
// and α for CLIP patch features (RW_CLIP_DEFAULTS in src/wsss/stages/rw.ts) on the world's TRAIN
// images with the bundled world CLIP, so that the val images CI and README score stay unseen.
// Prints mIoU per setting and writes them (default bench/results/rw-sweep-train-<date>.json).
import { join } from 'node:path';
import { computeScores, ConfusionMatrix } from '../src/eval/confusion.js';
import { Gpu } from '../src/gpu/context.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { ClipModel } from '../src/models/clip/model.js';
import { worldPhoto } from '../src/world/photo.js';
import { worldLabelSetJson } from '../src/world/labelset.js';
import { parseLabelSet } from '../src/wsss/labelset.js';
import { SeedPipeline } from '../src/wsss/seeds.js';
import { parseArgs, integerOption } from '../src/cli/args.js';

const ROOT = join(import.meta.dirname, '..');
const args = parseArgs(process.argv.slice(2), { values: ['--images', '--out'], flags: [] });
const count = integerOption(args, '--images', 12);
const date = new Date().toISOString().slice(0, 10);
const out = args.values.get('--out') ?? join(ROOT, 'bench', 'results', `rw-sweep-train-${date}.json`);
const grid = [8, 16, 32].flatMap((beta) => [1, 2, 3].flatMap((logt) => [2, 4, 8].map((alpha) => ({ beta, logt, alpha, radius: 5 }))));

const gpu = await Gpu.open();
try {
  const model = await ClipModel.load(gpu, join(ROOT, 'weights', 'world-clip'));
  const pipeline = new SeedPipeline(model);
  const labelSet = parseLabelSet(worldLabelSetJson(), 'world');
  const matrices = grid.map(() => new ConfusionMatrix(labelSet.classes.length + 1));
  for (let i = 0; i < count; i++) {
    // As the world's files are read: JPEG-encoded at the generator's quality and decoded again.
    const { image, labels, mask } = await worldPhoto(1, i, 'train');
    for (const [k, setting] of grid.entries()) {
      const r = await pipeline.run(image, labels, { labelSet, refiner: 'randomwalk', randomWalk: setting });
      matrices[k]!.add(mask, r.seeds, `train ${i}`);
    }
    process.stderr.write(`\r${i + 1}/${count} train images`);
  }
  process.stderr.write('\n');
  const rows = grid.map((setting, k) => ({ ...setting, miou: computeScores(matrices[k]!).miou })).sort((a, b) => b.miou - a.miou);
  for (const r of rows) console.log(`β ${r.beta}  logt ${r.logt}  α ${r.alpha}: mIoU ${(100 * r.miou).toFixed(2)} %`);
  await writeFileAtomic(out, `${JSON.stringify({ tool: 'scripts/tune-randomwalk.ts', date: new Date().toISOString(), adapter: gpu.adapterName, world: { seed: 1, split: 'train', images: [0, count - 1] }, settings: rows }, null, 1)}\n`);
  console.log(`best: ${JSON.stringify(rows[0])}; wrote ${out}`);
  await model.destroy();
} finally {
  await gpu.destroy();
}
