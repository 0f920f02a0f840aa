// From CAMs to labels on the GPU (docs/algorithms.md §3.6, §8 items 16–17).
//
// labelMap: CLIP-ES's eval_cam.py label map. From [K, H, W] CAMs (float16 values, as CLIP-ES stores
// attn_highres; f32 inputs are rounded to float16 first, which is a no-op on float16 values):
//   τ ≥ 1: bg = fp16(fp16(1 − max_k cam_k)^τ)       (τ is an exponent; CLIP-ES sweeps τ ∈ {1, 2})
//   τ < 1: bg = fp16(τ)                              (a constant background plane)
//   label = lut[argmax([bg, cam_0, …, cam_{K−1}])], lut = [0, keys[0] + 1, …, keys[K−1] + 1]
// with numpy's float16 rounding emulated at every step and the first maximum winning (ties go to
// the background, then to the class earlier in `keys`). Channel k belongs to keys[k], never to a
// sorted class id (§8 item 17). A third background mode, 'channel0', takes scores [K + 1, H, W]
// whose channel 0 already is the background (random walk, PAR) and compares them in plain f32.
//
// crfProbabilities: eval_cam_with_crf.py's [bg, cam_1..cam_K] float16 map with bg = (1 − max)^1,
// for the dense CRF (src/wsss/crf.ts).
//
// Labels are uint8 (0 = background, keys + 1 = classes; 255 stays free for "ignore"), packed four
// per u32 on the GPU; `labelMap` returns them as a Uint8Array [H·W], row-major. The kernels are in
// src/kernels/wsss/labels.ts.
import type { Gpu } from '../gpu/context.js';
import { KernelError } from '../gpu/errors.js';
import { Tensor } from '../gpu/tensor.js';
import { BG_MODES, labelsArgmax, labelsProbs } from '../kernels/wsss/labels.js';
import { roundToF16 } from '../models/clip/common.js';
import { MAX_CLASSES } from './labelset.js';

export type Background =
  | { kind: 'power'; exponent: number }
  | { kind: 'constant'; value: number }
  | { kind: 'channel0' };

/** eval_cam.py's reading of --cam_eval_thres τ: an exponent when τ ≥ 1, a constant plane below 1. */
export function backgroundFromTau(tau: number): Background {
  if (!Number.isFinite(tau) || tau < 0) throw new Error(`labels: τ must be a finite number ≥ 0, got ${tau}`);
  return tau >= 1 ? { kind: 'power', exponent: tau } : { kind: 'constant', value: tau };
}

export interface LabelMapOptions {
  /** Class index of each foreground channel (label value = key + 1). */
  keys: readonly number[];
  /** eval_cam.py's τ, or an explicit background rule. */
  background: Background | number;
  /** Emulate float16 storage and arithmetic (default: on, except for 'channel0'). */
  fp16?: boolean;
}

function checkScores(op: string, scores: unknown): asserts scores is Tensor {
  if (!(scores instanceof Tensor) || scores.dtype !== 'f32' || scores.rank !== 3) throw new KernelError(op, `scores ${String(scores)} must be f32 [channels, H, W]`);
}

/** The label map packed four bytes per u32 word: a u32 tensor [ceil(H·W/4)]. */
export async function labelMapPacked(gpu: Gpu, scores: Tensor, opts: LabelMapOptions): Promise<Tensor> {
  const op = 'labels_argmax';
  checkScores(op, scores);
  const bg = typeof opts.background === 'number' ? backgroundFromTau(opts.background) : opts.background;
  if (!bg || !(bg.kind in BG_MODES)) throw new KernelError(op, `unknown background rule ${JSON.stringify(opts.background)} (kinds: power, constant, channel0)`);
  const channels = scores.shape[0]!;
  const k = bg.kind === 'channel0' ? channels - 1 : channels;
  const keys = opts.keys;
  if (!Array.isArray(keys) || keys.length !== k) {
    throw new KernelError(op, `${k} foreground channel(s) in scores ${scores}${bg.kind === 'channel0' ? ' (after channel 0, the background)' : ''} but ${Array.isArray(keys) ? keys.length : 'no'} keys`);
  }
  if (k < 1) throw new KernelError(op, `scores ${scores} have no foreground channel (an image without labels is skipped, §8 item 5)`);
  keys.forEach((key, i) => {
    if (!Number.isInteger(key) || key < 0 || key + 1 > MAX_CLASSES) throw new KernelError(op, `keys[${i}] = ${key} is not a class index in 0..${MAX_CLASSES - 1}`);
  });
  let exponent = 1, bgConst = 0;
  if (bg.kind === 'power') {
    exponent = bg.exponent;
    if (!Number.isFinite(exponent) || exponent < 1) throw new KernelError(op, `the background exponent τ must be ≥ 1 (eval_cam.py uses τ < 1 as a constant plane), got ${exponent}`);
  } else if (bg.kind === 'constant') {
    if (!Number.isFinite(bg.value)) throw new KernelError(op, `the constant background must be finite, got ${bg.value}`);
  }
  const fp16 = opts.fp16 ?? bg.kind !== 'channel0';
  // numpy pads with the constant cast to float16 once (np.pad on the float16 array).
  if (bg.kind === 'constant') bgConst = fp16 ? roundToF16(bg.value) : Math.fround(bg.value);
  return labelsArgmax(gpu, scores, [0, ...keys.map((key) => key + 1)], { mode: bg.kind, fp16, exponent, bgConst });
}

/** The label map as bytes [H·W], row-major (0 background, keys + 1 classes). */
export async function labelMap(gpu: Gpu, scores: Tensor, opts: LabelMapOptions): Promise<Uint8Array> {
  return readLabelWords(gpu, await labelMapPacked(gpu, scores, opts), scores.shape[1]! * scores.shape[2]!);
}

/** Label bytes [pixels] from u32 words holding four labels each (byte 0 = the first pixel). */
export function unpackLabelWords(words: Uint32Array, pixels: number): Uint8Array {
  return new Uint8Array(words.buffer, words.byteOffset, pixels).slice();
}

/** Reads a packed label map (u32 [ceil(pixels/4)]) back as bytes [pixels], and frees it. */
export async function readLabelWords(gpu: Gpu, words: Tensor, pixels: number): Promise<Uint8Array> {
  try {
    return unpackLabelWords((await gpu.read(words)) as Uint32Array, pixels);
  } finally {
    gpu.release(words);
  }
}

/**
 * [bg, cam_1..cam_K] as float16 values in an f32 tensor [K + 1, H, W], bg = fp16(1 − max_k cam_k):
 * the unnormalised probability map of eval_cam_with_crf.py.
 */
export async function crfProbabilities(gpu: Gpu, cams: Tensor, opts: { out?: Tensor } = {}): Promise<Tensor> {
  const op = 'labels_probs';
  checkScores(op, cams);
  const [k, h, w] = cams.shape as [number, number, number];
  if (k < 1) throw new KernelError(op, `cams ${cams} have no class channel`);
  const probs = opts.out ?? gpu.empty([k + 1, h, w], 'f32', 'crf probabilities');
  if (probs.dtype !== 'f32' || probs.size !== (k + 1) * h * w) throw new KernelError(op, `out ${probs} must be f32 [${k + 1}, ${h}, ${w}]`);
  await labelsProbs(gpu, cams, probs);
  return probs;
}
