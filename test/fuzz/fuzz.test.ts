// A few hundred fuzzed inputs per CI run (`npm run fuzz` runs 10,000): every one ends in a load or a
// named error, none takes over 5 s, and the crafted ones (lying lengths, huge shapes, a deep pickle,
// a zip bomb) are among them. The seed changes with the date, so CI covers new inputs over time;
// a failure prints it for replay.
import { describe, expect, it } from 'vitest';
import { fuzz } from './fuzz.js';

describe('fuzzing the readers', () => {
  it('300 inputs: loads or named errors only', async () => {
    const seed = Math.floor(Date.now() / 86_400_000);
    const report = await fuzz({ inputs: 300, seed });
    expect(report.findings, `seed ${seed}: replay with npm run fuzz -- --inputs 300 --seed ${seed} --only I`).toEqual([]);
    expect(report.inputs).toBe(300);
    // Both outcomes occur for the binary formats: the mutations reach past the first check.
    for (const name of ['safetensors', 'torch zip', 'jpeg', 'npy']) {
      expect(report.byTarget[name]?.loaded, name).toBeGreaterThan(0);
      expect(report.byTarget[name]?.named, name).toBeGreaterThan(0);
    }
  });
});
