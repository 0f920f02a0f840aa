// The kernels of the dense CRF (docs/algorithms.md §3.6; shaders/wsss/crf_*.wgsl) and the thin
// functions that dispatch them; the lattices (host), the mean-field loop and the seeds' rule are in
// src/wsss/crf.ts.
//   crfDispatchArgs  the splat's and blur's workgroup counts from the slot counts on the GPU
//   crfUnary    U = −log(clip(p)) with pydensecrf's float16 steps, through a host-built −log table
//   crfSplat    the lattice slots' sums of their pixels' (normalised) values, or of ones
//   crfBlur     one blur step along one lattice direction
//   crfNorm     nrm_k = 1/sqrt(Filter_k(1) + 1e-20), folded with the Potts weights into the slice weights
//   crfFold     nrm_k folded into the splat weights
//   crfUpdate   one mean-field update (slice, messages, softmax), or the initial Q = softmax(−U)
//   crfSeedWords  argmax labels, 255 below the confidence, four bytes per u32 word
//   crfImageWords the bilateral kernel's colours from the RGBA pixels, packed [H, W, 3] bytes
//
// Both lattices share one slot space (slot 0 = "no vertex", holding 0; then the Gaussian lattice's
// vertices, then the bilateral's). Channels travel as vec4 chunks ([slots, ceil(C/4)] and
// [pixels, ceil(C/4)]).
import type { Gpu, IndirectDispatch } from '../../gpu/context.js';
import { ceilDiv, defineKernel, grid1d } from '../../gpu/kernel.js';
import type { Tensor } from '../../gpu/tensor.js';
import { f16BitsToF32, f32ToF16Bits } from '../../weights/dtype.js';

// Invocations per workgroup: 256 measured best on SwiftShader (10 iterations at 500×375: ~8 % less CPU
// time than 64, ~25 % less than 16); a usual size on GPUs too.
const WG = 256;

// ---------------------------------------------------------------------------------------------
// Kernel descriptors

const GAUSSIAN_VERTICES = 3; // d = 2: x, y
const BILATERAL_VERTICES = 6; // d = 5: x, y and three colour channels
const PIXEL_VERTICES = GAUSSIAN_VERTICES + BILATERAL_VERTICES;

/** Entries of the −log table: float16 bit patterns 0 .. 0x3C00 (= 1.0). */
const NEG_LOG_ENTRIES = 0x3c00 + 1;

export const crfUnaryKernel = defineKernel<{ pixels: number; channels: number }>({
  name: 'crf_unary',
  shader: 'wsss/crf_unary.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ pixels: a.pixels, channels: a.channels, chunks: ceilDiv(a.channels, 4) }),
  workgroups: (a, t) => grid1d(ceilDiv(a.pixels * ceilDiv(a.channels, 4), WG), t),
  sizes: (a) => ({ probs: a.channels * a.pixels, neg_log: NEG_LOG_ENTRIES, unary: a.pixels * ceilDiv(a.channels, 4), bad: 1 }),
  cost: (a) => ({ flops: 8 * a.channels * a.pixels, bytes: 12 * a.channels * a.pixels }),
});

/** Words of the slot space (crf_lattice_space.wgsl; CRF_SPACE_WORDS in crf-lattice.ts). */
const SPACE_WORDS = 5;

/** The four (x, y, z) triples crfDispatchArgs writes (see crf_dispatch_args.wgsl). */
export const CRF_DISPATCH_ARGS_WORDS = 12;
/** Word offsets of the triples: all slots or the bilateral ones, one chunk or `chunks`. */
export const CRF_DISPATCH = { all1: 0, bilateral1: 3, all: 6, bilateral: 9 } as const;

export const crfDispatchArgsKernel = defineKernel<{ chunks: number }>({
  name: 'crf_dispatch_args',
  shader: 'wsss/crf_dispatch_args.wgsl',
  params: () => ({ WG }),
  uniforms: (a, t) => ({ chunks: a.chunks, max_dim: t.limits.maxComputeWorkgroupsPerDimension }),
  workgroups: () => [1],
  sizes: () => ({ space: SPACE_WORDS, args: CRF_DISPATCH_ARGS_WORDS, bad: 1 }),
  cost: () => ({ flops: 0, bytes: 4 * (SPACE_WORDS + CRF_DISPATCH_ARGS_WORDS) }),
});

