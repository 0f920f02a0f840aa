// The browser app, driven through its own buttons and inputs in headless Chromium: the world CLIP,
// three world images with typed labels, a run, the zip download, and every file in it compared
// byte for byte with what `seedmask seeds` writes for the same images in Node. Then the errors a
// user sees for a corrupt image and a bad weight file, and a cancelled run. Then a training of the
// segmenter in the app, compared with `seedmask train` on the same seeds in Node. A screenshot of
// the finished run goes to out/app-test/ (not committed).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDataset, addImages, buildApp, chooseCamSource, chooseLabelSet, downloadTrainFile, downloadZip, errorText, loadWeights, longTasks, openApp, runSeeds, setTrainInputs, trainInputs, trainSegmenter, waitState } from '../../harness/lib/app.js';
import { launchChromium, serveStatic } from '../../harness/lib/browser.js';
import { run as seedsCli } from '../../src/cli/seeds.js';
import { run as segmentCli } from '../../src/cli/segment.js';
import { run as trainCli } from '../../src/cli/train.js';
import { vocLayout } from '../../src/io/voc.js';
import { worldTrainArgs } from '../../src/train/world-recipe.js';
import { generateWorld } from '../../src/world/generate.js';
import { captureStdio } from '../helpers/stdio.js';
import { ROOT } from '../weights/helpers.js';

let dir: string;
let browser: Browser;
let url: string;
let close: () => void;
const images: { id: string; path: string; labels: string }[] = [];
/** Where the CLI writes the seeds of `images` (the first test), which the app's files must equal. */
let cliOut: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'seedmask-app-'));
  const world = join(dir, 'world');
  await generateWorld({ out: world, seed: 1, train: 200, val: 3, valOnly: true });
  const layout = vocLayout(world);
  for (const line of readFileSync(join(world, 'captions.jsonl'), 'utf8').trim().split('\n')) {
    const record = JSON.parse(line) as { id: string; labels: string[] };
    images.push({ id: record.id, path: layout.imagePath(record.id), labels: record.labels.join(', ') });
  }
  cliOut = join(dir, 'cli');
  const appDir = join(dir, 'app');
  await buildApp(appDir);
  const served = await serveStatic(appDir);
  url = served.url;
  close = () => served.server.close();
  browser = (await launchChromium('swiftshader', url)).browser;
}, 300_000);
afterAll(async () => {
  await browser?.close();
  close?.();
  await rm(dir, { recursive: true, force: true });
});

