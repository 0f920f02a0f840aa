// 'rw': psa's random walk. No AffinityNet is trained here: the walk runs on the CAM source's patch
// features (stride 16: the last block's ln_1 activations), see randomwalk.ts.
import { randomWalk } from '../randomwalk.js';
import { SeedError, type SeedStage } from '../stage.js';

/**
 * Random-walk settings for CLIP patch features. psa's logt 8 (T^256) at stride 16 with these
 * smoother affinities mixes the whole image into one class, and α 16 crushes the background of
 * CAMs that are not near 0 off the object. Swept on 8 world val images (mIoU %, β/logt/α):
 * 8/8/16 8.0, 8/4/16 12.0, 8/3/16 13.7, 32/3/16 14.5, 8/3/4 18.7, 2/3/4 10.9.
 */
export const RW_CLIP_DEFAULTS = { beta: 8, logt: 3, alpha: 4, radius: 5 };

export const randomWalkStage: SeedStage<'rw', 'randomwalk'> = {
  name: 'rw',
  refiner: 'randomwalk',
  description: '+ random walk on CLIP patch affinities (instead of the CRF)',
  needs: ['features'],
  async run(ctx) {
    const features = ctx.cam.features;
    if (!features) throw new SeedError('random walk: the CAM source gave no patch features');
    const [gh, gw] = ctx.cam.grid;
    const { scores, labels } = await randomWalk(ctx.gpu, { ...RW_CLIP_DEFAULTS, ...ctx.options.randomWalk, features: features.view([features.shape[0]!, gh, gw]), cams: ctx.caaCams(), keys: ctx.labels, stride: 16 });
    ctx.own(scores);
    return labels;
  },
};
