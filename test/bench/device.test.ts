// `bench/device.bench.ts --profile tiny`, the CI-sized run of the GPU-machine benchmark, as a child
// process (as `npm run bench:device` runs it): it must exit 0 and write a JSON record with every
// case of the profile and a Markdown report, so that the full profile, which only ever runs on a
// GPU machine, does not rot. About 45 s on SwiftShader with 2 cores.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../weights/helpers.js';

const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
/** The tiny profile's cases, in run order. */
const TINY_CASES = ['matmul 64³', 'matmul 96×80×72', 'clip 64²', 'clip 96×64', 'seeds K=1', 'seeds K=3', 'seeds warmup K=1', 'deeplab 64×64'];
/** The tiny profile's seed image. */
const W = 96, H = 80;

interface Stats { p50: number; min: number; max: number; samples: number[] }
interface Traffic { uploads: number; uploadBytes: number; downloads: number; downloadBytes: number; submits: number; dispatches: number; hostMs: number }
interface Record_ { family: string; name: string; adapter: string; coldMs?: number; warm: Stats; gpu?: Stats; rate?: { value: number }; error?: string; extra?: Record<string, unknown> }
interface Results { adapter: string; profile: string; robustness: string; records: Record_[] }

let dir: string;
let run: { code: number | null; stdout: string; stderr: string };
let results: Results;
let markdown: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'seedmask-device-bench-test-'));
  run = await new Promise((resolve, reject) => {
    const child = spawn(TSX, [join(ROOT, 'bench', 'device.bench.ts'), '--profile', 'tiny', '--out', dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  const files = await readdir(dir);
  const json = files.find((f) => /^device-.*\.json$/.test(f));
  if (json) {
    results = JSON.parse(await readFile(join(dir, json), 'utf8')) as Results;
    markdown = await readFile(join(dir, json.replace(/\.json$/, '.md')), 'utf8');
  }
}, 240_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('bench/device.bench.ts --profile tiny', () => {
  it('exits 0 and writes the JSON results and the Markdown report', () => {
    expect(run.code, `${run.stdout.slice(-3000)}\n${run.stderr.slice(-3000)}`).toBe(0);
    expect(results).toBeDefined();
    expect(results.profile).toBe('tiny');
    expect(markdown).toBeDefined();
  });

  it('has every case of the profile, each with ≥ 3 warm samples and finite positive times', () => {
    expect(results.records.map((r) => r.name)).toEqual(TINY_CASES);
    const positive = (x: unknown, what: string) => {
      expect(typeof x, what).toBe('number');
      expect(Number.isFinite(x as number) && (x as number) > 0, `${what} = ${String(x)}`).toBe(true);
    };
    for (const r of results.records) {
      expect(r.error, r.name).toBeUndefined();
      expect(r.adapter, r.name).toBe(results.adapter);
      expect(r.warm.samples.length, `${r.name}: warm samples`).toBeGreaterThanOrEqual(3);
      for (const s of r.warm.samples) positive(s, `${r.name}: warm sample`);
      positive(r.warm.p50, `${r.name}: warm p50`);
      positive(r.coldMs, `${r.name}: cold`);
      if (r.gpu) for (const s of r.gpu.samples) positive(s, `${r.name}: GPU sample`);
      if (r.rate) positive(r.rate.value, `${r.name}: rate`);
    }
    const warmup = results.records.find((r) => r.family === 'warmup')!.extra as Record<string, number>;
    for (const k of ['warmupMs', 'firstAfterWarmupMs', 'firstWithoutWarmupMs']) positive(warmup[k], `warmup ${k}`);
    for (const r of results.records.filter((x) => x.family === 'seeds')) {
      const stages = r.extra!.stagesP50 as Record<string, number>;
      for (const k of ['gradcam', 'caa', 'crf', 'total']) positive(stages[k], `${r.name}: stage ${k}`);
      positive(r.extra!.plainMs, `${r.name}: plain warm run`);
    }
  });

  it('a warm seed run without stageTimes uploads only the image', () => {
    for (const r of results.records.filter((x) => x.family === 'seeds')) {
      const t = r.extra!.traffic as Traffic;
      // One upload per image, whatever K is: the RGBA pixels, one word each (SeedContext.rgba),
      // read on the GPU by the CLIP preprocessing and by the CRF's colour image. Weights, text rows,
      // constants and tables came with the first image and are not sent again.
      expect(t.uploads, `${r.name}: uploads`).toBe(1);
      expect(t.uploadBytes, `${r.name}: upload bytes`).toBe(4 * W * H);
    }
  });

  it('a warm seed run without stageTimes reads back once, at the end', () => {
    for (const r of results.records.filter((x) => x.family === 'seeds')) {
      // The seeds, the softmax and the error flags come back together at the end of the run
      // (SeedPipeline.run's gpu.readMany); the dense CRF keeps its lattices' vertex counts on the GPU.
      expect((r.extra!.traffic as Traffic).downloads, `${r.name}: read-backs`).toBe(1);
    }
  });

  it('the Markdown report names the adapter and the profile', () => {
    expect(results.adapter.length).toBeGreaterThan(0);
    expect(markdown).toContain(results.adapter);
    expect(markdown).toContain('profile: tiny');
    for (const name of TINY_CASES) expect(markdown).toContain(`| ${name} |`);
  });
});
