// Training steps for the segmenter (src/train/segmenter.ts): forward on a tape, softmax
// cross-entropy (ignore 255, optional class weights), backward, and one optimizer step per
// parameter, all recorded on the GPU; the loss is read back when asked (every step, or every k
// steps in one read-back), so steps pipeline without waiting for the device.
//
// Optimizers as DeepLab trains: SGD with momentum, weight decay and the poly learning rate
// lr·(1 − iter/maxIter)^0.9 (iter from 0 at the first step), optionally as a staircase recomputed
// every `lrDecayEvery` steps (deeplab-pytorch's PolynomialLR, LR_DECAY 10); AdamW as an option.
// Parameter groups as DeepLab's: weight decay on convolution and classifier weights only (not on
// BN's γ, β or biases), the classifier's weights at `headLrMult` times the rate and the biases at
// `biasLrMult` (deeplab-pytorch's DeepLab-v2: 10 and 20; default both headLrMult, default 1).
// Semantics and order of operations are torch.optim's single-tensor paths (src/kernels/train/optim.ts);
// a parameter that received no gradient in a step is skipped, as torch skips a None .grad.
//
// Objective. A model's `forward` logits against the batch labels, or, where the model defines
// trainOutputs (DeepLab-v2's multi-scale outputs), one cross-entropy per output against the labels
// resized to its size by PIL's nearest rule, summed. With `iterSize` k a step takes k sub-batches,
// each on its own tape with its losses scaled by 1/k, their gradients summed in the parameters'
// gradient buffers before the one optimizer step (deeplab-pytorch's ITER_SIZE). A step is whole
// within stepOn: the checkpointed state (exportState: iteration, per-parameter step counts and
// buffers) is all a resumed run needs, the staircase's rate being a function of the iteration.
import type { Gpu } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';
import { ceilDiv } from '../gpu/kernel.js';
import { channelArgmax } from '../kernels/pool.js';
import { augmentLabelsKernel, nearestAxis, packLabelBytes } from '../kernels/train/augment.js';
import { adamwStep, polyLr, sgdStep } from '../kernels/train/optim.js';
import type { LabelLayout } from '../kernels/train/loss.js';
import { Tape, type Param, type Var } from './autodiff.js';
import type { TensorRole, TrainableModel } from './model.js';

export type OptimizerOptions =
  | { kind: 'sgd'; lr: number; momentum?: number; weightDecay?: number; nesterov?: boolean; dampening?: number }
  | { kind: 'adamw'; lr: number; betas?: readonly [number, number]; eps?: number; weightDecay?: number };

export interface TrainerOptions {
  optimizer: OptimizerOptions;
  /** The poly schedule's length in steps; omit for a constant learning rate. */
  maxIter?: number;
  /** Poly power. Default 0.9. */
  power?: number;
  /** Learning-rate multiplier of the classifier's weights (role 'classifier'), and of the biases unless biasLrMult is given. Default 1. */
  headLrMult?: number;
  /** Learning-rate multiplier of the biases (role 'bias'). Default headLrMult. */
  biasLrMult?: number;
  /**
   * The poly rate is recomputed every this many steps (a staircase: step k runs at the rate of step
   * lrDecayEvery·⌊k/lrDecayEvery⌋). Default 1.
   */
  lrDecayEvery?: number;
  /** Sub-batches per step, their gradients summed with each loss scaled by 1/iterSize. Default 1. */
  iterSize?: number;
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

/** A batch on the GPU: images [N, C, H, W] f32 and N·H·W labels as u32 or packed bytes. */
export interface GpuBatch {
  images: Tensor;
  labels: Tensor;
  layout: LabelLayout;
}

/** Optimizer state on the host: per-parameter buffers by `<param>.<buffer>` name, and step counts. */
export interface OptimizerState {
  iteration: number;
  /** torch's per-parameter state['step'], in the model's parameter order. */
  steps: number[];
  /** `<param name>.momentum_buffer` (SGD) or `.exp_avg`, `.exp_avg_sq` (AdamW), in the kernels' layout. */
  buffers: Map<string, Float32Array>;
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
  return { words: packLabelBytes(labels), layout: 'u8x4' };
}

const DEFAULT_DECAY = { sgd: 5e-4, adamw: 1e-2 } as const;

export class SegmenterTrainer {
  /** Steps taken. */
  iteration = 0;
  private readonly states: ParamState[];
  /** Per step its loss tensors, whose first values times `scale` sum to the step's loss. */
  private readonly pending: { iteration: number; losses: Tensor[]; scale: number }[] = [];
  readonly iterSize: number;
  private readonly classWeights: Tensor | undefined;
  private released = false;

