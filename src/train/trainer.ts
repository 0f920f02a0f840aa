// Training steps for the segmenter (src/train/segmenter.ts): forward on a tape, softmax
// cross-entropy (ignore 255, optional class weights), backward, and one optimizer step per
// parameter, all recorded on the GPU; the loss is read back when asked (every step, or every k
// steps in one read-back), so steps pipeline without waiting for the device.
//
// Optimizers as DeepLab trains: SGD with momentum, weight decay and the poly learning rate
// lr·(1 − iter/maxIter)^0.9 (iter from 0 at the first step); AdamW as an option. Parameter groups
// as DeepLab's: weight decay on convolution weights only (not on BN's γ, β or biases), and the
// classifier (weight and bias) at `headLrMult` times the rate (DeepLab: 10; default 1).
// Semantics and order of operations are torch.optim's single-tensor paths (src/kernels/train/optim.ts);
// a parameter that received no gradient in a step is skipped, as torch skips a None .grad.
import type { Gpu } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';
import { channelArgmax } from '../kernels/pool.js';
import { adamwStep, polyLr, sgdStep } from '../kernels/train/optim.js';
import { Tape, type Param } from './autodiff.js';
import type { SegmenterModel, TensorRole } from './segmenter.js';

export type OptimizerOptions =
  | { kind: 'sgd'; lr: number; momentum?: number; weightDecay?: number; nesterov?: boolean; dampening?: number }
  | { kind: 'adamw'; lr: number; betas?: readonly [number, number]; eps?: number; weightDecay?: number };

export interface TrainerOptions {
  optimizer: OptimizerOptions;
  /** The poly schedule's length in steps; omit for a constant learning rate. */
  maxIter?: number;
  /** Poly power. Default 0.9. */
  power?: number;
  /** Learning-rate multiplier of the classifier. Default 1. */
  headLrMult?: number;
  /** Default 255. */
  ignoreIndex?: number;
  /** Per-class loss weights (torch's CrossEntropyLoss weight). */
  classWeights?: Float32Array;
}

/** A batch: images [N, C, H, W] f32 (normalised), labels [N, H, W] (bytes or u32; ignoreIndex skipped). */
export interface Batch {
  images: Float32Array;
  labels: Uint8Array | Uint32Array;
  /** [N, H, W]. */
  shape: readonly [number, number, number];
}

export class TrainerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainerError';
  }
}

interface ParamState {
  param: Param;
  lrMult: number;
  decay: boolean;
  /** Steps taken (torch's per-parameter state['step']). */
  steps: number;
  buf?: Tensor;
  expAvg?: Tensor;
  expAvgSq?: Tensor;
}

/** Labels as the loss kernel reads them: u32 per pixel, or bytes packed four per u32 word. */
export function labelWords(labels: Uint8Array | Uint32Array): { words: Uint32Array; layout: 'u32' | 'u8x4' } {
  if (labels instanceof Uint32Array) return { words: labels, layout: 'u32' };
  const words = new Uint32Array(Math.ceil(labels.length / 4));
  const bytes = new Uint8Array(words.buffer);
  bytes.set(labels);
  return { words, layout: 'u8x4' };
}

const DEFAULT_DECAY = { sgd: 5e-4, adamw: 1e-2 } as const;

export class SegmenterTrainer {
  /** Steps taken. */
  iteration = 0;
  private readonly states: ParamState[];
  private readonly pending: { iteration: number; loss: Tensor }[] = [];
  private readonly classWeights: Tensor | undefined;
  private released = false;

