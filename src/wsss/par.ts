// AFA's pixel-adaptive refinement (PAR, docs/algorithms.md §5) on the GPU, and the thin AFA-style
// wrapper that turns CAMs into labels with it.
//
// parRefine(image [3, h, w] in [0, 1], masks [C, h', w']):
//   masks → bilinear (align_corners=True) to h×w;
//   a_ij = softmax_j(κ_ij) + w2·softmax_j(π_j) over P = 8·|dilations| neighbours (48 by default);
//   `iterations` times M_i ← Σ_j a_ij M_j, neighbours clamped to the image (replicate padding).
// Two kernels (src/kernels/wsss/par.ts): par_affinity (per pixel, the P weights, once) and par_step
// (the gather, per iteration, ping-ponging two buffers).
//
// afaLabels: AFA's refine_cams_with_bkg_v2 as §5 describes it, for the present classes only.
import type { Gpu } from '../gpu/context.js';
import { KernelError } from '../gpu/errors.js';
import { Tensor } from '../gpu/tensor.js';
import { resizeLinear } from '../kernels/bilinear.js';
import { unary } from '../kernels/elementwise.js';
import { copy } from '../kernels/layout.js';
import { afaCombine, parAffinityWeights, parSoftmax, parStep } from '../kernels/wsss/par.js';
import { labelMapPacked, readLabelWords } from './labels.js';
import { MAX_CLASSES } from './labelset.js';

/** AFA's dilations (scripts/dist_train_voc.py): 6 groups of 8 neighbours. */
export const PAR_DILATIONS: readonly number[] = [1, 2, 4, 8, 12, 24];
export const PAR_ITERATIONS = 10;
export const PAR_W1 = 0.3;
export const PAR_W2 = 0.01;

/** Neighbour order inside each dilation group, as (dy, dx) for d = 1 (AFA's get_kernel). */
const GROUP: ReadonlyArray<readonly [number, number]> = [[-1, -1], [-1, 0], [-1, 1], [0, -1], [0, 1], [1, -1], [1, 0], [1, 1]];

/** The P = 8·|dilations| neighbour offsets, (dy, dx) interleaved. */
export function parOffsets(dilations: readonly number[] = PAR_DILATIONS): Int32Array {
  checkDilations(dilations);
  return Int32Array.from(dilations.flatMap((d) => GROUP.flatMap(([dy, dx]) => [dy * d, dx * d])));
}

/**
 * softmax_j(π_j), π_j = −(ρ_j / (σ_ρ + 1e-8) / w1)², ρ_j = d (axial) or √2·d (diagonal, √2 rounded to
 * float32 as AFA's float32 kernel holds it), σ_ρ the unbiased std of the ρ's. Constant over pixels.
 */
export function parPositionSoftmax(dilations: readonly number[] = PAR_DILATIONS, w1 = PAR_W1): Float64Array {
  checkDilations(dilations);
  const root2 = Math.fround(Math.SQRT2);
  const rho = dilations.flatMap((d) => GROUP.map(([dy, dx]) => Math.fround((dy && dx ? root2 : 1) * d)));
  const mean = rho.reduce((a, b) => a + b, 0) / rho.length;
  const sd = Math.sqrt(rho.reduce((a, r) => a + (r - mean) ** 2, 0) / (rho.length - 1));
  const pi = rho.map((r) => -((r / (sd + 1e-8) / w1) ** 2));
  const top = Math.max(...pi);
  const e = pi.map((v) => Math.exp(v - top));
  const total = e.reduce((a, b) => a + b, 0);
  return Float64Array.from(e, (v) => v / total);
}

function checkDilations(dilations: readonly number[]): void {
  if (!Array.isArray(dilations) || dilations.length === 0) throw new KernelError('par', `dilations must be a non-empty list, got ${JSON.stringify(dilations)}`);
  for (const d of dilations) if (!Number.isInteger(d) || d < 1) throw new KernelError('par', `dilation ${d} is not a positive integer`);
}

// ---------------------------------------------------------------------------------------------
// Affinity and refinement

export interface ParAffinityOptions {
  dilations?: readonly number[];
  w1?: number;
  w2?: number;
}

