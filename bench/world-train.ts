// WSSS end to end on the synthetic world, the way papers report it: seeds for the training split,
// a segmentation network trained on them, and the network's val mIoU next to the seeds' own val
// mIoU (`npx tsx bench/world-train.ts [options]`).
//
//   1. the seed-1 world (200 train, 60 val images; `seedmask world generate`)
//   2. `seedmask seeds` on the train split (the training labels) and on the val split (the seeds'
//      own val mIoU, every stage)
//   3. `seedmask train` on the train seeds, validated on the val ground truth
// Every step runs the `seedmask` command, resumes where an earlier run of this script stopped
// (--work keeps the world, the seeds and the run), and the result goes to
// bench/results/world-train-<date>.json.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { worldTrainArgs } from '../src/train/world-recipe.js';
import { BENCH_ROOT as ROOT } from './lib/driver.js';

const BIN = path.join(ROOT, 'bin', 'seedmask.mjs');
const WEIGHTS = path.join(ROOT, 'weights', 'world-clip');

const WORLD_TRAIN_ARGS = worldTrainArgs();

function parse(argv: string[]): { work: string; steps: number; valEvery: number; out?: string } {
  const o = { work: '/tmp/seedmask-world-train', steps: 1200, valEvery: 300, out: undefined as string | undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    if (a === '--work' && v) (o.work = v), i++;
    else if (a === '--steps' && v) (o.steps = Number(v)), i++;
    else if (a === '--val-every' && v) (o.valEvery = Number(v)), i++;
    else if (a === '--out' && v) (o.out = v), i++;
    else {
      process.stderr.write(`usage: npx tsx bench/world-train.ts [--work DIR] [--steps N] [--val-every N] [--out FILE]\n`);
      process.exit(2);
    }
  }
  return o;
}

function seedmask(args: string[]): void {
  process.stderr.write(`$ seedmask ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [BIN, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`seedmask ${args[0]} failed (exit ${r.status ?? r.signal})`);
}

const opts = parse(process.argv.slice(2));
const world = path.join(opts.work, 'world');
const trainSeeds = path.join(opts.work, 'seeds-train');
const valSeeds = path.join(opts.work, 'seeds-val');
const run = path.join(opts.work, `run-${opts.steps}`);
mkdirSync(opts.work, { recursive: true });
const t0 = performance.now();
if (!existsSync(path.join(world, 'world.json'))) seedmask(['world', 'generate', '--out', world, '--seed', '1', '--quiet']);
const seedArgs = ['--weights', WEIGHTS, '--labelset', path.join(world, 'labelset.json'), '--dataset', world, '--no-cams', '--no-overlay'];
seedmask(['seeds', ...seedArgs, '--split', 'train', '-o', trainSeeds]);
seedmask(['seeds', ...seedArgs, '--split', 'val', '--stages', 'all', '-o', valSeeds]);
const tSeeds = performance.now();
seedmask(['train', '--dataset', world, '--seeds', trainSeeds, '--labelset', path.join(world, 'labelset.json'), '-o', run, '--steps', String(opts.steps), '--val-every', String(opts.valEvery), ...WORLD_TRAIN_ARGS]);
const tTrain = performance.now();

const summary = JSON.parse(readFileSync(path.join(valSeeds, 'summary.json'), 'utf8')) as { scores: Record<string, { miou: number }> };
const curve = JSON.parse(readFileSync(path.join(run, 'curve.json'), 'utf8')) as { losses: number[]; validation: { iteration: number; miou: number; pixelAccuracy: number; images: number }[] };
const last = curve.validation[curve.validation.length - 1]!;
const seedsMiou = summary.scores.seeds?.miou ?? summary.scores.crf!.miou;
const result = {
  what: 'WSSS on the seed-1 world: seeds (world CLIP, CLIP-ES pipeline, CRF refiner) for the 200 train images, a segmenter trained on them with `seedmask train`, scored on the 60 val images against the seeds of those val images',
  date: new Date().toISOString(),
  command: `npx tsx bench/world-train.ts --steps ${opts.steps} --val-every ${opts.valEvery}`,
  trainArgs: [...WORLD_TRAIN_ARGS, '--steps', String(opts.steps), '--val-every', String(opts.valEvery)],
  valImages: last.images,
  seedsVal: Object.fromEntries(Object.entries(summary.scores).map(([k, v]) => [k, v.miou])),
  seedsValMiou: seedsMiou,
  trainedValMiou: last.miou,
  trainedValPixelAccuracy: last.pixelAccuracy,
  gainPoints: 100 * (last.miou - seedsMiou),
  validation: curve.validation,
  finalLoss: curve.losses[curve.losses.length - 1],
  lossEvery50: curve.losses.filter((_, i) => i % 50 === 0),
  seconds: { seedsThisRun: (tSeeds - t0) / 1000, trainThisRun: (tTrain - tSeeds) / 1000 },
};
const out = opts.out ?? path.join(ROOT, 'bench', 'results', `world-train-${result.date.slice(0, 10)}.json`);
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`seeds val mIoU ${(100 * seedsMiou).toFixed(2)} %, trained network ${(100 * last.miou).toFixed(2)} % (${result.gainPoints >= 0 ? '+' : ''}${result.gainPoints.toFixed(2)} points) → ${out}\n`);
