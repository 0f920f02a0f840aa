// The soak loop, shared by `npm run bench:soak` in Node (bench/soak.bench.ts) and its browser page
// (harness/soak.ts): the seed pipeline (CRF refiner) on N images of the seed-2 world (the world CLIP's
// training world: an endless supply of distinct images and sizes, decoded from their JPEGs like
// files), and every K images a sample of the GPU buffer pool, the memory the runtime reports and
// the mean time per image of the window. Runs in both runtimes: no Node imports here.
import type { Gpu } from '../../src/gpu/context.js';
import { worldPhoto } from '../../src/world/photo.js';
import type { LabelSet } from '../../src/wsss/labelset.js';
import type { SeedPipeline } from '../../src/wsss/seeds.js';

export interface SoakSample {
  images: number;
  poolLiveBuffers: number;
  poolLiveBytes: number;
  poolFreeBuffers: number;
  poolFreeBytes: number;
  /** Process RSS (Node only). */
  rssBytes?: number;
  heapUsedBytes: number;
  msPerImage: number;
}

export async function soakLoop(o: {
  gpu: Gpu;
  pipeline: SeedPipeline;
  labelSet: LabelSet;
  count: number;
  every: number;
  /** The runtime's memory figures at a sample. */
  memory: () => { heapUsedBytes: number; rssBytes?: number };
  onSample: (s: SoakSample) => void;
}): Promise<SoakSample[]> {
  const samples: SoakSample[] = [];
  let windowStart = performance.now();
  for (let i = 0; i < o.count; i++) {
    const { image, labels } = await worldPhoto(2, i, 'train');
    await o.pipeline.run(image, labels, { labelSet: o.labelSet, refiner: 'crf' });
    if ((i + 1) % o.every === 0 || i + 1 === o.count) {
      const now = performance.now();
      const previous = samples.at(-1)?.images ?? 0;
      const pool = o.gpu.pool.stats();
      const sample = {
        images: i + 1, poolLiveBuffers: pool.liveBuffers, poolLiveBytes: pool.liveBytes, poolFreeBuffers: pool.freeBuffers, poolFreeBytes: pool.freeBytes,
        ...o.memory(), msPerImage: (now - windowStart) / (i + 1 - previous),
      };
      samples.push(sample);
      windowStart = now;
      o.onSample(sample);
    }
  }
  return samples;
}
