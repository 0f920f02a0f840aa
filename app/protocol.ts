// Messages between the app's page (main.ts) and its worker (worker.ts). All GPU work, decoding,
// encoding and zipping happen in the worker; the page only draws and forwards the user's input.

import type { Stage } from '../src/browser.js';
import { WORLD_TRAIN_RECIPE } from '../src/train/world-recipe.js';

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
  | { type: 'zip' }
  /**
   * Train the segmenter on the seed masks the worker holds for `items` (the page's queue: id and
   * file name), validating on those of them with a ground-truth mask.
   */
  | { type: 'train'; items: { id: number; name: string }[]; settings: TrainRequest }
  /** Stop the training after the step in progress; best, last and curve cover the steps taken. */
  | { type: 'train-cancel' };

/**
 * The training settings the page offers. The rest are fixed: the small segmenter (widths 16, 32,
 * 64) with `seedmask train`'s defaults and the world recipe (src/train/world-recipe.ts): SGD
 * with momentum 0.9, weight decay 5e-4, poly power 0.9, classifier lr multiplier 1, DeepLab's
 * scales 0.5–1.5, random flips, ImageNet normalisation.
 */
export interface TrainRequest {
  steps: number;
  /** Images per step. */
  batch: number;
  /** Square training crop, pixels. */
  crop: number;
  /** Every image's longer side is first set to this; undefined: images as they are. */
  baseSize?: number;
  /** Base learning rate. */
  lr: number;
  /** Validate every this many steps (and after the last); 0: only after the last. */
  valEvery: number;
  /** Initial weights, data order and augmentation. */
  seed: number;
}

/** What the page's training inputs start with: the world recipe; 2000 steps, validated every 500 (`seedmask train`'s interval). */
export const TRAIN_DEFAULTS: Required<TrainRequest> = {
  steps: 2000,
  batch: WORLD_TRAIN_RECIPE.batch,
  crop: WORLD_TRAIN_RECIPE.crop,
  baseSize: WORLD_TRAIN_RECIPE.baseSize,
  lr: WORLD_TRAIN_RECIPE.lr,
  valEvery: 500,
  seed: WORLD_TRAIN_RECIPE.seed,
};

/** One file of a training run, as `seedmask train` names it in its run folder. */
export interface TrainFile {
  name: 'best.safetensors' | 'last.safetensors' | 'curve.json';
  blob: Blob;
}

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
  /** Training began: on `images` seed masks, validating on `validation` ground-truth masks; the queue's images left out and why. */
  | { type: 'train-started'; images: number; validation: number; leftOut: { name: string; reason: string }[]; steps: number; batch: number }
  /** Losses of steps first … first + losses.length − 1 (0-based); lr of the next step; seconds and steps of this run so far. */
  | { type: 'train-progress'; first: number; losses: number[]; steps: number; lr: number; seconds: number; stepsDone: number }
  /** A validation after step `iteration`; `best` when its mIoU beats every earlier one (`file` then holds best.safetensors). */
  | { type: 'train-validation'; iteration: number; miou: number; pixelAccuracy: number; images: number; best: boolean; file?: TrainFile }
  /** The run ended after `steps` steps (fewer than asked when cancelled): last.safetensors, curve.json and, with validation, best.safetensors. */
  | { type: 'train-done'; steps: number; cancelled: boolean; ms: number; files: TrainFile[] }
  | { type: 'error'; scope: 'weights' | 'label-set' | 'run' | 'gpu' | 'train'; message: string };
