// Assertions shared by the training tests: a result against a reference within per-element bounds,
// with one printed line per check (largest error, share of the bound, PyTorch's own float32 error).
import { afterAll, expect } from 'vitest';
import { goldenTorchVersion } from './golden.js';
import { errorStats, maxAbs } from './reference.js';

const lines: string[] = [];

/** Print the collected lines after the file's tests, under `title`. */
export function reportAfterAll(title: string): void {
  afterAll(() => {
    if (lines.length) console.log(`\n${title} (goldens: PyTorch ${goldenTorchVersion()} autograd, float64):\n${lines.join('\n')}`);
  });
}

/** Assert got within bound (per element, or one number) of want; record the largest error. */
export function check(what: string, got: ArrayLike<number>, want: ArrayLike<number>, bound: ArrayLike<number> | number, tolNote: string, torch32?: number): void {
  const s = errorStats(got, want, bound);
  const tol = typeof bound === 'number' ? bound : maxAbs(bound);
  lines.push(
    `  ${what.padEnd(44)} max |err| ${s.maxErr.toExponential(2)}  (${tol === 0 ? tolNote : `${(100 * s.worst).toFixed(1)}% of its bound; ${tolNote}, largest ${tol.toExponential(2)}`})` +
      (torch32 !== undefined ? `  torch f32: ${torch32.toExponential(2)}` : ''),
  );
  expect(s.bad, `${what}: ${s.bad}/${want.length} outside ${tolNote}; first [${s.first}] got ${got[s.first]} want ${want[s.first]}`).toBe(0);
}

/** A float64 reference against PyTorch float64 (they differ by float64 rounding only). */
export function checkRef(what: string, ref: ArrayLike<number>, torch: ArrayLike<number>): void {
  const s = errorStats(ref, torch, 1e-12 * maxAbs(torch));
  expect(s.bad, `float64 reference ${what} vs PyTorch: max |err| ${s.maxErr}`).toBe(0);
}
