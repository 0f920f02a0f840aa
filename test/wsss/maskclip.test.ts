// MaskCLIP (src/wsss/sources/maskclip.ts):
//   1. against PyTorch (test/fixtures/maskclip/tiny.{json,bin}, weights/make_maskclip_goldens.py: a
//      re-statement of MaskCLIP's value path and head, since its mmseg code cannot run here) on the
//      tiny fixture CLIP from RGBA images: scores, CAMs, probabilities, affinity, zero-shot labels;
//   2. as the pipeline's CAM source on world images with the world CLIP: every stage runs, the maps
//      are labels, the CAMs are MaskCLIP's and not Grad-CAM's, and the run frees what it took;
//   3. the `seedmask maskclip` command and the `--cam` option.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/context.js';
import { encodePng, type RgbaImage } from '../../src/io/image.js';
import { decodeLabelPng } from '../../src/io/labelpng.js';
import { Golden, hashRgba } from '../../src/models/clip/golden.js';
import { ClipModel } from '../../src/models/clip/model.js';
import { run as maskclipCli } from '../../src/cli/maskclip.js';
import { run as seedsCli } from '../../src/cli/seeds.js';
import { loadClip } from '../../src/weights/index.js';
import { generateImage, worldLabelSetJson } from '../../src/world/generate.js';
import { parseLabelSet } from '../../src/wsss/labelset.js';
import { SeedPipeline } from '../../src/wsss/seeds.js';
import { maskClip, maskClipLabels, maskClipLabelsOf } from '../../src/wsss/sources/maskclip.js';
import { testGpu } from '../helpers/gpu.js';
import { WORLD_CLIP, worldImage } from '../helpers/world.js';
import { expectClose } from '../helpers/reference.js';
import { captureStdio } from '../helpers/stdio.js';
import { ROOT, TINY_CLIP_FILES } from '../weights/helpers.js';

interface MaskClipCase {
  name: string;
  seed: number;
  source_size: [number, number];
  grid: [number, number];
  classes: number;
  background: number;
  caa_layers: number;
  zeroshot_near_ties: number;
  arrays: Record<'text' | 'probs' | 'cams' | 'affinity' | 'scores' | 'zeroshot', string>;
}

const worldLabels = parseLabelSet(worldLabelSetJson(), 'world');


let gpu: Gpu;

beforeAll(async () => {
  gpu = await testGpu();
});

describe('MaskCLIP vs PyTorch (tiny CLIP, test/fixtures/maskclip)', () => {
  let golden: Golden;
  let cases: MaskClipCase[];
  let model: ClipModel;
  beforeAll(async () => {
    golden = await Golden.read(join(ROOT, 'test', 'fixtures', 'maskclip', 'tiny'));
    cases = (golden.header as unknown as { cases: MaskClipCase[] }).cases;
    model = ClipModel.fromWeights(gpu, await loadClip(TINY_CLIP_FILES.openaiSafetensors));
  });
  afterAll(async () => {
    await model?.destroy();
  });
  const arr = (c: MaskClipCase, key: keyof MaskClipCase['arrays']) => golden.array(c.arrays[key]).data;

  it('scores, CAMs, probabilities and affinity of every case, from RGBA through CLIP-ES preprocessing', async () => {
    expect(cases.length).toBe(2);
    for (const c of cases) {
      const [h, w] = c.source_size;
      const image: RgbaImage = { width: w, height: h, data: hashRgba(h, w, c.seed) };
      const r = await maskClip(model, image, arr(c, 'text'), c.classes, { caaLayers: c.caa_layers, scores: true });
      try {
        const [gh, gw] = c.grid;
        const n = gh * gw;
        const R = c.classes + c.background;
        expect(r.grid).toEqual(c.grid);
        expect(r.scores!.shape).toEqual([R, gh, gw]);
        // Scores are cosines in [−1, 1]: float32 forwards in different summation orders agree to ~1e-7.
        const scores = await gpu.readF32(r.scores!);
        const want = arr(c, 'scores'); // [n, R]
        const byRow = new Float32Array(R * n);
        for (let t = 0; t < n; t++) for (let q = 0; q < R; q++) byRow[q * n + t] = want[t * R + q]!;
        expectClose(scores, byRow, { atol: 1e-6 }, `case ${c.name} scores`);
        expectClose(r.probsHost!, arr(c, 'probs'), { atol: 2e-6 }, `case ${c.name} probs`);
        // CAMs in [0, 1] after the min-max: the softmax at κ ≈ 14 amplifies score differences ~30×.
        expectClose(r.camsHost!, arr(c, 'cams'), { atol: 1e-5 }, `case ${c.name} cams`);
        expect(Array.from(await gpu.readF32(r.cams))).toEqual(Array.from(r.camsHost!));
        expectClose(await gpu.readF32(r.affinity!), arr(c, 'affinity'), { atol: 1e-6 }, `case ${c.name} affinity`);
      } finally {
        gpu.release(r.cams, r.probs, r.scores!, r.affinity!);
      }
    }
  });

  it('zero-shot labels equal PyTorch’s at every pixel (no near-ties in the fixture)', async () => {
    for (const c of cases) {
      const [h, w] = c.source_size;
      expect(c.zeroshot_near_ties).toBe(0);
      const r = await maskClipLabelsOf(model, { width: w, height: h, data: hashRgba(h, w, c.seed) }, arr(c, 'text'), c.classes);
      expect(r.grid).toEqual(c.grid);
      const want = Uint8Array.from(arr(c, 'zeroshot'));
      // Both a label and the background occur, so the comparison sees the class/background rule.
      expect(new Set(want).size).toBeGreaterThan(1);
      expect(Array.from(r.labels)).toEqual(Array.from(want));
    }
  });
});

