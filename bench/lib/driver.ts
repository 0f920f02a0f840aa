// What the model benchmarks (bench/clip.bench.ts, deeplab.bench.ts, seeds.bench.ts) and the kernel
// suite share: sample statistics, number formats, plain-text tables, per-op profile summaries, the
// Python peer launcher and the results file name. (Their inputs are in data.ts, which the browser
// harness shares too.)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { NodeProfile } from '../../src/graph/runner.js';

export const BENCH_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

type FlagValues<T extends FlagSpec> = ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: false }>>['values'];
type FlagSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string; default?: string | boolean | string[] | boolean[] }>;

/**
 * Command-line flags through node:util's parseArgs (strict: an unknown flag, a missing value or a
 * stray argument throws, with the usage appended); `--help`/`-h` prints the usage and exits.
 */
export function parseFlags<const T extends FlagSpec>(argv: string[], options: T, usage: string): FlagValues<T> {
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${usage}`);
  }
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  return values as FlagValues<T>;
}

/** A flag's value as a number ≥ min (integer unless `real`); undefined stays undefined. */
export function numberFlag(flag: string, value: string | undefined, min: number, real = false): number | undefined {
  if (value === undefined) return undefined;
  const x = Number(value);
  if (!Number.isFinite(x) || x < min || (!real && !Number.isInteger(x))) throw new Error(`--${flag} needs ${real ? 'a number' : 'a whole number'} ≥ ${min}, got '${value}'`);
  return x;
}

/** The options every model bench takes: the peer, its interpreter, Dawn's robustness, the output file. */
export interface CommonCli {
  peer: boolean;
  python: string;
  unsafe: boolean;
  out: string | undefined;
}

export interface Stats { p50: number; min: number; max: number; samples: number[] }

export function stats(samples: readonly number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { p50: s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2, min: s[0]!, max: s.at(-1)!, samples: [...samples] };
}

export const fmtMs = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
export const fmtRate = (r: number) => (r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2));
export const fmtRatio = (r: number) => (r >= 0.1 ? `${r.toFixed(2)}×` : `${r.toFixed(4)}×`);
export const fmtMiB = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

/** Rows of cells: the first column left-aligned, the others right-aligned to `widths`. */
export function table(rows: string[][], widths: number[]): string {
  return rows.map((cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' ')).join('\n');
}

export interface OpRow { op: string; nodes: number; dispatches: number; ms: number; share: number; flops: number; gflops: number | null }

/** A profiled run's node times summed per op kind, slowest first. */
export function byOp(profile: readonly NodeProfile[]): { totalMs: number; ops: OpRow[] } {
  const m = new Map<string, OpRow>();
  for (const p of profile) {
    const r = m.get(p.op) ?? { op: p.op, nodes: 0, dispatches: 0, ms: 0, share: 0, flops: 0, gflops: null };
    r.nodes++;
    r.dispatches += p.dispatches;
    r.ms += p.ms;
    r.flops += p.flops;
    m.set(p.op, r);
  }
  const totalMs = profile.reduce((s, p) => s + p.ms, 0);
  const ops = [...m.values()].sort((a, b) => b.ms - a.ms);
  for (const r of ops) {
    r.share = totalMs > 0 ? r.ms / totalMs : 0;
    r.gflops = r.flops > 0 && r.ms > 0 ? r.flops / (r.ms * 1e6) : null;
  }
  return { totalMs, ops };
}

/**
 * Runs a Python peer script, which prints one JSON object as its last stdout line. Checks first that
 * the interpreter has `modules`, so that a missing package reads as such rather than as a traceback.
 */
export function runPythonPeer<T>(python: string, script: string, args: string[], modules: string[] = ['torch', 'numpy']): T | { error: string } {
  if (!existsSync(python)) return { error: `${python} not found` };
  const probe = modules.length ? spawnSync(python, ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8' }) : { status: 0, stderr: '' };
  if (probe.status !== 0) return { error: `${modules.join('/')} missing for ${python}: ${(probe.stderr || '').trim().split('\n').at(-1)} (SEEDMASK_WITH_TORCH=1 bash .ci/setup installs them)` };
  console.log(`\npeer: ${python} ${path.relative(BENCH_ROOT, script)} ${args.join(' ')}`);
  const r = spawnSync(python, [script, ...args], { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) return { error: `peer failed (status ${r.status ?? r.signal}): ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}` };
  try {
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as T;
  } catch {
    return { error: `peer printed no JSON: ${r.stdout.slice(0, 200)}` };
  }
}

/** bench/results/<bench>-<adapter>-<date>.json; the adapter is 'swiftshader' or the GPU's architecture. */
export function resultPath(bench: string, kind: string, arch: string, iso: string): string {
  const name = `${kind === 'swiftshader' ? 'swiftshader' : arch || 'gpu'}`.replace(/[^A-Za-z0-9._-]+/g, '-');
  return path.join(BENCH_ROOT, 'bench', 'results', `${bench}-${name}-${iso.slice(0, 19).replace(/[:T]/g, '-')}.json`);
}

/** Writes a bench's JSON results (making the folder) and says where. */
export function writeResults(file: string, data: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
}

/** Runs a bench's main and exits with its code; an error is printed and exits with 2. */
export function runMain(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(err.stack ?? err.message);
      process.exit(2);
    },
  );
}
