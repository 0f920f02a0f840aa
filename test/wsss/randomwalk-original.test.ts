// psa's random walk against goldens from psa's own code (test/fixtures/rw-original, made by
// make_rw_golden.py): jiwoon-ahn/psa @ 9493e59 infer_aff.py run as a script, with the affinities of
// network/resnet38_aff.py Net.forward (pairs from tool/pyutils.py get_indices_of_pairs) computed
// from given feature maps. The project's side is randomWalk as src/wsss/seeds.ts calls it, at psa's
// stride 8.
import { describe, expect, it } from 'vitest';
import { randomWalk } from '../../src/wsss/randomwalk.js';
import { caseArrays, readManifest, type ArrayEntry } from '../helpers/fixture-arrays.js';
import { testGpu } from '../helpers/gpu.js';
import { expectClose } from '../helpers/reference.js';

interface GoldenCase {
  name: string;
  height: number;
  width: number;
  grid: [number, number];
  keys: number[];
  beta: number;
  logt: number;
  alpha: number;
  radius: number;
  stride: number;
  /** Smallest (first − second) / first of the upsampled scores over the image. */
  min_label_margin: number;
  file: string;
  arrays: Record<'features' | 'cams' | 'scores' | 'labels', ArrayEntry>;
}

const manifest = readManifest<{ cases: GoldenCase[] }>('rw-original');

function load(c: GoldenCase) {
  const get = caseArrays('rw-original', c.file, c.arrays);
  return { features: get('features') as Float32Array, cams: get('cams') as Float32Array, scores: get('scores') as Float32Array, labels: get('labels') as Uint8Array };
}

// Measured (SwiftShader), relative to each score: psa-67x93 (T^256) max 2.9e-5, short-70x77 (T^8)
// max 1.8e-6; bounds ~2× that. Both sides are float32: psa's CPU matmuls and the GPU's differ in
// summation order, and each squaring roughly doubles the relative error, hence the larger bound for
// the longer walk. For scale: β 2 % off moves the scores by up to 15 %. Both bounds are below the
// fixtures' label margins (≥ 2.0e-4), so the labels must match exactly.
const RTOL: Record<string, number> = { 'psa-67x93': 6e-5, 'short-70x77': 4e-6 };

describe("randomWalk vs psa's infer_aff.py (test/fixtures/rw-original)", () => {
  for (const c of manifest.cases) {
    it(`${c.name}: β ${c.beta}, logt ${c.logt}, α ${c.alpha}`, async () => {
      const rtol = RTOL[c.name]!;
      expect(rtol, c.name).toBeDefined();
      expect(2 * rtol, `${c.name}: bound below the label margin`).toBeLessThan(c.min_label_margin);
      const gpu = await testGpu();
      const g = load(c);
      const [h, w] = c.grid;
      const k = c.keys.length;
      const features = gpu.upload(g.features, c.arrays.features.shape);
      const cams = gpu.upload(g.cams, [k, c.height, c.width]);
      const { scores, labels } = await randomWalk(gpu, { beta: c.beta, logt: c.logt, alpha: c.alpha, radius: c.radius, features, cams, keys: c.keys, stride: c.stride });
      expect(scores.shape).toEqual([k + 1, h, w]);
      const got = await gpu.readF32(scores);
      gpu.release(features, cams, scores);
      expectClose(got, g.scores, { rtol }, `${c.name} cam_rw`);
      expect(Array.from(labels), `${c.name} labels`).toEqual(Array.from(g.labels));
    });
  }
});
