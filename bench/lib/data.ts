// Benchmark inputs, deterministic and browser-safe (the harness bundles this file): kernel data,
// a normalised image tensor, an RGBA scene. The data does not change the timing of these kernels,
// only the reproducibility of any check made on them.
import type { RgbaImage } from '../../src/io/image.js';

/** n values in [lo, hi) (xorshift32). */
export function benchData(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = lo + ((hi - lo) * s) / 2 ** 32;
  }
  return out;
}

export const numel = (shape: readonly number[]) => shape.reduce((x, y) => x * y, 1);

/** Deterministic normalised input [3, H, W] in about [-2, 2) (an LCG, the same in every bench). */
export function pseudoImage(height: number, width: number): Float32Array {
  const x = new Float32Array(3 * height * width);
  let s = 0x9e3779b9;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = (s / 2 ** 32) * 4 - 2;
  }
  return x;
}

/**
 * A deterministic scene: sky-to-ground gradient, a textured floor, two ellipses and a rectangle of
 * different colours, mild noise. Structure matters here: the CAA boxes and the CRF's bilateral
 * kernel behave differently on white noise.
 */
export function syntheticScene(width: number, height: number): RgbaImage {
  const data = new Uint8ClampedArray(width * height * 4);
  let s = 0x2545f491;
  const noise = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 16;
  };
  const inEllipse = (x: number, y: number, cx: number, cy: number, rx: number, ry: number) => ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = x / width, v = y / height;
      let rgb: [number, number, number] = v < 0.55 ? [120 + 80 * v, 160 + 60 * v, 230] : [110 + 40 * Math.sin(20 * u), 90, 60 + 20 * ((x >> 3) & 1)];
      if (inEllipse(u, v, 0.3, 0.6, 0.16, 0.2)) rgb = [200, 140 + 40 * Math.cos(12 * v), 60];
      if (inEllipse(u, v, 0.68, 0.55, 0.12, 0.28)) rgb = [60, 60, 70 + 60 * u];
      if (u > 0.78 && u < 0.97 && v > 0.62 && v < 0.9) rgb = [150, 40, 40 + 30 * v];
      const i = 4 * (y * width + x);
      for (let c = 0; c < 3; c++) data[i + c] = rgb[c]! + noise();
      data[i + 3] = 255;
    }
  }
  return { width, height, data: new Uint8Array(data.buffer) };
}
