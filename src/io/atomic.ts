// Atomic file writes. Every output seedmask writes (images, masks, .npy maps, lists) goes through
// writeFileAtomic, so a crash, a full disk or a thrown producer never leaves a half-written file
// under the final name: readers see either the old file (or none) or the complete new one.
//
// How: write into a temporary file in the *same* directory (rename is only atomic within one
// filesystem), fsync it so its bytes are on disk before its name is, rename it over the target,
// then fsync the directory so the rename itself survives a power cut. On any failure the temporary
// file is removed and the error, naming the target, is rethrown.

import { randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { IoError, messageOf } from './errors.js';

/** Temporary files of writes in progress, for abandonPendingWrites. */
const pending = new Set<string>();

/**
 * Removes the temporary files of every write still in progress, synchronously: for a process that
 * is about to exit (a signal), so that it leaves neither a partial file nor a stray temporary one.
 * Completed outputs are untouched.
 */
export function abandonPendingWrites(): number {
  const n = pending.size;
  for (const temp of pending) {
    try {
      unlinkSync(temp);
    } catch {
      // not created yet, or already renamed
    }
  }
  pending.clear();
  return n;
}

/** What can be written: bytes, text (UTF-8), or chunks produced lazily (a generator may throw). */
export type FileContents = string | Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

export interface AtomicWriteOptions {
  /** Permission bits of a newly created file (default 0o644, before the umask). */
  mode?: number;
}

/** Writes `contents` to `path` atomically (see the file comment). Throws an IoError naming `path`. */
export async function writeFileAtomic(path: string, contents: FileContents, options: AtomicWriteOptions = {}): Promise<void> {
  const directory = dirname(path);
  // A random suffix keeps concurrent writers of the same target (two processes, or two calls in one)
  // from sharing a temporary file; the leading dot hides it from directory listings by `ls`.
  const temp = join(directory, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let handle: FileHandle | undefined;
  pending.add(temp);
  try {
    handle = await open(temp, 'wx', options.mode ?? 0o644);
    await writeContents(handle, contents);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, path);
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw new IoError(path, `write failed, nothing written: ${messageOf(err)}`, { cause: err });
  } finally {
    pending.delete(temp);
  }
  await syncDirectory(directory);
}

async function writeContents(handle: FileHandle, contents: FileContents): Promise<void> {
  if (typeof contents === 'string' || contents instanceof Uint8Array) {
    await handle.writeFile(contents);
    return;
  }
  for await (const chunk of contents) {
    // FileHandle.write may write less than asked; loop until the chunk is out.
    let offset = 0;
    while (offset < chunk.length) {
      const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
      offset += bytesWritten;
    }
  }
}

/** Makes a rename durable. Best effort: some platforms cannot open or fsync a directory. */
async function syncDirectory(directory: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(directory, 'r');
    await handle.sync();
  } catch {
    // EISDIR / EPERM / EINVAL on filesystems without directory fsync: the file is complete anyway.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
