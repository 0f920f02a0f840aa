// 'crf': the dense CRF of CLIP-ES's eval_cam_with_crf.py on [bg = 1 − max, CAA CAMs]; pixels whose
// CRF confidence is below `confidence` (0.95) are ignored (255).
import { packRgba } from '../../kernels/image.js';
import { crfImageWords } from '../../kernels/wsss/crf.js';
import type { Gpu } from '../../gpu/context.js';
import { CLIP_ES_MEAN_BGR, CrfReplay, crfSeedLabelWords, denseCrf } from '../crf.js';
import { crfProbabilities } from '../labels.js';
import { SeedError, type SeedStage } from '../stage.js';

// One recorded CRF per device, replayed for every image of the same size and label count (a dataset
// of one size pays the CRF's TypeScript once); it keeps about the CRF's peak memory between images.
const replays = new WeakMap<Gpu, CrfReplay>();
const replayOn = (gpu: Gpu): CrfReplay => {
  let r = replays.get(gpu);
  if (!r) replays.set(gpu, (r = new CrfReplay()));
  return r;
};

/** Gives back the memory of the CRF recorded on `gpu` (the next image records again). */
export function releaseCrfReplay(gpu: Gpu): void {
  replays.get(gpu)?.dispose();
  replays.delete(gpu);
}

export const crfStage: SeedStage<'crf', 'crf'> = {
  name: 'crf',
  refiner: 'crf',
  description: '+ dense CRF (ignore < 0.95 scored as a miss)',
  async run(ctx) {
    const { gpu, options } = ctx;
    // CLIP-ES's CRF step reads the file again with cv2.imread: options.crfPixels are those pixels
    // where they differ (then they go up too); otherwise the CRF reads the image already uploaded.
    const rgba = options.crfPixels
      ? ctx.own(gpu.upload(packRgba(options.crfPixels.data), [ctx.height, ctx.width], 'u32', 'crf pixels rgba'))
      : ctx.rgba();
    const mode = options.crfImage ?? 'clip-es';
    if (mode !== 'clip-es' && mode !== 'rgb') throw new SeedError(`crfImage: unknown mode '${String(mode)}' (clip-es, rgb)`);
    const image = ctx.own(await crfImageWords(gpu, rgba, mode === 'clip-es' ? CLIP_ES_MEAN_BGR : undefined));
    const probs = ctx.own(await crfProbabilities(gpu, ctx.caaCams()));
    // The lattices are built on the GPU; the finite-input check is read with the run's outputs, and
    // so is the overflow of a first hash table, which makes the CRF run again with full ones.
    const crf = { image, height: ctx.height, width: ctx.width, probs };
    const seeds = async (q: Parameters<typeof crfSeedLabelWords>[1]) => crfSeedLabelWords(gpu, ctx.own(q), ctx.labels, { confidence: options.confidence ?? 0.95 });
    const { q, check } = await denseCrf(gpu, { ...crf, deferCheck: true, replay: replayOn(gpu) });
    ctx.check(check!.flag, check!.explain, {
      stage: 'crf',
      when: check!.overflowed,
      run: async () => seeds((await denseCrf(gpu, { ...crf, hashTables: 'full' })).q),
    });
    return seeds(q);
  },
};