function checkImage(op: string, image: unknown): asserts image is Tensor {
  if (!(image instanceof Tensor) || image.dtype !== 'f32' || image.rank !== 3 || image.shape[0] !== 3) {
    throw new KernelError(op, `image ${String(image)} must be f32 [3, h, w]`);
  }
  if (image.shape[1] === 0 || image.shape[2] === 0) throw new KernelError(op, `image ${image} is empty`);
}

function checkWeight(what: string, v: number, positive: boolean): void {
  if (!Number.isFinite(v) || (positive ? v <= 0 : v < 0)) throw new KernelError('par', `${what} must be a finite number ${positive ? '> 0' : '≥ 0'}, got ${v}`);
}

/** The neighbour offsets [P, 2] ((dy, dx), i32) of the dilations, a device constant. */
function parOffsetTable(gpu: Gpu, dilations: readonly number[]): Tensor {
  const host = parOffsets(dilations);
  return gpu.constant(`par offsets ${dilations.join(',')}`, [host.length], 'i32', () => host);
}

/** The PAR weights a [P, h, w] of an image [3, h, w] (P = 8·|dilations|; they sum to 1 + w2 per pixel). */
export async function parAffinity(gpu: Gpu, image: Tensor, opts: ParAffinityOptions = {}): Promise<Tensor> {
  checkImage('par', image);
  const dilations = opts.dilations ?? PAR_DILATIONS;
  const w1 = opts.w1 ?? PAR_W1, w2 = opts.w2 ?? PAR_W2;
  checkWeight('w1', w1, true);
  checkWeight('w2', w2, false);
  const offsets = parOffsetTable(gpu, dilations);
  const taps = offsets.size / 2;
  // The position weights depend only on the dilations and the weights: a device constant too.
  const posT = gpu.constant(`par position weights ${dilations.join(',')} w1 ${w1} w2 ${w2}`, [taps], 'f32', () =>
    Float32Array.from(parPositionSoftmax(dilations, w1), (v) => Math.fround(w2 * Math.fround(v))),
  );
  return parAffinityWeights(gpu, image, offsets, posT, w1);
}

export interface ParOptions extends ParAffinityOptions {
  /** [3, h, w], f32 in [0, 1] (the denormalised image). */
  image: Tensor;
  /** [C, h', w'] label scores; resized to h×w with align_corners=True first. */
  masks: Tensor;
  iterations?: number;
}

/** PAR (§5): refined masks [C, h, w]. */
export async function parRefine(gpu: Gpu, opts: ParOptions): Promise<Tensor> {
  const { image, masks } = opts;
  checkImage('par', image);
  if (!(masks instanceof Tensor) || masks.dtype !== 'f32' || masks.rank !== 3 || masks.shape[1] === 0 || masks.shape[2] === 0) {
    throw new KernelError('par', `masks ${String(masks)} must be f32 [C, h', w'] with h', w' ≥ 1`);
  }
  const iterations = opts.iterations ?? PAR_ITERATIONS;
  if (!Number.isInteger(iterations) || iterations < 0) throw new KernelError('par', `iterations must be an integer ≥ 0, got ${iterations}`);
  const [, h, w] = image.shape as [number, number, number];
  const channels = masks.shape[0]!;
  // align_corners=True onto the same size is the identity (source index = output index exactly).
  const same = masks.shape[1] === h && masks.shape[2] === w;
  const resized = same ? undefined : await resizeLinear(gpu, masks, [h, w], { mode: 'torch-align-corners' });
  if (iterations === 0 || channels === 0) return resized ?? copy(gpu, masks);
  const aff = await parAffinity(gpu, image, opts);
  const taps = aff.shape[0]!;
  const offsets = parOffsetTable(gpu, opts.dilations ?? PAR_DILATIONS);
  if (offsets.size !== 2 * taps) throw new KernelError('par', `${taps} affinity taps but ${offsets.size / 2} neighbour offsets`);
  // Two work buffers alternate; the caller's masks are only read.
  let cur = resized ?? masks;
  let spare: Tensor | undefined;
  for (let it = 0; it < iterations; it++) {
    const next = spare ?? gpu.empty([channels, h, w], 'f32', 'par masks');
    await parStep(gpu, aff, offsets, cur, next);
    spare = cur === masks ? undefined : cur;
    cur = next;
  }
  gpu.release(aff, ...(spare ? [spare] : []));
  return cur;
}

// ---------------------------------------------------------------------------------------------
// AFA-style labels

