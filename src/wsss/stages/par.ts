// 'par': AFA's pixel-adaptive refinement of the CAA CAMs into labels (bg planes 0.55 / 0.35).
import type { RgbaImage } from '../../io/image.js';
import { afaLabels } from '../par.js';
import type { SeedStage } from '../stage.js';

export const parStage: SeedStage<'par', 'par'> = {
  name: 'par',
  refiner: 'par',
  description: '+ PAR on the CAA CAMs (instead of the CRF)',
  async run(ctx) {
    const image = ctx.own(ctx.gpu.upload(unitPlanes(ctx.image), [3, ctx.height, ctx.width], 'f32', 'seeds image [0,1]'));
    return afaLabels(ctx.gpu, { image, cams: ctx.caaCams(), keys: ctx.labels });
  },
};

/** [3, H, W] float planes in [0, 1] (PAR's denormalised image). */
function unitPlanes(image: RgbaImage): Float32Array {
  const n = image.width * image.height;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[c * n + i] = image.data[4 * i + c]! / 255;
  return out;
}
