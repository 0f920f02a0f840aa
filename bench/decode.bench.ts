// Image decoding benchmark: `npm run bench:decode [-- options]`.
//
// Decodes a VOC-sized (500×375) and a 3-megapixel photo-like scene, as JPEG (quality 90) and PNG,
// with seedmask's decoders (libjpeg-turbo in WebAssembly; png.ts) and with the pure-JS decoders
// seedmask used before them (jpeg-js; pngjs) in the same Node process, and, with --browser, in
// headless Chromium beside the browser's own decoder (createImageBitmap). Prints ms, ms per
// megapixel and compressed MB/s (median of --warm samples after one cold decode) and the ratio of
// each decoder to seedmask's; writes bench/results/decode-<date>.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { runHarnessPage } from '../harness/lib/browser.js';
import { buildHarness } from '../harness/lib/build.js';
import { timeDecoder, type DecoderTiming } from '../harness/lib/decode-timing.js';
import { decodeImage, encodeJpeg, encodePng } from '../src/io/image.js';
import { syntheticScene } from './lib/data.js';
import { fmtMs, fmtRatio, numberFlag, parseFlags, resultPath, runMain, table, writeResults } from './lib/driver.js';
import { cpuBusy } from './lib/suite.js';

const USAGE = `usage: npm run bench:decode -- [options]
  --warm N       warm samples per decoder and file     [5]
  --browser      also run in headless Chromium
  --out FILE     results file [bench/results/decode-<date>.json]`;

const SIZES: [number, number][] = [
  [500, 375],
  [2048, 1536],
];

function images(): { file: string; bytes: Uint8Array }[] {
  const out = [];
  for (const [w, h] of SIZES) {
    const scene = syntheticScene(w, h);
    out.push({ file: `scene_${w}x${h}.jpg`, bytes: encodeJpeg(scene, 90) });
    out.push({ file: `scene_${w}x${h}.png`, bytes: encodePng(scene) });
  }
  return out;
}

function print(title: string, rows: DecoderTiming[]): void {
  console.log(`\n${title}`);
  const lines = [['file', 'decoder', 'ms', 'ms/MP', 'MB/s in', 'vs seedmask']];
  for (const r of rows) {
    const own = rows.find((o) => o.file === r.file && o.decoder === 'seedmask')!;
    lines.push([r.file, r.decoder, fmtMs(r.ms), fmtMs(r.msPerMegapixel), r.inputMBps.toFixed(1), r.decoder === 'seedmask' ? '' : fmtRatio(r.ms / own.ms)]);
  }
  console.log(table(lines, [20, 10, 8, 8, 8, 12]));
}

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2), { warm: { type: 'string' }, browser: { type: 'boolean' }, out: { type: 'string' } }, USAGE);
  const warm = numberFlag('warm', flags.warm, 3) ?? 5;
  const files = images();
  const busyBefore = await cpuBusy();
  console.log(`decode benchmark: ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, node ${process.version}, CPU busy before ${(100 * busyBefore).toFixed(0)} %`);

  const node: DecoderTiming[] = [];
  for (const { file, bytes } of files) {
    node.push(await timeDecoder(file, 'seedmask', bytes, warm, () => decodeImage(bytes, file)));
    if (file.endsWith('.jpg')) node.push(await timeDecoder(file, 'jpeg-js', bytes, warm, async () => jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 2048 })));
    else node.push(await timeDecoder(file, 'pngjs', bytes, warm, async () => PNG.sync.read(Buffer.from(bytes))));
  }
  print('Node', node);

  let browser: { userAgent: string; timings: DecoderTiming[] } | undefined;
  if (flags.browser) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'seedmask-decode-bench-'));
    try {
      const served = path.join(dir, 'bench');
      const page = path.join(dir, 'page');
      await buildHarness(page, ['decode']);
      mkdirSync(served);
      for (const { file, bytes } of files) writeFileSync(path.join(served, file), bytes);
      writeFileSync(path.join(served, 'list.json'), JSON.stringify(files.map((f) => f.file)));
      const run = await runHarnessPage<{ ok: boolean; error?: string; result?: { userAgent: string; bench: DecoderTiming[] } }>(page, `decode.html?bench=${warm}`, 600_000, { '/bench/': served });
      if (!run.result.ok) throw new Error(`decode page: ${run.result.error}`);
      browser = { userAgent: run.result.result!.userAgent, timings: run.result.result!.bench };
      print(`Chromium (${run.browser})`, browser.timings);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const iso = new Date().toISOString();
  writeResults(flags.out ?? resultPath('decode', 'cpu', 'cpu', iso).replace('decode-cpu-', 'decode-'), {
    tool: 'seedmask decode benchmark',
    date: iso,
    host: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, cpuBusyBefore: busyBefore },
    warm,
    inputs: files.map((f) => ({ file: f.file, bytes: f.bytes.length })),
    node,
    browser,
  });
  return 0;
}

runMain(main);
