// DeepLab v3 (torchvision) and v2 (deeplab-pytorch layout, MSC) against PyTorch on reduced-width
// checkpoints with random weights and non-trivial batch-norm statistics, loaded from .pth through
// the weight importer. Fixtures: test/fixtures/deeplab/ (weights/make_deeplab_goldens.py).
//
//   deeplabv3_resnet50_aux  105×121 input: classifier and aux logits at stride 8 (14×16), where
//                           ASPP's rate-12 taps land inside the map
//   deeplabv3_resnet101     33×41: stride-8 logits and the upsampled `out`
//   deeplabv2_resnet101     33×41: the scale-1 base logits, the MSC max over scales 1, 0.5, 0.75
//                           (scale-factor resampling: 16×20 and 24×30 inputs), and its upsampling
//
// Tolerance. Everything is float32 in both engines with different summation orders through 50–100
// convolutions; random residual stacks grow the logits to |x| ≈ 15–700. Relative to the largest
// logit the measured error is 1.5e-6 … 1e-5; the bound is 5e-5 · max|logit| per element (a wrong
// tap, stride, dilation or fold is off by > 1e-2 of it). Argmax: ≥ 99.9 % of pixels agree overall, and
// every pixel whose top-2 margin in the golden exceeds twice the logit bound agrees.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../../src/gpu/context.js';
import { DeepLabModel, buildDeepLabGraph } from '../../../src/models/deeplab/model.js';
import { deeplabV2Convs } from '../../../src/models/deeplab/deeplabv2.js';
import { deeplabV3Convs } from '../../../src/models/deeplab/deeplabv3.js';
import type { PreparedConv } from '../../../src/models/deeplab/common.js';
import { convFlops, convGeometry } from '../../../src/kernels/conv.js';
import { expectedDeepLabShapes, openDeepLab, openDeepLabCheckpoint } from '../../../src/weights/layouts/deeplab.js';
import type { TensorInfo, WeightFile } from '../../../src/weights/weightfile.js';
import { testGpu } from '../../helpers/gpu.js';

const DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'deeplab');

interface ModelCase {
  name: string;
  weights: string;
  input: string;
  outputs: Record<string, string>;
  min_top2_margin: number;
}
interface Header {
  generator: string;
  torch: string;
  torchvision: string;
  classes: number;
  models: ModelCase[];
  arrays: Record<string, { shape: number[]; offset: number }>;
}

const header = JSON.parse(readFileSync(join(DIR, 'models.json'), 'utf8')) as Header;
const bin = readFileSync(join(DIR, 'models.bin'));
const report: string[] = [];

function array(name: string): { shape: number[]; data: Float32Array } {
  const a = header.arrays[name];
  if (!a) throw new Error(`fixture has no array ${name}`);
  const n = a.shape.reduce((x, y) => x * y, 1);
  const data = new Float32Array(n);
  new Uint8Array(data.buffer).set(bin.subarray(a.offset, a.offset + 4 * n));
  return { shape: a.shape, data };
}

function caseNamed(name: string): ModelCase {
  const c = header.models.find((m) => m.name === name);
  if (!c) throw new Error(`fixture has no model ${name}`);
  return c;
}

