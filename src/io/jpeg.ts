// JPEG decoding with libjpeg-turbo compiled to WebAssembly (the `@cwasm/jpeg-turbo` package's
// module, driven through TurboJPEG's C API directly), so that Node and browsers decode exactly the
// pixels PIL and OpenCV decode: libjpeg-turbo with its defaults, the accurate integer IDCT and fancy
// upsampling. That module was built without arithmetic decoding, so arithmetic-coded files go to a
// second build of libjpeg-turbo (`@cornerstonejs/codec-libjpeg-turbo-8bit`, also TurboJPEG with
// default flags, RGB or grey output: exact for the 1- and 3-component files arithmetic coding
// occurs in). Measured against Pillow 9.4 in test/io/decode-goldens.test.ts (every pixel equal);
// the choice between candidate decoders is in docs/decoding.md.
//
// PIL's rules on top of libjpeg (JpegImagePlugin, Convert.c), which this module reproduces:
//   - no EXIF rotation: pixels come back as stored;
//   - one component → R = G = B;
//   - four components (CMYK, or YCCK which libjpeg turns into CMYK) are read as Adobe-inverted
//     CMYK ("CMYK;I", whatever the Adobe marker says) and converted with PIL's cmyk2rgb;
//   - libjpeg warnings ("extraneous bytes before marker") do not fail the image, but a file that
//     ends before its last scan does ("image file is truncated").
// Each decode with the main module runs in a fresh instance of it (instantiation takes well under
// a millisecond): an error leaves no half-initialised decoder behind and memory is returned at
// once. The arithmetic-coding decoder is one cached emscripten instance; files too large for the
// size limit are refused from their header before it sees them.

import { DecoderUnavailable, ImageRefusal } from './errors.js';
import type { RgbaImage } from './image.js';

/** Thrown by libjpeg's error_exit (its longjmp); carries nothing: TurboJPEG keeps the text inside. */
class LibjpegError extends Error {}

interface TurboJpegExports {
  memory: WebAssembly.Memory;
  malloc(size: number): number;
  free(ptr: number): void;
  tjInitDecompress(): number;
  tjDestroy(handle: number): number;
  tjDecompressHeader3(handle: number, src: number, size: number, width: number, height: number, subsamp: number, colorspace: number): number;
  tjDecompress2(handle: number, src: number, size: number, dst: number, width: number, pitch: number, height: number, pixelFormat: number, flags: number): number;
}

// TurboJPEG's enums (turbojpeg.h).
const TJPF_RGB = 0;
const TJPF_GRAY = 6;
const TJPF_CMYK = 11;
const TJCS_GRAY = 2;
const TJCS_CMYK = 3;
const TJCS_YCCK = 4;

let wasmSource: string | URL | Uint8Array | undefined;
let compiled: Promise<WebAssembly.Module> | undefined;
let arithmeticSource: Uint8Array | undefined;
let arithmeticModule: Promise<CornerstoneModule> | undefined;

/** The emscripten module of @cornerstonejs/codec-libjpeg-turbo-8bit's decoder. */
interface CornerstoneModule {
  JPEGDecoder: new () => {
    getEncodedBuffer(size: number): Uint8Array;
    decode(): void;
    getFrameInfo(): { width: number; height: number; componentCount: number };
    getDecodedBuffer(): Uint8Array;
    delete(): void;
  };
}

/**
 * Browser bundles call this with the decoder's WebAssembly bytes or a URL to fetch them from (the
 * browser entry, src/browser.ts, passes the bytes it carries). Node reads the module from its package.
 */
export function registerJpegWasm(source: string | URL | Uint8Array, arithmetic?: Uint8Array): void {
  wasmSource = source;
  compiled = undefined;
  arithmeticSource = arithmetic;
  arithmeticModule = undefined;
}

async function loadArithmeticDecoder(): Promise<CornerstoneModule> {
  arithmeticModule ??= (async () => {
    const { default: factory } = (await import('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs')) as unknown as { default: (options: object) => Promise<CornerstoneModule> };
    let wasmBinary = arithmeticSource;
    if (!wasmBinary) {
      const [{ readFile }, { createRequire }] = await Promise.all([import('node:fs/promises'), import('node:module')]);
      wasmBinary = await readFile(createRequire(import.meta.url).resolve('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasm'));
    }
    // print/printErr: libjpeg's messages become part of the thrown error, not console noise.
    return factory({ wasmBinary, print: () => undefined, printErr: () => undefined });
  })().catch((err: unknown) => {
    arithmeticModule = undefined;
    throw new DecoderUnavailable(`the arithmetic-coding JPEG decoder could not be loaded: ${err instanceof Error ? err.message : String(err)}`);
  });
  return arithmeticModule;
}

