// Golden outputs written by test/fixtures/clip/make_clip_golden.py (PyTorch), read back for the
// CLIP tests and the verify command: the header JSON, the float32 arrays of the .bin, the
// deterministic inputs the script used, and the agreement measures reported.
import { readFile } from 'node:fs/promises';

export interface GoldenArray {
  shape: number[];
  data: Float32Array;
}

export interface GoldenImageCase {
  name: string;
  source: 'hash' | 'rgba';
  seed: number;
  source_size: [number, number];
  input_size: [number, number];
  grid: [number, number];
  round_pos: boolean;
  pos_f16_ulp_diffs?: { entries: number; differing: number; max_ulps: number };
  arrays: Record<string, string>;
}

export interface GoldenHeader {
  generator: string;
  torch: string;
  preset: string;
  weights: string;
  config: Record<string, number>;
  images: GoldenImageCase[];
  text: { prompts: Array<string | null>; ids: number[][]; context: number; arrays: Record<string, string> } | null;
  arrays: Record<string, { shape: number[]; offset: number }>;
}

export class Golden {
  private constructor(readonly header: GoldenHeader, private readonly bin: Uint8Array) {}

  /** Reads `<base>.json` and `<base>.bin`. */
  static async read(base: string): Promise<Golden> {
    const header = JSON.parse(await readFile(`${base}.json`, 'utf8')) as GoldenHeader;
    const bin = new Uint8Array(await readFile(`${base}.bin`));
    return new Golden(header, bin);
  }

  array(name: string): GoldenArray {
    const a = this.header.arrays[name];
    if (!a) throw new Error(`golden: no array '${name}'`);
    const n = a.shape.reduce((x, y) => x * y, 1);
    const data = new Float32Array(n);
    new Uint8Array(data.buffer).set(this.bin.subarray(a.offset, a.offset + 4 * n));
    return { shape: a.shape, data };
  }

  /** Array `key` of an image case, or undefined when the case has none. */
  imageArray(c: GoldenImageCase, key: string): GoldenArray | undefined {
    return c.arrays[key] === undefined ? undefined : this.array(c.arrays[key]!);
  }
}

// ---------------------------------------------------------------------------------------------
// The generator's deterministic inputs

const HASH_MUL = 2654435761;

/** (i · 2654435761 + seed · 97531 + 12345) mod 2^32 for i = 0..count−1. */
function hashWords(count: number, seed: number): Uint32Array {
  const out = new Uint32Array(count);
  const add = (seed * 97531 + 12345) >>> 0;
  for (let i = 0; i < count; i++) out[i] = (Math.imul(i, HASH_MUL | 0) + add) >>> 0;
  return out;
}

/** The normalised image [3, H, W]: k / 2^32 · 4 − 2 (exact in float64), rounded to float32. */
export function hashImage(height: number, width: number, seed: number): Float32Array {
  const k = hashWords(3 * height * width, seed);
  return Float32Array.from(k, (v) => (v / 2 ** 32) * 4 - 2);
}

/** RGBA8 bytes [H, W, 4]: the hash's top byte, alpha 255. */
export function hashRgba(height: number, width: number, seed: number): Uint8Array {
  const k = hashWords(height * width * 4, seed);
  const out = Uint8Array.from(k, (v) => v >>> 24);
  for (let i = 3; i < out.length; i += 4) out[i] = 255;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Agreement

export interface Agreement {
  cosine: number;
  maxAbs: number;
  /** max |a − b| / max |b|. */
  maxRel: number;
  refMaxAbs: number;
}

export function agreement(got: ArrayLike<number>, want: ArrayLike<number>): Agreement {
  if (got.length !== want.length) throw new Error(`agreement: ${got.length} values against ${want.length}`);
  let dot = 0, ga = 0, wa = 0, maxAbs = 0, refMaxAbs = 0;
  for (let i = 0; i < got.length; i++) {
    const g = got[i]!, w = want[i]!;
    dot += g * w;
    ga += g * g;
    wa += w * w;
    maxAbs = Math.max(maxAbs, Math.abs(g - w));
    refMaxAbs = Math.max(refMaxAbs, Math.abs(w));
    if (!Number.isFinite(g)) maxAbs = Infinity;
  }
  const cosine = ga === 0 && wa === 0 ? 1 : dot / Math.sqrt(ga * wa);
  return { cosine, maxAbs, maxRel: refMaxAbs > 0 ? maxAbs / refMaxAbs : maxAbs, refMaxAbs };
}

/** Cosine of each row of two [rows, cols] matrices; the smallest. */
export function minRowCosine(got: ArrayLike<number>, want: ArrayLike<number>, cols: number): number {
  let min = 1;
  for (let r = 0; r < got.length / cols; r++) {
    const a = Array.prototype.slice.call(got, r * cols, (r + 1) * cols) as number[];
    const b = Array.prototype.slice.call(want, r * cols, (r + 1) * cols) as number[];
    min = Math.min(min, agreement(a, b).cosine);
  }
  return min;
}

export function formatAgreement(a: Agreement): string {
  return `cos ${a.cosine.toFixed(9)} (1 − cos ${(1 - a.cosine).toExponential(1)}), max |Δ| ${a.maxAbs.toExponential(2)} (of max |ref| ${a.refMaxAbs.toExponential(2)})`;
}
