// DeepLab-v2 as kazuto1011/deeplab-pytorch trains it (DeepLabV2_ResNet101_MSC, main.py), on the tape:
// the dilated ResNet of src/models/deeplab/resnet.ts (output stride 8) and the ASPP of
// src/models/deeplab/deeplabv2.ts (3×3 convolutions with bias at rates 6, 12, 18, 24, summed), with
// every BatchNorm frozen as the original freezes it (freeze_bn: running statistics, and γ, β in no
// optimizer group, so they never change).
//
// Frozen BN on the tape. y = x·a + b per channel, a = γ/√(var + eps), b = β − mean·a (PyTorch's CPU
// eval path folds them the same way), computed once on the host and run as a depthwise 1×1
// convolution with bias whose weight and bias are tape inputs: the tape differentiates x only. A
// dedicated affine op would not keep x alive for an (unused) weight gradient, and could fuse the
// ReLU; until the tape has one this composes ops it has (about 3 % of a step's GPU time).
//
// What the original trains on (main.py `train`): the MSC model's four outputs (the scale-1 logits,
// those of the input resized by 0.5 and 0.75, and their element-wise max after resizing the two to
// the scale-1 size), each at output stride 8, each against the labels resized to its own size by
// PIL's nearest filter (resizeLabelsNearest), one cross-entropy each (ignore 255), summed:
//   forward        the single-scale logits resized (bilinear) to the input size: the TrainableModel
//                  contract, what SegmenterTrainer trains against full-size labels by default
//   forwardLowres  the single-scale logits at stride 8: the original's objective without MSC, with
//                  resizeLabelsNearest for the labels
//   forwardMsc     the original's four outputs, the max composed as a + relu(b − a) (ties go to the
//                  first, as torch.max)
// `objective` picks which of them trainOutputs gives the trainer: 'msc' is the original's training
// ('full', the default, trains forward as a model without trainOutputs would be).
//
// Parameters (DEEPLABV2_PARAM_GROUPS): backbone convolution weights (role 'conv'), ASPP weights
// ('classifier'), ASPP biases ('bias'). BN tensors are in tensorSpecs (roles bn_weight, bn_bias,
// running_mean, running_var) for download/upload but are not parameters. Names are those of the
// original's checkpoints: the MSC model's state_dict, `base.` + the DeepLabV2 key.
import type { Gpu } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';
import { bilinear, scaledSize } from '../kernels/bilinear.js';
import { ohwiFromOihw, type ConvParams } from '../kernels/conv.js';
import { BN_EPS, DeepLabError, type ConvSource } from '../models/deeplab/common.js';
import { DEEPLABV2_MSC_SCALES, DEEPLABV2_RATES } from '../models/deeplab/deeplabv2.js';
import { backboneBlocks, backboneConvs, backboneStem, deeplabBackbone, type BackboneSpec } from '../models/deeplab/resnet.js';
import { WeightFileError, listSome } from '../weights/errors.js';
import { loadWeights } from '../weights/index.js';
import { detectDeepLabLayout, expectedDeepLabShapes, openDeepLabCheckpoint, type DeepLabConfig, type ResNetWidths } from '../weights/layouts/deeplab.js';
import type { WeightInput } from '../weights/source.js';
import type { LoadOptions, WeightFile } from '../weights/weightfile.js';
import { Rng, mixSeed } from '../world/rng.js';
import type { Param, Tape, Var } from './autodiff.js';
import type { TensorRole, TensorSpec, TrainableModel, TrainOutputs } from './model.js';
import { oihwFromOhwi } from './segmenter.js';