describe('MaskCLIP as the CAM source of the seed pipeline (world CLIP)', () => {
  let model: ClipModel;
  let pipeline: SeedPipeline;
  beforeAll(async () => {
    model = await ClipModel.load(gpu, WORLD_CLIP);
    pipeline = new SeedPipeline(model);
  });
  afterAll(async () => {
    await model?.destroy();
  });

  it('runs every stage on its CAMs, deterministically, and frees every buffer it took', async () => {
    const { image, labels } = worldImage(3);
    const options = { labelSet: worldLabels, stages: ['cam', 'caa', 'crf', 'par', 'rw'] as const, camSource: 'maskclip' as const, read: ['gridCams'] as const };
    const a = await pipeline.run(image, labels, { ...options, stages: [...options.stages], read: [...options.read] });
    // The first run compiles the graphs, whose planned buffers stay with the model; the second
    // records the CRF of this size, kept until releaseCaches. After them a run leaves nothing behind.
    const first = gpu.pool.stats().liveBytes;
    await pipeline.run(image, labels, { ...options, stages: [...options.stages], read: [...options.read] });
    const live = gpu.pool.stats().liveBytes;
    expect(live).toBeGreaterThan(first);
    const b = await pipeline.run(image, labels, { ...options, stages: [...options.stages], read: [...options.read] });
    expect(gpu.pool.stats().liveBytes).toBe(live);
    pipeline.releaseCaches();
    expect(gpu.pool.stats().liveBytes).toBe(first);
    expect(Object.keys(a.stages).sort()).toEqual(['caa', 'cam', 'crf', 'par', 'rw']);
    for (const [stage, map] of Object.entries(a.stages)) {
      expect(map!.length, stage).toBe(image.width * image.height);
      const allowed = new Set([0, 255, ...labels.map((c) => c + 1)]);
      for (const v of new Set(map)) expect(allowed.has(v), `${stage}: value ${v}`).toBe(true);
      expect(Array.from(b.stages[stage as keyof typeof b.stages]!), stage).toEqual(Array.from(map!));
    }
    expect(a.timings.maskclip).toBeGreaterThan(0);
    // The second run's traffic (the first also compiled graphs and uploaded constants): the image
    // goes up once, and the maps, the grid CAMs, the softmax and the flags come back together at
    // the end.
    {
      const r = b;
      expect(r.traffic.uploads).toBe(1);
      expect(r.traffic.uploadBytes).toBe(image.width * image.height * 4);
      expect(r.traffic.downloads).toBe(1);
      expect(r.traffic.submits).toBe(1);
      expect(r.traffic.dispatches).toBeGreaterThan(20);
      expect(r.traffic.waitMs).toBeGreaterThan(0);
      expect(r.traffic.waitMs).toBeLessThanOrEqual(r.timings.total!);
      expect(r.traffic.hostMs).toBeGreaterThanOrEqual(0);
    }
    expect(a.timings.gradcam).toBeUndefined();

    // The grid CAMs are MaskCLIP's: equal to a direct MaskCLIP pass, and not Grad-CAM's.
    const direct = await maskClip(model, image, await textOf(model, labels), labels.length, { caaLayers: 8 });
    try {
      expect(Array.from(a.gridCams!)).toEqual(Array.from(direct.camsHost!));
    } finally {
      gpu.release(direct.cams, direct.probs, direct.affinity!);
    }
    const gradcam = await pipeline.run(image, labels, { labelSet: worldLabels, refiner: 'none', read: ['gridCams'] });
    let differ = 0;
    for (let i = 0; i < a.gridCams!.length; i++) if (Math.abs(a.gridCams![i]! - gradcam.gridCams![i]!) > 0.05) differ++;
    expect(differ).toBeGreaterThan(a.gridCams!.length / 10);
  });

  it('an unknown CAM source is refused, naming the known ones', async () => {
    const { image, labels } = worldImage(3);
    await expect(pipeline.run(image, labels, { labelSet: worldLabels, camSource: 'bogus' as 'maskclip' })).rejects.toThrow("unknown CAM source 'bogus' (gradcam, maskclip)");
  });

  it('zero-shot labels of a world image: every pixel labelled, background where the background prompts win, some object pixels right', async () => {
    const { image, labels } = worldImage(5);
    const { mask } = generateImage(1, 5, 'val').image;
    const r = await maskClipLabels(model, image, worldLabels);
    expect(r.labels.length).toBe(image.width * image.height);
    // The world CLIP is too weak for open-vocabulary dense labels (README: 8.7 % mIoU on 8 val
    // images, mostly background): this checks the labelling, not its quality.
    let objects = 0, right = 0, background = 0;
    for (let i = 0; i < mask.length; i++) {
      if (r.labels[i] === 0) background++;
      if (mask[i] === 0 || mask[i] === 255) continue;
      objects++;
      if (r.labels[i] === mask[i]) right++;
    }
    console.log(`zero-shot on world val 5 (labels ${labels.map((c) => worldLabels.classes[c]!.name).join(', ')}): ${((100 * background) / mask.length).toFixed(1)} % background, ${((100 * right) / objects).toFixed(1)} % of ${objects} object pixels with their own class`);
    expect(right).toBeGreaterThan(0);
    expect(background).toBeGreaterThan(0);
    expect(background).toBeLessThan(mask.length);
  });
});

