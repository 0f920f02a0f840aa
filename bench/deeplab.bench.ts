// DeepLab forward benchmark: `npx tsx bench/deeplab.bench.ts [options]`.
//
// One model at one input size with full-size (real ResNet-101/50) dimensions and random weights:
// the checkpoint is made on demand by weights/make_deeplab_goldens.py --full (torch.save, like a
// real deeplabv3 / deeplab-pytorch file) and loaded through seedmask's importer, so the run also
// exercises the full-size load path. Reported: host load time (read + BN folding), cold run (graph
// compile — planning, weight upload — and the first forward, which builds the pipelines), warm
// wall-clock p50 of N forwards,
// GFLOP/s (the conv nodes' flops; pooling, resampling, concat and argmax are < 0.1 % more and not
// counted), GPU memory (the memory plan's peakBytes for activations + the weights), an optional
// per-op breakdown from GPU timestamps (--profile: one more forward), and the same forward in a CPU
// peer — PyTorch float32 with 2 threads (bench/peers/torch_deeplab.py), run after seedmask's runs —
// whose logits are also compared with seedmask's (max |difference| relative to max |logit|, and
// the argmax agreement).
//
// On SwiftShader a 513×513 ResNet-101 forward is several hundred GFLOP at ~2 GFLOP/s (minutes):
// use --size to measure smaller inputs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Gpu } from '../src/gpu/context.js';
import { CompiledGraph } from '../src/graph/runner.js';
import { encodeNpy } from '../src/io/npy.js';
import { readNpy } from '../src/io/files.js';
import { DeepLabModel, buildDeepLabGraph } from '../src/models/deeplab/model.js';
import { DEEPLAB_MODELS, type DeepLabModelName } from '../src/weights/layouts/deeplab.js';
import { pseudoImage } from './lib/data.js';
import { BENCH_ROOT as ROOT, byOp, fmtMiB, fmtMs, numberFlag, parseFlags, resultPath, runPythonPeer, runMain, stats, writeResults, type CommonCli, type Stats } from './lib/driver.js';
import { cpuBusy } from './lib/suite.js';

const GENERATOR = path.join(ROOT, 'weights', 'make_deeplab_goldens.py');
const PEER_SCRIPT = path.join(ROOT, 'bench', 'peers', 'torch_deeplab.py');

const USAGE = `usage: npx tsx bench/deeplab.bench.ts [options]
  --model NAME      ${DEEPLAB_MODELS.join(' | ')}              [deeplabv3_resnet101]
  --size S          input N (N×N) or HxW                                      [513]
  --warm N          warm runs                                                 [1]
  --scales LIST     DeepLab v2 MSC scales besides 1 ('none': single scale)    [0.5,0.75]
  --weights PATH    checkpoint [weights/generated/deeplab/<model>.pth, made on demand]
  --profile         per-op GPU times from one more (profiled) forward
  --no-peer         skip the PyTorch CPU peer
  --python EXE      interpreter for the generator and the peer                [/usr/bin/python3]
  --unsafe          disable Dawn's robustness transform (same as SEEDMASK_UNSAFE=1)
  --out FILE        JSON output (default bench/results/deeplab-<adapter>-<date>.json)`;

interface Cli extends CommonCli {
  model: DeepLabModelName;
  height: number;
  width: number;
  warm: number;
  scales: number[] | undefined;
  weights: string | undefined;
  profile: boolean;
}

function parseArgs(argv: string[]): Cli {
  const f = parseFlags(argv, {
    model: { type: 'string', default: 'deeplabv3_resnet101' }, size: { type: 'string', default: '513' }, warm: { type: 'string', default: '1' },
    scales: { type: 'string' }, weights: { type: 'string' }, profile: { type: 'boolean' }, 'no-peer': { type: 'boolean' },
    python: { type: 'string', default: '/usr/bin/python3' }, unsafe: { type: 'boolean' }, out: { type: 'string' },
  }, USAGE);
  if (!(DEEPLAB_MODELS as readonly string[]).includes(f.model)) throw new Error(`--model: '${f.model}' is not one of ${DEEPLAB_MODELS.join(', ')}`);
  const size = /^(\d+)(?:x(\d+))?$/.exec(f.size);
  if (!size) throw new Error(`--size: '${f.size}' is not N or HxW`);
  const scales = f.scales === undefined ? undefined : f.scales === 'none' ? [] : f.scales.split(',').map(Number);
  if (scales?.some((v) => !(v > 0))) throw new Error(`--scales: '${f.scales}' is not a list of positive numbers`);
  const cli: Cli = {
    model: f.model as DeepLabModelName, height: Number(size[1]), width: Number(size[2] ?? size[1]), warm: numberFlag('warm', f.warm, 1)!, scales,
    weights: f.weights, profile: !!f.profile, peer: !f['no-peer'], python: f.python, unsafe: !!f.unsafe || process.env.SEEDMASK_UNSAFE === '1', out: f.out,
  };
  if (cli.scales && !cli.model.startsWith('deeplabv2')) throw new Error('--scales applies to deeplabv2_resnet101 only');
  return cli;
}

