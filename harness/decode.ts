// Decoding page: decodes every file of the decoding goldens (served at /decode/) with seedmask's
// decoder and with the browser's own (createImageBitmap, no colour conversion, no premultiplication)
// and compares both with PIL's pixels. With ?bench=N it also times both decoders and jpeg-js on the
// benchmark images served at /bench/ (N warm samples each). Results go to window.__seedmask.
import '../src/browser.js';
import jpeg from 'jpeg-js';
import { decodeImage } from '../src/io/image.js';
import { pixelMismatches } from './lib/decode-compare.js';
import { timeDecoder, type DecoderTiming } from './lib/decode-timing.js';
import { publish } from './lib/publish.js';

interface Manifest {
  files: { file: string; width: number; height: number }[];
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** The browser's decoder: the pixels as stored, no colour management and no premultiplied alpha. */
async function browserDecode(bytes: Uint8Array, type: string): Promise<{ width: number; height: number; data: Uint8Array }> {
  const bitmap = await createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }), { colorSpaceConversion: 'none', premultiplyAlpha: 'none', imageOrientation: 'none' });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext('2d', { willReadFrequently: true })!;
  context.drawImage(bitmap, 0, 0);
  const pixels = context.getImageData(0, 0, bitmap.width, bitmap.height, { colorSpace: 'srgb' });
  bitmap.close();
  return { width: pixels.width, height: pixels.height, data: new Uint8Array(pixels.data.buffer) };
}

const mime = (file: string) => (file.endsWith('.png') ? 'image/png' : 'image/jpeg');

async function goldens() {
  const manifest = (await (await fetch('/decode/manifest.json')).json()) as Manifest;
  const rows = [];
  for (const f of manifest.files) {
    const bytes = await fetchBytes(`/decode/${f.file}`);
    const expected = await fetchBytes(`/decode/${f.file.replace(/\.(jpg|png)$/, '.pil.rgb')}`);
    const compare = async (decode: () => Promise<{ width: number; height: number; data: Uint8Array }>) => {
      try {
        const image = await decode();
        if (image.width !== f.width || image.height !== f.height) return { error: `size ${image.width}×${image.height}` };
        return pixelMismatches(image.data, expected);
      } catch (err) {
        return { error: (err as Error).message };
      }
    };
    rows.push({ file: f.file, pixels: f.width * f.height, seedmask: await compare(() => decodeImage(bytes, f.file)), browser: await compare(() => browserDecode(bytes, mime(f.file))) });
  }
  return rows;
}

async function bench(samples: number): Promise<DecoderTiming[]> {
  const list = (await (await fetch('/bench/list.json')).json()) as string[];
  const out: DecoderTiming[] = [];
  for (const file of list) {
    const bytes = await fetchBytes(`/bench/${file}`);
    out.push(await timeDecoder(file, 'seedmask', bytes, samples, () => decodeImage(bytes, file)));
    if (file.endsWith('.jpg')) out.push(await timeDecoder(file, 'jpeg-js', bytes, samples, async () => jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true })));
    out.push(await timeDecoder(file, 'browser', bytes, samples, () => browserDecode(bytes, mime(file))));
  }
  return out;
}

async function main() {
  const params = new URLSearchParams(location.search);
  const samples = Number(params.get('bench') ?? 0);
  return { userAgent: navigator.userAgent, goldens: samples ? [] : await goldens(), bench: samples ? await bench(samples) : [] };
}

const log = document.getElementById('log')!;
publish(main(), log);
