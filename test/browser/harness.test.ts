// The browser benchmark's Node-side pieces, without a browser: checksums and comparisons, the
// baseline check, timing statistics, the case list, the static server, and the HTML report.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { baselineFrom, checkAgainstBaseline, type NumericsBaseline } from '../../harness/lib/baseline.js';
import { serveStatic } from '../../harness/lib/browser.js';
import { agreement, checksum, checksumMismatches } from '../../harness/lib/checksum.js';
import { CLIP_TOLERANCE } from '../../harness/lib/clip-cases.js';
import { kernelCases, transposeLast2 } from '../../harness/lib/kernel-cases.js';
import { measure, quantile, stats } from '../../harness/lib/measure.js';
import type { BrowserBenchResults, CaseResult } from '../../harness/lib/results.js';
import { escapeHtml, renderReport } from '../../harness/report.js';

const ROOT = join(import.meta.dirname, '..', '..');

function caseResult(name: string, values: number[], peer?: { values: number[]; ms: number }): CaseResult {
  const cs = checksum(values);
  const c: CaseResult = {
    kind: 'kernel', name, family: name.split(' ')[0]!, shape: '4', role: 'test', work: 8e6, unit: 'GFLOP/s', tolerance: 1e-4,
    seedmask: { engine: 'seedmask', name: 'seedmask', io: 'gpu-resident', checksum: cs, timing: { coldMs: 5, warm: stats([2, 2, 2]) } },
    peers: [],
  };
  if (peer) {
    c.peers.push({ engine: 'tfjs', name: 'tfjs', io: 'gpu-resident', checksum: checksum(peer.values), agreement: agreement(values, peer.values, 1e-4), timing: { coldMs: 9, warm: stats([peer.ms]) } });
  }
  return c;
}

function results(cases: CaseResult[]): BrowserBenchResults {
  return {
    tool: 'seedmask browser benchmark', date: '2026-01-01T00:00:00.000Z',
    browser: { version: 'Chrome/1', userAgent: 'ua', flags: ['--x'], mode: 'swiftshader', crossOriginIsolated: true },
    adapter: { name: 'google / swiftshader', kind: 'swiftshader', vendor: 'google', architecture: 'swiftshader', device: 'd', description: '', features: [] },
    versions: { seedmask: 'seedmask', tfjs: 'tfjs 4' }, host: { cpu: 'cpu', node: 'v20' }, options: {}, timing: 'wall clock', cases,
  };
}

describe('checksum and agreement', () => {
  it('sums in float64 and samples evenly spread indices, first and last included', () => {
    const c = checksum([1, -2, 3, -4, 5, -6, 7, -8, 9, -10]);
    expect(c).toMatchObject({ n: 10, nonFinite: 0, sum: -5, absSum: 55, sumSq: 385, absMax: 10 });
    expect(c.samples.map(([i]) => i)).toEqual([0, 1, 3, 4, 5, 6, 8, 9]);
    expect(c.samples[7]).toEqual([9, -10]);
    expect(checksum([2]).samples).toEqual([[0, 2]]);
  });

  it('lets NaN through instead of hiding it', () => {
    expect(checksum([1, NaN, 2]).absMax).toBeNaN();
    expect(checksum([1, NaN, Infinity, 2]).nonFinite).toBe(2);
    expect(agreement([1, 2, 3], [1, NaN, 3], 1).agree).toBe(false);
    const base = checksum([1, 2, 3]);
    // What a NaN output looks like after JSON: the sums are null, the count is kept.
    const run = JSON.parse(JSON.stringify(checksum([1, NaN, 3]))) as typeof base;
    expect(checksumMismatches(run, base, 1e-4).join()).toMatch(/1 NaN or infinite/);
  });

  it('agreement is relative to the reference maximum and refuses different lengths', () => {
    const a = agreement([10, -20], [10.001, -20], 1e-4);
    expect(a.maxAbsDiff).toBeCloseTo(0.001, 9);
    expect(a.relDiff).toBeCloseTo(5e-5, 9);
    expect(a.agree).toBe(true);
    expect(agreement([10, -20], [10.01, -20], 1e-4).agree).toBe(false);
    expect(() => agreement([1], [1, 2], 1)).toThrow(/1 and 2 values/);
  });

  it('a checksum matches itself and flags a changed element, a changed sum and a changed length', () => {
    const values = Array.from({ length: 1000 }, (_, i) => Math.sin(i));
    const base = checksum(values);
    expect(checksumMismatches(checksum(values), base, 1e-4)).toEqual([]);
    // Within tolerance everywhere: every element moved by half the per-element bound.
    expect(checksumMismatches(checksum(values.map((v) => v + 0.5e-4 * base.absMax)), base, 1e-4)).toEqual([]);
    const sampled = [...values];
    sampled[base.samples[3]![0]] += 0.01;
    expect(checksumMismatches(checksum(sampled), base, 1e-4).join()).toMatch(/value\[\d+\]/);
    const row = values.map((v, i) => (i < 100 ? 0 : v)); // a zeroed stretch, no sample in it but index 0
    expect(checksumMismatches(checksum(row), base, 1e-4).join()).toMatch(/sum/);
    expect(checksumMismatches(checksum(values.slice(1)), base, 1e-4)).toEqual(['has 999 values, the baseline 1000']);
  });
});

