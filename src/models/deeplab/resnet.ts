// The dilated ResNet backbones of the two DeepLab layouts, as graph nodes (NCHW, batch-norm folded
// into every convolution, src/models/deeplab/common.ts).
//
//   stem     7×7 conv stride 2 pad 3 + ReLU, then 3×3 max pool stride 2 pad 1
//   layers   4 residual layers of bottlenecks: 1×1 reduce (ReLU) → 3×3 (ReLU) → 1×1 increase, plus
//            the shortcut (a 1×1 projection in a layer's first block, else the input), then ReLU.
//            The last 1×1 conv takes the shortcut as its residual epilogue: y = relu(conv + b + x).
//
// The two layouts differ in more than key names:
//   torchvision (deeplabv3_resnet*, ResNet "v1.5"): a block's stride sits on the 3×3 conv; the stem
//     pool floors its output size; replace_stride_with_dilation = [False, True, True] turns the
//     strides of layers 3 and 4 into dilation 2 and 4, where a layer's FIRST block keeps the
//     previous dilation (1 in layer 3, 2 in layer 4) and the others take the new one.
//   deeplab-pytorch (MSRA/Caffe ResNet): the stride sits on the first 1×1 conv (`reduce`); the stem
//     pool has ceil_mode=True; layers 4 and 5 (its names) use dilation 2 and 4 in every block.
// Both reach output stride 8.
import type { Graph, Value } from '../../graph/graph.js';
import { pool2dOp } from '../../graph/ops.js';
import type { DeepLabLayout, ResNetWidths } from '../../weights/layouts/deeplab.js';
import { convNode, type ConvSource, type DeepLabParams } from './common.js';

export interface ResLayerSchedule {
  stride: number;
  /** Dilation of the first block's 3×3 conv. */
  firstDilation: number;
  /** Dilation of the other blocks' 3×3 convs. */
  dilation: number;
}

export interface BackboneSpec {
  layout: DeepLabLayout;
  widths: ResNetWidths;
  layers: [ResLayerSchedule, ResLayerSchedule, ResLayerSchedule, ResLayerSchedule];
}

/** Output stride 8, as DeepLab v3 (torchvision) and v2 (deeplab-pytorch) build it. */
export function deeplabBackbone(layout: DeepLabLayout, widths: ResNetWidths): BackboneSpec {
  const layers: BackboneSpec['layers'] =
    layout === 'torchvision'
      ? [
          { stride: 1, firstDilation: 1, dilation: 1 },
          { stride: 2, firstDilation: 1, dilation: 1 },
          { stride: 1, firstDilation: 1, dilation: 2 },
          { stride: 1, firstDilation: 2, dilation: 4 },
        ]
      : [
          { stride: 1, firstDilation: 1, dilation: 1 },
          { stride: 2, firstDilation: 1, dilation: 1 },
          { stride: 1, firstDilation: 2, dilation: 2 },
          { stride: 1, firstDilation: 4, dilation: 4 },
        ];
  return { layout, widths, layers };
}

interface BlockNames {
  reduce: ConvSource;
  conv3x3: ConvSource;
  increase: ConvSource;
  shortcut?: ConvSource;
}

/** The stem: a 7×7 convolution (+ BN + ReLU) and a 3×3 max pool, both stride 2. */
export interface StemSpec {
  conv: ConvSource;
  stride: number;
  padding: number;
  pool: { kernel: number; stride: number; padding: number; ceilMode: boolean };
}

/**
 * One bottleneck: reduce 1×1 (ReLU) → 3×3 (ReLU) → increase 1×1, plus the shortcut (a projection in
 * a layer's first block, else the input), then ReLU. Every convolution is followed by its BN.
 */
export interface BottleneckSpec extends BlockNames {
  /** Residual layer (0..3) and block within it (from 0). */
  layer: number;
  block: number;
  /** The block's stride, taken by the projection shortcut and by one of the two below. */
  stride: number;
  reduceStride: number;
  conv3x3Stride: number;
  /** Dilation (= padding) of the 3×3 convolution. */
  dilation: number;
}

