// safetensors: reader and writer.
//
// Layout: 8-byte little-endian unsigned header length N, N bytes of UTF-8 JSON
//   { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ..., "__metadata__": {..} }
// then the data section; offsets are relative to its start (docs/algorithms.md §1.7).
//
// The reader validates the whole header before any tensor is read, and reports every problem it
// finds in one error: a file is either entirely trustworthy or rejected. Checks:
// header length bounded and inside the file, JSON an object, each entry a known dtype with a
// non-negative integer shape, byte size = dtype size × element count, offsets inside the data
// section, and no two tensors sharing bytes.

import { DTYPE_SIZE, isDType, type DType } from './dtype.js';
import { WeightFileError, listSome } from './errors.js';
import { readBytes, type ByteSource } from './source.js';
import { TensorStore, numel, type LoadOptions, type StoredTensor, type WeightFile } from './weightfile.js';
import { concatBytes } from '../io/png.js';

/** Header JSON size limit. The reference implementation uses the same 100 MB bound; a real
 *  header for a few thousand tensors is well under 1 MB, so anything bigger is corruption. */
export const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = '__metadata__';

interface HeaderEntry {
  key: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Parses and validates a safetensors header. `dataSize` is the number of bytes after the header.
 * Throws one WeightFileError listing every problem.
 */
export function parseSafetensorsHeader(
  file: string,
  json: Uint8Array,
  dataSize: number,
): { entries: HeaderEntry[]; metadata: Record<string, string> } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    throw new WeightFileError(file, 'safetensors header is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new WeightFileError(file, `safetensors header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new WeightFileError(file, 'safetensors header is not a JSON object');
  }

  const problems: string[] = [];
  const entries: HeaderEntry[] = [];
  const metadata: Record<string, string> = {};

  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (key === METADATA_KEY) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        problems.push(`${METADATA_KEY} is not an object`);
        continue;
      }
      // The format says string → string; tolerate other JSON values by keeping their JSON text.
      for (const [k, v] of Object.entries(value)) metadata[k] = typeof v === 'string' ? v : JSON.stringify(v);
      continue;
    }
    const where = `tensor '${key}'`;
    if (typeof value !== 'object' || value === null) {
      problems.push(`${where}: entry is not an object`);
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (!isDType(dtype)) {
      problems.push(`${where}: unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_SIZE).join(', ')})`);
      continue;
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      problems.push(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
      continue;
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      problems.push(`${where}: data_offsets ${JSON.stringify(offsets)} is not a [begin, end] pair with 0 <= begin <= end`);
      continue;
    }
    const [begin, end] = offsets as [number, number];
    const count = numel(shape);
    const need = count * DTYPE_SIZE[dtype];
    if (!Number.isSafeInteger(need)) {
      problems.push(`${where}: shape ${JSON.stringify(shape)} is absurdly large`);
      continue;
    }
    if (need !== end - begin) {
      problems.push(
        `${where}: dtype/shape mismatch: ${dtype} ${JSON.stringify(shape)} needs ${need} bytes but data_offsets [${begin}, ${end}) hold ${end - begin}`,
      );
      continue;
    }
    if (end > dataSize) {
      problems.push(
        `${where}: data_offsets [${begin}, ${end}) go past the end of the data section (${dataSize} bytes): the file is truncated or the header is corrupt`,
      );
      continue;
    }
    entries.push({ key, dtype, shape: shape as number[], begin, end });
  }

  // Overlap check: sort by start; each non-empty tensor must start at or after the previous end.
  const byStart = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < byStart.length; i++) {
    const prev = byStart[i - 1]!;
    const cur = byStart[i]!;
    if (cur.begin < prev.end) {
      problems.push(`tensors '${prev.key}' [${prev.begin}, ${prev.end}) and '${cur.key}' [${cur.begin}, ${cur.end}) overlap`);
    }
  }

  if (problems.length > 0) {
    throw new WeightFileError(file, `invalid safetensors header: ${problems.length} problem(s): ${listSome(problems, 10)}`);
  }
  return { entries, metadata };
}

