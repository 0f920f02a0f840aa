// `npx tsx scripts/world-crf-response.ts [--images N] [--out FILE]`: how the dense CRF responds to
// CAMs of known shape on the world's val images, with CLIP taken out of the loop. Each image's CAMs
// are made from its ground-truth masks: the mask of each of its classes, optionally moved by a
// shift, blurred (σ a fraction of the image's longer side), min-max normalised and raised to a
// power γ. γ = 1 gives CAMs that spill over the object's edges, as CLIP ViT-B/16's do on VOC; a
// large γ gives CAMs that cover only the object's core; a shift gives CAMs beside the object. Every setting is scored twice, the way the
// pipeline's stages are: the CAM rule (bg = (1 − max)², argmax) and CLIP-ES's CRF seeds (CRF on
// [1 − max, CAMs], pixels under 0.95 confidence counted as misses). The difference is what the
// CRF adds for such CAMs on this world. Writes bench/results/world-crf-response-<date>.json.
import { join } from 'node:path';
import { parseArgs, integerOption } from '../src/cli/args.js';
import { computeScores, ConfusionMatrix } from '../src/eval/confusion.js';
import { Gpu } from '../src/gpu/context.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { packRgba } from '../src/kernels/image.js';
import { crfImageWords } from '../src/kernels/wsss/crf.js';
import { worldPhoto } from '../src/world/photo.js';
import { WORLD_CLASSES } from '../src/world/classes.js';
import { CLIP_ES_MEAN_BGR, crfSeedLabelWords, denseCrf } from '../src/wsss/crf.js';
import { crfProbabilities, labelMap, readLabelWords } from '../src/wsss/labels.js';

const ROOT = join(import.meta.dirname, '..');
/** The world's val images are 200..259 of seed 1 (`seedmask world generate` defaults). */
const FIRST_VAL = 200;
const args = parseArgs(process.argv.slice(2), { values: ['--images', '--out'], flags: [] });
const count = integerOption(args, '--images', 60);
const date = new Date().toISOString().slice(0, 10);
const out = args.values.get('--out') ?? join(ROOT, 'bench', 'results', `world-crf-response-${date}.json`);
/** σ and the shift (right and down) as fractions of the longer side. */
const settings = [
  { sigma: 0.06, gamma: 1, shift: 0 },
  { sigma: 0.06, gamma: 4, shift: 0 },
  { sigma: 0.06, gamma: 1, shift: 0.06 },
];

/** A Gaussian blur of σ pixels, approximated by three running-sum box filters along rows and columns, edges clamped. */
function blur(src: Float64Array, width: number, height: number, sigma: number): Float64Array {
  // Three box passes of width w have variance 3·(w² − 1)/12 = σ²  →  w = √(4σ² + 1), odd.
  let w = Math.max(1, Math.round(Math.sqrt(4 * sigma * sigma + 1)));
  if (w % 2 === 0) w += 1;
  const r = (w - 1) / 2;
  let a = Float64Array.from(src);
  let b = new Float64Array(src.length);
  const pass = (from: Float64Array, to: Float64Array, n: number, lines: number, stride: number, step: number) => {
    for (let line = 0; line < lines; line++) {
      const base = line * stride;
      const at = (i: number) => from[base + Math.min(n - 1, Math.max(0, i)) * step]!;
      let sum = 0;
      for (let i = -r; i <= r; i++) sum += at(i);
      for (let i = 0; i < n; i++) {
        to[base + i * step] = sum / w;
        sum += at(i + r + 1) - at(i - r);
      }
    }
  };
  for (let k = 0; k < 3; k++) {
    pass(a, b, width, height, width, 1);
    [a, b] = [b, a];
    pass(a, b, height, width, 1, width);
    [a, b] = [b, a];
  }
  return a;
}

