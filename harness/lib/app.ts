// Drives the browser app (app/) the way a person does: its buttons, file inputs and text fields.
// Shared by the app's browser test and the app benchmark.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ElementHandle, Page } from 'puppeteer-core';
import { build } from 'vite';

const ROOT = join(import.meta.dirname, '..', '..');

/** `npm run build:app` into `outDir`. */
export async function buildApp(outDir: string): Promise<void> {
  const { execFileSync } = await import('node:child_process');
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), '--assets-only'], { stdio: 'pipe' });
  await build({ configFile: join(ROOT, 'app', 'vite.config.ts'), logLevel: 'error', build: { outDir, emptyOutDir: true } });
}

async function input(page: Page, selector: string): Promise<ElementHandle<HTMLInputElement>> {
  const handle = await page.$(selector);
  if (!handle) throw new Error(`the app has no ${selector}`);
  return handle as ElementHandle<HTMLInputElement>;
}

export async function waitState(page: Page, states: string[], timeoutMs = 300_000): Promise<string> {
  await page.waitForFunction((s: string[]) => s.includes(document.body.dataset.state ?? ''), { timeout: timeoutMs, polling: 100 }, states);
  return page.evaluate(() => document.body.dataset.state ?? '');
}

/** Opens the app and waits until it has looked for cached weights. */
export async function openApp(page: Page, url: string): Promise<string> {
  await page.goto(url);
  return waitState(page, ['no-weights', 'ready']);
}

export async function chooseLabelSet(page: Page, name: 'voc' | 'coco' | 'world'): Promise<void> {
  await page.select('#label-set', name);
  await page.waitForFunction((n: string) => document.getElementById('label-set-status')!.textContent!.includes(n === 'world' ? 'seedmask-world' : n), { timeout: 30_000 }, name);
}

/** Picks where the CAMs come from ('gradcam', 'maskclip'); the worker fills the list when it starts. */
export async function chooseCamSource(page: Page, name: string): Promise<void> {
  await page.waitForFunction((n: string) => Array.from(document.querySelectorAll('#cam-source option')).some((o) => (o as HTMLOptionElement).value === n), { timeout: 30_000 }, name);
  await page.select('#cam-source', name);
}

/** Loads weights with the world button, or through the folder input (a folder path) or the file input; returns the load time the page shows. */
export async function loadWeights(page: Page, source: 'world' | { folder: string } | { file: string }): Promise<{ ms: number; from: string }> {
  if (source === 'world') await page.click('#use-world');
  else if ('folder' in source) await (await input(page, '#weights-folder')).uploadFile(source.folder);
  else await (await input(page, '#weights-file')).uploadFile(source.file);
  await page.waitForFunction(() => ['ready', 'no-weights'].includes(document.body.dataset.state ?? '') && (document.getElementById('weights-status')!.dataset.ms !== undefined || !document.getElementById('error')!.hidden), { timeout: 300_000, polling: 100 });
  return page.evaluate(() => ({ ms: Number(document.getElementById('weights-status')!.dataset.ms), from: document.getElementById('weights-status')!.dataset.from ?? '' }));
}

/** Adds images through the image input and types each one's labels into its row. */
export async function addImages(page: Page, images: { path: string; labels: string }[]): Promise<void> {
  const before = await page.$$eval('#queue tbody tr', (rows) => rows.length);
  await (await input(page, '#images')).uploadFile(...images.map((i) => i.path));
  await page.waitForFunction((n: number) => document.querySelectorAll('#queue tbody tr').length === n, { timeout: 10_000 }, before + images.length);
  const rows = await page.$$('#queue tbody tr');
  for (const [k, image] of images.entries()) {
    const input = (await rows[before + k]!.$('input'))!;
    await input.click({ count: 3 });
    await input.type(image.labels);
  }
}

/** Clicks "Make seeds" and waits for the run to end; returns the run line the page shows. */
export async function runSeeds(page: Page, timeoutMs = 600_000): Promise<string> {
  await page.click('#run');
  await waitState(page, ['running', 'done'], 10_000);
  await waitState(page, ['done'], timeoutMs);
  return page.$eval('#run-status', (e) => e.textContent ?? '');
}

