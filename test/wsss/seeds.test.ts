// The seed pipeline end to end.
//   1. Golden chain: the image and text rows of the Grad-CAM goldens (tiny fixture CLIP) through
//      seedmask's GPU Grad-CAM and CAA, against PyTorch autograd's CAMs + CLIP-ES's numpy/cv2 CAA
//      (test/fixtures/seeds/tiny-caa.json, weights/make_seed_goldens.py): refined grid CAMs within
//      NMSE 1e-6, attn_highres within NMSE 1e-6, label maps identical wherever the two best scores
//      differ by more than 1e-4 (near-ties are noise of the random weights).
//   2. SeedPipeline on a world image with the world CLIP: every stage, output values, files,
//      determinism, and bad input.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/context.js';
import { decodeLabelPng } from '../../src/io/labelpng.js';
import { decodeNpy } from '../../src/io/npy.js';
import { Golden } from '../../src/models/clip/golden.js';
import { ClipModel } from '../../src/models/clip/model.js';
import { loadClip } from '../../src/weights/index.js';
import { generateImage, worldLabelSetJson } from '../../src/world/generate.js';
import { caaHighres, caaRefine } from '../../src/wsss/caa.js';
import { gradCam } from '../../src/wsss/gradcam.js';
import { labelMap } from '../../src/wsss/labels.js';
import { LabelSetError, parseLabelSet } from '../../src/wsss/labelset.js';
import { writeSeedOutputs } from '../../src/wsss/outputs.js';
import { SeedError, SeedPipeline, STAGES } from '../../src/wsss/seeds.js';
import { testGpu } from '../helpers/gpu.js';
import { ROOT, TINY_CLIP_FILES } from '../weights/helpers.js';

interface SeedGoldenCase {
  name: string;
  grid: [number, number];
  classes: number;
  size: [number, number];
  masks: string;
  refined: string;
  highres: string;
  labels_tau1: string;
  labels_tau2: string;
}

const f32 = (b64: string) => {
  const bytes = Buffer.from(b64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
};
const u8 = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));

function nmse(got: ArrayLike<number>, want: ArrayLike<number>, from: number, to: number): number {
  let num = 0, den = 0;
  for (let i = from; i < to; i++) {
    num += (got[i]! - want[i]!) ** 2;
    den += want[i]! ** 2;
  }
  return den === 0 ? num : num / den;
}

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

describe('golden chain: GPU Grad-CAM → CAA against PyTorch autograd → CLIP-ES numpy/cv2', () => {
  let model: ClipModel;
  let golden: Golden;
  let cases: SeedGoldenCase[];
  beforeAll(async () => {
    model = ClipModel.fromWeights(gpu, await loadClip(TINY_CLIP_FILES.openaiSafetensors));
    golden = await Golden.read(join(ROOT, 'test', 'fixtures', 'gradcam', 'tiny'));
    cases = JSON.parse(await readFile(join(ROOT, 'test', 'fixtures', 'seeds', 'tiny-caa.json'), 'utf8')).cases;
  });
  afterAll(async () => {
    await model?.destroy();
  });

  it('refined CAMs, attn_highres and label maps match for every case', async () => {
    const gcCases = (golden.header as unknown as { cases: { name: string; input_size: [number, number]; classes: number; caa_layers: number; arrays: Record<string, string> }[] }).cases;
    expect(cases.length).toBe(gcCases.length);
    for (const c of cases) {
      const g = gcCases.find((x) => x.name === c.name)!;
      const [h, w] = g.input_size;
      const gc = await gradCam(model, { tensor: golden.array(g.arrays.input!).data, height: h, width: w }, golden.array(g.arrays.text!).data, g.classes, { caaLayers: g.caa_layers });
      const K = c.classes;
      const n = c.grid[0] * c.grid[1];
      const { refined, masks } = await caaRefine(gpu, { affinity: gc.affinity, cams: gc.cams, camsHost: gc.camsHost, grid: gc.grid, threshold: 0.4 });
      // Box masks come from thresholded uint8 CAMs: identical unless a CAM sits at a threshold.
      expect(Array.from(masks.flatMap((m) => Array.from(m))), `${c.name}: box masks`).toEqual(Array.from(u8(c.masks)));
      const got = await gpu.readF32(refined);
      const want = f32(c.refined);
      for (let k = 0; k < K; k++) expect(nmse(got, want, k * n, (k + 1) * n), `${c.name}: refined class ${k}`).toBeLessThan(1e-6);
      const [H, W] = c.size;
      const high = await caaHighres(gpu, refined, gc.grid, [H, W]);
      const gotHigh = await gpu.readF32(high);
      const wantHigh = f32(c.highres);
      for (let k = 0; k < K; k++) expect(nmse(gotHigh, wantHigh, k * H * W, (k + 1) * H * W), `${c.name}: highres class ${k}`).toBeLessThan(1e-6);
      for (const tau of [1, 2] as const) {
        const labels = await labelMap(gpu, high, { keys: Array.from({ length: K }, (_, k) => k), background: tau });
        const wantLabels = u8(tau === 1 ? c.labels_tau1 : c.labels_tau2);
        let compared = 0;
        for (let p = 0; p < H * W; p++) {
          const scores = [(1 - Math.max(...Array.from({ length: K }, (_, k) => wantHigh[k * H * W + p]!))) ** tau, ...Array.from({ length: K }, (_, k) => wantHigh[k * H * W + p]!)].sort((a, b) => b - a);
          if (scores.length > 1 && scores[0]! - scores[1]! <= 1e-4) continue;
          compared++;
          if (labels[p] !== wantLabels[p]) expect.fail(`${c.name}: τ=${tau} label at pixel ${p}: ${labels[p]} vs ${wantLabels[p]}`);
        }
        expect(compared, `${c.name}: pixels compared`).toBeGreaterThan(0.5 * H * W);
      }
      gpu.release(refined, high);
      gc.release();
    }
  });
});

