// DeepLab weight layouts: which checkpoint is which, what architecture its shapes say, and whether
// every key is there with the right shape. Two layouts are recognised:
//
// 'torchvision'     torchvision.models.segmentation.deeplabv3_resnet{50,101} state dicts:
//   backbone.conv1.weight [S, 3, 7, 7], backbone.bn1.*                   stem (S = 64)
//   backbone.layer{1..4}.{i}.conv{1,2,3}.weight, .bn{1,2,3}.*           bottlenecks: 1×1 [M, C],
//       3×3 [M, M], 1×1 [4M, M]; block 0 also downsample.0.weight [4M, C, 1, 1], downsample.1.*
//   classifier.0.convs.0.{0,1}   ASPP 1×1 conv [A, 2048] + BN          (A = 256)
//   classifier.0.convs.{1,2,3}.{0,1}  3×3 convs (rates 12, 24, 36) + BN
//   classifier.0.convs.4.{1,2}   image pooling branch: 1×1 conv + BN
//   classifier.0.project.{0,1}   1×1 conv [A, 5A] + BN
//   classifier.1.weight [A, A, 3, 3], classifier.2.* (BN), classifier.4.{weight [K, A, 1, 1], bias [K]}
//   aux_classifier.0.weight [I, 1024, 3, 3], .1.* (BN), .4.{weight, bias}   optional (I = 256)
//
// 'deeplab-pytorch' kazuto1011/deeplab-pytorch DeepLabV2 (libs/models/deeplabv2.py, resnet.py),
//   usually saved from its MSC wrapper, hence the `base.` prefix:
//   base.layer1.conv1.conv.weight [S, 3, 7, 7], base.layer1.conv1.bn.*     stem
//   base.layer{2..5}.block{i}.{reduce,conv3x3,increase}.conv.weight, .bn.*  bottlenecks;
//       block1 also shortcut.conv.weight [4M, C, 1, 1], shortcut.bn.*
//   base.aspp.c{0..3}.{weight [K, 2048, 3, 3], bias [K]}                     ASPP (rates 6, 12, 18, 24)
//
// Every BatchNorm has weight, bias, running_mean, running_var [C] and, optionally,
// num_batches_tracked [] (older and converted checkpoints lack it). Keys may sit under a common
// prefix (`module.`, `model.`, ...); keys outside it (e.g. an optimizer's state in a training
// checkpoint) are ignored, every key inside it must be explained.
//
// Channel counts are read from the shapes, so checkpoints of reduced width (test fixtures) load
// like full-size ones; depth (blocks per layer) is counted from the keys and names the model:
// [3, 4, 6, 3] → resnet50, [3, 4, 23, 3] → resnet101.

import { WeightFileError, listSome } from '../errors.js';
import { loadWeights } from '../index.js';
import type { WeightInput } from '../source.js';
import type { LoadOptions, WeightFile } from '../weightfile.js';

export type DeepLabLayout = 'torchvision' | 'deeplab-pytorch';

/** Names the CLI and the model registry use. */
export const DEEPLAB_MODELS = ['deeplabv3_resnet50', 'deeplabv3_resnet101', 'deeplabv2_resnet101'] as const;
export type DeepLabModelName = (typeof DEEPLAB_MODELS)[number];

export interface ResNetWidths {
  /** Bottlenecks per residual layer (4 layers). */
  blocks: [number, number, number, number];
  /** Output channels of the 7×7 stem. */
  stem: number;
  /** Bottleneck (3×3) width per layer. */
  mid: [number, number, number, number];
  /** Output channels per layer (4 × mid in every ResNet). */
  out: [number, number, number, number];
}

export interface DeepLabConfig {
  layout: DeepLabLayout;
  /** 'deeplabv3_resnet101' etc.: 'deeplabv3' for the torchvision layout, 'deeplabv2' for deeplab-pytorch. */
  name: string;
  backbone: ResNetWidths;
  classes: number;
  /** torchvision: ASPP / head width (256 at full size). deeplab-pytorch: 0. */
  asppChannels: number;
  /** torchvision: the aux head's hidden width (256), or 0 without an aux head. */
  auxChannels: number;
  /** deeplab-pytorch: number of ASPP branches (4). torchvision: 0. */
  asppBranches: number;
}

const fmt = (s: readonly number[] | undefined) => (s ? `[${s.join(', ')}]` : 'absent');