  constructor(
    readonly model: TrainableModel,
    readonly options: TrainerOptions,
  ) {
    const o = options.optimizer;
    if (o.kind !== 'sgd' && o.kind !== 'adamw') throw new TrainerError(`unknown optimizer '${String((o as { kind: unknown }).kind)}' (known: sgd, adamw)`);
    if (!(o.lr >= 0 && Number.isFinite(o.lr))) throw new TrainerError(`lr = ${o.lr} must be a finite non-negative number`);
    if (options.maxIter !== undefined && !(Number.isInteger(options.maxIter) && options.maxIter >= 1)) throw new TrainerError(`maxIter = ${options.maxIter} must be a positive integer`);
    for (const key of ['lrDecayEvery', 'iterSize'] as const) {
      const v = options[key];
      if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new TrainerError(`${key} = ${v} must be a positive integer`);
    }
    for (const key of ['headLrMult', 'biasLrMult'] as const) {
      const v = options[key];
      if (v !== undefined && !(v >= 0 && Number.isFinite(v))) throw new TrainerError(`${key} = ${v} must be a finite non-negative number`);
    }
    if (options.classWeights && options.classWeights.length !== model.config.classes) throw new TrainerError(`${options.classWeights.length} class weights for ${model.config.classes} classes`);
    this.iterSize = options.iterSize ?? 1;
    const gpu = model.gpu;
    const roles = new Map(model.tensorSpecs.map((s) => [s.name, s.role] as [string, TensorRole]));
    const headMult = options.headLrMult ?? 1;
    const biasMult = options.biasLrMult ?? headMult;
    const momentum = o.kind === 'sgd' ? (o.momentum ?? 0.9) : 0;
    // Optimizer state is allocated up front: the pool's live bytes stay flat from the first step on.
    this.states = model.params.map((param) => {
      const role = roles.get(param.name)!;
      const s: ParamState = { param, lrMult: role === 'classifier' ? headMult : role === 'bias' ? biasMult : 1, decay: role === 'conv' || role === 'classifier', steps: 0 };
      if (o.kind === 'sgd' && momentum !== 0) s.buf = gpu.empty(param.value.shape, 'f32', `${param.name} momentum`);
      if (o.kind === 'adamw') {
        s.expAvg = gpu.upload(new Float32Array(param.value.size), param.value.shape, 'f32', `${param.name} exp_avg`);
        s.expAvgSq = gpu.upload(new Float32Array(param.value.size), param.value.shape, 'f32', `${param.name} exp_avg_sq`);
      }
      return s;
    });
    if (options.classWeights) {
      this.classWeights = gpu.upload(options.classWeights, [model.config.classes], 'f32', 'class weights');
    }
  }

  /** The base learning rate of step `iteration` (from 0). */
  lrAt(iteration: number): number {
    const { optimizer, maxIter, power } = this.options;
    if (maxIter === undefined) return optimizer.lr;
    if (iteration >= maxIter) throw new TrainerError(`step ${iteration + 1} is past the schedule's ${maxIter} steps`);
    const every = this.options.lrDecayEvery ?? 1;
    return polyLr(optimizer.lr, every * Math.floor(iteration / every), maxIter, power ?? 0.9);
  }

  private checkBatch(batch: Batch): [number, number, number] {
    const [n, h, w] = batch.shape;
    const c = this.model.config.inChannels;
    if (![n, h, w].every((d) => Number.isInteger(d) && d >= 1)) throw new TrainerError(`batch shape [${batch.shape.join(', ')}] must be positive integers [N, H, W]`);
    if (batch.images.length !== n * c * h * w) throw new TrainerError(`${batch.images.length} image values for [${n}, ${c}, ${h}, ${w}]`);
    if (batch.labels.length !== n * h * w) throw new TrainerError(`${batch.labels.length} labels for [${n}, ${h}, ${w}]`);
    return [n, h, w];
  }