/** Clicks `selector` and returns the path (in `dir`) of the download it starts, `name`. */
async function download(page: Page, selector: string, dir: string, name: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const cdp = await page.createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: dir });
  await page.click(selector);
  const file = join(dir, name);
  const start = Date.now();
  while (!(existsSync(file) && !readdirSync(dir).some((f) => f.endsWith('.crdownload')))) {
    if (Date.now() - start > 60_000) throw new Error(`no download of ${name} within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return file;
}

/** Clicks "Download seeds (.zip)" and returns the downloaded file's path (in `dir`). */
export function downloadZip(page: Page, dir: string): Promise<string> {
  return download(page, '#download', dir, 'seedmask-seeds.zip');
}

/** Adds a VOC-layout folder (JPEGImages/, SegmentationClass/) through the folder input: labels come from the masks. */
export async function addDataset(page: Page, folder: string): Promise<number> {
  const before = await page.$$eval('#queue tbody tr', (rows) => rows.length);
  // An error already on the page (from an earlier step) does not count: only rows, or a new error.
  const shownError = await page.$eval('#error', (e) => ((e as HTMLElement).hidden ? '' : (e.textContent ?? '')));
  await (await input(page, '#dataset')).uploadFile(folder);
  await page.waitForFunction(
    (n: number, old: string) => {
      const error = document.getElementById('error')!;
      return document.querySelectorAll('#queue tbody tr').length > n || (!error.hidden && (error.textContent ?? '') !== old);
    },
    { timeout: 10_000 },
    before,
    shownError,
  );
  return (await page.$$eval('#queue tbody tr', (rows) => rows.length)) - before;
}

/** The training inputs, by what they set; an empty string leaves an input empty. */
export interface TrainInputs {
  steps?: number;
  batch?: number;
  crop?: number;
  baseSize?: number | '';
  lr?: number;
  valEvery?: number;
  seed?: number;
}
const TRAIN_INPUT_IDS: Record<keyof TrainInputs, string> = { steps: '#train-steps', batch: '#train-batch', crop: '#train-crop', baseSize: '#train-base-size', lr: '#train-lr', valEvery: '#train-val-every', seed: '#train-seed' };

/** Types the given training settings into their inputs (the others keep what they show). */
export async function setTrainInputs(page: Page, settings: TrainInputs): Promise<void> {
  for (const [key, value] of Object.entries(settings) as [keyof TrainInputs, number | ''][]) {
    const field = await input(page, TRAIN_INPUT_IDS[key]);
    await field.click({ count: 3 });
    await field.press('Backspace');
    if (value !== '') await field.type(String(value));
  }
}

/** What the training inputs show. */
export function trainInputs(page: Page): Promise<Record<keyof TrainInputs, string>> {
  return page.evaluate((ids: Record<string, string>) => Object.fromEntries(Object.entries(ids).map(([k, id]) => [k, (document.querySelector(id) as HTMLInputElement).value])), TRAIN_INPUT_IDS) as Promise<Record<keyof TrainInputs, string>>;
}

/** Clicks "Train" and waits for the training to end; returns how it ended (done, cancelled, failed) and the status line. */
export async function trainSegmenter(page: Page, timeoutMs = 600_000): Promise<{ state: string; status: string }> {
  await page.click('#train');
  await page.waitForFunction(() => document.getElementById('train-section')!.dataset.train !== 'training', { timeout: timeoutMs, polling: 100 });
  return page.evaluate(() => ({ state: document.getElementById('train-section')!.dataset.train ?? '', status: document.getElementById('train-status')!.textContent ?? '' }));
}

/** Clicks the link of a training file (best.safetensors, last.safetensors, curve.json) and returns the downloaded file's path (in `dir`). */
export function downloadTrainFile(page: Page, name: 'best.safetensors' | 'last.safetensors' | 'curve.json', dir: string): Promise<string> {
  const id = { 'best.safetensors': '#train-best', 'last.safetensors': '#train-last', 'curve.json': '#train-curve' }[name];
  return download(page, id, dir, name);
}

/** The error box's text, or '' when it is hidden. */
export function errorText(page: Page): Promise<string> {
  return page.$eval('#error', (e) => ((e as HTMLElement).hidden ? '' : (e.textContent ?? '')));
}

/** Main-thread long tasks (ms) the page recorded during runs. */
export function longTasks(page: Page): Promise<number[]> {
  return page.evaluate(() => (window as unknown as { __seedmaskApp: { longTasks: { duration: number }[] } }).__seedmaskApp.longTasks.map((t) => t.duration));
}
