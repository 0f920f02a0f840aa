// Everything worth timing on a machine with a real GPU, in one command:
// `npm run bench:device -- [--profile full|tiny]` (= `tsx bench/device.bench.ts`), or, where there is
// no Node, the bundle scripts/device-pack.mjs makes, run by scripts/device-run.sh.
//
// Cases (full profile; the tiny one runs the same code on small problems so that CI on SwiftShader
// keeps it working, test/bench/device.test.ts):
//   matmul     1024³ and 4096³ through the engine's matmul picker (src/kernels/matmul-picker.ts):
//              cold (pipeline build + first run), warm wall p50 (submit → GPU done), GPU p50 from
//              timestamp queries, GFLOP/s; peer torch.matmul on CUDA
//   clip       random ViT-B/16 weights (bench/lib/random-clip.ts) at 224² and 512×384 (a VOC 500×375
//              image resized the CLIP-ES way): cold (graph compile + first forward) and warm p50;
//              peer: the same weights in PyTorch (bench/peers/torch_clip_vision.py --device cuda)
//   seeds      SeedPipeline (Grad-CAM, CAA, dense CRF) on a 500×375 synthetic scene with K = 1 and
//              K = 3 labels: the cold first image (a fresh Gpu: every pipeline built on the way),
//              warm runs with `stageTimes` (per-stage wall times; their totals are the warm samples),
//              one more warm run without it (the plain wall time) and that run's host↔device traffic
//   warmup     the first image on a second fresh Gpu after SeedPipeline.warmup (pipelines built in
//              parallel beforehand), against the seeds case's cold first image
//   deeplab    DeepLab v3 ResNet-101 from random weights (torchvision layout, made here) at 513²:
//              cold, warm p50 (logits left on the GPU), GFLOP/s; peer torchvision on CUDA
// Each case family gets its own Gpu, opened fresh, so that each cold time pays its own pipelines.
//
// Peers run after seedmask's cases, never alongside them, and only on CUDA (a CPU peer would say
// nothing about a GPU): `--peer auto` (default) uses the first python3 whose torch sees a CUDA
// device and otherwise reports "no peer" with the reason. `--peer cpu` forces a CPU torch peer
// (to exercise the peer path on a machine without a GPU; its ratios are not GPU comparisons).
//
// Writes bench/results/device-<adapter>-<date>.json (header: adapter, robustness, profile, host
// CPU, the peer's torch/CUDA; one record per case) and the same name with .md: the report.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Gpu } from '../src/gpu/context.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { matmul, pickMatmulPlan, type MatmulPlan } from '../src/kernels/matmul.js';
import { ClipModel } from '../src/models/clip/model.js';
import { DeepLabModel } from '../src/models/deeplab/model.js';
import { expectedDeepLabShapes, type DeepLabConfig } from '../src/weights/layouts/deeplab.js';
import type { ClipConfig } from '../src/weights/layouts/clip.js';
import { encodeSafetensors } from '../src/weights/safetensors.js';
import { VOC_LABELSET, parseLabels } from '../src/wsss/labelset.js';
import { SeedPipeline, type SeedResult } from '../src/wsss/seeds.js';
import { benchData, pseudoImage, syntheticScene } from './lib/data.js';
import { BENCH_ROOT, byOp, fmtMs, fmtRate, fmtRatio, parseFlags, resultPath, runMain, runPythonPeer, stats, table, type Stats } from './lib/driver.js';
import { randomClipSafetensors, TINY_CLIP_CONFIG, VIT_B16_CONFIG } from './lib/random-clip.js';

const USAGE = `usage: npm run bench:device -- [options]
  --profile NAME    full (default: ViT-B/16 sizes; minutes on a GPU) or tiny (CI-sized, for SwiftShader)
  --out DIR         where the JSON and Markdown reports go            [bench/results]
  --only LIST       case families to run, comma-separated: matmul, clip, seeds, warmup, deeplab  [all]
  --peer MODE       auto (PyTorch on CUDA if a python3 has it, else none), cpu, none   [auto]
  --python EXE      interpreter for the peers                         [$PYTHON, python3 on PATH, /usr/bin/python3]
  --bpe PATH        CLIP BPE vocabulary                               [assets/clip/bpe_simple_vocab_16e6.txt.gz]
  --unsafe          disable Dawn's robustness transform (same as SEEDMASK_UNSAFE=1)`;

const FAMILIES = ['matmul', 'clip', 'seeds', 'warmup', 'deeplab'] as const;
type Family = (typeof FAMILIES)[number];

/**
 * The repository root: SEEDMASK_ROOT when set (scripts/device-run.sh sets it: a bundle's own
 * location says nothing about where the repository is), else this file's repository, else the
 * working directory.
 */
function repoRoot(): string {
  if (process.env.SEEDMASK_ROOT) return path.resolve(process.env.SEEDMASK_ROOT);
  const marker = path.join('assets', 'clip', 'bpe_simple_vocab_16e6.txt.gz');
  return existsSync(path.join(BENCH_ROOT, marker)) ? BENCH_ROOT : process.cwd();
}

// ---------------------------------------------------------------------------------------------
// Profiles

interface ImageSize { label: string; width: number; height: number }

interface Profile {
  name: 'full' | 'tiny';
  matmul: { shapes: Array<{ m: number; n: number; k: number }>; warm: number };
  clip: { config: ClipConfig; what: string; sizes: ImageSize[]; warm: number };
  seeds: { width: number; height: number; labels: string[]; warm: number };
  deeplab: { config: DeepLabConfig; what: string; height: number; width: number; warm: number };
}

/** The model input for an image W×H: each side rounded up to a multiple of the patch, as CLIP-ES does. */
function patchSize(w: number, h: number, patch = 16): ImageSize {
  const width = Math.ceil(w / patch) * patch, height = Math.ceil(h / patch) * patch;
  const input = width === height ? `${width}²` : `${width}×${height}`;
  return { label: width === w && height === h ? input : `${w}×${h} → ${input}`, width, height };
}