  /** The step's sub-batches: one batch, or an array of iterSize. */
  private subBatches<B>(batches: B | readonly B[]): readonly B[] {
    const list = Array.isArray(batches) ? (batches as readonly B[]) : [batches as B];
    if (list.length !== this.iterSize) throw new TrainerError(`a step takes ${this.iterSize} sub-batch${this.iterSize === 1 ? '' : 'es'} (iterSize), got ${list.length}`);
    return list;
  }

  /**
   * One training step on `batch` (with iterSize k > 1: an array of k sub-batches): forward, loss,
   * backward, optimizer. Nothing is read back; the step's loss waits for readLosses().
   */
  async step(batch: Batch | readonly Batch[]): Promise<void> {
    if (this.released) throw new TrainerError('the trainer was released');
    const gpu = this.model.gpu;
    const list = this.subBatches(batch);
    const shapes = list.map((b) => this.checkBatch(b));
    const uploaded: GpuBatch[] = [];
    try {
      for (const [i, b] of list.entries()) {
        const [n, h, w] = shapes[i]!;
        const { words, layout } = labelWords(b.labels);
        const images = gpu.upload(b.images, [n, this.model.config.inChannels, h, w], 'f32', 'batch images');
        uploaded.push({ images, labels: gpu.upload(words, [words.length], 'u32', 'batch labels'), layout });
      }
      await this.stepOn(uploaded);
    } finally {
      for (const b of uploaded) gpu.release(b.images, b.labels);
    }
  }

  /**
   * One training step on a batch already on the GPU (images [N, C, H, W] f32, labels of N·H·W
   * pixels in `layout`), or with iterSize k > 1 on an array of k such sub-batches; the caller keeps
   * the tensors.
   */
  async stepOn(batch: GpuBatch | readonly GpuBatch[]): Promise<void> {
    if (this.released) throw new TrainerError('the trainer was released');
    const gpu = this.model.gpu;
    const list = this.subBatches(batch);
    for (const b of list) {
      const [n, c, h, w] = b.images.shape as [number, number, number, number];
      if (b.images.shape.length !== 4 || c !== this.model.config.inChannels) throw new TrainerError(`batch images ${b.images} must be [N, ${this.model.config.inChannels}, H, W]`);
      const words = b.layout === 'u32' ? n * h * w : Math.ceil((n * h * w) / 4);
      if (b.labels.size < words) throw new TrainerError(`batch labels ${b.labels} hold fewer than the ${words} words of ${n}×${h}×${w} pixels (${b.layout})`);
    }
    const lr = this.lrAt(this.iteration);
    // The loss of each sub-batch is scaled by 1/k (none when k = 1: the single-tape step as ever).
    const scale = this.iterSize === 1 ? undefined : 1 / this.iterSize;
    const losses: Tensor[] = [];
    const updated = new Set<Param>();
    try {
      for (const b of list) {
        for (const p of await this.subStep(b, scale, updated, losses)) updated.add(p);
      }
      await this.optimize(gpu, updated, lr);
    } catch (err) {
      gpu.release(...losses);
      throw err;
    }
    this.pending.push({ iteration: this.iteration, losses, scale: scale ?? 1 });
    this.iteration++;
  }

  /**
   * Forward, losses and backward of one sub-batch, adding to the gradients of `held` (written by
   * earlier sub-batches of the step). Pushes the loss tensors onto `losses`; returns the
   * parameters written.
   */
  private async subStep(batch: GpuBatch, scale: number | undefined, held: ReadonlySet<Param>, losses: Tensor[]): Promise<Set<Param>> {
    const gpu = this.model.gpu;
    const tape = new Tape(gpu, held.size > 0 ? { accumulateGrads: held } : {});
    const ce = { ignoreIndex: this.options.ignoreIndex ?? 255, classWeights: this.classWeights, ...(scale !== undefined ? { scale } : {}) };
    const x = tape.input(batch.images);
    let release: (() => void) | undefined;
    const resized: Tensor[] = [];
    try {
      if (!this.model.trainOutputs) {
        const logits = await this.model.forward(tape, x);
        losses.push(await tape.crossEntropy(logits, batch.labels, { ...ce, labelLayout: batch.layout }));
      } else {
        const outs = await this.model.trainOutputs(tape, x);
        release = outs.release;
        if (outs.logits.length === 0) throw new TrainerError('trainOutputs returned no outputs');
        for (const logits of outs.logits) {
          const labels = await this.labelsFor(batch, logits);
          if (labels !== batch.labels) resized.push(labels);
          const layout = labels === batch.labels ? batch.layout : 'u32';
          losses.push(await tape.crossEntropy(logits, labels, { ...ce, labelLayout: layout }));
        }
      }
      return await tape.backward();
    } finally {
      tape.dispose();
      release?.();
      // Read only by work already recorded, which WebGPU runs before any later use of the buffers.
      gpu.release(...resized);
    }
  }

