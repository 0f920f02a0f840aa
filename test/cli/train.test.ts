// `seedmask train` end to end on a small world: a run, the same run killed with SIGKILL after a
// checkpoint and started again (its curve equals the uninterrupted one, bit for bit), `seedmask
// segment` on the trained weights, DeepLab-v2 with the original's recipe, and the errors a user
// meets first.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import { trainedRunMetadata, type TrainSettings } from '../../src/train/run.js';
import { loadWeights } from '../../src/weights/index.js';
import { generateWorld } from '../../src/world/generate.js';
import { ROOT } from '../weights/helpers.js';

const BIN = join(ROOT, 'bin', 'seedmask.mjs');
let dir: string;
let world: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'seedmask-cli-train-'));
  world = join(dir, 'world');
  await generateWorld({ out: world, seed: 1, train: 6, val: 2 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The world's ground truth stands in for seed masks (same layout: DIR/<id>.png). */
const args = (out: string, extra: string[] = []) => [
  BIN, 'train', '--dataset', world, '--seeds', join(world, 'SegmentationClass'), '--labelset', join(world, 'labelset.json'), '-o', out,
  '--steps', '16', '--batch', '2', '--crop', '40', '--base-size', '80', '--widths', '8,16', '--checkpoint-every', '2', '--val-every', '8', ...extra,
];
const seedmask = (argv: string[]) => spawnSync(process.execPath, argv, { encoding: 'utf8' });

describe('seedmask train', () => {
  let curve: { losses: number[]; validation: { iteration: number; miou: number }[] };

  it('trains, validates, checkpoints and writes its run folder', () => {
    const out = join(dir, 'a');
    const r = seedmask(args(out));
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['checkpoint.safetensors', 'best.safetensors', 'last.safetensors', 'curve.json', 'report.html']) expect(existsSync(join(out, f)), f).toBe(true);
    curve = JSON.parse(readFileSync(join(out, 'curve.json'), 'utf8'));
    expect(curve.losses).toHaveLength(16);
    expect(curve.validation.map((v) => v.iteration)).toEqual([8, 16]);
    expect(r.stdout).toMatch(/16 steps, final loss [0-9.]+, val mIoU [0-9.]+ %/);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toMatch(/<svg/);
    // Run again: nothing to do, but a last file lost to a stop after the final checkpoint comes back.
    const last = readFileSync(join(out, 'last.safetensors'));
    rmSync(join(out, 'last.safetensors'));
    const again = seedmask(args(out));
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/the run is complete/);
    expect(readFileSync(join(out, 'last.safetensors')).equals(last)).toBe(true);
  });

  it('killed with SIGKILL after a checkpoint, the same command resumes to the same curve', async () => {
    const out = join(dir, 'b');
    const child = spawn(process.execPath, args(out), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<string | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const start = Date.now();
    const ckpt = join(out, 'checkpoint.safetensors');
    while (!existsSync(ckpt)) {
      if (Date.now() - start > 120_000) throw new Error(`no checkpoint in 120 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const stoppedAt = (await loadCheckpoint(ckpt)).optimizer.iteration;
    expect(stoppedAt).toBeLessThan(16);

    const r = seedmask(args(out));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`resuming at step ${stoppedAt}`));
    const resumed = JSON.parse(readFileSync(join(out, 'curve.json'), 'utf8'));
    expect(resumed.losses).toEqual(curve.losses);
    expect(resumed.validation).toEqual(curve.validation);
    expect(readFileSync(join(out, 'last.safetensors')).equals(readFileSync(join(dir, 'a', 'last.safetensors')))).toBe(true);
  });

  it('`seedmask segment --model segmenter` runs the trained weights and scores them', () => {
    const out = join(dir, 'pred');
    const r = seedmask([BIN, 'segment', '--model', 'segmenter', '--weights', join(dir, 'a', 'best.safetensors'), '--voc', world, '--split', 'val', '-o', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/mIoU\s+[0-9.]+/);
    const best = Math.max(...curve.validation.map((v) => v.miou));
    const printed = Number(/mIoU\s+([0-9.]+)/.exec(r.stdout)![1]);
    expect(printed).toBeCloseTo(100 * best, 1);
  });

  it('DeepLab-v2 from a backbone checkpoint: the original recipe (MSC loss, iter-size 2) runs and writes deeplab-pytorch weights', async () => {
    // The committed golden's reduced backbone in the layout of the original's COCO initialisation
    // (deeplab-pytorch's DeepLabV1 state_dict, torch.save; its `fc` is not read).
    const init = join(ROOT, 'test', 'fixtures', 'train', 'deeplabv2', 'init-deeplabv1.pth');
    const out = join(dir, 'v2');
    const r = seedmask([BIN, 'train', '--model', 'deeplabv2_resnet101', '--init', init, '--dataset', world, '--seeds', join(world, 'SegmentationClass'), '--labelset', join(world, 'labelset.json'), '-o', out, '--steps', '2', '--batch', '1', '--crop', '41', '--base-size', '64', '--val-every', '2']);
    expect(r.status, r.stderr).toBe(0);
    const c = await loadCheckpoint<TrainSettings>(join(out, 'checkpoint.safetensors'));
    expect(c.settings.model).toMatchObject({ kind: 'deeplabv2', classes: 11, objective: 'msc' });
    expect(c.settings).toMatchObject({ iterSize: 2, lrDecayEvery: 10, biasLrMult: 20, headLrMult: 10, batch: 1, augment: { normalization: 'caffe-bgr' } });
    expect(c.losses).toHaveLength(2);
    expect(c.losses.every((l) => Number.isFinite(l) && l > 0)).toBe(true);
    const best = await loadWeights(join(out, 'best.safetensors'));
    expect(best.keys.some((k) => k.startsWith('base.aspp.c0.'))).toBe(true);
    await best.close();
    // What `seedmask segment --model deeplabv2_resnet101` reads back from it.
    const meta = await trainedRunMetadata(join(out, 'best.safetensors'));
    expect(meta?.classNames).toHaveLength(11);
    expect(meta?.augment).toMatchObject({ normalization: 'caffe-bgr', baseSize: 64, crop: [41, 41] });
  });

  it('names the culprit: missing seeds, a run folder with other settings, a bad option', () => {
    const noSeeds = seedmask([...args(join(dir, 'c')).slice(0, 5), join(dir, 'nowhere'), ...args(join(dir, 'c')).slice(6)]);
    expect(noSeeds.status).toBe(1);
    expect(noSeeds.stderr).toMatch(/6 of 6 training images have no seed mask/);
    const other = seedmask(args(join(dir, 'a'), ['--seed', '2']));
    expect(other.status).toBe(2);
    expect(other.stderr).toMatch(/other settings \(seed: 1 ≠ 2\)/);
    const bad = seedmask(args(join(dir, 'd'), ['--crop', '0']));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--crop must be a comma-separated list of positive integers/);
  });
});
