// PNG decoding to RGBA8 with PIL's rules (`Image.open(f).convert("RGB")`, alpha kept beside it),
// the same code in Node and browsers. Every colour type, bit depth and Adam7. Inflating uses the
// runtime's native zlib through DecompressionStream (Node ≥ 18, every current browser).
//   - 16-bit colour, grey + alpha and alpha samples keep their high byte (PIL's ";16B" unpackers);
//   - 16-bit greyscale opens as 32-bit mode "I", which convert("RGB") clips to 0..255;
//   - 1/2/4-bit greyscale is scaled by 255 / (2^depth − 1); palettes are looked up;
//   - tRNS only sets alpha: the colour of a keyed pixel is kept.
// Ancillary chunks (gAMA, iCCP, …) are ignored, as PIL's conversion ignores them.

import { zlibSync } from 'fflate';
import { ImageRefusal } from './errors.js';
import type { RgbaImage } from './image.js';

export const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
// Adam7 passes: x0, y0, dx, dy.
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] as const;

const CRC_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** The CRC-32 of PNG chunks (and zip entries). */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * zlib-inflates `data` into exactly `size` bytes: reading stops there, so a stream that would
 * inflate to more (a decompression bomb) costs no more memory than the image needs. Like PIL, data
 * past the image and a stream cut after the image's last byte (a missing checksum) are accepted.
 */
async function inflate(data: Uint8Array, size: number): Promise<Uint8Array> {
  const reader = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('deflate')).getReader();
  const out = new Uint8Array(size);
  let filled = 0;
  try {
    while (filled < size) {
      const { done, value } = await reader.read();
      if (done) break;
      const take = Math.min(value.length, size - filled);
      out.set(value.subarray(0, take), filled);
      filled += take;
    }
  } catch (err) {
    if (filled < size) throw err;
  } finally {
    void reader.cancel().catch(() => undefined);
  }
  if (filled < size) throw new Error(`image data holds ${filled} bytes, ${size} expected`);
  return out;
}

/** The PNG's bit depth and colour type from its header, or undefined for a header too short to tell. */
export function pngHeader(bytes: Uint8Array): { depth: number; colorType: number } | undefined {
  return bytes.length >= 26 ? { depth: bytes[24]!, colorType: bytes[25]! } : undefined;
}

/** Decodes PNG bytes; throws a plain Error with a short reason (decodeImage adds the file name). With reader 'cv2', the pixels of `cv2.imread(f)`. */
export async function decodePng(bytes: Uint8Array, maxPixels: number, reader: 'pil' | 'cv2' = 'pil'): Promise<RgbaImage> {
  if (PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) throw new Error('missing PNG signature');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width = 0;
  let height = 0;
  let depth = 0;
  let colorType = -1;
  let interlaced = false;
  let palette: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  // Chunks up to IEND; like PIL, a missing IEND is fine once the image data is complete.
  let ended = false;
  for (let p = 8; p < bytes.length && !ended; ) {
    if (p + 12 > bytes.length) throw new Error('the file ends inside a chunk header');
    const length = view.getUint32(p);
    const type = String.fromCharCode(bytes[p + 4]!, bytes[p + 5]!, bytes[p + 6]!, bytes[p + 7]!);
    const body = p + 8;
    if (length > bytes.length - body - 4) throw new Error(`the file ends inside the ${type} chunk`);
    // PIL checks the CRC of every chunk but IDAT (whose data goes straight to zlib).
    if (type !== 'IDAT' && crc32(bytes.subarray(p + 4, body + length)) !== view.getUint32(body + length)) throw new Error(`bad CRC in the ${type} chunk`);
    const data = bytes.subarray(body, body + length);
    if (type === 'IHDR') {
      if (length !== 13) throw new Error('IHDR chunk of the wrong length');
      width = view.getUint32(body);
      height = view.getUint32(body + 4);
      depth = data[8]!;
      colorType = data[9]!;
      if (data[10] !== 0 || data[11] !== 0) throw new Error('unknown compression or filter method');
      if (data[12]! > 1) throw new Error(`unknown interlace method ${data[12]}`);
      interlaced = data[12] === 1;
      if (!DEPTHS[colorType]?.includes(depth)) throw new Error(`invalid colour type ${colorType} with bit depth ${depth}`);
      if (width < 1 || height < 1) throw new Error(`invalid size ${width}×${height}`);
      if (width * height > maxPixels) throw new ImageRefusal(`image of ${width}×${height} is too large (more than ${maxPixels / 1e6} megapixels)`);
    } else if (colorType < 0) {
      throw new Error(`${type} chunk before IHDR`);
    } else if (type === 'PLTE') palette = data;
    else if (type === 'tRNS') trns = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') ended = true;
    p = body + length + 4;
  }
  if (colorType < 0) throw new Error('no IHDR chunk');
  if (idat.length === 0) throw new Error('no image data (IDAT)');
  if (colorType === 3 && !palette) throw new Error('palette image without a PLTE chunk');

  const compressed = concatBytes(idat);
  const channels = CHANNELS[colorType]!;
  const bitsPerPixel = channels * depth;
  const passes = interlaced ? ADAM7 : ([[0, 0, 1, 1]] as const);
  let expected = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const pw = Math.ceil((width - x0) / dx);
    const ph = Math.ceil((height - y0) / dy);
    if (pw > 0 && ph > 0) expected += ph * (1 + Math.ceil((pw * bitsPerPixel) / 8));
  }
  const raw = await inflate(compressed, expected);

  // Samples per pixel, as stored (0..2^depth − 1), then converted once at the end.
  const samples = depth === 16 ? new Uint16Array(width * height * channels) : new Uint8Array(width * height * channels);
  const bpp = Math.max(1, bitsPerPixel >> 3); // filter distance in bytes
  let at = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const pw = Math.ceil((width - x0) / dx);
    const ph = Math.ceil((height - y0) / dy);
    if (pw <= 0 || ph <= 0) continue;
    const stride = Math.ceil((pw * bitsPerPixel) / 8);
    let prev: Uint8Array = new Uint8Array(stride);
    for (let y = 0; y < ph; y++) {
      const filter = raw[at]!;
      const line = raw.subarray(at + 1, at + 1 + stride);
      at += 1 + stride;
      unfilter(filter, line, prev, bpp);
      prev = line;
      const row = y0 + y * dy;
      if (depth === 8 && dx === 1) {
        samples.set(line, row * width * channels);
        continue;
      }
      for (let x = 0; x < pw; x++) {
        const o = (row * width + x0 + x * dx) * channels;
        for (let c = 0; c < channels; c++) {
          const s = x * channels + c;
          if (depth === 16) samples[o + c] = (line[2 * s]! << 8) | line[2 * s + 1]!;
          else if (depth === 8) samples[o + c] = line[s]!;
          else {
            const bit = s * depth;
            samples[o + c] = (line[bit >> 3]! >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
          }
        }
      }
    }
  }
  return { width, height, data: toRgba(samples, width * height, colorType, depth, palette, trns, reader) };
}

