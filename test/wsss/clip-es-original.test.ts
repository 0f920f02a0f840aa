// The seed pipeline's CAM and CAA stages against CLIP-ES's own code (linyq2117/CLIP-ES at 3893f81:
// generate_cams_voc12.py with its clip/model.py, pytorch_grad_cam and scoremap2bbox, and eval_cam.py's
// label rule), run with the world CLIP on world images by
// test/fixtures/clip-es-original/make_clip_es_golden.py (see the README there).
//
// The project side is SeedPipeline.run with stages ['cam', 'caa'] and refiner 'none' (grid CAMs, the
// CAA CAMs at image size, both label maps), plus the calls SeedPipeline.run makes between Grad-CAM and
// the image-size CAMs (sinkhornAffinity, caaRefine) for the refined grid CAMs and the box masks.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/context.js';
import { ClipModel } from '../../src/models/clip/model.js';
import { f16BitsToF32 } from '../../src/weights/dtype.js';
import { generateImage, worldLabelSetJson } from '../../src/world/generate.js';
import { sinkhornAffinity } from '../../src/kernels/wsss/caa.js';
import { caaRefine } from '../../src/wsss/caa.js';
import { gradCam } from '../../src/wsss/gradcam.js';
import { labelMap } from '../../src/wsss/labels.js';
import { parseLabelSet } from '../../src/wsss/labelset.js';
import { SeedPipeline, type SeedResult } from '../../src/wsss/seeds.js';
import { labelSetEmbeddings, textRows } from '../../src/wsss/text.js';
import { testGpu } from '../helpers/gpu.js';
import { ROOT } from '../weights/helpers.js';

interface Case {
  name: string;
  seed: number;
  split: 'train' | 'val';
  index: number;
  size: [number, number];
  input_size: [number, number];
  grid: [number, number];
  labels: number[];
  label_names: string[];
  rgb_sha256: string;
  probs: string;
  grid_cams: string;
  boxes: Array<Array<[number, number, number, number]>>;
  refined: string;
  attn_highres: string;
  label_maps: Record<string, string>;
}

const DIR = join(ROOT, 'test', 'fixtures', 'clip-es-original');
const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as { original: { repository: string; commit: string }; model_sha256: string; cases: string[] };
const cases = manifest.cases.map((name) => JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8')) as Case);

const f32 = (b64: string) => {
  const b = Buffer.from(b64, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const f16gz = (b64: string) => {
  const b = gunzipSync(Buffer.from(b64, 'base64'));
  const bits = new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  return Float32Array.from(bits, f16BitsToF32);
};
const u8gz = (b64: string) => new Uint8Array(gunzipSync(Buffer.from(b64, 'base64')));

function maxAbs(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let m = 0;
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i]! - want[i]!));
  return m;
}

function equalShare(got: Uint8Array, want: Uint8Array): number {
  expect(got.length).toBe(want.length);
  let same = 0;
  for (let i = 0; i < want.length; i++) if (got[i] === want[i]) same++;
  return same / want.length;
}

/** CLIP-ES's aff_mask: aff_mask[y0:y1, x0:x1] = 1 for every box of scoremap2bbox. */
function boxMaskOf(boxes: Array<[number, number, number, number]>, gh: number, gw: number): Uint8Array {
  const m = new Uint8Array(gh * gw);
  for (const [x0, y0, x1, y1] of boxes) for (let y = y0; y < Math.min(y1, gh); y++) for (let x = x0; x < Math.min(x1, gw); x++) m[y * gw + x] = 1;
  return m;
}

/** Distance in float16 steps (at the larger magnitude) between two float16 values. */
function f16Steps(a: number, b: number): number {
  const m = Math.max(Math.abs(a), Math.abs(b));
  const step = m < 2 ** -14 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(m)) - 10);
  return Math.abs(a - b) / step;
}

// Tolerances: measured on SwiftShader (Dawn's CPU Vulkan) against the fixture made with torch 1.13 /
// OpenCV 4.6 on x86-64 CPU (worst of the three images), with about 2× margin:
//   probs        max |Δ| 8.9e-7                           → 2e-6
//   grid CAMs    max |Δ| 4.6e-6 (values in [0, 1))        → 1e-5
//   refined grid max |Δ| 5.6e-6                           → 1e-5
//   attn_highres at most 1 float16 step (4.9e-4 in [0.5, 1)): float32 noise of ~1e-6 moves a value across
//                a float16 rounding boundary; 0.6 % of the values may do so (measured 0.30 % and 0.31 %)
//   label maps   100 % equal (cam τ=2, caa τ=2, caa τ=1) → at most 0.05 % of the pixels may differ (a
//                1-step float16 flip can only matter at an exact-to-float16 tie between two scores)
const TOL = {
  probs: 2e-6,
  gridCams: 1e-5,
  refined: 1e-5,
  attnHighresSteps: 1,
  attnHighresShare: 0.006,
  labels: 0.0005,
};

let gpu: Gpu;
let model: ClipModel;
let pipeline: SeedPipeline;
const labelSet = parseLabelSet(worldLabelSetJson(), 'world');
const results = new Map<string, SeedResult>();