export interface AfaLabelOptions {
  /** [3, h, w], f32 in [0, 1]. */
  image: Tensor;
  /** [K, h, w] CAMs of the image's present classes, at image resolution. */
  cams: Tensor;
  /** Class index of each CAM channel (label value key + 1). */
  keys: readonly number[];
  /** Background planes of the two runs (AFA's high_thre / low_thre). */
  highThreshold?: number;
  lowThreshold?: number;
  /** PAR runs at (h / downscale, w / downscale), floored. */
  downscale?: number;
  dilations?: readonly number[];
  iterations?: number;
}

/** 255: pixels the high-background run calls background but the low one does not. */
export const AFA_IGNORE = 255;

/**
 * AFA's CAM → label rule (§5): for bg ∈ {high, low}: softmax([bg plane, CAMs]) at half resolution,
 * PAR, bilinear back to h×w, argmax → [0, keys + 1]. Result: the high-bg labels, with their
 * background pixels set to 255 unless the low-bg run also says background (then 0). Uint8Array [h·w].
 */
export async function afaLabels(gpu: Gpu, opts: AfaLabelOptions): Promise<Uint8Array> {
  return readLabelWords(gpu, await afaLabelWords(gpu, opts), opts.image.shape[1]! * opts.image.shape[2]!);
}

/** afaLabels left on the GPU: u32 [ceil(h·w/4)], four label bytes per word. */
export async function afaLabelWords(gpu: Gpu, opts: AfaLabelOptions): Promise<Tensor> {
  const { image, cams, keys } = opts;
  checkImage('afa', image);
  const [, h, w] = image.shape as [number, number, number];
  if (!(cams instanceof Tensor) || cams.dtype !== 'f32' || cams.rank !== 3 || cams.shape[1] !== h || cams.shape[2] !== w) {
    throw new KernelError('afa', `cams ${String(cams)} must be f32 [K, ${h}, ${w}] (the image's size)`);
  }
  const k = cams.shape[0]!;
  if (k < 1 || !Array.isArray(keys) || keys.length !== k) throw new KernelError('afa', `${k} CAM channel(s) but ${Array.isArray(keys) ? keys.length : 'no'} keys (need at least one class)`);
  keys.forEach((key, i) => {
    if (!Number.isInteger(key) || key < 0 || key + 1 > MAX_CLASSES) throw new KernelError('afa', `keys[${i}] = ${key} is not a class index in 0..${MAX_CLASSES - 1}`);
  });
  const high = opts.highThreshold ?? 0.55, low = opts.lowThreshold ?? 0.35;
  for (const [what, v] of [['highThreshold', high], ['lowThreshold', low]] as const) checkWeight(what, v, false);
  const down = opts.downscale ?? 2;
  if (!Number.isInteger(down) || down < 1) throw new KernelError('afa', `downscale must be a positive integer, got ${down}`);
  const sh = Math.floor(h / down), sw = Math.floor(w / down);
  if (sh < 1 || sw < 1) throw new KernelError('afa', `image ${h}×${w} is too small for downscale ${down}`);

  const small = await resizeLinear(gpu, image, [sh, sw], { mode: 'torch' });
  const camsSmall = await resizeLinear(gpu, cams, [sh, sw], { mode: 'torch' });
  const runs: Tensor[] = [];
  for (const thr of [high, low]) {
    // The constant plane is resized like the CAMs (as AFA concatenates first), so its values carry
    // the same float32 rounding: 0·x + thr builds it from any finite plane.
    const firstPlane = new Tensor([1, h, w], 'f32', cams.buffer, cams.byteOffset);
    const plane = await unary(gpu, firstPlane, 'none', { alpha: 0, beta: thr });
    const bgSmall = await resizeLinear(gpu, plane, [sh, sw], { mode: 'torch' });
    const probs = await parSoftmax(gpu, bgSmall, camsSmall);
    const refined = await parRefine(gpu, { image: small, masks: probs, dilations: opts.dilations, iterations: opts.iterations });
    const full = await resizeLinear(gpu, refined, [h, w], { mode: 'torch' });
    runs.push(await labelMapPacked(gpu, full, { keys, background: { kind: 'channel0' } }));
    gpu.release(plane, bgSmall, probs, refined, full);
  }
  const [highRun, lowRun] = runs as [Tensor, Tensor];
  const labels = await afaCombine(gpu, highRun, lowRun);
  gpu.release(small, camsSmall, highRun, lowRun);
  return labels;
}
