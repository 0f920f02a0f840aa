// The dense CRF that turns CLIP-ES's CAMs into pseudo masks (docs/algorithms.md §3.6, §8.14–15, §9):
// pydensecrf's mean-field inference with a Gaussian (smoothness) kernel and a bilateral (appearance)
// kernel, both filtered with the permutohedral lattice as densecrf does (not an exact stencil or a
// bilateral grid), so that posteriors follow pydensecrf rather than another approximation of the
// same Gaussians.
//
//   GPU, once per image:   features → both lattices (simplex vertices and barycentric weights per
//                          pixel, blur neighbours per vertex), packed as CSR tables over slots
//                          (buildCrfLatticeGpu, kernels in src/kernels/wsss/crf-lattice.ts), bit for
//                          bit the arrays of the host builder (buildCrfLattice over crf-lattice.ts),
//                          which stays the reference and the fallback. Needs only the image, not the
//                          probabilities.
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
import { DispatchRecording, type Gpu } from '../gpu/context.js';
import { KernelError } from '../gpu/errors.js';
import { ceilDiv } from '../gpu/kernel.js';
import { bucketBytes, Tensor } from '../gpu/tensor.js';
import { fillWords } from '../kernels/layout.js';
import { exclusiveScan, keyBits, radixSortPairs } from '../kernels/scan.js';
import {
  CRF_DISPATCH,
  CRF_DISPATCH_ARGS_WORDS,
  CRF_LATTICE_OVERFLOW,
  crfBlur,
  crfDispatchArgs,
  crfFold,
  crfNorm,
  crfSeedWords,
  crfSplat,
  crfUnary,
  crfUpdate,
  type CrfLatticeTensors,
} from '../kernels/wsss/crf.js';
import {
  CRF_LATTICE_AXES,
  CRF_LATTICE_INFO_WORDS,
  CRF_SPACE_WORDS,
  crfLatticeCsr,
  crfLatticeFirst,
  crfLatticeInsert,
  crfLatticeNeighbours,
  crfLatticeOrder,
  crfLatticePixels,
  crfLatticeSimplex,
  crfLatticeSlots,
  crfLatticeSortKeys,
  crfLatticeSpace,
  crfLatticeVertex,
} from '../kernels/wsss/crf-lattice.js';
import { bilateralFeatures, buildLattice, gaussianFeatures, latticeConstants, type PermutohedralLattice } from './crf-lattice.js';
import { readLabelWords } from './labels.js';

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

