#!/usr/bin/env node
// `npm run check:readme`: the figures README.md quotes from committed results files must be those
// files' values. Each check below names a results file, where README quotes it (a table row and
// column, or a sentence with {} where the figures stand), and how the figure is formatted. Also:
// every bench/results/ file README names exists. Prints each mismatch and exits 1 if there is one.
//
// A figure added to README from a results file gets a check here; `test/docs/readme.test.ts` runs
// this in CI.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const pct = (fraction) => (100 * fraction).toFixed(2);
const mib = (bytes) => (bytes / 2 ** 20).toFixed(0);
const grouped = (n) => Math.round(n).toLocaleString('en-US');
const stageFraction = (r, name) => r.stages.find((s) => s.name === name).scores.miou;
const stageMiou = (name) => (r) => pct(stageFraction(r, name));
const sample = (n, get) => (r) => {
  const s = r.samples.find((x) => x.images === n);
  if (!s) throw new Error(`no sample at ${n} images`);
  return get(s);
};

const WORLD_GRADCAM = 'bench/results/world-report-gradcam-8-2026-12-07.json';
const WORLD_MASKCLIP = 'bench/results/world-report-maskclip-8-2026-12-07.json';
const WORLD_GRADCAM_60 = 'bench/results/world-report-gradcam-60-2026-12-07.json';
const CRF_RESPONSE = 'bench/results/world-crf-response-2026-12-07.json';
const FUZZ = 'bench/results/fuzz-2026-12-06.json';
const SOAK = 'bench/results/soak-swiftshader-2026-12-06-23-11-24.json';
const SEEDS = 'bench/results/seeds-swiftshader-2026-12-07-01-49-35.json';
const SEEDS_TRAFFIC = 'bench/results/seeds-world-clip-swiftshader-2026-12-07.json';
const SEEDS_RESIDENT = 'bench/results/seeds-world-clip-resident-swiftshader-2026-12-07.json';
const SEEDS_ONE_READBACK = 'bench/results/seeds-world-clip-one-readback-swiftshader-2026-12-07.json';
const SEEDS_REPLAY = 'bench/results/seeds-world-clip-replay-swiftshader-2026-12-07.json';
const SOAK_BROWSER = 'bench/results/soak-browser-swiftshader-2026-12-07-00-50-18.json';
const TRAIN = 'bench/results/train-swiftshader-2026-12-07-06-47-05.json';
const WORLD_TRAIN = 'bench/results/world-train-partial-2026-12-07.json';
const WORLD_TRAIN_TORCH = 'bench/results/world-train-torch-2026-12-07.json';
const WORLD_CLIP_BUDGET = 'bench/results/world-clip-budget-2026-12-07.json';
const STAGES = ['cam', 'caa', 'crf', 'par', 'rw'];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
// The seeds benchmark's table: seconds (two decimals under 1 s), ratios peer / seedmask.
const sec = (ms) => `${(ms / 1000).toFixed(ms >= 1000 ? 1 : 2)} s`;
const ratio = (x) => `${x.toFixed(x >= 0.1 ? 2 : 3)}×`;
const mine = (k, key) => (r) => r.cases[k].warm[key].p50;
const peer = (k, key) => (r) => r.cases[k].peer.warm[key].p50;
const textMine = (r) => r.text.warm.p50;
const textPeer = (r) => median(r.peer.text.warm_ms);
const gflops = (k) => (r) => r.cases[k].flops['gradcam.vision'] / mine(k, 'gradcam.vision')(r) / 1e6;

/**
 * { file, row, cells: [[column, value]] }: README's table row starting with `row`, its cells
 * (0 = the first cell after the leading '|') equal to the values.
 * { file, text, values }: the sentence `text` (whitespace-insensitive) with each {} equal to the value.
 */
