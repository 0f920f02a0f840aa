// Timing in the page: a cold first run, then warm runs until both a minimum count and a time
// budget are met (capped), every run's wall-clock time kept.
import type { Stats, Timing } from './results.js';

export interface MeasureOptions {
  /** At least this many warm runs. */
  minRuns: number;
  /** Keep running until this much time has gone into warm runs, ms. */
  timeMs: number;
  /** Never more than this many warm runs. */
  maxRuns: number;
}

/** p50 / p90 by linear interpolation between order statistics (numpy's default). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function stats(runs: readonly number[]): Stats {
  const s = [...runs].sort((a, b) => a - b);
  return { p50: quantile(s, 0.5), p90: quantile(s, 0.9), min: s[0] ?? NaN, max: s.at(-1) ?? NaN, mean: s.reduce((a, b) => a + b, 0) / s.length, runs: [...runs] };
}

/** Times `run` (which must return only when its work is done): one cold run, then warm runs. */
export async function measure(run: () => Promise<void>, opts: MeasureOptions, initMs?: number): Promise<Timing> {
  if (!(opts.minRuns >= 1 && opts.maxRuns >= opts.minRuns)) throw new Error(`measure: minRuns ${opts.minRuns} must be ≥ 1 and ≤ maxRuns ${opts.maxRuns}`);
  let t = performance.now();
  await run();
  const coldMs = performance.now() - t;
  const runs: number[] = [];
  let spent = 0;
  while (runs.length < opts.maxRuns && (runs.length < opts.minRuns || spent < opts.timeMs)) {
    t = performance.now();
    await run();
    const ms = performance.now() - t;
    runs.push(ms);
    spent += ms;
  }
  return { ...(initMs !== undefined ? { initMs } : {}), coldMs, warm: stats(runs) };
}
