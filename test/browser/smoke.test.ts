// The same kernels and the same small model in headless Chromium (shaders bundled by vite) give the
// same numbers as in Node.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runHarnessPage } from '../../harness/lib/browser.js';
import { buildHarness } from '../../harness/lib/build.js';
import { clipImage } from '../../harness/lib/clip-cases.js';
import { binary, unary } from '../../src/kernels/elementwise.js';
import { ClipModel } from '../../src/models/clip/model.js';
import { testGpu } from '../helpers/gpu.js';

interface SmokeResult {
  ok: boolean;
  error?: string;
  result?: { adapter: string; relu: number[]; mul: number[]; clipFeatures: number[] };
}

const TINY = join(import.meta.dirname, '..', 'fixtures', 'weights', 'tiny');

describe('browser smoke', () => {
  it('elementwise kernels and the tiny CLIP image tower in Chromium match Node', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'seedmask-harness-'));
    let run;
    try {
      await buildHarness(outDir, ['smoke']);
      run = await runHarnessPage<SmokeResult>(outDir, '', 60_000, { '/weights/tiny/': TINY });
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
    expect(run.result.error).toBeUndefined();
    expect(run.result.ok).toBe(true);
    const page = run.result.result!;

    const gpu = await testGpu();
    const x = gpu.upload(new Float32Array([-1, 0.5, 2]), [3]);
    const y = await unary(gpu, x, 'relu');
    const z = await binary(gpu, 'mul', y, x);
    // The page's result crosses JSON, which turns −0 into 0; compare with signed zeros unified.
    const plain = (a: Float32Array) => Array.from(a, (v) => v + 0);
    expect(page.relu).toEqual(plain(await gpu.readF32(y)));
    expect(page.mul).toEqual(plain(await gpu.readF32(z)));
    gpu.release(x, y, z);

    // The tiny CLIP's features [10 tokens, 32] on the same image. Same WGSL, but Chromium's Dawn and
    // SwiftShader are other builds than the npm webgpu package's, free to contract a·b + c into an
    // fma or reorder: ulp-level differences, grown by 2 blocks and 3 LayerNorms to at most ~1e-6 of
    // the output scale (bit-identical with Debian's Chromium 156). 1e-5 of max |features| keeps a
    // 10× margin; a wrong op differs by O(1).
    const model = await ClipModel.load(gpu, join(TINY, 'clip_openai.safetensors'), { tokenizer: false });
    try {
      const graph = await model.visionGraph(48, 48);
      const node = (await graph.run({ image: clipImage(48, 48) })).outputs.get('features') as Float32Array;
      expect(page.clipFeatures).toHaveLength(node.length);
      const scale = Math.max(...Array.from(node, Math.abs));
      const worst = Math.max(...Array.from(node, (v, i) => Math.abs(v - page.clipFeatures[i]!)));
      expect(scale).toBeGreaterThan(0.1);
      expect(worst).toBeLessThanOrEqual(1e-5 * scale);
    } finally {
      await model.destroy();
    }
  });
});
