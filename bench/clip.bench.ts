// CLIP ViT-B/16 forward benchmark: `npm run bench:clip -- [options]` (= `tsx bench/clip.bench.ts`).
//
// Per image size: the cold first run (graph compile — planning, buffer allocation, weight upload
// for the first graph — plus the first forward, which also builds every pipeline the Gpu has not
// built yet), the warm wall-clock p50 of N further forwards (graph cached), the effective GFLOP/s
// (FLOPs of the graph's matmul and attention nodes, from each op's `flops`; the other ops —
// layernorms, bias/residual/QuickGELU epilogues, permutes — add about 0.3 % and are not
// counted), the GPU memory the graph holds (its memory plan's peakBytes + the weights it uses),
// and, where the adapter has timestamp-query, a per-op breakdown from one extra profiled run
// (`run(..., { profile: true })`; the profiler puts each dispatch in its own pass, so that run is a
// little slower and is not one of the warm samples). Then the text tower on the 20 VOC prompts
// "a clean origami {}." (CLIP-ES's template; batched by prompt length as encodeText does, see
// ClipModel.textGroups), and the same vision forward in a CPU peer: PyTorch (weights/torch_clip.py's
// parameters, Linear as 1×1 convolution, float32, 2 threads) spawned from
// bench/peers/torch_clip_vision.py with /usr/bin/python3 on the same weights, after seedmask's runs.
//
// Sizes: 224 (= 224×224), 448, and WxH images such as VOC's 500x375, which go to the model the
// CLIP-ES way: each side rounded up to a multiple of the patch (500×375 → 512×384, grid 24×32).
// The input is a fixed pseudo-random normalised tensor (preprocessing is not timed).
//
// Writes bench/results/clip-<adapter>-<date>.json (header: adapter, robustness, timing source, CPU,
// load; one record per size; text; peer).
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Gpu } from '../src/gpu/context.js';
import { ClipModel } from '../src/models/clip/model.js';
import { VOC_LABELSET } from '../src/wsss/labelset.js';
import { pseudoImage } from './lib/data.js';
import { BENCH_ROOT as ROOT, byOp, fmtMiB, fmtMs, fmtRate, numberFlag, parseFlags, resultPath, runPythonPeer, runMain, stats, table, writeResults, type CommonCli, type OpRow, type Stats } from './lib/driver.js';
import { cpuBusy } from './lib/suite.js';

const DEFAULT_WEIGHTS = 'weights/generated/vitb16/clip_openai.safetensors';
const DEFAULT_BPE = path.join(ROOT, 'assets', 'clip', 'bpe_simple_vocab_16e6.txt.gz');
const PEER_SCRIPT = path.join(ROOT, 'bench', 'peers', 'torch_clip_vision.py');

const USAGE = `usage: npm run bench:clip -- [options]
  --sizes LIST      image sizes: 224 (square), 448, WxH (e.g. 500x375, resized the CLIP-ES way
                    to multiples of 16)                           [224,448,500x375]
  --warm N          warm runs per size and for the text tower     [3; on SwiftShader 1 for sizes
                                                                   above 224 unless given]
  --quick           224 only, 1 warm run
  --no-peer         skip the PyTorch CPU peer
  --no-text         skip the text tower
  --no-profile      skip the profiled run (per-op breakdown)
  --weights PATH    CLIP weights (any format src/weights reads)   [${DEFAULT_WEIGHTS}]
  --bpe PATH        BPE vocabulary for the prompts                [assets/clip/bpe_simple_vocab_16e6.txt.gz]
  --python EXE      interpreter for the peer                      [/usr/bin/python3]
  --unsafe          disable Dawn's robustness transform (same as SEEDMASK_UNSAFE=1)
  --out FILE        JSON output (default bench/results/clip-<adapter>-<date>.json)`;

interface Cli extends CommonCli {
  sizes: Array<{ label: string; height: number; width: number }>;
  warm: number | undefined;
  quick: boolean;
  text: boolean;
  profile: boolean;
  weights: string;
  bpe: string;
}

/** '224' → 224×224; 'WxH' → the image W wide and H high, rounded up to multiples of the patch. */
function parseSize(s: string, patch = 16): { label: string; height: number; width: number } {
  const m = /^(\d+)(?:x(\d+))?$/.exec(s.trim());
  if (!m) throw new Error(`--sizes: '${s}' is not N or WxH`);
  const w = Number(m[1]), h = Number(m[2] ?? m[1]);
  if (!(w > 0 && h > 0)) throw new Error(`--sizes: '${s}' has a zero side`);
  return { label: s.trim(), height: Math.ceil(h / patch) * patch, width: Math.ceil(w / patch) * patch };
}