const BN_PARTS = ['weight', 'bias', 'running_mean', 'running_var'] as const;

/** Every key of a config's layout (without prefix) with its shape; BatchNorm counters excluded. */
export function expectedDeepLabShapes(c: DeepLabConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const bn = (p: string, ch: number) => {
    for (const part of BN_PARTS) m.set(`${p}.${part}`, [ch]);
  };
  const b = c.backbone;
  if (c.layout === 'torchvision') {
    m.set('backbone.conv1.weight', [b.stem, 3, 7, 7]);
    bn('backbone.bn1', b.stem);
    let cin = b.stem;
    for (let l = 0; l < 4; l++) {
      const mid = b.mid[l]!, out = b.out[l]!;
      for (let i = 0; i < b.blocks[l]!; i++) {
        const p = `backbone.layer${l + 1}.${i}`;
        const inCh = i === 0 ? cin : out;
        m.set(`${p}.conv1.weight`, [mid, inCh, 1, 1]);
        bn(`${p}.bn1`, mid);
        m.set(`${p}.conv2.weight`, [mid, mid, 3, 3]);
        bn(`${p}.bn2`, mid);
        m.set(`${p}.conv3.weight`, [out, mid, 1, 1]);
        bn(`${p}.bn3`, out);
        if (i === 0) {
          m.set(`${p}.downsample.0.weight`, [out, inCh, 1, 1]);
          bn(`${p}.downsample.1`, out);
        }
      }
      cin = out;
    }
    const a = c.asppChannels, top = b.out[3];
    m.set('classifier.0.convs.0.0.weight', [a, top, 1, 1]);
    bn('classifier.0.convs.0.1', a);
    for (const i of [1, 2, 3]) {
      m.set(`classifier.0.convs.${i}.0.weight`, [a, top, 3, 3]);
      bn(`classifier.0.convs.${i}.1`, a);
    }
    m.set('classifier.0.convs.4.1.weight', [a, top, 1, 1]);
    bn('classifier.0.convs.4.2', a);
    m.set('classifier.0.project.0.weight', [a, 5 * a, 1, 1]);
    bn('classifier.0.project.1', a);
    m.set('classifier.1.weight', [a, a, 3, 3]);
    bn('classifier.2', a);
    m.set('classifier.4.weight', [c.classes, a, 1, 1]);
    m.set('classifier.4.bias', [c.classes]);
    if (c.auxChannels > 0) {
      m.set('aux_classifier.0.weight', [c.auxChannels, b.out[2], 3, 3]);
      bn('aux_classifier.1', c.auxChannels);
      m.set('aux_classifier.4.weight', [c.classes, c.auxChannels, 1, 1]);
      m.set('aux_classifier.4.bias', [c.classes]);
    }
  } else {
    m.set('layer1.conv1.conv.weight', [b.stem, 3, 7, 7]);
    bn('layer1.conv1.bn', b.stem);
    let cin = b.stem;
    for (let l = 0; l < 4; l++) {
      const mid = b.mid[l]!, out = b.out[l]!;
      for (let i = 1; i <= b.blocks[l]!; i++) {
        const p = `layer${l + 2}.block${i}`;
        const inCh = i === 1 ? cin : out;
        m.set(`${p}.reduce.conv.weight`, [mid, inCh, 1, 1]);
        bn(`${p}.reduce.bn`, mid);
        m.set(`${p}.conv3x3.conv.weight`, [mid, mid, 3, 3]);
        bn(`${p}.conv3x3.bn`, mid);
        m.set(`${p}.increase.conv.weight`, [out, mid, 1, 1]);
        bn(`${p}.increase.bn`, out);
        if (i === 1) {
          m.set(`${p}.shortcut.conv.weight`, [out, inCh, 1, 1]);
          bn(`${p}.shortcut.bn`, out);
        }
      }
      cin = out;
    }
    for (let i = 0; i < c.asppBranches; i++) {
      m.set(`aspp.c${i}.weight`, [c.classes, b.out[3], 3, 3]);
      m.set(`aspp.c${i}.bias`, [c.classes]);
    }
  }
  return m;
}

/** A BatchNorm's optional step counter: present in current torch.save files, absent in older ones. */
function isBatchNormCounter(key: string): boolean {
  return key.endsWith('.num_batches_tracked');
}

