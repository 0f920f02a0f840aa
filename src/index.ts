// seedmask for Node: the shared API (src/api.ts) plus what needs a file system. Shaders and the
// JPEG decoder's WebAssembly are read from the package's own files.
export * from './api.js';

// Files
/** Read and write images, label maps and .npy files; every write is atomic. */
export { readImage, readSeedImage, readLabelMap, readNpy, readBytes, readText, writeLabelMap, writeNpy } from './io/files.js';
export { writeFileAtomic } from './io/atomic.js';
export { vocLayout, readSplitList, parseSplitList } from './io/voc.js';
export type { VocLayout } from './io/voc.js';
/** A folder or file path of weights to the weight file itself (Hugging Face folders). */
export { resolveWeightPath, FOLDER_WEIGHT_FILES } from './weights/index.js';
/** A CLIP vocabulary from disk, and OpenAI's, which seedmask ships. */
export { loadClipTokenizer, BUNDLED_CLIP_VOCAB } from './models/clip/tokenizer-node.js';
/** A label set from a JSON file or a built-in name. */
export { loadLabelSet } from './wsss/labelset.js';
/** The seed files of one image: seed PNG, overlay, one .npy CAM per label. */
export { writeSeedOutputs } from './wsss/outputs.js';
/** Scores a folder of predicted label PNGs against ground truth. */
export { evaluateDirectory, formatScoreTable } from './eval/evaluate.js';
/** The synthetic VOC-layout world: images, masks, captions, label set. */
export { generateWorld, generateImage, worldLabelSetJson } from './world/generate.js';
