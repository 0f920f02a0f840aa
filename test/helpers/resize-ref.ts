// Plain float64 / integer references for the resize kernels, written from the definitions (PyTorch's
// interpolation formulas and docs/algorithms.md §1.3 for Pillow) independently of the host tables
// in src/kernels/resize.ts and src/kernels/bilinear.ts: 2-D evaluation per output pixel for torch,
// the spec's literal loops for Pillow. Images are planar [C, H, W] in flat arrays.

/** torch bilinear, align_corners=False: source (o+0.5)·in/out − 0.5 clamped at 0, no antialias. */
export function torchBilinearRef(x: ArrayLike<number>, c: number, h: number, w: number, oh: number, ow: number): Float64Array {
  const out = new Float64Array(c * oh * ow);
  const axis = (o: number, inSize: number, outSize: number) => {
    const s = Math.max((o + 0.5) * (inSize / outSize) - 0.5, 0);
    const i0 = Math.min(Math.floor(s), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const l1 = s - i0;
    return { i0, i1, l0: 1 - l1, l1 };
  };
  for (let ch = 0; ch < c; ch++) {
    for (let oy = 0; oy < oh; oy++) {
      const ay = axis(oy, h, oh);
      for (let ox = 0; ox < ow; ox++) {
        const ax = axis(ox, w, ow);
        const at = (yy: number, xx: number) => x[(ch * h + yy) * w + xx]!;
        out[(ch * oh + oy) * ow + ox] =
          ay.l0 * (ax.l0 * at(ay.i0, ax.i0) + ax.l1 * at(ay.i0, ax.i1)) + ay.l1 * (ax.l0 * at(ay.i1, ax.i0) + ax.l1 * at(ay.i1, ax.i1));
      }
    }
  }
  return out;
}

/** Keys cubic convolution kernel with parameter a, as a function of the distance |t|. */
export function keysCubic(t: number, a: number): number {
  const x = Math.abs(t);
  if (x < 1) return (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1;
  if (x < 2) return a * (x ** 3 - 5 * x ** 2 + 8 * x - 4);
  return 0;
}

/** torch bicubic, align_corners=False, a = −0.75: 4×4 taps, each index clamped to the border. */
export function torchBicubicRef(x: ArrayLike<number>, c: number, h: number, w: number, oh: number, ow: number): Float64Array {
  const out = new Float64Array(c * oh * ow);
  const taps = (o: number, inSize: number, outSize: number) => {
    const s = (o + 0.5) * (inSize / outSize) - 0.5;
    const f = Math.floor(s);
    return [-1, 0, 1, 2].map((k) => ({ i: Math.min(Math.max(f + k, 0), inSize - 1), w: keysCubic(s - (f + k), -0.75) }));
  };
  for (let ch = 0; ch < c; ch++) {
    for (let oy = 0; oy < oh; oy++) {
      const ty = taps(oy, h, oh);
      for (let ox = 0; ox < ow; ox++) {
        const tx = taps(ox, w, ow);
        let acc = 0;
        for (const a of ty) for (const b of tx) acc += a.w * b.w * x[(ch * h + a.i) * w + b.i]!;
        out[(ch * oh + oy) * ow + ox] = acc;
      }
    }
  }
  return out;
}

/** §1.3: Pillow's bicubic taps for one axis (float64 weights normalised to sum 1). */
export function pilAxisRef(inSize: number, outSize: number): Array<{ xmin: number; weights: number[] }> {
  const scale = inSize / outSize;
  const support = 2 * Math.max(1, scale);
  const result: Array<{ xmin: number; weights: number[] }> = [];
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
    const weights: number[] = [];
    for (let j = xmin; j < xmax; j++) weights.push(keysCubic((j - center + 0.5) / Math.max(scale, 1), -0.5));
    const sum = weights.reduce((a, b) => a + b, 0);
    result.push({ xmin, weights: weights.map((v) => v / sum) });
  }
  return result;
}

type Pass = (value: (k: number) => number, taps: { xmin: number; weights: number[] }) => number;

/** Resample [C, H, W] along one axis with a per-output combiner. */
function resampleAxis(x: ArrayLike<number>, c: number, h: number, w: number, axis: 'h' | 'w', outSize: number, combine: Pass): Float64Array {
  const oh = axis === 'h' ? outSize : h, ow = axis === 'w' ? outSize : w;
  const taps = pilAxisRef(axis === 'h' ? h : w, outSize);
  const out = new Float64Array(c * oh * ow);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < oh; y++) {
      for (let xx = 0; xx < ow; xx++) {
        const t = taps[axis === 'h' ? y : xx]!;
        const value = axis === 'h' ? (k: number) => x[(ch * h + k) * w + xx]! : (k: number) => x[(ch * h + y) * w + k]!;
        out[(ch * oh + y) * ow + xx] = combine(value, t);
      }
    }
  }
  return out;
}

/** §1.3 fixed point: weights round(w·2^22) half away from zero, acc from 2^21, >> 22, clip 0..255. */
const pilU8: Pass = (value, t) => {
  let acc = 2 ** 21;
  t.weights.forEach((w, k) => {
    const wi = w < 0 ? -Math.round(-w * 2 ** 22) : Math.round(w * 2 ** 22);
    acc += wi * value(t.xmin + k);
  });
  return Math.min(255, Math.max(0, Math.floor(acc / 2 ** 22)));
};

const pilFloat: Pass = (value, t) => t.weights.reduce((acc, w, k) => acc + w * value(t.xmin + k), 0);

/** Pillow BICUBIC resize of byte planes [C, H, W]: horizontal pass, then vertical; unchanged axes skipped. */
export function pilResizeU8Ref(x: ArrayLike<number>, c: number, h: number, w: number, oh: number, ow: number): Float64Array {
  let cur: ArrayLike<number> = x;
  if (ow !== w) cur = resampleAxis(cur, c, h, w, 'w', ow, pilU8);
  if (oh !== h) cur = resampleAxis(cur, c, h, ow, 'h', oh, pilU8);
  return Float64Array.from(cur);
}

/** The same filter in float64 without any rounding. */
export function pilResizeFloatRef(x: ArrayLike<number>, c: number, h: number, w: number, oh: number, ow: number): Float64Array {
  let cur: ArrayLike<number> = x;
  if (ow !== w) cur = resampleAxis(cur, c, h, w, 'w', ow, pilFloat);
  if (oh !== h) cur = resampleAxis(cur, c, h, ow, 'h', oh, pilFloat);
  return Float64Array.from(cur);
}

/** The fixture's formula image (same integer steps as make_resize_fixtures.py hash_pixel). */
export function hashPixel(y: number, x: number, c: number): number {
  let h = (Math.imul(x + 1, 0x9e3779b1) ^ Math.imul(y + 1, 0x85ebca77) ^ Math.imul(c + 1, 0xc2b2ae3d)) >>> 0;
  h = (h ^ (h >>> 15)) >>> 0;
  h = Math.imul(h, 0x2c1b3c6d) >>> 0;
  h = (h ^ (h >>> 12)) >>> 0;
  return h & 0xff;
}

export function hashedImage(c: number, h: number, w: number): Uint32Array {
  const out = new Uint32Array(c * h * w);
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(ch * h + y) * w + x] = hashPixel(y, x, ch);
  return out;
}
