// `bench/train.bench.ts --quick --no-peer`, the CI-sized run of the training-step benchmark, as a
// child process (as `npm run bench:train` runs it): it must exit 0 and write a JSON record with
// both quick cases, each with a cold step, a warm sample, finite losses and a FLOP count, so that
// the full run (minutes per DeepLab-v2 step on SwiftShader) does not rot. No timing is asserted.
// About 20 s on SwiftShader with 2 cores, most of it compiling the pipelines of the first step.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../weights/helpers.js';

const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const QUICK_CASES = ['segmenter-32', 'deeplabv2-tiny-65'];

interface Stats { p50: number; min: number; max: number; samples: number[] }
interface Side { coldMs: number; warm: Stats; imgPerS: number; gflops: number | null; losses: number[] }
interface CaseRecord {
  id: string;
  model: string;
  batch: number;
  size: [number, number];
  stepsPerSample: number;
  flops: { forwardConv: number; convs: number; step: number } | { error: string };
  loadBefore: { loadavg: number[]; cpuBusy: number };
  seedmask?: Side;
  peer?: unknown;
  error?: string;
}
interface Results { adapter: string; kind: string; date: string; options: { quick: boolean; peer: boolean; warm: number }; cases: CaseRecord[] }

/** 2·MACs of the segmenter 16-32-64 / 11 classes forward on [n, 3, s, s], layer by layer. */
function segmenterFlops(n: number, s: number): number {
  const conv = (cin: number, cout: number, k: number, hw: number) => 2 * n * cout * hw * hw * cin * k * k;
  const h = s / 2; // after the stem's max-pool
  return conv(3, 16, 3, s) + 2 * conv(16, 16, 3, h)
    + conv(16, 32, 3, h / 2) + 2 * conv(32, 32, 3, h / 2)
    + conv(32, 64, 3, h / 4) + 2 * conv(64, 64, 3, h / 4)
    + conv(64, 11, 1, h / 4);
}

let dir: string;
let run: { code: number | null; stdout: string; stderr: string };
let results: Results | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'seedmask-train-bench-test-'));
  const out = join(dir, 'train.json');
  run = await new Promise((resolve, reject) => {
    const child = spawn(TSX, [join(ROOT, 'bench', 'train.bench.ts'), '--quick', '--no-peer', '--out', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  try {
    results = JSON.parse(await readFile(out, 'utf8')) as Results;
  } catch {
    results = undefined;
  }
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('bench/train.bench.ts --quick --no-peer', () => {
  it('exits 0, prints the table and the adapter, and writes the JSON results', () => {
    expect(run.code, `${run.stdout.slice(-3000)}\n${run.stderr.slice(-3000)}`).toBe(0);
    expect(results).toBeDefined();
    expect(results!.adapter.length).toBeGreaterThan(0);
    expect(run.stdout).toContain(results!.adapter);
    expect(run.stdout).toMatch(/case\s+batch\s+size\s+ms\/step\s+img\/s/);
    expect(results!.options).toMatchObject({ quick: true, peer: false, warm: 1 });
  });

  it('has both quick cases, each with a cold step, a warm sample, finite losses and the load before it', () => {
    const positive = (x: unknown, what: string) => {
      expect(typeof x, what).toBe('number');
      expect(Number.isFinite(x as number) && (x as number) > 0, `${what} = ${String(x)}`).toBe(true);
    };
    expect(results!.cases.map((c) => c.id)).toEqual(QUICK_CASES);
    for (const c of results!.cases) {
      expect(c.error, c.id).toBeUndefined();
      expect(c.peer, `${c.id}: --no-peer`).toBeUndefined();
      const s = c.seedmask!;
      positive(s.coldMs, `${c.id}: cold`);
      expect(s.warm.samples.length, `${c.id}: warm samples`).toBe(1);
      for (const x of s.warm.samples) positive(x, `${c.id}: warm sample`);
      positive(s.warm.p50, `${c.id}: p50`);
      positive(s.imgPerS, `${c.id}: img/s`);
      positive(s.gflops, `${c.id}: GFLOP/s`);
      // The cold step and one step per warm sample, each loss read back.
      expect(s.losses.length, `${c.id}: losses`).toBe(1 + c.stepsPerSample);
      for (const l of s.losses) positive(l, `${c.id}: loss`);
      expect(c.loadBefore.loadavg).toHaveLength(3);
      expect(c.loadBefore.cpuBusy).toBeGreaterThanOrEqual(0);
    }
  });

  it("counts the segmenter's convolution FLOPs from its own forward, ×3 per step", () => {
    const seg = results!.cases.find((c) => c.id === 'segmenter-32')!;
    expect(seg.flops).toEqual({ forwardConv: segmenterFlops(seg.batch, 32), convs: 10, step: 3 * segmenterFlops(seg.batch, 32) });
    const dl = results!.cases.find((c) => c.id === 'deeplabv2-tiny-65')!;
    // Stem, 5 blocks of 3 convolutions, 4 projection shortcuts, 4 ASPP branches.
    expect('convs' in dl.flops && dl.flops.convs).toBe(1 + 5 * 3 + 4 + 4);
  });
});