const PROFILES: Record<'full' | 'tiny', Profile> = {
  full: {
    name: 'full',
    matmul: { shapes: [{ m: 1024, n: 1024, k: 1024 }, { m: 4096, n: 4096, k: 4096 }], warm: 10 },
    clip: { config: VIT_B16_CONFIG, what: 'ViT-B/16 (random weights)', sizes: [patchSize(224, 224), patchSize(500, 375)], warm: 5 },
    seeds: { width: 500, height: 375, labels: ['cat', 'cat,dog,sofa'], warm: 3 },
    deeplab: {
      config: {
        layout: 'torchvision', name: 'deeplabv3_resnet101', classes: 21, asppChannels: 256, auxChannels: 0, asppBranches: 0,
        backbone: { blocks: [3, 4, 23, 3], stem: 64, mid: [64, 128, 256, 512], out: [256, 512, 1024, 2048] },
      },
      what: 'DeepLab v3 ResNet-101 (random weights)', height: 513, width: 513, warm: 5,
    },
  },
  tiny: {
    name: 'tiny',
    matmul: { shapes: [{ m: 64, n: 64, k: 64 }, { m: 96, n: 80, k: 72 }], warm: 5 },
    clip: { config: TINY_CLIP_CONFIG, what: '2-block width-64 ViT/16 (random weights)', sizes: [patchSize(64, 64), patchSize(96, 64)], warm: 3 },
    seeds: { width: 96, height: 80, labels: ['cat', 'cat,dog,sofa'], warm: 3 },
    deeplab: {
      config: {
        layout: 'torchvision', name: 'deeplabv3_resnet14', classes: 21, asppChannels: 16, auxChannels: 0, asppBranches: 0,
        backbone: { blocks: [1, 1, 1, 1], stem: 8, mid: [4, 8, 8, 8], out: [16, 32, 32, 32] },
      },
      what: 'DeepLab v3, 1 bottleneck per layer, widths ÷ 64 (random weights)', height: 64, width: 64, warm: 3,
    },
  },
};

// ---------------------------------------------------------------------------------------------
// Records

interface PeerTiming { name: string; coldMs?: number; warm: Stats; gpu?: Stats }

interface CaseRecord {
  family: Family;
  name: string;
  adapter: string;
  /** The problem: shapes, sizes, labels. */
  params: Record<string, unknown>;
  /** First run on a Gpu that had not built this case's pipelines (what that includes: `coldNote`). */
  coldMs?: number;
  coldNote?: string;
  /** Warm wall-clock samples (ms). */
  warm: Stats;
  /** Warm GPU time from timestamp queries (ms), where the adapter has them. */
  gpu?: Stats;
  /** Work per run, and the rate at the warm p50 (GPU time when measured, else wall). */
  work?: { flops: number };
  rate?: { value: number; unit: 'GFLOP/s'; from: 'gpu' | 'wall' };
  peer?: PeerTiming;
  /** Peer p50 / seedmask p50 on the same basis (below 1: seedmask slower). */
  speedVsPeer?: number;
  speedBasis?: 'gpu' | 'wall';
  /** Why there is no peer ratio. */
  peerNote?: string;
  extra?: Record<string, unknown>;
  error?: string;
}

type Traffic = SeedResult['traffic'];

const now = () => performance.now();

// ---------------------------------------------------------------------------------------------
// Peer interpreter

interface TorchProbe { torch: string | null; cuda_available: boolean; cuda?: string | null; device?: string; cudnn?: number; torchvision?: string | null; python?: string; executable?: string; error?: string }

interface PeerPlan { python: string; device: 'cuda' | 'cpu'; probe: TorchProbe }

/** An executable's absolute path: as given when it has a slash, else the first hit on PATH. */
function which(exe: string): string | undefined {
  if (exe.includes('/')) return existsSync(exe) ? path.resolve(exe) : undefined;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir || '.', exe);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** Chooses the peer interpreter and device, or says why there is none. */
function planPeer(mode: string, python: string | undefined, root: string): PeerPlan | { none: string } {
  if (mode === 'none') return { none: 'peers off (--peer none)' };
  if (python && !which(python)) return { none: `${python} not found` };
  const names = python ? [python] : [process.env.PYTHON, 'python3', '/usr/bin/python3'];
  const candidates = [...new Set(names.filter((p): p is string => !!p).map(which).filter((p): p is string => !!p))];
  const seen: string[] = [];
  for (const exe of candidates) {
    const r = spawnSync(exe, [path.join(root, 'bench', 'peers', 'torch_device.py'), '--probe'], { encoding: 'utf8', timeout: 120_000 });
    let probe: TorchProbe;
    try {
      probe = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as TorchProbe;
    } catch {
      seen.push(`${exe}: probe failed (${(r.stderr || r.error?.message || '').trim().split('\n').at(-1)})`);
      continue;
    }
    if (!probe.torch) {
      seen.push(`${exe}: no torch`);
      continue;
    }
    if (mode === 'cpu') return { python: exe, device: 'cpu', probe };
    if (probe.cuda_available) return { python: exe, device: 'cuda', probe };
    seen.push(`${exe}: torch ${probe.torch} sees no CUDA device`);
  }
  return { none: `no ${mode === 'cpu' ? '' : 'CUDA '}torch peer (${seen.join('; ') || 'no python3 found'})` };
}

// ---------------------------------------------------------------------------------------------
// Cases

interface Ctx {
  profile: Profile;
  unsafe: boolean;
  root: string;
  bpe: string;
  scratch: string;
  /** Whether peer inputs (weight files) are needed. */
  peer: boolean;
  adapter: string;
  log: (line: string) => void;
}

