// Fixtures written by the generators of the original implementations (test/fixtures/*-original):
// a manifest.json of cases, each naming a binary file and its arrays by offset, dtype and shape.
import { readFileSync } from 'node:fs';
import { f16BitsToF32 } from '../../src/weights/dtype.js';

/** Where one array lies in its case's binary file. */
export interface ArrayEntry {
  offset: number;
  dtype: 'u8' | 'f32' | 'f16';
  shape: number[];
}

/** The manifest of test/fixtures/<name>/. */
export function readManifest<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}/manifest.json`, import.meta.url), 'utf8')) as T;
}

/** The arrays of one case file: u8 as bytes, f32 as is, f16 widened to f32. */
export function caseArrays<K extends string>(name: string, file: string, arrays: Record<K, ArrayEntry>): (key: K) => Uint8Array | Float32Array {
  const bytes = readFileSync(new URL(`../fixtures/${name}/${file}`, import.meta.url));
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  return (key) => {
    const { offset, dtype, shape } = arrays[key];
    const n = shape.reduce((a, b) => a * b, 1);
    if (dtype === 'u8') return new Uint8Array(buf, offset, n);
    if (dtype === 'f32') return new Float32Array(buf, offset, n);
    return Float32Array.from(new Uint16Array(buf, offset, n), f16BitsToF32);
  };
}