  /** The batch labels at the size of `logits` [N, classes, h, w]: as given, or resized (PIL nearest). */
  private async labelsFor(batch: GpuBatch, logits: Var): Promise<Tensor> {
    const [n, , h, w] = batch.images.shape as [number, number, number, number];
    const [ln, lc, lh, lw] = logits.shape as [number, number, number, number];
    if (logits.shape.length !== 4 || ln !== n || lc !== this.model.config.classes) {
      throw new TrainerError(`a training output [${logits.shape.join(', ')}] is not [${n}, ${this.model.config.classes}, h, w]`);
    }
    if (lh === h && lw === w) return batch.labels;
    return resizeLabelsOn(this.model.gpu, batch.labels, batch.layout, [n, h, w], [lh, lw]);
  }

  private async optimize(gpu: Gpu, updated: ReadonlySet<Param>, baseLr: number): Promise<void> {
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

  /**
   * Losses of the steps taken since the last call, in order (one read-back for all): the mean
   * cross-entropy, or where a step has several losses (outputs, sub-batches) their sum, each times
   * 1/iterSize (deeplab-pytorch's reported loss).
   */
  async readLosses(): Promise<number[]> {
    const pending = this.pending.splice(0);
    if (pending.length === 0) return [];
    const gpu = this.model.gpu;
    const tensors = pending.flatMap((p) => p.losses);
    try {
      const data = (await gpu.readMany(tensors)) as Float32Array[];
      let at = 0;
      return pending.map((p) => {
        const values = data.slice(at, (at += p.losses.length)).map((d) => d[0]!);
        if (values.length === 1 && p.scale === 1) return values[0]!;
        return values.reduce((a, v) => a + v * p.scale, 0);
      });
    } finally {
      gpu.release(...tensors);
    }
  }

  /**
   * `steps` steps on batchAt(iteration), reading the losses back every `readEvery` steps (and at
   * the end); `onLosses` sees each read. Returns every step's loss.
   */
  async train(batchAt: (iteration: number) => Batch | readonly Batch[], steps: number, opts: { readEvery?: number; onLosses?: (first: number, losses: number[]) => void } = {}): Promise<number[]> {
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

  private stateTensors(): { name: string; tensor: Tensor }[] {
    const out: { name: string; tensor: Tensor }[] = [];
    for (const s of this.states) {
      if (s.buf) out.push({ name: `${s.param.name}.momentum_buffer`, tensor: s.buf });
      if (s.expAvg) out.push({ name: `${s.param.name}.exp_avg`, tensor: s.expAvg });
      if (s.expAvgSq) out.push({ name: `${s.param.name}.exp_avg_sq`, tensor: s.expAvgSq });
    }
    return out;
  }

  /**
   * The optimizer's state on the host (one read-back), for a checkpoint: with the model's tensors,
   * everything a resumed run needs to continue bit-identically.
   */
  async exportState(): Promise<OptimizerState> {
    if (this.released) throw new TrainerError('the trainer was released');
    const tensors = this.stateTensors();
    const data = tensors.length > 0 ? ((await this.model.gpu.readMany(tensors.map((t) => t.tensor))) as Float32Array[]) : [];
    return { iteration: this.iteration, steps: this.states.map((s) => s.steps), buffers: new Map(tensors.map((t, i) => [t.name, data[i]!])) };
  }

  /** Restores a state from exportState of a trainer with the same model and optimizer kind. */
  importState(state: OptimizerState): void {
    if (this.released) throw new TrainerError('the trainer was released');
    if (this.pending.length > 0) throw new TrainerError('importState: losses of earlier steps are still unread');
    if (!Number.isInteger(state.iteration) || state.iteration < 0) throw new TrainerError(`iteration ${state.iteration} must be a non-negative integer`);
    if (state.steps.length !== this.states.length) throw new TrainerError(`the state has step counts for ${state.steps.length} parameters, the model ${this.states.length}`);
    const tensors = this.stateTensors();
    const names = new Set(tensors.map((t) => t.name));
    const extra = [...state.buffers.keys()].filter((k) => !names.has(k));
    const missing = tensors.filter((t) => !state.buffers.has(t.name)).map((t) => t.name);
    if (extra.length || missing.length) {
      throw new TrainerError(`optimizer state does not match this ${this.options.optimizer.kind} trainer: ${missing.length ? `missing ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''}` : ''}${missing.length && extra.length ? '; ' : ''}${extra.length ? `unknown ${extra.slice(0, 3).join(', ')}${extra.length > 3 ? ', …' : ''}` : ''}`);
    }
    for (const t of tensors) {
      const data = state.buffers.get(t.name)!;
      if (data.length !== t.tensor.size) throw new TrainerError(`optimizer state '${t.name}' has ${data.length} values, the parameter ${t.tensor.size}`);
    }
    this.states.forEach((s, i) => {
      const n = state.steps[i]!;
      if (!Number.isInteger(n) || n < 0) throw new TrainerError(`step count ${n} of '${s.param.name}' must be a non-negative integer`);
    });
    for (const t of tensors) this.model.gpu.write(t.tensor, state.buffers.get(t.name)!);
    this.states.forEach((s, i) => (s.steps = state.steps[i]!));
    this.iteration = state.iteration;
  }

  /** Releases the optimizer state, the class weights and unread losses (not the model). */
  release(): void {
    if (this.released) return;
    this.released = true;
    const gpu = this.model.gpu;
    for (const s of this.states) for (const t of [s.buf, s.expAvg, s.expAvgSq]) if (t) gpu.release(t);
    if (this.classWeights) gpu.release(this.classWeights);
    gpu.release(...this.pending.splice(0).flatMap((p) => p.losses));
  }
}

/**
 * Labels [N, H, W] (N·H·W pixels as u32 or bytes packed four per word) resized to [N, outH, outW]
 * u32 by PIL's nearest rule (deeplab-pytorch's resize_labels; nearestAxis 'pil'). Packed labels are
 * resized on the GPU by the augmentation's label kernel, the batch read as one [N·H, W] map whose
 * row table steps to each sample's own rows (the tables are exact integers from the host); u32
 * labels, which that kernel does not read, go through the host (one read-back).
 */
export async function resizeLabelsOn(gpu: Gpu, labels: Tensor, layout: LabelLayout, shape: readonly [number, number, number], out: readonly [number, number]): Promise<Tensor> {
  const [n, h, w] = shape;
  const [outH, outW] = out;
  const rows = nearestAxis('pil', h, outH), cols = nearestAxis('pil', w, outW);
  if (layout === 'u32') {
    const src = (await gpu.read(labels)) as Uint32Array;
    const dst = new Uint32Array(n * outH * outW);
    for (let b = 0; b < n; b++) {
      for (let y = 0; y < outH; y++) {
        const row = (b * h + rows[y]!) * w;
        for (let x = 0; x < outW; x++) dst[(b * outH + y) * outW + x] = src[row + cols[x]!]!;
      }
    }
    return gpu.upload(dst, [n, outH, outW], 'u32', 'resized labels');
  }
  if (labels.size < ceilDiv(n * h * w, 4)) throw new TrainerError(`labels ${labels} hold fewer than the ${ceilDiv(n * h * w, 4)} words of ${n}×${h}×${w} packed pixels`);
  const tab = gpu.constant(`labels nearest pil ${n}×${h}×${w}→${outH}×${outW}`, [n * outH + outW], 'u32', () => {
    const t = new Uint32Array(n * outH + outW);
    for (let b = 0; b < n; b++) for (let y = 0; y < outH; y++) t[b * outH + y] = b * h + rows[y]!;
    t.set(cols, n * outH);
    return t;
  });
  const dst = gpu.empty([n, outH, outW], 'u32', 'resized labels');
  const tall = n * outH;
  await gpu.run(augmentLabelsKernel, {
    srcH: n * h, srcW: w, resH: tall, resW: outW, cropH: tall, cropW: outW, offY: 0, offX: 0, flip: false, batch: 1, slot: 0, layout: 'u32', ignore: 0,
  }, { src: labels, tab, labels: dst });
  return dst;
}
