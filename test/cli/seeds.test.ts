// `seedmask seeds` end to end on the world CLIP: single images and dataset mode (labels from the
// masks, a corrupt image reported and skipped, resume skipping finished images, per-stage scores,
// summary.json), and usage errors.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/seeds.js';
import { decodeLabelPng } from '../../src/io/labelpng.js';
import { vocLayout } from '../../src/io/voc.js';
import { generateWorld } from '../../src/world/generate.js';
import { captureStdio } from '../helpers/stdio.js';
import { ROOT } from '../weights/helpers.js';

const WEIGHTS = join(ROOT, 'weights', 'world-clip', 'model.safetensors');
let dir: string;
let world: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'seedmask-cli-seeds-'));
  world = join(dir, 'world');
  // Three held-out images (val ids 000200–000202 of the seed-1 world).
  await generateWorld({ out: world, seed: 1, train: 200, val: 3, valOnly: true });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('seedmask seeds', () => {
  const io = captureStdio();

  it('writes seed PNG, overlay and per-label CAMs for an image', async () => {
    const out = join(dir, 'single');
    const layout = vocLayout(world);
    const code = await run(['--weights', WEIGHTS, '--labelset', join(world, 'labelset.json'), '--labels', 'box, boat', '--refiner', 'none', layout.imagePath('000200'), '-o', out]);
    expect(code, io.stderr).toBe(0);
    const seeds = decodeLabelPng(await readFile(join(out, '000200.png')));
    expect(seeds.width * seeds.height).toBeGreaterThan(0);
    for (const v of new Set(seeds.data)) expect([0, 2, 3]).toContain(v);
    expect(existsSync(join(out, '000200.overlay.png'))).toBe(true);
    expect(existsSync(join(out, '000200.cam.box.npy'))).toBe(true);
    expect(existsSync(join(out, '000200.cam.boat.npy'))).toBe(true);
    expect(io.stdout).toMatch(/000200\.png/);
  });

  it('runs a dataset: skips a corrupt image, resumes, scores every stage', async () => {
    const layout = vocLayout(world);
    await writeFile(layout.imagePath('000201'), new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3])); // truncated JPEG
    const out = join(dir, 'dataset');
    const args = ['--weights', WEIGHTS, '--labelset', join(world, 'labelset.json'), '--dataset', world, '--split', 'val', '--stages', 'cam,caa', '--refiner', 'none', '--no-cams', '-o', out];
    expect(await run(args)).toBe(1); // one image failed
    expect(io.stdout).toMatch(/2 images done, 0 already done, 0 without labels skipped, 1 failed/);
    expect(io.stdout).toMatch(/failed 000201: .*000201\.jpg.*corrupt or truncated JPEG/);
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
    expect(summary.processed).toBe(2);
    expect(summary.failures.map((f: { id: string }) => f.id)).toEqual(['000201']);
    for (const stage of ['cam', 'caa', 'seeds']) expect(summary.scores[stage].miou, stage).toBeGreaterThan(0);
    expect(existsSync(join(out, 'stages', 'cam', '000200.png'))).toBe(true);
    expect(existsSync(join(out, 'seeds', '000201.png'))).toBe(false);

    io.stdout = '';
    expect(await run(args)).toBe(1);
    expect(io.stdout).toMatch(/0 images done, 2 already done, 0 without labels skipped, 1 failed/);
  });

  it('reports usage errors before starting the GPU', async () => {
    expect(await run(['--weights', WEIGHTS, 'x.jpg'])).toBe(2);
    expect(io.stderr).toMatch(/-o OUT is required/);
    expect(await run(['--weights', WEIGHTS, '--labels', 'cat', '--refiner', 'magic', 'x.jpg', '-o', dir])).toBe(2);
    expect(io.stderr).toMatch(/--refiner must be/);
    expect(await run(['--weights', WEIGHTS, '--labels', 'unicorn', 'x.jpg', '-o', dir])).toBe(1);
    expect(io.stderr).toMatch(/unknown class 'unicorn'/);
  });
});
