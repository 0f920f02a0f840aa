// Per-op conformance and rates outside vitest: `npm run bench:ops -- [--warm N] [--filter a,b]
// [--large] [--out] [--list]`.
//
// Runs the case table of the conformance test (test/helpers/conformance-cases.ts) on the adapter the
// engine picks here: every kernel descriptor through its public function against a float64
// reference, then N warm calls timed between gpu.sync()s. Prints one line per case: error against
// tolerance, the median wall-clock ms, and GFLOP/s and GB/s from the dispatched descriptors' cost().
// On SwiftShader these are CPU figures. Exits 1 if a case fails or a descriptor has no case.
import { Gpu } from '../src/gpu/context.js';
import { conformanceCases, coverageGaps, discoverKernels, formatTable, kernelList, largeCases, runCase, type CaseResult } from '../test/helpers/conformance-cases.js';
import { numberFlag, parseFlags, resultPath, runMain, writeResults } from './lib/driver.js';

const USAGE = `usage: npm run bench:ops -- [options]
  --warm N        timed calls per case after the checked one (default 10; the median is printed)
  --filter a,b    only cases whose kernel names or shape contain one of these
  --large         also model-sized cases of the hot kernels (matmul, attention, conv2d, layernorm, softmax)
  --out           write bench/results/ops-<adapter>-<date>.json
  --list          list the selected cases and exit`;

runMain(async () => {
  const flags = parseFlags(
    process.argv.slice(2),
    { warm: { type: 'string' }, filter: { type: 'string', multiple: true }, large: { type: 'boolean' }, out: { type: 'boolean' }, list: { type: 'boolean' } },
    USAGE,
  );
  const warm = numberFlag('warm', flags.warm, 1) ?? 10;
  const filters = (flags.filter ?? []).flatMap((f) => f.split(',')).filter(Boolean);
  const all = [...conformanceCases(), ...(flags.large ? largeCases() : [])];
  const cases = all.filter((c) => filters.length === 0 || filters.some((f) => c.kernels.some((k) => k.includes(f)) || c.shape.includes(f)));
  if (flags.list) {
    for (const c of cases) console.log(`${kernelList(c.kernels).padEnd(48)} ${c.shape}`);
    return 0;
  }

  const known = await discoverKernels();
  const gaps = coverageGaps(known, conformanceCases());
  const gpu = await Gpu.open();
  const started = new Date();
  console.log(`adapter: ${gpu.adapterName}${gpu.isSwiftShader ? ' (CPU: the rates are SwiftShader figures)' : ''}`);
  console.log(`${known.size} kernel descriptors under src/kernels, ${cases.length} cases, ${warm} warm calls each\n`);
  const results: CaseResult[] = [];
  try {
    const progress = (text: string) => process.stderr.isTTY && process.stderr.write(`\r${text}`.padEnd(81).slice(0, 81));
    for (const [i, c] of cases.entries()) {
      progress(`[${i + 1}/${cases.length}] ${kernelList(c.kernels)}`);
      results.push(await runCase(gpu, c, known, warm));
    }
    progress('');
    if (process.stderr.isTTY) process.stderr.write('\r');
  } finally {
    await gpu.destroy();
  }

  console.log(formatTable(results));
  const failed = results.filter((r) => !r.skipped && !r.ok);
  const noCost = [...new Set(results.flatMap((r) => r.noCost))];
  console.log(`\n${results.length - failed.length}/${results.length} cases pass${failed.length ? `; FAILED: ${failed.map((r) => `${kernelList(r.kernels)} (${r.shape})`).join('; ')}` : ''}`);
  console.log(`descriptors without cost(): ${noCost.length ? noCost.join(', ') : 'none'}`);
  if (gaps.uncovered.length) console.log(`descriptors without a case: ${gaps.uncovered.join(', ')}`);
  if (gaps.unknown.length) console.log(`cases naming missing descriptors: ${gaps.unknown.join(', ')}`);

  if (flags.out) {
    writeResults(resultPath('ops', gpu.traits.adapter.kind, gpu.traits.adapter.architecture, started.toISOString()), {
      adapter: gpu.adapterName,
      date: started.toISOString(),
      warm,
      timing: 'wall clock around the public function, between gpu.sync() calls; median of the warm calls',
      descriptors: known.size,
      uncovered: gaps.uncovered,
      results,
    });
  }
  return failed.length || gaps.uncovered.length || gaps.unknown.length ? 1 : 0;
});