async function openGpu(ctx: Ctx): Promise<Gpu> {
  return Gpu.open({ unsafeNoRobustness: ctx.unsafe });
}

const flopsOf = (nodes: ReadonlyArray<{ op: { flops?: (i: never, a: never) => number }; inputs: unknown; attrs: unknown }>) =>
  nodes.reduce((s, n) => s + (n.op.flops?.(n.inputs as never, n.attrs as never) ?? 0), 0);

const rateOf = (flops: number, ms: number) => flops / (ms * 1e6);

async function matmulCases(ctx: Ctx, gpu: Gpu): Promise<CaseRecord[]> {
  const out: CaseRecord[] = [];
  const timestamps = gpu.traits.features.timestampQuery;
  for (const s of ctx.profile.matmul.shapes) {
    const name = s.m === s.n && s.n === s.k ? `matmul ${s.m}³` : `matmul ${s.m}×${s.n}×${s.k}`;
    const plan: MatmulPlan = pickMatmulPlan({ ...s, batch: 1 }, gpu.traits.adapter.kind);
    const a = gpu.upload(benchData(s.m * s.k, 1), [s.m, s.k]);
    const b = gpu.upload(benchData(s.k * s.n, 2), [s.k, s.n]);
    const c = gpu.empty([s.m, s.n], 'f32', 'bench out');
    try {
      await gpu.sync(); // the uploads are not part of the first run
      const pipelinesBefore = gpu.pipelineCount;
      let t = now();
      await matmul(gpu, a, b, { out: c });
      await gpu.sync();
      const coldMs = now() - t;
      const built = gpu.pipelineCount - pipelinesBefore;
      const walls: number[] = [], gpus: number[] = [];
      if (timestamps) gpu.profiling = true;
      gpu.takeTimings();
      try {
        for (let i = 0; i < ctx.profile.matmul.warm; i++) {
          t = now();
          await matmul(gpu, a, b, { out: c });
          await gpu.sync();
          walls.push(now() - t);
          if (timestamps) gpus.push(gpu.takeTimings().reduce((x, y) => x + y.ms, 0));
        }
      } finally {
        if (timestamps) gpu.profiling = false;
      }
      const flops = 2 * s.m * s.n * s.k;
      const warm = stats(walls), gpuStats = gpus.length ? stats(gpus) : undefined;
      const from = gpuStats ? 'gpu' : 'wall';
      out.push({
        family: 'matmul', name, adapter: ctx.adapter, params: { ...s, plan }, coldMs, coldNote: built ? `${built} pipeline(s) built + first run` : 'first run (its pipeline was built by an earlier shape)', warm, gpu: gpuStats,
        work: { flops }, rate: { value: rateOf(flops, (gpuStats ?? warm).p50), unit: 'GFLOP/s', from },
      });
      ctx.log(`  ${name} (${plan.variant}): cold ${fmtMs(coldMs)} ms, warm p50 ${fmtMs(warm.p50)} ms${gpuStats ? `, GPU p50 ${fmtMs(gpuStats.p50)} ms` : ''}, ${fmtRate(out.at(-1)!.rate!.value)} GFLOP/s`);
    } finally {
      gpu.release(a, b, c);
    }
  }
  return out;
}

async function clipCases(ctx: Ctx, weights: Uint8Array): Promise<CaseRecord[]> {
  const p = ctx.profile.clip;
  const gpu = await openGpu(ctx);
  const out: CaseRecord[] = [];
  try {
    const model = await ClipModel.load(gpu, weights, { tokenizer: false, name: 'random CLIP' });
    try {
      const timestamps = gpu.traits.features.timestampQuery;
      for (const s of p.sizes) {
        const image = pseudoImage(s.height, s.width);
        const pipelinesBefore = gpu.pipelineCount;
        let t = now();
        const graph = await model.visionGraph(s.height, s.width);
        const compileMs = now() - t;
        t = now();
        await graph.run({ image });
        const firstRunMs = now() - t;
        const samples: number[] = [];
        for (let i = 0; i < p.warm; i++) {
          t = now();
          await graph.run({ image });
          samples.push(now() - t);
        }
        const flops = flopsOf(graph.graph.nodes as never);
        const warm = stats(samples);
        const rec: CaseRecord = {
          family: 'clip', name: `clip ${s.label}`, adapter: ctx.adapter,
          params: { model: p.what, width: s.width, height: s.height, tokens: (s.width / 16) * (s.height / 16) + 1 },
          coldMs: compileMs + firstRunMs, coldNote: `graph compile ${fmtMs(compileMs)} ms (plan, buffers, weights, ${gpu.pipelineCount - pipelinesBefore} new pipelines) + first forward ${fmtMs(firstRunMs)} ms`,
          warm, work: { flops }, rate: { value: rateOf(flops, warm.p50), unit: 'GFLOP/s', from: 'wall' },
          extra: { compileMs, firstRunMs, peakBytes: graph.plan.peakBytes + graph.weightBytes },
        };
        if (timestamps) {
          // One extra profiled run (each dispatch in its own pass): GPU time, not a warm sample.
          const { profile } = await graph.run({ image }, { profile: true });
          const ops = byOp(profile!);
          rec.gpu = stats([ops.totalMs]);
          rec.extra!.topOps = ops.ops.slice(0, 4).map((o) => ({ op: o.op, ms: o.ms, share: o.share, gflops: o.gflops }));
        }
        out.push(rec);
        ctx.log(`  ${rec.name}: cold ${fmtMs(rec.coldMs!)} ms, warm p50 ${fmtMs(warm.p50)} ms, ${fmtRate(rec.rate!.value)} GFLOP/s${rec.gpu ? `, GPU (profiled run) ${fmtMs(rec.gpu.p50)} ms` : ''}`);
      }
    } finally {
      await model.destroy();
    }
  } finally {
    await gpu.destroy();
  }
  return out;
}

