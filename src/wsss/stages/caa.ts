// 'caa': CLIP-ES's class-aware attention affinity (docs/algorithms.md §3.5): Sinkhorn on the
// attention affinity, box masks from each CAM, S(S(B ⊙ cam)), min-max, cv2 bilinear to the image,
// float16 (`attn_highres`). Its CAMs are what the refiners after it and the written .npy files use.
import { sinkhornAffinity } from '../../kernels/wsss/caa.js';
import { caaHighres, caaRefine } from '../caa.js';
import { labelMapPacked } from '../labels.js';
import type { SeedStage } from '../stage.js';

export const caaStage: SeedStage<'caa', 'none'> = {
  name: 'caa',
  refiner: 'none',
  description: '+ class-aware attention affinity (CAA)',
  async run(ctx) {
    const { gpu, options } = ctx;
    const threshold = options.boxThreshold ?? (ctx.labelSet.name === 'coco' ? 0.7 : 0.4);
    const transition = ctx.own(await sinkhornAffinity(gpu, ctx.cam.affinity));
    // CAMs outside [0, 1] (or NaN) are flagged on the GPU and reported with the run's outputs.
    const { refined, check } = await caaRefine(gpu, { transition, cams: ctx.cam.cams, grid: ctx.cam.grid, threshold, boxes: options.boxes, deferCheck: true });
    ctx.own(refined);
    ctx.check(check!.flag, check!.explain);
    ctx.cams = ctx.own(await caaHighres(gpu, refined, ctx.cam.grid, [ctx.height, ctx.width]));
    return labelMapPacked(gpu, ctx.cams, { keys: ctx.labels, background: ctx.camExponent });
  },
};