/** Compare logits [1, K, H, W]: elementwise within 5e-5·max|want|, and the argmax per pixel. */
function compareLogits(got: Float32Array, want: { shape: number[]; data: Float32Array }, what: string): void {
  expect(got.length, what).toBe(want.data.length);
  let scale = 0;
  for (const v of want.data) scale = Math.max(scale, Math.abs(v));
  const tol = 5e-5 * scale;
  let worst = 0, worstAt = -1;
  for (let i = 0; i < got.length; i++) {
    const e = Math.abs(got[i]! - want.data[i]!);
    if (!(e <= worst)) {
      worst = e;
      worstAt = i;
    }
  }
  const [, k, h, w] = want.shape as [number, number, number, number];
  const hw = h * w;
  let agree = 0, decisive = 0, decisiveAgree = 0;
  for (let p = 0; p < hw; p++) {
    let a = 0, b = 0, second = -Infinity;
    for (let c = 1; c < k; c++) {
      if (got[c * hw + p]! > got[a * hw + p]!) a = c;
      if (want.data[c * hw + p]! > want.data[b * hw + p]!) b = c;
    }
    for (let c = 0; c < k; c++) if (c !== b) second = Math.max(second, want.data[c * hw + p]!);
    if (a === b) agree++;
    if (want.data[b * hw + p]! - second > 2 * tol) {
      decisive++;
      if (a === b) decisiveAgree++;
    }
  }
  report.push(`${what}: max|logit| ${scale.toPrecision(3)}, max|err| ${worst.toExponential(2)} (${(worst / scale).toExponential(2)} relative), argmax ${agree}/${hw}`);
  expect(worst, `${what}: worst error at ${worstAt} (bound ${tol})`).toBeLessThanOrEqual(tol);
  expect(decisiveAgree, `${what}: argmax of decisive pixels`).toBe(decisive);
  if (hw >= 1000) expect(agree / hw, `${what}: argmax agreement`).toBeGreaterThanOrEqual(0.999);
}

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => {
  if (report.length) console.log(`DeepLab vs PyTorch ${header.torch} / torchvision ${header.torchvision}:\n  ${report.join('\n  ')}`);
});

describe('DeepLab vs PyTorch (reduced width, random weights)', () => {
  it('deeplabv3_resnet50 with aux head (torchvision), 105×121', async () => {
    const c = caseNamed('deeplabv3_resnet50_aux');
    const model = await DeepLabModel.load(gpu, join(DIR, c.weights), { model: 'deeplabv3_resnet50' });
    expect(model.config.auxChannels).toBeGreaterThan(0);
    const x = array(c.input);
    const [, , h, w] = x.shape as [number, number, number, number];
    const out = await model.run(x.data, { height: h, width: w, outputs: ['lowres', 'auxLowres', 'logits', 'aux'] });
    compareLogits(out.get('lowres') as Float32Array, array(c.outputs.out_lowres!), 'v3-r50 classifier');
    compareLogits(out.get('auxLowres') as Float32Array, array(c.outputs.aux_lowres!), 'v3-r50 aux classifier');
    expect((out.get('logits') as Float32Array).length).toBe(21 * h * w);
    await model.destroy();
  });

  it('deeplabv3_resnet101 (torchvision), 33×41, with the upsampled output and labels', async () => {
    const c = caseNamed('deeplabv3_resnet101');
    const model = await DeepLabModel.load(gpu, join(DIR, c.weights), { model: 'deeplabv3_resnet101' });
    expect(model.config.auxChannels).toBe(0);
    const x = array(c.input);
    const [, , h, w] = x.shape as [number, number, number, number];
    const out = await model.run(x.data, { height: h, width: w, outputs: ['lowres', 'logits', 'labels', 'probs'] });
    compareLogits(out.get('lowres') as Float32Array, array(c.outputs.out_lowres!), 'v3-r101 classifier');
    const want = array(c.outputs.out!);
    compareLogits(out.get('logits') as Float32Array, want, 'v3-r101 out');
    const labels = out.get('labels') as Uint32Array;
    const logits = out.get('logits') as Float32Array;
    const probs = out.get('probs') as Float32Array;
    const hw = h * w;
    for (let p = 0; p < hw; p += 97) {
      let best = 0, sum = 0;
      for (let k = 0; k < 21; k++) {
        if (logits[k * hw + p]! > logits[best * hw + p]!) best = k;
        sum += probs[k * hw + p]!;
      }
      expect(labels[p]).toBe(best);
      expect(sum).toBeCloseTo(1, 5);
    }
    await expect(model.run(x.data, { height: h, width: w, outputs: ['aux'] })).rejects.toThrow(/no aux head/);
    await model.destroy();
  });

  it('deeplabv2_resnet101 (deeplab-pytorch layout) with MSC, 33×41', async () => {
    const c = caseNamed('deeplabv2_resnet101');
    const model = await DeepLabModel.load(gpu, join(DIR, c.weights), { model: 'deeplabv2_resnet101' });
    expect(model.config.asppBranches).toBe(4);
    const x = array(c.input);
    const [, , h, w] = x.shape as [number, number, number, number];
    const out = await model.run(x.data, { height: h, width: w, outputs: ['base', 'lowres', 'logits'] });
    compareLogits(out.get('base') as Float32Array, array(c.outputs.base!), 'v2 base (scale 1)');
    compareLogits(out.get('lowres') as Float32Array, array(c.outputs.msc!), 'v2 MSC max');
    compareLogits(out.get('logits') as Float32Array, array(c.outputs.msc_upsampled!), 'v2 MSC upsampled');
    await model.destroy();
  });
});