/** Milliseconds per stage from a run's timings (text, gradcam, caa, crf, read, total, …). */
const stageTimes = (r: SeedResult) => ({ ...r.timings });

function p50PerKey(runs: Array<Record<string, number>>): Record<string, number> {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r)))];
  return Object.fromEntries(keys.map((k) => [k, stats(runs.map((r) => r[k]).filter((v): v is number => v !== undefined)).p50]));
}

const trafficOf = (t: Traffic) => ({ uploads: t.uploads, uploadBytes: t.uploadBytes, downloads: t.downloads, downloadBytes: t.downloadBytes, submits: t.submits, dispatches: t.dispatches, hostMs: t.hostMs, waitMs: t.waitMs });

function trafficLine(t: ReturnType<typeof trafficOf>): string {
  const kb = (b: number) => `${(b / 1024).toFixed(1)} kB`;
  return `${t.uploads} uploads (${kb(t.uploadBytes)}), ${t.downloads} downloads (${kb(t.downloadBytes)}), ${t.submits} submits, ${t.dispatches} dispatches, host ${fmtMs(t.hostMs)} ms`;
}

const SEEDS_NO_PEER = 'no GPU peer: the CLIP-ES reference pipeline (bench/peers/torch_clip_es_seeds.py, npm run bench:seeds) runs on the CPU (numpy/OpenCV CAA, no CRF)';

/** K = 1 and K = 3 on one fresh Gpu; returns the records and the K = 1 first-image time (no warmup). */
async function seedsCases(ctx: Ctx, weights: Uint8Array): Promise<{ records: CaseRecord[]; firstMs?: number; firstTraffic?: ReturnType<typeof trafficOf> }> {
  const p = ctx.profile.seeds;
  const image = syntheticScene(p.width, p.height);
  const gpu = await openGpu(ctx);
  const records: CaseRecord[] = [];
  let firstMs: number | undefined, firstTraffic: ReturnType<typeof trafficOf> | undefined;
  try {
    const model = await ClipModel.load(gpu, weights, { tokenizer: ctx.bpe, name: 'random CLIP' });
    try {
      const pipeline = new SeedPipeline(model);
      for (const [i, text] of p.labels.entries()) {
        const labels = parseLabels(text, VOC_LABELSET);
        const K = labels.length;
        const pipelinesBefore = gpu.pipelineCount;
        let t = now();
        const cold = await pipeline.run(image, labels, { refiner: 'crf' });
        const coldMs = now() - t;
        const built = gpu.pipelineCount - pipelinesBefore;
        if (i === 0) {
          firstMs = coldMs;
          firstTraffic = trafficOf(cold.traffic);
        }
        const runs: Array<Record<string, number>> = [];
        let last = cold;
        for (let j = 0; j < p.warm; j++) {
          last = await pipeline.run(image, labels, { refiner: 'crf', stageTimes: true });
          runs.push(stageTimes(last));
        }
        const stageTraffic = trafficOf(last.traffic);
        t = now();
        const plain = await pipeline.run(image, labels, { refiner: 'crf' });
        const plainMs = now() - t;
        const warm = stats(runs.map((r) => r.total!));
        const rec: CaseRecord = {
          family: 'seeds', name: `seeds K=${K}`, adapter: ctx.adapter,
          params: { image: `synthetic ${p.width}×${p.height}`, labels: labels.map((c) => VOC_LABELSET.classes[c]!.name), refiner: 'crf', model: ctx.profile.clip.what },
          coldMs, coldNote: i === 0
            ? `first image on a fresh Gpu: the label set's prompts encoded, graphs compiled, ${built} pipelines built on the way (no warmup)`
            : `first K = ${K} image after the K = ${parseLabels(p.labels[0]!, VOC_LABELSET).length} case: its graphs compiled, ${built} more pipelines built`,
          warm, peerNote: SEEDS_NO_PEER,
          extra: {
            stagesP50: p50PerKey(runs), stageRuns: runs, plainMs, coldTimings: stageTimes(cold), coldPipelines: built, traffic: trafficOf(plain.traffic), trafficStageTimes: stageTraffic, coldTraffic: trafficOf(cold.traffic),
            grid: plain.grid,
          },
        };
        records.push(rec);
        ctx.log(`  ${rec.name}: cold ${fmtMs(coldMs)} ms, warm p50 ${fmtMs(warm.p50)} ms (stageTimes), plain ${fmtMs(plainMs)} ms; stages ${Object.entries(rec.extra!.stagesP50 as Record<string, number>).map(([k, v]) => `${k} ${fmtMs(v)}`).join(', ')}`);
        ctx.log(`    traffic (plain run): ${trafficLine(rec.extra!.traffic as ReturnType<typeof trafficOf>)}`);
      }
    } finally {
      await model.destroy();
    }
  } finally {
    await gpu.destroy();
  }
  return { records, firstMs, firstTraffic };
}