function parseArgs(argv: string[]): Cli {
  const f = parseFlags(argv, {
    sizes: { type: 'string', default: '224,448,500x375' }, warm: { type: 'string' }, quick: { type: 'boolean' },
    'no-peer': { type: 'boolean' }, 'no-text': { type: 'boolean' }, 'no-profile': { type: 'boolean' },
    weights: { type: 'string', default: DEFAULT_WEIGHTS }, bpe: { type: 'string', default: DEFAULT_BPE }, python: { type: 'string', default: '/usr/bin/python3' },
    unsafe: { type: 'boolean' }, out: { type: 'string' },
  }, USAGE);
  const cli: Cli = {
    sizes: [], warm: numberFlag('warm', f.warm, 1), quick: !!f.quick, peer: !f['no-peer'], text: !f['no-text'], profile: !f['no-profile'],
    weights: f.weights, bpe: f.bpe, python: f.python, unsafe: !!f.unsafe || process.env.SEEDMASK_UNSAFE === '1', out: f.out,
  };
  let sizes = f.sizes;
  if (cli.quick) {
    sizes = '224';
    cli.warm ??= 1;
  }
  cli.sizes = sizes.split(',').filter(Boolean).map((s) => parseSize(s));
  return cli;
}

interface PeerReport { name: string; torch: string; threads: number; load_ms: number; results: Array<{ height: number; width: number; tokens: number; cold_ms: number; warm_ms: number[] }> }

function runPeer(cli: Cli, sizes: Array<{ height: number; width: number }>, warm: number[]): PeerReport | { error: string } {
  const args = ['--weights', cli.weights, '--sizes', sizes.map((s) => `${s.height}x${s.width}`).join(','), '--warm', warm.join(','), '--threads', '2'];
  return runPythonPeer<PeerReport>(cli.python, PEER_SCRIPT, args);
}

interface SizeResult {
  size: string;
  height: number;
  width: number;
  grid: [number, number];
  tokens: number;
  flops: number;
  flopsByOp: Record<string, number>;
  compileMs: number;
  firstRunMs: number;
  coldMs: number;
  warm: Stats;
  gflops: number;
  peakBytes: number;
  planBytes: number;
  weightBytes: number;
  cpuBusyBefore: number;
  loadavg: number[];
  profile?: { totalMs: number; wallMs: number; ops: OpRow[] };
  peer?: { cold_ms: number; warm: Stats; gflops: number };
  /** seedmask warm p50 speed relative to the peer's (peer ms / seedmask ms; below 1: seedmask slower). */
  speedVsPeer?: number;
}

