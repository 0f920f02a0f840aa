// The trainable DeepLab-v2 (src/train/deeplab.ts) against deeplab-pytorch itself (4219467, its
// DeepLabV2 + MSC modules and main.py's get_params / resize_labels run by
// weights/make_deeplabv2_train_golden.py): a 1/16-width DeepLabV2 with blocks [1, 1, 2, 1], 5 classes,
// ASPP rates 6/12/18/24, random weights and calibrated frozen BNs (init.pth, read by the weight
// loader), one 97×121 image with blocky labels and 255s. Two objectives, SGD with the original's
// groups (×1 decay, ×10 decay, ×20 no decay; momentum 0.9; lr 2.5e-3, weight decay 0.05):
//   base  the single-scale network, loss on its 13×16 logits against labels resized by PIL nearest;
//         two steps (the second uses the momentum)
//   msc   the original's objective: four outputs (scale 1, 0.5, 0.75, max), one loss each, summed
//         in one tape; one step by hand here, two by the trainer below.
// Also: an initialisation checkpoint without ASPP (as deeplab-pytorch's COCO init) gets a fresh one,
// and init-deeplabv1.pth, the original's own DeepLabV1 state_dict with init.pth's backbone (the
// layout convert.py writes for deeplabv1_resnet101-coco.pth; the generator asserts that main.py's
// strict=False load skips exactly the ASPP and `fc`), is read as `seedmask train --init` reads it.
// And SegmenterTrainer's own step on the msc objective (model.objective 'msc': one tape, four
// losses; labels resized on the GPU) with the original's groups (headLrMult 10, biasLrMult 20), its
// staircase poly schedule (lrDecayEvery 10, checked against the recorded PolynomialLR rates) and
// ITER_SIZE 2 (iterSize 2 on the image twice: each loss halved, the halves summed, which gives the
// golden's single-batch gradient exactly), two steps against the golden's losses and updates.
//
// Tolerances. References are PyTorch float64 on the same float32 weights and inputs; seedmask runs
// float32 with other summation orders (GEMM tiles, per-tile weight-gradient sums) through ~20
// convolutions and their transposes. Measured: logits within 1.5e-6 of the largest logit, gradients
// within 2e-6 of the largest gradient, about PyTorch's own float32 error (torch32_err in
// golden.json, printed beside). Bounds, relative to the tensor's largest reference value: logits and
// losses 2e-5, gradients 3e-5 (≥ 10× headroom for other adapters' summation orders); a wrong tap,
// dilation, stride or BN fold moves them by far more. Parameter updates: lr_group·(1 + momentum)·
// (gradient bound) + 2 ulp of the weight; a wrong group multiplier, or weight decay in the wrong
// group (lr·0.05·|p|), moves an update tens to thousands of times that bound on the recorded
// tensors. The MSC max routes gradients by argmax: the golden records its smallest top-2 margin,
// checked to exceed twice the logit bound.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/context.js';
import type { Tensor } from '../../src/gpu/tensor.js';
import { sgdStep } from '../../src/kernels/train/optim.js';
import { Tape, type Param, type Var } from '../../src/train/autodiff.js';
import {
  DEEPLABV2_HEAD_STD, DEEPLABV2_PARAM_GROUPS, DeepLabV2Trainable, initDeepLabV2Head, loadDeepLabV2Weights, resizeLabelsNearest, type LoadedDeepLabV2,
} from '../../src/train/deeplab.js';
import { WeightFileError } from '../../src/weights/errors.js';
import { loadWeights } from '../../src/weights/index.js';
import { encodeSafetensors } from '../../src/weights/safetensors.js';
import { oihwFromOhwi } from '../../src/train/segmenter.js';
import { SegmenterTrainer, TrainerError, labelWords, resizeLabelsOn } from '../../src/train/trainer.js';
import { testGpu } from '../helpers/gpu.js';
import { check, reportAfterAll } from './check.js';
import { maxAbs } from './reference.js';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'train', 'deeplabv2');
const INIT = join(DIR, 'init.pth');
/** The original's DeepLabV1 (91-class `fc`) holding init.pth's backbone, as convert.py saves COCO's. */
const INIT_V1 = join(DIR, 'init-deeplabv1.pth');

