// A small segmenter trained from scratch: a narrow ResNet-like encoder at output stride 8, a 1×1
// classifier and bilinear upsampling to the input size.
//
//   stem      conv3x3 3→w0 (stride 1) · BN · ReLU · max-pool 3x3 stride 2            → 1/2
//   layers.0  residual block at w0: conv3x3 · BN · ReLU · conv3x3 · BN, + input, ReLU
//   layers.i  (i ≥ 1) down: conv3x3 stride 2 w(i−1)→wi · BN · ReLU, then a residual block → 1/2^(i+1)
//   classifier conv1x1 wL→classes with bias; bilinear (align_corners False) to the input size
//
// Parameters live on the host as a name → Float32Array map in PyTorch's layout and names (conv
// weights [Cout, Cin, KH, KW]; BatchNorm2d's weight, bias, running_mean, running_var), so that a
// saved file (safetensors) loads into the equivalent torch module (weights/make_train_equivalence.py)
// with load_state_dict; on the GPU, conv weights are in the kernels' [Cout, KH, KW, Cin] order.
//
// Initialisation (deterministic from a seed, one random stream per tensor name, so adding a layer
// leaves the others' values unchanged): conv weights Kaiming-normal with fan_out and ReLU gain, as
// torchvision's ResNet (std = √2/√(Cout·KH·KW)); the classifier normal with std 0.01 and bias 0, as
// DeepLab's heads (a Kaiming head over 11 classes would start from logits of about ±1 per pixel);
// BN weight 1, bias 0, running mean 0, running variance 1.
import type { Gpu } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';
import { ohwiFromOihw } from '../kernels/conv.js';
import { loadWeights, type WeightInput } from '../weights/index.js';
import { encodeSafetensors, f32Entry } from '../weights/safetensors.js';
import { Rng, mixSeed } from '../world/rng.js';
import type { Param, Tape, Var } from './autodiff.js';
import type { TensorRole, TensorSpec, TrainableModel } from './model.js';

export type { TensorRole, TensorSpec } from './model.js';

export interface SegmenterConfig {
  /** Output classes (the world: 11, background and 10 objects). */
  classes: number;
  /** Channels per stage; the first is the stem's. Default [16, 32, 64]. */
  widths: number[];
  /** Input channels. Default 3. */
  inChannels?: number;
}

export const DEFAULT_SEGMENTER: Readonly<SegmenterConfig> = { classes: 11, widths: [16, 32, 64] };

export const BN_EPS = 1e-5;
export const BN_MOMENTUM = 0.1;

export type SegmenterWeights = Map<string, Float32Array>;

export class SegmenterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SegmenterError';
  }
}

function checkConfig(c: SegmenterConfig): Required<SegmenterConfig> {
  if (!Number.isInteger(c.classes) || c.classes < 1) throw new SegmenterError(`classes = ${c.classes} must be a positive integer`);
  if (!Array.isArray(c.widths) || c.widths.length < 1 || !c.widths.every((w) => Number.isInteger(w) && w >= 1)) {
    throw new SegmenterError(`widths ${JSON.stringify(c.widths)} must be a non-empty list of positive integers`);
  }
  const inChannels = c.inChannels ?? 3;
  if (!Number.isInteger(inChannels) || inChannels < 1) throw new SegmenterError(`inChannels = ${inChannels} must be a positive integer`);
  return { classes: c.classes, widths: [...c.widths], inChannels };
}

