// Training step benchmark: `npm run bench:train -- [options]` (= `tsx bench/train.bench.ts`).
//
// Time per SGD step (forward, softmax cross-entropy, backward, optimizer) of SegmenterTrainer, and
// images per second, for
//   segmenter-64    the small segmenter (src/train/segmenter.ts; widths 16-32-64, 11 classes), batch 8
//                   of 64×64: the world's training crops
//   segmenter-96    the same at 96×96 (bench/world-train.ts's --crop 96)
//   deeplabv2-321   DeepLab-v2 ResNet-101 (src/train/deeplab.ts: output stride 8, ASPP 6/12/18/24,
//                   frozen BN, 21 classes) at 321×321, batch 1, single scale (the logits resized to
//                   the input and one cross-entropy: the TrainableModel objective; deeplab-pytorch's
//                   MSC objective sums four losses, which one tape cannot hold yet)
// and the same step in PyTorch on the CPU (bench/peers/torch_train_step.py: float32, as many threads
// as the machine has cores, the same initial weights, batch, optimizer and learning-rate groups), run
// right after each case in the same bench run, so that the two never share the CPU.
//
// Timing. The batch is on the GPU before the clock starts (stepOn: a training run augments its
// batches there, src/train/batches.ts); the peer's is in memory. The first step is the cold one
// (pipelines compiled). Each warm sample is --steps steps and one read-back of their losses
// (readLosses), so the GPU work of every step is inside the wall time; the sample is that time / steps.
// The table shows the p50 of --warm samples, the peer's likewise (wall with wall).
//
// FLOPs: 3 × the forward FLOPs (2·MACs) of the convolutions with trainable weights, counted by
// running the model's own forward on shapes only; the backward's dx and dW each cost about one
// forward. BN, ReLU, pooling, upsampling, the loss and the optimizer are not counted, nor are the
// frozen BNs DeepLab-v2 runs as depthwise 1×1 convolutions; the stem's dx (neither side computes it)
// is. The peer counts its Conv2d FLOPs with forward hooks; the JSON keeps both.
//
// --quick (a CI smoke): the segmenter at batch 2 of 32×32 and a 1/16-width DeepLab-v2 (blocks
// 1-1-2-1) at 65×65, 1 warm sample of 1 step. Writes bench/results/train-<adapter>-<date>.json.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Gpu } from '../src/gpu/context.js';
import type { Tensor } from '../src/gpu/tensor.js';
import { convFlops, convGeometry, type ConvParams } from '../src/kernels/conv.js';
import { poolGeometry, type Pool2dOptions } from '../src/kernels/pool.js';
import type { Param, Tape } from '../src/train/autodiff.js';
import type { TensorSpec, TrainableModel } from '../src/train/model.js';
import { BN_EPS, BN_MOMENTUM, DEFAULT_SEGMENTER, SegmenterModel, initSegmenter } from '../src/train/segmenter.js';
import { SegmenterTrainer, labelWords, type GpuBatch, type OptimizerOptions } from '../src/train/trainer.js';
import { writeSafetensorsFile, type SafetensorsEntry } from '../src/weights/safetensors.js';
import { benchData } from './lib/data.js';
import { BENCH_ROOT as ROOT, fmtMs, fmtRate, fmtRatio, numberFlag, parseFlags, resultPath, runMain, runPythonPeer, stats, table, writeResults, type Stats } from './lib/driver.js';
import { cpuBusy } from './lib/suite.js';

const PEER_SCRIPT = path.join(ROOT, 'bench', 'peers', 'torch_train_step.py');

interface CaseSpec {
  id: string;
  model: 'segmenter' | 'deeplabv2';
  description: string;
  batch: number;
  height: number;
  width: number;
  /** Steps per timed sample (one loss read-back each). */
  steps: number;
  optimizer: Extract<OptimizerOptions, { kind: 'sgd' }>;
  headLrMult: number;
  classes: number;
  /** DeepLab-v2 only: the backbone (ResNet-101, or a narrow one for --quick). */
  backbone?: { blocks: [number, number, number, number]; stem: number; mid: [number, number, number, number]; out: [number, number, number, number] };
}

