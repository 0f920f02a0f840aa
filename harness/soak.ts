// Soak page: bench/soak.bench.ts's loop in the browser (`?images=N&every=K`): the world CLIP
// (served at /world-clip/) on N seed-2 world images, recording every K images the GPU buffer pool,
// the JS heap (performance.memory, Chromium) and the mean time per image of the window.
import { Gpu, parseLabelSet, SeedPipeline } from '../src/browser.js';
import { worldLabelSetJson } from '../src/world/labelset.js';
import { publish } from './lib/publish.js';
import { loadWorldClip } from './lib/world-clip.js';
import { worldPhoto } from '../src/world/photo.js';

const log = document.getElementById('log')!;

async function main() {
  const params = new URLSearchParams(location.search);
  const count = Number(params.get('images') ?? 1000);
  const every = Number(params.get('every') ?? 50);
  const gpu = await Gpu.open();
  const model = await loadWorldClip(gpu);
  const pipeline = new SeedPipeline(model);
  const labelSet = parseLabelSet(worldLabelSetJson(), 'world');
  const memory = () => (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? NaN;
  const samples: { images: number; poolLiveBuffers: number; poolLiveBytes: number; poolFreeBuffers: number; poolFreeBytes: number; heapUsedBytes: number; msPerImage: number }[] = [];
  let windowStart = performance.now();
  for (let i = 0; i < count; i++) {
    const { image, labels } = await worldPhoto(2, i, 'train');
    await pipeline.run(image, labels, { labelSet, refiner: 'crf' });
    if ((i + 1) % every === 0 || i + 1 === count) {
      const now = performance.now();
      const previous = samples.at(-1)?.images ?? 0;
      const pool = gpu.pool.stats();
      samples.push({ images: i + 1, poolLiveBuffers: pool.liveBuffers, poolLiveBytes: pool.liveBytes, poolFreeBuffers: pool.freeBuffers, poolFreeBytes: pool.freeBytes, heapUsedBytes: memory(), msPerImage: (now - windowStart) / (i + 1 - previous) });
      windowStart = now;
      log.textContent = `${i + 1}/${count} images`;
    }
  }
  await model.destroy();
  return { adapter: gpu.adapterName, userAgent: navigator.userAgent, samples };
}

publish(main(), log, () => 'done');
