// Random-access byte sources. Weight files are large (ViT-B/16 in float32 is ~600 MB), so the
// readers never load a whole file: they read the header, then each tensor's byte range on demand.
// A ByteSource hides where the bytes live: a Node file handle, a browser Blob/File, or memory.
//
// Node's `fs` is imported lazily, only when a path string is opened, so this module (and the whole
// weight importer) also bundles for the browser.

import { WeightFileError } from './errors.js';

/** Random-access, read-only bytes of a weight file: a file handle, a Blob or memory. */
export interface ByteSource {
  /** Name used in error messages: the path, the File's name, or a caller-supplied label. */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /** Reads exactly `target.byteLength` bytes starting at `offset` into `target`. */
  readInto(offset: number, target: Uint8Array): Promise<void>;
  /** Releases the underlying handle (no-op for memory and Blob sources). */
  close(): Promise<void>;
}

/** Anything the loaders accept as a weight file. */
export type WeightInput = string | Blob | Uint8Array | ArrayBuffer | ByteSource;

/** Reads `length` bytes at `offset` into a fresh buffer. */
export async function readBytes(source: ByteSource, offset: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  await source.readInto(offset, out);
  return out;
}

function checkRange(source: ByteSource, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new WeightFileError(source.name, `invalid read of ${length} bytes at offset ${offset}`);
  }
  if (offset + length > source.size) {
    throw new WeightFileError(
      source.name,
      `read of bytes [${offset}, ${offset + length}) goes past the end of the file (${source.size} bytes): the file is truncated or corrupt`,
    );
  }
}

export class MemorySource implements ByteSource {
  readonly size: number;
  constructor(
    private readonly bytes: Uint8Array,
    readonly name = '<memory>',
  ) {
    this.size = bytes.byteLength;
  }
  async readInto(offset: number, target: Uint8Array): Promise<void> {
    checkRange(this, offset, target.byteLength);
    target.set(this.bytes.subarray(offset, offset + target.byteLength));
  }
  async close(): Promise<void> {}
}

/** Browser File/Blob (also works in Node 20, which has Blob). Each read is a Blob slice. */
export class BlobSource implements ByteSource {
  readonly size: number;
  constructor(
    private readonly blob: Blob,
    readonly name: string,
  ) {
    this.size = blob.size;
  }
  async readInto(offset: number, target: Uint8Array): Promise<void> {
    checkRange(this, offset, target.byteLength);
    const buf = await this.blob.slice(offset, offset + target.byteLength).arrayBuffer();
    if (buf.byteLength !== target.byteLength) {
      throw new WeightFileError(this.name, `short read at offset ${offset}: the file changed or is unreadable`);
    }
    target.set(new Uint8Array(buf));
  }
  async close(): Promise<void> {}
}

type NodeFileHandle = import('node:fs/promises').FileHandle;

/** Node file handle. Reads go straight into the caller's buffer (no intermediate copy). */
export class FileSource implements ByteSource {
  private constructor(
    private readonly handle: NodeFileHandle,
    readonly name: string,
    readonly size: number,
  ) {}

  static async open(path: string): Promise<FileSource> {
    const fs = await import('node:fs/promises');
    let handle: NodeFileHandle;
    try {
      handle = await fs.open(path, 'r');
    } catch (err) {
      throw new WeightFileError(path, `cannot open: ${(err as Error).message}`);
    }
    const stat = await handle.stat();
    if (!stat.isFile()) {
      await handle.close();
      throw new WeightFileError(path, 'not a regular file');
    }
    return new FileSource(handle, path, stat.size);
  }

  async readInto(offset: number, target: Uint8Array): Promise<void> {
    checkRange(this, offset, target.byteLength);
    // One read call may return fewer bytes than asked (and is capped near 2 GiB), so loop.
    const CHUNK = 1 << 30;
    let done = 0;
    while (done < target.byteLength) {
      const want = Math.min(CHUNK, target.byteLength - done);
      const { bytesRead } = await this.handle.read(target, done, want, offset + done);
      if (bytesRead === 0) {
        throw new WeightFileError(this.name, `unexpected end of file at offset ${offset + done}: the file shrank while reading`);
      }
      done += bytesRead;
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

function isByteSource(x: unknown): x is ByteSource {
  return typeof x === 'object' && x !== null && typeof (x as ByteSource).readInto === 'function' && typeof (x as ByteSource).size === 'number';
}

/**
 * Opens any accepted input. `name` overrides the label used in messages (useful for in-memory
 * bytes); Files keep their own name.
 */
/** The weight files looked for, in this order, when a path names a folder (Hugging Face, open_clip). */
export const FOLDER_WEIGHT_FILES = ['model.safetensors', 'open_clip_model.safetensors', 'pytorch_model.bin', 'open_clip_pytorch_model.bin'];

/**
 * A path as given, or, for a folder, the weight file inside it (FOLDER_WEIGHT_FILES). Node only.
 * A folder without one is an error that names the folder and what was looked for.
 */
export async function resolveWeightPath(path: string): Promise<string> {
  const fs = await import('node:fs/promises');
  const { join } = await import('node:path');
  const stat = await fs.stat(path).catch(() => undefined);
  if (!stat?.isDirectory()) return path;
  for (const name of FOLDER_WEIGHT_FILES) {
    const file = join(path, name);
    if ((await fs.stat(file).catch(() => undefined))?.isFile()) return file;
  }
  throw new WeightFileError(path, `a folder without weights (looked for ${FOLDER_WEIGHT_FILES.join(', ')})`);
}

export async function openSource(input: WeightInput, name?: string): Promise<ByteSource> {
  if (typeof input === 'string') return FileSource.open(await resolveWeightPath(input));
  if (isByteSource(input)) return input;
  if (input instanceof Uint8Array) return new MemorySource(input, name ?? '<memory>');
  if (input instanceof ArrayBuffer) return new MemorySource(new Uint8Array(input), name ?? '<memory>');
  if (typeof Blob !== 'undefined' && input instanceof Blob) {
    const fileName = (input as Blob & { name?: unknown }).name;
    return new BlobSource(input, name ?? (typeof fileName === 'string' && fileName ? fileName : '<blob>'));
  }
  throw new TypeError('weights: expected a path, Blob/File, Uint8Array, ArrayBuffer or ByteSource');
}