// The world's training settings (bench/world-train.ts) for the segmenter; deeplab-pytorch's
// configs/voc12.yaml for DeepLab-v2 (its ASPP biases are at 20× there; here the trainer's one head
// multiplier puts them at 10×, the same work).
const SEG_SGD = { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 5e-4 } as const;
const DEEPLAB_SGD = { kind: 'sgd', lr: 2.5e-4, momentum: 0.9, weightDecay: 5e-4 } as const;
const RESNET101 = { blocks: [3, 4, 23, 3], stem: 64, mid: [64, 128, 256, 512], out: [256, 512, 1024, 2048] } satisfies CaseSpec['backbone'];
const NARROW = { blocks: [1, 1, 2, 1], stem: 4, mid: [4, 8, 16, 32], out: [16, 32, 64, 128] } satisfies CaseSpec['backbone'];

const seg = (id: string, batch: number, size: number, steps: number): CaseSpec => ({
  id, model: 'segmenter', description: `segmenter ${DEFAULT_SEGMENTER.widths.join('-')}, ${DEFAULT_SEGMENTER.classes} classes`,
  batch, height: size, width: size, steps, optimizer: SEG_SGD, headLrMult: 10, classes: DEFAULT_SEGMENTER.classes,
});
const deeplab = (id: string, backbone: NonNullable<CaseSpec['backbone']>, size: number, description: string): CaseSpec => ({
  id, model: 'deeplabv2', description, batch: 1, height: size, width: size, steps: 1, optimizer: DEEPLAB_SGD, headLrMult: 10, classes: 21, backbone,
});

const FULL: CaseSpec[] = [
  seg('segmenter-64', 8, 64, 4),
  seg('segmenter-96', 8, 96, 2),
  deeplab('deeplabv2-321', RESNET101, 321, 'DeepLab-v2 ResNet-101, 21 classes, single scale'),
];
const QUICK: CaseSpec[] = [
  { ...seg('segmenter-32', 2, 32, 1) },
  deeplab('deeplabv2-tiny-65', NARROW, 65, 'DeepLab-v2 1/16 width, blocks 1-1-2-1, 21 classes, single scale'),
];

const USAGE = `usage: npm run bench:train -- [options]
  --cases LIST      comma-separated case ids or models (segmenter, deeplabv2)   [all]
                    full: ${FULL.map((c) => c.id).join(', ')}
                    --quick: ${QUICK.map((c) => c.id).join(', ')}
  --warm N          timed samples per case after the cold step                  [3]
  --steps K         steps per timed sample, one loss read-back each             [segmenter-64: 4, -96: 2, deeplabv2: 1]
  --quick           small sizes, 1 warm sample of 1 step (a CI smoke)
  --no-peer         skip the PyTorch peer
  --threads N       the peer's torch.set_num_threads                            [the machine's cores: ${os.cpus().length}]
  --python EXE      interpreter for the peer                                    [/usr/bin/python3]
  --unsafe          disable Dawn's robustness transform (same as SEEDMASK_UNSAFE=1)
  --out FILE        JSON output (default bench/results/train-<adapter>-<date>.json)`;

interface Cli {
  cases: CaseSpec[];
  warm: number;
  quick: boolean;
  peer: boolean;
  threads: number;
  python: string;
  unsafe: boolean;
  out: string | undefined;
}

function parseCli(argv: string[]): Cli {
  const f = parseFlags(argv, {
    cases: { type: 'string' }, warm: { type: 'string' }, steps: { type: 'string' }, quick: { type: 'boolean' }, 'no-peer': { type: 'boolean' },
    threads: { type: 'string' }, python: { type: 'string', default: '/usr/bin/python3' }, unsafe: { type: 'boolean' }, out: { type: 'string' },
  }, USAGE);
  const quick = !!f.quick;
  const all = quick ? QUICK : FULL;
  let cases = all;
  if (f.cases !== undefined) {
    const wanted = f.cases.split(',').map((s) => s.trim()).filter(Boolean);
    for (const w of wanted) {
      if (!all.some((c) => c.id === w || c.model === w)) throw new Error(`--cases: no case '${w}'${quick ? ' with --quick' : ''} (known: ${all.map((c) => c.id).join(', ')}; or segmenter, deeplabv2)\n${USAGE}`);
    }
    cases = all.filter((c) => wanted.some((w) => c.id === w || c.model === w));
  }
  const steps = numberFlag('steps', f.steps, 1);
  if (steps !== undefined) cases = cases.map((c) => ({ ...c, steps }));
  return {
    cases, quick, warm: numberFlag('warm', f.warm, 1) ?? (quick ? 1 : 3), peer: !f['no-peer'],
    threads: numberFlag('threads', f.threads, 1) ?? os.cpus().length, python: f.python,
    unsafe: !!f.unsafe || process.env.SEEDMASK_UNSAFE === '1', out: f.out,
  };
}

