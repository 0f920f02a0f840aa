// Label maps as PNG files: one byte per pixel, the value being the class id (0 background,
// 255 void/ignore). Written in palette mode with the VOC colour map, as VOC's SegmentationClass
// files are, so any image viewer shows them in VOC colours while every tool reading the raw
// indices (PIL mode 'P', this reader) gets class ids.
//
// A generic image decoder expands palette PNGs to RGBA and loses the indices, so label PNGs have
// their own small codec here. The reader accepts what label maps are found as in the wild:
//   palette (colour type 3, 1/2/4/8 bits)  → the indices (VOC SegmentationClass)
//   greyscale (colour type 0, 1..16 bits)  → the values (VOC SegmentationClassAug, cv2.imwrite)
//   RGB / RGBA (8 bits)                    → colours mapped back through the VOC colour map
// Interlaced files and grey+alpha are refused with a clear error; every chunk's CRC is checked.

import { unzlibSync, zlibSync } from 'fflate';
import { IoError, messageOf } from './errors.js';
import { VOC_PALETTE, vocIndexOfColor } from './palette.js';
import { concatBytes, crc32, PNG_SIGNATURE, pngChunk } from './png.js';

export { crc32 } from './png.js';

/** A label map: `data[y * width + x]` is the class id of pixel (x, y). */
export interface LabelMap {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Row-major class ids, one byte per pixel (0 = background, 255 = void); length = width × height. */
  data: Uint8Array;
}

/** Refuse images whose pixel buffer would exceed this (a corrupt header must not allocate gigabytes). */
const MAX_PIXELS = 1 << 28;

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * Encodes a label map as an 8-bit palette PNG. `palette` holds RGB triples (default: the 256 VOC
 * colours). Deterministic: the same map always gives the same bytes.
 */
export function encodeLabelPng(map: LabelMap, palette: Uint8Array = VOC_PALETTE): Uint8Array {
  const { width, height, data } = map;
  checkDimensions('<label map>', width, height);
  if (data.length !== width * height) throw new RangeError(`label map data has ${data.length} bytes, expected ${width}×${height} = ${width * height}`);
  if (palette.length === 0 || palette.length % 3 !== 0 || palette.length > 768) throw new RangeError(`palette must hold 1..256 RGB triples, got ${palette.length} bytes`);

  // Filter type 0 (None) on every row: label maps are long runs of equal bytes, which deflate
  // compresses best unfiltered.
  const raw = new Uint8Array(height * (width + 1));
  for (let y = 0; y < height; y++) raw.set(data.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);

  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header[8] = 8; // bit depth
  header[9] = 3; // colour type: palette
  // compression 0, filter method 0, interlace 0
  return concatBytes([PNG_SIGNATURE, pngChunk('IHDR', header), pngChunk('PLTE', palette), pngChunk('IDAT', zlibSync(raw, { level: 6 })), pngChunk('IEND', new Uint8Array(0))]);
}

// ---------------------------------------------------------------------------------------------
// Reading

interface Header {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  interlace: number;
}

