// The kernels that build the dense CRF's two permutohedral lattices on the GPU
// (shaders/wsss/crf_lattice_*.wgsl), and the thin functions that dispatch them; the sequence and the
// host-made constants are in src/wsss/crf.ts (buildCrfLatticeGpu), and
// test/wsss/crf-lattice-gpu.test.ts holds its output to the host builder's, bit for bit. Per
// lattice (D = 2: Gaussian, D = 5: bilateral), over its entries
// e = point·(D+1) + r (the D+1 simplex vertices of every pixel and of densecrf's padding points):
//   crfLatticeSimplex     each entry's vertex key (D integer coordinates) and barycentric weight,
//                         float32 arithmetic identical to src/wsss/crf-lattice.ts
//   crfLatticeInsert      keys into an open-addressing hash table; each slot ends holding the
//                         smallest entry id of its key (its first occurrence)
//   crfLatticeFirst       first-occurrence flags; their exclusive scan (src/kernels/scan.ts) numbers
//                         the vertices in the host builder's insertion order
//   crfLatticeVertex      each entry's vertex, each vertex's first entry and pixel count, the count
// and then over both lattices' vertices and pixels:
//   crfLatticeSpace       the slot space (vertex counts, slots, first bilateral slot, overflow) in a
//                         storage buffer: the kernels after it read the counts there, so the host
//                         never needs them (it sizes every table for bounds of the counts)
//   crfLatticeOrder       sort keys for the bilateral slots (pixel count descending, then id)
//   crfLatticeSlots       each bilateral vertex's slot and each slot's pixel count (→ row starts)
//   crfLatticeSortKeys    sort keys for the CSR table (slot of every real entry)
//   crfLatticeCsr         entry pixel and weight from the sorted entries
//   crfLatticePixels      each pixel's slots and slice weights
//   crfLatticeNeighbours  blur neighbours of one lattice's vertices, through its hash table
// Nothing depends on the order in which invocations run: the hash table's layout may differ from run
// to run, but vertices are numbered by first entry, counts are integer sums, and the sorts are
// stable radix sorts placed by scanned counts.
import type { Gpu } from '../../gpu/context.js';
import { ceilDiv, defineKernel, grid1d } from '../../gpu/kernel.js';
import type { Tensor } from '../../gpu/tensor.js';

const WG = 256;
/** Simplex vertices per pixel: Gaussian (d = 2) and bilateral (d = 5). */
const GAUSSIAN_VERTICES = 3;
const BILATERAL_VERTICES = 6;
const PIXEL_VERTICES = GAUSSIAN_VERTICES + BILATERAL_VERTICES;
/** Blur directions of the shared slot space (the bilateral lattice's). */
export const CRF_LATTICE_AXES = BILATERAL_VERTICES;

const grid = (n: number, t: Parameters<typeof grid1d>[1]) => grid1d(ceilDiv(n, WG), t);

export interface SimplexArgs {
  d: 2 | 5;
  pixels: number;
  width: number;
  /** Pixels rounded up to a multiple of 4 (densecrf's padding points). */
  points: number;
  /** densecrf's float32 elevation scales (d of them) and 1/(d+1): latticeConstants(d). */
  scale: ArrayLike<number>;
  down: number;
  /** Word offsets of the x, y and colour tables in `tables`, and its length. */
  xTable: number;
  yTable: number;
  cTable: number;
  tableWords: number;
}

export const crfLatticeSimplexKernel = defineKernel<SimplexArgs>({
  name: 'crf_lattice_simplex',
  shader: 'wsss/crf_lattice_simplex.wgsl',
  params: (a) => ({ WG, D: a.d }),
  uniforms: (a) => {
    const s = Array.from({ length: 5 }, (_, i) => (i < a.d ? a.scale[i]! : 0));
    return {
      scale_lo: s.slice(0, 4),
      scale_hi: s[4]!,
      down: a.down,
      pixels: a.pixels,
      points: a.points,
      width: a.width,
      x_table: a.xTable,
      y_table: a.yTable,
      c_table: a.cTable,
      zero: 0,
    };
  },
  workgroups: (a, t) => grid(a.points, t),
  sizes: (a) => ({
    image: a.d === 5 ? ceilDiv(3 * a.pixels, 4) : 0,
    tables: a.tableWords,
    keys: a.points * (a.d + 1) * a.d,
    weights: a.points * (a.d + 1),
  }),
  cost: (a) => ({ flops: 12 * (a.d + 1) ** 2 * a.points, bytes: 4 * (a.d + 1) ** 2 * a.points }),
});