// ---------------------------------------------------------------------------------------------
// FLOPs from the model's own forward, on shapes only

interface ShapeVar {
  shape: readonly number[];
  /** The convolution weight is a trainable parameter (not a frozen BN or another constant). */
  trainable: boolean;
}

/**
 * Forward FLOPs (2·MACs) of the convolutions whose weight is a parameter, from model.forward run on
 * a tape that only propagates shapes. Throws if the forward uses an op this tape does not know.
 */
async function forwardConvFlops(model: TrainableModel, input: readonly number[]): Promise<{ flops: number; convs: number }> {
  let flops = 0, convs = 0;
  const v = (shape: readonly number[], trainable = false): ShapeVar => ({ shape, trainable });
  const same = async (x: ShapeVar) => v(x.shape);
  const tape = {
    training: true,
    grad: false,
    input: (t: Pick<Tensor, 'shape'>) => v(t.shape),
    param: (p: Param) => v(p.value.shape, true),
    async conv2d(x: ShapeVar, w: ShapeVar, opts: ConvParams = {}) {
      const g = convGeometry(x.shape, w.shape, opts);
      if (w.trainable) {
        flops += convFlops(g);
        convs++;
      }
      return v([g.batch, g.cout, g.ho, g.wo]);
    },
    batchNorm: same,
    relu: same,
    add: same,
    async maxPool(x: ShapeVar, opts: Pool2dOptions) {
      const g = poolGeometry(x.shape, 'max', opts);
      return v([x.shape[0]!, x.shape[1]!, g.ho, g.wo]);
    },
    async bilinear(x: ShapeVar, size: readonly [number, number]) {
      return v([x.shape[0]!, x.shape[1]!, size[0], size[1]]);
    },
  };
  await model.forward(tape as unknown as Tape, tape.input({ shape: input }) as never);
  return { flops, convs };
}

// ---------------------------------------------------------------------------------------------
// Inputs

/** A deterministic batch: images uniform in [-2, 2) (normalised), blocky labels with ~3 % ignored. */
function makeBatch(c: CaseSpec): { images: Float32Array; labels: Uint8Array } {
  const { batch: n, height: h, width: w } = c;
  const images = benchData(n * 3 * h * w, 0x7a11, -2, 2);
  const labels = new Uint8Array(n * h * w);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) labels[(b * h + y) * w + x] = (x + y + b) % 29 === 0 ? 255 : (((x >> 3) + 3 * (y >> 3) + b) % c.classes);
    }
  }
  return { images, labels };
}

interface Built {
  model: TrainableModel;
  /** Every tensor of the model, PyTorch names and layouts (the peer's initial weights). */
  weights: Map<string, Float32Array>;
  /** The peer's settings (model, config, BN constants, head prefix). */
  peer: Record<string, unknown>;
}

/**
 * initDeepLabV2's weights made trainable from scratch without a pretrained backbone: its
 * convolutions are Kaiming with fan-out (torchvision's choice, which grows the activations 2–8× per
 * bottleneck here: the first loss was ~6e5 and the second step NaN), so they are rescaled to fan-in,
 * and the last BN of each residual branch gets γ = 0.2 (as bench/device.bench.ts does), so that 33
 * residual additions keep the features near a mean square of 35. The ASPP stays at the original's
 * normal(0, 0.01). First loss about 27 at 321×321; the losses stay finite over the bench's steps.
 */
function benchDeepLabWeights(weights: Map<string, Float32Array>, specs: readonly TensorSpec[]): Map<string, Float32Array> {
  let branches = 0;
  for (const s of specs) {
    const w = weights.get(s.name)!;
    if (s.role === 'conv') {
      const k = Math.sqrt(s.shape[0]! / s.shape[1]!); // √(fan_out / fan_in)
      for (let i = 0; i < w.length; i++) w[i] = w[i]! * k;
    } else if (s.role === 'bn_weight' && s.name.endsWith('.increase.bn.weight')) {
      w.fill(0.2);
      branches++;
    }
  }
  if (branches === 0) throw new Error("no '.increase.bn.weight' among DeepLab-v2's tensors: the residual branches were renamed");
  return weights;
}

