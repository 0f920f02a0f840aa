// Training smoke on the synthetic world: the segmenter (widths 8-16-32) from scratch on the ground
// truth of 2 world train images at 48×64 (one batch), 40 AdamW steps with the poly schedule, loss
// read back every 10 steps. It must fit them: the loss falls below a quarter of its start, and the
// trained network (BN on its running statistics) labels the pixels of those images better than
// "everything is background" does, so it learned objects, not just the class prior. Then the
// weights go through a safetensors file and back and predict the same.
import { describe, expect, it } from 'vitest';
import { stackSamples, worldSample } from './world-samples.js';
import { initSegmenter, loadSegmenter, saveSegmenter, SegmenterModel } from '../../src/train/segmenter.js';
import { SegmenterTrainer } from '../../src/train/trainer.js';
import { testGpu } from '../helpers/gpu.js';

describe('segmenter training on world images', () => {
  it('40 AdamW steps fit 2 images; a saved checkpoint predicts the same', async () => {
    const gpu = await testGpu();
    const config = { classes: 11, widths: [8, 16, 32] };
    const batch = stackSamples([0, 5].map((i) => worldSample(1, i, 'train', 48, 64)));
    const model = SegmenterModel.create(gpu, config, initSegmenter(config, 1));
    const trainer = new SegmenterTrainer(model, { optimizer: { kind: 'adamw', lr: 0.01 }, maxIter: 40 });
    const t0 = performance.now();
    const losses = await trainer.train(() => batch, 40, { readEvery: 10 });
    const ms = (performance.now() - t0) / 40;

    const pred = await trainer.predict(batch.images, batch.shape);
    let counted = 0, right = 0, background = 0;
    batch.labels.forEach((l, i) => {
      if (l === 255) return;
      counted++;
      if (pred[i] === l) right++;
      if (l === 0) background++;
    });
    console.log(
      `\nworld smoke (${gpu.adapterName}): loss ${losses.filter((_, k) => k % 5 === 0 || k === 39).map((l) => l.toFixed(3)).join(' → ')}; ` +
        `${ms.toFixed(0)} ms per step (2×3×48×64, widths 8-16-32); pixel accuracy ${(right / counted).toFixed(3)} (all background ${(background / counted).toFixed(3)})`,
    );
    expect(losses).toHaveLength(40);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[39]!).toBeLessThan(0.25 * losses[0]!);
    expect(right).toBeGreaterThan(background);

    const file = await saveSegmenter(config, await model.download(), { steps: '40' });
    const loaded = await loadSegmenter(file);
    expect(loaded.config).toEqual({ ...config, inChannels: 3 });
    expect(loaded.metadata.steps).toBe('40');
    const copy = SegmenterModel.create(gpu, loaded.config, loaded.weights);
    const copyTrainer = new SegmenterTrainer(copy, { optimizer: { kind: 'sgd', lr: 0 } });
    expect(Array.from(await copyTrainer.predict(batch.images, batch.shape))).toEqual(Array.from(pred));
    for (const t of [trainer, copyTrainer]) t.release();
    model.release();
    copy.release();
  });
});
