import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../../src/io/files.js';
import { decodeNpy, encodeNpy } from '../../src/io/npy.js';
import { IO_FIXTURES, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const fixture = (name: string) => new Uint8Array(readFileSync(join(IO_FIXTURES, name)));
/** What make_io_fixtures.py stored: arange(30) / 7 as float32, shape (2, 3, 5). */
const EXPECTED = Float32Array.from({ length: 30 }, (_, i) => i / 7);

function headerOf(bytes: Uint8Array): string {
  const length = bytes[8]! | (bytes[9]! << 8);
  return new TextDecoder().decode(bytes.subarray(10, 10 + length));
}

describe('.npy', () => {
  it('writes version 1.0 with the header padded to 64 bytes and ending in a newline', () => {
    for (const shape of [[2, 3], [7], [], [1, 2, 3, 4, 5, 6, 7, 8]]) {
      const count = shape.reduce((a, b) => a * b, 1);
      const bytes = encodeNpy(new Float32Array(count), shape);
      expect([...bytes.subarray(0, 8)]).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
      const header = headerOf(bytes);
      expect((10 + header.length) % 64).toBe(0);
      expect(header.endsWith('\n')).toBe(true);
      expect(bytes.length).toBe(10 + header.length + 4 * count);
    }
    expect(headerOf(encodeNpy(new Float32Array(6), [2, 3])).trimEnd()).toBe("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
    expect(headerOf(encodeNpy(new Float32Array(7), [7]))).toContain("'shape': (7,)");
    expect(headerOf(encodeNpy(new Float32Array(1), []))).toContain("'shape': ()");
  });

  it('round-trips values exactly, NaN, infinities and -0 included, from unaligned buffers too', () => {
    const data = Float32Array.of(1.5, -0, Number.NaN, Infinity, -Infinity, 3.4e38, 1e-45, 0.1);
    const bytes = encodeNpy(data, [2, 4]);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    for (const input of [bytes, shifted.subarray(1)]) {
      const back = decodeNpy(input);
      expect(back.shape).toEqual([2, 4]);
      expect(Object.is(back.data[1], -0)).toBe(true);
      expect(Number.isNaN(back.data[2])).toBe(true);
      expect([...back.data].filter((_, i) => i !== 2)).toEqual([...data].filter((_, i) => i !== 2));
    }
  });

  it('reads what NumPy writes: C order, 1-d, scalars, big-endian, version 2.0', () => {
    for (const name of ['f32_c.npy', 'f32_big_endian.npy', 'f32_v2.npy']) {
      const array = decodeNpy(fixture(name), name);
      expect(array.shape).toEqual([2, 3, 5]);
      expect(array.data).toEqual(EXPECTED);
    }
    expect(decodeNpy(fixture('f32_1d.npy'))).toEqual({ shape: [3], data: Float32Array.of(1.5, -2.25, Infinity) });
    expect(decodeNpy(fixture('f32_scalar.npy'))).toEqual({ shape: [], data: Float32Array.of(3.25) });
  });

  it('refuses other dtypes, Fortran order, and truncated files, naming the file', () => {
    expect(() => decodeNpy(fixture('f64.npy'), 'cams/f64.npy')).toThrow("cams/f64.npy: dtype '<f8' is not float32");
    expect(() => decodeNpy(fixture('f32_fortran.npy'), 'f.npy')).toThrow('f.npy: Fortran-order arrays are not supported');
    const good = fixture('f32_c.npy');
    expect(() => decodeNpy(good.subarray(0, good.length - 4), 't.npy')).toThrow('t.npy: truncated .npy: shape (2, 3, 5) needs 120 data bytes, found 116');
    expect(() => decodeNpy(good.subarray(0, 40), 'h.npy')).toThrow('h.npy: truncated .npy: the header');
    expect(() => decodeNpy(Uint8Array.of(1, 2, 3), 'x.npy')).toThrow('x.npy: not a .npy file');
    expect(() => encodeNpy(new Float32Array(5), [2, 3])).toThrow(/holds 6 values, the data 5/);
  });

  it('writes and reads files', async () => {
    const path = tmp.path('cam.npy');
    await writeNpy(path, EXPECTED, [2, 3, 5]);
    expect(await readNpy(path)).toEqual({ shape: [2, 3, 5], data: EXPECTED });
    // Same bytes as NumPy's own file, apart from the padding NumPy reserves for growing shapes.
    const ours = new Uint8Array(readFileSync(path));
    const numpys = fixture('f32_c.npy');
    expect(ours.subarray(ours.length - 120)).toEqual(numpys.subarray(numpys.length - 120));
    await expect(readNpy(tmp.path('missing.npy'))).rejects.toThrow(`${tmp.path('missing.npy')}: cannot read`);
  });
});
