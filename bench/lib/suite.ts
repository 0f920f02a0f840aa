// The kernel benchmark harness: a case is plain data plus a setup function; the runner times it
// with tinybench (wall clock around submit + `gpu.sync()`), reads per-dispatch GPU time from
// timestamp queries where the adapter has them, times the case's CPU peer in the same run, prints
// one table row per case and writes everything as JSON.
//
// To add a kernel: write `bench/cases/<family>.ts` exporting a function that returns BenchCase[],
// and list it in bench/kernels.bench.ts.
import os from 'node:os';
import { Bench } from 'tinybench';
import type { Gpu } from '../../src/gpu/context.js';
import { fmtMs, fmtRate, fmtRatio } from './driver.js';

/** One prepared GPU run: `encode` records the dispatches (the runner submits and waits). */
export interface GpuRun {
  encode(): Promise<void>;
  dispose(): void;
}

/** One prepared CPU peer run: `run` does the whole computation. */
export interface PeerRun {
  run(): Promise<void>;
  dispose?(): void;
}

export interface PeerCase {
  /** e.g. 'onnxruntime-node cpu ×2'. */
  name: string;
  /** Cases with the same key share one peer measurement (e.g. all variants of one shape). */
  key: string;
  setup(): Promise<PeerRun>;
}

export interface BenchCase {
  /** Kernel family, e.g. 'matmul', 'layernorm'; `--filter` matches it and the name. */
  family: string;
  /** Unique, e.g. 'matmul/register 197×2304×768 ·Bᵀ'. */
  name: string;
  /** Human-readable problem size, e.g. '197×2304×768'. */
  shape: string;
  /** Extra facts for the JSON record (variant, plan, ...). */
  details?: Record<string, unknown>;
  /** Work per run: floating-point operations (compute-bound) or bytes moved (memory-bound). */
  work: { flops: number } | { bytes: number };
  /** Part of `--quick`. */
  quick?: boolean;
  setup(gpu: Gpu): Promise<GpuRun>;
  peer?: PeerCase;
}

export interface RunOptions {
  /** Time budget per measured task in ms (tinybench keeps going until both it and minIterations are met). */
  timeMs: number;
  minIterations: number;
  peers: boolean;
  /** Before each case, wait up to this many seconds for the other processes to go quiet (0: don't). */
  waitIdleS: number;
}

export interface Stats {
  p50: number;
  min: number;
  max: number;
  samples: number;
}

export interface CaseResult {
  family: string;
  name: string;
  shape: string;
  details?: Record<string, unknown>;
  unit: 'GFLOP/s' | 'GB/s';
  work: number;
  /** Wall clock per run (submit → GPU done), ms. */
  wall: Stats;
  /** Sum of the run's dispatch times from timestamp queries, ms (null without timestamp-query). */
  gpu: Stats | null;
  /** Work per second from the GPU time if measured, else from the wall clock. */
  rate: number;
  peer?: { name: string; wall: Stats; rate: number };
  /** rate / peer rate: how fast seedmask is relative to the peer (below 1: slower). */
  speedVsPeer?: number;
  /** Share of all cores busy (with other processes: this one is idle then) just before the case. */
  cpuBusyBefore: number;
  error?: string;
}

/** Fraction of the machine's CPU time that was busy over the next `ms`. */
export async function cpuBusy(ms = 250): Promise<number> {
  const total = () => os.cpus().reduce((acc, c) => {
    const t = c.times;
    acc.idle += t.idle;
    acc.all += t.user + t.nice + t.sys + t.idle + t.irq;
    return acc;
  }, { idle: 0, all: 0 });
  const a = total();
  await new Promise((r) => setTimeout(r, ms));
  const b = total();
  const all = b.all - a.all;
  return all > 0 ? 1 - (b.idle - a.idle) / all : 0;
}

const IDLE_BUSY = 0.15;

/** Wait until the machine is at most IDLE_BUSY busy or `seconds` have passed; returns the last reading. */
async function waitIdle(seconds: number): Promise<number> {
  const deadline = Date.now() + seconds * 1000;
  let busy = await cpuBusy();
  while (busy > IDLE_BUSY && Date.now() < deadline) busy = await cpuBusy(500);
  return busy;
}

function stats(samples: number[]): Stats {
  const s = [...samples].sort((x, y) => x - y);
  const mid = s.length >> 1;
  const p50 = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { p50, min: s[0]!, max: s.at(-1)!, samples: s.length };
}