export const CHECKS = [
  { file: WORLD_TRAIN, text: 'train images ({} % mIoU against their ground truth) and the 60 val images ({} %)', values: [(r) => pct(r.seedsTrainMiou), (r) => pct(r.seedsVal.seeds)] },
  { file: WORLD_TRAIN, text: 'After {} steps of 8 crops', values: [(r) => String(r.stepsDone)] },
  {
    file: WORLD_CLIP_BUDGET,
    text: 'grows {} points per doubling of the training steps ({} steps: {} %;',
    values: [
      (r) => {
        const [a, b] = [r.runs[0], r.runs.at(-1)];
        return (100 * (b.mAP.val - a.mAP.val) / Math.log2(b.steps / a.steps)).toFixed(1);
      },
      (r) => String(r.runs[0].steps),
      (r) => (100 * r.runs[0].mAP.val).toFixed(1),
    ],
  },
  {
    file: WORLD_TRAIN_TORCH,
    text: "After {} steps on the seeds the network reaches {} % val mIoU ({} % with its argmax restricted to the image's own classes, which the seeds are given). On the ground truth of the same images it reaches {} % ({} %).",
    values: [
      (r) => grouped(r.runs[0].validation.at(-1).iteration),
      ...['seeds', 'ground truth'].flatMap((labels) => ['miou', 'miouImageLabels'].map((k) => (r) => pct(r.runs.find((x) => x.labels === labels).validation.at(-1)[k]))),
    ],
  },
  { file: WORLD_TRAIN, text: 'background: {} % mIoU, where all-background scores {} %', values: [(r) => pct(r.validation.at(-1).miou), (r) => pct(r.validation[0].miou)] },
  { file: TRAIN, text: '(fastest {} ms and {} ms)', values: ['segmenter-64', 'segmenter-96'].map((id) => (r) => r.cases.find((x) => x.id === id).peer.warm.min.toFixed(0)) },
  ...['segmenter-64', 'segmenter-96', 'deeplabv2-321'].map((id) => {
    const c = (r) => r.cases.find((x) => x.id === id);
    const rate = (x) => (x >= 0.1 ? x.toFixed(2) : x.toPrecision(2));
    const ratio = (x) => `${x.toFixed(x >= 0.1 ? 2 : 3)}×`;
    return {
      file: TRAIN,
      row: `| ${id} |`,
      cells: [
        [2, (r) => c(r).seedmask.warm.p50.toFixed(0)],
        [3, (r) => rate(c(r).seedmask.imgPerS)],
        [4, (r) => c(r).seedmask.gflops.toFixed(2)],
        [5, (r) => c(r).peer.warm.p50.toFixed(0)],
        [6, (r) => ratio(c(r).peer.warm.p50 / c(r).seedmask.warm.p50)],
      ],
    };
  }),
  ...STAGES.map((stage) => ({ file: WORLD_GRADCAM, row: `| ${stage} |`, cells: [[2, stageMiou(stage)]] })),
  ...STAGES.map((stage) => ({ file: WORLD_MASKCLIP, row: `| ${stage} |`, cells: [[3, stageMiou(stage)]] })),
  ...STAGES.map((stage) => ({ file: WORLD_GRADCAM_60, row: `| ${stage} |`, cells: [[4, stageMiou(stage)]] })),
  {
    file: WORLD_GRADCAM_60,
    text: 'on all 60, CAA adds {} points and the CRF takes {} away',
    values: [(r) => pct(stageFraction(r, 'caa') - stageFraction(r, 'cam')), (r) => pct(stageFraction(r, 'caa') - stageFraction(r, 'crf'))],
  },
  {
    file: CRF_RESPONSE,
    text: 'the CRF adds {} points where the CAMs spill over their objects and {} where they also lie beside them, and takes {} away where they cover only',
    values: [
      (r) => r.settings.find((x) => x.gamma === 1 && x.shift === 0).crfGainPoints.toFixed(2),
      (r) => r.settings.find((x) => x.gamma === 1 && x.shift > 0).crfGainPoints.toFixed(2),
      (r) => (-r.settings.find((x) => x.gamma > 1).crfGainPoints).toFixed(2),
    ],
  },
  {
    file: WORLD_GRADCAM,
    text: 'here, {} ms per image with every stage (Grad-CAM {} ms, CRF {} ms, PAR {} ms;',
    values: ['total', 'gradcam', 'crf', 'par'].map((k) => (r) => r.timings[k].toFixed(0)),
  },
  { file: WORLD_MASKCLIP, text: 'it is {} ms per image (MaskCLIP {} ms;', values: ['total', 'maskclip'].map((k) => (r) => r.timings[k].toFixed(0)) },
  {
    file: 'bench/results/maskclip-zeroshot-world-8-2026-12-07.json',
    text: 'on the world\'s 8 CI images: {} % mIoU, background IoU {} %',
    values: [(r) => pct(r.miou), (r) => (100 * r.classes.find((c) => c.name === 'background').iou).toFixed(0)],
  },
  { file: FUZZ, text: '{} inputs (`npm run fuzz -- --seed {}`', values: [(r) => grouped(r.inputs), (r) => String(r.seed)] },
  { file: FUZZ, text: '{} loads, {} named errors', values: [(r) => grouped(r.loaded), (r) => grouped(r.namedErrors)] },
  { file: FUZZ, text: 'slowest input {} ms, peak RSS {} MiB', values: [(r) => r.slowestMs.toFixed(0), (r) => mib(r.peakRssBytes)] },
  ...[100, 300, 500, 700, 900, 1000].map((n) => ({
    file: SOAK,
    row: `| ${n} |`,
    cells: [
      [1, sample(n, (s) => `${mib(s.poolLiveBytes + s.poolFreeBytes)} MiB`)],
      [2, sample(n, (s) => `${mib(s.rssBytes)} MiB`)],
      [3, sample(n, (s) => `${mib(s.heapUsedBytes)} MiB`)],
      [4, sample(n, (s) => s.msPerImage.toFixed(0))],
    ],
  })),
  { file: SEEDS, row: '| text encoder, 45 prompts', cells: [[1, (r) => sec(textMine(r))], [2, (r) => sec(textPeer(r))], [3, (r) => sec(textMine(r))], [4, (r) => sec(textPeer(r))], [5, (r) => ratio(textPeer(r) / textMine(r))]] },
  {
    file: SEEDS,
    row: '| image encoder (blocks 0..10)',
    cells: [
      [1, (r) => `${sec(mine(0, 'gradcam.vision')(r))} (${gflops(0)(r).toFixed(1)} GFLOP/s)`], [2, (r) => sec(peer(0, 'gradcam.vision')(r))],
      [3, (r) => sec(mine(1, 'gradcam.vision')(r))], [4, (r) => sec(peer(1, 'gradcam.vision')(r))], [5, (r) => ratio(peer(1, 'gradcam.vision')(r) / mine(1, 'gradcam.vision')(r))],
    ],
  },
  {
    file: SEEDS,
    row: '| Grad-CAM head',
    cells: [
      [1, (r) => `${sec(mine(0, 'gradcam.head')(r))} (${(r.cases[0].flops['gradcam.head'] / 1e9).toFixed(1)} GFLOP)`], [2, (r) => sec(peer(0, 'gradcam.block')(r))],
      [3, (r) => `${sec(mine(1, 'gradcam.head')(r))} (${(r.cases[1].flops['gradcam.head'] / 1e9).toFixed(1)} GFLOP)`], [4, (r) => sec(peer(1, 'gradcam.block')(r))],
      [5, (r) => ratio(peer(1, 'gradcam.block')(r) / mine(1, 'gradcam.head')(r))],
    ],
  },
  { file: SEEDS, row: '| Grad-CAM, whole call', cells: [[1, (r) => sec(mine(0, 'gradcam')(r))], [2, (r) => sec(peer(0, 'gradcam')(r))], [3, (r) => sec(mine(1, 'gradcam')(r))], [4, (r) => sec(peer(1, 'gradcam')(r))], [5, (r) => ratio(peer(1, 'gradcam')(r) / mine(1, 'gradcam')(r))]] },
  { file: SEEDS, row: '| CAA + upsampling', cells: [[1, (r) => `${mine(0, 'caa')(r).toFixed(0)} ms`], [2, (r) => `${peer(0, 'caa')(r).toFixed(0)} ms`], [3, (r) => `${mine(1, 'caa')(r).toFixed(0)} ms`], [4, (r) => `${peer(1, 'caa')(r).toFixed(0)} ms`], [5, (r) => ratio(peer(1, 'caa')(r) / mine(1, 'caa')(r))]] },
  { file: SEEDS, row: '| dense CRF, 10 iterations', cells: [[1, (r) => sec(mine(0, 'crf')(r))], [3, (r) => sec(mine(1, 'crf')(r))]] },
  {
    file: SEEDS,
    row: '| total per image (text cached)',
    cells: [
      [1, (r) => sec(mine(0, 'total')(r))], [2, (r) => `${sec(peer(0, 'total')(r))} without CRF`], [3, (r) => sec(mine(1, 'total')(r))],
      [4, (r) => `${sec(peer(1, 'total')(r))} without CRF`], [5, (r) => `${ratio(peer(1, 'total')(r) / mine(1, 'total-crf')(r))} without CRF`],
    ],
  },
  {
    file: SEEDS,
    text: 'the matmul-bound encoder runs at {} GFLOP/s; the peer, oneDNN on the same cores, does the same work at an effective {} (',
    values: [(r) => gflops(0)(r).toFixed(1), (r) => (r.cases[0].flops['gradcam.vision'] / peer(0, 'gradcam.vision')(r) / 1e6).toFixed(1)],
  },
  {
    file: SEEDS,
    text: 'makes the head cost {}× for K = 3 against K = 1 (the peer, three `autograd.grad` calls on a retained graph: {}×)',
    values: [(r) => (mine(1, 'gradcam.head')(r) / mine(0, 'gradcam.head')(r)).toFixed(2), (r) => (peer(1, 'gradcam.block')(r) / peer(0, 'gradcam.block')(r)).toFixed(2)],
  },
  {
    file: SEEDS,
    text: 'Per token row that is {} ms against {} ms',
    values: [(r) => (r.text.warm.p50 / 392).toFixed(1), (r) => (median(r.peer.text.warm_ms) / (r.peer.text.prompts * r.peer.text.context)).toFixed(2)],
  },
  {
    file: SOAK_BROWSER,
    text: 'a slope of +{} MiB per 1,000 images after warm-up',
    values: [(r) => (r.slopesPer1000Images['pool live + free bytes'] / 2 ** 20).toFixed(1)],
  },
  {
    file: SOAK_BROWSER,
    text: 'with a slope of +{} MiB per 1,000 images over images 250–1000 (it was {} MiB at 250 images and {} MiB at 1,000)',
    values: [
      (r) => (r.slopesPer1000Images['JS heap used'] / 2 ** 20).toFixed(1),
      sample(250, (s) => (s.heapUsedBytes / 2 ** 20).toFixed(1)),
      sample(1000, (s) => (s.heapUsedBytes / 2 ** 20).toFixed(1)),
    ],
  },
  {
    file: SEEDS_TRAFFIC,
    text: '{} uploads ({} kB), {} read-backs ({} kB), {} submits, {} dispatches, {} ms on the host',
    values: [
      (r) => String(r.cases[1].traffic.warm.uploads), (r) => (r.cases[1].traffic.warm.uploadBytes / 1024).toFixed(0),
      (r) => String(r.cases[1].traffic.warm.downloads), (r) => (r.cases[1].traffic.warm.downloadBytes / 1024).toFixed(0),
      (r) => String(r.cases[1].traffic.warm.submits), (r) => String(r.cases[1].traffic.warm.dispatches), (r) => r.cases[1].traffic.warm.hostMs.toFixed(0),
    ],
  },
  {
    file: SEEDS_RESIDENT,
    text: '{} read-backs ({} kB), {} submits, {} dispatches; {} ms outside GPU waits ({} ms for K = 1), not split',
    values: [
      (r) => String(r.cases[1].traffic.plain.downloads), (r) => (r.cases[1].traffic.plain.downloadBytes / 1024).toFixed(0),
      (r) => String(r.cases[1].traffic.plain.submits), (r) => String(r.cases[1].traffic.plain.dispatches), (r) => r.cases[1].traffic.plain.hostMs.toFixed(0),
      (r) => r.cases[0].traffic.plain.hostMs.toFixed(0),
    ],
  },
  {
    file: SEEDS_REPLAY,
    text: "{} upload ({} kB), {} read-back ({} kB), {} submit, {} dispatches; the host spent {} ms outside GPU waits, {} ms of it in seedmask's own code and {} ms inside WebGPU calls (K = 1: {} ms, {} ms of it seedmask's own; p50 of {} runs).",
    values: [
      (r) => String(r.cases[1].traffic.plain.uploads), (r) => (r.cases[1].traffic.plain.uploadBytes / 1024).toFixed(0),
      (r) => String(r.cases[1].traffic.plain.downloads), (r) => (r.cases[1].traffic.plain.downloadBytes / 1024).toFixed(0),
      (r) => String(r.cases[1].traffic.plain.submits), (r) => String(r.cases[1].traffic.plain.dispatches),
      ...['hostMs', 'ownMs', 'webgpuMs'].map((k) => (r) => r.cases[1].plainHost[k].p50.toFixed(1)),
      ...['hostMs', 'ownMs'].map((k) => (r) => r.cases[0].plainHost[k].p50.toFixed(1)),
      (r) => String(r.cases[1].plainHost.ownMs.samples.length),
    ],
  },
  {
    file: SEEDS_ONE_READBACK,
    text: "on a machine kept busy by other jobs (`bench/results/seeds-world-clip-one-readback-swiftshader-2026-12-07.json`): {} ms of seedmask's own code (K = 3)",
    values: [(r) => r.cases[1].plainHost.ownMs.p50.toFixed(1)],
  },
  {
    file: SEEDS_REPLAY,
    text: 'The first image, on a fresh device (`bench/results/seeds-world-clip-replay-swiftshader-2026-12-07.json`): {} ms without a warm-up, {}× a warm run of {} ms; after `warmup` ({} ms) the first image takes {} ms, {}× the warm run.',
    values: [
      (r) => r.coldStart.withoutWarmup.firstMs.toFixed(0), (r) => (r.coldStart.withoutWarmup.firstMs / r.coldStart.warmMs).toFixed(2), (r) => r.coldStart.warmMs.toFixed(0),
      (r) => r.coldStart.withWarmup.warmupMs.toFixed(0), (r) => r.coldStart.withWarmup.firstMs.toFixed(0), (r) => (r.coldStart.withWarmup.firstMs / r.coldStart.warmMs).toFixed(2),
    ],
  },
  {
    file: SOAK,
    text: 'are +{} MiB per 1,000 images for the pool, +{} MiB for RSS and +{} MiB for the heap',
    values: ['pool live + free bytes', 'process RSS', 'JS heap used'].map((k) => (r) => {
      const v = r.slopesPer1000Images[k] / 2 ** 20;
      return v < 10 ? v.toFixed(1) : v.toFixed(0);
    }),
  },
];

