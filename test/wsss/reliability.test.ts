// The seed pipeline under cancellation, concurrency and images too large for the device, on the
// world CLIP:
//   - an AbortSignal stops a run at the next step boundary with an AbortError and frees every GPU
//     buffer it took; the pipeline then gives the same result as before;
//   - a dataset run stopped by its signal leaves only complete images, and resumes;
//   - two runs of one pipeline at the same time give what two runs one after the other give;
//   - a device destroyed in the middle of a dataset run is replaced and the run completes;
//   - an image whose buffers cannot fit the device is refused up front, naming sizes and limit
//     (6000×4000 on the adapter's limits, and 1200×1000 with the limits lowered to WebGPU's minimum).
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gpu } from '../../src/gpu/context.js';
import type { RgbaImage } from '../../src/io/image.js';
import { ClipModel } from '../../src/models/clip/model.js';
import { generateWorld, worldLabelSetJson } from '../../src/world/generate.js';
import { runDataset } from '../../src/wsss/dataset.js';
import { parseLabelSet } from '../../src/wsss/labelset.js';
import { checkFitsDevice, SeedError, SeedPipeline, type SeedResult } from '../../src/wsss/seeds.js';
import { testGpu } from '../helpers/gpu.js';
import { WORLD_CLIP, worldImage } from '../helpers/world.js';

const labelSet = parseLabelSet(worldLabelSetJson(), 'world');


const same = (a: SeedResult, b: SeedResult) => {
  expect(Array.from(a.seeds)).toEqual(Array.from(b.seeds));
  expect(Array.from(a.cams!)).toEqual(Array.from(b.cams!));
};