  constructor(
    readonly model: SegmenterModel,
    readonly options: TrainerOptions,
  ) {
    const o = options.optimizer;
    if (o.kind !== 'sgd' && o.kind !== 'adamw') throw new TrainerError(`unknown optimizer '${String((o as { kind: unknown }).kind)}' (known: sgd, adamw)`);
    if (!(o.lr >= 0 && Number.isFinite(o.lr))) throw new TrainerError(`lr = ${o.lr} must be a finite non-negative number`);
    if (options.maxIter !== undefined && !(Number.isInteger(options.maxIter) && options.maxIter >= 1)) throw new TrainerError(`maxIter = ${options.maxIter} must be a positive integer`);
    const gpu = model.gpu;
    const roles = new Map(model.tensorSpecs.map((s) => [s.name, s.role] as [string, TensorRole]));
    const headMult = options.headLrMult ?? 1;
    const momentum = o.kind === 'sgd' ? (o.momentum ?? 0.9) : 0;
    // Optimizer state is allocated up front: the pool's live bytes stay flat from the first step on.
    this.states = model.params.map((param) => {
      const role = roles.get(param.name)!;
      const s: ParamState = { param, lrMult: role === 'classifier' || role === 'bias' ? headMult : 1, decay: role === 'conv' || role === 'classifier', steps: 0 };
      if (o.kind === 'sgd' && momentum !== 0) s.buf = gpu.empty(param.value.shape, 'f32', `${param.name} momentum`);
      if (o.kind === 'adamw') {
        s.expAvg = gpu.upload(new Float32Array(param.value.size), param.value.shape, 'f32', `${param.name} exp_avg`);
        s.expAvgSq = gpu.upload(new Float32Array(param.value.size), param.value.shape, 'f32', `${param.name} exp_avg_sq`);
      }
      return s;
    });
    if (options.classWeights) {
      if (options.classWeights.length !== model.config.classes) throw new TrainerError(`${options.classWeights.length} class weights for ${model.config.classes} classes`);
      this.classWeights = gpu.upload(options.classWeights, [model.config.classes], 'f32', 'class weights');
    }
  }

  /** The base learning rate of step `iteration` (from 0). */
  lrAt(iteration: number): number {
    const { optimizer, maxIter, power } = this.options;
    if (maxIter === undefined) return optimizer.lr;
    if (iteration >= maxIter) throw new TrainerError(`step ${iteration + 1} is past the schedule's ${maxIter} steps`);
    return polyLr(optimizer.lr, iteration, maxIter, power ?? 0.9);
  }

  private checkBatch(batch: Batch): [number, number, number] {
    const [n, h, w] = batch.shape;
    const c = this.model.config.inChannels;
    if (![n, h, w].every((d) => Number.isInteger(d) && d >= 1)) throw new TrainerError(`batch shape [${batch.shape.join(', ')}] must be positive integers [N, H, W]`);
    if (batch.images.length !== n * c * h * w) throw new TrainerError(`${batch.images.length} image values for [${n}, ${c}, ${h}, ${w}]`);
    if (batch.labels.length !== n * h * w) throw new TrainerError(`${batch.labels.length} labels for [${n}, ${h}, ${w}]`);
    return [n, h, w];
  }

  /**
   * One training step on `batch`: forward, loss, backward, optimizer. Nothing is read back; the
   * step's loss waits for readLosses().
   */
  async step(batch: Batch): Promise<void> {
    if (this.released) throw new TrainerError('the trainer was released');
    const gpu = this.model.gpu;
    const [n, h, w] = this.checkBatch(batch);
    const lr = this.lrAt(this.iteration);
    const { words, layout } = labelWords(batch.labels);
    const images = gpu.upload(batch.images, [n, this.model.config.inChannels, h, w], 'f32', 'batch images');
    const labels = gpu.upload(words, [words.length], 'u32', 'batch labels');
    const tape = new Tape(gpu);
    let loss: Tensor | undefined;
    try {
      const logits = await this.model.forward(tape, tape.input(images));
      loss = await tape.crossEntropy(logits, labels, { ignoreIndex: this.options.ignoreIndex ?? 255, labelLayout: layout, classWeights: this.classWeights });
      const updated = await tape.backward();
      await this.optimize(gpu, updated, lr);
    } catch (err) {
      tape.dispose();
      if (loss) gpu.release(loss);
      throw err;
    } finally {
      gpu.release(images, labels);
    }
    this.pending.push({ iteration: this.iteration, loss });
    this.iteration++;
  }

