// Decoded pixels against Pillow 9.4 (libjpeg-turbo 2.1) on every file of test/fixtures/decode
// (made by make_decode_goldens.py): 100 % of pixels equal, no tolerance.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IoError } from '../../src/io/errors.js';
import { decodeImage, decodeSeedImage, readersDiffer } from '../../src/io/image.js';
import { concatBytes, crc32, PNG_SIGNATURE, pngChunk } from '../../src/io/png.js';
import { zlibSync } from 'fflate';
import { DECODE_FIXTURES, type DecodeManifest, pixelMismatches } from './decode-fixtures.js';

const manifest = JSON.parse(readFileSync(join(DECODE_FIXTURES, 'manifest.json'), 'utf8')) as DecodeManifest;
const read = (name: string) => new Uint8Array(readFileSync(join(DECODE_FIXTURES, name)));


describe('decoding matches PIL exactly', () => {
  it('covers every layout the generator writes', () => {
    expect(manifest.files.length).toBeGreaterThanOrEqual(38);
    const modes = new Set(manifest.files.map((f) => f.pil_mode));
    for (const mode of ['RGB', 'L', 'CMYK', 'RGBA', 'I', '1', 'LA', 'P']) expect(modes, mode).toContain(mode);
  });

  for (const file of manifest.files) {
    it(`${file.file}: ${file.what}`, async () => {
      const bytes = read(file.file);
      const image = await decodeImage(bytes, file.file);
      expect([image.width, image.height]).toEqual([file.width, file.height]);
      const expected = read(file.file.replace(/\.(jpg|png)$/, '.pil.rgb'));
      expect(pixelMismatches(image.data, expected)).toEqual({ pixels: 0, maxDiff: 0 });
    });
  }

  it('PIL and OpenCV (the CRF step of CLIP-ES reads with cv2.imread) differ only on CMYK, 16-bit grey and EXIF-rotated files', () => {
    const differ = manifest.files.filter((f) => !f.cv2_equals_pil).map((f) => f.file);
    expect(differ.sort()).toEqual(['cmyk_adobe.jpg', 'exif_rotate90.jpg', 'grey16.png', 'ycck_adobe.jpg']);
  });
});

describe('decoding matches OpenCV where OpenCV differs from PIL', () => {
  // cv2.imread's own pixels for the files where it differs from PIL (test/fixtures/decode/*.cv2.rgb),
  // EXIF rotation aside: imread rotates, seedmask never does.
  for (const file of ['cmyk_adobe.jpg', 'ycck_adobe.jpg', 'grey16.png']) {
    it(`${file}: reader 'cv2' gives cv2.imread's pixels; readersDiffer says so`, async () => {
      const bytes = read(file);
      const image = await decodeImage(bytes, file, 'cv2');
      expect(pixelMismatches(image.data, read(file.replace(/\.(jpg|png)$/, '.cv2.rgb')))).toEqual({ pixels: 0, maxDiff: 0 });
      expect(readersDiffer(bytes)).toBe(true);
      const pair = await decodeSeedImage(bytes, file);
      expect(pair.crfImage?.data).toEqual(image.data);
      expect(pixelMismatches(pair.image.data, read(file.replace(/\.(jpg|png)$/, '.pil.rgb'))).pixels).toBe(0);
    });
  }

  it('everywhere else the two readers agree, and no second decode is made', async () => {
    for (const f of manifest.files.filter((m) => m.cv2_equals_pil)) {
      const bytes = read(f.file);
      expect(readersDiffer(bytes), f.file).toBe(false);
      expect((await decodeSeedImage(bytes, f.file)).crfImage, f.file).toBeUndefined();
      expect(pixelMismatches((await decodeImage(bytes, f.file, 'cv2')).data, read(f.file.replace(/\.(jpg|png)$/, '.pil.rgb'))).pixels, f.file).toBe(0);
    }
  });
});