describe('seed pipeline reliability', () => {
  let gpu: Gpu;
  let model: ClipModel;
  let pipeline: SeedPipeline;
  beforeAll(async () => {
    gpu = await testGpu();
    model = await ClipModel.load(gpu, WORLD_CLIP);
    pipeline = new SeedPipeline(model);
  });
  afterAll(async () => {
    await model?.destroy();
  });

  it('a cancelled run rejects with an AbortError and frees its GPU memory', async () => {
    const { image, labels } = worldImage(200);
    const options = { labelSet, refiner: 'crf' as const, read: ['cams' as const] };
    const before = await pipeline.run(image, labels, options);
    // The second run of this size records the CRF (kept until releaseCaches): measure after it.
    same(await pipeline.run(image, labels, options), before);
    const live = gpu.pool.stats().liveBytes;

    const already = new AbortController();
    already.abort();
    await expect(pipeline.run(image, labels, { ...options, signal: already.signal })).rejects.toMatchObject({ name: 'AbortError' });

    // Abort during the run, at several points: each one stops it and leaves the pool as it was.
    const outcomes: string[] = [];
    for (const ms of [1, 30, 150, 600]) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), ms);
      const outcome = await pipeline.run(image, labels, { ...options, signal: controller.signal }).then(
        () => 'finished',
        (err: Error) => err.name,
      );
      clearTimeout(timer);
      expect(['AbortError', 'finished']).toContain(outcome);
      outcomes.push(outcome);
      expect(gpu.pool.stats().liveBytes, `after an abort at ${ms} ms`).toBe(live);
    }
    // A run takes seconds here: the early aborts land in the middle of it.
    expect(outcomes.slice(0, 3)).toEqual(['AbortError', 'AbortError', 'AbortError']);
    same(await pipeline.run(image, labels, options), before);
  });

  it('two runs at the same time give the results of two runs one after the other', async () => {
    const a = worldImage(201);
    const b = worldImage(202);
    const options = { labelSet, refiner: 'crf' as const, stages: ['cam' as const, 'par' as const], read: ['cams' as const] };
    const sequential = [await pipeline.run(a.image, a.labels, options), await pipeline.run(b.image, b.labels, options)];
    const concurrent = await Promise.all([pipeline.run(a.image, a.labels, options), pipeline.run(b.image, b.labels, options)]);
    same(concurrent[0]!, sequential[0]!);
    same(concurrent[1]!, sequential[1]!);
    expect(Array.from(concurrent[1]!.stages.par!)).toEqual(Array.from(sequential[1]!.stages.par!));
  });

  it('a dataset run stopped by its signal leaves complete images only, and resumes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'seedmask-abort-'));
    try {
      const world = join(dir, 'world');
      await generateWorld({ out: world, seed: 1, train: 200, val: 4, valOnly: true });
      const out = join(dir, 'out');
      const controller = new AbortController();
      const run = runDataset(pipeline, {
        root: world, out, labelSet, split: 'val', seedOptions: { labelSet }, cams: true, overlay: true, signal: controller.signal,
        onProgress: (p) => {
          if (p.done === 1) setTimeout(() => controller.abort(), 200); // during the second image
        },
      });
      await expect(run).rejects.toMatchObject({ name: 'AbortError' });
      const files = readdirSync(join(out, 'seeds'));
      expect(files.filter((f) => f.startsWith('.')), 'temporary files').toEqual([]);
      const seeds = files.filter((f) => /^\d+\.png$/.test(f));
      expect(seeds.length).toBeGreaterThanOrEqual(1);
      expect(seeds.length).toBeLessThan(4);
      // Every finished image has all its files; nothing of an unfinished one exists.
      for (const id of ['000200', '000201', '000202', '000203']) {
        const done = seeds.includes(`${id}.png`);
        expect(files.filter((f) => f.startsWith(`${id}.`)).length > 0, id).toBe(done);
      }
      expect(existsSync(join(out, 'summary.json'))).toBe(false);
      // Resuming with other settings would mix two kinds of seeds in one folder: refused, naming the setting.
      await expect(runDataset(pipeline, { root: world, out, labelSet, split: 'val', seedOptions: { labelSet, camSource: 'maskclip' } }))
        .rejects.toThrow(/settings\.json: this folder holds seeds made with camSource = "gradcam", not "maskclip"/);
      const resumed = await runDataset(pipeline, { root: world, out, labelSet, split: 'val', seedOptions: { labelSet } });
      expect(resumed.resumed).toBe(seeds.length);
      expect(resumed.processed).toBe(4 - seeds.length);
      expect(resumed.failures).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a device lost in the middle of a dataset run: that image fails, a new device takes over, the image is retried, the run completes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'seedmask-lost-'));
    const devices: Gpu[] = [];
    const models: ClipModel[] = [];
    const open = async () => {
      const g = await Gpu.open();
      devices.push(g);
      const m = await ClipModel.load(g, WORLD_CLIP);
      models.push(m);
      return new SeedPipeline(m);
    };
    try {
      const world = join(dir, 'world');
      await generateWorld({ out: world, seed: 1, train: 200, val: 3, valOnly: true });
      const first = await open();
      let destroyed = false;
      const summary = await runDataset(first, {
        root: world, out: join(dir, 'out'), labelSet, split: 'val', seedOptions: { labelSet },
        recover: open,
        onProgress: (p) => {
          // During the second image, the way a driver reset or a browser taking the GPU away looks.
          if (p.done === 1 && !destroyed) {
            destroyed = true;
            setTimeout(() => devices[0]!.device.destroy(), 300);
          }
        },
      });
      expect(destroyed).toBe(true);
      expect(devices[0]!.lost).toBe(true);
      expect(summary.deviceLosses).toBe(1);
      expect(summary.failures).toEqual([]);
      expect(summary.processed).toBe(3);
      // The seeds made after the loss are the seeds of an undisturbed run.
      const reference = await runDataset(pipeline, { root: world, out: join(dir, 'reference'), labelSet, split: 'val', seedOptions: { labelSet } });
      expect(reference.scores.seeds!.miou).toBe(summary.scores.seeds!.miou);
    } finally {
      for (const m of models) await m.destroy().catch(() => undefined);
      for (const g of devices) await g.destroy().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an image too large for the device is refused before any GPU work, naming sizes and limit', async () => {
    const huge: RgbaImage = { width: 6000, height: 4000, data: new Uint8Array(6000 * 4000 * 4) };
    const live = gpu.pool.stats().liveBytes;
    await expect(pipeline.run(huge, [0], { labelSet })).rejects.toThrow(/^image 6000×4000 with 1 label needs \d+ MiB for the attention gradients .*more than this device's \d+ MiB buffer limit; downscale it to at most about \d+×\d+$/);
    expect(gpu.pool.stats().liveBytes).toBe(live);

    // The same check with the smallest limits WebGPU allows (128 MiB per buffer): a 1200×1000 image
    // (4,726 tokens: 3 heads × 4,726² floats = 256 MiB of attention gradients) fits the adapter's
    // limits but not these.
    const wide: RgbaImage = { width: 1200, height: 1000, data: new Uint8Array(1200 * 1000 * 4) };
    expect(() => checkFitsDevice(gpu, model.config.vision, 1000, 1200, 1)).not.toThrow();
    const small = await Gpu.open({ limits: { maxStorageBufferBindingSize: 128 * 2 ** 20, maxBufferSize: 128 * 2 ** 20 } });
    const smallModel = await ClipModel.load(small, WORLD_CLIP);
    try {
      expect(small.traits.limits.maxStorageBufferBindingSize).toBe(128 * 2 ** 20);
      const err = await new SeedPipeline(smallModel).run(wide, [0], { labelSet }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SeedError);
      expect((err as Error).message).toMatch(/^image 1200×1000 with 1 label needs 256 MiB for the attention gradients \(3 heads × 1 label × 4726² tokens\), more than this device's 128 MiB buffer limit; downscale it to at most about (\d+)×(\d+)$/);
      // The size it proposes fits.
      const [, w, h] = /about (\d+)×(\d+)$/.exec((err as Error).message)!.map(Number);
      expect(() => checkFitsDevice(small, smallModel.config.vision, h!, w!, 1)).not.toThrow();
    } finally {
      await smallModel.destroy();
      await small.destroy();
    }
  });
});
