// What the trainer needs of a model: its parameters (with gradient buffers and a role that decides
// weight decay and learning-rate multipliers), a forward on a tape, and its tensors back on the host.
import type { Gpu } from '../gpu/context.js';
import type { Param, Tape, Var } from './autodiff.js';

export type TensorRole = 'conv' | 'classifier' | 'bias' | 'bn_weight' | 'bn_bias' | 'running_mean' | 'running_var';

export interface TensorSpec {
  name: string;
  /** PyTorch's shape. */
  shape: number[];
  role: TensorRole;
}

/** The outputs a model trains on (TrainableModel.trainOutputs). */
export interface TrainOutputs {
  /**
   * Logits [N, classes, h, w], each trained by its own cross-entropy against the batch labels
   * resized to its h×w by PIL's nearest rule (as given where h×w is the batch's size); the losses
   * are summed.
   */
  logits: Var[];
  /** Releases what the outputs hold besides the tape (e.g. resized inputs): called after backward. */
  release?(): void;
}

export interface TrainableModel {
  readonly gpu: Gpu;
  readonly config: { readonly classes: number; readonly inChannels: number };
  /** Trainable parameters in a fixed order (the optimizer's and the checkpoints'). */
  readonly params: readonly Param[];
  /** Every tensor of the model (trainable and buffers) with its PyTorch shape and role. */
  readonly tensorSpecs: readonly TensorSpec[];
  /** Logits [N, classes, H, W] at the input's size for images x [N, inChannels, H, W]. */
  forward(tape: Tape, x: Var): Promise<Var>;
  /**
   * The training objective's outputs where it is not `forward` against the batch labels (several
   * outputs, or outputs below the input's resolution). Absent: the trainer trains `forward`.
   */
  trainOutputs?(tape: Tape, x: Var): Promise<TrainOutputs>;
  /** Every tensor of tensorSpecs on the host, in PyTorch's layout. */
  download(): Promise<Map<string, Float32Array>>;
  /** Overwrites every tensor of tensorSpecs from host values in PyTorch's layout (a resumed run). */
  upload(weights: ReadonlyMap<string, Float32Array>): void;
  release(): void;
}