const ANCHORS: Record<DeepLabLayout, string> = {
  torchvision: 'backbone.conv1.weight',
  'deeplab-pytorch': 'layer1.conv1.conv.weight',
};

/** The layout and key prefix, from a characteristic key; undefined for other files. */
export function detectDeepLabLayout(file: WeightFile): { layout: DeepLabLayout; prefix: string } | undefined {
  const found: { layout: DeepLabLayout; prefix: string }[] = [];
  for (const key of file.keys) {
    for (const layout of ['torchvision', 'deeplab-pytorch'] as const) {
      const anchor = ANCHORS[layout];
      if (key === anchor || key.endsWith(`.${anchor}`)) found.push({ layout, prefix: key.slice(0, key.length - anchor.length) });
    }
  }
  if (found.length > 1) {
    throw new WeightFileError(file.name, `holds several DeepLab models (${found.map((f) => `${f.layout} keys under '${f.prefix}'`).join('; ')})`);
  }
  return found[0];
}

function countIndices(keys: readonly string[], re: RegExp): number {
  let max = -1;
  for (const k of keys) {
    const m = re.exec(k);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max + 1;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The architecture a file's keys and shapes describe (not yet validated key by key). */
export function inferDeepLabConfig(file: WeightFile, layout: DeepLabLayout, prefix: string): DeepLabConfig {
  const problems: string[] = [];
  const shape = (key: string) => (file.has(prefix + key) ? file.info(prefix + key).shape : undefined);
  const dim = (key: string, rank: number, axis: number): number => {
    const s = shape(key);
    if (!s || s.length !== rank || !(s[axis]! > 0)) {
      problems.push(`${prefix}${key} is ${fmt(s)}, expected a rank-${rank} tensor`);
      return 0;
    }
    return s[axis]!;
  };
  const keys = file.keys.filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
  const blocks = [0, 0, 0, 0] as [number, number, number, number];
  const mid = [0, 0, 0, 0] as [number, number, number, number];
  const out = [0, 0, 0, 0] as [number, number, number, number];
  let stem: number, classes: number, asppChannels = 0, auxChannels = 0, asppBranches = 0;
  if (layout === 'torchvision') {
    stem = dim('backbone.conv1.weight', 4, 0);
    for (let l = 0; l < 4; l++) {
      blocks[l] = countIndices(keys, new RegExp(`^backbone\\.layer${l + 1}\\.(\\d+)\\.conv1\\.weight$`));
      if (blocks[l] === 0) problems.push(`no bottleneck of backbone.layer${l + 1} found`);
      else {
        mid[l] = dim(`backbone.layer${l + 1}.0.conv1.weight`, 4, 0);
        out[l] = dim(`backbone.layer${l + 1}.0.conv3.weight`, 4, 0);
      }
    }
    classes = dim('classifier.4.weight', 4, 0);
    asppChannels = dim('classifier.0.convs.0.0.weight', 4, 0);
    if (keys.some((k) => k.startsWith('aux_classifier.'))) auxChannels = dim('aux_classifier.0.weight', 4, 0);
  } else {
    stem = dim('layer1.conv1.conv.weight', 4, 0);
    for (let l = 0; l < 4; l++) {
      // Blocks are numbered from 1 here.
      blocks[l] = Math.max(0, countIndices(keys, new RegExp(`^layer${l + 2}\\.block(\\d+)\\.reduce\\.conv\\.weight$`)) - 1);
      if (blocks[l] === 0) problems.push(`no bottleneck of layer${l + 2} found`);
      else {
        mid[l] = dim(`layer${l + 2}.block1.reduce.conv.weight`, 4, 0);
        out[l] = dim(`layer${l + 2}.block1.increase.conv.weight`, 4, 0);
      }
    }
    asppBranches = countIndices(keys, /^aspp\.c(\d+)\.weight$/);
    classes = asppBranches > 0 ? dim('aspp.c0.weight', 4, 0) : 0;
    if (asppBranches === 0) problems.push('no ASPP branch (aspp.c0.weight) found');
  }
  if (problems.length) {
    throw new WeightFileError(file.name, `cannot infer the DeepLab architecture (${layout} layout${prefix ? `, prefix '${prefix}'` : ''}): ${problems.join('; ')}`);
  }
  const depth = 3 * blocks.reduce((a, b) => a + b, 0) + 2;
  return {
    layout,
    name: `${layout === 'torchvision' ? 'deeplabv3' : 'deeplabv2'}_resnet${depth}`,
    backbone: { blocks, stem, mid, out },
    classes,
    asppChannels,
    auxChannels,
    asppBranches,
  };
}

export interface DeepLabCheckpoint {
  readonly file: WeightFile;
  readonly layout: DeepLabLayout;
  readonly prefix: string;
  readonly config: DeepLabConfig;
  /** Keys (without the prefix) the model reads, with their shapes. */
  readonly shapes: ReadonlyMap<string, readonly number[]>;
  /** File keys not used: BatchNorm step counters and keys outside the prefix. */
  readonly ignoredKeys: readonly string[];
  readonly parameterCount: number;
  /** A tensor by its key without the prefix, as float32. */
  get(key: string): Promise<Float32Array>;
}

export interface OpenDeepLabOptions {
  /** The model the caller expects; a checkpoint of another architecture is an error naming both. */
  model?: DeepLabModelName;
}

/** Interprets a WeightFile as a DeepLab checkpoint: detect, infer, validate every key and shape. */
export function openDeepLabCheckpoint(file: WeightFile, options: OpenDeepLabOptions = {}): DeepLabCheckpoint {
  const detected = detectDeepLabLayout(file);
  if (!detected) {
    throw new WeightFileError(
      file.name,
      `not a DeepLab checkpoint: no key ends with '${ANCHORS.torchvision}' (torchvision deeplabv3) or '${ANCHORS['deeplab-pytorch']}' (deeplab-pytorch DeepLabV2); first keys: ${listSome([...file.keys], 6)}`,
    );
  }
  const { layout, prefix } = detected;
  const config = inferDeepLabConfig(file, layout, prefix);
  if (options.model && options.model !== config.name) {
    const b = config.backbone.blocks;
    throw new WeightFileError(file.name, `is a ${config.name} checkpoint (${layout} layout, ResNet blocks [${b.join(', ')}]), not ${options.model}`);
  }
  const shapes = expectedDeepLabShapes(config);
  const missing: string[] = [];
  const wrong: string[] = [];
  for (const [key, s] of shapes) {
    if (!file.has(prefix + key)) missing.push(prefix + key);
    else {
      const actual = file.info(prefix + key).shape;
      if (actual.length !== s.length || actual.some((d, i) => d !== s[i])) wrong.push(`${prefix}${key} is ${fmt(actual)}, expected ${fmt(s)}`);
    }
  }
  const unknown: string[] = [];
  const ignored: string[] = [];
  for (const key of file.keys) {
    if (!key.startsWith(prefix)) ignored.push(key);
    else if (shapes.has(key.slice(prefix.length))) continue;
    else if (isBatchNormCounter(key) && shapes.has(`${key.slice(prefix.length, -'.num_batches_tracked'.length)}.running_var`)) ignored.push(key);
    else unknown.push(key);
  }
  if (missing.length + wrong.length + unknown.length > 0) {
    const parts: string[] = [];
    if (missing.length) parts.push(`${missing.length} missing key(s): ${listSome(missing)}`);
    if (unknown.length) parts.push(`${unknown.length} unknown key(s): ${listSome(unknown)}`);
    if (wrong.length) parts.push(`${wrong.length} wrong shape(s): ${listSome(wrong)}`);
    throw new WeightFileError(file.name, `not a complete ${config.name} checkpoint (${layout} layout${prefix ? `, prefix '${prefix}'` : ''}): ${parts.join('; ')}`);
  }
  let parameterCount = 0;
  for (const s of shapes.values()) parameterCount += s.reduce((a, b) => a * b, 1);
  return {
    file,
    layout,
    prefix,
    config,
    shapes,
    ignoredKeys: ignored,
    parameterCount,
    get: async (key: string) => {
      if (!shapes.has(key)) throw new WeightFileError(file.name, `is not a tensor of the ${config.name} layout`, key);
      return file.getF32(prefix + key);
    },
  };
}

/** Opens a weight file (any format src/weights reads) as a DeepLab checkpoint. */
export async function openDeepLab(input: WeightInput, options: OpenDeepLabOptions & LoadOptions = {}): Promise<DeepLabCheckpoint> {
  const file = await loadWeights(input, options);
  try {
    return openDeepLabCheckpoint(file, options);
  } catch (err) {
    await file.close();
    throw err;
  }
}