/** `slots`: the slot capacity the values are sized for (the count itself is in `space`). */
interface SlotArgs {
  slots: number;
  chunks: number;
}

export const crfSplatKernel = defineKernel<SlotArgs & { pixels: number; entries: number; unit: boolean }>({
  name: 'crf_splat',
  shader: 'wsss/crf_splat.wgsl',
  params: (a) => ({ WG, UNIT: a.unit }),
  uniforms: (a) => ({ chunks: a.chunks }),
  workgroups: (a, t) => grid1d(ceilDiv(a.slots * a.chunks, WG), t),
  sizes: (a) => ({
    space: SPACE_WORDS,
    row_start: a.slots + 1,
    splat_entry: a.unit ? 0 : a.entries,
    entry_weight: a.unit ? a.entries : 0,
    src: a.unit ? 0 : a.pixels * a.chunks,
    values: a.slots * a.chunks,
  }),
  cost: (a) => ({ flops: 8 * a.entries * a.chunks, bytes: 4 * a.slots + (8 + 16 * a.chunks) * a.entries + 16 * a.slots * a.chunks }),
});

export const crfFoldKernel = defineKernel<{ pixels: number; entries: number; firstBilateral: number }>({
  name: 'crf_fold',
  shader: 'wsss/crf_fold.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ entries: a.entries, first_bilateral: a.firstBilateral, pixels: a.pixels }),
  workgroups: (a, t) => grid1d(ceilDiv(a.entries, WG), t),
  sizes: (a) => ({ entry_pixel: a.entries, entry_weight: a.entries, nrm: 2 * a.pixels, splat_entry: a.entries }),
  cost: (a) => ({ flops: a.entries, bytes: 16 * a.entries }),
});

/** Blur step `axis` over all slots, or over the bilateral lattice's only. */
export const crfBlurKernel = defineKernel<SlotArgs & { axes: number; axis: number; bilateralOnly: boolean }>({
  name: 'crf_blur',
  shader: 'wsss/crf_blur.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ chunks: a.chunks, axis: a.axis, bilateral_only: a.bilateralOnly ? 1 : 0 }),
  workgroups: (a, t) => grid1d(ceilDiv(a.slots * a.chunks, WG), t),
  sizes: (a) => ({ neighbours: a.axes * a.slots, space: SPACE_WORDS, src: a.slots * a.chunks, dst: a.slots * a.chunks }),
  cost: (a) => ({ flops: 12 * a.slots * a.chunks, bytes: 8 * a.slots + 64 * a.slots * a.chunks }),
});

export const crfNormKernel = defineKernel<{ pixels: number; slots: number; gaussianCompat: number; bilateralCompat: number }>({
  name: 'crf_norm',
  shader: 'wsss/crf_norm.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({
    pixels: a.pixels,
    gaussian_vertices: GAUSSIAN_VERTICES,
    bilateral_vertices: BILATERAL_VERTICES,
    gaussian_compat: a.gaussianCompat,
    bilateral_compat: a.bilateralCompat,
  }),
  workgroups: (a, t) => grid1d(ceilDiv(a.pixels, WG), t),
  sizes: (a) => ({
    pixel_slot: PIXEL_VERTICES * a.pixels,
    pixel_weight: PIXEL_VERTICES * a.pixels,
    values_g: a.slots,
    values_b: a.slots,
    nrm: 2 * a.pixels,
    slice_vertex: PIXEL_VERTICES * a.pixels,
  }),
  cost: (a) => ({ flops: 6 * PIXEL_VERTICES * a.pixels, bytes: 36 * PIXEL_VERTICES * a.pixels }),
});

