// Decoding and encoding photos: JPEG and PNG to and from RGBA8.
//
// Decoding gives the pixels of `PIL.Image.open(f).convert("RGB")`, which is how CLIP-ES reads every
// image, in Node and in browsers alike (docs/decoding.md):
//   - JPEG: libjpeg-turbo in WebAssembly (jpeg.ts), bit-exact with PIL's libjpeg-turbo.
//   - PNG: png.ts, with PIL's sample rules (16-bit colour keeps the high byte, 16-bit greyscale is
//     clipped to 255, low-depth greyscale is scaled, tRNS only sets alpha).
//   - With reader 'cv2', OpenCV's imread pixels instead, which differ on CMYK/YCCK JPEGs and
//     16-bit greyscale PNGs only (CLIP-ES's CRF step reads files with cv2; decodeSeedImage).
//   - EXIF orientation is ignored. Dataset annotations refer to the stored pixel array (PIL does
//     not rotate); a decoder that rotated would misalign image and mask.
//   - Greyscale images come back as three equal channels (plus opaque alpha), never as one.
// Alpha is passed through; the pipeline uses RGB only, like `.convert("RGB")`, which drops alpha
// without compositing. Reading from disk: files.ts (this module touches no file system). Encoding
// (world generation, overlays): jpeg-js and png.ts, pure JS.

import jpeg from 'jpeg-js';
import { DecoderUnavailable, ImageRefusal, IoError, messageOf } from './errors.js';
import { decodeJpeg, jpegComponents } from './jpeg.js';
import { decodePng, encodePngRgba, pngHeader } from './png.js';

/** An 8-bit RGBA image: `data[4 * (y * width + x) + c]`, c = 0 red … 3 alpha. */
export interface RgbaImage {
  /** Width in pixels (at least 1). */
  width: number;
  /** Height in pixels (at least 1). */
  height: number;
  /** Row-major RGBA8 pixels, 4 bytes per pixel; length = 4 × width × height. */
  data: Uint8Array;
}

/** An image file format seedmask decodes, as told by {@link sniffImageFormat}. */
export type ImageFormat = 'jpeg' | 'png';

/** Refuse larger images outright (a hostile or corrupt header must not allocate gigabytes). */
const MAX_MEGAPIXELS = 100;

/** The format told by the file's first bytes (the extension is not trusted), or a named unsupported one. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | {
  /** 'GIF', 'BMP', 'WebP', 'TIFF', or 'unknown'. */
  unsupported: string;
} {
  const starts = (...sig: number[]) => sig.every((b, i) => bytes[i] === b);
  if (starts(0xff, 0xd8, 0xff)) return 'jpeg';
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'png';
  if (starts(0x47, 0x49, 0x46, 0x38)) return { unsupported: 'GIF' };
  if (starts(0x42, 0x4d)) return { unsupported: 'BMP' };
  if (starts(0x52, 0x49, 0x46, 0x46) && String.fromCharCode(...bytes.subarray(8, 12)) === 'WEBP') return { unsupported: 'WebP' };
  if (starts(0x49, 0x49, 0x2a, 0x00) || starts(0x4d, 0x4d, 0x00, 0x2a)) return { unsupported: 'TIFF' };
  return { unsupported: 'unknown' };
}

/**
 * Which library's pixels to give: 'pil' (`Image.open(f).convert("RGB")`, what CLIP-ES feeds CLIP)
 * or 'cv2' (`cv2.imread(f)` in RGB order, what CLIP-ES's CRF step reads, EXIF rotation aside).
 */
export type ImageReader = 'pil' | 'cv2';

/** Decodes JPEG or PNG bytes to RGBA8 as PIL (default) or OpenCV does. `name` (the file path, usually) prefixes every error. */
export async function decodeImage(bytes: Uint8Array, name = '<buffer>', reader: ImageReader = 'pil'): Promise<RgbaImage> {
  const format = sniffImageFormat(bytes);
  if (typeof format !== 'string') {
    const what = format.unsupported === 'unknown' ? 'not a JPEG or PNG file (unrecognised signature)' : `${format.unsupported} images are not supported (JPEG or PNG expected)`;
    throw new IoError(name, what);
  }
  try {
    return format === 'jpeg' ? await decodeJpeg(bytes, MAX_MEGAPIXELS * 1e6, reader) : await decodePng(bytes, MAX_MEGAPIXELS * 1e6, reader);
  } catch (err) {
    if (err instanceof IoError) throw err;
    if (err instanceof ImageRefusal || err instanceof DecoderUnavailable) throw new IoError(name, err.message, { cause: err });
    // The decoders' own messages ("marker was not found") mean nothing to a user; say what it is.
    throw new IoError(name, `corrupt or truncated ${format === 'jpeg' ? 'JPEG' : 'PNG'} (decoder: ${messageOf(err)})`, { cause: err });
  }
}

/** Whether OpenCV's imread gives other pixels than PIL for this file: CMYK/YCCK JPEGs and 16-bit greyscale PNGs. */
export function readersDiffer(bytes: Uint8Array): boolean {
  const format = sniffImageFormat(bytes);
  if (format === 'jpeg') return jpegComponents(bytes) === 4;
  if (format === 'png') {
    const header = pngHeader(bytes);
    return header !== undefined && header.depth === 16 && header.colorType === 0;
  }
  return false;
}

/**
 * An image as CLIP-ES's steps read it: `image` for CLIP (PIL's pixels) and, only where OpenCV
 * decodes the file differently, `crfImage` for the CRF (cv2.imread's pixels).
 */
export async function decodeSeedImage(bytes: Uint8Array, name = '<buffer>'): Promise<{ image: RgbaImage; crfImage?: RgbaImage }> {
  const image = await decodeImage(bytes, name);
  return readersDiffer(bytes) ? { image, crfImage: await decodeImage(bytes, name, 'cv2') } : { image };
}

/** Encodes RGBA8 as baseline JPEG (alpha dropped). Quality 1..100; deterministic for given input. */
export function encodeJpeg(image: RgbaImage, quality = 90): Uint8Array {
  checkRgba(image);
  if (!(quality >= 1 && quality <= 100)) throw new RangeError(`JPEG quality ${quality} is not in 1..100`);
  // jpeg-js returns Buffer.from(bytes) whenever it sees a CommonJS `module`, which bundlers provide
  // in browsers too; there, lend it the one method it calls for the length of this call.
  const global = globalThis as { Buffer?: unknown };
  const lend = global.Buffer === undefined;
  if (lend) global.Buffer = { from: (bytes: ArrayLike<number>) => Uint8Array.from(bytes) };
  let encoded: { data: Uint8Array };
  try {
    encoded = jpeg.encode({ width: image.width, height: image.height, data: image.data }, quality);
  } finally {
    if (lend) delete global.Buffer;
  }
  return new Uint8Array(encoded.data.buffer, encoded.data.byteOffset, encoded.data.byteLength);
}

/** Encodes RGBA8 as an RGBA PNG (lossless; for overlays and debugging views). */
export function encodePng(image: RgbaImage): Uint8Array {
  checkRgba(image);
  return encodePngRgba(image.width, image.height, image.data);
}

function checkRgba(image: RgbaImage): void {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new RangeError(`invalid image size ${width}×${height}`);
  if (data.length !== width * height * 4) throw new RangeError(`RGBA data has ${data.length} bytes, expected ${width}×${height}×4 = ${width * height * 4}`);
}
