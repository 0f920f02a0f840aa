// Benchmark inputs: deterministic values in [lo, hi) (xorshift32); the data does not change the
// timing of these kernels, only reproducibility of any check made on them.
export function benchData(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = lo + ((hi - lo) * s) / 2 ** 32;
  }
  return out;
}

export const numel = (shape: readonly number[]) => shape.reduce((x, y) => x * y, 1);