export const crfUpdateKernel = defineKernel<{ pixels: number; channels: number; slots: number; messages: boolean; planar: boolean }>({
  name: 'crf_update',
  shader: 'wsss/crf_update.wgsl',
  params: (a) => ({ WG, MESSAGES: a.messages, PLANAR: a.planar }),
  uniforms: (a) => ({
    pixels: a.pixels,
    channels: a.channels,
    chunks: ceilDiv(a.channels, 4),
    gaussian_vertices: GAUSSIAN_VERTICES,
    bilateral_vertices: BILATERAL_VERTICES,
  }),
  workgroups: (a, t) => grid1d(ceilDiv(a.pixels, WG), t),
  sizes: (a) => {
    const chunks = ceilDiv(a.channels, 4);
    return {
      unary: a.pixels * chunks,
      values_g: a.messages ? a.slots * chunks : 0,
      values_b: a.messages ? a.slots * chunks : 0,
      slice_vertex: a.messages ? PIXEL_VERTICES * a.pixels : 0,
      q: a.pixels * chunks,
      q_planar: a.planar ? a.channels * a.pixels : 0,
    };
  },
  cost: (a) => {
    const chunks = ceilDiv(a.channels, 4);
    return { flops: (a.messages ? 8 * PIXEL_VERTICES : 0) * 4 * chunks * a.pixels + 20 * a.channels * a.pixels, bytes: (a.messages ? PIXEL_VERTICES * (8 + 16 * chunks) : 0) * a.pixels + 96 * chunks * a.pixels };
  },
});

export const crfSeedsKernel = defineKernel<{ pixels: number; channels: number; threshold: number }>({
  name: 'crf_seeds',
  shader: 'wsss/crf_seeds.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ pixels: a.pixels, channels: a.channels, threshold: a.threshold }),
  workgroups: (a, t) => grid1d(ceilDiv(ceilDiv(a.pixels, 4), WG), t),
  sizes: (a) => ({ q: a.channels * a.pixels, label_of: a.channels, seeds: ceilDiv(a.pixels, 4) }),
  cost: (a) => ({ flops: a.channels * a.pixels, bytes: 4 * a.channels * a.pixels + a.pixels }),
});

export interface CrfImageArgs {
  pixels: number;
  /** BGR − mean, wrapped (CLIP-ES), or the RGB bytes as they are. */
  bgr: boolean;
  ceilMean: readonly number[];
  floorMean: readonly number[];
}

export const crfImageKernel = defineKernel<CrfImageArgs>({
  name: 'crf_image',
  shader: 'wsss/crf_image.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ pixels: a.pixels, words: ceilDiv(3 * a.pixels, 4), bgr: a.bgr ? 1 : 0, ceil_mean: [...a.ceilMean, 0], floor_mean: [...a.floorMean, 0] }),
  workgroups: (a, t) => grid1d(ceilDiv(ceilDiv(3 * a.pixels, 4), WG), t),
  sizes: (a) => ({ rgba: a.pixels, colours: ceilDiv(3 * a.pixels, 4) }),
  cost: (a) => ({ flops: 3 * a.pixels, bytes: 4 * a.pixels + 3 * a.pixels }),
});

// ---------------------------------------------------------------------------------------------
// The −log table: fp16(−float32(log(max(fp16 value, fp16(1e-5))))) for every float16 pattern ≤ 1.0


/** The unary of one float16 probability, as pydensecrf's unary_from_softmax gives it on float16 input. */
export function unaryOfF16(bits: number): number {
  const clipBits = f32ToF16Bits(1e-5); // 168: the float16 subnormal nearest 1e-5
  const x = f16BitsToF32(Math.max(bits, clipBits));
  return f16BitsToF32(f32ToF16Bits(-Math.fround(Math.log(x))));
}

/** The −log table on this device (uploaded once per Gpu). */
export function negLogTableFor(gpu: Gpu): Tensor {
  return gpu.constant('crf −log table', [NEG_LOG_ENTRIES], 'f32', () => {
    const table = new Float32Array(NEG_LOG_ENTRIES);
    for (let h = 0; h < NEG_LOG_ENTRIES; h++) table[h] = unaryOfF16(h);
    return table;
  });
}