/** The builder's counters: vertices (Gaussian, bilateral), hash table overflows, claimed slots. */
export const CRF_LATTICE_INFO_WORDS = 6;

/**
 * The slot space as the GPU knows it (crf_lattice_space.wgsl): Gaussian vertices, bilateral
 * vertices, slots (1 + both), first bilateral slot (1 + Gaussian vertices), overflow (1 where a
 * hash table was too small: the tables are then empty and must be built again).
 */
export const CRF_SPACE_WORDS = 5;

export const crfLatticeSpaceKernel = defineKernel<{ boundG: number; boundB: number }>({
  name: 'crf_lattice_space',
  shader: 'wsss/crf_lattice_space.wgsl',
  uniforms: (a) => ({ bound_g: a.boundG, bound_b: a.boundB }),
  workgroups: () => [1],
  sizes: () => ({ info: CRF_LATTICE_INFO_WORDS, space: CRF_SPACE_WORDS }),
  cost: () => ({ flops: 0, bytes: 4 * (CRF_LATTICE_INFO_WORDS + CRF_SPACE_WORDS) }),
});

export interface TableArgs {
  d: 2 | 5;
  entries: number;
  /** Hash table slots, a power of two. */
  capacity: number;
}

/** The bits of a table word above every entry id of the lattice: they carry a key fingerprint. */
export function fingerprintMask(entries: number): number {
  const bits = entries <= 0 ? 0 : 32 - Math.clz32(entries); // entry ids < 2^bits − 1: a word is never EMPTY
  return bits >= 32 ? 0 : (0xffffffff - (2 ** bits - 1)) >>> 0;
}

export const crfLatticeInsertKernel = defineKernel<TableArgs & { maxClaims: number; which: number }>({
  name: 'crf_lattice_insert',
  shader: 'wsss/crf_lattice_insert.wgsl',
  params: (a) => ({ WG, D: a.d }),
  uniforms: (a) => ({ entries: a.entries, mask: a.capacity - 1, fp_mask: fingerprintMask(a.entries), max_claims: a.maxClaims, which: a.which }),
  workgroups: (a, t) => grid(a.entries, t),
  sizes: (a) => ({ keys: a.entries * a.d, table: a.capacity, entry_slot: a.entries, info: CRF_LATTICE_INFO_WORDS }),
  cost: (a) => ({ flops: 8 * a.d * a.entries, bytes: (4 * a.d + 16) * a.entries }),
});

export const crfLatticeFirstKernel = defineKernel<{ entries: number; capacity: number; which: number }>({
  name: 'crf_lattice_first',
  shader: 'wsss/crf_lattice_first.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ entries: a.entries, fp_mask: fingerprintMask(a.entries), which: a.which }),
  workgroups: (a, t) => grid(a.entries + 1, t),
  sizes: (a) => ({ table: a.capacity, entry_slot: a.entries, info: CRF_LATTICE_INFO_WORDS, flag: a.entries + 1 }),
  cost: (a) => ({ flops: a.entries, bytes: 12 * a.entries }),
});

export const crfLatticeVertexKernel = defineKernel<{ entries: number; realEntries: number; which: number; capacity: number }>({
  name: 'crf_lattice_vertex',
  shader: 'wsss/crf_lattice_vertex.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ entries: a.entries, real_entries: a.realEntries, which: a.which, fp_mask: fingerprintMask(a.entries) }),
  workgroups: (a, t) => grid(a.entries, t),
  sizes: (a) => ({
    table: a.capacity,
    entry_slot: a.entries,
    scan: a.entries + 1,
    entry_vertex: a.entries,
    first_entry: a.entries,
    count: a.entries,
    info: CRF_LATTICE_INFO_WORDS,
  }),
  cost: (a) => ({ flops: a.entries, bytes: 24 * a.entries }),
});