async function decodeArithmetic(bytes: Uint8Array, maxPixels: number): Promise<RgbaImage> {
  const codec = await loadArithmeticDecoder();
  const decoder = new codec.JPEGDecoder();
  try {
    decoder.getEncodedBuffer(bytes.length).set(bytes);
    try {
      decoder.decode();
    } catch {
      throw new Error('libjpeg could not decode it (corrupt arithmetic-coded data)');
    }
    const { width, height, componentCount } = decoder.getFrameInfo();
    if (width * height > maxPixels) throw new ImageRefusal(`image of ${width}×${height} is too large (more than ${maxPixels / 1e6} megapixels)`);
    const src = decoder.getDecodedBuffer();
    const n = width * height;
    const data = new Uint8Array(4 * n);
    for (let i = 0; i < n; i++) {
      if (componentCount === 1) data.fill(src[i]!, 4 * i, 4 * i + 3);
      else data.set(src.subarray(3 * i, 3 * i + 3), 4 * i);
      data[4 * i + 3] = 255;
    }
    return { width, height, data };
  } finally {
    decoder.delete();
  }
}

async function compileModule(): Promise<WebAssembly.Module> {
  if (wasmSource instanceof Uint8Array) return WebAssembly.compile(wasmSource as Uint8Array<ArrayBuffer>);
  if (wasmSource !== undefined) {
    const response = await fetch(wasmSource);
    if (!response.ok) throw new Error(`JPEG decoder: ${String(wasmSource)}: HTTP ${response.status}`);
    return WebAssembly.compile(await response.arrayBuffer());
  }
  const [{ readFile }, { createRequire }] = await Promise.all([import('node:fs/promises'), import('node:module')]);
  const path = createRequire(import.meta.url).resolve('@cwasm/jpeg-turbo/jpeg-turbo.wasm');
  return WebAssembly.compile(await readFile(path));
}

/** Compiles the decoder once per process (page); `decodeJpeg` calls it, callers may call it early to pay the cost up front. */
export function loadJpegDecoder(): Promise<WebAssembly.Module> {
  compiled ??= compileModule().catch((err: unknown) => {
    compiled = undefined;
    throw new DecoderUnavailable(`the JPEG decoder could not be loaded: ${err instanceof Error ? err.message : String(err)}`);
  });
  return compiled;
}

async function instantiate(): Promise<TurboJpegExports> {
  const fail = (what: string) => () => {
    throw new Error(`JPEG decoder: unexpected call to ${what}`);
  };
  const instance = await WebAssembly.instantiate(await loadJpegDecoder(), {
    // libjpeg's setjmp/longjmp error handling: setjmp returns 0 once, error_exit's longjmp unwinds
    // the whole call as a JS exception. The instance is dropped afterwards.
    env: {
      setjmp: () => 0,
      longjmp: () => {
        throw new LibjpegError('libjpeg error');
      },
    },
    wasi_snapshot_preview1: {
      environ_sizes_get: () => 0,
      environ_get: fail('environ_get'),
      proc_exit: fail('proc_exit'),
      fd_close: fail('fd_close'),
      fd_seek: fail('fd_seek'),
      fd_write: () => 0,
    },
  });
  return instance.exports as unknown as TurboJpegExports;
}

/** What the markers before the first scan say: where its data starts (-1: no scan), and the frame. */
interface JpegHeader {
  scan: number;
  arithmetic: boolean;
  precision: number;
  width: number;
  height: number;
  components: number;
}

/**
 * Walks the markers up to the first scan by their lengths. Bytes that are not a marker are skipped
 * up to the next 0xFF, as libjpeg does (with a warning, which PIL ignores).
 */
function readHeader(bytes: Uint8Array): JpegHeader {
  const header: JpegHeader = { scan: -1, arithmetic: false, precision: 8, width: 0, height: 0, components: 0 };
  let p = 2;
  while (p + 4 <= bytes.length) {
    if (bytes[p] !== 0xff) {
      p++;
      continue;
    }
    const marker = bytes[p + 1]!;
    if (marker === 0xff || marker === 0x00) {
      p++; // fill byte, or a stuffed 0xFF in junk
      continue;
    }
    const length = (bytes[p + 2]! << 8) | bytes[p + 3]!;
    // SOF markers C0..CF except DHT (C4), JPG (C8) and DAC (CC); C9..CB and CD..CF are arithmetic.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc && p + 10 <= bytes.length) {
      header.arithmetic = marker >= 0xc9;
      header.precision = bytes[p + 4]!;
      header.height = (bytes[p + 5]! << 8) | bytes[p + 6]!;
      header.width = (bytes[p + 7]! << 8) | bytes[p + 8]!;
      header.components = bytes[p + 9]!;
    }
    if (marker === 0xda) {
      header.scan = p + 2 + length;
      return header;
    }
    p += 2 + length;
  }
  return header;
}

/** Number of colour components of the JPEG's frame (1 grey, 3 colour, 4 CMYK/YCCK), or 0 when no frame header is found. */
export function jpegComponents(bytes: Uint8Array): number {
  return readHeader(bytes).components;
}


