// Pieces shared by the DeepLab graphs: convolution parameters prepared once on the host (batch-norm
// folded in, weights reordered to the conv kernel's OHWI order) and a helper that adds one
// convolution node with its fused epilogue.
import type { Graph, Value } from '../../graph/graph.js';
import { conv2dOp, type Conv2dAttrs } from '../../graph/ops.js';
import { foldBatchNorm, ohwiFromOihw } from '../../kernels/conv.js';
import type { DeepLabCheckpoint } from '../../weights/layouts/deeplab.js';

export class DeepLabError extends Error {
  override name = 'DeepLabError';
}

/** BatchNorm epsilon of both layouts (torchvision's default; deeplab-pytorch's _ConvBnReLU sets 1e-5). */
export const BN_EPS = 1e-5;

/** One convolution as the graph runs it: OHWI weights [Cout, KH, KW, Cin/groups] and a bias. */
export interface PreparedConv {
  weight: Float32Array;
  shape: [number, number, number, number];
  bias?: Float32Array;
}

/** Prepared convolutions by name (the checkpoint key of the conv without `.weight`). */
export type DeepLabParams = ReadonlyMap<string, PreparedConv>;

/** Where a convolution's tensors are in the checkpoint. */
export interface ConvSource {
  /** Name of the prepared conv; `${name}.weight` is its weight key. */
  name: string;
  /** Key prefix of the BatchNorm that follows it (folded in), if any. */
  bn?: string;
  /** The conv has its own bias (`${name}.bias`). */
  bias?: boolean;
}

/** Reads and prepares every listed convolution (BN folded, OHWI order) from a validated checkpoint. */
export async function prepareConvs(ckpt: DeepLabCheckpoint, sources: readonly ConvSource[]): Promise<Map<string, PreparedConv>> {
  const out = new Map<string, PreparedConv>();
  for (const s of sources) {
    const key = `${s.name}.weight`;
    const shape = ckpt.shapes.get(key);
    if (!shape || shape.length !== 4) throw new DeepLabError(`${ckpt.file.name}: convolution '${key}' is not in the ${ckpt.config.name} layout`);
    const [co, ci, kh, kw] = shape as [number, number, number, number];
    let weight = await ckpt.get(key);
    let bias = s.bias ? await ckpt.get(`${s.name}.bias`) : undefined;
    if (s.bn) {
      const [gamma, beta, mean, variance] = await Promise.all(['weight', 'bias', 'running_mean', 'running_var'].map((p) => ckpt.get(`${s.bn}.${p}`)));
      const folded = foldBatchNorm(weight, co, bias, { gamma: gamma!, beta: beta!, mean: mean!, variance: variance!, eps: BN_EPS });
      weight = folded.weight;
      bias = folded.bias;
    }
    out.set(s.name, { weight: ohwiFromOihw(weight, shape), shape: [co, kh, kw, ci], bias });
  }
  return out;
}

/** A graph weight bound once per name; a second request must bring the same host array. */
export function weightValue(g: Graph, name: string, data: Float32Array, shape: readonly number[]): Value {
  const have = g.weights.get(name);
  if (have) {
    if (have.data !== data) throw new DeepLabError(`graph weight '${name}' is already bound to other data`);
    return have.value;
  }
  return g.weight(name, data, shape);
}

export interface ConvNodeOptions extends Conv2dAttrs {
  /** Added before the activation (ResNet shortcut, ASPP sum). */
  residual?: Value;
  /** Node-name prefix that keeps repeated sub-graphs apart (MSC scales). */
  tag?: string;
}

/** act(conv(x) + bias + residual) with the prepared weights of `name`. */
export function convNode(g: Graph, params: DeepLabParams, name: string, x: Value, opts: ConvNodeOptions = {}): Value {
  const p = params.get(name);
  if (!p) throw new DeepLabError(`no prepared convolution '${name}'`);
  const w = weightValue(g, `${name}.weight`, p.weight, p.shape);
  const b = p.bias ? weightValue(g, `${name}.bias`, p.bias, [p.shape[0]]) : undefined;
  const { residual, tag, ...attrs } = opts;
  return g.apply(conv2dOp, [x, w, b, residual], attrs, `${tag ?? ''}${name}`)[0]!;
}