async function build(gpu: Gpu, c: CaseSpec): Promise<Built> {
  if (c.model === 'segmenter') {
    const weights = initSegmenter(DEFAULT_SEGMENTER, 1);
    return {
      model: SegmenterModel.create(gpu, DEFAULT_SEGMENTER, weights), weights,
      peer: { model: 'segmenter', config: DEFAULT_SEGMENTER, bn_eps: BN_EPS, bn_momentum: BN_MOMENTUM, head_prefix: 'classifier.' },
    };
  }
  // Loaded here rather than at the top, so that the segmenter cases run whatever state that file is in.
  const dl = await import('../src/train/deeplab.js');
  const { DEEPLABV2_RATES, DEEPLABV2_MSC_SCALES } = await import('../src/models/deeplab/deeplabv2.js');
  const config = { classes: c.classes, inChannels: 3 as const, backbone: c.backbone!, rates: [...DEEPLABV2_RATES], mscScales: [...DEEPLABV2_MSC_SCALES] };
  const weights = benchDeepLabWeights(dl.initDeepLabV2(config, 1), dl.deeplabV2TrainSpecs(config));
  return {
    model: dl.DeepLabV2Trainable.create(gpu, config, weights), weights,
    peer: { model: 'deeplabv2', config, prefix: dl.DEEPLABV2_PREFIX, head_prefix: 'aspp.' },
  };
}