interface Header {
  torch: string;
  source: { commit: string };
  settings: { classes: number; size: [number, number]; lr: number; momentum: number; weight_decay: number; n_blocks: number[]; rates: number[] };
  param_groups: { lr_mult: number; weight_decay: boolean; params: string[] }[];
  not_optimised: string[];
  recorded: string[];
  cases: Record<'base' | 'msc', { outputs: number[][]; losses: number[]; step_losses: number[]; max_top2_margin?: number }>;
  poly_schedule: { base_lr: number; step_size: number; iter_max: number; power: number; lr_1x_by_iteration: number[] };
  bin_bytes: number;
  bin_sha256: string;
  arrays: Record<string, { offset: number; dtype: 'f32' | 'u8'; shape: number[] }>;
  torch32_err: Record<string, number>;
}

const header = JSON.parse(readFileSync(join(DIR, 'golden.json'), 'utf8')) as Header;
const bin = readFileSync(join(DIR, 'golden.bin'));
if (bin.byteLength !== header.bin_bytes || createHash('sha256').update(bin).digest('hex') !== header.bin_sha256) {
  throw new Error('golden.bin does not match golden.json: regenerate with weights/make_deeplabv2_train_golden.py');
}

function f32(key: string): Float32Array {
  const e = header.arrays[key];
  if (!e || e.dtype !== 'f32') throw new Error(`golden has no f32 array '${key}'`);
  const n = e.shape.reduce((a, b) => a * b, 1);
  return new Float32Array(bin.buffer.slice(bin.byteOffset + e.offset, bin.byteOffset + e.offset + 4 * n));
}

function u8(key: string): Uint8Array {
  const e = header.arrays[key];
  if (!e || e.dtype !== 'u8') throw new Error(`golden has no u8 array '${key}'`);
  return bin.subarray(e.offset, e.offset + e.shape.reduce((a, b) => a * b, 1));
}

/** The float32 bit patterns: "equal" below means bit for bit (−0 and NaN payloads included). */
const bits = (a: Float32Array | undefined) => (a ? Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length)) : a);

const LOGIT_REL = 2e-5;
const GRAD_REL = 3e-5;
const ULP = 2 ** -23;

reportAfterAll(`DeepLab-v2 training step vs deeplab-pytorch ${header.source.commit.slice(0, 7)}`);

const { settings } = header;
const [H, W] = settings.size;

/** The recorded parameter's value in PyTorch's layout. */
async function value(gpu: Gpu, p: Param, shape: readonly number[]): Promise<Float64Array> {
  const v = await gpu.readF32(p.value);
  return Float64Array.from(shape.length === 4 ? oihwFromOhwi(v, shape) : v);
}

async function gradOf(gpu: Gpu, p: Param, shape: readonly number[]): Promise<Float32Array> {
  const g = await gpu.readF32(p.grad);
  return shape.length === 4 ? oihwFromOhwi(g, shape) : g;
}

/** SGD state per parameter with the original's groups (DEEPLABV2_PARAM_GROUPS by role). */
class Sgd {
  private readonly bufs = new Map<Param, Tensor>();
  private steps = 0;
  constructor(
    private readonly gpu: Gpu,
    private readonly model: DeepLabV2Trainable,
  ) {}

  group(name: string) {
    const role = this.model.tensorSpecs.find((s) => s.name === name)!.role;
    return DEEPLABV2_PARAM_GROUPS[role as keyof typeof DEEPLABV2_PARAM_GROUPS];
  }

  async step(grads?: Map<Param, Tensor>): Promise<void> {
    this.steps++;
    for (const p of this.model.params) {
      const g = this.group(p.name);
      let buf = this.bufs.get(p);
      if (!buf) this.bufs.set(p, (buf = this.gpu.empty(p.value.shape, 'f32', `${p.name} momentum`)));
      await sgdStep(this.gpu, p.value, grads?.get(p) ?? p.grad, { momentumBuffer: buf, step: this.steps }, {
        lr: settings.lr * g.lrMult, momentum: settings.momentum, weightDecay: g.weightDecay ? settings.weight_decay : 0,
      });
    }
  }

