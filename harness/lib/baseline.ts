// The committed numerics baseline of the browser benchmark (bench/baselines/browser-numerics.json):
// per case, seedmask's output checksum and the tolerance it is held to. Never times: those depend on
// the machine; what is computed must not.
import { checksumMismatches } from './checksum.js';
import type { BrowserBenchResults, Checksum } from './results.js';

export interface NumericsBaseline {
  generator: string;
  note: string;
  cases: Record<string, { tolerance: number; checksum: Checksum }>;
}

export function baselineFrom(results: BrowserBenchResults, previous?: NumericsBaseline): NumericsBaseline {
  const cases: NumericsBaseline['cases'] = { ...(previous?.cases ?? {}) };
  for (const c of results.cases) {
    if (c.seedmask.checksum) cases[c.name] = { tolerance: c.tolerance, checksum: c.seedmask.checksum };
  }
  const sorted = Object.fromEntries(Object.entries(cases).sort(([a], [b]) => a.localeCompare(b)));
  return {
    generator: 'npm run bench:browser -- --update-baseline (harness/bench-driver.ts)',
    note: "seedmask's output checksum per case of the browser benchmark (same inputs as bench/kernels.bench.ts; CLIP on its pseudo-random image). --check fails when a run's output leaves these bounds or a peer disagrees with seedmask.",
    cases: sorted,
  };
}

export interface CheckReport {
  /** Cases compared and found within bounds. */
  matched: string[];
  /** Sentences, one per problem; non-empty means the check failed. */
  failures: string[];
  /** Worth saying, not failures: cases without a baseline, peers that did not run. */
  notes: string[];
}

/** Diff a run against the baseline: seedmask's checksums, and every peer's agreement with seedmask. */
export function checkAgainstBaseline(results: BrowserBenchResults, baseline: NumericsBaseline): CheckReport {
  const report: CheckReport = { matched: [], failures: [], notes: [] };
  for (const c of results.cases) {
    const base = baseline.cases[c.name];
    if (c.error || c.seedmask.error || !c.seedmask.checksum) {
      report.failures.push(`${c.name}: seedmask did not produce an output (${c.error ?? c.seedmask.error ?? 'no checksum'})`);
      continue;
    }
    if (!base) report.notes.push(`${c.name}: not in the baseline (add it with --update-baseline)`);
    else {
      const diffs = checksumMismatches(c.seedmask.checksum, base.checksum, base.tolerance);
      if (diffs.length) report.failures.push(...diffs.map((d) => `${c.name}: seedmask output ${d}`));
      else report.matched.push(c.name);
    }
    for (const p of c.peers) {
      if (p.error) report.notes.push(`${c.name}: ${p.engine} did not run (${p.error})`);
      else if (p.agreement && !p.agreement.agree) {
        report.failures.push(`${c.name}: ${p.engine} differs from seedmask by ${p.agreement.maxAbsDiff.toPrecision(3)} (relative ${p.agreement.relDiff.toPrecision(3)} > tolerance ${c.tolerance})`);
      }
    }
  }
  return report;
}