/**
 * deeplab-pytorch's optimizer (main.py at 4219467: get_params and its torch.optim.SGD), by role:
 *   '1x'  every Conv2d parameter under a module named "layer…" (the backbone; its convolutions have no
 *         bias): lr, weight decay WEIGHT_DECAY
 *   '10x' the ASPP convolutions' weights: 10·lr, weight decay WEIGHT_DECAY
 *   '20x' the ASPP convolutions' biases: 20·lr, no weight decay
 * BN γ and β are in no group (they get gradients, never updates); momentum is the SGD's, shared.
 * configs/voc12.yaml: LR 2.5e-4, MOMENTUM 0.9, WEIGHT_DECAY 5e-4, POLY_POWER 0.9, LR_DECAY 10 (the
 * poly rate is recomputed every 10 iterations only), ITER_MAX 20000, BATCH_SIZE 5, ITER_SIZE 2.
 */
export const DEEPLABV2_PARAM_GROUPS = {
  conv: { lrMult: 1, weightDecay: true },
  classifier: { lrMult: 10, weightDecay: true },
  bias: { lrMult: 20, weightDecay: false },
} as const satisfies Partial<Record<TensorRole, { lrMult: number; weightDecay: boolean }>>;

/** Key prefix of the original's checkpoints (the MSC wrapper's `base`). */
export const DEEPLABV2_PREFIX = 'base.';

/** Standard deviation of a fresh ASPP's weights (biases 0), as deeplab-pytorch's _ASPP. */
export const DEEPLABV2_HEAD_STD = 0.01;

export interface DeepLabV2TrainConfig {
  readonly classes: number;
  readonly inChannels: 3;
  /** Backbone depth and widths (ResNet-101: blocks [3, 4, 23, 3], stem 64, outputs 256…2048). */
  readonly backbone: ResNetWidths;
  /** ASPP rates, one branch each. Default 6, 12, 18, 24. */
  readonly rates: readonly number[];
  /** forwardMsc's scales besides 1. Default 0.5, 0.75. */
  readonly mscScales: readonly number[];
}

/** ResNet-101 at full width. */
export const RESNET101_WIDTHS: ResNetWidths = { blocks: [3, 4, 23, 3], stem: 64, mid: [64, 128, 256, 512], out: [256, 512, 1024, 2048] };

export type DeepLabV2Weights = Map<string, Float32Array>;

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function layoutConfig(c: Pick<DeepLabV2TrainConfig, 'backbone' | 'classes' | 'rates'>): DeepLabConfig {
  const depth = 3 * c.backbone.blocks.reduce((a, b) => a + b, 0) + 2;
  return { layout: 'deeplab-pytorch', name: `deeplabv2_resnet${depth}`, backbone: c.backbone, classes: c.classes, asppChannels: 0, auxChannels: 0, asppBranches: c.rates.length };
}

function checkConfig(c: Partial<DeepLabV2TrainConfig> & Pick<DeepLabV2TrainConfig, 'classes' | 'backbone'>): DeepLabV2TrainConfig {
  if (!Number.isInteger(c.classes) || c.classes < 1) throw new DeepLabError(`classes = ${c.classes} must be a positive integer`);
  const rates = [...(c.rates ?? DEEPLABV2_RATES)];
  if (rates.length < 1 || !rates.every((r) => Number.isInteger(r) && r >= 1)) throw new DeepLabError(`ASPP rates [${rates.join(', ')}] must be positive integers`);
  const mscScales = [...(c.mscScales ?? DEEPLABV2_MSC_SCALES)];
  if (!mscScales.every((s) => s > 0 && Number.isFinite(s))) throw new DeepLabError(`MSC scales [${mscScales.join(', ')}] must be positive`);
  const b = c.backbone;
  if (b.blocks.length !== 4 || !b.blocks.every((n) => Number.isInteger(n) && n >= 1)) throw new DeepLabError(`backbone blocks [${b.blocks.join(', ')}] must be 4 positive integers`);
  return { classes: c.classes, inChannels: 3, backbone: { blocks: [...b.blocks], stem: b.stem, mid: [...b.mid], out: [...b.out] }, rates, mscScales };
}

const backboneSpec = (c: DeepLabV2TrainConfig): BackboneSpec => deeplabBackbone('deeplab-pytorch', c.backbone);

