// The dense CRF that turns CLIP-ES's CAMs into pseudo masks (docs/algorithms.md §3.6, §8.14–15, §9):
// pydensecrf's mean-field inference with a Gaussian (smoothness) kernel and a bilateral (appearance)
// kernel, both filtered with the permutohedral lattice as densecrf does (not an exact stencil or a
// bilateral grid), so that posteriors follow pydensecrf rather than another approximation of the
// same Gaussians.
//
//   host, once per image:  features → both lattices (crf-lattice.ts: simplex vertices and barycentric
//                          weights per pixel, blur neighbours per vertex), packed for the GPU
//                          (buildCrfLattice). Needs only the image, not the probabilities.
//   GPU, once per call:    Filter_k(1) (splat of ones, blur) → nrm_k = 1/sqrt(Filter_k(1) + 1e-20),
//                          folded with the Potts weight into the slice weights (crf_norm) and into
//                          the splat weights (crf_fold); U = −log(clip(p)) with pydensecrf's float16
//                          steps (crf_unary); Q = softmax(−U) (crf_update without messages).
//   GPU, per iteration:    splat nrm ⊙ Q onto both lattices (crf_splat), blur along each lattice
//                          direction (crf_blur, ping-pong), slice + messages + softmax (crf_update).
//
// Both lattices share one slot space (slot 0 = "no vertex", holding 0; then the Gaussian lattice's
// vertices, then the bilateral's), so one splat dispatch serves both, and so do the first three blur
// steps; the last three cover the bilateral slots only. Channels travel as vec4 chunks
// ([slots, ceil(C/4)] and [pixels, ceil(C/4)]); the caller sees planar [C, H, W]. The kernels and
// the functions that dispatch them are in src/kernels/wsss/crf.ts.
import type { Gpu } from '../gpu/context.js';
import { KernelError } from '../gpu/errors.js';
import { ceilDiv } from '../gpu/kernel.js';
import { Tensor } from '../gpu/tensor.js';
import { crfBlur, crfFold, crfNorm, crfSeedWords, crfSplat, crfUnary, crfUpdate, type CrfLatticeTensors } from '../kernels/wsss/crf.js';
import { bilateralFeatures, buildLattice, gaussianFeatures, type PermutohedralLattice } from './crf-lattice.js';

const OP = 'denseCrf';

export interface GaussianKernelOptions {
  /** Spatial standard deviation in pixels. */
  sxy: number;
  /** Potts weight. */
  compat: number;
}

export interface BilateralKernelOptions extends GaussianKernelOptions {
  /** Colour standard deviation in the image's byte units. */
  srgb: number;
}

/** CLIP-ES's parameters (eval_cam_with_crf.py, the same as deeplab-pytorch's voc12.yaml). */
export const CLIP_ES_CRF = {
  iterations: 10,
  gaussian: { sxy: 1, compat: 3 },
  bilateral: { sxy: 67, srgb: 3, compat: 4 },
} as const;

// ---------------------------------------------------------------------------------------------
// Host: lattices packed for the GPU

/** Everything the GPU needs about one image's two lattices; depends only on image and kernel sizes. */
export interface CrfLattice {
  height: number;
  width: number;
  /** A copy of the colours it was built from, so that a reuse with another image is caught. */
  image: Uint8Array;
  gaussian: { sxy: number };
  bilateral: { sxy: number; srgb: number };
  /** Vertices of each lattice. */
  gaussianVertices: number;
  bilateralVertices: number;
  /** 1 + gaussianVertices + bilateralVertices (slot 0 is the absent vertex). */
  slots: number;
  /** Blur directions of the Gaussian lattice (d + 1 = 3) and of both (the bilateral's, 6). */
  gaussianAxes: number;
  axes: number;
  /** [slots + 1]: CSR row starts over slots; the entries of slot s are row_start[s] .. row_start[s+1]. */
  rowStart: Uint32Array;
  /** [entries]: contributing pixel and barycentric weight, in pixel order per slot. */
  entryPixel: Uint32Array;
  entryWeight: Float32Array;
  /** [axes, slots, 2]: slots of the blur neighbours (0 where absent). */
  neighbours: Uint32Array;
  /** [pixels, 3 + 6]: each pixel's simplex vertices (Gaussian, then bilateral) and slice weights
   *  (barycentric weight × 1/(1 + 2^−d), float32 as densecrf's SSE path forms it). */
  pixelSlot: Uint32Array;
  pixelWeight: Float32Array;
}