function unfilter(filter: number, line: Uint8Array, prev: Uint8Array, bpp: number): void {
  const n = line.length;
  switch (filter) {
    case 0:
      return;
    case 1:
      for (let i = bpp; i < n; i++) line[i] = (line[i]! + line[i - bpp]!) & 0xff;
      return;
    case 2:
      for (let i = 0; i < n; i++) line[i] = (line[i]! + prev[i]!) & 0xff;
      return;
    case 3:
      for (let i = 0; i < n; i++) line[i] = (line[i]! + (((i >= bpp ? line[i - bpp]! : 0) + prev[i]!) >> 1)) & 0xff;
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? line[i - bpp]! : 0;
        const b = prev[i]!;
        const c = i >= bpp ? prev[i - bpp]! : 0;
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        line[i] = (line[i]! + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 0xff;
      }
      return;
    default:
      throw new Error(`unknown row filter ${filter}`);
  }
}

function toRgba(s: Uint8Array | Uint16Array, n: number, colorType: number, depth: number, palette: Uint8Array | undefined, trns: Uint8Array | undefined, reader: 'pil' | 'cv2'): Uint8Array {
  const out = new Uint8Array(4 * n);
  if (depth === 8 && (colorType === 6 || (colorType === 2 && !trns))) {
    if (colorType === 6) out.set(s);
    else {
      for (let i = 0, j = 0; i < 4 * n; i += 4, j += 3) {
        out[i] = s[j]!;
        out[i + 1] = s[j + 1]!;
        out[i + 2] = s[j + 2]!;
        out[i + 3] = 255;
      }
    }
    return out;
  }
  // One sample to 8 bits, PIL's way for this layout.
  const colour =
    // 16-bit grey: PIL clips its mode "I" to 255; OpenCV's imread keeps the high byte as for colour.
    depth === 16 ? (colorType === 0 && reader === 'pil' ? (v: number) => (v > 255 ? 255 : v) : (v: number) => v >> 8) : depth < 8 && colorType === 0 ? (v: number) => (v * 255) / ((1 << depth) - 1) : (v: number) => v;
  const alpha = depth === 16 ? (v: number) => v >> 8 : (v: number) => v;
  const key = trns && (colorType === 0 || colorType === 2) ? Array.from({ length: trns.length >> 1 }, (_, i) => (trns[2 * i]! << 8) | trns[2 * i + 1]!) : undefined;
  for (let i = 0; i < n; i++) {
    const o = 4 * i;
    if (colorType === 3) {
      const index = s[i]!;
      if (3 * index + 2 >= palette!.length) throw new Error(`palette index ${index} past the ${palette!.length / 3}-entry palette`);
      out[o] = palette![3 * index]!;
      out[o + 1] = palette![3 * index + 1]!;
      out[o + 2] = palette![3 * index + 2]!;
      out[o + 3] = trns && index < trns.length ? trns[index]! : 255;
    } else if (colorType === 0 || colorType === 4) {
      const g = s[i * (colorType === 0 ? 1 : 2)]!;
      out.fill(colour(g), o, o + 3);
      out[o + 3] = colorType === 4 ? alpha(s[2 * i + 1]!) : key && g === key[0] ? 0 : 255;
    } else {
      const c = colorType === 2 ? 3 : 4;
      const r = s[c * i]!;
      const g = s[c * i + 1]!;
      const b = s[c * i + 2]!;
      out[o] = colour(r);
      out[o + 1] = colour(g);
      out[o + 2] = colour(b);
      out[o + 3] = colorType === 6 ? alpha(s[4 * i + 3]!) : key && r === key[0] && g === key[1] && b === key[2] ? 0 : 255;
    }
  }
  return out;
}

/** Encodes RGBA8 as an 8-bit RGBA PNG (no row filters, zlib level 6). */
export function encodePngRgba(width: number, height: number, rgba: Uint8Array): Uint8Array {
  const stride = 4 * width;
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) raw.set(rgba.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, width);
  new DataView(ihdr.buffer).setUint32(4, height);
  ihdr.set([8, 6, 0, 0, 0], 8);
  return concatBytes([PNG_SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', zlibSync(raw, { level: 6 })), pngChunk('IEND', new Uint8Array(0))]);
}

/** One PNG chunk: length, type, body, CRC. */
export function pngChunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  view.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