function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The mismatches between README and the results files, as sentences. */
export function checkReadme(readme = readFileSync(join(ROOT, 'README.md'), 'utf8')) {
  const problems = [];
  const flat = readme.replace(/\s+/g, ' ');
  const cache = new Map();
  const results = (file) => {
    if (!cache.has(file)) cache.set(file, JSON.parse(readFileSync(join(ROOT, file), 'utf8')));
    return cache.get(file);
  };
  // Names of single files (a pattern such as bench/results/browser-<adapter>-<date>.json is not one).
  for (const file of new Set(readme.match(/bench\/results\/[A-Za-z0-9._-]+\.(json|html)(?![\w.])/g) ?? [])) {
    if (!existsSync(join(ROOT, file))) problems.push(`README names ${file}, which does not exist`);
  }
  for (const check of CHECKS) {
    if (!readme.includes(check.file)) problems.push(`README quotes ${check.file} (${check.row ?? check.text}) but does not name the file`);
    if (!existsSync(join(ROOT, check.file))) continue;
    const r = results(check.file);
    if (check.row) {
      const rows = readme.split('\n').map((l) => l.trim()).filter((l) => l.startsWith(check.row));
      if (rows.length === 0) {
        problems.push(`no README table row starts with '${check.row}' (figures from ${check.file})`);
        continue;
      }
      if (rows.length > 1) {
        problems.push(`${rows.length} README table rows start with '${check.row}': a figure check needs one (figures from ${check.file})`);
        continue;
      }
      const cells = rows[0].split('|').slice(1, -1).map((c) => c.trim());
      const mismatches = check.cells.flatMap(([column, value]) => (cells[column] === value(r) ? [] : [`column ${column} is '${cells[column]}', ${check.file} gives '${value(r)}'`]));
      if (mismatches.length) problems.push(`README row '${check.row}': ${mismatches.join('; ')}`);
    } else {
      const pattern = new RegExp(check.text.split('{}').map((part) => escapeRegExp(part.replace(/\s+/g, ' '))).join('([0-9.,+−-]+)'), 'g');
      const found = [...flat.matchAll(pattern)];
      if (found.length === 0) {
        problems.push(`README has no sentence '${check.text}' (figures from ${check.file})`);
        continue;
      }
      // Every place README says it must agree.
      for (const m of found) {
        check.values.forEach((value, i) => {
          if (m[i + 1] !== value(r)) problems.push(`README '${check.text}': figure ${i + 1} is '${m[i + 1]}', ${check.file} gives '${value(r)}'`);
        });
      }
    }
  }
  return problems;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const problems = checkReadme();
  for (const p of problems) console.error(`check:readme: ${p}`);
  console.log(`check:readme: ${CHECKS.length} figure checks, ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
  process.exit(problems.length ? 1 : 0);
}
