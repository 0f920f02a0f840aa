// 'rw': psa's random walk. No AffinityNet is trained here: the walk runs on the CAM source's patch
// features (stride 16: the last block's ln_1 activations), see randomwalk.ts.
import { randomWalkOnGpu } from '../randomwalk.js';
import { SeedError, type SeedStage } from '../stage.js';

/**
 * Random-walk settings for CLIP patch features, tuned on the world's train images (never on the val
 * images CI and README score): `scripts/tune-randomwalk.ts` over β ∈ {8, 16, 32}, logt ∈ {1, 2, 3},
 * α ∈ {2, 4, 8} on 12 train images (bench/results/rw-sweep-train-2026-12-07.json): best β 32,
 * logt 1, α 2 (26.1 % mIoU; the former 8/3/4 scored 21.4 %). The best sits at the grid's edge: on
 * these features a short walk and a soft background do best. psa's own values (β 8, logt 8, α 16)
 * are tuned for AffinityNet features at stride 8.
 */
export const RW_CLIP_DEFAULTS = { beta: 32, logt: 1, alpha: 2, radius: 5 };

export const randomWalkStage: SeedStage<'rw', 'randomwalk'> = {
  name: 'rw',
  refiner: 'randomwalk',
  description: '+ random walk on CLIP patch affinities (instead of the CRF)',
  needs: ['features'],
  async run(ctx) {
    const features = ctx.cam.features;
    if (!features) throw new SeedError('random walk: the CAM source gave no patch features');
    const [gh, gw] = ctx.cam.grid;
    const { scores, labelWords } = await randomWalkOnGpu(ctx.gpu, { ...RW_CLIP_DEFAULTS, ...ctx.options.randomWalk, features: features.view([features.shape[0]!, gh, gw]), cams: ctx.caaCams(), keys: ctx.labels, stride: 16 });
    ctx.own(scores);
    return labelWords;
  },
};
