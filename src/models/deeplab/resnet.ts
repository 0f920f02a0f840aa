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

function stemNames(layout: DeepLabLayout): ConvSource {
  return layout === 'torchvision' ? { name: 'backbone.conv1', bn: 'backbone.bn1' } : { name: 'layer1.conv1.conv', bn: 'layer1.conv1.bn' };
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

/** Every convolution of the backbone, for prepareConvs. */
export function backboneConvs(spec: BackboneSpec): ConvSource[] {
  const out = [stemNames(spec.layout)];
  spec.widths.blocks.forEach((n, l) => {
    for (let i = 0; i < n; i++) {
      const b = blockNames(spec.layout, l, i);
      out.push(b.reduce, b.conv3x3, b.increase, ...(b.shortcut ? [b.shortcut] : []));
    }
  });
  return out;
}

/** Adds the backbone on `x` [N, 3, H, W]; returns each residual layer's output (index 0..3). */
export function buildBackbone(g: Graph, params: DeepLabParams, x: Value, spec: BackboneSpec, tag = ''): Value[] {
  const stem = convNode(g, params, stemNames(spec.layout).name, x, { stride: 2, padding: 3, activation: 'relu', tag });
  let h = g.apply(pool2dOp, [stem], { mode: 'max', kernel: 3, stride: 2, padding: 1, ceilMode: spec.layout === 'deeplab-pytorch' }, `${tag}stem.pool`)[0]!;
  const outs: Value[] = [];
  spec.layers.forEach((sched, l) => {
    for (let i = 0; i < spec.widths.blocks[l]!; i++) {
      const names = blockNames(spec.layout, l, i);
      const stride = i === 0 ? sched.stride : 1;
      const dilation = i === 0 ? sched.firstDilation : sched.dilation;
      const onReduce = spec.layout === 'deeplab-pytorch';
      const a = convNode(g, params, names.reduce.name, h, { stride: onReduce ? stride : 1, activation: 'relu', tag });
      const b = convNode(g, params, names.conv3x3.name, a, { stride: onReduce ? 1 : stride, padding: dilation, dilation, activation: 'relu', tag });
      const shortcut = names.shortcut ? convNode(g, params, names.shortcut.name, h, { stride, tag }) : h;
      h = convNode(g, params, names.increase.name, b, { residual: shortcut, activation: 'relu', tag });
    }
    outs.push(h);
  });
  return outs;
}
