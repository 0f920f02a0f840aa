import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { zlibSync } from 'fflate';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { IoError } from '../../src/io/errors.js';
import { crc32, decodeLabelPng, encodeLabelPng, type LabelMap } from '../../src/io/labelpng.js';
import { decodeNpy } from '../../src/io/npy.js';
import { concatBytes, PNG_SIGNATURE, pngChunk } from '../../src/io/png.js';
import { VOC_PALETTE, vocColor, vocIndexOfColor } from '../../src/io/palette.js';
import { IO_FIXTURES } from './helpers.js';

const fixture = (name: string) => new Uint8Array(readFileSync(join(IO_FIXTURES, name)));

function randomMap(width: number, height: number, seed: number): LabelMap {
  const data = new Uint8Array(width * height);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const r = s >>> 24;
    data[i] = r < 10 ? 255 : r % 21;
  }
  return { width, height, data };
}

describe('VOC palette', () => {
  it('is the bit-interleaving colour map', () => {
    expect(vocColor(0)).toEqual([0, 0, 0]);
    expect(vocColor(1)).toEqual([128, 0, 0]);
    expect(vocColor(2)).toEqual([0, 128, 0]);
    expect(vocColor(3)).toEqual([128, 128, 0]);
    expect(vocColor(8)).toEqual([64, 0, 0]);
    expect(vocColor(15)).toEqual([192, 128, 128]); // person
    expect(vocColor(20)).toEqual([0, 64, 128]); // tvmonitor
    expect(vocColor(255)).toEqual([224, 224, 192]);
    expect(VOC_PALETTE.length).toBe(768);
    const colours = new Set<number>();
    for (let i = 0; i < 256; i++) {
      const [r, g, b] = vocColor(i);
      colours.add((r << 16) | (g << 8) | b);
      expect(vocIndexOfColor(r, g, b)).toBe(i);
    }
    expect(colours.size).toBe(256);
    expect(vocIndexOfColor(1, 2, 3)).toBe(-1);
    expect(() => vocColor(256)).toThrow(RangeError);
  });
});