describe('baseline check', () => {
  const good = caseResult('matmul 2×2', [1, 2, 3, 4], { values: [1, 2, 3, 4.00001], ms: 6 });

  it('passes a run against its own baseline and keeps earlier entries when updating', () => {
    const old: NumericsBaseline = { generator: 'g', note: 'n', cases: { 'other 1': { tolerance: 1e-4, checksum: checksum([1]) } } };
    const base = baselineFrom(results([good]), old);
    expect(Object.keys(base.cases)).toEqual(['matmul 2×2', 'other 1']);
    expect(JSON.stringify(base)).not.toMatch(/p50|Ms"/); // numerics only, never times
    const report = checkAgainstBaseline(results([good]), base);
    expect(report.failures).toEqual([]);
    expect(report.matched).toEqual(['matmul 2×2']);
  });

  it('fails on a changed output, on a peer that disagrees, and on a case seedmask could not run', () => {
    const base = baselineFrom(results([good]));
    expect(checkAgainstBaseline(results([caseResult('matmul 2×2', [1, 2, 3, 5])]), base).failures.join()).toMatch(/matmul 2×2: seedmask output/);
    const disagree = caseResult('matmul 2×2', [1, 2, 3, 4], { values: [1, 2, 3, 4.1], ms: 6 });
    expect(checkAgainstBaseline(results([disagree]), base).failures.join()).toMatch(/tfjs differs from seedmask/);
    const broken = caseResult('matmul 2×2', [1]);
    broken.seedmask = { engine: 'seedmask', name: 'seedmask', io: 'gpu-resident', error: 'device lost' };
    expect(checkAgainstBaseline(results([broken]), base).failures.join()).toMatch(/device lost/);
    const unknown = checkAgainstBaseline(results([caseResult('softmax 9', [1])]), base);
    expect(unknown.failures).toEqual([]);
    expect(unknown.notes.join()).toMatch(/not in the baseline/);
  });

  it('the committed baseline covers every kernel case and the tiny CLIP, with the cases\' tolerances', () => {
    const base = JSON.parse(readFileSync(join(ROOT, 'bench', 'baselines', 'browser-numerics.json'), 'utf8')) as NumericsBaseline;
    for (const c of kernelCases()) {
      expect(base.cases[c.name], c.name).toBeDefined();
      expect(base.cases[c.name]!.tolerance).toBe(c.tolerance);
      expect(base.cases[c.name]!.checksum.n).toBe(c.seedmask.outShape.reduce((a, b) => a * b, 1));
    }
    expect(base.cases['clip tiny 48×48']?.checksum.n).toBe(10 * 32);
    expect(base.cases['clip tiny 48×48']?.tolerance).toBe(CLIP_TOLERANCE);
  });
});

describe('timing statistics', () => {
  it('p50 / p90 interpolate between order statistics', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 0.9)).toBe(10);
    expect(stats([3, 1, 2])).toMatchObject({ p50: 2, min: 1, max: 3, mean: 2, runs: [3, 1, 2] });
  });

  it('measure runs once cold, then until both the count and the time budget are met, capped', async () => {
    let calls = 0;
    const run = async () => void calls++;
    const t = await measure(run, { minRuns: 4, timeMs: 0, maxRuns: 10 }, 12);
    expect(calls).toBe(5);
    expect(t.warm.runs).toHaveLength(4);
    expect(t.initMs).toBe(12);
    calls = 0;
    await measure(run, { minRuns: 1, timeMs: 1e9, maxRuns: 7 });
    expect(calls).toBe(8);
    await expect(measure(run, { minRuns: 0, timeMs: 0, maxRuns: 1 })).rejects.toThrow(/minRuns/);
  });
});

