// PyTorch zip archives: `torch.save` files (.pt/.pth/.bin, since PyTorch 1.6) and TorchScript
// archives (`torch.jit.save`, e.g. OpenAI's ViT-B-16.pt). Both hold, under one top-level folder,
// `data.pkl` (the pickled object) and `data/<key>` (one raw little-endian storage per key). A
// tensor is a strided view (offset, size, stride) into a storage, and several tensors may share a
// storage (views, tied weights), so each tensor records its own byte offset and strides.
// See docs/algorithms.md §1.7.
//
// Everything is validated when the file is opened: the pickle runs (safely, see unpickle.ts), every
// referenced storage must exist, be stored uncompressed, be large enough for its element count,
// and every view must stay inside its storage. Tensors are then read lazily.

import { DTYPE_SIZE } from './dtype.js';
import { WeightFileError, listSome } from './errors.js';
import type { ByteSource } from './source.js';
import { flattenTensors, unpickle, type StorageRef } from './unpickle.js';
import { TensorStore, numel, stridedSpan, type LoadOptions, type StoredTensor, type WeightFile } from './weightfile.js';
import { entryDataOffset, readEntry, readZipDirectory, type ZipEntry } from './zip.js';

export async function openTorchZip(source: ByteSource, options: LoadOptions = {}): Promise<WeightFile> {
  const file = source.name;
  const entries = await readZipDirectory(source);

  // The pickle sits at '<prefix>/data.pkl'; prefer the shallowest one (TorchScript archives may
  // also contain pickles deeper down, e.g. under code/).
  const pkls = [...entries.keys()].filter((n) => n === 'data.pkl' || n.endsWith('/data.pkl')).sort((a, b) => a.split('/').length - b.split('/').length);
  if (pkls.length === 0) {
    throw new WeightFileError(file, `zip archive has no data.pkl, so it is not a PyTorch checkpoint (entries: ${listSome([...entries.keys()], 8)})`);
  }
  const pklName = pkls[0]!;
  const prefix = pklName.slice(0, pklName.length - 'data.pkl'.length); // '' or 'name/'
  const has = (suffix: string): boolean => entries.has(prefix + suffix);
  const torchScript = has('constants.pkl') || [...entries.keys()].some((n) => n.startsWith(`${prefix}code/`));

  // Newer writers record the byte order; storages are raw memory of the saving machine.
  const byteorder = entries.get(`${prefix}byteorder`);
  if (byteorder) {
    const order = new TextDecoder().decode(await readEntry(source, byteorder)).trim();
    if (order !== 'little') throw new WeightFileError(file, `archive was saved on a '${order}'-endian machine; only little-endian storages are supported`);
  }

  const root = unpickle(await readEntry(source, entries.get(pklName)!), { file, entry: pklName, torchScriptClasses: torchScript });
  const leaves = flattenTensors(root, file);

  // Resolve storages once each: several tensors may reference the same one.
  const storages = new Map<string, { ref: StorageRef; entry: ZipEntry; dataStart: number }>();
  const problems: string[] = [];
  const storageOf = async (ref: StorageRef, key: string): Promise<number | undefined> => {
    const known = storages.get(ref.key);
    if (known) {
      if (known.ref.dtype !== ref.dtype) {
        problems.push(`storage '${ref.key}' is used as both ${known.ref.dtype} and ${ref.dtype} (tensor '${key}')`);
        return undefined;
      }
      return known.dataStart;
    }
    const entry = entries.get(`${prefix}data/${ref.key}`);
    if (!entry) {
      problems.push(`tensor '${key}': storage entry '${prefix}data/${ref.key}' is missing from the archive`);
      return undefined;
    }
    if (entry.method !== 0 || entry.encrypted) {
      problems.push(
        `storage '${entry.name}' is compressed or encrypted (method ${entry.method}); PyTorch writes storages uncompressed, so the archive was re-packed by another tool`,
      );
      return undefined;
    }
    const bytes = ref.numel * DTYPE_SIZE[ref.dtype];
    if (entry.size < bytes) {
      problems.push(`storage '${entry.name}' holds ${entry.size} bytes but ${ref.numel} ${ref.dtype} elements need ${bytes} (truncated or corrupt)`);
      return undefined;
    }
    const dataStart = await entryDataOffset(source, entry);
    storages.set(ref.key, { ref, entry, dataStart });
    return dataStart;
  };

  const tensors = new Map<string, StoredTensor>();
  for (const [key, t] of leaves) {
    const start = await storageOf(t.storage, key);
    if (start === undefined) continue;
    const span = stridedSpan(t.shape, t.stride);
    if (!Number.isSafeInteger(span) || !Number.isSafeInteger(numel(t.shape))) {
      problems.push(`tensor '${key}': size ${JSON.stringify(t.shape)} is absurdly large`);
      continue;
    }
    if (span > 0 && t.storageOffset + span > t.storage.numel) {
      problems.push(
        `tensor '${key}': view (offset ${t.storageOffset}, size ${JSON.stringify(t.shape)}, stride ${JSON.stringify(t.stride)}) reaches element ${t.storageOffset + span - 1} of a ${t.storage.numel}-element storage`,
      );
      continue;
    }
    tensors.set(key, {
      dtype: t.storage.dtype,
      shape: t.shape,
      stride: t.stride,
      byteOffset: start + t.storageOffset * DTYPE_SIZE[t.storage.dtype],
    });
  }
  if (problems.length > 0) {
    throw new WeightFileError(file, `invalid PyTorch archive: ${problems.length} problem(s): ${listSome(problems, 10)}`);
  }
  return new TensorStore(source, torchScript ? 'torchscript' : 'torch-zip', tensors, {}, options);
}

/** True when the bytes look like a pre-1.6 torch.save file or a bare pickle (both start with PROTO). */
export function isLegacyPickleMagic(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5;
}
