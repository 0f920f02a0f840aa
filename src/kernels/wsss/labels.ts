// The label kernels of the seed pipeline (shaders/wsss/labels_*.wgsl); the rules that choose their
// arguments (eval_cam.py's τ, keys → label values) are in src/wsss/labels.ts.
//   labelsArgmax  per pixel argmax over [bg, classes] mapped through a lookup table, bytes packed
//                 four per u32 word; bg from the scores' maximum ((1 − max)^τ), a constant plane,
//                 or channel 0 of the scores; optionally in numpy's float16 arithmetic
//   labelsProbs   [bg = fp16(1 − max_k cam_k), cams] as float16 values: the dense CRF's input
import type { Gpu } from '../../gpu/context.js';
import { ceilDiv, defineKernel, grid1d } from '../../gpu/kernel.js';
import type { Tensor } from '../../gpu/tensor.js';

const WG = 64;

export type BackgroundKind = 'power' | 'constant' | 'channel0';
export const BG_MODES: Readonly<Record<BackgroundKind, number>> = { power: 0, constant: 1, channel0: 2 };

export interface LabelsArgs {
  mode: BackgroundKind;
  fp16: boolean;
  /** Foreground channels. */
  k: number;
  pixels: number;
  /** τ of 'power'. */
  exponent: number;
  /** The plane of 'constant', already rounded as the emulated storage rounds it. */
  bgConst: number;
}

export const labelsArgmaxKernel = defineKernel<LabelsArgs>({
  name: 'labels_argmax',
  shader: 'wsss/labels_argmax.wgsl',
  params: (a) => ({ BG_MODE: BG_MODES[a.mode], ROUND_F16: a.fp16, WG }),
  uniforms: (a) => ({
    k: a.k,
    pixels: a.pixels,
    words: ceilDiv(a.pixels, 4),
    exponent: a.exponent,
    exponent_int: Number.isInteger(a.exponent) && a.exponent >= 1 && a.exponent <= 64 ? a.exponent : 0,
    bg_const: a.bgConst,
  }),
  workgroups: (a, t) => grid1d(ceilDiv(ceilDiv(a.pixels, 4), WG), t),
  sizes: (a) => ({ scores: (a.mode === 'channel0' ? a.k + 1 : a.k) * a.pixels, lut: a.k + 1, labels: ceilDiv(a.pixels, 4) }),
  cost: (a) => ({ flops: 3 * (a.k + 1) * a.pixels, bytes: 4 * (a.k + 1) * a.pixels + a.pixels }),
});

export const labelsProbsKernel = defineKernel<{ k: number; pixels: number }>({
  name: 'labels_probs',
  shader: 'wsss/labels_probs.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ k: a.k, pixels: a.pixels }),
  workgroups: (a, t) => grid1d(ceilDiv(a.pixels, WG), t),
  sizes: (a) => ({ cams: a.k * a.pixels, probs: (a.k + 1) * a.pixels }),
  cost: (a) => ({ flops: 3 * a.k * a.pixels, bytes: 4 * (2 * a.k + 1) * a.pixels }),
});

/**
 * Labels of scores (f32 [channels, H, W]: the K foreground channels, or [bg, K classes] for
 * 'channel0'): lut[argmax] per pixel, the first maximum winning, as a u32 tensor [ceil(H·W/4)] with
 * four label bytes per word. `lut` holds K + 1 label values (background first).
 */
export async function labelsArgmax(gpu: Gpu, scores: Tensor, lut: readonly number[], args: Omit<LabelsArgs, 'k' | 'pixels'>): Promise<Tensor> {
  const pixels = scores.shape[1]! * scores.shape[2]!;
  const k = lut.length - 1;
  const labels = gpu.empty([ceilDiv(pixels, 4)], 'u32', 'labels');
  if (pixels === 0) return labels;
  const lutT = gpu.constant(`labels lut ${lut.join(',')}`, [k + 1], 'u32', () => Uint32Array.from(lut));
  await gpu.run(labelsArgmaxKernel, { ...args, k, pixels }, { scores, lut: lutT, labels });
  return labels;
}

/** [bg, cams] float16 values into probs (f32 [K + 1, H, W]) from cams (f32 [K, H, W]). */
export async function labelsProbs(gpu: Gpu, cams: Tensor, probs: Tensor): Promise<void> {
  const [k, h, w] = cams.shape as [number, number, number];
  if (h * w === 0) return;
  await gpu.run(labelsProbsKernel, { k, pixels: h * w }, { cams, probs });
}
