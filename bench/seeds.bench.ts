// CLIP-ES seed pipeline benchmark: `npm run bench:seeds -- [options]` (= `tsx bench/seeds.bench.ts`).
//
// Per-image time by stage of SeedPipeline (src/wsss/seeds.ts) at ViT-B/16 size on a 500×375 image,
// for 1 and 3 labels, against the PyTorch reference pipeline (bench/peers/torch_clip_es_seeds.py:
// weights/clip_es_torch.py's Grad-CAM with autograd + weights/clip_es_caa.py's numpy/OpenCV CAA; CPU,
// float32, 2 threads) on the same weights, image and labels, run after seedmask in the same bench.
//
// Stages (rows of the table):
//   text encoder   the label set's 20 class + 25 background prompts in one batch (cached per model by
//                  the pipeline, so paid once per run, not per image; shown apart)
//   image encoder  patch embedding and blocks 0..10 (Grad-CAM's 'vision' part)
//   Grad-CAM head  block 11 forward, the softmax over K + M rows, the batched backward to block 11's
//                  ln_1 output and the CAMs (the peer: one autograd.grad per label, as CLIP-ES does)
//   Grad-CAM       the whole call, wall clock: preprocessing, upload, the two rows above, read-back
//   CAA            Sinkhorn, box masks, S(S(B⊙cam)), min-max, upsampling to the image, label map
//   CRF            dense CRF, 10 mean-field iterations, the 0.95 ignore rule (no peer: see below)
//   total          one image, warm (text embeddings cached); also without the CRF, the peer's scope
// The image-encoder / head split needs timestamp queries: the warm runs are then profiled (each
// dispatch in its own pass, slightly slower than an unprofiled run) and those rows are GPU time;
// without them the two rows read '–'. The peer has no CRF: pydensecrf is not packaged for Debian.
//
// The first image of each case is the cold run (graph compile: plan, buffers, pipelines); the
// table shows the p50 of --warm further runs. GFLOP/s from the FLOPs of the ops that declare them
// (matmuls, attention, the backward matmuls); the peer's "effective" GFLOP/s divides the same
// seedmask FLOPs by the peer's time (it computes the same result with more work: one backward pass
// per label, the full input projection of dA).
//
// Writes bench/results/seeds-<adapter>-<date>.json.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Gpu } from '../src/gpu/context.js';
import { decodeImage, encodePng } from '../src/io/image.js';
import { ClipModel } from '../src/models/clip/model.js';
import { VOC_LABELSET, backgroundPrompts, classPrompts, parseLabels } from '../src/wsss/labelset.js';
import { SeedPipeline, type SeedResult } from '../src/wsss/seeds.js';
import { syntheticScene } from './lib/data.js';
import { BENCH_ROOT as ROOT, fmtMs, fmtRate, fmtRatio, numberFlag, parseFlags, resultPath, runPythonPeer, runMain, stats, table, writeResults, type CommonCli, type Stats } from './lib/driver.js';
import { cpuBusy } from './lib/suite.js';

const DEFAULT_WEIGHTS = 'weights/generated/vitb16/clip_openai.safetensors';
const DEFAULT_BPE = path.join(ROOT, 'assets', 'clip', 'bpe_simple_vocab_16e6.txt.gz');
const PEER_SCRIPT = path.join(ROOT, 'bench', 'peers', 'torch_clip_es_seeds.py');

const USAGE = `usage: npm run bench:seeds -- [options]
  --size WxH        the image (a synthetic scene; ignored with --image)      [500x375]
  --image PATH      a real image instead (PNG or JPEG)
  --labels CASES    ';'-separated label lists, one case each              [cat;cat,dog,sofa]
  --warm N          timed runs per case after the cold one                 [3]
  --quick           224x168, the one-label case only, 1 warm run
  --no-peer         skip the PyTorch peer
  --no-profile      no timestamp queries (no image-encoder / head split)
  --weights PATH    CLIP weights                                           [${DEFAULT_WEIGHTS}]
  --bpe PATH        BPE vocabulary (the prompts need it)                   [the weights folder's tokenizer, else
                                                                           assets/clip/bpe_simple_vocab_16e6.txt.gz]
  --python EXE      interpreter for the peer                               [/usr/bin/python3]
  --unsafe          disable Dawn's robustness transform (same as SEEDMASK_UNSAFE=1)
  --out FILE        JSON output (default bench/results/seeds-<adapter>-<date>.json)`;

