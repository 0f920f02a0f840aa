// Training checkpoints: one safetensors file with everything a run needs to continue exactly where
// it stopped, and nothing that would make a resumed run differ from an uninterrupted one.
//
//   model.<name>                 every model tensor (trainable and running statistics), PyTorch layout
//   optimizer.<param>.<buffer>   optimizer buffers (momentum_buffer; exp_avg, exp_avg_sq), 1-D, in
//                                the order the GPU holds them
//   losses                       the loss of every step so far, f32 (a NaN loss, e.g. of a batch
//                                whose pixels are all ignored, stays NaN)
//   __metadata__                 format, settings (JSON: the run's every option), iteration, per-
//                                parameter step counts, the validation history
//
// The data order and the augmentation of step i are pure functions of (settings.seed, i)
// (src/train/run.ts), so no random state needs saving: weights + optimizer state + iteration make
// the next step identical to the one the stopped run would have taken.
import { loadWeights, type WeightInput } from '../weights/index.js';
import { encodeSafetensors, f32Entry, type SafetensorsEntry } from '../weights/safetensors.js';
import type { OptimizerState } from './trainer.js';

/** The `format` metadata of a training checkpoint. */
export const CHECKPOINT_FORMAT = 'seedmask-train-checkpoint';

/** A checkpoint file that cannot be read as one (the message names the file). */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** A validation pass: the step after which it ran and its scores. */
export interface ValidationRecord {
  /** Steps taken when it ran. */
  iteration: number;
  /** Mean IoU over the classes present in the ground truth (VOC protocol), 0..1. */
  miou: number;
  /** 0..1. */
  pixelAccuracy: number;
  /** Validation images scored. */
  images: number;
}

/** Everything a run needs to continue where it stopped. */
export interface TrainCheckpoint<S = unknown> {
  /** The run's settings; a resumed run must bring the same. */
  settings: S;
  /** Model tensors by name, PyTorch layout. */
  weights: Map<string, Float32Array>;
  /** The trainer's state (iteration, step counts, buffers). */
  optimizer: OptimizerState;
  /** The loss of every step taken, in order (length = optimizer.iteration). */
  losses: number[];
  /** Every validation so far. */
  validation: ValidationRecord[];
  /** PyTorch shapes of the model tensors (filled by loadCheckpoint). */
  shapes?: Map<string, number[]>;
}

/** The checkpoint as safetensors bytes; `shapes` gives each model tensor's PyTorch shape. */
export async function encodeCheckpoint<S>(c: TrainCheckpoint<S>, shapes: ReadonlyMap<string, readonly number[]>): Promise<Uint8Array> {
  if (c.losses.length !== c.optimizer.iteration) throw new CheckpointError(`${c.losses.length} losses for ${c.optimizer.iteration} steps`);
  const entries: SafetensorsEntry[] = [];
  for (const [name, data] of c.weights) {
    const shape = shapes.get(name);
    if (!shape) throw new CheckpointError(`no shape for model tensor '${name}'`);
    entries.push(f32Entry(`model.${name}`, data, shape));
  }
  for (const [name, data] of c.optimizer.buffers) entries.push(f32Entry(`optimizer.${name}`, data, [data.length]));
  entries.push(f32Entry('losses', Float32Array.from(c.losses), [c.losses.length]));
  return encodeSafetensors(entries, {
    format: CHECKPOINT_FORMAT,
    settings: JSON.stringify(c.settings),
    iteration: String(c.optimizer.iteration),
    steps: JSON.stringify(c.optimizer.steps),
    validation: JSON.stringify(c.validation),
  });
}

function parseJson<T>(file: string, key: string, text: string | undefined): T {
  if (text === undefined) throw new CheckpointError(`${file}: the checkpoint has no '${key}' in its metadata`);
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new CheckpointError(`${file}: metadata '${key}' is not valid JSON (${(err as Error).message})`);
  }
}

/** Reads a checkpoint written by encodeCheckpoint. */
export async function loadCheckpoint<S = unknown>(input: WeightInput): Promise<TrainCheckpoint<S>> {
  const file = await loadWeights(input);
  try {
    const name = file.name;
    if (file.metadata.format !== CHECKPOINT_FORMAT) throw new CheckpointError(`${name} is not a seedmask training checkpoint (format '${file.metadata.format ?? 'none'}')`);
    const iteration = Number(file.metadata.iteration);
    if (!Number.isInteger(iteration) || iteration < 0) throw new CheckpointError(`${name}: iteration '${file.metadata.iteration}' is not a non-negative integer`);
    const steps = parseJson<number[]>(name, 'steps', file.metadata.steps);
    if (!Array.isArray(steps)) throw new CheckpointError(`${name}: metadata 'steps' is not a list`);
    if (!file.has('losses')) throw new CheckpointError(`${name}: the checkpoint has no 'losses' tensor`);
    // Raw bytes: a NaN loss is a fact of the run, where a NaN weight would be refused (getF32).
    if (file.info('losses').dtype !== 'F32') throw new CheckpointError(`${name}: 'losses' is ${file.info('losses').dtype}, not F32`);
    const raw = await file.getRaw('losses');
    const losses = Array.from(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)));
    if (losses.length !== iteration) throw new CheckpointError(`${name}: ${losses.length} losses for ${iteration} steps`);
    const weights = new Map<string, Float32Array>();
    const shapes = new Map<string, number[]>();
    const buffers = new Map<string, Float32Array>();
    for (const key of file.keys) {
      if (key === 'losses') continue;
      if (key.startsWith('model.')) {
        weights.set(key.slice(6), await file.getF32(key));
        shapes.set(key.slice(6), [...file.info(key).shape]);
      } else if (key.startsWith('optimizer.')) buffers.set(key.slice(10), await file.getF32(key));
      else throw new CheckpointError(`${name}: unexpected tensor '${key}'`);
    }
    return {
      settings: parseJson<S>(name, 'settings', file.metadata.settings),
      weights,
      optimizer: { iteration, steps, buffers },
      losses,
      validation: parseJson<ValidationRecord[]>(name, 'validation', file.metadata.validation),
      shapes,
    };
  } finally {
    await file.close();
  }
}