// ---------------------------------------------------------------------------------------------
// Full-size layouts: keys and shapes only (no large file): full_keys.json lists every key and
// shape of the real models, written by the generator from torchvision / weights/deeplab_torch.py.

interface FullKeys {
  models: Record<string, Array<[string, number[], string]>>;
}
const full = JSON.parse(readFileSync(join(DIR, 'full_keys.json'), 'utf8')) as FullKeys;

/** A WeightFile with the listed keys and shapes whose tensors read as zeros. */
function fakeFile(name: string, entries: ReadonlyArray<readonly [string, readonly number[]]>): WeightFile {
  const infos = new Map<string, TensorInfo>(entries.map(([k, s]) => [k, { dtype: 'F32' as TensorInfo['dtype'], shape: s }]));
  return {
    name,
    format: 'torch-zip',
    keys: [...infos.keys()],
    metadata: {},
    has: (k) => infos.has(k),
    info: (k) => {
      const i = infos.get(k);
      if (!i) throw new Error(`no ${k}`);
      return i;
    },
    getF32: async (k) => new Float32Array(infos.get(k)!.shape.reduce((a, b) => a * b, 1)),
    getRaw: async () => new Uint8Array(0),
    close: async () => undefined,
  };
}

const entriesOf = (model: string) => full.models[model]!.map(([k, s]) => [k, s] as const);

describe('full-size layouts (keys and shapes)', () => {
  const expectations: Array<[string, string, number[]]> = [
    // fixture model, expected name, blocks
    ['deeplabv3_resnet50_aux', 'deeplabv3_resnet50', [3, 4, 6, 3]],
    ['deeplabv3_resnet101', 'deeplabv3_resnet101', [3, 4, 23, 3]],
    ['deeplabv2_resnet101', 'deeplabv2_resnet101', [3, 4, 23, 3]],
  ];
  for (const [model, name, blocks] of expectations) {
    it(`${model}: every key and shape of the real model is the layout's`, () => {
      const entries = entriesOf(model);
      const ckpt = openDeepLabCheckpoint(fakeFile(`${model}.pth`, entries), { model: name as 'deeplabv3_resnet50' });
      expect(ckpt.config.name).toBe(name);
      expect(ckpt.config.backbone.blocks).toEqual(blocks);
      expect(ckpt.config.backbone.out).toEqual([256, 512, 1024, 2048]);
      expect(ckpt.config.classes).toBe(21);
      const expected = expectedDeepLabShapes(ckpt.config);
      const weights = entries.filter(([k]) => !k.endsWith('num_batches_tracked'));
      expect(new Map(weights.map(([k, s]) => [k.replace(/^base\./, ''), [...s]]))).toEqual(expected);
      expect(ckpt.prefix).toBe(model.startsWith('deeplabv2') ? 'base.' : '');
    });
  }

  it('deeplabv3_resnet50 at 513×513: the full graph builds with torchvision’s shapes (65×65 at stride 8)', async () => {
    const ckpt = openDeepLabCheckpoint(fakeFile('r50.pth', entriesOf('deeplabv3_resnet50_aux')));
    // Shapes only: every prepared conv is zeros of the right size (nothing runs).
    const params = new Map<string, PreparedConv>();
    for (const s of deeplabV3Convs(ckpt.config)) {
      const [co, ci, kh, kw] = ckpt.shapes.get(`${s.name}.weight`)! as number[];
      params.set(s.name, { weight: new Float32Array(co! * ci! * kh! * kw!), shape: [co!, kh!, kw!, ci!], bias: new Float32Array(co!) });
    }
    const g = buildDeepLabGraph(params, ckpt.config, { height: 513, width: 513, outputs: ['logits', 'lowres', 'aux', 'labels'] });
    expect(g.outputs.get('lowres')!.shape).toEqual([1, 21, 65, 65]);
    expect(g.outputs.get('logits')!.shape).toEqual([1, 21, 513, 513]);
    expect(g.outputs.get('aux')!.shape).toEqual([1, 21, 513, 513]);
    expect(g.outputs.get('labels')!.shape).toEqual([1, 513, 513]);
    const convs = g.nodes.filter((n) => n.op.name === 'conv2d');
    expect(convs.length).toBe(53 + 8 + 2); // backbone 53 convs, DeepLabHead 8 (ASPP 5, projection, 3×3, classifier), aux 2
    const gflop = convs.reduce((s, n) => s + convFlops(convGeometry(n.inputs[0]!.shape, n.inputs[1]!.shape, n.attrs as object)), 0) / 1e9;
    // torchvision documents deeplabv3_resnet50 at 520×520 as 178.72 "GFLOPS" (multiply-adds), i.e.
    // ≈ 357 GFLOP; with the aux head at 513×513 the convs are in that range.
    expect(gflop).toBeGreaterThan(300);
    expect(gflop).toBeLessThan(420);
  });

  it('deeplabv2_resnet101: the prepared convs match the layout', () => {
    const ckpt = openDeepLabCheckpoint(fakeFile('v2.pth', entriesOf('deeplabv2_resnet101')));
    const convs = deeplabV2Convs(ckpt.config);
    expect(convs.length).toBe(1 + 33 * 3 + 4 + 4); // stem, 33 bottlenecks, 4 shortcuts, 4 ASPP branches
    for (const s of convs) expect(ckpt.shapes.has(`${s.name}.weight`), s.name).toBe(true);
  });
});

