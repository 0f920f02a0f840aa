// The package as users get it: `npm pack`, installed into a fresh project outside the repository,
// then (a) `npx seedmask seeds` on a world image, (b) a Node script importing `generateSeeds` from
// 'seedmask', (c) a vite page importing 'seedmask' (its browser entry) that makes the same seed in
// headless Chromium. The tarball must hold no tests, fixtures or Python.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHarnessPage } from '../../harness/lib/browser.js';
import { decodeLabelPng } from '../../src/io/labelpng.js';
import { generateImage, worldLabelSetJson } from '../../src/world/generate.js';
import { ROOT } from '../weights/helpers.js';

const IMAGE = join(ROOT, 'test', 'fixtures', 'decode', 'world_val0.jpg');
const labelSet = worldLabelSetJson() as { classes: { name: string }[] };
const LABELS = generateImage(1, 0, 'val')
  .record.classIds.map((id) => labelSet.classes[id - 1]!.name)
  .join(',');

let dir: string;
let project: string;
let tarball: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'seedmask-package-'));
  // dist/ is fresh: the test run's global setup built it. --ignore-scripts: no second build.
  const packed = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' })) as { filename: string; files: { path: string }[] }[];
  tarball = join(dir, packed[0]!.filename);
  project = join(dir, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-seedmask', private: true, type: 'module', dependencies: { seedmask: `file:${tarball}` } }));
  writeFileSync(join(project, 'labelset.json'), JSON.stringify(labelSet));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: project, stdio: 'pipe' });
}, 300_000);
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('the installed package', () => {
  it('holds dist, shaders, assets and the world CLIP, and no tests, fixtures, Python or sources', () => {
    const listed = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean).map((p) => p.replace(/^package\//, ''));
    expect(listed.filter((p) => /(^|\/)test\/|fixtures|\.py$|^src\/|^harness\/|^bench\//.test(p))).toEqual([]);
    for (const need of ['dist/index.js', 'dist/index.d.ts', 'dist/browser.js', 'dist/cli/main.js', 'bin/seedmask.mjs', 'shaders/matmul/register.wgsl', 'assets/clip/bpe_simple_vocab_16e6.txt.gz', 'assets/clip/LICENSE', 'weights/world-clip/model.safetensors', 'LICENSE', 'CHANGELOG.md']) {
      expect(listed, need).toContain(need);
    }
  });

  let nodeSeeds: number[];

  it('(a) npx seedmask seeds on a world image; (b) generateSeeds from a Node script gives the same mask', () => {
    const out = join(dir, 'cli-out');
    const cli = spawnSync('npx', ['seedmask', 'seeds', '--weights', 'node_modules/seedmask/weights/world-clip', '--labelset', 'labelset.json', '--labels', LABELS, IMAGE, '-o', out], { cwd: project, encoding: 'utf8' });
    expect(cli.status, cli.stderr).toBe(0);
    const fromCli = decodeLabelPng(readFileSync(join(out, 'world_val0.png')));

    writeFileSync(
      join(project, 'seed.mjs'),
      `import { ClipModel, Gpu, generateSeeds, loadLabelSet, readImage } from 'seedmask';
const gpu = await Gpu.open();
const model = await ClipModel.load(gpu, 'node_modules/seedmask/weights/world-clip');
const r = await generateSeeds(await readImage(process.argv[2]), process.argv[3], { model, labelSet: await loadLabelSet('labelset.json') });
process.stdout.write(JSON.stringify({ width: r.width, height: r.height, seeds: Array.from(r.seeds) }));
await model.destroy();
await gpu.destroy();
`,
    );
    const script = spawnSync(process.execPath, ['seed.mjs', IMAGE, LABELS], { cwd: project, encoding: 'utf8', maxBuffer: 1 << 28 });
    expect(script.status, script.stderr).toBe(0);
    const fromScript = JSON.parse(script.stdout) as { width: number; height: number; seeds: number[] };
    expect([fromScript.width, fromScript.height]).toEqual([fromCli.width, fromCli.height]);
    expect(fromScript.seeds).toEqual(Array.from(fromCli.data));
    expect(new Set(fromScript.seeds).size).toBeGreaterThan(1);
    nodeSeeds = fromScript.seeds;
  });

  it('(c) a vite page importing seedmask makes the seed in headless Chromium', async () => {
    const app = join(project, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'index.html'), '<!doctype html><meta charset="utf-8"><title>uses seedmask</title><script type="module" src="./main.js"></script>');
    writeFileSync(
      join(app, 'main.js'),
      `import { ClipModel, ClipTokenizer, Gpu, decodeImage, generateSeeds, parseLabelSet } from 'seedmask';
const get = async (path) => { const r = await fetch(path); if (!r.ok) throw new Error(path + ': HTTP ' + r.status); return r; };
async function main() {
  const gpu = await Gpu.open();
  const bytes = async (p) => new Uint8Array(await (await get(p)).arrayBuffer());
  const tokenizer = ClipTokenizer.fromHuggingFace(await bytes('/clip/vocab.json'), await bytes('/clip/merges.txt'));
  const model = await ClipModel.load(gpu, await (await get('/clip/model.safetensors')).blob(), { config: await (await get('/clip/config.json')).json(), tokenizer });
  const image = await decodeImage(await bytes('/data/image.jpg'), 'image.jpg');
  const labelSet = parseLabelSet(await (await get('/data/labelset.json')).json(), 'labelset.json');
  const r = await generateSeeds(image, ${JSON.stringify(LABELS)}, { model, labelSet });
  return { adapter: gpu.adapterName, width: r.width, height: r.height, seeds: Array.from(r.seeds) };
}
main().then((result) => { window.__seedmask = { ok: true, result }; }, (err) => { window.__seedmask = { ok: false, error: String(err && err.stack || err) }; });
`,
    );
    const outDir = join(dir, 'app-dist');
    await build({ root: app, configFile: false, logLevel: 'error', build: { outDir, emptyOutDir: true, target: 'es2022' } });
    const staticDir = join(dir, 'static');
    mkdirSync(staticDir);
    writeFileSync(join(staticDir, 'image.jpg'), readFileSync(IMAGE));
    writeFileSync(join(staticDir, 'labelset.json'), JSON.stringify(labelSet));
    const run = await runHarnessPage<{ ok: boolean; error?: string; result?: { adapter: string; width: number; height: number; seeds: number[] } }>(outDir, '', 180_000, {
      '/clip/': join(project, 'node_modules', 'seedmask', 'weights', 'world-clip'),
      '/data/': staticDir,
    });
    expect(run.result.error).toBeUndefined();
    const page = run.result.result!;
    expect(page.seeds.length).toBe(nodeSeeds.length);
    // Chromium's Dawn and SwiftShader are other builds than Node's: a pixel whose two best scores
    // are within float rounding may flip. Everything else is the same mask.
    const differ = page.seeds.filter((v, i) => v !== nodeSeeds[i]).length;
    console.log(`browser vs Node seeds: ${differ} of ${page.seeds.length} pixels differ (${run.browser})`);
    expect(differ / page.seeds.length).toBeLessThan(1e-3);
  });
});