  private async optimize(gpu: Gpu, updated: Set<Param>, baseLr: number): Promise<void> {
    const o = this.options.optimizer;
    for (const s of this.states) {
      if (!updated.has(s.param)) continue;
      s.steps++;
      const lr = baseLr * s.lrMult;
      if (o.kind === 'sgd') {
        await sgdStep(gpu, s.param.value, s.param.grad, { momentumBuffer: s.buf, step: s.steps }, {
          lr, momentum: o.momentum ?? 0.9, dampening: o.dampening ?? 0, nesterov: o.nesterov ?? false,
          weightDecay: s.decay ? (o.weightDecay ?? DEFAULT_DECAY.sgd) : 0,
        });
      } else {
        await adamwStep(gpu, s.param.value, s.param.grad, { expAvg: s.expAvg!, expAvgSq: s.expAvgSq!, step: s.steps }, {
          lr, betas: o.betas, eps: o.eps, weightDecay: s.decay ? (o.weightDecay ?? DEFAULT_DECAY.adamw) : 0,
        });
      }
    }
  }

  /** Mean losses of the steps taken since the last call, in order (one read-back for all). */
  async readLosses(): Promise<number[]> {
    const pending = this.pending.splice(0);
    if (pending.length === 0) return [];
    const gpu = this.model.gpu;
    try {
      const data = (await gpu.readMany(pending.map((p) => p.loss))) as Float32Array[];
      return data.map((d) => d[0]!);
    } finally {
      gpu.release(...pending.map((p) => p.loss));
    }
  }

  /**
   * `steps` steps on batchAt(iteration), reading the losses back every `readEvery` steps (and at
   * the end); `onLosses` sees each read. Returns every step's loss.
   */
  async train(batchAt: (iteration: number) => Batch, steps: number, opts: { readEvery?: number; onLosses?: (first: number, losses: number[]) => void } = {}): Promise<number[]> {
    const every = opts.readEvery ?? 1;
    if (!Number.isInteger(every) || every < 1) throw new TrainerError(`readEvery = ${every} must be a positive integer`);
    const all: number[] = [];
    for (let k = 0; k < steps; k++) {
      await this.step(batchAt(this.iteration));
      if ((k + 1) % every === 0 || k === steps - 1) {
        const first = this.iteration - this.pending.length;
        const losses = await this.readLosses();
        opts.onLosses?.(first, losses);
        all.push(...losses);
      }
    }
    return all;
  }

  /** Predicted classes [N, H, W] (u32) of normalised images [N, C, H, W], BN with running statistics. */
  async predict(images: Float32Array, shape: readonly [number, number, number]): Promise<Uint32Array> {
    const gpu = this.model.gpu;
    const [n, h, w] = shape;
    if (images.length !== n * this.model.config.inChannels * h * w) throw new TrainerError(`${images.length} image values for [${n}, ${this.model.config.inChannels}, ${h}, ${w}]`);
    const x = gpu.upload(images, [n, this.model.config.inChannels, h, w], 'f32', 'predict images');
    const tape = new Tape(gpu, { training: false, grad: false });
    let logits: Tensor;
    try {
      logits = tape.keep(await this.model.forward(tape, tape.input(x)));
    } finally {
      tape.dispose();
      gpu.release(x);
    }
    const classes = await channelArgmax(gpu, logits);
    gpu.release(logits);
    try {
      return (await gpu.read(classes)) as Uint32Array;
    } finally {
      gpu.release(classes);
    }
  }

  /** Releases the optimizer state, the class weights and unread losses (not the model). */
  release(): void {
    if (this.released) return;
    this.released = true;
    const gpu = this.model.gpu;
    for (const s of this.states) for (const t of [s.buf, s.expAvg, s.expAvgSq]) if (t) gpu.release(t);
    if (this.classWeights) gpu.release(this.classWeights);
    gpu.release(...this.pending.splice(0).map((p) => p.loss));
  }
}