async function textOf(model: ClipModel, labels: number[]): Promise<Float32Array> {
  const { labelSetEmbeddings, textRows } = await import('../../src/wsss/text.js');
  return textRows(await labelSetEmbeddings(model, worldLabels), labels);
}

describe('the maskclip command and --cam', () => {
  const io = captureStdio();
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seedmask-maskclip-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('seedmask maskclip writes a label PNG and an overlay per image', async () => {
    const { image } = worldImage(5);
    const path = join(dir, 'w5.png');
    await writeFile(path, encodePng(image));
    const labelsetPath = join(dir, 'labelset.json');
    await writeFile(labelsetPath, JSON.stringify(worldLabelSetJson()));
    const code = await maskclipCli(['--weights', WORLD_CLIP, '--labelset', labelsetPath, path, '-o', join(dir, 'out')]);
    expect(code, io.stderr).toBe(0);
    expect(io.stdout).toMatch(/w5\.png: \d+×\d+, grid \d+×\d+ → .*w5\.png \(/);
    const map = decodeLabelPng(new Uint8Array(readFileSync(join(dir, 'out', 'w5.png'))), 'w5.png');
    expect([map.width, map.height]).toEqual([image.width, image.height]);
    expect(existsSync(join(dir, 'out', 'w5.overlay.png'))).toBe(true);
  });

  it('--cam names the known sources when given another', async () => {
    const code = await seedsCli(['--weights', WORLD_CLIP, '--labels', 'box', '--cam', 'gradcam2', 'x.png', '-o', join(dir, 'o')]);
    expect(code).toBe(2);
    expect(io.stderr).toMatch(/--cam must be one of gradcam, maskclip, got 'gradcam2'/);
  });
});