// ---------------------------------------------------------------------------------------------
// Tensor-level ops

/** One image's lattice tables on the GPU (see CrfLattice in src/wsss/crf.ts for what each holds). */
export interface CrfLatticeTensors {
  pixels: number;
  /**
   * The slot capacity every slot-indexed table is sized for: 1 + bounds of the Gaussian and
   * bilateral vertex counts (the counts themselves are in `space`, on the GPU).
   */
  slots: number;
  /** Blur directions of both lattices (the bilateral's, 6). */
  axes: number;
  /** Splat entries (pixel, vertex pairs of both lattices). */
  entries: number;
  rowStart: Tensor;
  entryPixel: Tensor;
  entryWeight: Tensor;
  neighbours: Tensor;
  pixelSlot: Tensor;
  pixelWeight: Tensor;
  /**
   * u32 [5]: Gaussian vertices, bilateral vertices, slots (1 + both), first bilateral slot,
   * overflow (crf_lattice_space.wgsl). rowStart holds slots + 1 row starts, then the entry count;
   * neighbours is [axes, slots, 2] with this `slots`.
   */
  space: Tensor;
}

/** U [pixels, chunks, 4] from planar probabilities [C, H, W]; a non-finite one is flagged in bad[0]. */
export async function crfUnary(gpu: Gpu, probs: Tensor, unary: Tensor, bad: Tensor): Promise<void> {
  const [channels, h, w] = probs.shape as [number, number, number];
  await gpu.run(crfUnaryKernel, { pixels: h * w, channels }, { probs, neg_log: negLogTableFor(gpu), unary, bad });
}

/**
 * The workgroup counts of the splat and blur dispatches (CRF_DISPATCH_ARGS_WORDS, at CRF_DISPATCH)
 * from the lattices' slot space, for `chunks` channel chunks; a lattice overflow is flagged in
 * bad[0] as CRF_LATTICE_OVERFLOW.
 */
export async function crfDispatchArgs(gpu: Gpu, space: Tensor, chunks: number, args: Tensor, bad: Tensor): Promise<void> {
  await gpu.run(crfDispatchArgsKernel, { chunks }, { space, args, bad });
}

/** The value of the CRF's error flag that says a first hash table was too small (crf_dispatch_args). */
export const CRF_LATTICE_OVERFLOW = 0xffffffff;

/**
 * Splat into values [slots, chunks, 4]: ones with the bare barycentric weights (no `src`), or the
 * pixel values src [pixels, chunks, 4] through the normalised entries of crfFold. `dispatch`: the
 * workgroup counts for all slots and `chunks` (crfDispatchArgs).
 */
export async function crfSplat(gpu: Gpu, lat: CrfLatticeTensors, values: Tensor, chunks: number, dispatch: IndirectDispatch, src?: { splatEntry: Tensor; q: Tensor }): Promise<void> {
  const unit = src === undefined;
  const args = { slots: lat.slots, chunks, pixels: lat.pixels, entries: lat.entries, unit };
  const bindings = src
    ? { space: lat.space, row_start: lat.rowStart, splat_entry: src.splatEntry, src: src.q, values }
    : { space: lat.space, row_start: lat.rowStart, entry_weight: lat.entryWeight, values };
  await gpu.run(crfSplatKernel, args, bindings, dispatch);
}

/**
 * Blur step `axis` from src into dst ([slots, chunks, 4] each), of all slots or of the bilateral
 * ones; `dispatch`: the matching workgroup counts (crfDispatchArgs).
 */
export async function crfBlur(gpu: Gpu, lat: CrfLatticeTensors, src: Tensor, dst: Tensor, chunks: number, axis: number, bilateralOnly: boolean, dispatch: IndirectDispatch): Promise<void> {
  await gpu.run(crfBlurKernel, { slots: lat.slots, chunks, axes: lat.axes, axis, bilateralOnly }, { neighbours: lat.neighbours, space: lat.space, src, dst }, dispatch);
}

/**
 * nrm [2, pixels] from the blurred splat of ones (valuesG: the Gaussian lattice's, valuesB: the
 * bilateral's), and the slice weights with nrm and the Potts weights folded in: sliceVertex.
 */
