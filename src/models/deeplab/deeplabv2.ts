// DeepLab v2 as kazuto1011/deeplab-pytorch builds it (libs/models/deeplabv2.py, msc.py), as graph
// nodes:
//
//   base(x) = ASPP(layer5 features): Σ over rates r of a 3×3 conv with bias, dilation = padding = r
//             (r = 6, 12, 18, 24); logits at output stride 8. The sum is a chain of convolutions,
//             each adding the previous partial sum through its residual epilogue.
//   MSC (test time): base on the input and on the input resized by each scale s (0.5, 0.75) with
//             F.interpolate(scale_factor=s, bilinear, align_corners=False) — output size ⌊H·s⌋ and
//             sampling step 1/s — each scaled result resized (bilinear, align_corners=False) to
//             the scale-1 logits' size; the element-wise max of all of them.
//   demo/eval: the logits resized (bilinear, align_corners=False) to the input size.
// The three backbone passes share one set of weights (graph weight values are bound once).
import type { Graph, Value } from '../../graph/graph.js';
import { binaryOp, bilinearOp } from '../../graph/ops.js';
import { scaledSize } from '../../kernels/bilinear.js';
import type { DeepLabConfig } from '../../weights/layouts/deeplab.js';
import { convNode, DeepLabError, type ConvSource, type DeepLabParams } from './common.js';
import { backboneConvs, buildBackbone, deeplabBackbone } from './resnet.js';

export const DEEPLABV2_RATES = [6, 12, 18, 24] as const;
export const DEEPLABV2_MSC_SCALES = [0.5, 0.75] as const;

export function deeplabV2Convs(config: DeepLabConfig): ConvSource[] {
  const out = backboneConvs(deeplabBackbone('deeplab-pytorch', config.backbone));
  for (let i = 0; i < config.asppBranches; i++) out.push({ name: `aspp.c${i}`, bias: true });
  return out;
}

/** The base network (backbone + ASPP) on x; `tag` keeps node names of repeated passes apart. */
export function buildDeepLabV2Base(g: Graph, params: DeepLabParams, config: DeepLabConfig, x: Value, rates: readonly number[], tag = ''): Value {
  if (rates.length !== config.asppBranches) throw new DeepLabError(`${rates.length} atrous rates [${rates.join(', ')}] for ${config.asppBranches} ASPP branches in the weights`);
  const features = buildBackbone(g, params, x, deeplabBackbone('deeplab-pytorch', config.backbone), tag)[3]!;
  let sum: Value | undefined;
  rates.forEach((r, i) => {
    sum = convNode(g, params, `aspp.c${i}`, features, { padding: r, dilation: r, residual: sum, tag });
  });
  return sum!;
}

export interface DeepLabV2Values {
  /** The base network's logits on the unscaled input [N, K, h, w]. */
  base: Value;
  /** Multi-scale max-fused logits [N, K, h, w] (= base without scales). */
  lowres: Value;
  /** `lowres` resized to the input size [N, K, H, W]. */
  logits: Value;
}

export interface DeepLabV2Options {
  /** ASPP rates (deeplab-pytorch's DeepLabV2_ResNet101_MSC: 6, 12, 18, 24; its V2S: 3, 6, 9, 12). */
  rates?: readonly number[];
  /** MSC scales besides 1 (default 0.5, 0.75; [] for the single-scale base model). */
  scales?: readonly number[];
}

export function buildDeepLabV2(g: Graph, params: DeepLabParams, config: DeepLabConfig, x: Value, opts: DeepLabV2Options = {}): DeepLabV2Values {
  const [, , height, width] = x.shape as [number, number, number, number];
  const rates = opts.rates ?? DEEPLABV2_RATES;
  const base = buildDeepLabV2Base(g, params, config, x, rates);
  const [, , h, w] = base.shape as [number, number, number, number];
  let fused = base;
  for (const s of opts.scales ?? DEEPLABV2_MSC_SCALES) {
    const tag = `msc${s}.`;
    const size: [number, number] = [scaledSize(height, s), scaledSize(width, s)];
    if (size[0] < 1 || size[1] < 1) throw new DeepLabError(`MSC scale ${s} of a ${height}×${width} input is empty`);
    const xs = g.apply(bilinearOp, [x], { size, scaleFactor: s }, `${tag}input`)[0]!;
    const ls = buildDeepLabV2Base(g, params, config, xs, rates, tag);
    const back = g.apply(bilinearOp, [ls], { size: [h, w] }, `${tag}upsample`)[0]!;
    fused = g.apply(binaryOp, [fused, back], { op: 'max' }, `${tag}max`)[0]!;
  }
  const logits = g.apply(bilinearOp, [fused], { size: [height, width] }, 'upsample')[0]!;
  return { base, lowres: fused, logits };
}