/** First image after SeedPipeline.warmup on a fresh Gpu, against the first image without one. */
async function warmupCase(ctx: Ctx, weights: Uint8Array, without: { firstMs?: number; firstTraffic?: ReturnType<typeof trafficOf> }): Promise<CaseRecord> {
  const p = ctx.profile.seeds;
  const image = syntheticScene(p.width, p.height);
  const labels = parseLabels(p.labels[0]!, VOC_LABELSET);
  if (without.firstMs === undefined) {
    // The seeds case did not run (--only): measure the first image without a warmup on its own fresh Gpu.
    const gpu = await openGpu(ctx);
    try {
      const model = await ClipModel.load(gpu, weights, { tokenizer: ctx.bpe, name: 'random CLIP' });
      try {
        const t = now();
        const r = await new SeedPipeline(model).run(image, labels, { refiner: 'crf' });
        without = { firstMs: now() - t, firstTraffic: trafficOf(r.traffic) };
      } finally {
        await model.destroy();
      }
    } finally {
      await gpu.destroy();
    }
  }
  const gpu = await openGpu(ctx);
  try {
    const model = await ClipModel.load(gpu, weights, { tokenizer: ctx.bpe, name: 'random CLIP' });
    try {
      const pipeline = new SeedPipeline(model);
      const pipelinesBefore = gpu.pipelineCount;
      const warmupMs = await pipeline.warmup({ width: p.width, height: p.height }, [labels.length]);
      const pipelines = gpu.pipelineCount - pipelinesBefore;
      let t = now();
      const first = await pipeline.run(image, labels, { refiner: 'crf' });
      const firstMs = now() - t;
      const samples: number[] = [];
      for (let i = 0; i < p.warm; i++) {
        t = now();
        await pipeline.run(image, labels, { refiner: 'crf' });
        samples.push(now() - t);
      }
      const warm = stats(samples);
      const rec: CaseRecord = {
        family: 'warmup', name: `seeds warmup K=${labels.length}`, adapter: ctx.adapter,
        params: { image: `synthetic ${p.width}×${p.height}`, labels: labels.map((c) => VOC_LABELSET.classes[c]!.name), labelCounts: [labels.length] },
        coldMs: firstMs, coldNote: 'first image after SeedPipeline.warmup on a fresh Gpu', warm, peerNote: 'no peer (an engine-internal comparison)',
        extra: {
          warmupMs, pipelines, firstAfterWarmupMs: firstMs, firstWithoutWarmupMs: without.firstMs, warmupPlusFirstMs: warmupMs + firstMs,
          firstTraffic: trafficOf(first.traffic), firstWithoutWarmupTraffic: without.firstTraffic,
        },
      };
      ctx.log(`  ${rec.name}: warmup ${fmtMs(warmupMs)} ms (${pipelines} pipelines), then first image ${fmtMs(firstMs)} ms; without warmup the first image took ${fmtMs(without.firstMs!)} ms; warm p50 ${fmtMs(warm.p50)} ms`);
      return rec;
    } finally {
      await model.destroy();
    }
  } finally {
    await gpu.destroy();
  }
}

/** Random DeepLab weights in the torchvision layout: He-scaled convolutions, BatchNorm near identity. */
async function randomDeepLab(config: DeepLabConfig, seed: number): Promise<Uint8Array<ArrayBuffer>> {
  const entries = [...expectedDeepLabShapes(config)].map(([name, shape], i) => ({
    name, dtype: 'F32' as const, shape,
    data: async () => {
      const n = shape.reduce((a, b) => a * b, 1);
      let v: Float32Array;
      if (name.endsWith('.running_var')) v = new Float32Array(n).fill(1);
      else if (name.endsWith('.running_mean') || (name.endsWith('.bias') && shape.length === 1)) v = benchData(n, seed * 7919 + i + 1, -0.05, 0.05);
      // The last BatchNorm of each residual branch small, so that 33 residual additions keep the
      // activations within float32 comfortably (as zero-init-residual training starts).
      else if (name.endsWith('.weight') && shape.length === 1) v = new Float32Array(n).fill(/\.bn3\.weight$/.test(name) ? 0.2 : 1);
      else {
        const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
        const a = Math.sqrt(3) * Math.sqrt(2 / fanIn); // uniform with He's standard deviation
        v = benchData(n, seed * 7919 + i + 1, -a, a);
      }
      return new Uint8Array(v.buffer);
    },
  }));
  return encodeSafetensors(entries);
}

