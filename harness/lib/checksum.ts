// Output fingerprints (sums and samples) and comparisons: seedmask against a peer in the page, and a
// run against the committed baseline (bench/baselines/browser-numerics.json) in the driver.
import type { Agreement, Checksum } from './results.js';

export const SAMPLE_COUNT = 8;

/** Sums (in float64) and SAMPLE_COUNT values at evenly spread indices, first and last included. */
export function checksum(values: ArrayLike<number>): Checksum {
  let sum = 0, absSum = 0, sumSq = 0, absMax = 0, nonFinite = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) nonFinite++;
    sum += v;
    absSum += Math.abs(v);
    sumSq += v * v;
    absMax = Math.max(absMax, Math.abs(v)); // NaN sticks
  }
  const n = values.length;
  const samples: Array<[number, number]> = [];
  const count = Math.min(SAMPLE_COUNT, n);
  for (let k = 0; k < count; k++) {
    const i = count === 1 ? 0 : Math.round((k * (n - 1)) / (count - 1));
    samples.push([i, values[i]!]);
  }
  return { n, nonFinite, sum, absSum, sumSq, absMax, samples };
}

/** How far `other` is from `ref` (same length), relative to ref's largest magnitude. */
export function agreement(ref: ArrayLike<number>, other: ArrayLike<number>, tolerance: number): Agreement {
  if (ref.length !== other.length) throw new Error(`agreement: outputs have ${ref.length} and ${other.length} values`);
  let maxAbsDiff = 0, refMax = 0;
  for (let i = 0; i < ref.length; i++) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(ref[i]! - other[i]!)); // NaN sticks
    refMax = Math.max(refMax, Math.abs(ref[i]!));
  }
  const relDiff = refMax > 0 ? maxAbsDiff / refMax : maxAbsDiff;
  return { maxAbsDiff, relDiff, agree: relDiff <= tolerance };
}

/**
 * Differences between a run's checksum and the baseline's, as sentences (empty: they match). The
 * bounds are what "every element within tolerance·absMax of the baseline" implies: each sample
 * within tolerance·absMax, and each sum within n·tolerance·absMax (sumSq: that times 2·absMax).
 */
export function checksumMismatches(run: Checksum, base: Checksum, tolerance: number): string[] {
  const out: string[] = [];
  if (run.n !== base.n) return [`has ${run.n} values, the baseline ${base.n}`];
  // JSON turns NaN and ±Infinity into null: the count is what survives the trip.
  if (run.nonFinite) out.push(`has ${run.nonFinite} NaN or infinite values`);
  const elem = tolerance * base.absMax;
  const sumBound = base.n * elem;
  const check = (what: string, a: number, b: number, bound: number) => {
    if (!(Math.abs(a - b) <= bound)) out.push(`${what} ${a} differs from the baseline's ${b} by more than ${bound.toPrecision(3)}`);
  };
  check('sum', run.sum, base.sum, sumBound);
  check('absSum', run.absSum, base.absSum, sumBound);
  check('sumSq', run.sumSq, base.sumSq, sumBound * (2 * base.absMax + elem));
  check('absMax', run.absMax, base.absMax, elem);
  for (const [i, v] of base.samples) {
    const mine = run.samples.find(([j]) => j === i);
    if (!mine) out.push(`no sample at index ${i}`);
    else check(`value[${i}]`, mine[1], v, elem);
  }
  return out;
}