describe('broken JPEGs get named errors', () => {
  const good = read('baseline_420.jpg');

  it('a file cut anywhere after its header is refused as truncated, as PIL refuses it', async () => {
    for (const keep of [0.3, 0.6, 0.9, 0.999]) {
      const cut = good.subarray(0, Math.floor(good.length * keep));
      await expect(decodeImage(cut, 'cut.jpg')).rejects.toThrow(/^cut\.jpg: corrupt or truncated JPEG/);
    }
    await expect(decodeImage(good.subarray(0, 40), 'head.jpg')).rejects.toBeInstanceOf(IoError);
  });

  it('garbage in the scan data is an error or a decoded image, never a crash; the decoder still works afterwards', async () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let trial = 0; trial < 30; trial++) {
      const bad = good.slice();
      for (let k = 0; k < 8; k++) bad[600 + Math.floor(random() * (bad.length - 602))] = Math.floor(random() * 256);
      try {
        const image = await decodeImage(bad, 'bad.jpg');
        expect(image.data.length).toBe(101 * 67 * 4);
      } catch (err) {
        expect(err).toBeInstanceOf(IoError);
        expect((err as Error).message).toMatch(/^bad\.jpg: corrupt or truncated JPEG/);
      }
    }
    // The arithmetic-coded file goes through the second decoder: the same rule.
    const arithmetic = read('arithmetic.jpg');
    for (let trial = 0; trial < 10; trial++) {
      const bad = arithmetic.slice();
      for (let k = 0; k < 8; k++) bad[600 + Math.floor(random() * (bad.length - 602))] = Math.floor(random() * 256);
      await decodeImage(bad, 'bad.jpg').then(
        (image) => expect(image.data.length).toBe(101 * 67 * 4),
        (err: unknown) => expect((err as Error).message).toMatch(/^bad\.jpg: corrupt or truncated JPEG/),
      );
    }
    await expect(decodeImage(arithmetic.subarray(0, arithmetic.length >> 1), 'cut.jpg')).rejects.toThrow(/^cut\.jpg: corrupt or truncated JPEG/);
    expect(pixelMismatches((await decodeImage(arithmetic, 'a.jpg')).data, read('arithmetic.pil.rgb')).pixels).toBe(0);
    const again = await decodeImage(good, 'good.jpg');
    expect(pixelMismatches(again.data, read('baseline_420.pil.rgb')).pixels).toBe(0);
  });

  it('junk bytes between markers are skipped, as libjpeg (and so PIL) skips them', async () => {
    // A zero byte after the APP0 segment: libjpeg warns "extraneous bytes before marker" and goes on.
    const app0End = 2 + 2 + ((good[4]! << 8) | good[5]!);
    const junk = new Uint8Array(good.length + 3);
    junk.set(good.subarray(0, app0End));
    junk.set([0x00, 0x12, 0x34], app0End);
    junk.set(good.subarray(app0End), app0End + 3);
    expect(pixelMismatches((await decodeImage(junk, 'junk.jpg')).data, read('baseline_420.pil.rgb')).pixels).toBe(0);
  });

  it('a header claiming a huge image is refused from the header, for both decoders, as too large', async () => {
    for (const file of ['baseline_420.jpg', 'arithmetic.jpg']) {
      const big = read(file);
      const sof = big.findIndex((b, i) => b === 0xff && (big[i + 1] === 0xc0 || big[i + 1] === 0xc9 || big[i + 1] === 0xc2));
      big.set([0x2e, 0xe0, 0x2e, 0xe0], sof + 5); // 12000×12000
      const started = performance.now();
      await expect(decodeImage(big, file)).rejects.toThrow(new RegExp(`^${file.replace('.', '\\.')}: image of 12000×12000 is too large \\(more than 100 megapixels\\)$`));
      expect(performance.now() - started).toBeLessThan(100);
    }
  });

  it('a corrupt header names the file', async () => {
    const bad = good.slice();
    // Zero the SOF0 frame's height and width.
    const sof = bad.findIndex((b, i) => b === 0xff && bad[i + 1] === 0xc0);
    bad.fill(0, sof + 5, sof + 9);
    await expect(decodeImage(bad, 'zero.jpg')).rejects.toThrow(/^zero\.jpg: corrupt or truncated JPEG/);
  });
});

describe('broken PNGs get named errors', () => {
  const good = read('interlaced_rgb8.png');

  it('truncation anywhere, a bad header CRC, an unknown filter and a palette index past the palette', async () => {
    for (const keep of [0.2, 0.5, 0.9, 0.99]) {
      await expect(decodeImage(good.subarray(0, Math.floor(good.length * keep)), 'cut.png')).rejects.toThrow(/^cut\.png: corrupt or truncated PNG/);
    }
    const badCrc = good.slice();
    badCrc[29] ^= 1; // last byte of IHDR's CRC
    await expect(decodeImage(badCrc, 'crc.png')).rejects.toThrow(/^crc\.png: corrupt or truncated PNG \(decoder: bad CRC in the IHDR chunk\)/);
    // A header claiming 100000×2000 pixels, with a correct CRC: refused as too large, before inflating.
    const hugeHeader = good.slice();
    const view = new DataView(hugeHeader.buffer);
    view.setUint32(16, 100_000);
    view.setUint32(20, 2000);
    view.setUint32(29, crc32(hugeHeader.subarray(12, 29)));
    await expect(decodeImage(hugeHeader, 'huge.png')).rejects.toThrow(/^huge\.png: image of 100000×2000 is too large \(more than 100 megapixels\)$/);
  });

  it('a 1×1 PNG whose data inflates to 64 MB decodes its one pixel without inflating the rest', async () => {
    const ihdr = new Uint8Array(13);
    new DataView(ihdr.buffer).setUint32(0, 1);
    new DataView(ihdr.buffer).setUint32(4, 1);
    ihdr.set([8, 6, 0, 0, 0], 8);
    const bomb = concatBytes([PNG_SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', zlibSync(new Uint8Array(64 * 2 ** 20))), pngChunk('IEND', new Uint8Array(0))]);
    expect(bomb.length).toBeLessThan(100_000);
    const before = process.memoryUsage().arrayBuffers;
    const image = await decodeImage(bomb, 'bomb.png');
    expect([image.width, image.height, ...image.data]).toEqual([1, 1, 0, 0, 0, 0]);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 2 ** 20);
  });

  it('a file with everything but IEND decodes, as PIL decodes it', async () => {
    const noEnd = good.subarray(0, good.length - 12);
    const image = await decodeImage(noEnd, 'noend.png');
    expect(pixelMismatches(image.data, read('interlaced_rgb8.pil.rgb')).pixels).toBe(0);
  });
});
