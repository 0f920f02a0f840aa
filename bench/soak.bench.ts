// Soak: `npm run bench:soak [-- --images 1000 --every 50 --browser]`. The seed pipeline (world CLIP, CRF
// refiner, every image a new world image of its own size: index i of the seed-2 world, decoded
// from its JPEG like a file) runs on N images in one process, and every `--every` images it
// records what a long unattended run could leak: the GPU buffer pool (live and held-free buffers
// and bytes), process RSS, JS heap, and the mean time per image of the last window. At the end it
// fits a line to each series after warm-up (the first 20 % of the images) and prints the slope per
// 1,000 images. With --browser the same loop runs in headless Chromium (harness/soak.html; there
// the JS heap comes from performance.memory and there is no RSS). Writes
// bench/results/soak-<adapter>-<date>.json (soak-browser-… with --browser).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runHarnessPage } from '../harness/lib/browser.js';
import { buildHarness } from '../harness/lib/build.js';
import { soakLoop, type SoakSample } from '../harness/lib/soak-loop.js';
import { Gpu } from '../src/gpu/context.js';
import { ClipModel } from '../src/models/clip/model.js';
import { worldLabelSetJson } from '../src/world/labelset.js';
import { parseLabelSet } from '../src/wsss/labelset.js';
import { SeedPipeline } from '../src/wsss/seeds.js';
import { BENCH_ROOT, fmtMiB, numberFlag, parseFlags, resultPath, runMain, table, writeResults } from './lib/driver.js';

const USAGE = `usage: npm run bench:soak -- [--images N] [--every K] [--browser] [--out FILE]
  --browser    run in headless Chromium instead of Node
  --images N   images to run                          [1000]
  --every K    record the counters every K images     [50]
  --out FILE   results file [bench/results/soak-<adapter>-<date>.json]`;

type Sample = SoakSample;

/** Least-squares slope of y over x. */
function slope(x: number[], y: number[]): number {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (x[i]! - mx) * (y[i]! - my);
    den += (x[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

async function soakNode(count: number, every: number): Promise<{ adapter: string; runtime: string; samples: Sample[] }> {
  const gpu = await Gpu.open();
  const model = await ClipModel.load(gpu, path.join(BENCH_ROOT, 'weights', 'world-clip'));
  const pipeline = new SeedPipeline(model);
  const labelSet = parseLabelSet(worldLabelSetJson(), 'world');
  console.log(`soak: ${count} world images on ${gpu.adapterName}, Node ${process.version}, ${os.cpus()[0]?.model} × ${os.cpus().length}`);
  const samples = await soakLoop({
    gpu, pipeline, labelSet, count, every,
    memory: () => {
      const m = process.memoryUsage();
      return { rssBytes: m.rss, heapUsedBytes: m.heapUsed };
    },
    onSample: printSample,
  });
  const adapter = gpu.adapterName;
  await model.destroy();
  await gpu.destroy();
  return { adapter, runtime: `Node ${process.version}`, samples };
}

async function soakBrowser(count: number, every: number): Promise<{ adapter: string; runtime: string; samples: Sample[] }> {
  const pageDir = mkdtempSync(path.join(os.tmpdir(), 'seedmask-soak-'));
  try {
    await buildHarness(pageDir, ['soak']);
    console.log(`soak: ${count} world images in headless Chromium`);
    const run = await runHarnessPage<{ ok: boolean; error?: string; result?: { adapter: string; samples: Sample[] } }>(pageDir, `soak.html?images=${count}&every=${every}`, 24 * 3_600_000, {
      '/world-clip/': path.join(BENCH_ROOT, 'weights', 'world-clip'),
    });
    if (!run.result.ok) throw new Error(`soak page: ${run.result.error}`);
    for (const s of run.result.result!.samples) printSample(s);
    return { adapter: run.result.result!.adapter, runtime: run.browser, samples: run.result.result!.samples };
  } finally {
    rmSync(pageDir, { recursive: true, force: true });
  }
}

function printSample(s: Sample): void {
  const rss = s.rssBytes === undefined ? '' : `  RSS ${fmtMiB(s.rssBytes)}`;
  console.log(`${String(s.images).padStart(5)} images  pool live ${s.poolLiveBuffers} (${fmtMiB(s.poolLiveBytes)}), free ${s.poolFreeBuffers} (${fmtMiB(s.poolFreeBytes)})${rss}  heap ${fmtMiB(s.heapUsedBytes)}  ${s.msPerImage.toFixed(0)} ms/image`);
}

runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { images: { type: 'string' }, every: { type: 'string' }, browser: { type: 'boolean' }, out: { type: 'string' } }, USAGE);
  const count = numberFlag('images', flags.images, 1) ?? 1000;
  const every = numberFlag('every', flags.every, 1) ?? 50;
  const started = performance.now();
  const { adapter, runtime, samples } = flags.browser ? await soakBrowser(count, every) : await soakNode(count, every);

  const warm = samples.filter((s) => s.images > count * 0.2);
  const x = warm.map((s) => s.images / 1000);
  const series: [string, (s: Sample) => number | undefined, (v: number) => string][] = [
    ['pool live + free bytes', (s) => s.poolLiveBytes + s.poolFreeBytes, fmtMiB],
    ['process RSS', (s) => s.rssBytes, fmtMiB],
    ['JS heap used', (s) => s.heapUsedBytes, fmtMiB],
    ['ms per image', (s) => s.msPerImage, (v) => `${v.toFixed(0)} ms`],
  ];
  const slopes: Record<string, number> = {};
  const rows = [['series', 'after warm-up: first → last', 'slope per 1,000 images']];
  for (const [name, get, fmt] of series) {
    const y = warm.map(get);
    if (y.some((v) => v === undefined || Number.isNaN(v))) continue;
    slopes[name] = slope(x, y as number[]);
    rows.push([name, `${fmt(y[0]!)} → ${fmt(y.at(-1)!)}`, fmt(slopes[name]!)]);
  }
  console.log(`\n${table(rows, [24, 30, 24])}`);
  const iso = new Date().toISOString();
  const kind = adapter.includes('swiftshader') ? 'swiftshader' : 'gpu';
  writeResults(flags.out ?? resultPath(flags.browser ? 'soak-browser' : 'soak', kind, adapter.split(' / ')[1] ?? 'gpu', iso), {
    tool: 'seedmask soak',
    date: iso,
    adapter,
    runtime,
    host: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version },
    images: count,
    seconds: (performance.now() - started) / 1000,
    warmUpImages: Math.floor(count * 0.2),
    samples,
    slopesPer1000Images: slopes,
  });
  return 0;
});
