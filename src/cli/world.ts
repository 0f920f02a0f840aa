// `seedmask world generate --out DIR --seed N [--train 200] [--val 60]` writes the synthetic world
// (src/world/generate.ts) in VOC layout; `seedmask world stats DIR` summarises one: class and scene
// frequencies and how strongly context classes are tied to their scene.

import { join } from 'node:path';
import { IoError } from '../io/errors.js';
import { readText } from '../io/files.js';
import { generateWorld, type WorldRecord } from '../world/generate.js';
import { computeWorldStats, formatWorldStats } from '../world/stats.js';
import { integerOption, parseArgs, requiredOption, UsageError } from './args.js';

const USAGE = `usage:
  seedmask world generate --out DIR --seed N [--train 200] [--val 60] [--quiet]
      Writes a deterministic synthetic dataset in VOC layout: JPEGImages/, SegmentationClass/
      (palette PNGs, 255 = void band), ImageSets/Segmentation/{train,val}.txt, captions.jsonl,
      labelset.json, world.json. The same seed gives byte-identical files. DIR must be new, empty,
      or an earlier world (files are overwritten; images beyond the new counts are left alone).
  seedmask world stats DIR [--json]
      Class, scene and context statistics of a generated world.
`;

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    const args = parseArgs(rest, { values: ['--out', '--seed', '--train', '--val'], flags: ['--quiet', '--json', '-h', '--help'] });
    if (!sub || sub === '-h' || sub === '--help' || args.flags.has('-h') || args.flags.has('--help')) {
      process.stdout.write(USAGE);
      return sub ? 0 : 2;
    }
    if (sub === 'generate') return await generate(args);
    if (sub === 'stats') return await stats(args);
    throw new UsageError(`unknown world command '${sub}'`);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`seedmask world: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof IoError) {
      process.stderr.write(`seedmask world: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

async function generate(args: ReturnType<typeof parseArgs>): Promise<number> {
  if (args.positional.length > 0) throw new UsageError(`unexpected argument '${args.positional[0]}'`);
  const out = requiredOption(args, '--out');
  const seedText = requiredOption(args, '--seed');
  if (!/^\d+$/.test(seedText) || Number(seedText) > 0xffffffff) throw new UsageError(`--seed must be an integer in 0..4294967295, got '${seedText}'`);
  const train = integerOption(args, '--train', 200);
  const val = integerOption(args, '--val', 60);
  if (train + val === 0) throw new UsageError('nothing to generate: --train and --val are both 0');
  if (train + val > 999999) throw new UsageError('at most 999999 images');
  const quiet = args.flags.has('--quiet');
  const progress = quiet || !process.stderr.isTTY ? undefined : (done: number, total: number) => process.stderr.write(`\r${done}/${total} images`);
  const { records, seconds } = await generateWorld({ out, seed: Number(seedText), train, val, onProgress: progress });
  if (progress) process.stderr.write('\n');
  if (!quiet) {
    process.stdout.write(`wrote ${records.length} images (${train} train, ${val} val) to ${out} in ${seconds.toFixed(1)} s (${((1000 * seconds) / records.length).toFixed(0)} ms per image)\n\n`);
    process.stdout.write(formatWorldStats(computeWorldStats(records)));
  }
  return 0;
}

async function stats(args: ReturnType<typeof parseArgs>): Promise<number> {
  if (args.positional.length !== 1) throw new UsageError('stats takes one DIR');
  const path = join(args.positional[0]!, 'captions.jsonl');
  const records = (await readText(path))
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i): WorldRecord => {
      try {
        return JSON.parse(line) as WorldRecord;
      } catch {
        throw new IoError(path, `line ${i + 1} is not valid JSON`);
      }
    });
  const summary = computeWorldStats(records);
  process.stdout.write(args.flags.has('--json') ? `${JSON.stringify(summary, null, 2)}\n` : formatWorldStats(summary));
  return 0;
}
