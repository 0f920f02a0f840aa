// 'crf': the dense CRF of CLIP-ES's eval_cam_with_crf.py on [bg = 1 − max, CAA CAMs]; pixels whose
// CRF confidence is below `confidence` (0.95) are ignored (255).
import type { RgbaImage } from '../../io/image.js';
import { crfImage, crfSeeds, denseCrf } from '../crf.js';
import { crfProbabilities } from '../labels.js';
import type { SeedStage } from '../stage.js';

export const crfStage: SeedStage<'crf', 'crf'> = {
  name: 'crf',
  refiner: 'crf',
  description: '+ dense CRF (ignore < 0.95 scored as a miss)',
  async run(ctx) {
    const { gpu, options } = ctx;
    // CLIP-ES's CRF step reads the file again with cv2.imread: options.crfPixels are those pixels where they differ.
    const pixels = rgbBytes(options.crfPixels ?? ctx.image);
    const probs = ctx.own(await crfProbabilities(gpu, ctx.caaCams()));
    const { q } = await denseCrf(gpu, { image: crfImage(pixels, options.crfImage ?? 'clip-es'), height: ctx.height, width: ctx.width, probs });
    ctx.own(q);
    return crfSeeds(gpu, q, ctx.labels, { confidence: options.confidence ?? 0.95 });
  },
};

function rgbBytes(image: RgbaImage): Uint8Array {
  const n = image.width * image.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[3 * i] = image.data[4 * i]!;
    out[3 * i + 1] = image.data[4 * i + 1]!;
    out[3 * i + 2] = image.data[4 * i + 2]!;
  }
  return out;
}