function checkImageWords(image: Tensor, height: number, width: number): void {
  for (const [v, what] of [[height, 'height'], [width, 'width']] as const) {
    if (!Number.isInteger(v) || v < 1) throw new KernelError(OP, `${what} = ${v} must be a positive integer`);
  }
  const words = Math.ceil((3 * height * width) / 4);
  if (image.dtype !== 'u32' || image.size !== words) throw new KernelError(OP, `${image} must be u32 [${words}]: [${height}, ${width}, 3] bytes packed four per word`, 'image');
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
// GPU: the same lattices, built where they are used

/**
 * Both lattices' tables on the GPU (buildCrfLatticeGpu): the arrays of a CrfLattice, as tensors
 * sized for bounds of the vertex counts; the counts are in `tensors.space` (see CrfLatticeTensors).
 */
export interface GpuCrfLattice {
  tensors: CrfLatticeTensors;
  /**
   * Which hash tables numbered the vertices: 'first' (small; where one proves too small,
   * space[4] = 1 and the tables are empty: build again with 'full'), or 'full' (never too small).
   */
  tables: CrfHashTables;
}

/** The hash tables of buildCrfLatticeGpu (see GpuCrfLattice.tables). */
export type CrfHashTables = 'first' | 'full';

/** One lattice's working tensors in buildCrfLatticeGpu (per entry, per hash slot, per vertex). */
interface GpuLatticeParts {
  d: 2 | 5;
  /** Its index in the builder's counters. */
  which: number;
  entries: number;
  keys: Tensor;
  weight: Tensor;
  capacity: number;
  table: Tensor;
  entrySlot: Tensor;
  /** Scanned first-entry flags: the vertex id of every first entry, the count at [entries]. */
  scan: Tensor;
  vertex: Tensor;
  firstEntry: Tensor;
  count: Tensor;
}

/**
 * Both lattices built on the GPU from the image, as the tensors denseCrf would otherwise upload from
 * buildCrfLattice: the same arrays bit for bit (rowStart, entryPixel, entryWeight, neighbours,
 * pixelSlot, pixelWeight, vertex counts; the kernels reproduce the host's float32 arithmetic and
 * its vertex order), in tables sized for bounds of the vertex counts (what the hash tables can
 * number), with the counts in `tensors.space`. Host↔device traffic: the image (⌈3·H·W/4⌉ words)
 * and, once per image size and kernel sizes, the float32 feature tables (2·(W + H) + 256 words) go
 * up; nothing comes back: the kernels after the numbering, and the mean-field ones, read the counts
 * on the GPU. With `tables` 'first' (the default) the hash tables are small; where one proves too
 * small (many vertices per pixel: tiny images, small kernel sizes) space[4] is 1 and the caller
 * builds again with 'full', tables that hold every entry as its own vertex (larger tables, and
 * bounds up to one vertex per entry). The caller releases the tensors. Returns undefined where a
 * buffer (the bilateral lattice's vertex keys, 120 bytes per pixel, a hash table, the neighbours
 * table at the bound, or the mean field's values for `valueChunks` chunks of 4 channels at the
 * bound) would exceed the device's buffer limit; the host builder then serves.
 */
export async function buildCrfLatticeGpu(
  gpu: Gpu,
  image: Uint8Array | Tensor,
  height: number,
  width: number,
  gaussian: { sxy: number } = CLIP_ES_CRF.gaussian,
  bilateral: { sxy: number; srgb: number } = CLIP_ES_CRF.bilateral,
  tables: CrfHashTables = 'first',
  valueChunks = 1,
): Promise<GpuCrfLattice | undefined> {
  if (image instanceof Tensor) checkImageWords(image, height, width);
  else checkImage(image, height, width);
  checkKernels({ ...gaussian, compat: 0 }, { ...bilateral, compat: 0 });
  const n = height * width;
  const points = Math.ceil(n / 4) * 4; // densecrf's SSE padding (crf-lattice.ts)
  const limit = Math.min(gpu.traits.limits.maxStorageBufferBindingSize, gpu.traits.limits.maxBufferSize);
  const fits = (words: number) => bucketBytes(4 * words) <= limit;
  const pow2 = (v: number) => 2 ** Math.max(4, Math.ceil(Math.log2(Math.max(v, 1))));
  // Hash tables: 'first' a small one (it stays in cache), 2.5 slots per point, filled to at most
  // 70 %: room for 1.75 vertices per point or more (Gaussian lattices at sxy = 1 have ~1.16, ~1.3–1.7
  // on tiny or one-row images; bilateral ones at CLIP-ES's sizes 0.15–0.65, up to 6 on images of a
  // few pixels). 'full': a table for every entry as its own vertex (above twice the entries, or
  // above the entries where that does not fit). The vertex bound: the claims a table allows, at
  // most one vertex per entry.
  const specs = ([2, 5] as const).map((d) => {
    const entries = points * (d + 1);
    const full = fits(pow2(2 * entries)) ? pow2(2 * entries) : pow2(entries + 1);
    const first = Math.min(pow2(2.5 * points), full);
    const table = tables === 'full' ? { capacity: full, maxClaims: full } : { capacity: first, maxClaims: first === full ? full : Math.floor(0.7 * first) };
    return { d, entries, table, bound: Math.min(table.maxClaims, entries) };
  });
  const slotBound = 1 + specs[0]!.bound + specs[1]!.bound;
  const fitsAll = specs.every((l) => fits(l.entries * l.d) && fits(l.table.capacity) && fits(l.entries + 1)) && fits(9 * n) && fits(2 * CRF_LATTICE_AXES * slotBound)
    // The mean field's lattice values (4 floats per slot and chunk), sized by the bound too.
    && fits(4 * slotBound * valueChunks);
  if (!fitsAll) return undefined;

  // Feature quotients as the host forms them (x / float32(sxy) etc., rounded to float32): WGSL does
  // not promise a correctly rounded division, so the kernels look them up.
  const [gs, bs, rs] = [gaussian.sxy, bilateral.sxy, bilateral.srgb].map(Math.fround) as [number, number, number];
  const at = { xg: 0, yg: width, xb: width + height, yb: 2 * width + height, c: 2 * (width + height) };
  const tableWords = at.c + 256;
  const featureTables = gpu.constant(`crf lattice features ${width}×${height} ${gs} ${bs} ${rs}`, [tableWords], 'u32', () => {
    const f = new Float32Array(tableWords);
    for (let x = 0; x < width; x++) {
      f[at.xg + x] = x / gs;
      f[at.xb + x] = x / bs;
    }
    for (let y = 0; y < height; y++) {
      f[at.yg + y] = y / gs;
      f[at.yb + y] = y / bs;
    }
    for (let c = 0; c < 256; c++) f[at.c + c] = c / rs;
    return new Uint32Array(f.buffer);
  });

  // Working tensors, released as soon as the dispatches that need them are recorded (later work can
  // then reuse the buffers: WebGPU orders it after them) or at the end.
  const scratch = new Set<Tensor>();
  const temp = <T extends Tensor>(t: T): T => (scratch.add(t), t);
  const drop = (...ts: Tensor[]) => {
    for (const t of ts) scratch.delete(t);
    gpu.release(...ts);
  };
  const outputs: Tensor[] = [];
  const output = <T extends Tensor>(t: T): T => (outputs.push(t), t);
  try {
    let imageWords: Tensor;
    if (image instanceof Tensor) imageWords = image;
    else {
      const words = new Uint32Array(Math.ceil((3 * n) / 4));
      new Uint8Array(words.buffer).set(image);
      imageWords = temp(gpu.upload(words, [words.length], 'u32', 'crf lattice image'));
    }
    const info = temp(gpu.empty([CRF_LATTICE_INFO_WORDS], 'u32', 'crf lattice counters'));
    await fillWords(gpu, info, CRF_LATTICE_INFO_WORDS, 0);

    // Per lattice: entry keys and weights, then the hash table and the vertex numbering.
    const lattices: GpuLatticeParts[] = [];
    for (const [which, { d, entries, table }] of specs.entries()) {
      const { scale, down } = latticeConstants(d);
      const keys = temp(gpu.empty([entries * d], 'i32', 'crf lattice keys'));
      const weight = temp(gpu.empty([entries], 'f32', 'crf lattice weights'));
      const [xTable, yTable] = d === 2 ? [at.xg, at.yg] : [at.xb, at.yb];
      const simplex = { d, pixels: n, width, points, scale, down, xTable, yTable, cTable: at.c, tableWords };
      await crfLatticeSimplex(gpu, simplex, d === 5 ? imageWords : undefined, featureTables, keys, weight);
      const lattice: GpuLatticeParts = {
        d,
        which,
        entries,
        keys,
        weight,
        capacity: table.capacity,
        table: temp(gpu.empty([table.capacity], 'u32', 'crf lattice hash table')),
        entrySlot: temp(gpu.empty([entries], 'u32', 'crf lattice entry slots')),
        scan: temp(gpu.empty([entries + 1], 'u32', 'crf lattice vertex ids')),
        vertex: temp(gpu.empty([entries], 'u32', 'crf lattice entry vertices')),
        firstEntry: temp(gpu.empty([entries], 'u32', 'crf lattice first entries')),
        count: temp(gpu.empty([entries], 'u32', 'crf lattice vertex pixels')),
      };
      const { capacity, maxClaims } = table;
      await fillWords(gpu, lattice.table, capacity, 0xffffffff);
      await crfLatticeInsert(gpu, { d, entries, capacity, maxClaims, which }, keys, lattice.table, lattice.entrySlot, info);
      await crfLatticeFirst(gpu, { entries, capacity, which }, lattice.table, lattice.entrySlot, info, lattice.scan);
      await exclusiveScan(gpu, lattice.scan, entries + 1);
      await fillWords(gpu, lattice.count, entries, 0);
      const vertexOut = { entryVertex: lattice.vertex, firstEntry: lattice.firstEntry, count: lattice.count, info };
      await crfLatticeVertex(gpu, { entries, realEntries: n * (d + 1), which, capacity }, lattice.table, lattice.entrySlot, lattice.scan, vertexOut);
      lattices.push(lattice);
    }
    const [g, b] = lattices as [GpuLatticeParts, GpuLatticeParts];

    // The slot space stays on the GPU: the kernels below read the vertex counts from `space`, and
    // every table is sized for the bounds (no read-back; an overflow leaves the tables empty and is
    // flagged in space[4]).
    const [boundG, boundB] = specs.map((l) => l.bound) as [number, number];
    const space = output(gpu.empty([CRF_SPACE_WORDS], 'u32', 'crf lattice space'));
    await crfLatticeSpace(gpu, { boundG, boundB }, info, space);
    drop(...(imageWords === image ? [] : [imageWords]), g.entrySlot, b.entrySlot);
    const bounds = { gaussianVertices: boundG, bilateralVertices: boundB };
    const slots = 1 + boundG + boundB;

    // Bilateral slots: most pixels first, ties by vertex id (packLattices' slotsOf); the entries past
    // the count sort last.
    const orderKeys = temp(gpu.empty([boundB], 'u32', 'crf lattice order keys'));
    const orderVals = temp(gpu.empty([boundB], 'u32', 'crf lattice order'));
    await crfLatticeOrder(gpu, { vertices: boundB, pixels: n }, b.count, space, orderKeys, orderVals);
    const byCount = await radixSortPairs(gpu, orderKeys, orderVals, boundB, keyBits(n));
    [byCount.keys, byCount.vals, ...byCount.spare].forEach(temp);
    const order = byCount.vals;
    const slotOfB = temp(gpu.empty([boundB], 'u32', 'crf lattice bilateral slots'));
    const rowStart = output(gpu.empty([slots + 1], 'u32', 'crf row_start'));
    await crfLatticeSlots(gpu, bounds, g.count, b.count, order, space, slotOfB, rowStart);
    await exclusiveScan(gpu, rowStart, slots + 1);
    drop(...new Set([orderKeys, orderVals, byCount.keys, byCount.vals, ...byCount.spare].filter((t) => t !== order)), g.count, b.count);

    // CSR entries: every real entry by slot, stable, so each row lists its pixels in order.
    const entries = 9 * n;
    const entryKeys = temp(gpu.empty([entries], 'u32', 'crf lattice entry keys'));
    const entryVals = temp(gpu.empty([entries], 'u32', 'crf lattice entry order'));
    await crfLatticeSortKeys(gpu, { ...bounds, pixels: n }, g.vertex, b.vertex, slotOfB, entryKeys, entryVals);
    const bySlot = await radixSortPairs(gpu, entryKeys, entryVals, entries, keyBits(slots - 1));
    [bySlot.keys, bySlot.vals, ...bySlot.spare].forEach(temp);
    const entryPixel = output(gpu.empty([entries], 'u32', 'crf entry_pixel'));
    const entryWeight = output(gpu.empty([entries], 'f32', 'crf entry_weight'));
    await crfLatticeCsr(gpu, n, bySlot.vals, g.weight, b.weight, entryPixel, entryWeight);
    drop(...new Set([entryKeys, entryVals, bySlot.keys, bySlot.vals, ...bySlot.spare]));

    const pixelSlot = output(gpu.empty([entries], 'u32', 'crf pixel_slot'));
    const pixelWeight = output(gpu.empty([entries], 'f32', 'crf pixel_weight'));
    const alpha = { alphaG: latticeConstants(2).alpha, alphaB: latticeConstants(5).alpha };
    await crfLatticePixels(gpu, { ...bounds, pixels: n, ...alpha }, g, b, slotOfB, pixelSlot, pixelWeight);
    drop(g.vertex, b.vertex, g.weight, b.weight);

    const neighbours = output(gpu.empty([CRF_LATTICE_AXES * slots * 2], 'u32', 'crf neighbours'));
    await fillWords(gpu, neighbours, CRF_LATTICE_AXES * slots * 2, 0);
    await crfLatticeNeighbours(
      gpu,
      { d: 2, entries: g.entries, capacity: g.capacity, slots, vertices: boundG, ordered: false },
      { keys: g.keys, table: g.table, firstEntry: g.firstEntry, scan: g.scan, space },
      neighbours,
    );
    await crfLatticeNeighbours(
      gpu,
      { d: 5, entries: b.entries, capacity: b.capacity, slots, vertices: boundB, ordered: true },
      { keys: b.keys, table: b.table, firstEntry: b.firstEntry, scan: b.scan, order, slotOf: slotOfB, space },
      neighbours,
    );
    return {
      tensors: { pixels: n, slots, axes: CRF_LATTICE_AXES, entries, rowStart, entryPixel, entryWeight, neighbours, pixelSlot, pixelWeight, space },
      tables,
    };
  } catch (err) {
    gpu.release(...outputs);
    throw err;
  } finally {
    // Only dispatches recorded after these can reuse the buffers, and WebGPU orders them after.
    gpu.release(...scratch);
  }
}

// ---------------------------------------------------------------------------------------------
// Inference

export interface DenseCrfOptions {
  /**
   * The colours the bilateral kernel sees (see crfImage): [H, W, 3] bytes on the host, or the same
   * byte stream on the GPU packed four bytes per u32 word, [ceil(3·H·W/4)] (crfImageWords makes it
   * from the RGBA pixels; then only the GPU lattice can be used).
   */
  image: Uint8Array | Tensor;
  height: number;
  width: number;
  /** [C, H, W] f32 probabilities holding float16 values (CLIP-ES: [bg, cam_1..cam_K]), not normalised. */
  probs: Tensor;
  /** Mean-field iterations (default 10). */
  iterations?: number;
  gaussian?: GaussianKernelOptions;
  bilateral?: BilateralKernelOptions;
  /**
   * Where the lattices come from: 'gpu' (default) builds them on the GPU from the image
   * (buildCrfLatticeGpu); 'host' builds them on the CPU (buildCrfLattice, the reference) and uploads
   * them; a CrfLattice already built on the host for this image and these kernel sizes is uploaded.
   * All three give the same tables, so the same posteriors bit for bit.
   */
  lattice?: CrfLattice | 'gpu' | 'host';
  /**
   * The hash tables of the GPU lattice (buildCrfLatticeGpu): 'first' (default, small; where one
   * proves too small the posteriors are not valid and the check's flag says so, see
   * CrfCheck.overflowed), or 'full' (never too small; larger tables). Without deferCheck, denseCrf
   * itself builds again with 'full' when it has to.
   */
  hashTables?: CrfHashTables;
  /**
   * With the lattice built on the GPU from an image given on the GPU: a CrfReplay that records
   * this call and replays it for later calls with the same sizes and options (see CrfReplay).
   */
  replay?: CrfReplay;
  /**
   * Leave the check that the probabilities are finite on the GPU: instead of reading its flag (a
   * read-back that waits for the whole CRF), return it as `check` for the caller to read with its
   * other outputs (SeedContext.check); the caller owns the flag. Default: read it here and throw.
   */
  deferCheck?: boolean;
}

/**
 * The error flag of a denseCrf call: u32 [1], 0; 1 + the index of a non-finite probability; or
 * CRF_LATTICE_OVERFLOW, a first hash table of the GPU lattice proved too small (the posteriors are
 * then not valid: run denseCrf again with `hashTables: 'full'`).
 */
export interface CrfCheck {
  flag: Tensor;
  /** Whether a flag value is the overflow (run again with `hashTables: 'full'`) rather than an error. */
  overflowed(value: number): boolean;
  /** The error for a non-zero flag value other than the overflow. */
  explain(value: number): KernelError;
}

/** pydensecrf's DenseCRF2D inference: posteriors Q [C, H, W] (f32, summing to 1 over C). */
export async function denseCrf(gpu: Gpu, opts: DenseCrfOptions): Promise<{ q: Tensor; check?: CrfCheck }> {
  const { image, height, width, probs } = opts;
  const iterations = opts.iterations ?? CLIP_ES_CRF.iterations;
  const gaussian = opts.gaussian ?? CLIP_ES_CRF.gaussian;
  const bilateral = opts.bilateral ?? CLIP_ES_CRF.bilateral;
  if (image instanceof Tensor) checkImageWords(image, height, width);
  else checkImage(image, height, width);
  checkKernels(gaussian, bilateral);
  if (!Number.isInteger(iterations) || iterations < 0) throw new KernelError(OP, `iterations = ${iterations} must be a non-negative integer`);
  if (!(probs instanceof Tensor)) throw new KernelError(OP, 'is not a Tensor', 'probs');
  if (probs.dtype !== 'f32') throw new KernelError(OP, `${probs} must be f32`, 'probs');
  if (probs.rank !== 3 || probs.shape[1] !== height || probs.shape[2] !== width) {
    throw new KernelError(OP, `${probs} must be [C, ${height}, ${width}] to match the image`, 'probs');
  }
  const channels = probs.shape[0]!;
  if (channels < 1) throw new KernelError(OP, `${probs} has no labels (C = 0)`, 'probs');

  const hashTables = opts.hashTables ?? 'first';
  if (hashTables !== 'first' && hashTables !== 'full') throw new KernelError(OP, `must be 'first' or 'full', not ${String(hashTables)}`, 'hashTables');
  const given = opts.lattice ?? 'gpu';
  if (typeof given === 'object' && given !== null) {
    const same =
      given.height === height &&
      given.width === width &&
      given.gaussian.sxy === gaussian.sxy &&
      given.bilateral.sxy === bilateral.sxy &&
      given.bilateral.srgb === bilateral.srgb;
    if (!same) throw new KernelError(OP, `the given lattice was built for another image size or other kernel sizes`, 'lattice');
    if (image instanceof Tensor) throw new KernelError(OP, 'a host-built lattice needs the image on the host (the image is a GPU tensor)', 'lattice');
    if (!sameBytes(given.image, image)) throw new KernelError(OP, 'the given lattice was built for another image', 'lattice');
  } else if (given !== 'gpu' && given !== 'host') {
    throw new KernelError(OP, `must be 'gpu', 'host' or a CrfLattice, not ${String(given)}`, 'lattice');
  }

  const pixels = height * width;
  const run: CrfRun = { image, height, width, probs, channels, iterations, gaussian, bilateral, lattice: given, hashTables };
  const replay = opts.replay;
  const { q, bad } =
    replay && given === 'gpu' && image instanceof Tensor
      ? await replay.posteriors(gpu, { ...run, image }, (on, inputs) => crfPosteriors(on, { ...run, ...inputs }, false), () => crfPosteriors(gpu, run, true))
      : await crfPosteriors(gpu, run, true);
  const overflowed = (flag: number) => flag === CRF_LATTICE_OVERFLOW;
  const explain = (flag: number) => {
    if (overflowed(flag)) return new KernelError(OP, `a first hash table of the GPU lattice was too small: run again with hashTables: 'full'`, 'hashTables');
    const at = flag - 1;
    const c = Math.floor(at / pixels), y = Math.floor((at % pixels) / width), x = at % width;
    return new KernelError(OP, `${probs} holds non-finite values (e.g. channel ${c}, row ${y}, column ${x}); the CRF needs finite probabilities`, 'probs');
  };
  if (opts.deferCheck) return { q, check: { flag: bad, overflowed, explain } };
  let flag: number;
  try {
    flag = (await gpu.read(bad))[0]!;
  } catch (err) {
    gpu.release(q);
    throw err;
  } finally {
    gpu.release(bad);
  }
  if (flag !== 0) {
    gpu.release(q);
    if (overflowed(flag) && hashTables === 'first') return denseCrf(gpu, { ...opts, hashTables: 'full', replay: undefined });
    throw explain(flag);
  }
  return { q };
}

/** The most device memory a CrfReplay keeps between images (a 500×375 image with 3 labels: about 221 MiB). */
export const CRF_REPLAY_MAX_BYTES = 256 * 2 ** 20;

/**
 * The whole GPU-lattice CRF of one image size, channel count and set of options, recorded once
 * (Gpu.recorder) and replayed by later denseCrf calls that give it as `replay` with the same ones:
 * the lattice build and all iterations are then dispatched without running their TypeScript (with
 * the lattices' vertex counts on the GPU, nothing in them depends on the host). The recording owns
 * its input and output tensors: a replay copies the image and the probabilities in, and the
 * posteriors and the error flag out, on the GPU. It keeps about the CRF's peak memory between
 * calls (at 500×375 with 4 channels, 221 MiB, where the CRF alone peaks at 126 MiB live: a
 * recording keeps what it freed, as the pool does), and is not kept above its byte cap. A call
 * records only when the previous call had the same sizes and options: on data whose sizes change
 * from image to image (VOC), each call runs the plain CRF (with its own iteration replay), which
 * is faster than recording a CRF that is replayed no more. Sizes whose recording went over the cap
 * are not recorded again. dispose() gives the memory back.
 */
export class CrfReplay {
  /** maxBytes: keep a recording only while it holds at most this much device memory. */
  constructor(private readonly maxBytes = CRF_REPLAY_MAX_BYTES) {}

  private key = '';
  private recording: DispatchRecording | undefined;
  private inputs: { image: Tensor; probs: Tensor } | undefined;
  private outputs: { q: Tensor; bad: Tensor } | undefined;
  /** Set while a call records: a call at the same time runs without the recording. */
  private recordingNow = false;
  /** The previous call's sizes and options: a second call with them records. */
  private lastKey = '';
  /** Sizes and options whose recording held more than maxBytes. */
  private readonly oversize = new Set<string>();

  /**
   * @internal denseCrf's posteriors and error flag (the caller's), through the recording.
   * `record(on, inputs)` runs the CRF on `on` (a recorder, or the Gpu itself); `plain()` runs it
   * without recording.
   */
  async posteriors(
    gpu: Gpu,
    run: CrfRun & { image: Tensor },
    record: (on: Gpu, inputs: { image: Tensor; probs: Tensor }) => Promise<{ q: Tensor; bad: Tensor }>,
    plain: () => Promise<{ q: Tensor; bad: Tensor }>,
  ): Promise<{ q: Tensor; bad: Tensor }> {
    const { image, probs } = run;
    if (gpu.precompiling || this.recordingNow) return record(gpu, { image, probs });
    const key = JSON.stringify([image.shape, image.dtype, probs.shape, run.iterations, run.gaussian, run.bilateral, run.hashTables]);
    const previous = this.lastKey;
    this.lastKey = key;
    if (key !== this.key || !this.recording?.isOn(gpu) || !this.recording.replayable) {
      if (key !== previous || this.oversize.has(key)) return plain();
      this.dispose();
      const rec = new DispatchRecording(gpu);
      this.recordingNow = true;
      try {
        const on = gpu.recorder(rec);
        const inputs = { image: on.empty(image.shape, image.dtype, 'crf replay image'), probs: on.empty(probs.shape, 'f32', 'crf replay probs') };
        gpu.copy(image, inputs.image);
        gpu.copy(probs, inputs.probs);
        const outputs = await record(on, inputs);
        const out = this.copyOut(gpu, outputs);
        // Kept unless it read back (the host lattice served) or holds more device memory than
        // maxBytes (large images: encoding is then a small part of the CRF).
        if (rec.replayable && rec.keptBytes <= this.maxBytes) Object.assign(this, { key, recording: rec, inputs, outputs });
        else {
          if (rec.replayable) this.oversize.add(key);
          rec.dispose();
        }
        return out;
      } catch (err) {
        rec.dispose();
        throw err;
      } finally {
        this.recordingNow = false;
      }
    }
    // Copy in, replay, copy out: no await in between, so calls at the same time cannot interleave.
    gpu.copy(image, this.inputs!.image);
    gpu.copy(probs, this.inputs!.probs);
    gpu.replay(this.recording);
    return this.copyOut(gpu, this.outputs!);
  }

  private copyOut(gpu: Gpu, outputs: { q: Tensor; bad: Tensor }): { q: Tensor; bad: Tensor } {
    const q = gpu.empty(outputs.q.shape, 'f32', 'crf posteriors');
    const bad = gpu.empty([1], 'u32', 'crf bad');
    gpu.copy(outputs.q, q);
    gpu.copy(outputs.bad, bad);
    return { q, bad };
  }

  /** Device memory the kept recording holds (0: none kept). */
  get keptBytes(): number {
    return this.recording?.keptBytes ?? 0;
  }

  /** Gives the recording's memory back; the next call records again. */
  dispose(): void {
    this.recording?.dispose();
    this.recording = undefined;
    this.inputs = this.outputs = undefined;
    this.key = '';
  }
}

/** What crfPosteriors needs of a denseCrf call, checked. */
interface CrfRun {
  image: Uint8Array | Tensor;
  height: number;
  width: number;
  probs: Tensor;
  channels: number;
  iterations: number;
  gaussian: GaussianKernelOptions;
  bilateral: BilateralKernelOptions;
  lattice: CrfLattice | 'gpu' | 'host';
  hashTables: CrfHashTables;
}

/**
 * The mean-field posteriors q [C, H, W] and the error flag `bad` (u32 [1], see CrfCheck), both the
 * caller's. `repeatIterations`: record the first iteration's dispatches and replay them for the
 * others (not while the whole call is being recorded: see CrfReplay).
 */
async function crfPosteriors(gpu: Gpu, run: CrfRun, repeatIterations: boolean): Promise<{ q: Tensor; bad: Tensor }> {
  const { image, height, width, probs, channels, iterations, gaussian, bilateral, lattice: given, hashTables } = run;
  const pixels = height * width;
  const chunks = ceilDiv(channels, 4);
  const owned: Tensor[] = [];
  const keep = <T extends Tensor>(t: T): T => (owned.push(t), t);
  let q: Tensor | undefined;
  try {
    let built: GpuCrfLattice | undefined;
    if (given === 'gpu') built = await buildCrfLatticeGpu(gpu, image, height, width, gaussian, bilateral, hashTables, chunks);
    // The GPU builder declines only where its own buffers would exceed the device's limit (then an
    // image given on the GPU comes back to the host once).
    if (!built) {
      const bytes = image instanceof Tensor ? new Uint8Array(((await gpu.read(image)) as Uint32Array).buffer, 0, 3 * pixels) : image;
      built = uploadLattice(gpu, typeof given === 'object' ? given : buildCrfLattice(bytes, height, width, gaussian, bilateral));
    }
    const lat = built.tensors;
    const { rowStart, entryPixel, entryWeight, neighbours, pixelSlot, pixelWeight, space } = lat;
    owned.push(rowStart, entryPixel, entryWeight, neighbours, pixelSlot, pixelWeight, space);
    const { slots, axes, entries } = lat;
    const bad = keep(gpu.empty([1], 'u32', 'crf bad'));
    await fillWords(gpu, bad, 1, 0);
    // The splat's and blur's sizes come from the slot counts on the GPU (indirect dispatches).
    const dispatchArgs = keep(gpu.empty([CRF_DISPATCH_ARGS_WORDS], 'u32', 'crf dispatch args'));
    await crfDispatchArgs(gpu, space, chunks, dispatchArgs, bad);
    const sized = (word: number) => ({ args: dispatchArgs, word });
    const nrm = keep(gpu.empty([2, pixels], 'f32', 'crf nrm'));
    // (slot or pixel, f32 bits) pairs, written by crf_norm and crf_fold.
    const sliceVertex = keep(gpu.empty([pixelWeight.size, 2], 'u32', 'crf slice_vertex'));
    const splatEntry = keep(gpu.empty([entries, 2], 'u32', 'crf splat_entry'));
    const unary = keep(gpu.empty([pixels, chunks, 4], 'f32', 'crf unary'));
    const qChunks = keep(gpu.empty([pixels, chunks, 4], 'f32', 'crf q'));
    const ping = keep(gpu.empty([slots, chunks, 4], 'f32', 'crf lattice values'));
    const pong = keep(gpu.empty([slots, chunks, 4], 'f32', 'crf lattice values'));
    q = gpu.empty([channels, height, width], 'f32', 'crf posteriors');
    const planar = q;

    // Splat (of ones, or of nrm ⊙ Q), then blur along every lattice direction, ping-pong. The
    // Gaussian lattice has 3 directions and the bilateral 6: the Gaussian slots leave the blur after
    // 3 steps, so the two results end in different buffers; returns them.
    const filter = async (c: number, unit: boolean, on: Gpu = gpu): Promise<{ g: Tensor; b: Tensor }> => {
      const all = sized(unit ? CRF_DISPATCH.all1 : CRF_DISPATCH.all);
      const bilateralOnly = sized(unit ? CRF_DISPATCH.bilateral1 : CRF_DISPATCH.bilateral);
      await crfSplat(on, lat, ping, c, all, unit ? undefined : { splatEntry, q: qChunks });
      let [src, dst] = [ping, pong];
      let g = src;
      for (let axis = 0; axis < axes; axis++) {
        const onlyB = axis >= GAUSSIAN_AXES;
        await crfBlur(on, lat, src, dst, c, axis, onlyB, onlyB ? bilateralOnly : all);
        [src, dst] = [dst, src];
        if (axis === GAUSSIAN_AXES - 1) g = src;
      }
      return { g, b: src };
    };

    // Normalisation: Filter_k(1) for both kernels at once (one channel), folded into the weights.
    const ones = await filter(1, true);
    await crfNorm(gpu, lat, ones.g, ones.b, { gaussian: gaussian.compat, bilateral: bilateral.compat }, nrm, sliceVertex);
    // Every pixel has 3 Gaussian entries, and the Gaussian slots come first.
    await crfFold(gpu, lat, nrm, splatEntry, GAUSSIAN_AXES * pixels);

    await crfUnary(gpu, probs, unary, bad);
    await crfUpdate(gpu, lat, unary, qChunks, { channels, planar: iterations === 0 ? planar : undefined });
    const iterate = async (on: Gpu, last: boolean) => {
      const values = await filter(chunks, false, on);
      await crfUpdate(on, lat, unary, qChunks, { channels, messages: { valuesG: values.g, valuesB: values.b, sliceVertex }, planar: last ? planar : undefined });
    };
    // Every iteration but the last dispatches the same kernels on the same buffers: the first one's
    // dispatches are recorded and replayed for the others, without running their TypeScript again.
    const repeat = gpu.precompiling || !repeatIterations ? undefined : new DispatchRecording(gpu);
    try {
      for (let it = 0; it < iterations; it++) {
        const last = it === iterations - 1;
        if (last || !repeat) await iterate(gpu, last);
        else if (it === 0) await iterate(gpu.recorder(repeat), false);
        else gpu.replay(repeat);
      }
    } finally {
      repeat?.dispose();
    }

    owned.splice(owned.indexOf(bad), 1); // the caller's
    return { q, bad };
  } catch (err) {
    if (q) gpu.release(q);
    throw err;
  } finally {
    gpu.release(...owned);
  }
}

/** Blur directions (= simplex vertices per pixel) of the Gaussian lattice, d = 2. */
const GAUSSIAN_AXES = 3;

/** A host-built lattice's tables uploaded: seven uploads, 144 bytes per pixel plus 52 per slot (and the 20-byte slot space). */
function uploadLattice(gpu: Gpu, lattice: CrfLattice): GpuCrfLattice {
  const { slots, axes } = lattice;
  const entries = lattice.entryPixel.length;
  const tensors: Tensor[] = [];
  const up = (data: Uint32Array | Float32Array, dtype: 'u32' | 'f32', label: string) => {
    const t = gpu.upload(data, [data.length], dtype, label);
    tensors.push(t);
    return t;
  };
  try {
    const g = lattice.gaussianVertices, b = lattice.bilateralVertices;
    return {
      tensors: {
        pixels: lattice.height * lattice.width,
        slots,
        axes,
        entries,
        rowStart: up(lattice.rowStart, 'u32', 'crf row_start'),
        entryPixel: up(lattice.entryPixel, 'u32', 'crf entry_pixel'),
        entryWeight: up(lattice.entryWeight, 'f32', 'crf entry_weight'),
        neighbours: up(lattice.neighbours, 'u32', 'crf neighbours'),
        pixelSlot: up(lattice.pixelSlot, 'u32', 'crf pixel_slot'),
        pixelWeight: up(lattice.pixelWeight, 'f32', 'crf pixel_weight'),
        space: up(Uint32Array.of(g, b, 1 + g + b, 1 + g, 0), 'u32', 'crf lattice space'),
      },
      tables: 'full',
    };
  } catch (err) {
    gpu.release(...tensors);
    throw err;
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
  const pixels = q instanceof Tensor && q.rank === 3 ? q.shape[1]! * q.shape[2]! : 0;
  return readLabelWords(gpu, await crfSeedLabelWords(gpu, q, keys, opts), pixels);
}

/** crfSeeds left on the GPU: u32 [ceil(H·W/4)], four label bytes per word. */
export async function crfSeedLabelWords(gpu: Gpu, q: Tensor, keys: readonly number[], opts: CrfSeedOptions = {}): Promise<Tensor> {
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
  if (height * width === 0) return gpu.empty([0], 'u32', 'crf seeds');
  return crfSeedWords(gpu, q, [0, ...keys.map((k) => k + 1)], float32AtLeast(confidence));
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