function checkKernels(gaussian: GaussianKernelOptions, bilateral: BilateralKernelOptions): void {
  const positive = (v: unknown, what: string) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new KernelError(OP, `${what} = ${String(v)} must be a finite number > 0`);
  };
  const finite = (v: unknown, what: string) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new KernelError(OP, `${what} = ${String(v)} must be a finite number`);
  };
  positive(gaussian.sxy, 'gaussian.sxy');
  finite(gaussian.compat, 'gaussian.compat');
  positive(bilateral.sxy, 'bilateral.sxy');
  positive(bilateral.srgb, 'bilateral.srgb');
  finite(bilateral.compat, 'bilateral.compat');
}

function checkImage(image: unknown, height: number, width: number): asserts image is Uint8Array {
  for (const [v, what] of [[height, 'height'], [width, 'width']] as const) {
    if (!Number.isInteger(v) || v < 1) throw new KernelError(OP, `${what} = ${v} must be a positive integer`);
  }
  if (!(image instanceof Uint8Array)) throw new KernelError(OP, 'must be a Uint8Array of [H, W, 3] bytes', 'image');
  if (image.length !== height * width * 3) {
    throw new KernelError(OP, `${image.length} bytes do not match [${height}, ${width}, 3] (${height * width * 3} bytes)`, 'image');
  }
}

/**
 * Build both lattices for an image on the host (densecrf's DenseCRF2D features: x = column, y = row,
 * the bilateral kernel's colours are the image's three byte channels) and pack them for the GPU.
 */
export function buildCrfLattice(
  image: Uint8Array,
  height: number,
  width: number,
  gaussian: { sxy: number } = CLIP_ES_CRF.gaussian,
  bilateral: { sxy: number; srgb: number } = CLIP_ES_CRF.bilateral,
): CrfLattice {
  checkImage(image, height, width);
  checkKernels({ ...gaussian, compat: 0 }, { ...bilateral, compat: 0 });
  const n = height * width;
  const g = buildLattice(gaussianFeatures(height, width, gaussian.sxy), 2, n);
  const b = buildLattice(bilateralFeatures(image, height, width, bilateral.sxy, bilateral.srgb), 5, n);
  return packLattices(g, b, image.slice(), height, width, gaussian, bilateral);
}

function packLattices(
  g: PermutohedralLattice,
  b: PermutohedralLattice,
  image: Uint8Array,
  height: number,
  width: number,
  gaussian: { sxy: number },
  bilateral: { sxy: number; srgb: number },
): CrfLattice {
  const n = height * width;
  const slots = 1 + g.vertices + b.vertices;
  const perPixel = g.d + 1 + (b.d + 1);
  // Slot of every vertex. The Gaussian lattice keeps insertion order (pixel order: neighbouring
  // pixels share slots, which keeps the slice's gathers local). The bilateral lattice's vertices are
  // ordered by how many pixels they hold, most first: their counts range from 1 to thousands, and
  // the splat runs one vertex per invocation, so neighbouring invocations (one SIMD vector) should
  // loop about equally long.
  const slotsOf = (lat: PermutohedralLattice, first: number, byCount: boolean): Int32Array => {
    const slot = new Int32Array(lat.vertices);
    if (!byCount) {
      for (let v = 0; v < lat.vertices; v++) slot[v] = first + v;
      return slot;
    }
    const count = new Int32Array(lat.vertices);
    for (const o of lat.offsets) count[o]!++;
    const order = Array.from({ length: lat.vertices }, (_, v) => v).sort((a, c) => count[c]! - count[a]! || a - c);
    order.forEach((v, rank) => (slot[v] = first + rank));
    return slot;
  };
  const lattices = [
    { lat: g, slot: slotsOf(g, 1, false) },
    { lat: b, slot: slotsOf(b, 1 + g.vertices, true) },
  ];

  // CSR over slots, by counting sort; pixels are visited in order so each row lists them in order.
  const rowStart = new Uint32Array(slots + 1);
  for (const { lat, slot } of lattices) for (const o of lat.offsets) rowStart[slot[o]! + 1]!++;
  for (let s = 0; s < slots; s++) rowStart[s + 1] += rowStart[s]!;
  const entries = rowStart[slots]!;
  const entryPixel = new Uint32Array(entries);
  const entryWeight = new Float32Array(entries);
  const fill = rowStart.slice(0, slots);
  for (const { lat, slot } of lattices) {
    const d1 = lat.d + 1;
    for (let p = 0; p < n; p++) {
      for (let r = 0; r < d1; r++) {
        const e = fill[slot[lat.offsets[p * d1 + r]!]!]!++;
        entryPixel[e] = p;
        entryWeight[e] = lat.weights[p * d1 + r]!;
      }
    }
  }

  const axes = b.d + 1;
  const neighbours = new Uint32Array(axes * slots * 2);
  for (const { lat, slot } of lattices) {
    for (let j = 0; j <= lat.d; j++) {
      for (let v = 0; v < lat.vertices; v++) {
        const at = (j * slots + slot[v]!) * 2;
        const lo = lat.neighbours[(j * lat.vertices + v) * 2]!;
        const hi = lat.neighbours[(j * lat.vertices + v) * 2 + 1]!;
        neighbours[at] = lo < 0 ? 0 : slot[lo]!;
        neighbours[at + 1] = hi < 0 ? 0 : slot[hi]!;
      }
    }
  }

  const pixelSlot = new Uint32Array(n * perPixel);
  const pixelWeight = new Float32Array(n * perPixel);
  for (let p = 0; p < n; p++) {
    let at = p * perPixel;
    for (const { lat, slot } of lattices) {
      const d1 = lat.d + 1;
      for (let r = 0; r < d1; r++, at++) {
        pixelSlot[at] = slot[lat.offsets[p * d1 + r]!]!;
        pixelWeight[at] = lat.weights[p * d1 + r]! * lat.alpha;
      }
    }
  }
  return {
    height,
    width,
    image,
    gaussian: { sxy: gaussian.sxy },
    bilateral: { sxy: bilateral.sxy, srgb: bilateral.srgb },
    gaussianVertices: g.vertices,
    bilateralVertices: b.vertices,
    slots,
    gaussianAxes: g.d + 1,
    axes,
    rowStart,
    entryPixel,
    entryWeight,
    neighbours,
    pixelSlot,
    pixelWeight,
  };
}