interface Cli extends CommonCli {
  width: number;
  height: number;
  image: string | undefined;
  cases: number[][];
  warm: number | undefined;
  quick: boolean;
  profile: boolean;
  weights: string;
  bpe: string;
}

function parseArgs(argv: string[]): Cli {
  const f = parseFlags(argv, {
    size: { type: 'string', default: '500x375' }, image: { type: 'string' }, labels: { type: 'string', default: 'cat;cat,dog,sofa' },
    warm: { type: 'string' }, quick: { type: 'boolean' }, 'no-peer': { type: 'boolean' }, 'no-profile': { type: 'boolean' },
    weights: { type: 'string', default: DEFAULT_WEIGHTS }, bpe: { type: 'string' }, python: { type: 'string', default: '/usr/bin/python3' },
    unsafe: { type: 'boolean' }, out: { type: 'string' },
  }, USAGE);
  const cli: Cli = {
    width: 0, height: 0, image: f.image, cases: [], warm: numberFlag('warm', f.warm, 0), quick: !!f.quick, peer: !f['no-peer'], profile: !f['no-profile'],
    weights: f.weights, bpe: f.bpe ?? (existsSync(path.join(f.weights, 'vocab.json')) ? '' : DEFAULT_BPE), python: f.python, unsafe: !!f.unsafe || process.env.SEEDMASK_UNSAFE === '1', out: f.out,
  };
  let size = f.size;
  let labels = f.labels;
  if (cli.quick) {
    size = '224x168';
    labels = labels.split(';')[0]!;
    cli.warm ??= 1;
  }
  const m = /^(\d+)x(\d+)$/.exec(size);
  if (!m || !(Number(m[1]) > 0 && Number(m[2]) > 0)) throw new Error(`--size: '${size}' is not WxH`);
  cli.width = Number(m[1]);
  cli.height = Number(m[2]);
  cli.cases = labels.split(';').filter((s) => s.trim()).map((s) => parseLabels(s, VOC_LABELSET));
  if (cli.cases.length === 0) throw new Error('--labels: no case');
  return cli;
}

/** Seedmask's and the peer's rows, in table order. */
const ROWS: Array<{ key: string; label: string; peerKey?: string; flopsKey?: string }> = [
  { key: 'text', label: 'text encoder (45 prompts, once)', peerKey: 'text' },
  { key: 'gradcam.vision', label: 'image encoder (blocks 0..10)', peerKey: 'gradcam.vision', flopsKey: 'gradcam.vision' },
  { key: 'gradcam.head', label: 'Grad-CAM head (block 11 fwd+bwd, CAM)', peerKey: 'gradcam.block', flopsKey: 'gradcam.head' },
  { key: 'gradcam', label: 'Grad-CAM (whole call, wall)', peerKey: 'gradcam', flopsKey: 'gradcam' },
  { key: 'caa', label: 'CAA (+ upsampling, label map)', peerKey: 'caa' },
  { key: 'crf', label: 'CRF (10 iterations)' },
  { key: 'total', label: 'total per image' },
  { key: 'total-crf', label: 'total without CRF', peerKey: 'total' },
];

interface PeerReport {
  name: string;
  load_ms: number;
  text: { prompts: number; context: number; cold_ms: number; warm_ms: number[] };
  cases: Array<{ labels: number[]; cold: Record<string, number>; warm: Array<Record<string, number>> }>;
  crf: null;
  crf_why: string;
}