/** True when an EOI marker follows the first scan (inside entropy-coded data 0xFF is followed by 0x00 or RSTn only). */
function hasEndOfImage(bytes: Uint8Array, from: number): boolean {
  for (let i = Math.max(from, 0); i + 1 < bytes.length; i++) if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return true;
  return false;
}

/** PIL's MULDIV255: round(a·b / 255) with integer arithmetic. */
function muldiv255(a: number, b: number): number {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

/**
 * Decodes JPEG bytes to RGBA8 exactly as `PIL.Image.open(f).convert("RGB")` does (alpha 255), or
 * with reader 'cv2' as `cv2.imread(f)` does (they differ on CMYK/YCCK files only; EXIF rotation,
 * which imread applies, is not applied by either).
 * Throws a plain Error with a short reason; `decodeImage` adds the file name.
 */
export async function decodeJpeg(bytes: Uint8Array, maxPixels: number, reader: 'pil' | 'cv2' = 'pil'): Promise<RgbaImage> {
  const { scan, arithmetic, precision, width, height, components } = readHeader(bytes);
  if (precision !== 8) throw new ImageRefusal(`${precision}-bit samples are not supported (8-bit JPEG expected)`);
  if (scan < 0 || !hasEndOfImage(bytes, scan)) throw new Error('the file ends before the image data does');
  if (width * height > maxPixels) throw new ImageRefusal(`image of ${width}×${height} is too large (more than ${maxPixels / 1e6} megapixels)`);
  if (arithmetic) {
    if (components !== 1 && components !== 3) throw new ImageRefusal(`arithmetic-coded JPEGs with ${components} components are not supported (1 or 3 expected)`);
    return decodeArithmetic(bytes, maxPixels);
  }

  const tj = await instantiate();
  const input = tj.malloc(bytes.length);
  const meta = tj.malloc(16);
  if (!input || !meta) throw new Error(`out of memory for ${bytes.length} bytes of input`);
  new Uint8Array(tj.memory.buffer, input, bytes.length).set(bytes);
  try {
    const handle = tj.tjInitDecompress();
    if (!handle) throw new Error('could not create a decompressor');
    new Int32Array(tj.memory.buffer, meta, 4).fill(0);
    // As for the decode below, a return of -1 is a libjpeg warning (junk before a marker): the header
    // values are written all the same. Errors unwind as LibjpegError.
    tj.tjDecompressHeader3(handle, input, bytes.length, meta, meta + 4, meta + 8, meta + 12);
    const [width, height, , colorspace] = new Int32Array(tj.memory.buffer, meta, 4);
    if (!(width! > 0 && height! > 0)) throw new Error(`invalid size ${width}×${height}`);
    if (width! * height! > maxPixels) throw new ImageRefusal(`image of ${width}×${height} is too large (more than ${maxPixels / 1e6} megapixels)`);
    const cmyk = colorspace === TJCS_CMYK || colorspace === TJCS_YCCK;
    const grey = colorspace === TJCS_GRAY;
    const channels = cmyk ? 4 : grey ? 1 : 3;
    const n = width! * height!;
    const output = tj.malloc(n * channels);
    if (!output) throw new Error(`out of memory for a ${width}×${height} image`);
    // flags 0: accurate integer IDCT, fancy upsampling, no bottom-up: libjpeg's defaults, PIL's settings.
    // A return of -1 here is a libjpeg warning (errors unwind as LibjpegError); PIL accepts those too.
    tj.tjDecompress2(handle, input, bytes.length, output, width!, 0, height!, cmyk ? TJPF_CMYK : grey ? TJPF_GRAY : TJPF_RGB, 0);
    const src = new Uint8Array(tj.memory.buffer, output, n * channels);
    const data = new Uint8Array(n * 4);
    if (grey) {
      for (let i = 0; i < n; i++) data.fill(src[i]!, 4 * i, 4 * i + 3);
    } else if (cmyk) {
      // PIL reads CMYK;I (c' = 255 − c), then cmyk2rgb: r = clip(255 − k' − c'·(255 − k')/255).
      // OpenCV's imread (icvCvt_CMYK2BGR) takes the same form with a shift: r = k − ((255 − c)·k >> 8).
      for (let i = 0; i < n; i++) {
        const k = src[4 * i + 3]!; // 255 − k'
        for (let c = 0; c < 3; c++) data[4 * i + c] = reader === 'pil' ? k - muldiv255(255 - src[4 * i + c]!, k) : k - (((255 - src[4 * i + c]!) * k) >> 8);
      }
    } else {
      for (let i = 0; i < n; i++) {
        data[4 * i] = src[3 * i]!;
        data[4 * i + 1] = src[3 * i + 1]!;
        data[4 * i + 2] = src[3 * i + 2]!;
      }
    }
    for (let i = 3; i < data.length; i += 4) data[i] = 255;
    return { width: width!, height: height!, data };
  } catch (err) {
    if (err instanceof LibjpegError) throw new Error('libjpeg could not decode it (corrupt data or an unsupported layout)');
    throw err;
  }
}
