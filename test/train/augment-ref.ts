// A float64 second opinion on the GPU training augmentation (src/kernels/train/augment.ts), written
// from the spec rather than from the kernels: per output pixel, undo the flip and the crop, pad,
// then sample the resized image where OpenCV's float32 INTER_LINEAR would (its float32 coordinate
// and weights, which decide the taps), with the products and sums in float64; labels by PIL's or
// cv2's nearest rule. The deeplab-pytorch goldens check both this and the GPU.
import type { ImageNormalization, LabelResize } from '../../src/kernels/train/augment.js';

const U = 2 ** -24;
const f32 = Math.fround;

export interface RefPlacement {
  resized: readonly [number, number];
  crop: readonly [number, number];
  offset: readonly [number, number];
  flip: boolean;
}

/** OpenCV resize INTER_LINEAR, float path, one axis: source index pair and float32 weights. */
function cv2Tap(o: number, inSize: number, outSize: number): [number, number, number, number] {
  const scaleX = 1 / (outSize / inSize); // scale_x = 1./inv_scale_x, inv_scale_x = out/in
  let fx = f32((o + 0.5) * scaleX - 0.5);
  let sx = Math.floor(fx);
  fx = f32(fx - sx);
  if (sx < 0) (sx = 0), (fx = 0);
  if (sx >= inSize - 1) (sx = inSize - 1), (fx = 0);
  return [sx, Math.min(sx + 1, inSize - 1), f32(1 - fx), fx];
}

/** Source index of output index o under PIL's NEAREST (stepped double sum) or cv2's INTER_NEAREST. */
function nearestIndex(mode: LabelResize, o: number, inSize: number, outSize: number): number {
  if (mode === 'cv2') return Math.min(Math.floor(o * (1 / (outSize / inSize))), inSize - 1);
  const a = inSize / outSize;
  let xo = a * 0.5;
  for (let k = 0; k < o; k++) xo += a;
  return Math.min(Math.trunc(xo), inSize - 1);
}

/** The tolerance of src/kernels/train/augment.ts for output channel c at value `want`. */
export function imageBound(norm: ImageNormalization, c: number, want: number): number {
  return (U * (9 * (255 / norm.divisor) + 2 * Math.abs(norm.mean[c]!))) / norm.std[c]! + 5 * U * Math.abs(want);
}

/**
 * One augmented sample from RGBA bytes [h, w, 4] and label bytes [h, w]: image [3, cropH, cropW]
 * (float64), labels [cropH, cropW], and the per-element image tolerance.
 */
export function augmentRef(
  rgba: ArrayLike<number>, labels: ArrayLike<number>, h: number, w: number, place: RefPlacement,
  norm: ImageNormalization, labelResize: LabelResize = 'pil', ignore = 255,
): { image: Float64Array; labels: Uint32Array; bound: Float64Array } {
  const [rh, rw] = place.resized, [ch, cw] = place.crop, [oy, ox] = place.offset;
  const src = norm.order === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  const image = new Float64Array(3 * ch * cw), bound = new Float64Array(3 * ch * cw), out = new Uint32Array(ch * cw);
  const rows = new Map<number, number>(), cols = new Map<number, number>();
  const memo = (m: Map<number, number>, k: number, f: () => number) => m.get(k) ?? (m.set(k, f()), m.get(k)!);
  for (let y = 0; y < ch; y++) {
    for (let x = 0; x < cw; x++) {
      const py = oy + y, px = ox + (place.flip ? cw - 1 - x : x);
      const at = y * cw + x;
      const inside = py < rh && px < rw;
      if (inside) {
        const ly = memo(rows, py, () => nearestIndex(labelResize, py, h, rh)), lx = memo(cols, px, () => nearestIndex(labelResize, px, w, rw));
        out[at] = labels[ly * w + lx]!;
      } else {
        out[at] = ignore;
      }
      const [y0, y1, wy0, wy1] = cv2Tap(py, h, rh);
      const [x0, x1, wx0, wx1] = cv2Tap(px, w, rw);
      for (let c = 0; c < 3; c++) {
        let v = 0;
        if (inside) {
          const p = (yy: number, xx: number) => rgba[4 * (yy * w + xx) + src[c]!]!;
          const s = wy0 * (wx0 * p(y0, x0) + wx1 * p(y0, x1)) + wy1 * (wx0 * p(y1, x0) + wx1 * p(y1, x1));
          v = (s / norm.divisor - norm.mean[c]!) / norm.std[c]!;
        }
        // Padding is the mean: 0 after normalisation.
        image[c * ch * cw + at] = v;
        bound[c * ch * cw + at] = imageBound(norm, c, v);
      }
    }
  }
  return { image, labels: out, bound };
}
