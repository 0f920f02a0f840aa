// The 20-step training equivalence against PyTorch (test/train/equivalence.test.ts,
// weights/make_train_equivalence.py): the settings, and the writer of its inputs file.
//
// test/fixtures/train-equivalence/inputs.safetensors holds what both sides start from: the
// segmenter's initial weights as seedmask initialises them (PyTorch names and layouts), the batch
// images (normalised, f32) and labels (u8, 255 void), and these settings as JSON in the metadata
// ('settings'), which the Python script reads. Regenerate it with
//
//     npx tsx test/train/make-equivalence-inputs.ts
//
// then the references with /usr/bin/python3 weights/make_train_equivalence.py.
import { stackSamples, worldSample } from './world-samples.js';
import { initSegmenter, segmenterSpecs, type SegmenterConfig } from '../../src/train/segmenter.js';
import { encodeSafetensors, type SafetensorsEntry } from '../../src/weights/safetensors.js';

export const FIXTURE_DIR = new URL('../fixtures/train-equivalence/', import.meta.url);

export interface EquivalenceSettings {
  config: SegmenterConfig;
  /** initSegmenter's seed. */
  initSeed: number;
  /** World seed and the train images used, [height, width] they are reduced to. */
  worldSeed: number;
  images: number[];
  size: [number, number];
  /** Step k trains on batches[k % batches.length] (indices into `images`). */
  batches: number[][];
  steps: number;
  /** SGD as the trainer runs it: poly schedule over `steps`, classifier at headLrMult × lr. */
  lr: number;
  momentum: number;
  weightDecay: number;
  power: number;
  headLrMult: number;
  bnEps: number;
  bnMomentum: number;
}

export const SETTINGS: EquivalenceSettings = {
  config: { classes: 11, widths: [8, 16, 32] },
  initSeed: 7,
  worldSeed: 1,
  images: [0, 5, 6, 3],
  size: [48, 64],
  batches: [[0, 1], [2, 3]],
  steps: 20,
  lr: 0.005,
  momentum: 0.9,
  weightDecay: 5e-4,
  power: 0.9,
  headLrMult: 10,
  bnEps: 1e-5,
  bnMomentum: 0.1,
};

/** The batch images and labels as stored: [images, 3, H, W] and [images, H, W]. */
export function equivalenceData(s: EquivalenceSettings = SETTINGS): { images: Float32Array; labels: Uint8Array; shape: [number, number, number] } {
  return stackSamples(s.images.map((i) => worldSample(s.worldSeed, i, 'train', s.size[0], s.size[1])));
}

export async function encodeEquivalenceInputs(s: EquivalenceSettings = SETTINGS): Promise<Uint8Array> {
  const weights = initSegmenter(s.config, s.initSeed);
  const data = equivalenceData(s);
  const bytes = (a: Float32Array | Uint8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const entries: SafetensorsEntry[] = segmenterSpecs(s.config).map((spec) => ({ name: spec.name, dtype: 'F32', shape: spec.shape, data: bytes(weights.get(spec.name)!) }));
  entries.push({ name: 'batch.images', dtype: 'F32', shape: [s.images.length, 3, ...s.size], data: bytes(data.images) });
  entries.push({ name: 'batch.labels', dtype: 'U8', shape: [s.images.length, ...s.size], data: bytes(data.labels) });
  return encodeSafetensors(entries, { settings: JSON.stringify(s), generator: 'test/train/make-equivalence-inputs.ts' });
}
