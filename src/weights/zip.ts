// Minimal ZIP reader over a ByteSource, for PyTorch archives (torch.save and TorchScript).
//
// Only the central directory is trusted for the list of entries (docs/algorithms.md §1.7: local headers
// need not be contiguous). PyTorch stores tensor storages uncompressed and 64-byte aligned, so a
// storage is read by slicing the file at the entry's data offset; no decompression, no copy of the
// archive. Deflated entries (TorchScript's code/ files, or an archive re-packed by a zip tool)
// are inflated in memory with fflate when they are read. ZIP64 records are understood: PyTorch
// writes them, and files past 4 GiB need them.

import { inflateSync } from 'fflate';
import { WeightFileError } from './errors.js';
import { readBytes, type ByteSource } from './source.js';
import { crc32 } from '../io/png.js';

export interface ZipEntry {
  readonly name: string;
  /** 0 = stored, 8 = deflate. */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly crc32: number;
  readonly localHeaderOffset: number;
  readonly encrypted: boolean;
}

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const MAX_COMMENT = 0xffff;

export function isZipMagic(head: Uint8Array): boolean {
  // "PK\3\4" starts any archive with entries; "PK\5\6" is an empty archive.
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6));
}

function u64(view: DataView, at: number, file: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new WeightFileError(file, 'zip: 64-bit field too large');
  return Number(v);
}

/** Reads the central directory. Throws a WeightFileError naming the file for anything malformed. */
export async function readZipDirectory(source: ByteSource): Promise<Map<string, ZipEntry>> {
  const file = source.name;
  // The end-of-central-directory record (22 bytes + comment) sits at the very end; scan backwards.
  const tailLen = Math.min(source.size, 22 + MAX_COMMENT);
  const tail = await readBytes(source, source.size - tailLen, tailLen);
  const tv = new DataView(tail.buffer);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === SIG_EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    throw new WeightFileError(file, 'zip: no end-of-central-directory record: the file is truncated or not a zip archive');
  }
  let count = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);

  // ZIP64: a locator 20 bytes before the classic record points at the 64-bit record.
  const locAt = source.size - tailLen + eocd - 20;
  if (locAt >= 0) {
    const loc = await readBytes(source, locAt, 20);
    const lv = new DataView(loc.buffer);
    if (lv.getUint32(0, true) === SIG_EOCD64_LOCATOR) {
      const rec64At = u64(lv, 8, file);
      if (rec64At + 56 > source.size) throw new WeightFileError(file, 'zip: ZIP64 end record lies past the end of the file (truncated?)');
      const rec = await readBytes(source, rec64At, 56);
      const rv = new DataView(rec.buffer);
      if (rv.getUint32(0, true) !== SIG_EOCD64) throw new WeightFileError(file, 'zip: bad ZIP64 end-of-central-directory record');
      count = u64(rv, 32, file);
      cdSize = u64(rv, 40, file);
      cdOffset = u64(rv, 48, file);
    }
  }
  if (cdOffset + cdSize > source.size) {
    throw new WeightFileError(file, `zip: central directory [${cdOffset}, ${cdOffset + cdSize}) lies past the end of the file (${source.size} bytes): truncated or corrupt`);
  }

  const cd = await readBytes(source, cdOffset, cdSize);
  const cv = new DataView(cd.buffer);
  const decoder = new TextDecoder();
  const entries = new Map<string, ZipEntry>();
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 46 > cdSize || cv.getUint32(at, true) !== SIG_CENTRAL) {
      throw new WeightFileError(file, `zip: central directory entry ${i} is malformed`);
    }
    const flags = cv.getUint16(at + 8, true);
    const method = cv.getUint16(at + 10, true);
    const crc32 = cv.getUint32(at + 16, true);
    let compressedSize = cv.getUint32(at + 20, true);
    let size = cv.getUint32(at + 24, true);
    const nameLen = cv.getUint16(at + 28, true);
    const extraLen = cv.getUint16(at + 30, true);
    const commentLen = cv.getUint16(at + 32, true);
    let localHeaderOffset = cv.getUint32(at + 42, true);
    if (at + 46 + nameLen + extraLen + commentLen > cdSize) throw new WeightFileError(file, `zip: central directory entry ${i} is truncated`);
    const name = decoder.decode(cd.subarray(at + 46, at + 46 + nameLen));
    // ZIP64 extended information: 64-bit values for exactly the fields saturated at 0xFFFFFFFF, in order.
    let e = at + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = cv.getUint16(e, true);
      const len = cv.getUint16(e + 2, true);
      if (id === 0x0001) {
        let p = e + 4;
        const take = (): number => {
          if (p + 8 > e + 4 + len) throw new WeightFileError(file, `zip: ZIP64 extra field of '${name}' is too short`);
          const v = u64(cv, p, file);
          p += 8;
          return v;
        };
        if (size === 0xffffffff) size = take();
        if (compressedSize === 0xffffffff) compressedSize = take();
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take();
      }
      e += 4 + len;
    }
    entries.set(name, { name, method, compressedSize, size, crc32, localHeaderOffset, encrypted: (flags & 1) !== 0 });
    at += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** Absolute file offset of an entry's data (after its local header), checked against the file size. */