/** Every tensor of the model in the original's state_dict order, with the `base.` prefix. */
export function deeplabV2TrainSpecs(config: DeepLabV2TrainConfig): TensorSpec[] {
  const shapes = expectedDeepLabShapes(layoutConfig(config));
  const specs: TensorSpec[] = [];
  const add = (key: string, role: TensorRole) => {
    const shape = shapes.get(key);
    if (!shape) throw new DeepLabError(`no tensor '${key}' in the deeplab-pytorch layout`);
    specs.push({ name: DEEPLABV2_PREFIX + key, shape, role });
  };
  for (const c of backboneConvs(backboneSpec(config))) {
    add(`${c.name}.weight`, 'conv');
    add(`${c.bn}.weight`, 'bn_weight');
    add(`${c.bn}.bias`, 'bn_bias');
    add(`${c.bn}.running_mean`, 'running_mean');
    add(`${c.bn}.running_var`, 'running_var');
  }
  config.rates.forEach((_, i) => {
    add(`aspp.c${i}.weight`, 'classifier');
    add(`aspp.c${i}.bias`, 'bias');
  });
  if (specs.length !== shapes.size) throw new DeepLabError(`${shapes.size} tensors in the layout, ${specs.length} in the model`);
  return specs;
}

function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Normal(0, std) values (Box–Muller in float64) from a stream per (seed, name). */
function normals(seed: number, name: string, n: number, std: number): Float32Array {
  const rng = new Rng(mixSeed(seed, nameHash(name)));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log((rng.uint32() + 1) / 4294967296));
    const t = (2 * Math.PI * rng.uint32()) / 4294967296;
    out[i] = std * r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = std * r * Math.sin(t);
  }
  return out;
}

/** A fresh ASPP as the original initialises it: weights normal(0, 0.01), biases 0 (seeded per tensor). */
export function initDeepLabV2Head(config: DeepLabV2TrainConfig, seed = 0): DeepLabV2Weights {
  const out: DeepLabV2Weights = new Map();
  for (const s of deeplabV2TrainSpecs(config)) {
    if (s.role === 'classifier') out.set(s.name, normals(seed, s.name, size(s.shape), DEEPLABV2_HEAD_STD));
    else if (s.role === 'bias') out.set(s.name, new Float32Array(size(s.shape)));
  }
  return out;
}

/**
 * Random weights for every tensor (benchmarks, tests): convolutions Kaiming-normal (fan out, ReLU
 * gain), BN identity (γ 1, β 0, mean 0, variance 1), the ASPP as initDeepLabV2Head.
 */
export function initDeepLabV2(config: DeepLabV2TrainConfig, seed = 0): DeepLabV2Weights {
  const out = initDeepLabV2Head(config, seed);
  for (const s of deeplabV2TrainSpecs(config)) {
    if (out.has(s.name)) continue;
    const n = size(s.shape);
    if (s.role === 'conv') out.set(s.name, normals(seed, s.name, n, Math.SQRT2 / Math.sqrt(s.shape[0]! * s.shape[2]! * s.shape[3]!)));
    else out.set(s.name, new Float32Array(n).fill(s.role === 'bn_weight' || s.role === 'running_var' ? 1 : 0));
  }
  return out;
}

export interface DeepLabV2LoadOptions extends LoadOptions {
  /**
   * Classes. Required for a checkpoint without an ASPP (an ImageNet/COCO initialisation: the ASPP is
   * made fresh); a checkpoint's own ASPP must have this many (PyTorch's load_state_dict refuses a
   * size mismatch too).
   */
  classes?: number;
  rates?: readonly number[];
  mscScales?: readonly number[];
  /** Seed of a fresh ASPP. Default 0. */
  seed?: number;
}

export interface LoadedDeepLabV2 {
  config: DeepLabV2TrainConfig;
  /** Every tensor of deeplabV2TrainSpecs(config), PyTorch layout. */
  weights: DeepLabV2Weights;
  /** The checkpoint had no ASPP; it was initialised (initDeepLabV2Head). */
  freshHead: boolean;
  /** File keys not read: BN step counters, keys outside the model's prefix, and for a backbone-only checkpoint anything but the backbone (e.g. DeepLabV1's `fc`). */
  ignoredKeys: string[];
  source: string;
}

