// `npm run bench:app [-- --images N --out FILE]`: the browser app against the Node CLI on the same
// world images, on the same machine, one after the other.
//   - weight load time in the app: first from picked files (the world CLIP's folder), then after a
//     reload from the browser's cache (OPFS);
//   - per-image time: the app's pipeline time and wall time per image (run time / images), against
//     `seedmask seeds --dataset` on the same images in Node (its summary's mean pipeline time and
//     wall time per image);
//   - main-thread long tasks (> 50 ms, and how many > 100 ms) during the app's run.
// Writes bench/results/app-<date>.json and prints a table; a screenshot goes to out/app/.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fmtMs, numberFlag, parseFlags, resultPath, runMain, table, writeResults } from '../bench/lib/driver.js';
import { cpuBusy } from '../bench/lib/suite.js';
import { vocLayout } from '../src/io/voc.js';
import { generateWorld } from '../src/world/generate.js';
import { addImages, buildApp, chooseLabelSet, loadWeights, longTasks, openApp, runSeeds } from './lib/app.js';
import { launchChromium, serveStatic } from './lib/browser.js';

const ROOT = path.join(import.meta.dirname, '..');
const USAGE = `usage: npm run bench:app -- [--images N] [--out FILE]
  --images N   world val images (seed 1)      [10]
  --out FILE   results file [bench/results/app-<date>.json]`;

runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { images: { type: 'string' }, out: { type: 'string' } }, USAGE);
  const count = numberFlag('images', flags.images, 1) ?? 10;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'seedmask-app-bench-'));
  try {
    const world = path.join(dir, 'world');
    await generateWorld({ out: world, seed: 1, train: 200, val: count, valOnly: true });
    const layout = vocLayout(world);
    const images = readFileSync(path.join(world, 'captions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; labels: string[] }).map((r) => ({ id: r.id, path: layout.imagePath(r.id), labels: r.labels.join(', ') }));
    const busyBefore = await cpuBusy();

    // Node: the CLI's dataset mode on the same images (labels from the masks = the captions' labels).
    const nodeStart = performance.now();
    const cli = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'seedmask.mjs'), 'seeds', '--weights', path.join(ROOT, 'weights', 'world-clip'), '--labelset', path.join(world, 'labelset.json'), '--dataset', world, '--split', 'val', '-o', path.join(dir, 'cli')], { encoding: 'utf8' });
    const nodeWallMs = performance.now() - nodeStart;
    if (cli.status !== 0) throw new Error(`seedmask seeds failed: ${cli.stderr}`);
    const summary = JSON.parse(readFileSync(path.join(dir, 'cli', 'summary.json'), 'utf8')) as { stageMs: Record<string, number>; seconds: number };

    // The app.
    const appDir = path.join(dir, 'app');
    await buildApp(appDir);
    const { server, url } = await serveStatic(appDir);
    const { browser } = await launchChromium('auto', url);
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 1200, height: 1400 });
      await openApp(page, url);
      const first = await loadWeights(page, { folder: path.join(ROOT, 'weights', 'world-clip') });
      await page.waitForFunction(() => document.getElementById('weights-status')!.dataset.cached === 'yes', { timeout: 120_000 });
      // Reload: the app finds the weights in its cache and loads them without asking.
      const state = await openApp(page, url);
      if (state !== 'ready') throw new Error(`after a reload the app is '${state}', not ready from its cache`);
      const cached = await page.evaluate(() => ({ ms: Number(document.getElementById('weights-status')!.dataset.ms), from: document.getElementById('weights-status')!.dataset.from }));
      await chooseLabelSet(page, 'world');
      await addImages(page, images);
      const appStart = performance.now();
      const status = await runSeeds(page);
      const appWallMs = performance.now() - appStart;
      const perImage = await page.evaluate(() => [...(window as unknown as { __seedmaskApp: { results: Map<number, { timings: Record<string, number> }> } }).__seedmaskApp.results.values()].map((r) => r.timings.total!));
      const tasks = await longTasks(page);
      const adapter = await page.evaluate(async () => {
        const a = await navigator.gpu?.requestAdapter();
        return a ? `${a.info.vendor} ${a.info.architecture}` : 'none';
      });
      mkdirSync(path.join(ROOT, 'out', 'app'), { recursive: true });
      await page.screenshot({ path: path.join(ROOT, 'out', 'app', 'run.png'), fullPage: true });

      const appPipelineMs = perImage.reduce((a, b) => a + b, 0) / perImage.length;
      console.log(`app benchmark: ${count} world images, ${await browser.version()}, adapter ${adapter}; Node ${process.version} (Dawn); CPU busy before ${(100 * busyBefore).toFixed(0)} %`);
      console.log(`app run: ${status}`);
      console.log(
        table(
          [
            ['', 'browser app', 'Node CLI', 'app / CLI'],
            ['pipeline ms / image (mean)', fmtMs(appPipelineMs), fmtMs(summary.stageMs.total!), (appPipelineMs / summary.stageMs.total!).toFixed(2)],
            ['wall ms / image (whole run)', fmtMs(appWallMs / count), fmtMs(nodeWallMs / count), (appWallMs / nodeWallMs).toFixed(2)],
            ['weight load, first (files)', fmtMs(first.ms), '', ''],
            ['weight load, cached (OPFS)', fmtMs(cached.ms), '', ''],
          ],
          [28, 12, 12, 10],
        ),
      );
      console.log(`main-thread long tasks during the run: ${tasks.length} over 50 ms, ${tasks.filter((t) => t > 100).length} over 100 ms${tasks.length ? ` (longest ${Math.max(...tasks).toFixed(0)} ms)` : ''}`);
      const iso = new Date().toISOString();
      writeResults(flags.out ?? resultPath('app', adapter.includes('swiftshader') ? 'swiftshader' : 'gpu', adapter.split(' ')[1] ?? 'gpu', iso), {
        tool: 'seedmask app benchmark',
        date: iso,
        browser: await browser.version(),
        adapter,
        host: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, cpuBusyBefore: busyBefore },
        images: count,
        app: { status, pipelineMsPerImage: perImage, meanPipelineMs: appPipelineMs, wallMs: appWallMs, weightLoadFirstMs: first.ms, weightLoadCachedMs: cached.ms, cachedFrom: cached.from, longTasksMs: tasks },
        node: { meanPipelineMs: summary.stageMs.total, stageMs: summary.stageMs, wallMs: nodeWallMs, cliSeconds: summary.seconds },
      });
    } finally {
      await browser.close();
      server.close();
    }
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
