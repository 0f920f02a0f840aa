// 'crf': the dense CRF of CLIP-ES's eval_cam_with_crf.py on [bg = 1 − max, CAA CAMs]; pixels whose
// CRF confidence is below `confidence` (0.95) are ignored (255).
import { packRgba } from '../../kernels/image.js';
import { crfImageWords } from '../../kernels/wsss/crf.js';
import { CLIP_ES_MEAN_BGR, crfSeedLabelWords, denseCrf } from '../crf.js';
import { crfProbabilities } from '../labels.js';
import { SeedError, type SeedStage } from '../stage.js';

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
    // The lattices are built on the GPU; the finite-input check is read with the run's outputs.
    const { q, check } = await denseCrf(gpu, { image, height: ctx.height, width: ctx.width, probs, deferCheck: true });
    ctx.own(q);
    ctx.check(check!.flag, check!.explain);
    return crfSeedLabelWords(gpu, q, ctx.labels, { confidence: options.confidence ?? 0.95 });
  },
};