interface CaseResult {
  labels: number[];
  names: string[];
  coldMs: number;
  /** p50 over the warm runs, per step key of SeedResult.timings (+ 'gradcam.head', 'total-crf'). */
  warm: Record<string, Stats>;
  flops: Record<string, number>;
  peer?: { cold: Record<string, number>; warm: Record<string, Stats> };
  seedsHistogram: Record<string, number>;
  /**
   * Host↔device traffic (SeedResult.traffic) of the cold run, of the last warm run (which waits
   * after every step for the per-step times), and of a warm run with the defaults (one submit,
   * one read-back at the end): the figure a user's run has.
   */
  traffic: { cold: SeedResult['traffic']; warm: SeedResult['traffic']; plain: SeedResult['traffic'] };
  /** Wall ms of the warm runs with the defaults (p50; `traffic.plain` is the last one's). */
  plainMs: number;
  /** Host ms of those runs outside GPU waits: all, seedmask's own code, inside WebGPU calls. */
  plainHost: { hostMs: Stats; ownMs: Stats; webgpuMs: Stats };
}

/** The first image's time without and with SeedPipeline.warmup, each on a fresh device, and a warm run's. */
interface ColdStart {
  labels: number[];
  /** The first run on a device (the case's cold run): pipelines built as the run reaches them. */
  withoutWarmup: { firstMs: number };
  /** warmup() on a fresh device, then the first run. */
  withWarmup: { warmupMs: number; firstMs: number };
  /** A warm run with the defaults. */
  warmMs: number;
}

/** One run's host↔device traffic and host time, in a line. */
function trafficLine(t: SeedResult['traffic']): string {
  const kb = (b: number) => `${(b / 1024).toFixed(0)} kB`;
  return `${t.uploads} uploads (${kb(t.uploadBytes)}), ${t.downloads} read-backs (${kb(t.downloadBytes)}), ${t.submits} submits, ${t.dispatches} dispatches, uniforms ${kb(t.uniformBytes)}; host ${fmtMs(t.hostMs)} ms outside GPU waits (seedmask ${fmtMs(t.ownMs)} ms, inside WebGPU calls ${fmtMs(t.webgpuMs)} ms; ${fmtMs(t.waitMs)} ms waiting)`;
}

/** Step times of one run, with the head (block + cam) and the no-CRF total added. */
function stepTimes(r: SeedResult): Record<string, number> {
  const t: Record<string, number> = { ...r.timings };
  if (t['gradcam.block'] !== undefined) t['gradcam.head'] = t['gradcam.block'] + (t['gradcam.cam'] ?? 0);
  t['total-crf'] = t.total! - (t.crf ?? 0);
  return t;
}

function p50s(runs: Array<Record<string, number>>): Record<string, Stats> {
  const keys = new Set(runs.flatMap((r) => Object.keys(r)));
  return Object.fromEntries([...keys].map((k) => [k, stats(runs.map((r) => r[k]!).filter((v) => v !== undefined))]));
}