/** `vertices`: a bound of the bilateral vertex count (the count itself is in `space`). */
export const crfLatticeOrderKernel = defineKernel<{ vertices: number; pixels: number }>({
  name: 'crf_lattice_order',
  shader: 'wsss/crf_lattice_order.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ vertices: a.vertices, pixels: a.pixels }),
  workgroups: (a, t) => grid(a.vertices, t),
  sizes: (a) => ({ count: a.vertices, space: CRF_SPACE_WORDS, sort_keys: a.vertices, sort_vals: a.vertices }),
  cost: (a) => ({ flops: a.vertices, bytes: 12 * a.vertices }),
});

/** Bounds of the vertex counts, which size the tables (the counts themselves are in `space`). */
interface SlotSpace {
  gaussianVertices: number;
  bilateralVertices: number;
}
const slotsOf = (a: SlotSpace) => 1 + a.gaussianVertices + a.bilateralVertices;

export const crfLatticeSlotsKernel = defineKernel<SlotSpace>({
  name: 'crf_lattice_slots',
  shader: 'wsss/crf_lattice_slots.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ bound: slotsOf(a) }),
  workgroups: (a, t) => grid(slotsOf(a) + 1, t),
  sizes: (a) => ({
    count_g: a.gaussianVertices,
    count_b: a.bilateralVertices,
    order: a.bilateralVertices,
    space: CRF_SPACE_WORDS,
    slot_of_b: a.bilateralVertices,
    row_count: slotsOf(a) + 1,
  }),
  cost: (a) => ({ flops: 0, bytes: 16 * slotsOf(a) }),
});

export const crfLatticeSortKeysKernel = defineKernel<SlotSpace & { pixels: number }>({
  name: 'crf_lattice_sortkeys',
  shader: 'wsss/crf_lattice_sortkeys.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ gaussian_entries: GAUSSIAN_VERTICES * a.pixels, entries: PIXEL_VERTICES * a.pixels }),
  workgroups: (a, t) => grid(PIXEL_VERTICES * a.pixels, t),
  sizes: (a) => ({
    vertex_g: GAUSSIAN_VERTICES * a.pixels,
    vertex_b: BILATERAL_VERTICES * a.pixels,
    slot_of_b: a.bilateralVertices,
    sort_keys: PIXEL_VERTICES * a.pixels,
    sort_vals: PIXEL_VERTICES * a.pixels,
  }),
  cost: (a) => ({ flops: 0, bytes: 16 * PIXEL_VERTICES * a.pixels }),
});

export const crfLatticeCsrKernel = defineKernel<{ pixels: number }>({
  name: 'crf_lattice_csr',
  shader: 'wsss/crf_lattice_csr.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ gaussian_entries: GAUSSIAN_VERTICES * a.pixels, entries: PIXEL_VERTICES * a.pixels }),
  workgroups: (a, t) => grid(PIXEL_VERTICES * a.pixels, t),
  sizes: (a) => ({
    sorted: PIXEL_VERTICES * a.pixels,
    weight_g: GAUSSIAN_VERTICES * a.pixels,
    weight_b: BILATERAL_VERTICES * a.pixels,
    entry_pixel: PIXEL_VERTICES * a.pixels,
    entry_weight: PIXEL_VERTICES * a.pixels,
  }),
  cost: (a) => ({ flops: 0, bytes: 16 * PIXEL_VERTICES * a.pixels }),
});

export const crfLatticePixelsKernel = defineKernel<SlotSpace & { pixels: number; alphaG: number; alphaB: number }>({
  name: 'crf_lattice_pixels',
  shader: 'wsss/crf_lattice_pixels.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ pixels: a.pixels, alpha_g: a.alphaG, alpha_b: a.alphaB }),
  workgroups: (a, t) => grid(a.pixels, t),
  sizes: (a) => ({
    vertex_g: GAUSSIAN_VERTICES * a.pixels,
    vertex_b: BILATERAL_VERTICES * a.pixels,
    weight_g: GAUSSIAN_VERTICES * a.pixels,
    weight_b: BILATERAL_VERTICES * a.pixels,
    slot_of_b: a.bilateralVertices,
    pixel_slot: PIXEL_VERTICES * a.pixels,
    pixel_weight: PIXEL_VERTICES * a.pixels,
  }),
  cost: (a) => ({ flops: PIXEL_VERTICES * a.pixels, bytes: 24 * PIXEL_VERTICES * a.pixels }),
});

