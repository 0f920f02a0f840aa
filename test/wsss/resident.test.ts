// The seed pipeline keeps its work on the GPU (world CLIP):
//   - a warm run moves the image up once and reads one buffer back at the end (the seeds, the
//     softmax, the error flags and any label maps or CAMs asked for, together), for every refiner;
//     the dense CRF reads one more, 24 bytes: its lattices' vertex counts, which size the buffers
//     and dispatches of its mean-field iterations;
//   - what it reads is what was asked for, and the same values as a run that reads everything;
//   - SeedPipeline.warmup builds every pipeline a run needs: the first real image then builds none,
//     and gives the same seeds as a pipeline that was never warmed up.
import { describe, expect, it } from 'vitest';
import { Gpu } from '../../src/gpu/context.js';
import { ClipModel } from '../../src/models/clip/model.js';
import { seedFiles } from '../../src/wsss/seed-files.js';
import { REFINERS, SeedPipeline } from '../../src/wsss/seeds.js';
import { WORLD_CLIP, worldImage, worldLabelSet, worldPipeline } from '../helpers/world.js';

const labelSet = worldLabelSet;


describe('GPU-resident seed pipeline', () => {
  const world = worldPipeline();

  it('moves the image up once and reads one buffer back, for every refiner', async () => {
    const { image, labels } = worldImage(2);
    for (const refiner of REFINERS) {
      await world.pipeline.run(image, labels, { labelSet, refiner }); // builds graphs and device constants
      const r = await world.pipeline.run(image, labels, { labelSet, refiner });
      expect(r.traffic.uploads, `${refiner}: uploads`).toBe(1);
      expect(r.traffic.uploadBytes, `${refiner}: upload bytes`).toBe(image.width * image.height * 4);
      const crf = refiner === 'crf';
      expect(r.traffic.downloads, `${refiner}: read-backs`).toBe(crf ? 2 : 1);
      // The seeds (four labels a word, padded to a word), the softmax over K + M rows, CAA's
      // out-of-range flag (4 bytes); with the CRF its finite-input flag (4) and the vertex counts (24).
      const rows = labels.length + labelSet.background.length;
      expect(r.traffic.downloadBytes, `${refiner}: read-back bytes`).toBe(4 * Math.ceil((image.width * image.height) / 4) + 4 * rows + 4 + (crf ? 4 + 24 : 0));
      expect(r.cams).toBeUndefined();
      expect(r.gridCams).toBeUndefined();
      expect(Object.keys(r.stages)).toEqual([refinerStageName(refiner)]);
    }
  });

  it('reads what was asked for, in the same read-back, with the values of the single reads', async () => {
    const { image, labels } = worldImage(5);
    const plain = await world.pipeline.run(image, labels, { labelSet });
    const all = await world.pipeline.run(image, labels, { labelSet, stages: ['cam', 'caa'], read: ['cams', 'gridCams'] });
    // (the plain run before it compiled this size's graphs): the CRF's counts, then everything else.
    expect(all.traffic.downloads).toBe(2);
    const { width: W, height: H } = image;
    const K = labels.length;
    expect(all.cams!.length).toBe(K * W * H);
    expect(all.gridCams!.length).toBe(K * all.grid[0] * all.grid[1]);
    expect(Object.keys(all.stages).sort()).toEqual(['caa', 'cam', 'crf']);
    expect(Array.from(all.seeds)).toEqual(Array.from(plain.seeds));
    expect(Array.from(all.probs)).toEqual(Array.from(plain.probs));
    // The CAA map read here is the 'none' refiner's seeds.
    const none = await world.pipeline.run(image, labels, { labelSet, refiner: 'none', read: ['cams'] });
    expect(Array.from(none.seeds)).toEqual(Array.from(all.stages.caa!));
    expect(Array.from(none.cams!)).toEqual(Array.from(all.cams!));
    await expect(world.pipeline.run(image, labels, { labelSet, read: ['bogus' as 'cams'] })).rejects.toThrow("unknown read-back 'bogus' (cams, gridCams)");
    // The output files carry the CAMs exactly when they were read back.
    expect(seedFiles('x', image, plain, labelSet).some((f) => f.path.endsWith('.npy'))).toBe(false);
    expect(seedFiles('x', image, all, labelSet).filter((f) => f.path.endsWith('.npy')).length).toBe(K);
    expect(() => seedFiles('x', image, plain, labelSet, { cams: true })).toThrow("the CAMs were not read back (run the pipeline with read: ['cams']");
  });

  it('warmup builds every pipeline the first image needs, and changes no result', async () => {
    const { image, labels } = worldImage(7);
    const want = await world.pipeline.run(image, labels, { labelSet, stages: ['par'] });
    // A fresh device: its pipeline cache is empty.
    const fresh = await Gpu.open();
    const freshModel = await ClipModel.load(fresh, WORLD_CLIP);
    try {
      const warmed = new SeedPipeline(freshModel);
      const before = fresh.pipelineCount;
      const ms = await warmed.warmup(image, [labels.length], { labelSet, stages: ['par'] });
      expect(ms).toBeGreaterThan(0);
      const built = fresh.pipelineCount;
      expect(built).toBeGreaterThan(before + 20);
      const got = await warmed.run(image, labels, { labelSet, stages: ['par'] });
      expect(fresh.pipelineCount, 'pipelines built by the first image after warmup').toBe(built);
      expect(Array.from(got.seeds)).toEqual(Array.from(want.seeds));
      expect(Array.from(got.stages.par!)).toEqual(Array.from(want.stages.par!));
      expect(Array.from(got.probs)).toEqual(Array.from(want.probs));
      // The warm-up's dry run leaves nothing cached that a real run would compute differently: the
      // label set's embeddings were made for real.
      await expect(warmed.warmup(image, [0])).rejects.toThrow('warmup: 0 labels');
    } finally {
      await freshModel.destroy();
      await fresh.destroy();
    }
  });
});

function refinerStageName(refiner: string): string {
  return refiner === 'none' ? 'caa' : refiner === 'randomwalk' ? 'rw' : refiner;
}
