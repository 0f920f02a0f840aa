// seedmask's input/output: photos (JPEG/PNG → RGBA8), VOC-palette label maps, float32 .npy,
// atomic writes and VOC-layout datasets. Codecs work on bytes (image, labelpng, npy, palette);
// files, atomic and voc are their Node file-system side.

export { writeFileAtomic, type AtomicWriteOptions, type FileContents } from './atomic.js';
export { IoError } from './errors.js';
export { readBytes, readImage, readLabelMap, readNpy, readText, writeLabelMap, writeNpy } from './files.js';
export { decodeImage, encodeJpeg, encodePng, sniffImageFormat, type ImageFormat, type RgbaImage } from './image.js';
export { decodeLabelPng, encodeLabelPng, type LabelMap } from './labelpng.js';
export { decodeNpy, encodeNpy, type NpyArray } from './npy.js';
export { VOC_PALETTE, vocColor, vocIndexOfColor } from './palette.js';
export { VOC_DIRS, parseSplitList, readSplitList, vocLayout, type VocLayout } from './voc.js';