async function main(): Promise<number> {
  const cli = parseArgs(process.argv.slice(2));
  if (!existsSync(cli.weights)) {
    console.error(`${cli.weights} not found. Make the ViT-B/16-sized random test weights with\n  /usr/bin/python3 weights/make_test_weights.py --size vitb16 --out weights/generated/vitb16\nor give real ones with --weights PATH (e.g. OpenAI's ViT-B-16.pt).`);
    return 2;
  }
  if (cli.bpe !== '' && !existsSync(cli.bpe)) {
    console.error(`${cli.bpe} not found: the label prompts need the CLIP BPE vocabulary (--bpe PATH)`);
    return 2;
  }
  const image = cli.image ? await decodeImage(new Uint8Array(readFileSync(cli.image)), cli.image) : syntheticScene(cli.width, cli.height);
  const gpu = await Gpu.open({ unsafeNoRobustness: cli.unsafe });
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'seedmask-seeds-bench-'));
  try {
    const timestamps = gpu.traits.features.timestampQuery;
    const profile = cli.profile && timestamps;
    const warmRuns = cli.warm ?? 3;
    const header = {
      adapter: gpu.adapterName,
      kind: gpu.traits.adapter.kind,
      robustness: cli.unsafe ? 'off (SEEDMASK_UNSAFE=1)' : 'on (Dawn default)',
      timing: `wall clock per SeedPipeline step (performance.now around each, read-backs included); image encoder / head split from ${profile ? 'GPU timestamp queries (warm runs profiled)' : '— (no timestamp-query or --no-profile)'}`,
      cpu: `${os.cpus()[0]?.model ?? 'unknown'} ×${os.cpus().length}`,
      node: process.version,
      date: new Date().toISOString(),
      weights: cli.weights,
      image: cli.image ?? `synthetic ${image.width}×${image.height}`,
      options: { warm: warmRuns, quick: cli.quick, peer: cli.peer, profile, refiner: 'crf', labelSet: 'voc' },
    };
    console.log(`seedmask seeds benchmark — adapter: ${header.adapter} [${header.kind}]`);
    console.log(`robustness: ${header.robustness}; CPU: ${header.cpu}; node ${header.node}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

    let t0 = performance.now();
    const model = await ClipModel.load(gpu, cli.weights, cli.bpe === '' ? {} : { tokenizer: cli.bpe });
    const loadMs = performance.now() - t0;
    const vc = model.config.vision;
    console.log(`weights ${cli.weights}: vision ${vc.width}×${vc.layers}/${vc.patch}, text ${model.config.text.width}×${model.config.text.layers}; host load ${fmtMs(loadMs)} ms`);
    console.log(`image ${header.image} → model input ${Math.ceil(image.width / vc.patch) * vc.patch}×${Math.ceil(image.height / vc.patch) * vc.patch}; ${warmRuns} warm run(s) per case\n`);

    // Text tower: the label set's prompts in one batch, exactly what labelSetEmbeddings encodes.
    const prompts = [...classPrompts(VOC_LABELSET), ...backgroundPrompts(VOC_LABELSET)];
    const background = backgroundPrompts(VOC_LABELSET).length;
    t0 = performance.now();
    await model.encodeText(prompts);
    const textCold = performance.now() - t0;
    const textSamples: number[] = [];
    for (let i = 0; i < Math.max(1, warmRuns); i++) {
      const t = performance.now();
      await model.encodeText(prompts);
      textSamples.push(performance.now() - t);
    }
    const text = { prompts: prompts.length, coldMs: textCold, warm: stats(textSamples) };
    console.log(`text: ${prompts.length} prompts: cold ${fmtMs(textCold)} ms, warm p50 ${fmtMs(text.warm.p50)} ms`);

    // The peer gets the same token ids (full context, as CLIP-ES encodes them).
    const ctx = model.config.text.contextLength;
    const ids = model.tokenizer!.tokenize(prompts, ctx);
    const idRows: number[][] = [];
    for (let i = 0; i < prompts.length; i++) idRows.push([...ids.subarray(i * ctx, (i + 1) * ctx)]);

    const pipeline = new SeedPipeline(model);
    const cases: CaseResult[] = [];
    for (const labels of cli.cases) {
      const names = labels.map((c) => VOC_LABELSET.classes[c]!.name);
      const busy = await cpuBusy(500);
      console.log(`K = ${labels.length} (${names.join(', ')}): cold run, then ${warmRuns} warm (busy before ${Math.round(100 * busy)} %)…`);
      t0 = performance.now();
      const cold = await pipeline.run(image, labels, { refiner: 'crf', stageTimes: true });
      const coldMs = performance.now() - t0;
      console.log(`  cold ${fmtMs(coldMs)} ms (${Object.entries(stepTimes(cold)).map(([k, v]) => `${k} ${fmtMs(v)}`).join(', ')})`);
      const runs: Array<Record<string, number>> = [];
      let last = cold;
      let flops: Record<string, number> = {};
      for (let i = 0; i < warmRuns; i++) {
        last = await pipeline.run(image, labels, { refiner: 'crf', profile, stageTimes: true });
        runs.push(stepTimes(last));
        if (last.flops) flops = { ...last.flops };
        console.log(`  warm ${i + 1}: ${Object.entries(runs.at(-1)!).map(([k, v]) => `${k} ${fmtMs(v)}`).join(', ')}`);
      }
      if (flops['gradcam.block'] !== undefined) {
        flops['gradcam.head'] = flops['gradcam.block'] + (flops['gradcam.cam'] ?? 0);
        flops.gradcam = flops['gradcam.vision']! + flops['gradcam.head'];
      }
      const histogram: Record<string, number> = {};
      for (const v of last.seeds) {
        const name = v === 0 ? 'background' : v === 255 ? 'ignore' : VOC_LABELSET.classes[v - 1]!.name;
        histogram[name] = (histogram[name] ?? 0) + 1;
      }
      // Runs with the defaults (no waits between steps): the host time a user's run has, p50 over
      // as many runs as the timed ones.
      const plains: SeedResult[] = [];
      const plainWall: number[] = [];
      for (let i = 0; i < Math.max(1, warmRuns); i++) {
        t0 = performance.now();
        const plain = await pipeline.run(image, labels, { refiner: 'crf' });
        plainWall.push(performance.now() - t0);
        if (plain.seeds.some((v, j) => v !== last.seeds[j])) throw new Error('a run with the default options gave other seeds than the per-step timed run');
        plains.push(plain);
      }
      const plain = plains.at(-1)!;
      const plainMs = stats(plainWall).p50;
      const plainHost = {
        hostMs: stats(plains.map((r) => r.traffic.hostMs)),
        ownMs: stats(plains.map((r) => r.traffic.ownMs)),
        webgpuMs: stats(plains.map((r) => r.traffic.webgpuMs)),
      };
      cases.push({ labels, names, coldMs, plainMs, warm: p50s(runs.length ? runs : [stepTimes(cold)]), flops, seedsHistogram: histogram, traffic: { cold: cold.traffic, warm: last.traffic, plain: plain.traffic }, plainHost });
      console.log(`  traffic, cold: ${trafficLine(cold.traffic)}`);
      console.log(`  traffic, warm (waits after each step): ${trafficLine(last.traffic)}`);
      console.log(`  traffic, warm with the defaults (p50 ${fmtMs(plainMs)} ms): ${trafficLine(plain.traffic)}`);
      console.log(`  host time with the defaults, p50 of ${plains.length}: ${fmtMs(plainHost.hostMs.p50)} ms outside GPU waits, seedmask ${fmtMs(plainHost.ownMs.p50)} ms, inside WebGPU calls ${fmtMs(plainHost.webgpuMs.p50)} ms`);
    }
    await model.destroy();

    // The first image again on a fresh device, this time after SeedPipeline.warmup: pipelines built
    // all at once instead of one after another during the first run.
    let coldStart: ColdStart | undefined;
    if (!cli.quick) {
      const first = cli.cases[0]!;
      const fresh = await Gpu.open({ unsafeNoRobustness: cli.unsafe });
      try {
        const m = await ClipModel.load(fresh, cli.weights, cli.bpe === '' ? {} : { tokenizer: cli.bpe });
        const p = new SeedPipeline(m);
        const warmupMs = await p.warmup(image, [first.length], { refiner: 'crf' });
        t0 = performance.now();
        await p.run(image, first, { refiner: 'crf' });
        const firstMs = performance.now() - t0;
        await m.destroy();
        const c = cases[0]!;
        coldStart = { labels: first, withoutWarmup: { firstMs: c.coldMs }, withWarmup: { warmupMs, firstMs }, warmMs: c.plainMs };
        console.log(`\ncold start, K = ${first.length}: first image ${fmtMs(c.coldMs)} ms without warmup (${fmtRatio(c.coldMs / c.plainMs)} a warm run); with warmup ${fmtMs(warmupMs)} ms, then the first image ${fmtMs(firstMs)} ms (${fmtRatio(firstMs / c.plainMs)}); warm ${fmtMs(c.plainMs)} ms`);
      } finally {
        await fresh.destroy();
      }
    }

    // Peer, after seedmask so that the two do not share the CPU.
    let peer: PeerReport | { error: string } | undefined;
    if (cli.peer) {
      const imagePath = path.join(scratch, 'image.png');
      writeFileSync(imagePath, encodePng(image));
      const promptsPath = path.join(scratch, 'prompts.json');
      writeFileSync(promptsPath, JSON.stringify({ ids: idRows, classes: prompts.length - background, background }));
      peer = runPythonPeer<PeerReport>(cli.python, PEER_SCRIPT, ['--weights', cli.weights, '--image', imagePath, '--prompts', promptsPath,
        '--cases', cli.cases.map((c) => c.join(',')).join(';'), '--warm', String(Math.max(1, warmRuns)), '--threads', '2'], ['torch', 'numpy', 'cv2', 'PIL']);
      if ('error' in peer) console.log(`peer unavailable: ${peer.error}`);
      else {
        for (const c of cases) {
          const pc = peer.cases.find((x) => x.labels.join(',') === c.labels.join(','));
          if (pc) c.peer = { cold: pc.cold, warm: p50s(pc.warm) };
        }
      }
    }

    // Report: one table per case.
    const peerOk = peer && !('error' in peer) ? peer : undefined;
    const peerText = peerOk ? stats(peerOk.text.warm_ms) : undefined;
    for (const c of cases) {
      console.log(`\nK = ${c.labels.length} (${c.names.join(', ')}), ${image.width}×${image.height}, ViT ${vc.width}×${vc.layers}/${vc.patch}; warm p50 ms; cold (first image, graphs compiled) ${fmtMs(c.coldMs)} ms`);
      const rows = [['stage', 'seedmask ms', 'GFLOP', 'GFLOP/s', 'peer ms', 'peer eff. GFLOP/s', 'seedmask/peer']];
      for (const r of ROWS) {
        const mine = r.key === 'text' ? text.warm.p50 : c.warm[r.key]?.p50;
        const theirs = r.key === 'text' ? peerText?.p50 : r.peerKey ? c.peer?.warm[r.peerKey]?.p50 : undefined;
        const f = r.flopsKey ? c.flops[r.flopsKey] : undefined;
        rows.push([
          r.label,
          mine !== undefined ? fmtMs(mine) : '–',
          f ? (f / 1e9).toFixed(1) : '',
          f && mine ? fmtRate(f / (mine * 1e6)) : '',
          theirs !== undefined ? fmtMs(theirs) : r.key === 'crf' ? 'n/a' : '–',
          f && theirs ? fmtRate(f / (theirs * 1e6)) : '',
          mine !== undefined && theirs !== undefined ? fmtRatio(theirs / mine) : '–',
        ]);
      }
      console.log(table(rows, [40, 12, 7, 8, 10, 18, 14]));
      console.log(`  seeds: ${Object.entries(c.seedsHistogram).map(([k, v]) => `${k} ${(100 * v / (image.width * image.height)).toFixed(1)} %`).join(', ')}`);
    }
    if (peerOk) console.log(`\npeer: ${peerOk.name}; seedmask/peer = peer ms / seedmask ms (below 1: seedmask slower). CRF: ${peerOk.crf_why}.`);
    else if (cli.peer) console.log('\npeer unavailable');
    if (profile) console.log('image encoder and head rows: GPU time of the profiled warm runs (timestamp queries); the other rows: wall clock.');
    console.log("peer eff. GFLOP/s: seedmask's FLOPs for the same result over the peer's time (the peer does more work: one backward pass per label, the full input projection).");

    const file = cli.out ?? resultPath('seeds', header.kind, gpu.traits.adapter.architecture || gpu.traits.adapter.vendor, header.date);
    writeResults(file, { ...header, loadMs, text, cases, coldStart, peer });
    return 0;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    await gpu.destroy();
  }
}

runMain(main);