export async function entryDataOffset(source: ByteSource, entry: ZipEntry): Promise<number> {
  const file = source.name;
  if (entry.localHeaderOffset + 30 > source.size) {
    throw new WeightFileError(file, `zip: local header of '${entry.name}' lies past the end of the file: truncated or corrupt`);
  }
  const head = await readBytes(source, entry.localHeaderOffset, 30);
  const hv = new DataView(head.buffer);
  if (hv.getUint32(0, true) !== SIG_LOCAL) throw new WeightFileError(file, `zip: bad local header for '${entry.name}'`);
  const start = entry.localHeaderOffset + 30 + hv.getUint16(26, true) + hv.getUint16(28, true);
  if (start + entry.compressedSize > source.size) {
    throw new WeightFileError(
      file,
      `zip: data of '${entry.name}' [${start}, ${start + entry.compressedSize}) runs past the end of the file (${source.size} bytes): truncated`,
    );
  }
  return start;
}



/**
 * Reads a whole (small) entry, inflating if needed, and checks its CRC. Used for the pickles;
 * storages are read in slices through entryDataOffset instead.
 */
export async function readEntry(source: ByteSource, entry: ZipEntry): Promise<Uint8Array> {
  const file = source.name;
  if (entry.encrypted) throw new WeightFileError(file, `zip: entry '${entry.name}' is encrypted`);
  // Whole-entry reads are for pickles (kilobytes to a few MB). Deflate expands at most ~1032:1,
  // so a larger declared size means a corrupt directory, not a big pickle.
  if (entry.size > 1 << 30 || (entry.method === 8 && entry.size > entry.compressedSize * 1032 + 1024)) {
    throw new WeightFileError(file, `zip: entry '${entry.name}' declares ${entry.size} bytes, implausible for its ${entry.compressedSize} stored bytes: the archive is corrupt`);
  }
  const start = await entryDataOffset(source, entry);
  const raw = await readBytes(source, start, entry.compressedSize);
  let data: Uint8Array;
  if (entry.method === 0) data = raw;
  else if (entry.method === 8) {
    try {
      data = inflateSync(raw, { out: new Uint8Array(entry.size) });
    } catch (err) {
      throw new WeightFileError(file, `zip: cannot inflate '${entry.name}': ${(err as Error).message}`);
    }
  } else throw new WeightFileError(file, `zip: entry '${entry.name}' uses unsupported compression method ${entry.method}`);
  if (data.byteLength !== entry.size) throw new WeightFileError(file, `zip: entry '${entry.name}' has ${data.byteLength} bytes, directory says ${entry.size}`);
  if (crc32(data) !== entry.crc32) throw new WeightFileError(file, `zip: CRC mismatch in '${entry.name}': the archive is corrupt`);
  return data;
}