// ---------------------------------------------------------------------------------------------
// Inference

export interface DenseCrfOptions {
  /** [H, W, 3] bytes: the colours the bilateral kernel sees (see crfImage). */
  image: Uint8Array;
  height: number;
  width: number;
  /** [C, H, W] f32 probabilities holding float16 values (CLIP-ES: [bg, cam_1..cam_K]), not normalised. */
  probs: Tensor;
  /** Mean-field iterations (default 10). */
  iterations?: number;
  gaussian?: GaussianKernelOptions;
  bilateral?: BilateralKernelOptions;
  /** A lattice already built for this image and these kernel sizes (buildCrfLattice). */
  lattice?: CrfLattice;
}

/** pydensecrf's DenseCRF2D inference: posteriors Q [C, H, W] (f32, summing to 1 over C). */
export async function denseCrf(gpu: Gpu, opts: DenseCrfOptions): Promise<{ q: Tensor }> {
  const { image, height, width, probs } = opts;
  const iterations = opts.iterations ?? CLIP_ES_CRF.iterations;
  const gaussian = opts.gaussian ?? CLIP_ES_CRF.gaussian;
  const bilateral = opts.bilateral ?? CLIP_ES_CRF.bilateral;
  checkImage(image, height, width);
  checkKernels(gaussian, bilateral);
  if (!Number.isInteger(iterations) || iterations < 0) throw new KernelError(OP, `iterations = ${iterations} must be a non-negative integer`);
  if (!(probs instanceof Tensor)) throw new KernelError(OP, 'is not a Tensor', 'probs');
  if (probs.dtype !== 'f32') throw new KernelError(OP, `${probs} must be f32`, 'probs');
  if (probs.rank !== 3 || probs.shape[1] !== height || probs.shape[2] !== width) {
    throw new KernelError(OP, `${probs} must be [C, ${height}, ${width}] to match the image`, 'probs');
  }
  const channels = probs.shape[0]!;
  if (channels < 1) throw new KernelError(OP, `${probs} has no labels (C = 0)`, 'probs');

  let lattice = opts.lattice;
  if (lattice) {
    const same =
      lattice.height === height &&
      lattice.width === width &&
      lattice.gaussian.sxy === gaussian.sxy &&
      lattice.bilateral.sxy === bilateral.sxy &&
      lattice.bilateral.srgb === bilateral.srgb;
    if (!same) throw new KernelError(OP, `the given lattice was built for another image size or other kernel sizes`, 'lattice');
    if (!sameBytes(lattice.image, image)) throw new KernelError(OP, 'the given lattice was built for another image', 'lattice');
  } else {
    lattice = buildCrfLattice(image, height, width, gaussian, bilateral);
  }

  const pixels = height * width;
  const chunks = ceilDiv(channels, 4);
  const { slots, axes } = lattice;
  const entries = lattice.entryPixel.length;
  const owned: Tensor[] = [];
  const keep = <T extends Tensor>(t: T): T => (owned.push(t), t);
  try {
    const lat: CrfLatticeTensors = {
      pixels,
      slots,
      axes,
      entries,
      rowStart: keep(gpu.upload(lattice.rowStart, [slots + 1], 'u32', 'crf row_start')),
      entryPixel: keep(gpu.upload(lattice.entryPixel, [entries], 'u32', 'crf entry_pixel')),
      entryWeight: keep(gpu.upload(lattice.entryWeight, [entries], 'f32', 'crf entry_weight')),
      neighbours: keep(gpu.upload(lattice.neighbours, [axes * slots * 2], 'u32', 'crf neighbours')),
      pixelSlot: keep(gpu.upload(lattice.pixelSlot, [lattice.pixelSlot.length], 'u32', 'crf pixel_slot')),
      pixelWeight: keep(gpu.upload(lattice.pixelWeight, [lattice.pixelWeight.length], 'f32', 'crf pixel_weight')),
    };
    const bad = keep(gpu.upload(new Uint32Array(1), [1], 'u32', 'crf bad'));
    const nrm = keep(gpu.empty([2, pixels], 'f32', 'crf nrm'));
    // (slot or pixel, f32 bits) pairs, written by crf_norm and crf_fold.
    const sliceVertex = keep(gpu.empty([lattice.pixelWeight.length, 2], 'u32', 'crf slice_vertex'));
    const splatEntry = keep(gpu.empty([entries, 2], 'u32', 'crf splat_entry'));
    const unary = keep(gpu.empty([pixels, chunks, 4], 'f32', 'crf unary'));
    const qChunks = keep(gpu.empty([pixels, chunks, 4], 'f32', 'crf q'));
    const ping = keep(gpu.empty([slots, chunks, 4], 'f32', 'crf lattice values'));
    const pong = keep(gpu.empty([slots, chunks, 4], 'f32', 'crf lattice values'));
    const q = gpu.empty([channels, height, width], 'f32', 'crf posteriors');

    // Splat (of ones, or of nrm ⊙ Q), then blur along every lattice direction, ping-pong. The
    // Gaussian lattice has 3 directions and the bilateral 6: the Gaussian slots leave the blur after
    // 3 steps, so the two results end in different buffers; returns them.
    const firstBilateralSlot = 1 + lattice.gaussianVertices;
    const filter = async (c: number, unit: boolean): Promise<{ g: Tensor; b: Tensor }> => {
      await crfSplat(gpu, lat, ping, c, unit ? undefined : { splatEntry, q: qChunks });
      let [src, dst] = [ping, pong];
      let g = src;
      for (let axis = 0; axis < axes; axis++) {
        const firstSlot = axis < lattice.gaussianAxes ? 0 : firstBilateralSlot;
        await crfBlur(gpu, lat, src, dst, c, axis, firstSlot);
        [src, dst] = [dst, src];
        if (axis === lattice.gaussianAxes - 1) g = src;
      }
      return { g, b: src };
    };

    // Normalisation: Filter_k(1) for both kernels at once (one channel), folded into the weights.
    const ones = await filter(1, true);
    await crfNorm(gpu, lat, ones.g, ones.b, { gaussian: gaussian.compat, bilateral: bilateral.compat }, nrm, sliceVertex);
    await crfFold(gpu, lat, nrm, splatEntry, lattice.rowStart[firstBilateralSlot]!);

    await crfUnary(gpu, probs, unary, bad);
    await crfUpdate(gpu, lat, unary, qChunks, { channels, planar: iterations === 0 ? q : undefined });
    for (let it = 0; it < iterations; it++) {
      const values = await filter(chunks, false);
      const last = it === iterations - 1;
      await crfUpdate(gpu, lat, unary, qChunks, { channels, messages: { valuesG: values.g, valuesB: values.b, sliceVertex }, planar: last ? q : undefined });
    }

    const flag = (await gpu.read(bad))[0]!;
    if (flag !== 0) {
      gpu.release(q);
      const at = flag - 1;
      const c = Math.floor(at / pixels), y = Math.floor((at % pixels) / width), x = at % width;
      throw new KernelError(OP, `${probs} holds non-finite values (e.g. channel ${c}, row ${y}, column ${x}); the CRF needs finite probabilities`, 'probs');
    }
    return { q };
  } finally {
    gpu.release(...owned);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Seeds

export interface CrfSeedOptions {
  /** Pixels whose largest posterior is below this become 255 ("ignore"); CLIP-ES: 0.95. */
  confidence?: number;
}

/** Smallest float32 ≥ t, so that `q < result` in float32 equals numpy's `q < t` with q float32. */
function float32AtLeast(t: number): number {
  const f = Math.fround(t);
  if (f >= t) return f;
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, f);
  const bits = view.getUint32(0);
  view.setUint32(0, f >= 0 ? bits + 1 : bits - 1);
  return view.getFloat32(0);
}

/**
 * CLIP-ES's pseudo mask from posteriors q [C, H, W]: the label of argmax Q (channel 0 → 0, channel
 * k → keys[k−1] + 1), or 255 where max Q < confidence. One GPU pass, one read-back of H·W bytes.
 */
export async function crfSeeds(gpu: Gpu, q: Tensor, keys: readonly number[], opts: CrfSeedOptions = {}): Promise<Uint8Array> {
  const op = 'crfSeeds';
  if (!(q instanceof Tensor)) throw new KernelError(op, 'is not a Tensor', 'q');
  if (q.dtype !== 'f32' || q.rank !== 3) throw new KernelError(op, `${q} must be f32 [C, H, W]`, 'q');
  const [channels, height, width] = q.shape as [number, number, number];
  if (channels < 1) throw new KernelError(op, `${q} has no labels (C = 0)`, 'q');
  if (!Array.isArray(keys) || keys.length !== channels - 1) {
    throw new KernelError(op, `${Array.isArray(keys) ? keys.length : 'no'} keys given for ${channels - 1} foreground channels of ${q} (channel 0 is background)`, 'keys');
  }
  keys.forEach((k, i) => {
    if (!Number.isInteger(k) || k < 0 || k > 253) throw new KernelError(op, `keys[${i}] = ${k} must be an integer class index in 0..253 (its mask value k+1 must stay below 255)`, 'keys');
  });
  const confidence = opts.confidence ?? 0.95;
  if (typeof confidence !== 'number' || !Number.isFinite(confidence)) throw new KernelError(op, `confidence = ${String(confidence)} must be a finite number`);
  const pixels = height * width;
  if (pixels === 0) return new Uint8Array(0);
  const seeds = await crfSeedWords(gpu, q, [0, ...keys.map((k) => k + 1)], float32AtLeast(confidence));
  try {
    const words = (await gpu.read(seeds)) as Uint32Array;
    const out = new Uint8Array(pixels);
    for (let i = 0; i < pixels; i++) out[i] = (words[i >> 2]! >>> (8 * (i & 3))) & 0xff;
    return out;
  } finally {
    gpu.release(seeds);
  }
}

// ---------------------------------------------------------------------------------------------
// The image the bilateral kernel sees

/** CLIP-ES's mean_bgr (eval_cam_with_crf.py; deeplab-pytorch's voc12.yaml). */
export const CLIP_ES_MEAN_BGR = [104.008, 116.669, 122.675] as const;

/**
 * The colours for the bilateral kernel from an RGB image [H, W, 3]:
 *  - 'clip-es': what CLIP-ES passes (§3.6): BGR − mean_bgr cast back to uint8 the way x86 numpy does
 *    it (truncate toward zero, keep the low 8 bits: −4.008 → 252, −104.008 → 152, −0.5 → 0). Use it
 *    for parity with the published numbers.
 *  - 'rgb': the image itself, the better-behaved CRF (§8.14).
 */
export function crfImage(rgb: Uint8Array, mode: 'clip-es' | 'rgb'): Uint8Array {
  if (!(rgb instanceof Uint8Array)) throw new Error('crfImage: rgb must be a Uint8Array of [H, W, 3] bytes');
  if (rgb.length % 3 !== 0) throw new Error(`crfImage: ${rgb.length} bytes is not a whole number of RGB pixels`);
  if (mode === 'rgb') return rgb.slice();
  if (mode !== 'clip-es') throw new Error(`crfImage: unknown mode '${String(mode)}' (expected 'clip-es' or 'rgb')`);
  const out = new Uint8Array(rgb.length);
  for (let p = 0; p < rgb.length; p += 3) {
    for (let c = 0; c < 3; c++) out[p + c] = wrapToUint8(rgb[p + 2 - c]! - CLIP_ES_MEAN_BGR[c]!);
  }
  return out;
}

/** x86 float → uint8 cast of an out-of-range value: truncate toward zero, keep the low 8 bits. */
export function wrapToUint8(v: number): number {
  return Math.trunc(v) & 0xff;
}