/** The checkpoint to use: given, or made once under weights/generated/deeplab/. */
function ensureWeights(cli: Cli): string {
  if (cli.weights) {
    if (!existsSync(cli.weights)) throw new Error(`${cli.weights} not found`);
    return cli.weights;
  }
  const file = path.join(ROOT, 'weights', 'generated', 'deeplab', `${cli.model}.pth`);
  if (existsSync(file)) return file;
  mkdirSync(path.dirname(file), { recursive: true });
  console.log(`making ${path.relative(ROOT, file)} (random weights, full size) with ${path.relative(ROOT, GENERATOR)} …`);
  const r = spawnSync(cli.python, [GENERATOR, '--full', cli.model, '--full-out', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`weight generation failed (${r.status ?? r.signal}): ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}\n(give a checkpoint with --weights PATH)`);
  return file;
}

interface PeerReport { name: string; torch: string; threads: number; load_ms: number; cold_ms: number; warm_ms: number[] }

function runPeer(cli: Cli, weights: string, inputNpy: string, logitsNpy: string): PeerReport | { error: string } {
  const args = ['--model', cli.model, '--weights', weights, '--input', inputNpy, '--warm', String(cli.warm), '--threads', '2', '--logits-out', logitsNpy];
  if (cli.model.startsWith('deeplabv2')) args.push('--scales', (cli.scales ?? [0.5, 0.75]).join(','));
  return runPythonPeer<PeerReport>(cli.python, PEER_SCRIPT, args);
}

async function main(): Promise<number> {
  const cli = parseArgs(process.argv.slice(2));
  const weights = ensureWeights(cli);
  const gpu = await Gpu.open({ unsafeNoRobustness: cli.unsafe });
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'seedmask-deeplab-bench-'));
  try {
    const header = {
      adapter: gpu.adapterName,
      kind: gpu.traits.adapter.kind,
      robustness: cli.unsafe ? 'off (SEEDMASK_UNSAFE=1)' : 'on (Dawn default)',
      timing: 'wall clock around graph.run (input written → logits read back)',
      flops: 'sum of the conv2d nodes\' flops (2·MACs)',
      cpu: `${os.cpus()[0]?.model ?? 'unknown'} ×${os.cpus().length}`,
      node: process.version,
      date: new Date().toISOString(),
      model: cli.model,
      weights: path.relative(ROOT, weights),
      size: [cli.height, cli.width],
      warm: cli.warm,
      scales: cli.scales,
    };
    console.log(`seedmask DeepLab benchmark — ${cli.model} at ${cli.height}×${cli.width}; adapter ${header.adapter} [${header.kind}]`);
    console.log(`robustness ${header.robustness}; CPU ${header.cpu}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

    let t0 = performance.now();
    const model = await DeepLabModel.load(gpu, weights, { model: cli.model });
    const loadMs = performance.now() - t0;
    const b = model.config.backbone;
    console.log(`${path.relative(ROOT, weights)}: ${model.config.name}, ${model.layout} layout, blocks [${b.blocks.join(', ')}], stem ${b.stem}, out ${b.out.join('/')}; host load + BN folding ${fmtMs(loadMs)} ms`);

    const image = pseudoImage(cli.height, cli.width);
    const opts = { height: cli.height, width: cli.width, outputs: ['logits' as const], scales: cli.scales };
    const busy = await cpuBusy(500);
    t0 = performance.now();
    // No warm-up forward at compile time (a forward takes minutes here): the first run builds
    // the pipelines, and the cold figure is compile + that run.
    const graph = await CompiledGraph.compile(gpu, buildDeepLabGraph(model.params, model.config, opts), { weights: model.weightCache, warmup: false });
    const compileMs = performance.now() - t0;
    const t1 = performance.now();
    const first = await graph.run({ image });
    const firstRunMs = performance.now() - t1;
    const coldMs = performance.now() - t0;
    console.log(`cold: graph compile (plan, weight upload) ${fmtMs(compileMs)} ms + first run (pipelines built on the way) ${fmtMs(firstRunMs)} ms`);
    const samples: number[] = [];
    for (let i = 0; i < cli.warm; i++) {
      const t = performance.now();
      await graph.run({ image });
      samples.push(performance.now() - t);
    }
    const warm = stats(samples);
    let flops = 0;
    for (const node of graph.graph.nodes) flops += node.op.flops?.(node.inputs, node.attrs) ?? 0;
    const gflops = flops / (warm.p50 * 1e6);
    const memory = { peakBytes: graph.plan.peakBytes + graph.weightBytes, planBytes: graph.plan.peakBytes, unplannedBytes: graph.plan.unplannedBytes, weightBytes: graph.weightBytes };
    console.log(`warm p50 ${fmtMs(warm.p50)} ms (×${samples.length}), ${(flops / 1e9).toFixed(1)} GFLOP → ${gflops.toFixed(2)} GFLOP/s; GPU memory ${fmtMiB(memory.peakBytes)} = activations ${fmtMiB(memory.planBytes)} (unplanned ${fmtMiB(memory.unplannedBytes)}) + weights ${fmtMiB(memory.weightBytes)}`);
    let profile: ReturnType<typeof byOp> | undefined;
    if (cli.profile && gpu.traits.features.timestampQuery) {
      const { profile: prof } = await graph.run({ image }, { profile: true });
      profile = byOp(prof!);
      console.log(`per op (GPU ${fmtMs(profile.totalMs)} ms):`);
      for (const o of profile.ops) console.log(`  ${o.op.padEnd(16)} ${String(o.nodes).padStart(4)} nodes ${fmtMs(o.ms).padStart(9)} ms ${(100 * o.share).toFixed(1).padStart(5)} %${o.gflops ? `  ${o.gflops.toFixed(2)} GFLOP/s` : ''}`);
    }
    const logits = first.outputs.get('logits') as Float32Array;
    graph.destroy();
    await model.destroy();

    let peer: (PeerReport & { warm: Stats; gflops: number; agreement?: Record<string, number> }) | { error: string } | undefined;
    if (cli.peer) {
      const inputNpy = path.join(scratch, 'input.npy');
      const logitsNpy = path.join(scratch, 'logits.npy');
      writeFileSync(inputNpy, encodeNpy(image, [1, 3, cli.height, cli.width]));
      const r = runPeer(cli, weights, inputNpy, logitsNpy);
      if ('error' in r) {
        peer = r;
        console.log(`peer unavailable: ${r.error}`);
      } else {
        const w = stats(r.warm_ms);
        const theirs = (await readNpy(logitsNpy)).data;
        let scale = 0, worst = 0;
        for (let i = 0; i < theirs.length; i++) {
          scale = Math.max(scale, Math.abs(theirs[i]!));
          worst = Math.max(worst, Math.abs(theirs[i]! - logits[i]!));
        }
        const k = model.config.classes, hw = cli.height * cli.width;
        let agree = 0;
        for (let p = 0; p < hw; p++) {
          let a = 0, c = 0;
          for (let j = 1; j < k; j++) {
            if (logits[j * hw + p]! > logits[a * hw + p]!) a = j;
            if (theirs[j * hw + p]! > theirs[c * hw + p]!) c = j;
          }
          if (a === c) agree++;
        }
        const agreement = { maxAbsLogit: scale, maxAbsDiff: worst, relative: worst / scale, argmax: agree / hw };
        peer = { ...r, warm: w, gflops: flops / (w.p50 * 1e6), agreement };
        console.log(`peer ${r.name}: cold ${fmtMs(r.cold_ms)} ms, warm p50 ${fmtMs(w.p50)} ms, ${peer.gflops.toFixed(2)} GFLOP/s; seedmask/peer speed ${(w.p50 / warm.p50).toFixed(3)}×`);
        console.log(`logits vs peer: max |diff| ${worst.toExponential(2)} of max |logit| ${scale.toPrecision(3)} (${(worst / scale).toExponential(2)}), argmax agreement ${(100 * agree / hw).toFixed(3)} %`);
      }
    }

    const file = cli.out ?? resultPath('deeplab', header.kind, gpu.traits.adapter.architecture || gpu.traits.adapter.vendor, header.date);
    writeResults(file, { ...header, loadMs, cpuBusyBefore: busy, compileMs, firstRunMs, coldMs, warm, flops, gflops, memory, profile, peer });
    return 0;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    await gpu.destroy();
  }
}

runMain(main);
