// `npm run fuzz [-- --inputs N --seed S --only I --out FILE]`: test/fuzz/fuzz.ts over N inputs
// (default 10,000). Prints the seed (replay a finding with --seed S --only I), the counts per
// target and every finding; exits 1 when there is one.
import { fuzz } from './fuzz.js';
import { numberFlag, parseFlags, runMain, writeResults } from '../../bench/lib/driver.js';

const USAGE = `usage: npm run fuzz -- [--inputs N] [--seed S] [--only I] [--out FILE]
  --inputs N   inputs to try                       [10000]
  --seed S     the run's seed                       [random]
  --only I     replay input I of the run alone
  --out FILE   also write the report as JSON`;

runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { inputs: { type: 'string' }, seed: { type: 'string' }, only: { type: 'string' }, out: { type: 'string' } }, USAGE);
  const inputs = numberFlag('inputs', flags.inputs, 1) ?? 10_000;
  const seed = numberFlag('seed', flags.seed, 0) ?? Math.floor(Math.random() * 2 ** 31);
  console.log(`fuzz: ${inputs} inputs, seed ${seed} (replay: npm run fuzz -- --inputs ${inputs} --seed ${seed} --only I)`);
  const report = await fuzz({
    inputs,
    seed,
    only: numberFlag('only', flags.only, 0),
    onProgress: (n) => {
      if (n % 1000 === 0) process.stderr.write(`\r${n}/${inputs}`);
    },
  });
  process.stderr.write('\n');
  for (const [name, s] of Object.entries(report.byTarget)) console.log(`${name.padEnd(12)} ${String(s.inputs).padStart(6)} inputs: ${String(s.loaded).padStart(5)} loaded, ${String(s.named).padStart(5)} named errors`);
  console.log(`${report.inputs} inputs in ${report.seconds.toFixed(1)} s: ${report.loaded} loaded, ${report.namedErrors} named errors, ${report.findings.filter((f) => f.problem === 'unnamed exception').length} unnamed exceptions, ${report.findings.filter((f) => f.problem === 'hang').length} hangs; slowest input ${report.slowestMs.toFixed(0)} ms, peak RSS ${(report.peakRssBytes / 2 ** 20).toFixed(0)} MiB`);
  for (const f of report.findings.slice(0, 50)) console.log(`  #${f.index} ${f.target} (${f.mutation}): ${f.problem}: ${f.detail}`);
  if (flags.out) writeResults(flags.out, report);
  return report.findings.length ? 1 : 0;
});