describe('kernel cases', () => {
  it('have unique names, the quick subset of the Node benchmark plus attention, and inputs of their shapes', () => {
    const cases = kernelCases();
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
    expect(cases.filter((c) => c.quick).map((c) => c.name)).toEqual(['matmul 197×768×768 ·Bᵀ', 'matmul 1024×1024×1024', 'layernorm 788×768', 'softmax 2364×197', 'attention 12×197×64']);
    for (const c of cases) {
      for (const [name, t] of Object.entries(c.inputs())) expect(t.data.length, `${c.name} ${name}`).toBe(t.shape.reduce((a, b) => a * b, 1));
      const feeds = c.onnx!.feeds(c.inputs());
      for (const [name, t] of Object.entries(feeds)) expect(t.data.length, `${c.name} onnx ${name}`).toBe(t.shape.reduce((a, b) => a * b, 1));
    }
  });

  it('transposeLast2 swaps the last two axes of each matrix in a batch', () => {
    const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]); // [2, 2, 3]
    expect(Array.from(transposeLast2(x, 2, 2, 3))).toEqual([1, 4, 2, 5, 3, 6, 7, 10, 8, 11, 9, 12]);
  });

  it("attention's peer layout [H, L, hd] maps back to seedmask's [L, H·hd]", () => {
    const c = kernelCases().find((k) => k.family === 'attention')!;
    const qkv = c.inputs().qkv!;
    const v = c.onnx!.feeds({ qkv }).v!; // V per head, [12, 197, 64]
    const back = c.fromPeer!(v.data); // as if the output were V itself
    const D = 768;
    for (const [l, col] of [[0, 0], [5, 100], [196, 767]] as const) expect(back[l * D + col]).toBe(qkv.data[l * 3 * D + 2 * D + col]);
  });
});

describe('static server', () => {
  it('serves mounts (longest prefix first) with isolation headers and refuses paths outside them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seedmask-serve-'));
    mkdirSync(join(dir, 'a'));
    mkdirSync(join(dir, 'b'));
    writeFileSync(join(dir, 'a', 'index.html'), '<p>a</p>');
    writeFileSync(join(dir, 'b', 'x.wasm'), 'wasm');
    writeFileSync(join(dir, 'secret.txt'), 'no');
    const { server, url } = await serveStatic({ '/': join(dir, 'a'), '/ort/': join(dir, 'b') });
    try {
      const root = await fetch(url);
      expect(await root.text()).toBe('<p>a</p>');
      expect(root.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
      const wasm = await fetch(`${url}ort/x.wasm`);
      expect(wasm.headers.get('content-type')).toBe('application/wasm');
      expect((await fetch(`${url}ort/%2e%2e/secret.txt`)).status).toBe(404);
      expect((await fetch(`${url}%2e%2e/secret.txt`)).status).toBe(404);
      expect((await fetch(`${url}missing.js`)).status).toBe(404);
    } finally {
      server.close();
    }
    await expect(serveStatic({ ort: dir })).rejects.toThrow(/must start and end with/);
  });
});

describe('HTML report', () => {
  const run = results([caseResult('matmul <2×2>', [1, 2, 3, 4], { values: [1, 2, 3, 4], ms: 6 })]);

  it('is one self-contained document with the environment, bars, ratios and numerics, escaped', () => {
    const html = renderReport(run);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|src="http/);
    expect(html).toContain('matmul &lt;2×2&gt;');
    expect(html).not.toContain('matmul <2×2>');
    expect(html).toContain('<svg');
    expect(html).toContain('3.00× seedmask'); // tfjs 6 ms vs seedmask 2 ms
    expect(html).toContain('every output agrees with seedmask');
    expect(html).not.toContain('id="stages"');
    expect(html).not.toContain('id="miou"');
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('renders the stage and per-class IoU sections when given, and checks their shapes', () => {
    const html = renderReport({
      ...run,
      stages: { runs: [{ label: 'img 1', stages: [{ name: 'clip', ms: 30 }, { name: 'cam', ms: 10 }] }, { label: 'img 2', stages: [{ name: 'clip', ms: 20 }] }] },
      miou: { classes: ['background', 'cat'], series: [{ label: 'seedmask', iou: [0.8, 0.6] }, { label: 'reference', iou: [0.7, NaN] }] },
    });
    expect(html).toContain('id="stages"');
    expect(html).toContain('40.0 ms'); // img 1 total
    expect(html).toContain('id="miou"');
    expect(html).toContain('mIoU 70.0 %'); // seedmask: (0.8 + 0.6) / 2
    expect(html).toContain('reference: absent');
    expect(() => renderReport({ ...run, miou: { classes: ['a', 'b'], series: [{ label: 's', iou: [1] }] } })).toThrow(/1 values for 2 classes/);
  });
});