export function backboneStem(spec: BackboneSpec): StemSpec {
  const conv: ConvSource = spec.layout === 'torchvision' ? { name: 'backbone.conv1', bn: 'backbone.bn1' } : { name: 'layer1.conv1.conv', bn: 'layer1.conv1.bn' };
  return { conv, stride: 2, padding: 3, pool: { kernel: 3, stride: 2, padding: 1, ceilMode: spec.layout === 'deeplab-pytorch' } };
}

function blockNames(layout: DeepLabLayout, layer: number, block: number): BlockNames {
  if (layout === 'torchvision') {
    const p = `backbone.layer${layer + 1}.${block}`;
    return {
      reduce: { name: `${p}.conv1`, bn: `${p}.bn1` },
      conv3x3: { name: `${p}.conv2`, bn: `${p}.bn2` },
      increase: { name: `${p}.conv3`, bn: `${p}.bn3` },
      shortcut: block === 0 ? { name: `${p}.downsample.0`, bn: `${p}.downsample.1` } : undefined,
    };
  }
  const p = `layer${layer + 2}.block${block + 1}`;
  const unit = (u: string): ConvSource => ({ name: `${p}.${u}.conv`, bn: `${p}.${u}.bn` });
  return { reduce: unit('reduce'), conv3x3: unit('conv3x3'), increase: unit('increase'), shortcut: block === 0 ? unit('shortcut') : undefined };
}

/** Every bottleneck of the backbone in order, with its geometry. */
export function backboneBlocks(spec: BackboneSpec): BottleneckSpec[] {
  const out: BottleneckSpec[] = [];
  spec.layers.forEach((sched, l) => {
    for (let i = 0; i < spec.widths.blocks[l]!; i++) {
      const stride = i === 0 ? sched.stride : 1;
      const onReduce = spec.layout === 'deeplab-pytorch';
      out.push({
        ...blockNames(spec.layout, l, i), layer: l, block: i, stride,
        reduceStride: onReduce ? stride : 1, conv3x3Stride: onReduce ? 1 : stride,
        dilation: i === 0 ? sched.firstDilation : sched.dilation,
      });
    }
  });
  return out;
}

/** Every convolution of the backbone, for prepareConvs. */
export function backboneConvs(spec: BackboneSpec): ConvSource[] {
  const out = [backboneStem(spec).conv];
  for (const b of backboneBlocks(spec)) out.push(b.reduce, b.conv3x3, b.increase, ...(b.shortcut ? [b.shortcut] : []));
  return out;
}

/** Adds the backbone on `x` [N, 3, H, W]; returns each residual layer's output (index 0..3). */
export function buildBackbone(g: Graph, params: DeepLabParams, x: Value, spec: BackboneSpec, tag = ''): Value[] {
  const stem = backboneStem(spec);
  const y = convNode(g, params, stem.conv.name, x, { stride: stem.stride, padding: stem.padding, activation: 'relu', tag });
  let h = g.apply(pool2dOp, [y], { mode: 'max', ...stem.pool }, `${tag}stem.pool`)[0]!;
  const outs: Value[] = [];
  for (const b of backboneBlocks(spec)) {
    const a = convNode(g, params, b.reduce.name, h, { stride: b.reduceStride, activation: 'relu', tag });
    const c = convNode(g, params, b.conv3x3.name, a, { stride: b.conv3x3Stride, padding: b.dilation, dilation: b.dilation, activation: 'relu', tag });
    const shortcut = b.shortcut ? convNode(g, params, b.shortcut.name, h, { stride: b.stride, tag }) : h;
    h = convNode(g, params, b.increase.name, c, { residual: shortcut, activation: 'relu', tag });
    if (b.block === spec.widths.blocks[b.layer]! - 1) outs.push(h);
  }
  return outs;
}