/** Every tensor of the model, in a fixed order (the optimizer's and the files'). */
export function segmenterSpecs(config: SegmenterConfig): TensorSpec[] {
  const c = checkConfig(config);
  const specs: TensorSpec[] = [];
  const conv = (name: string, cout: number, cin: number, k: number) => specs.push({ name: `${name}.weight`, shape: [cout, cin, k, k], role: 'conv' });
  const bn = (name: string, ch: number) => {
    specs.push({ name: `${name}.weight`, shape: [ch], role: 'bn_weight' }, { name: `${name}.bias`, shape: [ch], role: 'bn_bias' });
    specs.push({ name: `${name}.running_mean`, shape: [ch], role: 'running_mean' }, { name: `${name}.running_var`, shape: [ch], role: 'running_var' });
  };
  const w = c.widths;
  conv('stem.conv', w[0]!, c.inChannels, 3);
  bn('stem.bn', w[0]!);
  w.forEach((width, i) => {
    if (i > 0) {
      conv(`layers.${i}.down.conv`, width, w[i - 1]!, 3);
      bn(`layers.${i}.down.bn`, width);
    }
    conv(`layers.${i}.conv1`, width, width, 3);
    bn(`layers.${i}.bn1`, width);
    conv(`layers.${i}.conv2`, width, width, 3);
    bn(`layers.${i}.bn2`, width);
  });
  specs.push({ name: 'classifier.weight', shape: [c.classes, w[w.length - 1]!, 1, 1], role: 'classifier' });
  specs.push({ name: 'classifier.bias', shape: [c.classes], role: 'bias' });
  return specs;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Trainable (as opposed to running statistics). */
export const isTrainable = (role: TensorRole): boolean => role !== 'running_mean' && role !== 'running_var';

/** FNV-1a of a name: the tensor's stream id. */
function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Standard normal values (Box–Muller, float64) from a stream. */
function normals(rng: Rng, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = (rng.uint32() + 1) / 4294967296; // (0, 1]: the logarithm stays finite
    const u2 = rng.uint32() / 4294967296;
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = std * r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = std * r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** Initial weights for `config` from `seed` (see the file header). */
export function initSegmenter(config: SegmenterConfig, seed: number): SegmenterWeights {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new SegmenterError(`seed must be an integer in 0..4294967295, got ${seed}`);
  const weights: SegmenterWeights = new Map();
  for (const s of segmenterSpecs(config)) {
    const n = size(s.shape);
    const rng = new Rng(mixSeed(seed, nameHash(s.name)));
    switch (s.role) {
      case 'conv': {
        const fanOut = s.shape[0]! * s.shape[2]! * s.shape[3]!;
        weights.set(s.name, normals(rng, n, Math.SQRT2 / Math.sqrt(fanOut)));
        break;
      }
      case 'classifier':
        weights.set(s.name, normals(rng, n, 0.01));
        break;
      case 'bn_weight':
      case 'running_var':
        weights.set(s.name, new Float32Array(n).fill(1));
        break;
      default:
        weights.set(s.name, new Float32Array(n));
    }
  }
  return weights;
}

function checkWeights(config: SegmenterConfig, weights: SegmenterWeights): TensorSpec[] {
  const specs = segmenterSpecs(config);
  for (const s of specs) {
    const w = weights.get(s.name);
    if (!w) throw new SegmenterError(`weights lack '${s.name}'`);
    if (w.length !== size(s.shape)) throw new SegmenterError(`'${s.name}' has ${w.length} values; [${s.shape.join(', ')}] needs ${size(s.shape)}`);
  }
  return specs;
}

const FORMAT = 'seedmask-segmenter';

/** The weights as a safetensors file (PyTorch names and layouts; the config in the metadata). */
export async function saveSegmenter(config: SegmenterConfig, weights: SegmenterWeights, metadata: Record<string, string> = {}): Promise<Uint8Array> {
  const specs = checkWeights(config, weights);
  return encodeSafetensors(
    specs.map((s) => f32Entry(s.name, weights.get(s.name)!, s.shape)),
    { ...metadata, format: FORMAT, config: JSON.stringify(checkConfig(config)) },
  );
}

/** Reads a file written by saveSegmenter (or any safetensors with the same names, given `config`). */
export async function loadSegmenter(input: WeightInput, config?: SegmenterConfig): Promise<{ config: SegmenterConfig; weights: SegmenterWeights; metadata: Record<string, string> }> {
  const file = await loadWeights(input);
  try {
    let cfg = config;
    if (!cfg) {
      const text = file.metadata.config;
      if (file.metadata.format !== FORMAT || !text) throw new SegmenterError(`${file.name} is not a seedmask segmenter file (no config in its metadata); pass the config`);
      cfg = JSON.parse(text) as SegmenterConfig;
    }
    const weights: SegmenterWeights = new Map();
    for (const s of segmenterSpecs(cfg)) {
      if (!file.has(s.name)) throw new SegmenterError(`${file.name} lacks '${s.name}'`);
      const shape = file.info(s.name).shape;
      if (shape.length !== s.shape.length || shape.some((d, i) => d !== s.shape[i])) {
        throw new SegmenterError(`${file.name}: '${s.name}' is [${shape.join(', ')}], the config needs [${s.shape.join(', ')}]`);
      }
      weights.set(s.name, await file.getF32(s.name));
    }
    return { config: checkConfig(cfg), weights, metadata: { ...file.metadata } };
  } finally {
    await file.close();
  }
}

/** Inverse of ohwiFromOihw: the kernels' [Cout, KH, KW, Cin] back to PyTorch's [Cout, Cin, KH, KW]. */
export function oihwFromOhwi(w: Float32Array, oihwShape: readonly number[]): Float32Array {
  const [co, ci, kh, kw] = oihwShape as [number, number, number, number];
  const taps = kh * kw;
  const out = new Float32Array(w.length);
  for (let o = 0; o < co; o++) {
    for (let t = 0; t < taps; t++) {
      for (let c = 0; c < ci; c++) out[(o * ci + c) * taps + t] = w[(o * taps + t) * ci + c]!;
    }
  }
  return out;
}

interface BnTensors {
  gamma: Param;
  beta: Param;
  mean: Tensor;
  var: Tensor;
}

/** The segmenter on a Gpu: parameters with gradient buffers, running statistics, the forward on a tape. */
export class SegmenterModel implements TrainableModel {
  /** Trainable parameters in spec order. */
  readonly params: Param[] = [];
  private readonly byName = new Map<string, Param>();
  private readonly running = new Map<string, Tensor>();
  private readonly specs: TensorSpec[];
  private released = false;

  private constructor(
    readonly gpu: Gpu,
    readonly config: Required<SegmenterConfig>,
    weights: SegmenterWeights,
  ) {
    this.specs = checkWeights(config, weights);
    for (const s of this.specs) {
      const host = weights.get(s.name)!;
      const isConv = s.shape.length === 4;
      const shape = isConv ? [s.shape[0]!, s.shape[2]!, s.shape[3]!, s.shape[1]!] : s.shape;
      const value = gpu.upload(isConv ? ohwiFromOihw(host, s.shape) : host, shape, 'f32', s.name);
      if (isTrainable(s.role)) {
        const p: Param = { name: s.name, value, grad: gpu.empty(shape, 'f32', `${s.name} grad`) };
        this.params.push(p);
        this.byName.set(s.name, p);
      } else {
        this.running.set(s.name, value);
      }
    }
  }

  /** Uploads `weights` (PyTorch layout, see segmenterSpecs). */
  static create(gpu: Gpu, config: SegmenterConfig, weights: SegmenterWeights): SegmenterModel {
    return new SegmenterModel(gpu, checkConfig(config), weights);
  }

  /** Tensor specs in order (PyTorch shapes). */
  get tensorSpecs(): readonly TensorSpec[] {
    return this.specs;
  }

  param(name: string): Param {
    const p = this.byName.get(name);
    if (!p) throw new SegmenterError(`no parameter '${name}'`);
    return p;
  }

  private bn(name: string): BnTensors {
    return { gamma: this.param(`${name}.weight`), beta: this.param(`${name}.bias`), mean: this.running.get(`${name}.running_mean`)!, var: this.running.get(`${name}.running_var`)! };
  }

  private async convBnRelu(tape: Tape, x: Var, conv: string, bn: string, stride: number, relu = true): Promise<Var> {
    const c = await tape.conv2d(x, tape.param(this.param(`${conv}.weight`)), { stride, padding: 1 });
    const b = this.bn(bn);
    return tape.batchNorm(c, tape.param(b.gamma), tape.param(b.beta), { mean: b.mean, var: b.var }, { relu, eps: BN_EPS, momentum: BN_MOMENTUM });
  }

  /** Logits [N, classes, H, W] at the input's size, for images x [N, inChannels, H, W] on the tape. */
  async forward(tape: Tape, x: Var): Promise<Var> {
    if (this.released) throw new SegmenterError('the model was released');
    const [n, ch, h, w] = x.shape as [number, number, number, number];
    if (x.shape.length !== 4 || ch !== this.config.inChannels || n < 1) throw new SegmenterError(`input [${x.shape.join(', ')}] must be [N, ${this.config.inChannels}, H, W]`);
    let y = await this.convBnRelu(tape, x, 'stem.conv', 'stem.bn', 1);
    y = await tape.maxPool(y, { kernel: 3, stride: 2, padding: 1 });
    for (let i = 0; i < this.config.widths.length; i++) {
      if (i > 0) y = await this.convBnRelu(tape, y, `layers.${i}.down.conv`, `layers.${i}.down.bn`, 2);
      const a = await this.convBnRelu(tape, y, `layers.${i}.conv1`, `layers.${i}.bn1`, 1);
      const b = await this.convBnRelu(tape, a, `layers.${i}.conv2`, `layers.${i}.bn2`, 1, false);
      y = await tape.add(b, y, { relu: true });
    }
    const logits = await tape.conv2d(y, tape.param(this.param('classifier.weight')), { bias: tape.param(this.param('classifier.bias')) });
    return tape.bilinear(logits, [h, w], { alignCorners: false });
  }

  /** Every tensor back on the host, in PyTorch's layout (one read-back). */
  async download(): Promise<SegmenterWeights> {
    const tensors = this.specs.map((s) => this.byName.get(s.name)?.value ?? this.running.get(s.name)!);
    const data = (await this.gpu.readMany(tensors)) as Float32Array[];
    const out: SegmenterWeights = new Map();
    this.specs.forEach((s, i) => out.set(s.name, s.shape.length === 4 ? oihwFromOhwi(data[i]!, s.shape) : data[i]!));
    return out;
  }

  upload(weights: ReadonlyMap<string, Float32Array>): void {
    if (this.released) throw new SegmenterError('the model was released');
    checkWeights(this.config, weights as SegmenterWeights);
    for (const s of this.specs) {
      const host = weights.get(s.name)!;
      const target = this.byName.get(s.name)?.value ?? this.running.get(s.name)!;
      this.gpu.write(target, s.shape.length === 4 ? ohwiFromOihw(host, s.shape) : host);
    }
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    for (const p of this.params) this.gpu.release(p.value, p.grad);
    this.gpu.release(...this.running.values());
  }
}