/** Decodes a label PNG to class ids (see the file comment for the accepted kinds). `name` is used in errors. */
export function decodeLabelPng(bytes: Uint8Array, name = '<buffer>'): LabelMap {
  const fail = (problem: string): never => {
    throw new IoError(name, problem);
  };
  if (bytes.length < 8 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) fail('not a PNG file (bad signature)');

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let header: Header | undefined;
  const idat: Uint8Array[] = [];
  let sawEnd = false;
  for (let offset = 8; offset < bytes.length && !sawEnd; ) {
    if (offset + 12 > bytes.length) fail(`truncated PNG: chunk header at byte ${offset} is cut off`);
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    const end = offset + 12 + length;
    if (end > bytes.length) fail(`truncated PNG: ${type} chunk at byte ${offset} needs ${length} bytes, file ends before`);
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    if (crc32(bytes.subarray(offset + 4, offset + 8 + length)) !== view.getUint32(offset + 8 + length)) fail(`corrupt PNG: CRC mismatch in ${type} chunk at byte ${offset}`);
    if (type === 'IHDR') {
      if (length !== 13) fail(`corrupt PNG: IHDR has ${length} bytes, expected 13`);
      const h = new DataView(data.buffer, data.byteOffset, 13);
      header = { width: h.getUint32(0), height: h.getUint32(4), bitDepth: data[8]!, colorType: data[9]!, interlace: data[12]! };
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') sawEnd = true;
    offset = end;
  }
  if (!header) return fail('corrupt PNG: no IHDR chunk');
  if (!sawEnd) fail('truncated PNG: no IEND chunk');
  if (idat.length === 0) fail('corrupt PNG: no IDAT chunk');

  const { width, height, bitDepth, colorType, interlace } = header;
  checkDimensions(name, width, height);
  if (interlace !== 0) fail('interlaced (Adam7) PNGs are not supported as label maps; re-save without interlacing');
  const channels = { 0: 1, 2: 3, 3: 1, 6: 4 }[colorType as 0 | 2 | 3 | 6];
  if (channels === undefined) fail(`colour type ${colorType} (${COLOR_TYPE_NAMES[colorType] ?? 'invalid'}) is not a label map kind (palette, greyscale, RGB or RGBA expected)`);
  const depthOk = colorType === 3 ? [1, 2, 4, 8].includes(bitDepth) : colorType === 0 ? [1, 2, 4, 8, 16].includes(bitDepth) : bitDepth === 8;
  if (!depthOk) fail(`bit depth ${bitDepth} is not supported for colour type ${colorType} (${COLOR_TYPE_NAMES[colorType]})`);

  const bitsPerPixel = bitDepth * channels!;
  const rowBytes = Math.ceil((width * bitsPerPixel) / 8);
  const expected = height * (rowBytes + 1);
  let raw: Uint8Array;
  try {
    raw = unzlibSync(idat.length === 1 ? idat[0]! : concatBytes(idat));
  } catch (err) {
    return fail(`corrupt PNG: image data does not inflate (${messageOf(err)})`);
  }
  if (raw.length < expected) fail(`truncated PNG: image data holds ${raw.length} bytes, ${width}×${height} needs ${expected}`);
  const pixels = unfilter(raw, height, rowBytes, Math.max(1, bitsPerPixel >> 3), fail);

  const out = new Uint8Array(width * height);
  if (colorType === 3 || colorType === 0) {
    for (let y = 0; y < height; y++) {
      const row = y * rowBytes;
      for (let x = 0; x < width; x++) {
        let value: number;
        if (bitDepth === 8) value = pixels[row + x]!;
        else if (bitDepth === 16) {
          value = (pixels[row + 2 * x]! << 8) | pixels[row + 2 * x + 1]!;
          if (value > 255) fail(`16-bit greyscale value ${value} at pixel (${x}, ${y}) is not a class id (0..255)`);
        } else {
          const bit = x * bitDepth;
          value = (pixels[row + (bit >> 3)]! >> (8 - bitDepth - (bit & 7))) & ((1 << bitDepth) - 1);
        }
        out[y * width + x] = value;
      }
    }
  } else {
    // Colour-coded masks: every colour must be one of the VOC map's.
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const p = y * rowBytes + x * channels!;
        const index = vocIndexOfColor(pixels[p]!, pixels[p + 1]!, pixels[p + 2]!);
        if (index < 0) fail(`colour (${pixels[p]}, ${pixels[p + 1]}, ${pixels[p + 2]}) at pixel (${x}, ${y}) is not in the VOC colour map, so it names no class`);
        out[y * width + x] = index;
      }
    }
  }
  return { width, height, data: out };
}

const COLOR_TYPE_NAMES: Record<number, string> = { 0: 'greyscale', 2: 'RGB', 3: 'palette', 4: 'greyscale+alpha', 6: 'RGBA' };

function checkDimensions(name: string, width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new IoError(name, `invalid image size ${width}×${height}`);
  if (width * height > MAX_PIXELS) throw new IoError(name, `image size ${width}×${height} exceeds the ${MAX_PIXELS}-pixel limit`);
}

/** Reverses PNG's per-row filters; returns the rows without their leading filter-type bytes. */
function unfilter(raw: Uint8Array, height: number, rowBytes: number, bpp: number, fail: (problem: string) => never): Uint8Array {
  const out = new Uint8Array(height * rowBytes);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (rowBytes + 1)]!;
    const src = y * (rowBytes + 1) + 1;
    const dst = y * rowBytes;
    const prev = dst - rowBytes; // row above in `out`; absent for y = 0
    for (let i = 0; i < rowBytes; i++) {
      const x = raw[src + i]!;
      const a = i >= bpp ? out[dst + i - bpp]! : 0;
      const b = y > 0 ? out[prev + i]! : 0;
      let value: number;
      switch (filter) {
        case 0:
          value = x;
          break;
        case 1:
          value = x + a;
          break;
        case 2:
          value = x + b;
          break;
        case 3:
          value = x + ((a + b) >> 1);
          break;
        case 4: {
          const c = y > 0 && i >= bpp ? out[prev + i - bpp]! : 0;
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          value = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
          break;
        }
        default:
          return fail(`corrupt PNG: unknown filter type ${filter} on row ${y}`);
      }
      out[dst + i] = value & 0xff;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// CRC-32 (ISO 3309, as PNG uses it)

