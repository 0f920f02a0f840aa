// Reading and writing the io formats as files (Node). The codecs themselves (image.ts,
// labelpng.ts, npy.ts) work on bytes and touch no file system; these wrappers add the path to
// every error and write atomically (atomic.ts).

import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic.js';
import { IoError, messageOf } from './errors.js';
import { decodeImage, decodeSeedImage, type RgbaImage } from './image.js';
import { decodeLabelPng, encodeLabelPng, type LabelMap } from './labelpng.js';
import { decodeNpy, encodeNpy, type NpyArray } from './npy.js';

export async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new IoError(path, `cannot read: ${messageOf(err)}`, { cause: err });
  }
}

export async function readText(path: string): Promise<string> {
  return new TextDecoder().decode(await readBytes(path));
}

/** Reads and decodes a JPEG or PNG photo to RGBA8 (EXIF orientation ignored, greyscale → RGB). */
export async function readImage(path: string): Promise<RgbaImage> {
  return decodeImage(await readBytes(path), path);
}

/** An image file as CLIP-ES's steps read it (decodeSeedImage): PIL's pixels, and OpenCV's for the CRF where they differ. */
export async function readSeedImage(path: string): Promise<{ image: RgbaImage; crfImage?: RgbaImage }> {
  return decodeSeedImage(await readBytes(path), path);
}

/** Reads a label PNG (palette, greyscale or VOC-coloured RGB) to class ids. */
export async function readLabelMap(path: string): Promise<LabelMap> {
  return decodeLabelPng(await readBytes(path), path);
}

/** Writes a label map as a VOC-palette PNG, atomically. */
export async function writeLabelMap(path: string, map: LabelMap): Promise<void> {
  await writeFileAtomic(path, encodeLabelPng(map));
}

/** Reads a float32 .npy file. */
export async function readNpy(path: string): Promise<NpyArray> {
  return decodeNpy(await readBytes(path), path);
}

/** Writes a float32 .npy file atomically. */
export async function writeNpy(path: string, data: Float32Array, shape: readonly number[]): Promise<void> {
  await writeFileAtomic(path, encodeNpy(data, shape));
}
