// Reader of test/fixtures/train/goldens.{json,bin} (weights/make_train_goldens.py): per case its
// parameters and arrays (f32 inputs, f64 references, u32 labels and indices).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

interface Entry {
  offset: number;
  dtype: 'f32' | 'f64' | 'u32';
  shape: number[];
}

export interface GoldenRecord {
  name: string;
  seed: number;
  arrays: Record<string, Entry>;
  /** Largest |float32 PyTorch − float64 PyTorch| per reference (PyTorch's own float32 error). */
  torch32_err: Record<string, number>;
  [param: string]: unknown;
}

interface Header {
  generator: string;
  torch: string;
  bin_bytes: number;
  bin_sha256: string;
  cases: Record<string, GoldenRecord>;
}

const dir = new URL('../fixtures/train/', import.meta.url);
let cache: { header: Header; buf: ArrayBuffer } | undefined;

function load(): { header: Header; buf: ArrayBuffer } {
  if (cache) return cache;
  const header = JSON.parse(readFileSync(new URL('goldens.json', dir), 'utf8')) as Header;
  const bytes = readFileSync(new URL('goldens.bin', dir));
  if (bytes.byteLength !== header.bin_bytes) throw new Error(`goldens.bin has ${bytes.byteLength} bytes, the header says ${header.bin_bytes}: regenerate with weights/make_train_goldens.py`);
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== header.bin_sha256) throw new Error('goldens.bin does not match its header (sha256): regenerate with weights/make_train_goldens.py');
  cache = { header, buf: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) };
  return cache;
}

export const goldenTorchVersion = (): string => load().header.torch;

export class Golden {
  constructor(
    readonly record: GoldenRecord,
    private readonly buf: ArrayBuffer,
  ) {}

  get name(): string {
    return this.record.name;
  }

  param<T>(key: string): T {
    if (!(key in this.record)) throw new Error(`golden case '${this.name}' has no parameter '${key}'`);
    return this.record[key] as T;
  }

  private entry(key: string, dtype: Entry['dtype']): { e: Entry; n: number } {
    const e = this.record.arrays[key];
    if (!e) throw new Error(`golden case '${this.name}' has no array '${key}' (has: ${Object.keys(this.record.arrays).join(', ')})`);
    if (e.dtype !== dtype) throw new Error(`golden '${this.name}.${key}' is ${e.dtype}, not ${dtype}`);
    return { e, n: e.shape.reduce((a, b) => a * b, 1) };
  }

  shape(key: string): number[] {
    const e = this.record.arrays[key];
    if (!e) throw new Error(`golden case '${this.name}' has no array '${key}'`);
    return e.shape;
  }

  f32(key: string): Float32Array {
    const { e, n } = this.entry(key, 'f32');
    return new Float32Array(this.buf, e.offset, n);
  }

  f64(key: string): Float64Array {
    const { e, n } = this.entry(key, 'f64');
    return new Float64Array(this.buf, e.offset, n);
  }

  u32(key: string): Uint32Array {
    const { e, n } = this.entry(key, 'u32');
    return new Uint32Array(this.buf, e.offset, n);
  }

  torch32Err(key: string): number | undefined {
    return this.record.torch32_err[key];
  }
}

export function golden(name: string): Golden {
  const { header, buf } = load();
  const rec = header.cases[name];
  if (!rec) throw new Error(`no golden case '${name}' (have: ${Object.keys(header.cases).join(', ')})`);
  return new Golden(rec, buf);
}
