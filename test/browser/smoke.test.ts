// The same kernels in headless Chromium (shaders bundled by vite) give the same numbers as in Node.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'vite';
import { describe, expect, it } from 'vitest';
import { runHarnessPage } from '../../harness/lib/browser.js';
import { binary, unary } from '../../src/kernels/elementwise.js';
import { testGpu } from '../helpers/gpu.js';

interface SmokeResult {
  ok: boolean;
  error?: string;
  result?: { adapter: string; relu: number[]; mul: number[] };
}

describe('browser smoke', () => {
  it('elementwise kernels in Chromium match Node', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'seedmask-harness-'));
    await build({ configFile: join(import.meta.dirname, '..', '..', 'vite.config.ts'), logLevel: 'error', build: { outDir, emptyOutDir: true } });
    const run = await runHarnessPage<SmokeResult>(outDir);
    expect(run.result.error).toBeUndefined();
    expect(run.result.ok).toBe(true);

    const gpu = await testGpu();
    const x = gpu.upload(new Float32Array([-1, 0.5, 2]), [3]);
    const y = await unary(gpu, x, 'relu');
    const z = await binary(gpu, 'mul', y, x);
    // The page's result crosses JSON, which turns −0 into 0; compare with signed zeros unified.
    const plain = (a: Float32Array) => Array.from(a, (v) => v + 0);
    expect(run.result.result!.relu).toEqual(plain(await gpu.readF32(y)));
    expect(run.result.result!.mul).toEqual(plain(await gpu.readF32(z)));
  });
});