describe('checkpoint errors name the file and the culprit', () => {
  const r101 = () => entriesOf('deeplabv3_resnet101');
  it('missing, unknown and wrongly shaped keys are all listed', () => {
    const entries = r101().filter(([k]) => k !== 'backbone.layer3.7.bn2.running_var');
    entries.push(['backbone.layer3.7.bn2.extra', [256]]);
    const i = entries.findIndex(([k]) => k === 'classifier.4.bias');
    entries[i] = ['classifier.4.bias', [20]];
    expect(() => openDeepLabCheckpoint(fakeFile('bad.pth', entries))).toThrow(
      /^bad\.pth: not a complete deeplabv3_resnet101 checkpoint \(torchvision layout\): 1 missing key\(s\): backbone\.layer3\.7\.bn2\.running_var; 1 unknown key\(s\): backbone\.layer3\.7\.bn2\.extra; 1 wrong shape\(s\): classifier\.4\.bias is \[20\], expected \[21\]$/,
    );
  });

  it('a checkpoint of another model than the one asked for', () => {
    expect(() => openDeepLabCheckpoint(fakeFile('r101.pth', r101()), { model: 'deeplabv3_resnet50' })).toThrow(
      /r101\.pth: is a deeplabv3_resnet101 checkpoint \(torchvision layout, ResNet blocks \[3, 4, 23, 3\]\), not deeplabv3_resnet50/,
    );
  });

  it('a file that is no DeepLab checkpoint', () => {
    expect(() => openDeepLabCheckpoint(fakeFile('clip.pt', [['visual.conv1.weight', [768, 3, 16, 16]]]))).toThrow(/clip\.pt: not a DeepLab checkpoint.*first keys: visual\.conv1\.weight/);
  });

  it('a prefix (module.) and keys outside it (an optimizer state) are handled', () => {
    const entries = r101().map(([k, s]) => [`module.${k}`, s] as const);
    const ckpt = openDeepLabCheckpoint(fakeFile('ddp.pth', [...entries, ['optimizer.state.0.momentum_buffer', [4]]]));
    expect(ckpt.prefix).toBe('module.');
    expect(ckpt.ignoredKeys).toContain('optimizer.state.0.momentum_buffer');
  });

  it('the real fixture file goes through the importer', async () => {
    const ckpt = await openDeepLab(join(DIR, 'deeplabv2_resnet101.pth'));
    expect(ckpt.file.format).toBe('torch-zip');
    expect(ckpt.config.backbone.stem).toBe(2);
    expect(ckpt.ignoredKeys.every((k) => k.endsWith('num_batches_tracked'))).toBe(true);
    await ckpt.file.close();
  });
});