/** Backbone depth and widths from a deeplab-pytorch checkpoint's keys (no ASPP needed). */
function inferBackbone(file: WeightFile, prefix: string): ResNetWidths {
  const shape = (key: string, axis: number): number => {
    const k = prefix + key;
    const s = file.has(k) ? file.info(k).shape : undefined;
    if (!s || s.length !== 4) throw new WeightFileError(file.name, `is not a deeplab-pytorch backbone: '${k}' is ${s ? `[${s.join(', ')}]` : 'absent'}`);
    return s[axis]!;
  };
  const blocks = [0, 0, 0, 0] as ResNetWidths['blocks'];
  const mid = [0, 0, 0, 0] as ResNetWidths['mid'];
  const out = [0, 0, 0, 0] as ResNetWidths['out'];
  for (let l = 0; l < 4; l++) {
    const re = new RegExp(`^layer${l + 2}\\.block(\\d+)\\.reduce\\.conv\\.weight$`);
    for (const k of file.keys) {
      const m = k.startsWith(prefix) ? re.exec(k.slice(prefix.length)) : null;
      if (m) blocks[l] = Math.max(blocks[l], Number(m[1]));
    }
    mid[l] = shape(`layer${l + 2}.block1.reduce.conv.weight`, 0);
    out[l] = shape(`layer${l + 2}.block1.increase.conv.weight`, 0);
  }
  return { blocks, stem: shape('layer1.conv1.conv.weight', 0), mid, out };
}

/**
 * Reads a deeplab-pytorch checkpoint for training: a whole DeepLabV2 (MSC `base.` keys or bare, the
 * layouts src/weights/layouts/deeplab.ts validates), or a backbone-only initialisation (the
 * original's COCO init deeplabv1_resnet101-coco.pth: DeepLabV1 keys, whose `fc` is ignored as
 * main.py's load_state_dict(strict=False) skips it) with a fresh ASPP. Every backbone tensor must be
 * there with its shape (the original would silently keep random ones).
 */