/** Opens a safetensors file: reads and validates the header only; tensors are read on demand. */
export async function openSafetensors(source: ByteSource, options: LoadOptions = {}): Promise<WeightFile> {
  const file = source.name;
  if (source.size < 8) {
    throw new WeightFileError(file, `too small to be a safetensors file (${source.size} bytes; the header length alone takes 8)`);
  }
  const lenBytes = await readBytes(source, 0, 8);
  const headerLen = new DataView(lenBytes.buffer).getBigUint64(0, true);
  if (headerLen > BigInt(MAX_HEADER_BYTES)) {
    throw new WeightFileError(
      file,
      `safetensors header length ${headerLen} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit: not a safetensors file, or a corrupt one`,
    );
  }
  const n = Number(headerLen);
  if (8 + n > source.size) {
    throw new WeightFileError(file, `safetensors header length ${n} bytes runs past the end of the file (${source.size} bytes): the file is truncated or corrupt`);
  }
  if (n < 2) throw new WeightFileError(file, `safetensors header length ${n} is too small to hold a JSON object`);
  const json = await readBytes(source, 8, n);
  const { entries, metadata } = parseSafetensorsHeader(file, json, source.size - 8 - n);
  const tensors = new Map<string, StoredTensor>();
  // Keep the order of the data section (usually the writer's order); JSON key order may be sorted.
  for (const e of [...entries].sort((a, b) => a.begin - b.begin)) {
    tensors.set(e.key, { dtype: e.dtype, shape: e.shape, byteOffset: 8 + n + e.begin });
  }
  return new TensorStore(source, 'safetensors', tensors, metadata, options);
}

// ---------------------------------------------------------------------------------------------
// Writer

export interface SafetensorsEntry {
  name: string;
  dtype: DType;
  shape: readonly number[];
  /** Little-endian element bytes; a function lets the writer fetch one tensor at a time. */
  data: Uint8Array | (() => Promise<Uint8Array>);
}

/** An F32 entry over a Float32Array's own bytes (no copy). */
export function f32Entry(name: string, data: Float32Array, shape: readonly number[]): SafetensorsEntry {
  return { name, dtype: 'F32', shape: [...shape], data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/**
 * Builds the header bytes (length prefix + JSON padded with spaces to a multiple of 8, so the data
 * section and every tensor of 8-aligned size start 8-byte aligned) and each entry's data offset.
 */
export function buildSafetensorsHeader(
  entries: readonly Pick<SafetensorsEntry, 'name' | 'dtype' | 'shape'>[],
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header[METADATA_KEY] = metadata;
  let offset = 0;
  for (const e of entries) {
    if (e.name === METADATA_KEY) throw new Error(`safetensors: '${METADATA_KEY}' cannot be a tensor name`);
    if (Object.prototype.hasOwnProperty.call(header, e.name)) throw new Error(`safetensors: duplicate tensor name '${e.name}'`);
    const size = numel(e.shape) * DTYPE_SIZE[e.dtype];
    header[e.name] = { dtype: e.dtype, shape: [...e.shape], data_offsets: [offset, offset + size] };
    offset += size;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const out = new Uint8Array(8 + padded).fill(0x20);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}

async function entryBytes(e: SafetensorsEntry): Promise<Uint8Array> {
  const bytes = typeof e.data === 'function' ? await e.data() : e.data;
  const expected = numel(e.shape) * DTYPE_SIZE[e.dtype];
  if (bytes.byteLength !== expected) {
    throw new Error(`safetensors: tensor '${e.name}' has ${bytes.byteLength} bytes, ${e.dtype} ${JSON.stringify(e.shape)} needs ${expected}`);
  }
  return bytes;
}

/** Encodes a whole safetensors file in memory (small files, tests, browsers). */
export async function encodeSafetensors(entries: readonly SafetensorsEntry[], metadata?: Record<string, string>): Promise<Uint8Array<ArrayBuffer>> {
  const header = buildSafetensorsHeader(entries, metadata);
  const parts = [header];
  for (const e of entries) parts.push(await entryBytes(e));
  return concatBytes(parts) as Uint8Array<ArrayBuffer>;
}

/**
 * Writes a safetensors file in Node, one tensor at a time (peak memory: one tensor). Writes to a
 * temporary name and renames at the end, so a failed conversion never leaves a half-written file.
 */
export async function writeSafetensorsFile(
  path: string,
  entries: readonly SafetensorsEntry[],
  metadata?: Record<string, string>,
): Promise<void> {
  const fs = await import('node:fs/promises');
  const tmp = `${path}.partial-${process.pid}`;
  const handle = await fs.open(tmp, 'w');
  // A single write may be partial; loop until every byte is down.
  const writeAll = async (bytes: Uint8Array): Promise<void> => {
    for (let done = 0; done < bytes.byteLength; ) {
      const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done);
      done += bytesWritten;
    }
  };
  try {
    await writeAll(buildSafetensorsHeader(entries, metadata));
    for (const e of entries) await writeAll(await entryBytes(e));
    await handle.close();
    await fs.rename(tmp, path);
  } catch (err) {
    await handle.close().catch(() => {});
    await fs.rm(tmp, { force: true });
    throw err;
  }
}