describe('SeedPipeline on the world CLIP', () => {
  let model: ClipModel;
  let pipeline: SeedPipeline;
  const labelSet = parseLabelSet(worldLabelSetJson(), 'world');
  const { image: rendered, record } = generateImage(1, 200, 'val');
  const image = { width: rendered.width, height: rendered.height, data: rendered.rgba };
  const labels = record.classIds.map((v) => v - 1);
  beforeAll(async () => {
    model = await ClipModel.load(gpu, join(ROOT, 'weights', 'world-clip', 'model.safetensors'));
    pipeline = new SeedPipeline(model);
  });
  afterAll(async () => {
    await model?.destroy();
  });

  it('computes every stage, with values that are labels, background or ignore, deterministically', async () => {
    const r = await pipeline.run(image, labels, { labelSet, stages: STAGES, read: ['cams'], stageTimes: true });
    const { width: W, height: H } = image;
    expect(r.labels).toEqual(labels);
    expect(Object.keys(r.stages).sort()).toEqual([...STAGES].sort());
    const allowed = new Set([0, 255, ...labels.map((c) => c + 1)]);
    for (const [stage, map] of Object.entries(r.stages)) {
      expect(map.length, stage).toBe(W * H);
      for (const v of new Set(map)) expect(allowed.has(v), `${stage}: value ${v}`).toBe(true);
    }
    expect(r.seeds).toBe(r.stages.crf);
    expect(r.cams!.length).toBe(labels.length * W * H);
    expect(r.cams!.every((v) => v >= 0 && v <= 1)).toBe(true);
    // The CAA map is neither all background nor a single class (the world CLIP is weak: not every
    // class wins somewhere, but the map must carry information).
    expect(labels.some((c) => r.stages.caa!.includes(c + 1)), 'some class in the CAA map').toBe(true);
    expect(r.stages.caa!.includes(0), 'background in the CAA map').toBe(true);
    expect(r.probs.length).toBe(labels.length + labelSet.background.length);
    for (const k of ['text', 'gradcam', 'caa', 'crf', 'par', 'rw', 'total']) expect(r.timings[k], k).toBeGreaterThanOrEqual(0);

    const again = await pipeline.run(image, labels, { labelSet, refiner: 'none', read: ['cams'] });
    expect(Array.from(again.cams!)).toEqual(Array.from(r.cams!));
    expect(again.seeds).toEqual(r.stages.caa);

    const dir = await mkdtemp(join(tmpdir(), 'seedmask-seeds-'));
    try {
      const files = await writeSeedOutputs(join(dir, 'x'), image, r, labelSet, { stageDir: join(dir, 'stages'), id: 'x' });
      const seeds = decodeLabelPng(await readFile(join(dir, 'x.png')));
      expect(Array.from(seeds.data)).toEqual(Array.from(r.seeds));
      const npy = decodeNpy(await readFile(join(dir, `x.cam.${labelSet.classes[labels[0]!]!.name}.npy`)));
      expect(npy.shape).toEqual([H, W]);
      expect(Array.from(npy.data.subarray(0, 50))).toEqual(Array.from(r.cams!.subarray(0, 50)));
      expect(files).toContain(join(dir, 'x.overlay.png'));
      expect(files.filter((f) => f.includes('stages')).length).toBe(STAGES.length);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects bad input with errors that name it', async () => {
    await expect(pipeline.run(image, [], { labelSet })).rejects.toThrow(LabelSetError);
    await expect(pipeline.run(image, 'ball, unicorn', { labelSet })).rejects.toThrow(/unknown class 'unicorn'/);
    await expect(pipeline.run(image, [0, 0], { labelSet })).rejects.toThrow(/given twice/);
    await expect(pipeline.run(image, [99], { labelSet })).rejects.toThrow(/not a class index/);
    await expect(pipeline.run({ width: 10, height: 10, data: new Uint8Array(12) }, [0], { labelSet })).rejects.toThrow(SeedError);
    await expect(pipeline.run(image, [0], { labelSet, refiner: 'magic' as never })).rejects.toThrow(/unknown refiner 'magic'/);
  });
});
