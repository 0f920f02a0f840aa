// Image → network input for the two DeepLab layouts (host, float64, rounded once to float32):
//   torchvision  RGB / 255, normalised with ImageNet's mean (0.485, 0.456, 0.406) and std
//                (0.229, 0.224, 0.225) — the DeepLabV3 weights' SemanticSegmentation transform
//   deeplab-pytorch  BGR in 0..255 minus its mean (B 104.008, G 116.669, R 122.675), no scaling
//                (configs/voc12.yaml IMAGE.MEAN, demo.py preprocessing)
// Optional resizing (e.g. longest side 513 as deeplab-pytorch's demo does) is bilinear with
// half-pixel centres and no antialiasing, on the 8-bit values before normalisation — cv2.resize's
// INTER_LINEAR up to its fixed-point rounding.
import type { RgbaImage } from '../../io/image.js';
import type { DeepLabLayout } from '../../weights/layouts/deeplab.js';
import { DeepLabError } from './common.js';

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;
/** deeplab-pytorch's mean in B, G, R order. */
export const DEEPLAB_PYTORCH_MEAN_BGR = [104.008, 116.669, 122.675] as const;

/** The size whose longer side is `longest`, keeping the aspect ratio (rounded to nearest). */
export function fitLongestSide(height: number, width: number, longest: number): [number, number] {
  if (!Number.isInteger(longest) || longest < 1) throw new DeepLabError(`resize target ${longest} must be a positive integer`);
  const s = longest / Math.max(height, width);
  return [Math.max(1, Math.round(height * s)), Math.max(1, Math.round(width * s))];
}

/** Bilinear (half-pixel centres, clamped edges) resampling of the RGB channels, float64 [3, h, w]. */
function resampleRgb(image: RgbaImage, height: number, width: number): Float64Array {
  const { width: W, height: H, data } = image;
  const out = new Float64Array(3 * height * width);
  const axis = (inSize: number, outSize: number) =>
    Array.from({ length: outSize }, (_, o) => {
      const src = Math.max((o + 0.5) * (inSize / outSize) - 0.5, 0);
      const i0 = Math.min(Math.floor(src), inSize - 1);
      return [i0, Math.min(i0 + 1, inSize - 1), Math.min(src - i0, 1)] as const;
    });
  const ys = axis(H, height), xs = axis(W, width);
  for (let y = 0; y < height; y++) {
    const [y0, y1, ly] = ys[y]!;
    for (let x = 0; x < width; x++) {
      const [x0, x1, lx] = xs[x]!;
      for (let c = 0; c < 3; c++) {
        const at = (yy: number, xx: number) => data[4 * (yy * W + xx) + c]!;
        const v = (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) + ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
        out[(c * height + y) * width + x] = v;
      }
    }
  }
  return out;
}

/**
 * The network input [1, 3, height, width] for an RGBA image, normalised for `layout`; `size`
 * resamples first (default: the image's own size).
 */
export function deeplabInput(image: RgbaImage, layout: DeepLabLayout, size?: readonly [number, number]): Float32Array {
  const [height, width] = size ?? [image.height, image.width];
  if (image.data.length !== 4 * image.width * image.height) throw new DeepLabError(`image data holds ${image.data.length} bytes, not ${image.width}×${image.height} RGBA`);
  const rgb =
    height === image.height && width === image.width
      ? Float64Array.from({ length: 3 * height * width }, (_, i) => {
          const c = Math.floor(i / (height * width)), p = i - c * height * width;
          return image.data[4 * p + c]!;
        })
      : resampleRgb(image, height, width);
  const plane = height * width;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    if (layout === 'torchvision') {
      for (let p = 0; p < plane; p++) out[c * plane + p] = (rgb[c * plane + p]! / 255 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!;
    } else {
      // Output channel c is B, G, R: source channel 2 − c.
      const src = 2 - c;
      for (let p = 0; p < plane; p++) out[c * plane + p] = rgb[src * plane + p]! - DEEPLAB_PYTORCH_MEAN_BGR[c]!;
    }
  }
  return out;
}