/** [K, H, W] CAMs of the image's classes from its mask: shifted, blurred, min-max normalised, to the power γ. */
function syntheticCams(mask: Uint8Array, width: number, height: number, labels: readonly number[], setting: { sigma: number; gamma: number; shift: number }): Float32Array {
  const n = width * height;
  const long = Math.max(width, height);
  const d = Math.round(setting.shift * long);
  const cams = new Float32Array(labels.length * n);
  labels.forEach((key, k) => {
    const m = new Float64Array(n);
    for (let y = d; y < height; y++) for (let x = d; x < width; x++) m[y * width + x] = mask[(y - d) * width + (x - d)] === key + 1 ? 1 : 0;
    const b = blur(m, width, height, setting.sigma * long);
    let lo = Infinity, hi = -Infinity;
    for (const v of b) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
    for (let i = 0; i < n; i++) cams[k * n + i] = ((b[i]! - lo) / (hi - lo || 1)) ** setting.gamma;
  });
  return cams;
}

const gpu = await Gpu.open();
try {
  const classes = WORLD_CLASSES.length + 1;
  const matrices = settings.map(() => ({ cam: new ConfusionMatrix(classes), crf: new ConfusionMatrix(classes) }));
  for (let i = 0; i < count; i++) {
    const { id, image, labels, mask } = await worldPhoto(1, FIRST_VAL + i, 'val');
    const { width, height } = image;
    const rgba = gpu.upload(packRgba(image.data), [height, width], 'u32', 'image');
    const crfImage = await crfImageWords(gpu, rgba, CLIP_ES_MEAN_BGR);
    gpu.release(rgba);
    for (const [s, setting] of settings.entries()) {
      const cams = gpu.upload(syntheticCams(mask, width, height, labels, setting), [labels.length, height, width], 'f32', 'synthetic cams');
      matrices[s]!.cam.add(mask, await labelMap(gpu, cams, { keys: labels, background: 2 }), id);
      const probs = await crfProbabilities(gpu, cams);
      const { q } = await denseCrf(gpu, { image: crfImage, height, width, probs });
      matrices[s]!.crf.add(mask, await readLabelWords(gpu, await crfSeedLabelWords(gpu, q, labels, { confidence: 0.95 }), width * height), id);
      gpu.release(cams, probs, q);
    }
    gpu.release(crfImage);
    process.stderr.write(`\r${i + 1}/${count} val images`);
  }
  process.stderr.write('\n');
  // Mean precision and recall of the object classes present: how the CAMs cover the objects.
  const coverage = (m: ConfusionMatrix) => {
    const objects = computeScores(m).classes.filter((c) => c.id > 0 && c.present);
    const mean = (f: (c: (typeof objects)[number]) => number) => objects.reduce((a, c) => a + f(c), 0) / objects.length;
    return { objectPrecision: mean((c) => (Number.isNaN(c.precision) ? 0 : c.precision)), objectRecall: mean((c) => c.recall) };
  };
  const rows = settings.map((setting, s) => {
    const cam = computeScores(matrices[s]!.cam).miou, crf = computeScores(matrices[s]!.crf).miou;
    return { ...setting, cam, crf, crfGainPoints: 100 * (crf - cam), camCoverage: coverage(matrices[s]!.cam) };
  });
  for (const r of rows) {
    console.log(`σ ${r.sigma}, γ ${r.gamma}, shift ${r.shift}: cam ${(100 * r.cam).toFixed(2)} % (object precision ${(100 * r.camCoverage.objectPrecision).toFixed(1)}, recall ${(100 * r.camCoverage.objectRecall).toFixed(1)}), crf ${(100 * r.crf).toFixed(2)} % (${r.crfGainPoints >= 0 ? '+' : ''}${r.crfGainPoints.toFixed(2)} points)`);
  }
  const what = 'The dense CRF (CLIP-ES settings) on CAMs made from the ground-truth masks of the seed-1 world val images: each class mask moved right and down by shift × the longer side, blurred with σ = sigma × the longer side, min-max normalised, to the power gamma; cam = the CAM rule bg = (1 − max)², crf = CLIP-ES CRF seeds (confidence < 0.95 scored as misses); mIoU as fractions';
  await writeFileAtomic(out, `${JSON.stringify({ tool: 'scripts/world-crf-response.ts', what, date: new Date().toISOString(), adapter: gpu.adapterName, world: { seed: 1, split: 'val', images: [FIRST_VAL, FIRST_VAL + count - 1] }, settings: rows }, null, 1)}\n`);
  console.log(`wrote ${out}`);
} finally {
  await gpu.destroy();
}