export async function loadDeepLabV2Weights(input: WeightInput, opts: DeepLabV2LoadOptions = {}): Promise<LoadedDeepLabV2> {
  const file = await loadWeights(input, opts);
  try {
    const found = detectDeepLabLayout(file);
    if (!found) throw new WeightFileError(file.name, `is not a deeplab-pytorch checkpoint (no key ends with 'layer1.conv1.conv.weight'); first keys: ${listSome([...file.keys], 6)}`);
    if (found.layout !== 'deeplab-pytorch') throw new WeightFileError(file.name, 'is a torchvision DeepLab v3 checkpoint; the trainable DeepLab is v2 in the deeplab-pytorch layout');
    const { prefix } = found;
    const weights: DeepLabV2Weights = new Map();
    const ignoredKeys: string[] = [];
    let config: DeepLabV2TrainConfig;
    let freshHead = false;
    if (file.has(`${prefix}aspp.c0.weight`)) {
      const ckpt = openDeepLabCheckpoint(file);
      if (opts.classes !== undefined && opts.classes !== ckpt.config.classes) {
        throw new WeightFileError(file.name, `has an ASPP of ${ckpt.config.classes} classes, not ${opts.classes} (drop the aspp.* keys to train a fresh head)`);
      }
      config = checkConfig({ classes: ckpt.config.classes, backbone: ckpt.config.backbone, rates: opts.rates, mscScales: opts.mscScales });
      if (config.rates.length !== ckpt.config.asppBranches) throw new WeightFileError(file.name, `has ${ckpt.config.asppBranches} ASPP branches, the rates [${config.rates.join(', ')}] are ${config.rates.length}`);
      for (const s of deeplabV2TrainSpecs(config)) weights.set(s.name, await ckpt.get(s.name.slice(DEEPLABV2_PREFIX.length)));
      ignoredKeys.push(...ckpt.ignoredKeys);
    } else {
      if (opts.classes === undefined) throw new WeightFileError(file.name, 'has no ASPP (a backbone initialisation): pass `classes` for a fresh one');
      config = checkConfig({ classes: opts.classes, backbone: inferBackbone(file, prefix), rates: opts.rates, mscScales: opts.mscScales });
      const head = initDeepLabV2Head(config, opts.seed ?? 0);
      const missing: string[] = [], wrong: string[] = [];
      for (const s of deeplabV2TrainSpecs(config)) {
        const h = head.get(s.name);
        if (h) {
          weights.set(s.name, h);
          continue;
        }
        const key = prefix + s.name.slice(DEEPLABV2_PREFIX.length);
        if (!file.has(key)) missing.push(key);
        else {
          const got = file.info(key).shape;
          if (got.length !== s.shape.length || got.some((d, i) => d !== s.shape[i])) wrong.push(`${key} is [${got.join(', ')}], expected [${s.shape.join(', ')}]`);
          else weights.set(s.name, await file.getF32(key));
        }
      }
      if (missing.length || wrong.length) {
        const parts = [...(missing.length ? [`${missing.length} missing key(s): ${listSome(missing)}`] : []), ...(wrong.length ? [`${wrong.length} wrong shape(s): ${listSome(wrong)}`] : [])];
        throw new WeightFileError(file.name, `not a complete deeplab-pytorch backbone (prefix '${prefix}'): ${parts.join('; ')}`);
      }
      const used = new Set(deeplabV2TrainSpecs(config).map((s) => prefix + s.name.slice(DEEPLABV2_PREFIX.length)));
      ignoredKeys.push(...file.keys.filter((k) => !used.has(k)));
      freshHead = true;
    }
    return { config, weights, freshHead, ignoredKeys, source: file.name };
  } finally {
    await file.close();
  }
}

/**
 * Labels [N, H, W] resized to [N, outH, outW] as deeplab-pytorch's resize_labels does (PIL's
 * Image.resize with NEAREST): per axis the source index is ⌊x⌋ of x = s/2 + i·s, s = in/out,
 * accumulated in float64 exactly as Pillow's affine nearest path steps (not ⌊(i + ½)·s⌋, which
 * differs where the product lands on an integer).
 */
export function resizeLabelsNearest(labels: ArrayLike<number>, shape: readonly [number, number, number], outH: number, outW: number): Uint32Array {
  const [n, h, w] = shape;
  if (labels.length !== n * h * w) throw new DeepLabError(`${labels.length} labels for [${n}, ${h}, ${w}]`);
  if (!(Number.isInteger(outH) && outH >= 1 && Number.isInteger(outW) && outW >= 1)) throw new DeepLabError(`label size ${outH}×${outW} must be positive integers`);
  const axis = (inSize: number, outSize: number) => {
    const step = inSize / outSize;
    const idx = new Int32Array(outSize);
    let v = step * 0.5;
    for (let i = 0; i < outSize; i++, v += step) idx[i] = Math.min(Math.trunc(v), inSize - 1);
    return idx;
  };
  const ys = axis(h, outH), xs = axis(w, outW);
  const out = new Uint32Array(n * outH * outW);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < outH; y++) {
      const row = (b * h + ys[y]!) * w;
      for (let x = 0; x < outW; x++) out[(b * outH + y) * outW + x] = labels[row + xs[x]!]!;
    }
  }
  return out;
}

/**
 * What SegmenterTrainer trains (trainOutputs): 'full' forward against full-size labels; 'lowres'
 * forwardLowres and 'msc' forwardMsc against labels resized to each output (the original: 'msc').
 */
export type DeepLabV2Objective = 'full' | 'lowres' | 'msc';

/** forwardMsc's outputs, in the original's order, and the scaled inputs it owns. */
export interface DeepLabV2MscOutputs {
  /** [scale-1 logits, logits of each scaled input (at their own sizes), their max at the scale-1 size]. */
  logits: Var[];
  /** Releases the resized inputs: call after the tape's backward (or dispose). */
  release(): void;
}

