// torchvision's DeepLabV3 (models/segmentation/deeplabv3.py, _utils.py) on the dilated ResNet
// backbone (resnet.ts), as graph nodes:
//
//   features = layer4 output (output stride 8);  aux features = layer3 output
//   DeepLabHead = ASPP → 3×3 conv (BN, ReLU) → 1×1 conv with bias → logits at stride 8
//     ASPP: five branches on the features, each BN + ReLU:
//       1×1 conv | 3×3 conv, dilation = padding = 12 | … 24 | … 36 |
//       image pooling: global average → 1×1 conv → bilinear back to the map size (from 1×1 a
//       broadcast; torchvision's F.interpolate(align_corners=False))
//     concatenated on channels → 1×1 projection (BN, ReLU) → dropout (identity in eval)
//   FCNHead (aux, optional) = 3×3 conv pad 1 (BN, ReLU) → dropout → 1×1 conv with bias
//   each head's logits are resized bilinearly (align_corners=False) to the input size.
import type { Graph, Value } from '../../graph/graph.js';
import { bilinearOp, concatOp, globalAvgPoolOp } from '../../graph/ops.js';
import type { DeepLabConfig } from '../../weights/layouts/deeplab.js';
import { convNode, type ConvSource, type DeepLabParams } from './common.js';
import { backboneConvs, buildBackbone, deeplabBackbone } from './resnet.js';

export const TORCHVISION_ASPP_RATES = [12, 24, 36] as const;

/** Every convolution of the model, for prepareConvs. */
export function deeplabV3Convs(config: DeepLabConfig): ConvSource[] {
  const out = backboneConvs(deeplabBackbone('torchvision', config.backbone));
  out.push({ name: 'classifier.0.convs.0.0', bn: 'classifier.0.convs.0.1' });
  for (const i of [1, 2, 3]) out.push({ name: `classifier.0.convs.${i}.0`, bn: `classifier.0.convs.${i}.1` });
  out.push({ name: 'classifier.0.convs.4.1', bn: 'classifier.0.convs.4.2' });
  out.push({ name: 'classifier.0.project.0', bn: 'classifier.0.project.1' });
  out.push({ name: 'classifier.1', bn: 'classifier.2' });
  out.push({ name: 'classifier.4', bias: true });
  if (config.auxChannels > 0) {
    out.push({ name: 'aux_classifier.0', bn: 'aux_classifier.1' });
    out.push({ name: 'aux_classifier.4', bias: true });
  }
  return out;
}

export interface DeepLabV3Values {
  /** Logits before the final upsampling [N, K, h, w] (output stride 8). */
  lowres: Value;
  /** Logits at the input size [N, K, H, W] (the model's `out`). */
  logits: Value;
  auxLowres?: Value;
  aux?: Value;
}

/** Adds the model on `x` [N, 3, H, W]; `aux` adds the aux head when the weights have one. */
export function buildDeepLabV3(g: Graph, params: DeepLabParams, config: DeepLabConfig, x: Value, opts: { aux?: boolean } = {}): DeepLabV3Values {
  const [, , height, width] = x.shape as [number, number, number, number];
  const layers = buildBackbone(g, params, x, deeplabBackbone('torchvision', config.backbone));
  const features = layers[3]!;
  const [, , fh, fw] = features.shape as [number, number, number, number];
  const branches = [convNode(g, params, 'classifier.0.convs.0.0', features, { activation: 'relu' })];
  TORCHVISION_ASPP_RATES.forEach((rate, i) => {
    branches.push(convNode(g, params, `classifier.0.convs.${i + 1}.0`, features, { padding: rate, dilation: rate, activation: 'relu' }));
  });
  const pooled = g.apply(globalAvgPoolOp, [features], {}, 'classifier.0.convs.4.0')[0]!;
  const pooledConv = convNode(g, params, 'classifier.0.convs.4.1', pooled, { activation: 'relu' });
  branches.push(g.apply(bilinearOp, [pooledConv], { size: [fh, fw] }, 'classifier.0.convs.4.upsample')[0]!);
  const cat = g.apply(concatOp, branches, { axis: 1 }, 'classifier.0.concat')[0]!;
  const projected = convNode(g, params, 'classifier.0.project.0', cat, { activation: 'relu' });
  const head = convNode(g, params, 'classifier.1', projected, { padding: 1, activation: 'relu' });
  const lowres = convNode(g, params, 'classifier.4', head);
  const logits = g.apply(bilinearOp, [lowres], { size: [height, width] }, 'upsample')[0]!;
  const out: DeepLabV3Values = { lowres, logits };
  if (opts.aux && config.auxChannels > 0) {
    const a = convNode(g, params, 'aux_classifier.0', layers[2]!, { padding: 1, activation: 'relu' });
    out.auxLowres = convNode(g, params, 'aux_classifier.4', a);
    out.aux = g.apply(bilinearOp, [out.auxLowres], { size: [height, width] }, 'aux_upsample')[0]!;
  }
  return out;
}
