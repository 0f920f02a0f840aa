// A picture of a label map for people: the photo with each class painted in its VOC palette colour
// at half opacity, void (255) pixels left as the photo but darkened, background untouched.

import type { RgbaImage } from '../io/image.js';
import type { LabelMap } from '../io/labelpng.js';
import { vocColor } from '../io/palette.js';

export interface OverlayOptions {
  /** Opacity of the class colours, 0..1 (default 0.55). */
  alpha?: number;
}

export function overlayLabels(image: RgbaImage, labels: LabelMap, options: OverlayOptions = {}): RgbaImage {
  if (image.width !== labels.width || image.height !== labels.height) {
    throw new RangeError(`overlay: label map ${labels.width}×${labels.height} does not match image ${image.width}×${image.height}`);
  }
  const alpha = options.alpha ?? 0.55;
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`overlay: alpha ${alpha} is not in [0, 1]`);
  const out = new Uint8Array(image.width * image.height * 4);
  const colours = Array.from({ length: 256 }, (_, v) => vocColor(v));
  for (let i = 0; i < image.width * image.height; i++) {
    const v = labels.data[i]!;
    const p = 4 * i;
    for (let c = 0; c < 3; c++) {
      const src = image.data[p + c]!;
      out[p + c] = v === 0 ? src : v === 255 ? Math.round(src * 0.45) : Math.round((1 - alpha) * src + alpha * colours[v]![c]!);
    }
    out[p + 3] = 255;
  }
  return { width: image.width, height: image.height, data: out };
}