async function main(): Promise<number> {
  const cli = parseArgs(process.argv.slice(2));
  if (!existsSync(cli.weights)) {
    console.error(`${cli.weights} not found. Make the ViT-B/16-sized random test weights with\n  /usr/bin/python3 weights/make_test_weights.py --size vitb16 --out weights/generated/vitb16\nor give real ones with --weights PATH (e.g. OpenAI's ViT-B-16.pt).`);
    return 2;
  }
  const gpu = await Gpu.open({ unsafeNoRobustness: cli.unsafe });
  try {
    const swift = gpu.isSwiftShader;
    const timestamps = gpu.traits.features.timestampQuery;
    const profile = cli.profile && timestamps;
    const warmFor = (s: { height: number; width: number }) => cli.warm ?? (swift && s.height * s.width > 224 * 224 ? 1 : 3);
    const header = {
      adapter: gpu.adapterName,
      kind: gpu.traits.adapter.kind,
      robustness: cli.unsafe ? 'off (SEEDMASK_UNSAFE=1)' : 'on (Dawn default)',
      timing: `wall clock around graph.run (inputs written → outputs read back); per-op breakdown from ${timestamps ? 'GPU timestamp queries in one extra profiled run' : '— (no timestamp-query)'}`,
      flops: 'sum of the matmul and attention nodes\' flops (the rest — layernorms, bias/residual/QuickGELU epilogues, permutes, slices, concat — is about 0.3 % more and not counted)',
      cpu: `${os.cpus()[0]?.model ?? 'unknown'} ×${os.cpus().length}`,
      node: process.version,
      date: new Date().toISOString(),
      weights: cli.weights,
      options: { sizes: cli.sizes.map((s) => s.label), warm: cli.sizes.map(warmFor), quick: cli.quick, peer: cli.peer, text: cli.text, profile },
    };
    console.log(`seedmask CLIP benchmark — adapter: ${header.adapter} [${header.kind}]`);
    console.log(`robustness: ${header.robustness}; CPU: ${header.cpu}; node ${header.node}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`timing: ${header.timing}`);

    let t0 = performance.now();
    const tokenizer = cli.text && existsSync(cli.bpe) ? cli.bpe : false;
    // A vocabulary larger than the model's (e.g. the tiny test weights) leaves the text tower out.
    const model = await ClipModel.load(gpu, cli.weights, { tokenizer }).catch((err: Error) => {
      if (!tokenizer || !/tokenizer/.test(err.message)) throw err;
      console.log(`tokenizer not used: ${err.message}`);
      return ClipModel.load(gpu, cli.weights, { tokenizer: false });
    });
    const loadMs = performance.now() - t0;
    const vc = model.config.vision;
    console.log(`weights ${cli.weights}: vision ${vc.width}×${vc.layers} patch ${vc.patch}, text ${model.config.text.width}×${model.config.text.layers}; host load ${fmtMs(loadMs)} ms\n`);

    const results: SizeResult[] = [];
    for (const s of cli.sizes) {
      const n = warmFor(s);
      const cpuBusyBefore = await cpuBusy(500);
      const loadavg = os.loadavg();
      const image = pseudoImage(s.height, s.width);
      console.log(`${s.label} → ${s.width}×${s.height}: cold run, then ${n} warm (busy before ${Math.round(100 * cpuBusyBefore)} %, load ${loadavg[0]!.toFixed(2)})…`);
      t0 = performance.now();
      const graph = await model.visionGraph(s.height, s.width);
      const compileMs = performance.now() - t0;
      const t1 = performance.now();
      await graph.run({ image });
      const firstRunMs = performance.now() - t1;
      const coldMs = performance.now() - t0;
      const samples: number[] = [];
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        await graph.run({ image });
        samples.push(performance.now() - t);
      }
      const warm = stats(samples);
      let flops = 0;
      const flopsByOp: Record<string, number> = {};
      for (const node of graph.graph.nodes) {
        const f = node.op.flops?.(node.inputs, node.attrs) ?? 0;
        flops += f;
        if (f) flopsByOp[node.op.name] = (flopsByOp[node.op.name] ?? 0) + f;
      }
      const p = s.height / vc.patch, q = s.width / vc.patch;
      const r: SizeResult = {
        size: s.label, height: s.height, width: s.width, grid: [p, q], tokens: p * q + 1,
        flops, flopsByOp, compileMs, firstRunMs, coldMs, warm, gflops: flops / (warm.p50 * 1e6),
        peakBytes: graph.plan.peakBytes + graph.weightBytes, planBytes: graph.plan.peakBytes, weightBytes: graph.weightBytes,
        cpuBusyBefore, loadavg,
      };
      if (profile) {
        const t = performance.now();
        const { profile: prof } = await graph.run({ image }, { profile: true });
        r.profile = { ...byOp(prof!), wallMs: performance.now() - t };
      }
      results.push(r);
      console.log(`  cold ${fmtMs(coldMs)} ms (graph compile ${fmtMs(compileMs)} + first run ${fmtMs(firstRunMs)}), warm p50 ${fmtMs(warm.p50)} ms, ${fmtRate(r.gflops)} GFLOP/s`);
    }

    // Text tower: the 20 VOC prompts in one batch.
    let text: Record<string, unknown> | undefined;
    if (cli.text) {
      const prompts = VOC_LABELSET.classes.map((c) => VOC_LABELSET.template.replace('{}', c.prompt));
      const n = cli.warm ?? 3;
      if (!model.tokenizer) {
        text = { error: `no tokenizer (${existsSync(cli.bpe) ? `${cli.bpe} does not fit the model` : `${cli.bpe} not found; give --bpe`})` };
        console.log(`\ntext: skipped — ${text.error as string}`);
      } else {
        const cpuBusyBefore = await cpuBusy(500);
        console.log(`\ntext: ${prompts.length} prompts ("${prompts[0]}" …), cold run, then ${n} warm (busy before ${Math.round(100 * cpuBusyBefore)} %)…`);
        t0 = performance.now();
        await model.encodeText(prompts);
        const coldMs = performance.now() - t0;
        const samples: number[] = [];
        for (let i = 0; i < n; i++) {
          const t = performance.now();
          await model.encodeText(prompts);
          samples.push(performance.now() - t);
        }
        const warm = stats(samples);
        // The graphs encodeText used: one per group of prompts of similar length (textGroups).
        const full = model.config.text.contextLength;
        const groups = model.textGroups(model.tokenizer.tokenize(prompts, full), prompts.length);
        let flops = 0, peakBytes = 0;
        for (const grp of groups) {
          const graph = await model.textGraph(grp.rows.length, grp.contextLength);
          for (const node of graph.graph.nodes) flops += node.op.flops?.(node.inputs, node.attrs) ?? 0;
          peakBytes = Math.max(peakBytes, graph.plan.peakBytes + graph.weightBytes);
        }
        const ctx = groups.map((grp) => `${grp.rows.length}×${grp.contextLength}`).join(' + ');
        text = {
          prompts: prompts.length, template: VOC_LABELSET.template, contextLength: ctx, coldMs, warm, flops,
          gflops: flops / (warm.p50 * 1e6), peakBytes, cpuBusyBefore,
        };
        console.log(`  ${prompts.length} prompts as ${ctx} tokens: cold ${fmtMs(coldMs)} ms, warm p50 ${fmtMs(warm.p50)} ms, ${fmtRate(text.gflops as number)} GFLOP/s`);
      }
    }
    await model.destroy();

    // Peer, after seedmask so that the two do not share the CPU.
    let peer: PeerReport | { error: string } | undefined;
    if (cli.peer) {
      peer = runPeer(cli, cli.sizes, cli.sizes.map(warmFor));
      if ('error' in peer) console.log(`peer unavailable: ${peer.error}`);
      else {
        for (const r of results) {
          const pr = peer.results.find((x) => x.height === r.height && x.width === r.width);
          if (!pr) continue;
          const w = stats(pr.warm_ms);
          r.peer = { cold_ms: pr.cold_ms, warm: w, gflops: r.flops / (w.p50 * 1e6) };
          r.speedVsPeer = w.p50 / r.warm.p50;
        }
      }
    }

    // Report.
    console.log(`\nvision forward (ViT ${vc.width}×${vc.layers}/${vc.patch}; features for every token)`);
    const rows = [['size', 'input', 'tokens', 'GFLOP', 'cold ms', 'warm p50 ms', 'GFLOP/s', 'peak GPU', 'peer p50 ms', 'peer GFLOP/s', 'seedmask/peer', 'busy']];
    for (const r of results) {
      rows.push([r.size, `${r.width}×${r.height}`, String(r.tokens), (r.flops / 1e9).toFixed(1), fmtMs(r.coldMs), `${fmtMs(r.warm.p50)} (×${r.warm.samples.length})`, fmtRate(r.gflops), fmtMiB(r.peakBytes),
        r.peer ? fmtMs(r.peer.warm.p50) : '–', r.peer ? fmtRate(r.peer.gflops) : '–', r.speedVsPeer !== undefined ? `${r.speedVsPeer.toFixed(2)}×` : '–', `${Math.round(100 * r.cpuBusyBefore)} %`]);
    }
    console.log(table(rows, [9, 9, 7, 7, 9, 14, 8, 11, 12, 13, 14, 6]));
    if (peer && !('error' in peer)) console.log(`peer: ${peer.name}; seedmask/peer = peer p50 / seedmask p50 (below 1: seedmask slower)`);
    else if (cli.peer) console.log('peer unavailable');
    for (const r of results) {
      console.log(`  ${r.size}: peak ${fmtMiB(r.peakBytes)} = activations ${fmtMiB(r.planBytes)} + weights ${fmtMiB(r.weightBytes)}; cold = graph compile ${fmtMs(r.compileMs)} + first run ${fmtMs(r.firstRunMs)} ms`);
    }
    for (const r of results) {
      if (!r.profile) continue;
      console.log(`\nper op, ${r.size} (profiled run: ${fmtMs(r.profile.wallMs)} ms wall, ${fmtMs(r.profile.totalMs)} ms GPU)`);
      const opRows = [['op', 'nodes', 'dispatches', 'ms', 'share', 'GFLOP/s']];
      for (const o of r.profile.ops) opRows.push([o.op, String(o.nodes), String(o.dispatches), fmtMs(o.ms), `${(100 * o.share).toFixed(1)} %`, o.gflops !== null ? fmtRate(o.gflops) : '']);
      console.log(table(opRows, [14, 6, 11, 10, 8, 9]));
    }
    if (text && !('error' in text)) {
      const w = text.warm as Stats;
      console.log(`\ntext: ${text.prompts as number} prompts as ${text.contextLength as string} tokens: cold ${fmtMs(text.coldMs as number)} ms, warm p50 ${fmtMs(w.p50)} ms (×${w.samples.length}), ${fmtRate(text.gflops as number)} GFLOP/s, peak ${fmtMiB(text.peakBytes as number)}`);
    }

    const file = cli.out ?? resultPath('clip', header.kind, gpu.traits.adapter.architecture || gpu.traits.adapter.vendor, header.date);
    writeResults(file, { ...header, loadMs, results, text, peer });
    return 0;
  } finally {
    await gpu.destroy();
  }
}

runMain(main);