export interface NeighbourArgs extends TableArgs {
  /** A bound of the slots of the shared space (the neighbours table is sized for it). */
  slots: number;
  /** A bound of this lattice's vertex count; the count and its first slot are in `space`. */
  vertices: number;
  /** Slots in sorted order (`order`, `slot_of`): the bilateral lattice (else the Gaussian). */
  ordered: boolean;
}

export const crfLatticeNeighboursKernel = defineKernel<NeighbourArgs>({
  name: 'crf_lattice_neighbours',
  shader: 'wsss/crf_lattice_neighbours.wgsl',
  params: (a) => ({ WG, D: a.d, ORDERED: a.ordered }),
  uniforms: (a) => ({ which: a.ordered ? 1 : 0, mask: a.capacity - 1, fp_mask: fingerprintMask(a.entries) }),
  workgroups: (a, t) => grid(a.vertices, t),
  sizes: (a) => ({
    keys: a.entries * a.d,
    table: a.capacity,
    first_entry: a.vertices,
    scan: a.entries + 1,
    order: a.ordered ? a.vertices : 0,
    slot_of: a.ordered ? a.vertices : 0,
    space: CRF_SPACE_WORDS,
    neighbours: 2 * CRF_LATTICE_AXES * a.slots,
  }),
  cost: (a) => ({ flops: 16 * a.d * (a.d + 1) * a.vertices, bytes: 8 * (a.d + 4) * (a.d + 1) * a.vertices }),
});

// ---------------------------------------------------------------------------------------------
// Dispatch

/** data[0 .. n) = value (u32). */
/** One lattice's entry keys [points·(d+1), d] (i32) and barycentric weights [points·(d+1)]. */
export async function crfLatticeSimplex(gpu: Gpu, args: SimplexArgs, image: Tensor | undefined, tables: Tensor, keys: Tensor, weights: Tensor): Promise<void> {
  await gpu.run(crfLatticeSimplexKernel, args, { image, tables, keys, weights });
}

/**
 * One lattice's hash table ([capacity], filled with 0xffffffff beforehand) and each entry's slot;
 * info[2 + which] is set where more than maxClaims slots would be taken (the table is then not
 * complete: build again with a larger one).
 */
export async function crfLatticeInsert(gpu: Gpu, args: TableArgs & { maxClaims: number; which: number }, keys: Tensor, table: Tensor, entrySlot: Tensor, info: Tensor): Promise<void> {
  await gpu.run(crfLatticeInsertKernel, args, { keys, table, entry_slot: entrySlot, info });
}

/** First-occurrence flags [entries + 1] (the last 0). */
export async function crfLatticeFirst(gpu: Gpu, args: { entries: number; capacity: number; which: number }, table: Tensor, entrySlot: Tensor, info: Tensor, flag: Tensor): Promise<void> {
  await gpu.run(crfLatticeFirstKernel, args, { table, entry_slot: entrySlot, info, flag });
}

export interface VertexTensors {
  entryVertex: Tensor;
  firstEntry: Tensor;
  /** Pixels per vertex; zeroed beforehand. */
  count: Tensor;
  /** The builder's counters (CRF_LATTICE_INFO_WORDS): the vertex count goes to [which]. */
  info: Tensor;
}

/** Vertices of the entries from the scanned flags. */
export async function crfLatticeVertex(
  gpu: Gpu,
  args: { entries: number; realEntries: number; which: number; capacity: number },
  table: Tensor,
  entrySlot: Tensor,
  scan: Tensor,
  out: VertexTensors,
): Promise<void> {
  await gpu.run(crfLatticeVertexKernel, args, {
    table,
    entry_slot: entrySlot,
    scan,
    entry_vertex: out.entryVertex,
    first_entry: out.firstEntry,
    count: out.count,
    info: out.info,
  });
}

