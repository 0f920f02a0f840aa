// Every kernel descriptor under src/kernels, found by walking the modules, has a conformance case
// (test/helpers/conformance-cases.ts) that runs it through its public function at awkward sizes
// against a float64 reference; a new descriptor without a case, or a case naming a descriptor that
// is gone, fails here. Prints one line per case: error against tolerance, and GFLOP/s and GB/s from
// the descriptors' cost() over the median of a few warm calls (informational; nothing is asserted
// about speed). The bench runner with more samples is `npm run bench:ops`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conformanceCases, coverageGaps, discoverKernels, formatTable, runCase, type CaseResult, type FoundKernel } from '../helpers/conformance-cases.js';
import { testGpu } from '../helpers/gpu.js';

const WARM = 3;
const cases = conformanceCases();
const results: CaseResult[] = [];
let known: Map<string, FoundKernel>;

beforeAll(async () => {
  known = await discoverKernels();
});

afterAll(() => {
  if (results.length === 0) return;
  const counts = `${results.filter((r) => !r.skipped).length} cases run, ${results.filter((r) => r.skipped).length} skipped`;
  const noCost = [...new Set(results.flatMap((r) => r.noCost))];
  console.log(
    `\nkernel conformance (${counts}; ms = median of ${WARM} warm calls, wall clock around the public function; rates from cost()):\n` +
      formatTable(results) +
      `\ndescriptors without cost(): ${noCost.length ? noCost.join(', ') : 'none'}`,
  );
});

describe('kernel conformance: coverage', () => {
  it('finds every exported descriptor, and every one has a case naming it (and no case names a missing one)', () => {
    // The walk must see through the per-variant records too (softmaxKernels etc.).
    expect(known.size).toBeGreaterThan(0);
    expect(known.has('softmax.subgroup'), 'descriptors inside exported records').toBe(true);
    const { uncovered, unknown } = coverageGaps(known, cases);
    expect(uncovered, 'descriptors without a conformance case: add one to test/helpers/conformance-cases.ts').toEqual([]);
    expect(unknown, 'cases naming descriptors that no module under src/kernels exports').toEqual([]);
  });
});

describe('kernel conformance: each case vs its float64 reference', () => {
  for (const c of cases) {
    it(`${c.kernels.join(' + ')}: ${c.shape}`, async (ctx) => {
      const gpu = await testGpu();
      const r = await runCase(gpu, c, known, WARM);
      results.push(r);
      if (r.skipped) ctx.skip(r.skipped);
      expect(r.problems, 'dispatch problems').toEqual([]);
      for (const check of r.checks) {
        const first = check.first ? `; first bad [${check.first.index}]: got ${check.first.got}, want ${check.first.want}` : '';
        expect(check.bad, `${check.what}: ${check.bad}/${check.elements} outside ${check.tolerance} (max |err| ${check.maxAbsErr})${first}`).toBe(0);
      }
      expect(r.ok).toBe(true);
    });
  }
});
