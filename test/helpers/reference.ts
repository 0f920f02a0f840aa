// Helpers for comparing GPU results with float64 references.
import { expect } from 'vitest';
import { rng } from './rng.js';

export { rng } from './rng.js';

export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/**
 * Assert |got − want| ≤ atol + rtol·|want| elementwise; the message names the first bad index,
 * the worst error, and how many elements fail.
 */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: { rtol?: number; atol?: number }, what = 'result'): void {
  const rtol = tol.rtol ?? 0;
  const atol = tol.atol ?? 0;
  expect(got.length, `${what}: length`).toBe(want.length);
  let bad = 0, first = -1, worst = 0, worstAt = -1;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    const err = Math.abs(g - w);
    const ok = err <= atol + rtol * Math.abs(w) || (Number.isNaN(g) && Number.isNaN(w)) || g === w;
    if (!ok) {
      bad++;
      if (first < 0) first = i;
    }
    if (!(err <= worst) && !(g === w)) {
      worst = err;
      worstAt = i;
    }
  }
  if (bad) {
    throw new Error(`${what}: ${bad}/${want.length} elements off (rtol ${rtol}, atol ${atol}); first at ${first}: got ${got[first]}, want ${want[first]}; worst |err| ${worst} at ${worstAt}`);
  }
}