interface FrozenBn {
  channels: number;
  /** a [C, 1, 1, 1]: a depthwise 1×1 convolution's weight. */
  scale: Tensor;
  /** b [C]. */
  shift: Tensor;
}

/** DeepLab-v2 on a Gpu: parameters with gradient buffers, frozen BNs, the forwards on a tape. */
export class DeepLabV2Trainable implements TrainableModel {
  readonly params: Param[] = [];
  /** The training objective trainOutputs gives (see DeepLabV2Objective). */
  objective: DeepLabV2Objective = 'full';
  private readonly byName = new Map<string, Param>();
  /** BN tensors as given (they never change on the device). */
  private readonly bnHost = new Map<string, Float32Array>();
  private readonly bn = new Map<string, FrozenBn>();
  private readonly negate: Tensor;
  private readonly specs: TensorSpec[];
  private readonly spec: BackboneSpec;
  private released = false;

  private constructor(
    readonly gpu: Gpu,
    readonly config: DeepLabV2TrainConfig,
    weights: ReadonlyMap<string, Float32Array>,
  ) {
    this.specs = deeplabV2TrainSpecs(config);
    this.spec = backboneSpec(config);
    this.check(weights);
    for (const s of this.specs) {
      const host = weights.get(s.name)!;
      if (s.role === 'conv' || s.role === 'classifier' || s.role === 'bias') {
        const isConv = s.shape.length === 4;
        const shape = isConv ? [s.shape[0]!, s.shape[2]!, s.shape[3]!, s.shape[1]!] : s.shape;
        const p: Param = { name: s.name, value: gpu.upload(isConv ? ohwiFromOihw(host, s.shape) : host, shape, 'f32', s.name), grad: gpu.empty(shape, 'f32', `${s.name} grad`) };
        this.params.push(p);
        this.byName.set(s.name, p);
      } else {
        this.bnHost.set(s.name, Float32Array.from(host));
      }
    }
    for (const c of backboneConvs(this.spec)) {
      const { scale, shift } = this.affine(c.bn!);
      this.bn.set(c.bn!, {
        channels: scale.length,
        scale: gpu.upload(scale, [scale.length, 1, 1, 1], 'f32', `${c.bn} scale`),
        shift: gpu.upload(shift, [shift.length], 'f32', `${c.bn} shift`),
      });
    }
    this.negate = gpu.upload(new Float32Array(config.classes).fill(-1), [config.classes, 1, 1, 1], 'f32', 'msc negate');
  }

  /** A model from host weights (every tensor of deeplabV2TrainSpecs(config), PyTorch layout). */
  static create(gpu: Gpu, config: Partial<DeepLabV2TrainConfig> & Pick<DeepLabV2TrainConfig, 'classes' | 'backbone'>, weights: ReadonlyMap<string, Float32Array>): DeepLabV2Trainable {
    return new DeepLabV2Trainable(gpu, checkConfig(config), weights);
  }

  /** A model from a checkpoint (see loadDeepLabV2Weights). */
  static async load(gpu: Gpu, input: WeightInput, opts: DeepLabV2LoadOptions = {}): Promise<{ model: DeepLabV2Trainable; loaded: Omit<LoadedDeepLabV2, 'weights'> }> {
    const { weights, ...loaded } = await loadDeepLabV2Weights(input, opts);
    return { model: new DeepLabV2Trainable(gpu, loaded.config, weights), loaded };
  }

  get tensorSpecs(): readonly TensorSpec[] {
    return this.specs;
  }

  param(name: string): Param {
    const p = this.byName.get(name);
    if (!p) throw new DeepLabError(`no parameter '${name}'`);
    return p;
  }