beforeAll(async () => {
  gpu = await testGpu();
  const weights = join(ROOT, 'weights', 'world-clip', 'model.safetensors');
  expect(createHash('sha256').update(readFileSync(weights)).digest('hex'), 'world CLIP weights differ from the ones the fixture was made with').toBe(manifest.model_sha256);
  model = await ClipModel.load(gpu, weights);
  pipeline = new SeedPipeline(model);
});
afterAll(async () => {
  await model?.destroy();
});

describe(`CAM + CAA against CLIP-ES's code (${manifest.original.repository} @ ${manifest.original.commit}), world CLIP`, () => {
  for (const c of cases) {
    describe(`${c.name} (${c.size[1]}×${c.size[0]}, ${c.label_names.join(', ')})`, () => {
      const { image: rendered, record } = generateImage(c.seed, c.index, c.split);
      const image = { width: rendered.width, height: rendered.height, data: rendered.rgba };
      const [H, W] = c.size;
      const K = c.labels.length;
      const [gh, gw] = c.grid;
      const n = gh * gw;

      it('runs on the image and labels the fixture was made from', async () => {
        expect([rendered.height, rendered.width]).toEqual(c.size);
        const rgb = new Uint8Array(3 * W * H);
        for (let i = 0; i < W * H; i++) for (let ch = 0; ch < 3; ch++) rgb[3 * i + ch] = rendered.rgba[4 * i + ch]!;
        expect(createHash('sha256').update(rgb).digest('hex'), 'world image pixels').toBe(c.rgb_sha256);
        expect(record.classIds.map((v) => v - 1)).toEqual(c.labels);
        const r = await pipeline.run(image, c.labels, { labelSet, stages: ['cam', 'caa'], refiner: 'none', read: ['cams', 'gridCams'] });
        expect(r.grid).toEqual(c.grid);
        results.set(c.name, r);
      });

      it('Grad-CAM: label probabilities and grid CAMs', () => {
        const r = results.get(c.name)!;
        const probs = f32(c.probs);
        const m = probs.length / K;
        // CLIP-ES returns the same softmax from each label's Grad-CAM call; the project computes it once.
        const dProbs = maxAbs(r.probs, probs.subarray(0, m));
        const dCams = maxAbs(r.gridCams!, f32(c.grid_cams));
        console.log(`clip-es-original ${c.name}: probs max |Δ| ${dProbs.toExponential(2)}, grid CAMs max |Δ| ${dCams.toExponential(2)}`);
        expect(dProbs).toBeLessThanOrEqual(TOL.probs);
        expect(dCams).toBeLessThanOrEqual(TOL.gridCams);
      });

      it('CAA: box masks and refined grid CAMs (the calls SeedPipeline.run makes)', async () => {
        const emb = await labelSetEmbeddings(model, labelSet);
        const gc = await gradCam(model, { rgba: image.data, height: H, width: W }, textRows(emb, c.labels), K);
        try {
          const transition = await sinkhornAffinity(gpu, gc.affinity);
          const { refined, masks } = await caaRefine(gpu, { transition, cams: gc.cams, camsHost: gc.camsHost, grid: gc.grid, threshold: 0.4 });
          for (let k = 0; k < K; k++) expect(Array.from(masks[k]!), `box mask of label ${k}`).toEqual(Array.from(boxMaskOf(c.boxes[k]!, gh, gw)));
          const d = maxAbs(await gpu.readF32(refined), f32(c.refined));
          console.log(`clip-es-original ${c.name}: refined grid CAMs max |Δ| ${d.toExponential(2)} (n = ${n})`);
          expect(d).toBeLessThanOrEqual(TOL.refined);
          gpu.release(transition, refined);
        } finally {
          gc.release();
        }
      });

      it('CAA CAMs at image size (attn_highres) and both label maps', async () => {
        const r = results.get(c.name)!;
        const want = f16gz(c.attn_highres);
        const d = maxAbs(r.cams!, want);
        let steps = 0, moved = 0;
        for (let i = 0; i < want.length; i++) {
          if (r.cams![i] === want[i]) continue;
          moved++;
          steps = Math.max(steps, f16Steps(r.cams![i]!, want[i]!));
        }
        const cam = equalShare(r.stages.cam!, u8gz(c.label_maps['highres tau=2']!));
        const caa = equalShare(r.stages.caa!, u8gz(c.label_maps['attn_highres tau=2']!));
        const t = gpu.upload(r.cams!, [K, H, W]);
        const caa1 = equalShare(await labelMap(gpu, t, { keys: c.labels, background: 1 }), u8gz(c.label_maps['attn_highres tau=1']!));
        gpu.release(t);
        console.log(
          `clip-es-original ${c.name}: attn_highres max |Δ| ${d.toExponential(2)}, ${moved} of ${want.length} values differ (${((100 * moved) / want.length).toFixed(3)} %), ` +
            `at most ${steps} float16 step(s); label maps equal: cam τ=2 ${(100 * cam).toFixed(3)} %, caa τ=2 ${(100 * caa).toFixed(3)} %, caa τ=1 ${(100 * caa1).toFixed(3)} %`,
        );
        expect(steps).toBeLessThanOrEqual(TOL.attnHighresSteps);
        expect(moved / want.length).toBeLessThanOrEqual(TOL.attnHighresShare);
        expect(1 - cam).toBeLessThanOrEqual(TOL.labels);
        expect(1 - caa).toBeLessThanOrEqual(TOL.labels);
        expect(1 - caa1).toBeLessThanOrEqual(TOL.labels);
      });
    });
  }
});