export async function crfNorm(gpu: Gpu, lat: CrfLatticeTensors, valuesG: Tensor, valuesB: Tensor, compat: { gaussian: number; bilateral: number }, nrm: Tensor, sliceVertex: Tensor): Promise<void> {
  await gpu.run(
    crfNormKernel,
    { pixels: lat.pixels, slots: lat.slots, gaussianCompat: compat.gaussian, bilateralCompat: compat.bilateral },
    { pixel_slot: lat.pixelSlot, pixel_weight: lat.pixelWeight, values_g: valuesG, values_b: valuesB, nrm, slice_vertex: sliceVertex },
  );
}

/** The splat entries with nrm folded in; entries from `firstBilateral` on belong to the bilateral lattice. */
export async function crfFold(gpu: Gpu, lat: CrfLatticeTensors, nrm: Tensor, splatEntry: Tensor, firstBilateral: number): Promise<void> {
  await gpu.run(crfFoldKernel, { pixels: lat.pixels, entries: lat.entries, firstBilateral }, { entry_pixel: lat.entryPixel, entry_weight: lat.entryWeight, nrm, splat_entry: splatEntry });
}

export interface CrfUpdateOptions {
  channels: number;
  /** The blurred lattices and the slice weights (crfNorm); without them, Q = softmax(−U). */
  messages?: { valuesG: Tensor; valuesB: Tensor; sliceVertex: Tensor };
  /** Also write Q planar [C, H, W] here. */
  planar?: Tensor;
}

/** One mean-field update of q [pixels, chunks, 4] from the unary U. */
export async function crfUpdate(gpu: Gpu, lat: CrfLatticeTensors, unary: Tensor, q: Tensor, opts: CrfUpdateOptions): Promise<void> {
  const m = opts.messages;
  const args = { pixels: lat.pixels, channels: opts.channels, slots: lat.slots, messages: m !== undefined, planar: opts.planar !== undefined };
  await gpu.run(crfUpdateKernel, args, { unary, values_g: m?.valuesG, values_b: m?.valuesB, slice_vertex: m?.sliceVertex, q, q_planar: opts.planar });
}

/**
 * Labels from posteriors q [C, H, W]: labelOf[argmax] per pixel, 255 where max Q < threshold (a
 * float32), as a u32 tensor [ceil(H·W/4)] with four label bytes per word.
 */
export async function crfSeedWords(gpu: Gpu, q: Tensor, labelOf: readonly number[], threshold: number): Promise<Tensor> {
  const [channels, h, w] = q.shape as [number, number, number];
  const pixels = h * w;
  const seeds = gpu.empty([ceilDiv(pixels, 4)], 'u32', 'crf seeds');
  const lut = gpu.constant(`crf label_of ${labelOf.join(',')}`, [channels], 'u32', () => Uint32Array.from(labelOf));
  await gpu.run(crfSeedsKernel, { pixels, channels, threshold }, { q, label_of: lut, seeds });
  return seeds;
}

/**
 * The colours the bilateral kernel sees, from RGBA pixels u32 [H, W] (one RGBA8 pixel per word):
 * `meanBgr` given → CLIP-ES's BGR − mean wrapped to uint8 (crfImage's 'clip-es'), else the RGB
 * bytes. Returns the [H, W, 3] byte stream packed four bytes per u32 word, [ceil(3·H·W/4)].
 */
export async function crfImageWords(gpu: Gpu, rgba: Tensor, meanBgr?: readonly [number, number, number]): Promise<Tensor> {
  const pixels = rgba.size;
  const words = gpu.empty([ceilDiv(3 * pixels, 4)], 'u32', 'crf image');
  if (pixels === 0) return words;
  const mean = meanBgr ?? [0, 0, 0];
  await gpu.run(crfImageKernel, { pixels, bgr: meanBgr !== undefined, ceilMean: mean.map(Math.ceil), floorMean: mean.map(Math.floor) }, { rgba, colours: words });
  return words;
}
