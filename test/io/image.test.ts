import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IoError } from '../../src/io/errors.js';
import { readImage } from '../../src/io/files.js';
import { decodeImage, encodeJpeg, encodePng, sniffImageFormat, type RgbaImage } from '../../src/io/image.js';
import { IO_FIXTURES, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const fixture = (name: string) => new Uint8Array(readFileSync(join(IO_FIXTURES, name)));

/** A smooth test card with some edges: 53×37, not a multiple of 8 or 16. */
function testCard(width = 53, height = 37): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = 4 * (y * width + x);
      data[i] = (x * 255) / (width - 1);
      data[i + 1] = (y * 255) / (height - 1);
      data[i + 2] = x > width / 2 ? 200 : 40;
      data[i + 3] = 255;
    }
  }
  return { width, height, data };
}

function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    if (i % 4 === 3) continue;
    se += (a[i]! - b[i]!) ** 2;
    n++;
  }
  return 10 * Math.log10((255 * 255) / (se / n));
}

describe('image decoding', () => {
  it('round-trips PNG exactly and JPEG closely, keeping odd sizes', async () => {
    const card = testCard();
    const png = await decodeImage(encodePng(card));
    expect([png.width, png.height]).toEqual([53, 37]);
    expect(png.data).toEqual(card.data);
    const jpeg = await decodeImage(encodeJpeg(card, 90));
    expect([jpeg.width, jpeg.height]).toEqual([53, 37]);
    expect(jpeg.data.length).toBe(53 * 37 * 4);
    expect(psnr(jpeg.data, card.data)).toBeGreaterThan(30);
    for (let i = 3; i < jpeg.data.length; i += 4) expect(jpeg.data[i]).toBe(255);
  });

  it('replicates greyscale JPEG and PNG to three channels', async () => {
    for (const name of ['grey.jpg', 'grey.png']) {
      const image = await decodeImage(fixture(name), name);
      expect([image.width, image.height]).toEqual([32, 24]);
      for (let i = 0; i < image.width * image.height; i++) {
        expect(image.data[4 * i + 1]).toBe(image.data[4 * i]);
        expect(image.data[4 * i + 2]).toBe(image.data[4 * i]);
        expect(image.data[4 * i + 3]).toBe(255);
      }
      // The PNG is lossless: pixel (x, y) = (4y + 3x) mod 256.
      if (name === 'grey.png') expect(image.data[4 * (5 * 32 + 7)]).toBe((4 * 5 + 3 * 7) % 256);
    }
  });

  it('ignores EXIF orientation: pixels come back as stored', async () => {
    // Stored 40×24, red left half, blue right half, EXIF Orientation = 6 ("rotate 90° to view").
    const image = await decodeImage(fixture('exif_rotated.jpg'));
    expect([image.width, image.height]).toEqual([40, 24]);
    const at = (x: number, y: number) => [...image.data.subarray(4 * (y * 40 + x), 4 * (y * 40 + x) + 3)];
    expect(at(5, 12)[0]).toBeGreaterThan(180);
    expect(at(5, 12)[2]).toBeLessThan(60);
    expect(at(35, 12)[2]).toBeGreaterThan(180);
    expect(at(35, 12)[0]).toBeLessThan(60);
  });

  it('names the file for corrupt, truncated and unsupported images', async () => {
    const jpeg = encodeJpeg(testCard(64, 64));
    await expect(decodeImage(jpeg.subarray(0, Math.floor(jpeg.length * 0.6)), 'a/cut.jpg')).rejects.toThrow(/^a\/cut\.jpg: corrupt or truncated JPEG/);
    const png = encodePng(testCard());
    await expect(decodeImage(png.subarray(0, png.length - 40), 'a/cut.png')).rejects.toThrow(/^a\/cut\.png: corrupt or truncated PNG/);
    await expect(decodeImage(new TextEncoder().encode('GIF89a....'), 'x.gif')).rejects.toThrow('x.gif: GIF images are not supported (JPEG or PNG expected)');
    await expect(decodeImage(Uint8Array.of(1, 2, 3), 'x.bin')).rejects.toThrow('x.bin: not a JPEG or PNG file');
    expect(sniffImageFormat(jpeg)).toBe('jpeg');

    const path = tmp.path('truncated.jpg');
    writeFileSync(path, jpeg.subarray(0, 300));
    const err = await readImage(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IoError);
    expect((err as IoError).file).toBe(path);
    await expect(readImage(tmp.path('nope.jpg'))).rejects.toThrow(`${tmp.path('nope.jpg')}: cannot read`);
  });

  it('validates what it encodes', () => {
    expect(() => encodeJpeg({ width: 2, height: 2, data: new Uint8Array(15) })).toThrow(/expected 2×2×4 = 16/);
    expect(() => encodeJpeg(testCard(), 0)).toThrow(/quality/);
  });
});