/** The slot space [CRF_SPACE_WORDS] from the counters, for tables sized for boundG / boundB vertices. */
export async function crfLatticeSpace(gpu: Gpu, args: { boundG: number; boundB: number }, info: Tensor, space: Tensor): Promise<void> {
  await gpu.run(crfLatticeSpaceKernel, args, { info, space });
}

/** Sort input (pixels − count, vertex id) for the bilateral slot order, `vertices` (a bound) of them. */
export async function crfLatticeOrder(gpu: Gpu, args: { vertices: number; pixels: number }, count: Tensor, space: Tensor, sortKeys: Tensor, sortVals: Tensor): Promise<void> {
  await gpu.run(crfLatticeOrderKernel, args, { count, space, sort_keys: sortKeys, sort_vals: sortVals });
}

/** Bilateral slots and per-slot pixel counts [bound slots + 1] (0 from [slots] on). */
export async function crfLatticeSlots(gpu: Gpu, args: SlotSpace, countG: Tensor, countB: Tensor, order: Tensor, space: Tensor, slotOfB: Tensor, rowCount: Tensor): Promise<void> {
  await gpu.run(crfLatticeSlotsKernel, args, { count_g: countG, count_b: countB, order, space, slot_of_b: slotOfB, row_count: rowCount });
}

/** Sort input (slot, position) of every real entry, Gaussian then bilateral. */
export async function crfLatticeSortKeys(gpu: Gpu, args: SlotSpace & { pixels: number }, vertexG: Tensor, vertexB: Tensor, slotOfB: Tensor, sortKeys: Tensor, sortVals: Tensor): Promise<void> {
  await gpu.run(crfLatticeSortKeysKernel, args, { vertex_g: vertexG, vertex_b: vertexB, slot_of_b: slotOfB, sort_keys: sortKeys, sort_vals: sortVals });
}

/** CSR entries (pixel, weight) from the positions sorted by slot. */
export async function crfLatticeCsr(gpu: Gpu, pixels: number, sorted: Tensor, weightG: Tensor, weightB: Tensor, entryPixel: Tensor, entryWeight: Tensor): Promise<void> {
  await gpu.run(crfLatticeCsrKernel, { pixels }, { sorted, weight_g: weightG, weight_b: weightB, entry_pixel: entryPixel, entry_weight: entryWeight });
}

export interface LatticeEntries {
  vertex: Tensor;
  weight: Tensor;
}

/** Per pixel: slots and slice weights of its 3 + 6 vertices. */
export async function crfLatticePixels(
  gpu: Gpu,
  args: SlotSpace & { pixels: number; alphaG: number; alphaB: number },
  g: LatticeEntries,
  b: LatticeEntries,
  slotOfB: Tensor,
  pixelSlot: Tensor,
  pixelWeight: Tensor,
): Promise<void> {
  await gpu.run(crfLatticePixelsKernel, args, {
    vertex_g: g.vertex,
    vertex_b: b.vertex,
    weight_g: g.weight,
    weight_b: b.weight,
    slot_of_b: slotOfB,
    pixel_slot: pixelSlot,
    pixel_weight: pixelWeight,
  });
}

export interface NeighbourInputs {
  keys: Tensor;
  table: Tensor;
  firstEntry: Tensor;
  scan: Tensor;
  /** Bilateral only: vertex of each of its slots, slot of each vertex. */
  order?: Tensor;
  slotOf?: Tensor;
  space: Tensor;
}

/** Blur neighbours [axes, slots, 2] of one lattice's range of slots (zeroed beforehand). */
export async function crfLatticeNeighbours(gpu: Gpu, args: NeighbourArgs, inp: NeighbourInputs, neighbours: Tensor): Promise<void> {
  await gpu.run(crfLatticeNeighboursKernel, args, {
    keys: inp.keys,
    table: inp.table,
    first_entry: inp.firstEntry,
    scan: inp.scan,
    order: inp.order,
    slot_of: inp.slotOf,
    space: inp.space,
    neighbours,
  });
}