async function timeTask(name: string, fn: () => Promise<void>, opts: RunOptions): Promise<Stats> {
  const bench = new Bench({ time: opts.timeMs, iterations: opts.minIterations, warmup: false, throws: true, retainSamples: true });
  bench.add(name, fn);
  const [task] = await bench.run();
  const result = task!.result;
  if (result.state !== 'completed') throw new Error(`${name}: tinybench ended in state ${result.state}`);
  const samples = result.latency.samples;
  if (!samples) throw new Error(`${name}: tinybench kept no samples`);
  return stats([...samples]);
}

export const rateOf = (work: number, ms: number) => work / (ms * 1e6); // GFLOP/s or GB/s from ms

/** Run the cases in order, printing a row as each finishes; a failing case is reported and skipped. */
export async function runCases(gpu: Gpu, cases: BenchCase[], opts: RunOptions, print: (line: string) => void): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  const peers = new Map<string, { name: string; wall: Stats } | { error: string }>();
  const timestamps = gpu.traits.features.timestampQuery;
  print(row(['case', 'wall p50 ms', 'gpu p50 ms', 'rate', 'peer p50 ms', 'peer rate', 'seedmask/peer', 'busy before']));
  for (const c of cases) {
    const unit = 'flops' in c.work ? 'GFLOP/s' : 'GB/s';
    const work = 'flops' in c.work ? c.work.flops : c.work.bytes;
    let prepared: GpuRun | undefined;
    const cpuBusyBefore = opts.waitIdleS > 0 ? await waitIdle(opts.waitIdleS) : await cpuBusy();
    try {
      prepared = await c.setup(gpu);
      const run = prepared;
      await run.encode(); // compiles the pipelines and warms the caches
      await gpu.sync();
      // Timestamps ride along with the timed runs: the profiler puts each dispatch in its own
      // pass with begin/end timestamps, which costs nothing measurable next to these kernels.
      const gpuSamples: number[] = [];
      if (timestamps) gpu.profiling = true;
      gpu.takeTimings();
      const wall = await timeTask(c.name, async () => {
        await run.encode();
        await gpu.sync();
        if (timestamps) gpuSamples.push(gpu.takeTimings().reduce((s, t) => s + t.ms, 0));
      }, opts);
      if (timestamps) gpu.profiling = false;
      const gpuStats = gpuSamples.length ? stats(gpuSamples) : null;
      const rate = rateOf(work, (gpuStats ?? wall).p50);
      const result: CaseResult = { family: c.family, name: c.name, shape: c.shape, details: c.details, unit, work, wall, gpu: gpuStats, rate, cpuBusyBefore };
      if (opts.peers && c.peer) {
        if (!peers.has(c.peer.key)) peers.set(c.peer.key, await measurePeer(c.peer, opts));
        const peer = peers.get(c.peer.key)!;
        if ('wall' in peer) {
          const peerRate = rateOf(work, peer.wall.p50);
          result.peer = { name: peer.name, wall: peer.wall, rate: peerRate };
          result.speedVsPeer = rate / peerRate;
        } else result.error = `peer: ${peer.error}`;
      }
      results.push(result);
      if (result.error) print(`${c.name}: ${result.error}`);
      print(row([c.name, fmtMs(wall.p50), gpuStats ? fmtMs(gpuStats.p50) : '–', `${fmtRate(rate)} ${unit}`, result.peer ? fmtMs(result.peer.wall.p50) : '–', result.peer ? `${fmtRate(result.peer.rate)} ${unit}` : '–', result.speedVsPeer !== undefined ? `${fmtRatio(result.speedVsPeer)}` : '–', `${Math.round(100 * cpuBusyBefore)} %`]));
    } catch (err) {
      if (gpu.profiling) gpu.profiling = false;
      const message = (err as Error).message;
      results.push({ family: c.family, name: c.name, shape: c.shape, details: c.details, unit, work, wall: { p50: NaN, min: NaN, max: NaN, samples: 0 }, gpu: null, rate: NaN, cpuBusyBefore, error: message });
      print(`${c.name}: FAILED: ${message}`);
    } finally {
      prepared?.dispose();
    }
  }
  return results;
}

async function measurePeer(peer: PeerCase, opts: RunOptions): Promise<{ name: string; wall: Stats } | { error: string }> {
  let run: PeerRun | undefined;
  try {
    run = await peer.setup();
    await run.run(); // warm-up: first-run allocations and thread-pool start
    const r = run;
    return { name: peer.name, wall: await timeTask(`${peer.name} ${peer.key}`, () => r.run(), opts) };
  } catch (err) {
    return { error: (err as Error).message };
  } finally {
    run?.dispose?.();
  }
}


const WIDTHS = [44, 12, 11, 16, 12, 16, 14, 12];
function row(cells: string[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(WIDTHS[i]!) : c.padStart(WIDTHS[i]!))).join(' ');
}