describe('the browser app', () => {
  const io = captureStdio();
  let page: Page;

  it('makes the same seed files as the CLI, byte for byte, from its own inputs', async () => {
    // Node: the CLI, image by image (each has its own labels).
    for (const image of images) {
      const code = await seedsCli(['--weights', join(ROOT, 'weights', 'world-clip'), '--labelset', join(dir, 'world', 'labelset.json'), '--labels', image.labels, image.path, '-o', cliOut]);
      expect(code, io.stderr).toBe(0);
    }

    page = await browser.newPage();
    expect(await openApp(page, url)).toBe('no-weights');
    await chooseLabelSet(page, 'world');
    const load = await loadWeights(page, 'world');
    expect(load.from).toBe('world');
    await addImages(page, images);
    const status = await runSeeds(page);
    expect(status).toMatch(/^3 done, 0 skipped, 0 failed/);
    expect(await errorText(page)).toBe('');

    const zip = unzipSync(new Uint8Array(readFileSync(await downloadZip(page, join(dir, 'download')))));
    const names = Object.keys(zip).sort();
    // Per image: the seed PNG, the overlay and one CAM per label, the same set as the CLI's.
    const expected = images.flatMap((i) => [`${i.id}.png`, `${i.id}.overlay.png`, ...i.labels.split(', ').map((l) => `${i.id}.cam.${l}.npy`)]).sort();
    expect(names).toEqual(expected);
    for (const name of names) expect(Buffer.from(zip[name]!).equals(readFileSync(join(cliOut, name))), name).toBe(true);

    const tasks = await longTasks(page);
    console.log(`app run of 3 images: main-thread long tasks ${tasks.length ? tasks.map((t) => `${t.toFixed(0)} ms`).join(', ') : 'none'}`);
    expect(tasks.filter((t) => t > 100)).toEqual([]);
    mkdirSync(join(ROOT, 'out', 'app-test'), { recursive: true });
    await page.setViewport({ width: 1200, height: 1400 });
    await page.screenshot({ path: join(ROOT, 'out', 'app-test', 'finished-run.png'), fullPage: true });
  });

  it('shows what went wrong for a corrupt image and a bad weight file; cancels a run', async () => {
    const corrupt = join(dir, 'broken.jpg');
    const good = readFileSync(images[0]!.path);
    (await import('node:fs')).writeFileSync(corrupt, good.subarray(0, good.length >> 1));
    await addImages(page, [{ path: corrupt, labels: 'box' }]);
    await runSeeds(page);
    expect(await errorText(page)).toMatch(/broken\.jpg: .*corrupt or truncated JPEG/);
    expect(await page.$eval('#queue tbody tr:last-child', (r) => r.textContent ?? '')).toMatch(/corrupt or truncated JPEG/);

    // Cancel: the run stops after at most the image in progress, which is abandoned.
    await addImages(page, images.map((i) => ({ ...i, labels: i.labels })));
    await page.click('#run');
    await page.click('#cancel');
    await page.waitForFunction(() => document.body.dataset.state === 'done', { timeout: 120_000 });
    expect(await page.$eval('#run-status', (e) => e.textContent ?? '')).toMatch(/cancelled/);

    const bad = join(dir, 'bad.safetensors');
    (await import('node:fs')).writeFileSync(bad, new Uint8Array(4096).fill(7));
    await loadWeights(page, { file: bad });
    expect(await errorText(page)).toMatch(/^Could not load the weights: .*bad\.safetensors/);
  });

  it('goes on after the GPU process crashes in the middle of a run: the weights load again on a new device, the image is retried, the files are unchanged', async () => {
    const fresh = await browser.newPage();
    try {
      expect(await openApp(fresh, url)).toBe('no-weights');
      await chooseLabelSet(fresh, 'world');
      await loadWeights(fresh, 'world');
      await addImages(fresh, images);
      await fresh.click('#run');
      // Once the first image is done, the GPU process goes down (a driver reset, as the page sees
      // it): every device of the page is lost under the image in progress.
      await fresh.waitForFunction(() => document.querySelector('#queue tbody tr')?.textContent?.includes('done'), { timeout: 300_000, polling: 50 });
      const cdp = await browser.target().createCDPSession();
      await cdp.send('Browser.crashGpuProcess');
      await waitState(fresh, ['done'], 600_000);
      expect(await errorText(fresh)).toBe('');
      expect(await fresh.$eval('#run-status', (e) => e.textContent ?? '')).toMatch(/^3 done, 0 skipped, 0 failed, 1 GPU device loss recovered in /);
      expect(await fresh.$eval('#weights-status', (e) => e.textContent ?? '')).toMatch(/the GPU device was lost and the weights were loaded again on a new one/);

      const zip = unzipSync(new Uint8Array(readFileSync(await downloadZip(fresh, join(dir, 'download-after-crash')))));
      const names = Object.keys(zip).sort();
      expect(names).toEqual(images.flatMap((i) => [`${i.id}.png`, `${i.id}.overlay.png`, ...i.labels.split(', ').map((l) => `${i.id}.cam.${l}.npy`)]).sort());
      for (const name of names) expect(Buffer.from(zip[name]!).equals(readFileSync(join(cliOut, name))), name).toBe(true);
    } finally {
      await fresh.close();
    }
  });

  it('trains the segmenter in its worker on the seeds it made: the same losses and files as `seedmask train` on those seeds in Node', async () => {
    const world = join(dir, 'world');
    const corrupt = join(dir, 'broken-train.jpg');
    const good = readFileSync(images[0]!.path);
    writeFileSync(corrupt, good.subarray(0, good.length >> 1));
    const downloads = join(dir, 'download-train');
    const fresh = await browser.newPage();
    let appMs: number;
    try {
      await openApp(fresh, url);
      await chooseLabelSet(fresh, 'world');
      await loadWeights(fresh, 'world');
      // The inputs start at the world recipe (src/train/world-recipe.ts) over `seedmask train`'s defaults.
      expect(await trainInputs(fresh)).toEqual({ steps: '2000', batch: '8', crop: '64', baseSize: '96', lr: '0.05', valEvery: '500', seed: '1' });

      // A run whose only image fails leaves nothing to train on: the page says so and names it.
      await addImages(fresh, [{ path: corrupt, labels: 'box' }]);
      expect(await runSeeds(fresh)).toMatch(/^0 done, 0 skipped, 1 failed/);
      expect(await trainSegmenter(fresh)).toMatchObject({ state: 'failed' });
      expect(await errorText(fresh)).toMatch(/^Could not train: no image has a seed mask: broken-train\.jpg \(its seeds failed: .*corrupt or truncated JPEG.*\)\. Make seeds first$/);

      // The world folder: three images whose labels come from their ground-truth masks, which validate the training.
      expect(await addDataset(fresh, world)).toBe(3);
      expect(await runSeeds(fresh), await fresh.$eval('#queue', (e) => e.textContent ?? '')).toMatch(/^3 done, 0 skipped, 1 failed/);
      await setTrainInputs(fresh, { steps: 4, batch: 2, crop: 32, valEvery: 2 });
      const t0 = performance.now();
      const trained = await trainSegmenter(fresh);
      appMs = performance.now() - t0;
      expect(trained.state, await errorText(fresh)).toBe('done');
      expect(trained.status).toMatch(/^4 steps in [0-9.]+ s, last loss [0-9.]+$/);
      expect(await errorText(fresh)).toBe('');
      expect(await fresh.$eval('#train-left-out', (e) => e.textContent ?? '')).toMatch(/^Left out, without a seed mask: broken-train\.jpg \(its seeds failed: .*corrupt or truncated JPEG/);
      expect(await fresh.$eval('#train-val', (e) => e.textContent ?? '')).toMatch(/^step 4: val mIoU [0-9.]+ % \(pixel accuracy [0-9.]+ %, 3 images\); best [0-9.]+ % at step [24]$/);
      // The chart: the loss line and the validation line.
      expect(await fresh.$$eval('#train-chart svg path', (paths) => paths.length)).toBe(2);
      const tasks = await longTasks(fresh);
      console.log(`app training: ${(appMs / 1000).toFixed(1)} s; main-thread long tasks ${tasks.length ? tasks.map((t) => `${t.toFixed(0)} ms`).join(', ') : 'none'}`);
      expect(tasks.filter((t) => t > 100)).toEqual([]);

      for (const name of ['best.safetensors', 'last.safetensors', 'curve.json'] as const) await downloadTrainFile(fresh, name, downloads);
      // The seeds the app trained on, for Node.
      const zip = unzipSync(new Uint8Array(readFileSync(await downloadZip(fresh, downloads))));
      mkdirSync(join(dir, 'train-seeds'));
      for (const [name, bytes] of Object.entries(zip)) if (/^[^.]+\.png$/.test(name)) writeFileSync(join(dir, 'train-seeds', name), bytes);
      mkdirSync(join(ROOT, 'out', 'app-test'), { recursive: true });
      await fresh.setViewport({ width: 1200, height: 1400 });
      await fresh.screenshot({ path: join(ROOT, 'out', 'app-test', 'trained.png'), fullPage: true });

      // Cancel: the training stops after the step in progress, and its files cover the steps taken.
      await setTrainInputs(fresh, { steps: 50 });
      await fresh.click('#train');
      await fresh.waitForFunction(() => /^step [1-9]/.test(document.getElementById('train-status')!.textContent ?? ''), { timeout: 120_000, polling: 50 });
      await fresh.click('#train-cancel');
      await fresh.waitForFunction(() => document.getElementById('train-section')!.dataset.train !== 'training', { timeout: 120_000, polling: 100 });
      expect(await fresh.$eval('#train-section', (e) => (e as HTMLElement).dataset.train)).toBe('cancelled');
      const stoppedAt = Number(/^cancelled after step (\d+) of 50 in /.exec(await fresh.$eval('#train-status', (e) => e.textContent ?? ''))?.[1]);
      expect(stoppedAt).toBeGreaterThan(0);
      expect(stoppedAt).toBeLessThan(50);
      const cancelled = JSON.parse(readFileSync(await downloadTrainFile(fresh, 'curve.json', join(downloads, 'cancelled')), 'utf8')) as { steps: number; losses: number[] };
      expect(cancelled.steps).toBe(50);
      expect(cancelled.losses).toHaveLength(stoppedAt);
    } finally {
      await fresh.close();
    }

    // Node: `seedmask train` (train() over the files) on the same images and seeds, validating on
    // the same ground truth, with the world recipe and the steps, batch, crop and interval typed above.
    const valIds = readFileSync(vocLayout(world).splitPath('val'), 'utf8').trim().split('\n');
    // The app orders its images by name; the split list must do the same for the two to draw the same batches.
    expect(valIds).toEqual([...valIds].sort());
    const nodeRun = join(dir, 'train-node');
    const t1 = performance.now();
    const code = await trainCli(['--dataset', world, '--seeds', join(dir, 'train-seeds'), '--labelset', join(world, 'labelset.json'), '--split', 'val', '--val-split', 'val', '-o', nodeRun,
      ...worldTrainArgs(), '--steps', '4', '--batch', '2', '--crop', '32', '--val-every', '2']);
    expect(code, io.stderr).toBe(0);
    const nodeMs = performance.now() - t1;
    const appCurve = JSON.parse(readFileSync(join(downloads, 'curve.json'), 'utf8')) as { losses: number[]; validation: { iteration: number; miou: number }[] };
    const nodeCurve = JSON.parse(readFileSync(join(nodeRun, 'curve.json'), 'utf8')) as typeof appCurve;
    const relative = appCurve.losses.map((l, i) => Math.abs(l - nodeCurve.losses[i]!) / Math.abs(nodeCurve.losses[i]!));
    console.log(`training, Chromium vs Node (Dawn on SwiftShader both): losses ${appCurve.losses.join(', ')} / ${nodeCurve.losses.join(', ')}; largest relative difference ${Math.max(...relative)}; Node ${(nodeMs / 1000).toFixed(1)} s`);
    expect(appCurve.losses).toHaveLength(4);
    expect(appCurve.validation.map((v) => v.iteration)).toEqual([2, 4]);
    // Chromium's Dawn and Node's run the same kernels on the same SwiftShader: every loss, every
    // validation and every weight is the same, bit for bit, and so is every file.
    expect(appCurve).toEqual(nodeCurve);
    for (const name of ['best.safetensors', 'last.safetensors', 'curve.json']) expect(readFileSync(join(downloads, name)).equals(readFileSync(join(nodeRun, name))), name).toBe(true);

    // The downloaded weights in Node's segment path: it scores what the app's best validation scored.
    io.stdout = '';
    const segmented = await segmentCli(['--model', 'segmenter', '--weights', join(downloads, 'best.safetensors'), '--voc', world, '--split', 'val', '-o', join(dir, 'train-pred')]);
    expect(segmented, io.stderr).toBe(0);
    const printed = Number(/mIoU\s+([0-9.]+)/.exec(io.stdout)![1]);
    expect(printed).toBeCloseTo(100 * Math.max(...appCurve.validation.map((v) => v.miou)), 1);
  }, 300_000);

  it('makes MaskCLIP seeds when asked, the same bytes as `seedmask seeds --cam maskclip`', async () => {
    const image = images[1]!;
    const cliOutMaskClip = join(dir, 'cli-maskclip');
    const code = await seedsCli(['--weights', join(ROOT, 'weights', 'world-clip'), '--labelset', join(dir, 'world', 'labelset.json'), '--labels', image.labels, '--cam', 'maskclip', image.path, '-o', cliOutMaskClip]);
    expect(code, io.stderr).toBe(0);
    const fresh = await browser.newPage();
    try {
      await openApp(fresh, url);
      await chooseLabelSet(fresh, 'world');
      await loadWeights(fresh, 'world');
      await chooseCamSource(fresh, 'maskclip');
      await addImages(fresh, [image]);
      expect(await runSeeds(fresh)).toMatch(/^1 done, 0 skipped, 0 failed/);
      const zip = unzipSync(new Uint8Array(readFileSync(await downloadZip(fresh, join(dir, 'download-maskclip')))));
      const names = Object.keys(zip).sort();
      expect(names).toContain(`${image.id}.png`);
      for (const name of names) expect(Buffer.from(zip[name]!).equals(readFileSync(join(cliOutMaskClip, name))), name).toBe(true);
      // And they are not Grad-CAM's seeds.
      expect(Buffer.from(zip[`${image.id}.png`]!).equals(readFileSync(join(cliOut, `${image.id}.png`)))).toBe(false);
    } finally {
      await fresh.close();
    }
  });
});
