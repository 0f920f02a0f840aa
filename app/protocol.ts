// Messages between the app's page (main.ts) and its worker (worker.ts). All GPU work, decoding,
// encoding and zipping happen in the worker; the page only draws and forwards the user's input.

import type { Stage } from '../src/browser.js';

/** Where the weights come from: the bundled world CLIP, or files the user picked (one file, or a folder's files). */
export type WeightSource = { kind: 'world' } | { kind: 'files'; files: File[] };

/** One image to process; labels typed by the user, or the classes of its ground-truth mask. */
export interface RunItem {
  id: number;
  name: string;
  file: File;
  labels?: string;
  mask?: File;
}

export type ToWorker =
  /** First message: the page's base URL (the bundled world CLIP and vocabulary sit beside the page), and load cached weights if any. */
  | { type: 'restore'; base: string }
  | { type: 'load-weights'; source: WeightSource }
  | { type: 'label-set'; name: 'voc' | 'coco' | 'world' | 'file'; file?: File }
  /** camSource: one of the sources the worker announced ('cam-sources'). */
  | { type: 'run'; items: RunItem[]; camSource: string; output?: FileSystemDirectoryHandle }
  | { type: 'cancel' }
  | { type: 'zip' };

export interface ImageResult {
  id: number;
  name: string;
  width: number;
  height: number;
  /** The decoded photo, RGBA8. */
  rgba: Uint8Array;
  /** Label maps per stage (0 background, class + 1, 255 ignore). */
  stages: Partial<Record<Stage, Uint8Array>>;
  /** [label name, probability] for each label of the image. */
  probabilities: [string, number][];
  /** Milliseconds per step (text, gradcam, caa, crf, total, decode, files). */
  timings: Record<string, number>;
}

export type FromWorker =
  /** Sent once at start: the CAM sources the pipeline offers, the first the default. */
  | { type: 'cam-sources'; sources: { name: string; label: string; description: string }[] }
  | { type: 'progress'; phase: string; done?: number; total?: number }
  | { type: 'weights-ready'; name: string; from: 'world' | 'files' | 'cache'; ms: number; bytes: number }
  | { type: 'no-cache' }
  | { type: 'weights-cached' }
  | { type: 'label-set-ready'; name: string; classes: string[] }
  | { type: 'image-done'; result: ImageResult }
  | { type: 'image-skipped'; id: number; name: string; reason: string }
  | { type: 'image-failed'; id: number; name: string; message: string }
  /** The GPU device was lost and the weights were loaded again on a new one (ms: how long that took). */
  | { type: 'device-restored'; ms: number }
  /** error: the GPU device was lost and could not be replaced, which ended the run (the weights are gone with it). */
  | { type: 'run-done'; done: number; skipped: number; failed: number; deviceLosses: number; cancelled: boolean; ms: number; error?: string }
  | { type: 'zip'; blob: Blob; files: number }
  | { type: 'error'; scope: 'weights' | 'label-set' | 'run' | 'gpu'; message: string };
