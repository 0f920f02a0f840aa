// Kernel benchmarks: `npm run bench -- [--quick] [--filter matmul,register] [--time 2000]
// [--min-iterations 5] [--no-peer] [--wait-idle 60] [--unsafe] [--out file.json] [--list]`.
//
// Prints, per kernel and shape, the wall-clock p50 (submit → GPU done), the GPU time p50 from
// timestamp queries where the adapter has them, the rate (GFLOP/s or GB/s, from the GPU time when
// there is one), and the same problem on onnxruntime-node's CPU provider with 2 threads, and writes
// the lot to bench/results/kernels-<adapter>-<date>.json.
//
// Robustness: Dawn's bounds-clamping transform stays on unless SEEDMASK_UNSAFE=1 (or --unsafe);
// the header says which mode ran. Every kernel listed here keeps its accesses in bounds.
import os from 'node:os';
import { Gpu } from '../src/gpu/context.js';
import { matmulCases } from './cases/matmul.js';
import { memoryCases } from './cases/memory.js';
import { rowCases } from './cases/rows.js';
import { numberFlag, parseFlags, resultPath, runMain, writeResults } from './lib/driver.js';
import { runCases, type BenchCase, type RunOptions } from './lib/suite.js';

interface Cli extends RunOptions {
  quick: boolean;
  filters: string[];
  unsafe: boolean;
  out: string | undefined;
  list: boolean;
}

const USAGE = `usage: npm run bench -- [options]
  --quick               a few representative cases (the picker's choice at one ViT shape and 1024³)
  --filter a,b          only cases whose family or name contains one of these (repeatable)
  --time MS             time budget per measured task (default 2000, quick 500)
  --min-iterations N    at least N timed runs per task (default 5, quick 3)
  --no-peer             skip the onnxruntime-node CPU peer
  --wait-idle S         before each case wait up to S seconds for other processes to go quiet
                        (the 'busy before' column shows how busy the machine was either way)
  --unsafe              disable Dawn's robustness transform (same as SEEDMASK_UNSAFE=1)
  --out FILE            JSON output (default bench/results/kernels-<adapter>-<date>.json)
  --list                list the selected cases and exit`;

function parseArgs(argv: string[]): Cli {
  const f = parseFlags(argv, {
    quick: { type: 'boolean' }, filter: { type: 'string', multiple: true }, time: { type: 'string' }, 'min-iterations': { type: 'string' },
    'no-peer': { type: 'boolean' }, 'wait-idle': { type: 'string' }, unsafe: { type: 'boolean' }, out: { type: 'string' }, list: { type: 'boolean' },
  }, USAGE);
  const cli: Cli = {
    quick: !!f.quick, filters: (f.filter ?? []).flatMap((x) => x.split(',').filter(Boolean)), unsafe: !!f.unsafe || process.env.SEEDMASK_UNSAFE === '1',
    out: f.out, list: !!f.list, timeMs: numberFlag('time', f.time, 1, true) ?? NaN,
    minIterations: numberFlag('min-iterations', f['min-iterations'], 1) ?? NaN, peers: !f['no-peer'], waitIdleS: numberFlag('wait-idle', f['wait-idle'], 0, true) ?? 0,
  };
  if (Number.isNaN(cli.timeMs)) cli.timeMs = cli.quick ? 500 : 2000;
  if (Number.isNaN(cli.minIterations)) cli.minIterations = cli.quick ? 3 : 5;
  return cli;
}

/** Every benchmark family; add new ones here. */
function allCases(gpu: Gpu): BenchCase[] {
  return [...matmulCases(gpu.traits.adapter.kind), ...rowCases(gpu), ...memoryCases()];
}

function select(cases: BenchCase[], cli: Cli): BenchCase[] {
  return cases.filter((c) => (!cli.quick || c.quick) && (cli.filters.length === 0 || cli.filters.some((f) => c.family.includes(f) || c.name.includes(f))));
}

async function main(): Promise<number> {
  const cli = parseArgs(process.argv.slice(2));
  const gpu = await Gpu.open({ unsafeNoRobustness: cli.unsafe });
  try {
    const cases = select(allCases(gpu), cli);
    if (cli.list || cases.length === 0) {
      for (const c of cases) console.log(`${c.name}${c.quick ? '  (quick)' : ''}`);
      if (cases.length === 0) console.error(`no case matches${cli.filters.length ? ` --filter ${cli.filters.join(',')}` : ''}${cli.quick ? ' with --quick' : ''}`);
      return cases.length === 0 ? 1 : 0;
    }
    const timing = gpu.traits.features.timestampQuery ? 'GPU timestamp queries (rate from GPU time)' : 'wall clock around submit + sync (no timestamp-query)';
    const header = {
      adapter: gpu.adapterName,
      kind: gpu.traits.adapter.kind,
      robustness: cli.unsafe ? 'off (SEEDMASK_UNSAFE=1)' : 'on (Dawn default)',
      timing,
      cpu: `${os.cpus()[0]?.model ?? 'unknown'} ×${os.cpus().length}`,
      node: process.version,
      date: new Date().toISOString(),
      options: { quick: cli.quick, filters: cli.filters, timeMs: cli.timeMs, minIterations: cli.minIterations, peers: cli.peers, waitIdleS: cli.waitIdleS },
    };
    console.log(`seedmask kernel benchmarks — adapter: ${header.adapter} [${header.kind}]`);
    console.log(`robustness: ${header.robustness}; timing: ${timing}; CPU: ${header.cpu}; node ${header.node}`);
    console.log(`${cases.length} cases; time budget ${cli.timeMs} ms and ≥ ${cli.minIterations} runs per task; '*' marks the picker's choice\n`);
    const results = await runCases(gpu, cases, cli, (line) => console.log(line));
    const file = cli.out ?? resultPath('kernels', header.kind, gpu.traits.adapter.architecture || gpu.traits.adapter.vendor, header.date);
    writeResults(file, { ...header, results });
    return results.some((r) => r.error) ? 1 : 0;
  } finally {
    await gpu.destroy();
  }
}

runMain(main);