/** The peer's input file: the weights, the batch, the settings. */
async function writePeerInputs(file: string, c: CaseSpec, built: Built, batch: { images: Float32Array; labels: Uint8Array }): Promise<void> {
  const bytes = (a: Float32Array | Uint8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const specs = new Map(built.model.tensorSpecs.map((s) => [s.name, s.shape]));
  const entries: SafetensorsEntry[] = [...built.weights].map(([name, data]) => ({ name, dtype: 'F32', shape: specs.get(name)!, data: bytes(data) }));
  entries.push({ name: 'batch.images', dtype: 'F32', shape: [c.batch, 3, c.height, c.width], data: bytes(batch.images) });
  entries.push({ name: 'batch.labels', dtype: 'U8', shape: [c.batch, c.height, c.width], data: bytes(batch.labels) });
  const settings = {
    ...built.peer,
    optimizer: { lr: c.optimizer.lr, momentum: c.optimizer.momentum, weight_decay: c.optimizer.weightDecay },
    head_lr_mult: c.headLrMult,
  };
  await writeSafetensorsFile(file, entries, { settings: JSON.stringify(settings) });
}

// ---------------------------------------------------------------------------------------------
// Running a case

interface Load {
  /** os.loadavg() (1, 5, 15 min). */
  loadavg: number[];
  /** Share of all cores busy over 0.5 s. */
  cpuBusy: number;
}

/** fmtRate, with two significant digits below 0.1 (DeepLab-v2 on SwiftShader trains 0.003 img/s). */
const fmtSmall = (r: number) => (r >= 0.1 ? fmtRate(r) : r.toPrecision(2));

const machineLoad = async (): Promise<Load> => ({ loadavg: os.loadavg(), cpuBusy: await cpuBusy(500) });

interface PeerReport {
  name: string;
  torch: string;
  threads: number;
  load_ms: number;
  cold_ms: number;
  steps_per_sample: number;
  warm_ms: number[];
  losses: number[];
  conv_forward_flops: number;
  mkldnn: boolean;
}

interface Side {
  coldMs: number;
  /** ms per step, one entry per warm sample. */
  warm: Stats;
  imgPerS: number;
  gflops: number | null;
  losses: number[];
}

interface CaseResult {
  id: string;
  model: CaseSpec['model'];
  description: string;
  batch: number;
  size: [number, number];
  stepsPerSample: number;
  optimizer: CaseSpec['optimizer'] & { headLrMult: number };
  flops: { forwardConv: number; convs: number; step: number } | { error: string };
  loadBefore: Load;
  seedmask?: Side & { setupMs: number; maxRssMiB: number };
  peer?: (Side & { name: string; threads: number; loadBefore: Load; convForwardFlops: number; loadMs: number }) | { error: string };
  /** Peer p50 / seedmask p50: below 1, seedmask is slower. */
  speedVsPeer?: number;
  error?: string;
}

const sideOf = (coldMs: number, samples: number[], losses: number[], batch: number, stepFlops: number | null): Side => {
  const warm = stats(samples);
  return { coldMs, warm, imgPerS: (1000 * batch) / warm.p50, gflops: stepFlops ? stepFlops / (warm.p50 * 1e6) : null, losses };
};

async function runCase(gpu: Gpu, c: CaseSpec, cli: Cli, scratch: string): Promise<CaseResult> {
  const loadBefore = await machineLoad();
  const r: CaseResult = {
    id: c.id, model: c.model, description: c.description, batch: c.batch, size: [c.height, c.width], stepsPerSample: c.steps,
    optimizer: { ...c.optimizer, headLrMult: c.headLrMult }, flops: { error: 'not counted' }, loadBefore,
  };
  console.log(`\n${c.id}: ${c.description}, batch ${c.batch} of ${c.height}×${c.width}; load average ${loadBefore.loadavg.map((l) => l.toFixed(2)).join(' ')}, busy ${Math.round(100 * loadBefore.cpuBusy)} %`);
  let built: Built | undefined;
  let trainer: SegmenterTrainer | undefined;
  let gpuBatch: GpuBatch | undefined;
  const batch = makeBatch(c);
  try {
    let t0 = performance.now();
    built = await build(gpu, c);
    const model = built.model;
    try {
      const f = await forwardConvFlops(model, [c.batch, 3, c.height, c.width]);
      r.flops = { forwardConv: f.flops, convs: f.convs, step: 3 * f.flops };
    } catch (err) {
      r.flops = { error: `shape-only forward failed: ${(err as Error).message}` };
    }
    const stepFlops = 'step' in r.flops ? r.flops.step : null;
    trainer = new SegmenterTrainer(model, { optimizer: c.optimizer, headLrMult: c.headLrMult });
    const { words, layout } = labelWords(batch.labels);
    gpuBatch = {
      images: gpu.upload(batch.images, [c.batch, 3, c.height, c.width], 'f32', 'bench images'),
      labels: gpu.upload(words, [words.length], 'u32', 'bench labels'),
      layout,
    };
    await gpu.sync();
    const setupMs = performance.now() - t0;

    const losses: number[] = [];
    t0 = performance.now();
    await trainer.stepOn(gpuBatch);
    losses.push(...(await trainer.readLosses()));
    const coldMs = performance.now() - t0;
    console.log(`  seedmask: cold step ${fmtMs(coldMs)} ms (pipelines compiled); ${cli.warm} warm sample(s) of ${c.steps} step(s)…`);
    const samples: number[] = [];
    for (let i = 0; i < cli.warm; i++) {
      t0 = performance.now();
      for (let k = 0; k < c.steps; k++) await trainer.stepOn(gpuBatch);
      losses.push(...(await trainer.readLosses()));
      samples.push((performance.now() - t0) / c.steps);
      console.log(`    sample ${i + 1}: ${fmtMs(samples.at(-1)!)} ms/step`);
    }
    if (!losses.every(Number.isFinite)) throw new Error(`a loss is not finite: ${losses.join(', ')}`);
    r.seedmask = { ...sideOf(coldMs, samples, losses, c.batch, stepFlops), setupMs, maxRssMiB: process.resourceUsage().maxRSS / 1024 };
  } catch (err) {
    r.error = (err as Error).message;
    console.log(`  seedmask failed: ${r.error}`);
  } finally {
    trainer?.release();
    if (gpuBatch) gpu.release(gpuBatch.images, gpuBatch.labels);
    built?.model.release();
  }

  if (cli.peer && built && r.seedmask) {
    const file = path.join(scratch, `${c.id}.safetensors`);
    await writePeerInputs(file, c, built, batch);
    const peerLoad = await machineLoad();
    const p = runPythonPeer<PeerReport>(cli.python, PEER_SCRIPT, ['--inputs', file, '--warm', String(cli.warm), '--steps', String(c.steps), '--threads', String(cli.threads)]);
    rmSync(file, { force: true });
    if ('error' in p) {
      r.peer = { error: p.error };
      console.log(`  peer unavailable: ${p.error}`);
    } else {
      const stepFlops = 'step' in r.flops ? r.flops.step : null;
      r.peer = { name: p.name, threads: p.threads, loadBefore: peerLoad, convForwardFlops: p.conv_forward_flops, loadMs: p.load_ms, ...sideOf(p.cold_ms, p.warm_ms, p.losses, c.batch, stepFlops) };
      r.speedVsPeer = r.peer.warm.p50 / r.seedmask.warm.p50;
      console.log(`  peer: cold ${fmtMs(p.cold_ms)} ms; warm ${p.warm_ms.map((m) => fmtMs(m)).join(', ')} ms/step (load average before ${peerLoad.loadavg.map((l) => l.toFixed(2)).join(' ')})`);
      if ('forwardConv' in r.flops && r.flops.forwardConv !== p.conv_forward_flops) {
        console.log(`  note: the peer counts ${p.conv_forward_flops} forward conv FLOPs, seedmask ${r.flops.forwardConv}`);
      }
      const l0 = r.seedmask.losses[0]!, q0 = p.losses[0]!;
      console.log(`  first-step loss: seedmask ${l0.toFixed(6)}, peer ${q0.toFixed(6)} (same weights and batch)`);
    }
  }
  return r;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const cli = parseCli(process.argv.slice(2));
  const gpu = await Gpu.open({ unsafeNoRobustness: cli.unsafe });
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'seedmask-train-bench-'));
  try {
    const header = {
      adapter: gpu.adapterName,
      kind: gpu.traits.adapter.kind,
      robustness: cli.unsafe ? 'off (SEEDMASK_UNSAFE=1)' : 'on (Dawn default)',
      timing: 'wall clock per step: each warm sample is stepsPerSample SegmenterTrainer.stepOn calls on a batch already on the GPU, then one readLosses (read-back), divided by stepsPerSample; the peer times the same steps, then loss.item()',
      flopsCounted: "step = 3 × forward FLOPs (2·MACs) of the convolutions with trainable weights (dx and dW ≈ one forward each); BN (DeepLab's frozen BN convolutions too), ReLU, pooling, upsampling, loss and optimizer not counted",
      cpu: `${os.cpus()[0]?.model ?? 'unknown'} ×${os.cpus().length}`,
      node: process.version,
      date: new Date().toISOString(),
      options: { warm: cli.warm, quick: cli.quick, peer: cli.peer, threads: cli.threads, cases: cli.cases.map((c) => c.id) },
    };
    console.log(`seedmask training-step benchmark — adapter: ${header.adapter} [${header.kind}]`);
    console.log(`robustness: ${header.robustness}; CPU: ${header.cpu}; node ${header.node}; ${cli.warm} warm sample(s) per case; peer ${cli.peer ? `${cli.python}, ${cli.threads} threads` : 'off'}`);

    const cases: CaseResult[] = [];
    for (const c of cli.cases) cases.push(await runCase(gpu, c, cli, scratch));

    const rows = [['case', 'batch', 'size', 'ms/step', 'img/s', 'GFLOP/step', 'GFLOP/s', 'peer ms/step', 'peer img/s', 'peer GFLOP/s', 'seedmask/peer']];
    for (const r of cases) {
      const s = r.seedmask;
      const p = r.peer && !('error' in r.peer) ? r.peer : undefined;
      rows.push([
        r.id, String(r.batch), `${r.size[0]}×${r.size[1]}`,
        s ? fmtMs(s.warm.p50) : 'failed', s ? fmtSmall(s.imgPerS) : '–',
        'step' in r.flops ? (r.flops.step / 1e9).toFixed(r.flops.step < 1e10 ? 2 : 1) : '–',
        s?.gflops ? fmtSmall(s.gflops) : '–',
        p ? fmtMs(p.warm.p50) : '–', p ? fmtSmall(p.imgPerS) : '–', p?.gflops ? fmtSmall(p.gflops) : '–',
        r.speedVsPeer !== undefined ? fmtRatio(r.speedVsPeer) : '–',
      ]);
    }
    console.log(`\nwarm p50 per training step (forward + cross-entropy + backward + SGD), ${header.adapter}:`);
    console.log(table(rows, [18, 5, 8, 9, 7, 10, 8, 12, 10, 12, 13]));
    console.log('GFLOP/step: 3 × forward FLOPs of the trainable convolutions (2·MACs). seedmask/peer = peer ms / seedmask ms (below 1: seedmask slower).');
    const peerNames = new Set(cases.flatMap((r) => (r.peer && !('error' in r.peer) ? [r.peer.name] : [])));
    for (const name of peerNames) console.log(`peer: ${name}`);
    for (const r of cases) {
      if (r.error) console.log(`${r.id}: ${r.error}`);
      if (r.peer && 'error' in r.peer) console.log(`${r.id}: peer unavailable: ${r.peer.error}`);
    }

    const file = cli.out ?? resultPath('train', header.kind, gpu.traits.adapter.architecture || gpu.traits.adapter.vendor, header.date);
    writeResults(file, { ...header, cases });
    return cases.some((r) => r.error) ? 1 : 0;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    await gpu.destroy();
  }
}

runMain(main);