describe('label PNG', () => {
  it('round-trips class ids, 255 included, at odd sizes', () => {
    for (const [w, h] of [[1, 1], [37, 23], [160, 97]] as const) {
      const map = randomMap(w, h, w * 31 + h);
      const back = decodeLabelPng(encodeLabelPng(map));
      expect(back.width).toBe(w);
      expect(back.height).toBe(h);
      expect(back.data).toEqual(map.data);
    }
  });

  it('writes palette mode with the VOC colours, as other decoders see it', () => {
    const map = randomMap(29, 11, 5);
    const bytes = encodeLabelPng(map);
    // IHDR: bit depth 8, colour type 3 (palette), no interlace.
    expect([...bytes.subarray(24, 29)]).toEqual([8, 3, 0, 0, 0]);
    const png = PNG.sync.read(Buffer.from(bytes));
    for (let i = 0; i < map.data.length; i++) {
      expect([png.data[4 * i], png.data[4 * i + 1], png.data[4 * i + 2]]).toEqual(vocColor(map.data[i]!));
    }
    // Deterministic output.
    expect(encodeLabelPng(map)).toEqual(bytes);
  });

  it('reads PIL-written palette, greyscale and 4-bit palette PNGs to the stored indices', () => {
    const expected = decodeNpy(fixture('labels_expected.npy'));
    const [h, w] = expected.shape as [number, number];
    for (const name of ['labels_palette.png', 'labels_grey.png']) {
      const map = decodeLabelPng(fixture(name), name);
      expect([map.width, map.height]).toEqual([w, h]);
      expect([...map.data]).toEqual([...expected.data]);
    }
    const four = decodeNpy(fixture('labels_4bit_expected.npy'));
    const map4 = decodeLabelPng(fixture('labels_palette_4bit.png'));
    expect([map4.width, map4.height]).toEqual([19, 7]);
    expect([...map4.data]).toEqual([...four.data]);
  });

  it('undoes all five row filters', () => {
    const width = 13;
    const height = 10;
    const map = randomMap(width, height, 99);
    const raw = new Uint8Array(height * (width + 1));
    for (let y = 0; y < height; y++) {
      const filter = y % 5;
      raw[y * (width + 1)] = filter;
      for (let x = 0; x < width; x++) {
        const v = map.data[y * width + x]!;
        const a = x > 0 ? map.data[y * width + x - 1]! : 0;
        const b = y > 0 ? map.data[(y - 1) * width + x]! : 0;
        const c = x > 0 && y > 0 ? map.data[(y - 1) * width + x - 1]! : 0;
        const p = a + b - c;
        const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
        const predictor = [0, a, b, (a + b) >> 1, paeth][filter]!;
        raw[y * (width + 1) + 1 + x] = (v - predictor) & 0xff;
      }
    }
    const bytes = buildPng(width, height, 0, 8, zlibSync(raw));
    expect(decodeLabelPng(bytes).data).toEqual(map.data);
  });

  it('maps VOC-coloured RGB masks back to ids and rejects foreign colours', () => {
    const png = new PNG({ width: 3, height: 1 });
    [0, 15, 255].forEach((id, i) => {
      const [r, g, b] = vocColor(id);
      png.data.set([r, g, b, 255], 4 * i);
    });
    expect([...decodeLabelPng(new Uint8Array(PNG.sync.write(png))).data]).toEqual([0, 15, 255]);
    png.data.set([1, 2, 3, 255], 4);
    expect(() => decodeLabelPng(new Uint8Array(PNG.sync.write(png)), 'odd.png')).toThrow(/odd\.png: colour \(1, 2, 3\) at pixel \(1, 0\) is not in the VOC colour map/);
  });

  it('fails clearly on corrupt, truncated, interlaced and foreign files, naming the file', () => {
    const good = encodeLabelPng(randomMap(20, 20, 1));
    const flipped = good.slice();
    flipped[45] ^= 0xff; // inside IDAT or PLTE: the CRC no longer matches
    expect(() => decodeLabelPng(flipped, 'gt/a.png')).toThrow(/^gt\/a\.png: corrupt PNG: CRC mismatch/);
    expect(() => decodeLabelPng(good.subarray(0, good.length - 30), 'gt/b.png')).toThrow(/^gt\/b\.png: truncated PNG/);
    expect(() => decodeLabelPng(Uint8Array.of(1, 2, 3), 'gt/c.png')).toThrow('gt/c.png: not a PNG file');
    const interlaced = buildPng(2, 2, 3, 8, zlibSync(new Uint8Array(12)), 1);
    expect(() => decodeLabelPng(interlaced, 'i.png')).toThrow(/interlaced/);
    const sixteen = buildPng(1, 1, 0, 16, zlibSync(Uint8Array.of(0, 0x01, 0x00)));
    expect(() => decodeLabelPng(sixteen, 's.png')).toThrow(/16-bit greyscale value 256/);
    const greyAlpha = buildPng(1, 1, 4, 8, zlibSync(Uint8Array.of(0, 1, 2)));
    expect(() => decodeLabelPng(greyAlpha, 'ga.png')).toThrow(/colour type 4 \(greyscale\+alpha\)/);
    try {
      decodeLabelPng(flipped, 'gt/a.png');
    } catch (err) {
      expect(err).toBeInstanceOf(IoError);
      expect((err as IoError).file).toBe('gt/a.png');
    }
  });
});

/** A minimal PNG around given IDAT data (no PLTE: fine for greyscale, enough for error paths). */
function buildPng(width: number, height: number, colorType: number, bitDepth: number, idat: Uint8Array, interlace = 0): Uint8Array {
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, width);
  new DataView(ihdr.buffer).setUint32(4, height);
  ihdr.set([bitDepth, colorType, 0, 0, interlace], 8);
  return concatBytes([PNG_SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', new Uint8Array(0))]);
}