  private check(weights: ReadonlyMap<string, Float32Array>): void {
    for (const s of this.specs) {
      const w = weights.get(s.name);
      if (!w) throw new DeepLabError(`weights lack '${s.name}'`);
      if (w.length !== size(s.shape)) throw new DeepLabError(`'${s.name}' has ${w.length} values; [${s.shape.join(', ')}] needs ${size(s.shape)}`);
    }
  }

  /** a = γ/√(var + eps), b = β − mean·a from the host BN tensors. */
  private affine(bn: string): { scale: Float32Array; shift: Float32Array } {
    const get = (p: string) => this.bnHost.get(`${DEEPLABV2_PREFIX}${bn}.${p}`)!;
    const [gamma, beta, mean, variance] = [get('weight'), get('bias'), get('running_mean'), get('running_var')];
    const scale = new Float32Array(gamma.length), shift = new Float32Array(gamma.length);
    for (let c = 0; c < gamma.length; c++) {
      const a = gamma[c]! / Math.sqrt(variance[c]! + BN_EPS);
      scale[c] = a;
      shift[c] = beta[c]! - mean[c]! * a;
    }
    return { scale, shift };
  }

  /** conv (no bias) → frozen BN → ReLU, nothing, or + residual then ReLU. */
  private async unit(tape: Tape, x: Var, src: ConvSource, conv: ConvParams, after: 'relu' | 'none' | Var): Promise<Var> {
    const c = await tape.conv2d(x, tape.param(this.param(`${DEEPLABV2_PREFIX}${src.name}.weight`)), conv);
    const bn = this.bn.get(src.bn!)!;
    const y = await tape.conv2d(c, tape.input(bn.scale), { groups: bn.channels, bias: tape.input(bn.shift) });
    if (after === 'none') return y;
    if (after === 'relu') return tape.relu(y);
    return tape.add(y, after, { relu: true });
  }

  private checkInput(x: Var): [number, number, number, number] {
    if (this.released) throw new DeepLabError('the model was released');
    const [n, ch, h, w] = x.shape as [number, number, number, number];
    if (x.shape.length !== 4 || ch !== 3 || n < 1) throw new DeepLabError(`input [${x.shape.join(', ')}] must be [N, 3, H, W]`);
    return [n, ch, h, w];
  }

  /** The base network's logits [N, classes, h, w] at output stride 8 (deeplab-pytorch's `model.base(x)`). */
  async forwardLowres(tape: Tape, x: Var): Promise<Var> {
    this.checkInput(x);
    const stem = backboneStem(this.spec);
    let h = await this.unit(tape, x, stem.conv, { stride: stem.stride, padding: stem.padding }, 'relu');
    h = await tape.maxPool(h, stem.pool);
    for (const b of backboneBlocks(this.spec)) {
      const a = await this.unit(tape, h, b.reduce, { stride: b.reduceStride }, 'relu');
      const c = await this.unit(tape, a, b.conv3x3, { stride: b.conv3x3Stride, padding: b.dilation, dilation: b.dilation }, 'relu');
      const shortcut = b.shortcut ? await this.unit(tape, h, b.shortcut, { stride: b.stride }, 'none') : h;
      h = await this.unit(tape, c, b.increase, {}, shortcut);
    }
    let sum: Var | undefined;
    for (const [i, r] of this.config.rates.entries()) {
      const w = tape.param(this.param(`${DEEPLABV2_PREFIX}aspp.c${i}.weight`));
      const y = await tape.conv2d(h, w, { padding: r, dilation: r, bias: tape.param(this.param(`${DEEPLABV2_PREFIX}aspp.c${i}.bias`)) });
      sum = sum ? await tape.add(sum, y) : y;
    }
    return sum!;
  }

  /** Logits [N, classes, H, W]: forwardLowres resized to the input size (bilinear, align_corners False). */
  async forward(tape: Tape, x: Var): Promise<Var> {
    const [, , h, w] = this.checkInput(x);
    return tape.bilinear(await this.forwardLowres(tape, x), [h, w], { alignCorners: false });
  }

