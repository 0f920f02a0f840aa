import { describe, expect, it } from 'vitest';
import { Rng, mixSeed } from '../../src/world/rng.js';

describe('Rng', () => {
  it('is deterministic per seed and differs between seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const seqA = Array.from({ length: 8 }, () => a.uint32());
    expect(Array.from({ length: 8 }, () => b.uint32())).toEqual(seqA);
    expect(Array.from({ length: 8 }, () => c.uint32())).not.toEqual(seqA);
    expect(mixSeed(1, 2)).not.toBe(mixSeed(2, 1));
    expect(() => new Rng(1.5)).toThrow(RangeError);
  });

  it('draws in range with the right frequencies', () => {
    const rng = new Rng(7);
    const counts = [0, 0, 0];
    let sum = 0;
    let sumSq = 0;
    let outOfRange = 0;
    for (let i = 0; i < 30_000; i++) {
      const f = rng.float();
      if (!(f >= 0 && f < 1)) outOfRange++;
      const k = rng.int(-1, 1);
      counts[k + 1]!++;
      const g = rng.gaussianish();
      sum += g;
      sumSq += g * g;
    }
    expect(outOfRange).toBe(0);
    for (const n of counts) expect(n / 30_000).toBeCloseTo(1 / 3, 1);
    expect(sum / 30_000).toBeCloseTo(0, 1);
    expect(sumSq / 30_000).toBeCloseTo(1, 1);
    const w = [0, 0, 0];
    for (let i = 0; i < 20_000; i++) w[rng.weighted([1, 0, 3])]!++;
    expect(w[1]).toBe(0);
    expect(w[2]! / 20_000).toBeCloseTo(0.75, 1);
    expect(() => rng.pick([])).toThrow(RangeError);
  });
});
