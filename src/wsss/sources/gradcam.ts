// 'gradcam': CLIP-ES's softmax Grad-CAM, all K labels in one batched backward pass, with the mean
// attention of the last blocks as CAA's affinity (src/wsss/gradcam.ts).
import { gradCam } from '../gradcam.js';
import type { CamSource } from '../stage.js';

export const gradCamSource: CamSource<'gradcam'> = {
  name: 'gradcam',
  label: 'Grad-CAM (CLIP-ES)',
  description: 'CLIP-ES’s softmax Grad-CAM over the labels and background prompts',
  async run(ctx) {
    const gc = await gradCam(ctx.model, { rgbaTensor: ctx.rgba() }, await ctx.textRows(), ctx.classes, {
      caaLayers: ctx.options.caaLayers,
      profile: ctx.options.profile,
      features: ctx.products.has('features'),
      read: false,
    });
    return {
      grid: gc.grid,
      cams: ctx.own(gc.cams),
      probs: ctx.own(gc.probs),
      affinity: ctx.own(gc.affinity),
      features: gc.features && ctx.own(gc.features),
      timings: Object.fromEntries(Object.entries(gc.timings).filter(([k]) => k !== 'total')),
      flops: gc.flops,
    };
  },
};