  /** max(a, b) = a + relu(b − a): the gradient goes to b where b > a, else to a. */
  private async max(tape: Tape, a: Var, b: Var): Promise<Var> {
    const negA = await tape.conv2d(a, tape.input(this.negate), { groups: this.config.classes });
    return tape.add(a, await tape.add(b, negA, { relu: true }));
  }

  /**
   * The MSC model's training outputs (deeplab-pytorch's MSC.forward in training mode): the base on x,
   * on x resized by each scale (F.interpolate scale_factor, bilinear, align_corners False), and the
   * element-wise max of the scale-1 logits and the others resized to their size. x must be an input
   * (no gradient flows through the resizing of the image).
   */
  async forwardMsc(tape: Tape, x: Var): Promise<DeepLabV2MscOutputs> {
    const [, , height, width] = this.checkInput(x);
    if (x.requiresGrad) throw new DeepLabError('forwardMsc: the image must be a tape input (no gradient)');
    if (this.config.mscScales.length === 0) throw new DeepLabError('forwardMsc: no MSC scales (deeplab-pytorch falls back to 0.5, 0.75 for an empty list)');
    const owned: Tensor[] = [];
    const release = () => this.gpu.release(...owned.splice(0));
    try {
      const base = await this.forwardLowres(tape, x);
      const [, , h, w] = base.shape as [number, number, number, number];
      const pyramid: Var[] = [];
      for (const s of this.config.mscScales) {
        const sized: [number, number] = [scaledSize(height, s), scaledSize(width, s)];
        if (sized[0] < 1 || sized[1] < 1) throw new DeepLabError(`MSC scale ${s} of a ${height}×${width} input is empty`);
        const xs = await bilinear(this.gpu, x.tensor, sized, { scaleFactor: s });
        owned.push(xs);
        pyramid.push(await this.forwardLowres(tape, tape.input(xs)));
      }
      let max = base;
      for (const l of pyramid) max = await this.max(tape, max, await tape.bilinear(l, [h, w], { alignCorners: false }));
      return { logits: [base, ...pyramid, max], release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** The outputs SegmenterTrainer trains on, by `objective`. */
  async trainOutputs(tape: Tape, x: Var): Promise<TrainOutputs> {
    switch (this.objective) {
      case 'full':
        return { logits: [await this.forward(tape, x)] };
      case 'lowres':
        return { logits: [await this.forwardLowres(tape, x)] };
      case 'msc':
        return this.forwardMsc(tape, x);
      default:
        throw new DeepLabError(`unknown objective '${String(this.objective)}' (known: full, lowres, msc)`);
    }
  }

  /** Every tensor back on the host in PyTorch's layout (one read-back for the parameters). */
  async download(): Promise<DeepLabV2Weights> {
    const data = (await this.gpu.readMany(this.params.map((p) => p.value))) as Float32Array[];
    const byParam = new Map(this.params.map((p, i) => [p.name, data[i]!]));
    const out: DeepLabV2Weights = new Map();
    for (const s of this.specs) {
      const d = byParam.get(s.name);
      out.set(s.name, d ? (s.shape.length === 4 ? oihwFromOhwi(d, s.shape) : d) : Float32Array.from(this.bnHost.get(s.name)!));
    }
    return out;
  }

  upload(weights: ReadonlyMap<string, Float32Array>): void {
    if (this.released) throw new DeepLabError('the model was released');
    this.check(weights);
    for (const s of this.specs) {
      const host = weights.get(s.name)!;
      const p = this.byName.get(s.name);
      if (p) this.gpu.write(p.value, s.shape.length === 4 ? ohwiFromOihw(host, s.shape) : host);
      else this.bnHost.get(s.name)!.set(host);
    }
    for (const [name, t] of this.bn) {
      const { scale, shift } = this.affine(name);
      this.gpu.write(t.scale, scale);
      this.gpu.write(t.shift, shift);
    }
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    for (const p of this.params) this.gpu.release(p.value, p.grad);
    for (const t of this.bn.values()) this.gpu.release(t.scale, t.shift);
    this.gpu.release(this.negate);
  }
}