async function deeplabCase(ctx: Ctx, weights: Uint8Array): Promise<CaseRecord> {
  const p = ctx.profile.deeplab;
  const gpu = await openGpu(ctx);
  try {
    const model = await DeepLabModel.load(gpu, weights, { name: 'random deeplab' });
    try {
      const opts = { height: p.height, width: p.width, outputs: ['logits'] as const };
      const image = pseudoImage(p.height, p.width);
      const pipelinesBefore = gpu.pipelineCount;
      let t = now();
      const graph = await model.graph(opts);
      const compileMs = now() - t;
      // Logits stay on the GPU (read: []), as the peer's stay on the device; sync waits for them.
      const forward = async () => {
        await graph.run({ image }, { read: [] });
        await gpu.sync();
      };
      t = now();
      await forward();
      const firstRunMs = now() - t;
      const samples: number[] = [];
      for (let i = 0; i < p.warm; i++) {
        t = now();
        await forward();
        samples.push(now() - t);
      }
      const flops = flopsOf(graph.graph.nodes as never);
      const warm = stats(samples);
      const rec: CaseRecord = {
        family: 'deeplab', name: `deeplab ${p.width}×${p.height}`, adapter: ctx.adapter,
        params: { model: p.what, name: model.config.name, width: p.width, height: p.height, classes: model.config.classes, blocks: model.config.backbone.blocks },
        coldMs: compileMs + firstRunMs, coldNote: `graph compile ${fmtMs(compileMs)} ms (plan, buffers, weights) + first forward ${fmtMs(firstRunMs)} ms (${gpu.pipelineCount - pipelinesBefore} pipelines built on the way)`,
        warm, work: { flops }, rate: { value: rateOf(flops, warm.p50), unit: 'GFLOP/s', from: 'wall' },
        extra: { compileMs, firstRunMs, peakBytes: graph.plan.peakBytes + graph.weightBytes },
      };
      if (gpu.traits.features.timestampQuery) {
        const { profile } = await graph.run({ image }, { read: [], profile: true });
        const ops = byOp(profile!);
        rec.gpu = stats([ops.totalMs]);
        rec.extra!.topOps = ops.ops.slice(0, 4).map((o) => ({ op: o.op, ms: o.ms, share: o.share, gflops: o.gflops }));
      }
      ctx.log(`  ${rec.name}: cold ${fmtMs(rec.coldMs!)} ms, warm p50 ${fmtMs(warm.p50)} ms, ${fmtRate(rec.rate!.value)} GFLOP/s`);
      return rec;
    } finally {
      await model.destroy();
    }
  } finally {
    await gpu.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Peers

interface DevicePeerReport {
  torch: string;
  cuda: string | null;
  device?: string;
  peer_device: string;
  results: Array<{ id: string; cold_ms?: number; warm_ms?: number[]; gpu_ms?: number[]; error?: string }>;
}

interface ClipPeerReport { name: string; results: Array<{ height: number; width: number; cold_ms: number; warm_ms: number[] }> }

function attachPeer(rec: CaseRecord, peer: PeerTiming): void {
  rec.peer = peer;
  const basis = rec.gpu && peer.gpu && rec.family === 'matmul' ? 'gpu' : 'wall';
  rec.speedBasis = basis;
  rec.speedVsPeer = basis === 'gpu' ? peer.gpu!.p50 / rec.gpu!.p50 : peer.warm.p50 / rec.warm.p50;
}

function runPeers(ctx: Ctx, plan: PeerPlan, records: CaseRecord[], files: { clip?: string; deeplab?: string }): Record<string, unknown> {
  const summary: Record<string, unknown> = {};
  const deviceName = plan.device === 'cuda' ? `CUDA ${plan.probe.cuda ?? '?'} ${plan.probe.device ?? ''}`.trim() : 'CPU';
  const torchName = `PyTorch ${plan.probe.torch} ${deviceName} float32${plan.device === 'cuda' ? ' (TF32 off)' : ''}`;
  // matmul and DeepLab: one torch_device.py process.
  const cases: Array<Record<string, unknown>> = [];
  for (const r of records) {
    if (r.family === 'matmul') cases.push({ id: r.name, op: 'matmul', m: r.params.m, n: r.params.n, k: r.params.k, warm: ctx.profile.matmul.warm });
    if (r.family === 'deeplab' && files.deeplab) {
      const blocks = r.params.blocks as number[];
      if (ctx.profile.name === 'full') cases.push({ id: r.name, op: 'deeplab', weights: files.deeplab, height: r.params.height, width: r.params.width, classes: r.params.classes, blocks, warm: ctx.profile.deeplab.warm });
      else r.peerNote = 'no peer: torchvision builds only the full-width ResNet-50/101 backbones, not this reduced one';
    }
  }
  if (cases.length) {
    const casesFile = path.join(ctx.scratch, 'peer-cases.json');
    writeFileSync(casesFile, JSON.stringify(cases));
    const r = runPythonPeer<DevicePeerReport>(plan.python, path.join(ctx.root, 'bench', 'peers', 'torch_device.py'), ['--device', plan.device, '--cases', casesFile], ['torch']);
    summary.torchDevice = 'error' in r ? { error: r.error } : { torch: r.torch, cuda: r.cuda, device: r.device, peerDevice: r.peer_device };
    for (const c of cases) {
      const rec = records.find((x) => x.name === c.id)!;
      if ('error' in r) {
        rec.peerNote = `peer failed: ${r.error}`;
        continue;
      }
      const res = r.results.find((x) => x.id === c.id);
      if (!res || res.error || !res.warm_ms?.length) {
        rec.peerNote = `peer failed: ${res?.error ?? 'no result'}`;
        continue;
      }
      attachPeer(rec, { name: `${c.op === 'matmul' ? 'torch.matmul' : 'torchvision deeplabv3'}, ${torchName}`, coldMs: res.cold_ms, warm: stats(res.warm_ms), gpu: res.gpu_ms?.length ? stats(res.gpu_ms) : undefined });
    }
  }
  const clipRecords = records.filter((r) => r.family === 'clip');
  if (clipRecords.length && files.clip) {
    const sizes = clipRecords.map((r) => `${r.params.height}x${r.params.width}`).join(',');
    // On CUDA the plain nn.Module forward (cuBLAS); on a CPU the peer's oneDNN detour (see the script).
    const args = ['--weights', files.clip, '--sizes', sizes, '--warm', String(ctx.profile.clip.warm), '--device', plan.device, '--impl', plan.device === 'cuda' ? 'module' : 'fast', '--threads', String(os.cpus().length)];
    const r = runPythonPeer<ClipPeerReport>(plan.python, path.join(ctx.root, 'bench', 'peers', 'torch_clip_vision.py'), args);
    summary.clipVision = 'error' in r ? { error: r.error } : { name: r.name };
    for (const rec of clipRecords) {
      if ('error' in r) {
        rec.peerNote = `peer failed: ${r.error}`;
        continue;
      }
      const res = r.results.find((x) => x.height === rec.params.height && x.width === rec.params.width);
      if (res) attachPeer(rec, { name: r.name, coldMs: res.cold_ms, warm: stats(res.warm_ms) });
      else rec.peerNote = 'peer returned no result for this size';
    }
  }
  return summary;
}

// ---------------------------------------------------------------------------------------------
// Report

/** The summary: one row per case. */
function summaryRows(records: CaseRecord[]): string[][] {
  const rows = [['case', 'cold ms', 'warm p50 ms', 'GPU p50 ms', 'GFLOP/s', 'peer p50 ms', 'seedmask/peer']];
  for (const r of records) {
    if (r.error) {
      rows.push([r.name, 'FAILED', '', '', '', '', '']);
      continue;
    }
    rows.push([
      r.name,
      r.coldMs !== undefined ? fmtMs(r.coldMs) : '–',
      `${fmtMs(r.warm.p50)} (×${r.warm.samples.length})`,
      r.gpu ? fmtMs(r.gpu.p50) : '–',
      r.rate ? fmtRate(r.rate.value) : '–',
      r.peer ? fmtMs(r.peer.warm.p50) : '–',
      r.speedVsPeer !== undefined ? `${fmtRatio(r.speedVsPeer)} (${r.speedBasis})` : '–',
    ]);
  }
  return rows;
}

function report(header: Record<string, unknown>, records: CaseRecord[]): string {
  const h = header as { adapter: string; kind: string; robustness: string; profile: string; cpu: string; node: string; date: string; timestampQuery: boolean; peer: { name?: string; none?: string } };
  const lines: string[] = [];
  lines.push(`# seedmask device benchmark — ${h.adapter}`, '');
  lines.push(`- adapter: ${h.adapter} [${h.kind}]`);
  lines.push(`- profile: ${h.profile}; Dawn robustness: ${h.robustness}; timestamp queries: ${h.timestampQuery ? 'yes' : 'no'}`);
  lines.push(`- host: ${h.cpu}; node ${h.node}; ${h.date}`);
  lines.push(`- peer: ${h.peer.name ?? `none — ${h.peer.none}`}`, '');
  lines.push(...markdownTable(summaryRows(records)), '');
  lines.push('Warm p50: wall clock (inputs in → results back, or GPU done); GPU p50: timestamp queries (matmul: every warm run; CLIP, DeepLab: one extra profiled run). seedmask/peer = peer p50 / seedmask p50 on the basis shown (below 1: seedmask slower).', '');
  for (const r of records.filter((x) => x.error)) lines.push(`- **${r.name} failed**: ${r.error}`);
  const seeds = records.filter((r) => r.family === 'seeds' && !r.error);
  if (seeds.length) {
    lines.push('## Seed pipeline by stage', '');
    const keys = [...new Set(seeds.flatMap((r) => Object.keys(r.extra!.stagesP50 as object)))];
    const srows = [['stage (warm p50, stageTimes)', ...seeds.map((r) => `${r.name} ms`)]];
    for (const k of keys) srows.push([k, ...seeds.map((r) => { const v = (r.extra!.stagesP50 as Record<string, number>)[k]; return v !== undefined ? fmtMs(v) : '–'; })]);
    srows.push(['plain warm run (no stageTimes)', ...seeds.map((r) => fmtMs(r.extra!.plainMs as number))]);
    srows.push(['cold first image', ...seeds.map((r) => fmtMs(r.coldMs!))]);
    lines.push(...markdownTable(srows), '');
    for (const r of seeds) lines.push(`- ${r.name} traffic of the plain warm run: ${trafficLine(r.extra!.traffic as ReturnType<typeof trafficOf>)}`);
    lines.push('');
  }
  const w = records.find((r) => r.family === 'warmup' && !r.error);
  if (w) {
    const e = w.extra as { warmupMs: number; pipelines: number; firstAfterWarmupMs: number; firstWithoutWarmupMs: number };
    lines.push('## First image with and without SeedPipeline.warmup', '');
    lines.push(...markdownTable([
      ['', 'ms'],
      ['first image, no warmup (fresh Gpu)', fmtMs(e.firstWithoutWarmupMs)],
      [`warmup (${e.pipelines} pipelines, fresh Gpu)`, fmtMs(e.warmupMs)],
      ['first image after warmup', fmtMs(e.firstAfterWarmupMs)],
      ['warm p50 after that', fmtMs(w.warm.p50)],
    ]), '');
  }
  lines.push('## Notes', '');
  const globalNone = h.peer.none && `no peer: ${h.peer.none}`;
  for (const r of records) {
    const notes = [r.coldNote && `cold = ${r.coldNote}`, r.peer && `peer: ${r.peer.name}`, r.peerNote !== globalNone && r.peerNote].filter(Boolean);
    if (notes.length) lines.push(`- ${r.name}: ${notes.join('; ')}`);
  }
  lines.push('- Not in this profile: the CLIP text tower alone (a pipeline encodes its label set\'s prompts once, within its first image), the other refiners (PAR, random walk), MaskCLIP CAMs, the browser (npm run bench:browser).');
  return lines.join('\n') + '\n';
}

function markdownTable(rows: string[][]): string[] {
  const [head, ...body] = rows;
  return [`| ${head!.join(' | ')} |`, `|${head!.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)];
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const f = parseFlags(process.argv.slice(2), {
    profile: { type: 'string', default: 'full' }, out: { type: 'string' }, only: { type: 'string' },
    peer: { type: 'string', default: 'auto' }, python: { type: 'string' }, bpe: { type: 'string' }, unsafe: { type: 'boolean' },
  }, USAGE);
  if (f.profile !== 'full' && f.profile !== 'tiny') throw new Error(`--profile: '${f.profile}' is not full or tiny\n${USAGE}`);
  if (!['auto', 'cpu', 'none'].includes(f.peer)) throw new Error(`--peer: '${f.peer}' is not auto, cpu or none\n${USAGE}`);
  const families = new Set<Family>(f.only ? f.only.split(',').map((s) => s.trim()).filter(Boolean) as Family[] : FAMILIES);
  for (const x of families) if (!FAMILIES.includes(x)) throw new Error(`--only: '${x}' is not one of ${FAMILIES.join(', ')}\n${USAGE}`);
  const profile = PROFILES[f.profile];
  const root = repoRoot();
  const bpe = f.bpe ?? path.join(root, 'assets', 'clip', 'bpe_simple_vocab_16e6.txt.gz');
  if ((families.has('seeds') || families.has('warmup')) && !existsSync(bpe)) throw new Error(`${bpe} not found: the seed cases need the CLIP BPE vocabulary (--bpe PATH, or run from the repository root)`);
  const unsafe = !!f.unsafe || process.env.SEEDMASK_UNSAFE === '1';
  const started = now();

  // The peer's interpreter is settled first, so the header can name it before anything is timed.
  const peerPlan = planPeer(f.peer, f.python, root);
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'seedmask-device-bench-'));
  const records: CaseRecord[] = [];
  const log = (line: string) => console.log(line);
  try {
    // The first Gpu names the adapter for the header and the file name, then runs the matmuls.
    const first = await Gpu.open({ unsafeNoRobustness: unsafe });
    const traits = first.traits;
    const header = {
      bench: 'device',
      adapter: first.adapterName,
      kind: traits.adapter.kind,
      architecture: traits.adapter.architecture,
      description: traits.adapter.description,
      robustness: unsafe ? 'off (SEEDMASK_UNSAFE=1 / --unsafe)' : 'on (Dawn default)',
      timestampQuery: traits.features.timestampQuery,
      profile: profile.name,
      cpu: `${os.cpus()[0]?.model ?? 'unknown'} ×${os.cpus().length}`,
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      date: new Date().toISOString(),
      families: [...families],
      peer: 'none' in peerPlan ? { none: peerPlan.none } : {
        name: `PyTorch ${peerPlan.probe.torch} on ${peerPlan.device === 'cuda' ? `CUDA ${peerPlan.probe.cuda} (${peerPlan.probe.device}, cuDNN ${peerPlan.probe.cudnn})` : 'the CPU (not a GPU comparison)'}`,
        python: peerPlan.python, torch: peerPlan.probe.torch, cuda: peerPlan.probe.cuda ?? null, device: peerPlan.probe.device ?? null, torchvision: peerPlan.probe.torchvision ?? null,
      } as Record<string, unknown>,
    };
    const ctx: Ctx = { profile, unsafe, root, bpe, scratch, peer: !('none' in peerPlan), adapter: first.adapterName, log };
    log(`seedmask device benchmark — profile ${profile.name} — adapter: ${header.adapter} [${header.kind}]`);
    log(`robustness: ${header.robustness}; timestamp queries: ${header.timestampQuery ? 'yes' : 'no'}; CPU: ${header.cpu}; node ${header.node}`);
    log(`peer: ${'none' in peerPlan ? `none — ${peerPlan.none}` : header.peer.name as string}`);

    const attempt = async (family: Family, name: string, fn: () => Promise<CaseRecord[]>) => {
      log(`\n${name}`);
      try {
        records.push(...(await fn()));
      } catch (err) {
        const message = (err as Error).stack ?? String(err);
        log(`  FAILED: ${message}`);
        records.push({ family, name: `${family} (failed)`, adapter: ctx.adapter, params: {}, warm: stats([NaN]), error: (err as Error).message });
      }
    };

    try {
      if (families.has('matmul')) await attempt('matmul', 'matmul (the picker\'s plan, f32)', () => matmulCases(ctx, first));
    } finally {
      await first.destroy();
    }

    const files: { clip?: string; deeplab?: string } = {};
    if (families.has('clip') || families.has('seeds') || families.has('warmup')) {
      let t = now();
      const clipBytes = await randomClipSafetensors(profile.clip.config, 1);
      log(`\nCLIP weights: ${profile.clip.what}, ${(clipBytes.byteLength / 2 ** 20).toFixed(1)} MiB float32, made in ${fmtMs(now() - t)} ms`);
      if (ctx.peer && families.has('clip')) {
        files.clip = path.join(scratch, 'clip.safetensors');
        writeFileSync(files.clip, clipBytes);
      }
      if (families.has('clip')) await attempt('clip', `clip vision tower (${profile.clip.what})`, () => clipCases(ctx, clipBytes));
      let seeds: Awaited<ReturnType<typeof seedsCases>> = { records: [] };
      if (families.has('seeds')) {
        await attempt('seeds', `seed pipeline (${profile.seeds.width}×${profile.seeds.height}, refiner crf)`, async () => {
          seeds = await seedsCases(ctx, clipBytes);
          return seeds.records;
        });
      }
      if (families.has('warmup')) await attempt('warmup', 'SeedPipeline.warmup', async () => [await warmupCase(ctx, clipBytes, seeds)]);
    }
    if (families.has('deeplab')) {
      const t = now();
      const bytes = await randomDeepLab(profile.deeplab.config, 1);
      log(`\nDeepLab weights: ${profile.deeplab.what}, ${(bytes.byteLength / 2 ** 20).toFixed(1)} MiB float32, made in ${fmtMs(now() - t)} ms`);
      if (ctx.peer && profile.name === 'full') {
        files.deeplab = path.join(scratch, 'deeplab.safetensors');
        writeFileSync(files.deeplab, bytes);
      }
      await attempt('deeplab', `DeepLab (${profile.deeplab.what})`, async () => [await deeplabCase(ctx, bytes)]);
    }

    let peerSummary: Record<string, unknown> | undefined;
    if (!('none' in peerPlan)) {
      log('\npeers');
      peerSummary = runPeers(ctx, peerPlan, records.filter((r) => !r.error), files);
    } else {
      for (const r of records) r.peerNote ??= `no peer: ${peerPlan.none}`;
    }

    const md = report(header, records);
    const outDir = path.resolve(f.out ?? path.join(root, 'bench', 'results'));
    mkdirSync(outDir, { recursive: true });
    const jsonFile = path.join(outDir, path.basename(resultPath('device', header.kind, header.architecture || traits.adapter.vendor, header.date)));
    const mdFile = jsonFile.replace(/\.json$/, '.md');
    const totalMs = now() - started;
    await writeFileAtomic(jsonFile, JSON.stringify({ ...header, totalMs, peerRuns: peerSummary, records }, null, 2) + '\n');
    await writeFileAtomic(mdFile, md);
    log(`\nsummary — ${header.adapter}, profile ${profile.name}, peer: ${'none' in peerPlan ? 'none' : header.peer.name as string}`);
    log(table(summaryRows(records), [34, 10, 14, 11, 9, 12, 16]));
    log(`total ${(totalMs / 1000).toFixed(1)} s`);
    log(`wrote ${jsonFile}\nwrote ${mdFile}`);
    return records.some((r) => r.error) ? 1 : 0;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

runMain(main);
