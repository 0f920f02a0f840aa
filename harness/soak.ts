// Soak page: the soak loop (lib/soak-loop.ts) in the browser (`?images=N&every=K`) with the world
// CLIP served at /world-clip/; the JS heap comes from performance.memory (Chromium).
import { Gpu, parseLabelSet, SeedPipeline } from '../src/browser.js';
import { worldLabelSetJson } from '../src/world/labelset.js';
import { publish } from './lib/publish.js';
import { soakLoop } from './lib/soak-loop.js';
import { loadWorldClip } from './lib/world-clip.js';

const log = document.getElementById('log')!;

async function main() {
  const params = new URLSearchParams(location.search);
  const count = Number(params.get('images') ?? 1000);
  const every = Number(params.get('every') ?? 50);
  const gpu = await Gpu.open();
  const model = await loadWorldClip(gpu);
  const pipeline = new SeedPipeline(model);
  const labelSet = parseLabelSet(worldLabelSetJson(), 'world');
  const heap = () => (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? NaN;
  const samples = await soakLoop({
    gpu, pipeline, labelSet, count, every,
    memory: () => ({ heapUsedBytes: heap() }),
    onSample: (s) => (log.textContent = `${s.images}/${count} images`),
  });
  await model.destroy();
  return { adapter: gpu.adapterName, userAgent: navigator.userAgent, samples };
}

publish(main(), log, () => 'done');