  release(): void {
    this.gpu.release(...this.bufs.values());
  }
}

/** Cross-entropy of one output against the labels resized as the original resizes them. */
async function lossOn(gpu: Gpu, tape: Tape, logits: Var): Promise<{ loss: Tensor; labels: Tensor; resized: Uint32Array }> {
  const [n, , h, w] = logits.shape as [number, number, number, number];
  const resized = resizeLabelsNearest(u8('labels'), [n, H, W], h, w);
  const labels = gpu.upload(resized, [resized.length], 'u32', 'labels');
  return { loss: await tape.crossEntropy(logits, labels), labels, resized };
}

describe('DeepLab-v2 (deeplab-pytorch) training step', () => {
  let gpu: Gpu;
  let loaded: LoadedDeepLabV2;
  let model: DeepLabV2Trainable;
  let image: Tensor;
  const shapeOf = (name: string) => model.tensorSpecs.find((s) => s.name === name)!.shape;

  beforeAll(async () => {
    gpu = await testGpu();
    loaded = await loadDeepLabV2Weights(INIT, { rates: settings.rates });
    model = DeepLabV2Trainable.create(gpu, loaded.config, loaded.weights);
    image = gpu.upload(f32('image'), [1, 3, H, W], 'f32', 'image');
  });

  afterAll(() => {
    gpu?.release(image);
    model?.release();
  });

  it("reads the original's checkpoint: every tensor, its parameter groups", async () => {
    expect(loaded.freshHead).toBe(false);
    expect(loaded.config.backbone.blocks).toEqual(settings.n_blocks);
    expect(loaded.config.classes).toBe(settings.classes);
    expect(loaded.ignoredKeys.every((k) => k.endsWith('.num_batches_tracked'))).toBe(true);
    // The groups main.py builds, by parameter name.
    const params = new Set(model.params.map((p) => p.name));
    for (const g of header.param_groups) {
      for (const name of g.params) {
        expect(params.has(name), name).toBe(true);
        const mine = new Sgd(gpu, model).group(name);
        expect([mine.lrMult, mine.weightDecay], name).toEqual([g.lr_mult, g.weight_decay]);
      }
    }
    expect(model.params.length).toBe(header.param_groups.reduce((a, g) => a + g.params.length, 0));
    for (const name of header.not_optimised) expect(params.has(name), name).toBe(false);
    const back = await model.download();
    for (const [k, v] of loaded.weights) expect(back.get(k), k).toEqual(v);
  });

  it('takes an initialisation without ASPP (DeepLabV1 keys, fc ignored) and makes a fresh head', async () => {
    // As deeplab-pytorch's COCO init: bare keys, the backbone, and a 1×1 `fc` instead of the ASPP.
    const entries = [...loaded.weights].filter(([k]) => !k.includes('.aspp.')).map(([k, v]) => ({ name: k.slice('base.'.length), v }));
    entries.push({ name: 'fc.weight', v: new Float32Array(91 * 128) }, { name: 'fc.bias', v: new Float32Array(91) });
    const shapes = new Map(model.tensorSpecs.map((s) => [s.name.slice('base.'.length), s.shape]));
    const file = await encodeSafetensors(entries.map(({ name, v }) => ({
      name, dtype: 'F32' as const, shape: shapes.get(name) ?? (name === 'fc.weight' ? [91, 128, 1, 1] : [91]), data: new Uint8Array(v.buffer, v.byteOffset, v.byteLength),
    })));
    await expect(loadDeepLabV2Weights(file)).rejects.toThrow(WeightFileError);
    const init = await loadDeepLabV2Weights(file, { classes: 21, seed: 3 });
    expect(init.freshHead).toBe(true);
    expect(init.config.classes).toBe(21);
    expect(init.config.backbone).toEqual(loaded.config.backbone);
    expect(init.ignoredKeys.sort()).toEqual(['fc.bias', 'fc.weight']);
    for (const [k, v] of loaded.weights) if (!k.includes('.aspp.')) expect(init.weights.get(k), k).toEqual(v);
    for (let i = 0; i < 4; i++) {
      const w = init.weights.get(`base.aspp.c${i}.weight`)!;
      expect(w.length).toBe(21 * 128 * 9);
      const rms = Math.sqrt(w.reduce((a, v) => a + v * v, 0) / w.length);
      expect(Math.abs(rms / DEEPLABV2_HEAD_STD - 1)).toBeLessThan(0.05);
      expect(init.weights.get(`base.aspp.c${i}.bias`)).toEqual(new Float32Array(21));
    }
    // A checkpoint's own ASPP must have the classes asked for.
    await expect(loadDeepLabV2Weights(INIT, { classes: 21 })).rejects.toThrow(/ASPP of 5 classes/);
  });

  it("reads the original's DeepLabV1 file (COCO-init layout): init.pth's backbone, a fresh ASPP, the same forward", async () => {
    const seed = 7;
    const opts = { classes: settings.classes, rates: settings.rates, seed };
    const v1 = await loadDeepLabV2Weights(INIT_V1, opts);
    expect(v1.freshHead).toBe(true);
    expect(v1.config).toEqual(loaded.config);
    // What main.py's load_state_dict(strict=False) leaves unused besides the BN step counters.
    expect(v1.ignoredKeys.filter((k) => !k.endsWith('.num_batches_tracked')).sort()).toEqual(['fc.bias', 'fc.weight']);
    // The backbone bit for bit as init.pth's (the file's float64 running statistics are float32
    // values widened, as main.py's copy_ into the float32 buffers narrows them back); the ASPP is
    // initDeepLabV2Head's for this seed: normal(0, 0.01) weights, zero biases.
    const head = initDeepLabV2Head(v1.config, seed);
    expect([...v1.weights.keys()]).toEqual([...loaded.weights.keys()]);
    for (const [k, v] of loaded.weights) expect(bits(v1.weights.get(k)), k).toEqual(bits(k.startsWith('base.aspp.') ? head.get(k) : v));
    for (let i = 0; i < settings.rates.length; i++) {
      const w = v1.weights.get(`base.aspp.c${i}.weight`)!;
      const mean = w.reduce((a, v) => a + v, 0) / w.length;
      const rms = Math.sqrt(w.reduce((a, v) => a + v * v, 0) / w.length);
      expect(Math.abs(mean) / DEEPLABV2_HEAD_STD).toBeLessThan(0.1);
      expect(Math.abs(rms / DEEPLABV2_HEAD_STD - 1)).toBeLessThan(0.05);
      expect(v1.weights.get(`base.aspp.c${i}.bias`)).toEqual(new Float32Array(settings.classes));
    }

    // The loader `seedmask train --init` runs, against init.pth with the same fresh ASPP substituted:
    // the same stride-8 logits bit for bit; with init.pth's own ASPP put back, the golden's.
    const { model: fromV1, loaded: info } = await DeepLabV2Trainable.load(gpu, INIT_V1, opts);
    const logitsOf = async (m: DeepLabV2Trainable) => {
      const tape = new Tape(gpu, { grad: false });
      try {
        return await gpu.readF32((await m.forwardLowres(tape, tape.input(image))).tensor);
      } finally {
        tape.dispose();
      }
    };
    try {
      expect(info.freshHead).toBe(true);
      const substituted = new Map(loaded.weights);
      for (const [k, v] of head) substituted.set(k, v);
      model.upload(substituted);
      const fresh = await logitsOf(fromV1);
      expect(bits(fresh)).toEqual(bits(await logitsOf(model)));
      expect(maxAbs(fresh)).toBeGreaterThan(0);
      fromV1.upload(loaded.weights);
      const want = f32('base.logits0');
      check('DeepLabV1-initialised model, init.pth ASPP: base logits', await logitsOf(fromV1), want, LOGIT_REL * maxAbs(want), '2e-5·max|ref|', header.torch32_err['base.logits0']);
    } finally {
      fromV1.release();
      model.upload(loaded.weights);
    }
  });

  it('names the key of a DeepLabV1 backbone tensor with the wrong shape', async () => {
    // init-deeplabv1.pth with one dilated 3×3 stored as [16, 16, 9, 1]: its element count is right,
    // its shape not (PyTorch's load_state_dict refuses it too, strict or not).
    const bad = 'layer4.block2.conv3x3.conv.weight';
    const f = await loadWeights(INIT_V1);
    const entries = [];
    try {
      expect(f.info(bad).shape).toEqual([16, 16, 3, 3]);
      for (const k of f.keys) {
        if (k.endsWith('.num_batches_tracked')) continue;
        const d = await f.getF32(k);
        const shape = [...f.info(k).shape];
        entries.push({ name: k, dtype: 'F32' as const, shape: k === bad ? [shape[0]!, shape[1]!, shape[2]! * shape[3]!, 1] : shape, data: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) });
      }
    } finally {
      await f.close();
    }
    const file = await encodeSafetensors(entries);
    const err = await loadDeepLabV2Weights(file, { classes: settings.classes }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeightFileError);
    expect(String((err as Error).message)).toContain(`${bad} is [16, 16, 9, 1], expected [16, 16, 3, 3]`);
  });

  it('resizes labels as resize_labels (PIL nearest)', () => {
    header.cases.msc.outputs.forEach(([n, , h, w], i) => {
      const want = u8(`msc.labels${i}`);
      const got = resizeLabelsNearest(u8('labels'), [n!, H, W], h!, w!);
      expect(Array.from(got), `${h}×${w}`).toEqual(Array.from(want));
    });
  });

  it('single scale: logits, loss, gradients, two SGD steps', async () => {
    model.upload(loaded.weights);
    const sgd = new Sgd(gpu, model);
    const before = new Map<string, Float64Array>();
    for (const name of header.recorded) before.set(name, await value(gpu, model.param(name), shapeOf(name)));
    try {
      const after: Map<string, Float64Array>[] = [];
      for (let step = 0; step < 2; step++) {
        const tape = new Tape(gpu);
        const logits = await model.forwardLowres(tape, tape.input(image));
        const kept = step === 0 ? tape.keep(logits) : undefined;
        const { loss, labels, resized } = await lossOn(gpu, tape, logits);
        expect(Array.from(resized)).toEqual(Array.from(u8('base.labels0')));
        await tape.backward();
        const l = (await gpu.readF32(loss))[0]!;
        const wantLoss = header.cases.base.step_losses[step]!;
        check(`base loss, step ${step + 1}`, [l], [wantLoss], LOGIT_REL * wantLoss, '2e-5 relative', header.torch32_err[`base.loss${step}`]);
        gpu.release(loss, labels);
        if (kept) {
          const want = f32('base.logits0');
          check('base logits', await gpu.readF32(kept), want, LOGIT_REL * maxAbs(want), '2e-5·max|ref|', header.torch32_err['base.logits0']);
          gpu.release(kept);
          for (const name of header.recorded) {
            const want = f32(`base.grad.${name}`);
            check(`base grad ${name.slice(5)}`, await gradOf(gpu, model.param(name), shapeOf(name)), want, GRAD_REL * maxAbs(want), '3e-5·max|ref|', header.torch32_err[`base.grad.${name}`]);
          }
        }
        await sgd.step();
        const now = new Map<string, Float64Array>();
        for (const name of header.recorded) now.set(name, await value(gpu, model.param(name), shapeOf(name)));
        after.push(now);
      }
      for (const name of header.recorded) {
        const g = sgd.group(name);
        const gradBound = GRAD_REL * maxAbs(f32(`base.grad.${name}`));
        for (const [k, prev, next] of [[1, before.get(name)!, after[0]!.get(name)!], [2, after[0]!.get(name)!, after[1]!.get(name)!]] as const) {
          const got = next.map((v, i) => v - prev[i]!);
          const bound = prev.map((v) => settings.lr * g.lrMult * (1 + settings.momentum) * gradBound + 2 * ULP * Math.abs(v));
          check(`base update ${k} ${name.slice(5)}`, got, f32(`base.update${k}.${name}`), bound, `lr·${g.lrMult}·(1+μ)·grad bound + 2 ulp`, header.torch32_err[`base.update${k}.${name}`]);
        }
      }
    } finally {
      sgd.release();
    }
  });

  it('MSC: the four outputs, their losses in one tape, the summed gradient, one SGD step', async () => {
    model.upload(loaded.weights);
    const sgd = new Sgd(gpu, model);
    const before = new Map<string, Float64Array>();
    for (const name of header.recorded) before.set(name, await value(gpu, model.param(name), shapeOf(name)));
    const outputs = header.cases.msc.outputs;
    const tape = new Tape(gpu);
    const msc = await model.forwardMsc(tape, tape.input(image));
    const owned: Tensor[] = [];
    try {
      expect(msc.logits.map((l) => l.shape)).toEqual(outputs);
      expect(header.cases.msc.max_top2_margin!).toBeGreaterThan(2 * LOGIT_REL * maxAbs(f32('msc.logits3')));
      const kept = msc.logits.map((l) => tape.keep(l));
      owned.push(...kept);
      const losses: Tensor[] = [];
      for (const logits of msc.logits) {
        const { loss, labels } = await lossOn(gpu, tape, logits);
        losses.push(loss);
        owned.push(loss, labels);
      }
      const updated = await tape.backward();
      expect(updated.size).toBe(model.params.length);
      let total = 0;
      for (const [k, loss] of losses.entries()) {
        const l = (await gpu.readF32(loss))[0]!;
        total += l;
        const want = header.cases.msc.losses[k]!;
        check(`msc loss ${k}`, [l], [want], LOGIT_REL * want, '2e-5 relative');
      }
      for (const [i, t] of kept.entries()) {
        const ref = f32(`msc.logits${i}`);
        check(`msc logits ${i} [${outputs[i]!.slice(2).join('×')}]`, await gpu.readF32(t), ref, LOGIT_REL * maxAbs(ref), '2e-5·max|ref|', header.torch32_err[`msc.logits${i}`]);
      }
      check('msc summed loss', [total], [header.cases.msc.step_losses[0]!], LOGIT_REL * header.cases.msc.step_losses[0]!, '2e-5 relative', header.torch32_err['msc.loss0']);
      for (const name of header.recorded) {
        const want = f32(`msc.grad.${name}`);
        check(`msc grad ${name.slice(5)}`, Float64Array.from(await gradOf(gpu, model.param(name), shapeOf(name))), want, GRAD_REL * maxAbs(want), '3e-5·max|ref|', header.torch32_err[`msc.grad.${name}`]);
      }
      await sgd.step();
      for (const name of header.recorded) {
        const g = sgd.group(name);
        const prev = before.get(name)!;
        const next = await value(gpu, model.param(name), shapeOf(name));
        const gradBound = GRAD_REL * maxAbs(f32(`msc.grad.${name}`));
        const bound = prev.map((v) => settings.lr * g.lrMult * gradBound + 2 * ULP * Math.abs(v));
        check(`msc update 1 ${name.slice(5)}`, next.map((v, i) => v - prev[i]!), f32(`msc.update1.${name}`), bound, `lr·${g.lrMult}·grad bound + 2 ulp`, header.torch32_err[`msc.update1.${name}`]);
      }
    } finally {
      tape.dispose();
      msc.release();
      sgd.release();
      gpu.release(...owned);
    }
  });

  it('resizes batch labels on the GPU as resize_labels, packed bytes and u32', async () => {
    // Two samples (the second mirrored) so that each output row steps to its own sample's rows.
    const one = u8('labels');
    const two = new Uint8Array(2 * H * W);
    two.set(one);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) two[(H + y) * W + x] = one[y * W + (W - 1 - x)]!;
    for (const labels of [two, Uint32Array.from(two)]) {
      const { words, layout } = labelWords(labels);
      const t = gpu.upload(words, [words.length], 'u32', 'labels');
      for (const [, , h, w] of header.cases.msc.outputs) {
        const got = await resizeLabelsOn(gpu, t, layout, [2, H, W], [h!, w!]);
        expect(Array.from(await gpu.read(got)), `${layout} ${h}×${w}`).toEqual(Array.from(resizeLabelsNearest(two, [2, H, W], h!, w!)));
        gpu.release(got);
      }
      gpu.release(t);
    }
  });

  it("the trainer's step: MSC objective, the original's groups, staircase schedule and ITER_SIZE 2, two steps", async () => {
    model.upload(loaded.weights);
    const mult = (role: keyof typeof DEEPLABV2_PARAM_GROUPS) => DEEPLABV2_PARAM_GROUPS[role].lrMult;
    const sched = header.poly_schedule;
    const trainer = new SegmenterTrainer(model, {
      optimizer: { kind: 'sgd', lr: settings.lr, momentum: settings.momentum, weightDecay: settings.weight_decay },
      headLrMult: mult('classifier'), biasLrMult: mult('bias'),
      maxIter: sched.iter_max, power: sched.power, lrDecayEvery: sched.step_size, iterSize: 2,
    });
    const before = new Map<string, Float64Array>();
    for (const name of header.recorded) before.set(name, await value(gpu, model.param(name), shapeOf(name)));
    try {
      // The schedule the original runs (scaled to this lr): a staircase whose first 10 steps run at lr.
      sched.lr_1x_by_iteration.forEach((want, k) => expect(Math.abs(trainer.lrAt(k) / settings.lr - want / sched.base_lr), `step ${k}`).toBeLessThan(1e-12));
      model.objective = 'msc';
      const batch = { images: f32('image'), labels: u8('labels'), shape: [1, H, W] as const };
      await expect(trainer.step(batch)).rejects.toThrow(/takes 2 sub-batches/);
      for (const bad of [{ iterSize: 0 }, { lrDecayEvery: 1.5 }, { biasLrMult: -1 }]) {
        expect(() => new SegmenterTrainer(model, { optimizer: { kind: 'sgd', lr: 1 }, ...bad }), JSON.stringify(bad)).toThrow(TrainerError);
      }
      expect(trainer.iteration).toBe(0);
      const after: Map<string, Float64Array>[] = [];
      for (let step = 0; step < 2; step++) {
        await trainer.step([batch, batch]);
        const [l] = await trainer.readLosses();
        const want = header.cases.msc.step_losses[step]!;
        check(`trainer msc loss, step ${step + 1}`, [l!], [want], LOGIT_REL * want, '2e-5 relative', header.torch32_err[`msc.loss${step}`]);
        const now = new Map<string, Float64Array>();
        for (const name of header.recorded) now.set(name, await value(gpu, model.param(name), shapeOf(name)));
        after.push(now);
      }
      for (const name of header.recorded) {
        const g = new Sgd(gpu, model).group(name);
        const gradBound = GRAD_REL * maxAbs(f32(`msc.grad.${name}`));
        for (const [k, prev, next] of [[1, before.get(name)!, after[0]!.get(name)!], [2, after[0]!.get(name)!, after[1]!.get(name)!]] as const) {
          const got = next.map((v, i) => v - prev[i]!);
          const bound = prev.map((v) => settings.lr * g.lrMult * (1 + settings.momentum) * gradBound + 2 * ULP * Math.abs(v));
          check(`trainer msc update ${k} ${name.slice(5)}`, got, f32(`msc.update${k}.${name}`), bound, `lr·${g.lrMult}·(1+μ)·grad bound + 2 ulp`, header.torch32_err[`msc.update${k}.${name}`]);
        }
      }
    } finally {
      model.objective = 'full';
      trainer.release();
    }
  });
});
