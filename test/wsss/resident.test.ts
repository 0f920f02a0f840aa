// The seed pipeline keeps its work on the GPU (world CLIP):
//   - a warm run moves the image up once and reads one buffer back at the end (the seeds, the
//     softmax, the error flags and any label maps or CAMs asked for, together), for every refiner
//     (the dense CRF keeps its lattices' vertex counts on the GPU); where the CRF's first hash
//     tables prove too small (a tiny image), it runs again with full ones, reading its error flag
//     and its seeds again;
//   - what it reads is what was asked for, and the same values as a run that reads everything;
//   - SeedPipeline.warmup builds every pipeline a run needs: the first real image then builds none,
//     and gives the same seeds as a pipeline that was never warmed up.
import { describe, expect, it } from 'vitest';
import { Gpu } from '../../src/gpu/context.js';
import { ClipModel } from '../../src/models/clip/model.js';
import { seedFiles } from '../../src/wsss/seed-files.js';
import { REFINERS, SeedPipeline } from '../../src/wsss/seeds.js';
import { crfImage, crfSeeds, denseCrf } from '../../src/wsss/crf.js';
import { crfProbabilities } from '../../src/wsss/labels.js';
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
      expect(r.traffic.downloads, `${refiner}: read-backs`).toBe(1);
      // The seeds (four labels a word, padded to a word), the softmax over K + M rows, CAA's
      // out-of-range flag (4 bytes); with the CRF its error flag (4: non-finite input, lattice overflow).
      const rows = labels.length + labelSet.background.length;
      expect(r.traffic.downloadBytes, `${refiner}: read-back bytes`).toBe(4 * Math.ceil((image.width * image.height) / 4) + 4 * rows + 4 + (crf ? 4 : 0));
      expect(r.cams).toBeUndefined();
      expect(r.gridCams).toBeUndefined();
      expect(Object.keys(r.stages)).toEqual([refinerStageName(refiner)]);
    }
  });

  it('reads what was asked for, in the same read-back, with the values of the single reads', async () => {
    const { image, labels } = worldImage(5);
    const plain = await world.pipeline.run(image, labels, { labelSet });
    const all = await world.pipeline.run(image, labels, { labelSet, stages: ['cam', 'caa'], read: ['cams', 'gridCams'] });
    // (the plain run before it compiled this size's graphs): everything in one read-back.
    expect(all.traffic.downloads).toBe(1);
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

  it("a tiny image, whose CRF overflows its first hash tables: the CRF runs again with full ones (two more read-backs: its error flag, its seeds) and gives the seeds of the CRF on the run's CAMs", async () => {
    const { image: big, labels } = worldImage(3);
    const w = 7, h = 6;
    const data = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++) data.set(big.data.subarray(y * big.width * 4, (y * big.width + w) * 4), y * w * 4);
    const image = { width: w, height: h, data };
    await world.pipeline.run(image, labels, { labelSet }); // builds this size's graphs
    const r = await world.pipeline.run(image, labels, { labelSet, read: ['cams'] });
    expect(r.traffic.downloads).toBe(3);
    // The 'crf' stage's steps on the CAA CAMs the run read, with the host-built lattice.
    const gpu = world.pipeline.gpu;
    const cams = gpu.upload(r.cams!, [labels.length, h, w]);
    const probs = await crfProbabilities(gpu, cams);
    const rgb = new Uint8Array(w * h * 3);
    for (let p = 0; p < w * h; p++) rgb.set(data.subarray(4 * p, 4 * p + 3), 3 * p);
    const { q } = await denseCrf(gpu, { image: crfImage(rgb, 'clip-es'), height: h, width: w, probs, lattice: 'host' });
    const want = await crfSeeds(gpu, q, r.labels);
    gpu.release(cams, probs, q);
    expect(Array.from(r.seeds)).toEqual(Array.from(want));
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
