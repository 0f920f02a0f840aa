// 'cam': the CAM source's grid CAMs resized to the image (cv2 bilinear, float16: CLIP-ES's
// `highres`, no further min-max) and labelled with eval_cam.py's rule, bg = (1 − max)^τ.
import { resizeLinear } from '../../kernels/bilinear.js';
import { labelMapPacked } from '../labels.js';
import type { SeedStage } from '../stage.js';

export const camStage: SeedStage<'cam', never> = {
  name: 'cam',
  description: 'CAMs of the CAM source, upsampled, bg = (1 − max)^τ',
  async run(ctx) {
    const [gh, gw] = ctx.cam.grid;
    const highres = ctx.own(await resizeLinear(ctx.gpu, ctx.cam.cams.view([ctx.classes, gh, gw]), [ctx.height, ctx.width], { mode: 'cv2', roundF16: true }));
    return labelMapPacked(ctx.gpu, highres, { keys: ctx.labels, background: ctx.camExponent });
  },
};
