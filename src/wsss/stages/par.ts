// 'par': AFA's pixel-adaptive refinement of the CAA CAMs into labels (bg planes 0.55 / 0.35).
import { imageToTensor } from '../../kernels/image.js';
import { afaLabelWords } from '../par.js';
import type { SeedStage } from '../stage.js';

export const parStage: SeedStage<'par', 'par'> = {
  name: 'par',
  refiner: 'par',
  description: '+ PAR on the CAA CAMs (instead of the CRF)',
  async run(ctx) {
    // PAR's denormalised image: [3, H, W] planes in [0, 1], made on the GPU from the uploaded pixels.
    const image = ctx.own(await imageToTensor(ctx.gpu, ctx.rgba(), { mean: [0, 0, 0], std: [1, 1, 1] }));
    return afaLabelWords(ctx.gpu, { image, cams: ctx.caaCams(), keys: ctx.labels });
  },
};
