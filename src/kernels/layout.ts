// Data-movement kernels: permute / transpose, slice, concat, copy, row gather, and a u32 fill.
//
// permute, slice, concat and copy are all one operation, a strided copy
//   dst[dst_base + Σ_k i_k·dst_stride_k] = src[src_base + Σ_k i_k·src_stride_k]
// over an index space of rank ≤ 6. The host first drops axes of length 1 and merges axes that are
// adjacent in both layouts (so [12, 197, 64] → [197, 12, 64] becomes a 3-axis copy of 64-word
// runs, and a [197, 12, 64] → [12, 64, 197] permute becomes a plain [197, 768] transpose), then
// picks a kernel from the merged form:
//   - strided_copy4: unit-stride innermost axis on both sides, everything a multiple of 4 words;
//   - a batched 2-D transpose when the destination is dense and its second-to-last axis is the
//     source's unit-stride axis (tiled through workgroup memory on GPUs, register blocks on
//     SwiftShader: see TRANSPOSE_PLAN);
//   - strided_copy otherwise.
// Elements move as raw 32-bit words, so f32, i32 and u32 tensors are all accepted; f16 is not.
import type { Gpu } from '../gpu/context.js';
import { KernelError } from '../gpu/errors.js';
import { ceilDiv, defineKernel, grid1d, type DeviceTraits } from '../gpu/kernel.js';
import { DTYPE_BYTES, Tensor, numel, type Shape } from '../gpu/tensor.js';

export const MAX_LAYOUT_RANK = 6;
const WG = 256;

// ---------------------------------------------------------------------------------------------
// Strided copy descriptors

/** A strided copy over `shape` (outermost axis first); strides and bases count elements. */
export interface StridedCopyArgs {
  shape: readonly number[];
  srcStrides: readonly number[];
  srcBase: number;
  dstStrides: readonly number[];
  dstBase: number;
  /** dst is contiguous in index order (dstStrides are then those of a dense `shape`). */
  dstDense: boolean;
}

/** Pack per-axis values innermost first into the two vec4 uniforms (lo: axes 0..3, hi: 4..5). */
function lohi(values: readonly number[], fill: number): [number[], number[]] {
  const inner = [...values].reverse();
  while (inner.length < 8) inner.push(fill);
  return [inner.slice(0, 4), inner.slice(4, 8)];
}

/** One past the largest element index a strided view touches (0 for an empty view). */
export function stridedExtent(shape: readonly number[], strides: readonly number[], base: number): number {
  if (numel(shape) === 0) return 0;
  return base + shape.reduce((acc, d, k) => acc + (d - 1) * strides[k]!, 0) + 1;
}

/**
 * Workgroup size and consecutive elements per invocation of the strided copies, per adapter kind.
 * On real GPUs one element per invocation keeps neighbouring invocations on neighbouring addresses
 * (coalescing). SwiftShader runs invocations on CPU SIMD lanes, where the per-invocation overhead
 * dominates: a walk of 16 elements per invocation was 1.5–3× faster than one (e.g. [197,3,12,64] →
 * [3,12,197,64]: 4.0–4.4 ms against 10.4 ms; timestamp minima on a shared 2-core machine).
 */
export const COPY_PLAN: Record<DeviceTraits['adapter']['kind'], { wg: number; per: number }> = {
  swiftshader: { wg: 64, per: 16 },
  gpu: { wg: 256, per: 1 },
};

function stridedCopyDescriptor(name: string, shader: string, wordsPerElement: number) {
  return defineKernel<StridedCopyArgs>({
    name,
    shader,
    params: (a, t) => ({ RANK: a.shape.length, DST_DENSE: a.dstDense, WG: COPY_PLAN[t.adapter.kind].wg, PER: COPY_PLAN[t.adapter.kind].per }),
    uniforms: (a) => {
      const [shape_lo, shape_hi] = lohi(a.shape, 1);
      const [src_lo, src_hi] = lohi(a.srcStrides, 0);
      const [dst_lo, dst_hi] = lohi(a.dstStrides, 0);
      return { count: numel(a.shape), src_base: a.srcBase, dst_base: a.dstBase, shape_lo, shape_hi, src_lo, src_hi, dst_lo, dst_hi };
    },
    workgroups: (a, t) => grid1d(ceilDiv(numel(a.shape), COPY_PLAN[t.adapter.kind].wg * COPY_PLAN[t.adapter.kind].per), t),
    sizes: (a) => ({ src: stridedExtent(a.shape, a.srcStrides, a.srcBase), dst: stridedExtent(a.shape, a.dstStrides, a.dstBase) }),
    cost: (a) => ({ flops: 0, bytes: 2 * 4 * wordsPerElement * numel(a.shape) }),
  });
}

export const stridedCopyKernel = stridedCopyDescriptor('strided_copy', 'layout/strided_copy.wgsl', 1);
export const stridedCopy4Kernel = stridedCopyDescriptor('strided_copy4', 'layout/strided_copy4.wgsl', 4);

/** dst[b, r, c] (dense [batch, rows, cols]) = src[srcBase + b·srcBatch + r + c·srcCol]. */
export interface TransposeArgs {
  batch: number;
  rows: number;
  cols: number;
  srcBase: number;
  srcBatch: number;
  srcCol: number;
}

const TRANSPOSE_TILE = 32, TRANSPOSE_TILE_ROWS = 8;

function transposeSizes(a: TransposeArgs): Record<string, number> {
  const count = a.batch * a.rows * a.cols;
  return { src: stridedExtent([a.batch, a.rows, a.cols], [a.srcBatch, 1, a.srcCol], a.srcBase), dst: count };
}

export const transposeTiledKernel = defineKernel<TransposeArgs>({
  name: 'transpose_tiled',
  shader: 'layout/transpose_tiled.wgsl',
  params: () => ({ TILE: TRANSPOSE_TILE, ROWS: TRANSPOSE_TILE_ROWS }),
  uniforms: (a) => ({
    batch: a.batch,
    rows: a.rows,
    cols: a.cols,
    tiles_r: ceilDiv(a.rows, TRANSPOSE_TILE),
    tiles_c: ceilDiv(a.cols, TRANSPOSE_TILE),
    src_base: a.srcBase,
    src_batch: a.srcBatch,
    src_col: a.srcCol,
  }),
  workgroups: (a, t) => grid1d(a.batch * ceilDiv(a.rows, TRANSPOSE_TILE) * ceilDiv(a.cols, TRANSPOSE_TILE), t),
  sizes: transposeSizes,
  cost: (a) => ({ flops: 0, bytes: 8 * a.batch * a.rows * a.cols }),
});

const BLOCK = 4, BLOCK_WG = 64;

export const transposeBlockKernel = defineKernel<TransposeArgs>({
  name: 'transpose_block',
  shader: 'layout/transpose_block.wgsl',
  params: () => ({ BLOCK, WG: BLOCK_WG }),
  uniforms: (a) => ({
    batch: a.batch,
    rows: a.rows,
    cols: a.cols,
    blocks_r: ceilDiv(a.rows, BLOCK),
    blocks_c: ceilDiv(a.cols, BLOCK),
    src_base: a.srcBase,
    src_batch: a.srcBatch,
    src_col: a.srcCol,
  }),
  workgroups: (a, t) => grid1d(ceilDiv(a.batch * ceilDiv(a.rows, BLOCK) * ceilDiv(a.cols, BLOCK), BLOCK_WG), t),
  sizes: transposeSizes,
  cost: (a) => ({ flops: 0, bytes: 8 * a.batch * a.rows * a.cols }),
});

// ---------------------------------------------------------------------------------------------
// Planning: merge axes, then pick a kernel (the per-adapter choice is plain data)

export type TransposeVariant = 'gather' | 'block' | 'tiled';

/**
 * Which kernel moves a batched 2-D transpose, per adapter kind, and the smallest rows/cols for
 * which it replaces the plain gather. On SwiftShader the workgroup-memory tile is 25–50× slower than
 * anything else (its barrier is a coroutine switch per invocation: [197, 768] → [768, 197] took
 * 73–250 ms against 1.6–4 ms), and the barrier-free 4×4 register blocks were at least as fast as
 * the gather. On real GPUs the tile, which coalesces both the reads and the writes, is the
 * textbook choice (not measured here: no GPU on this machine).
 */
export const TRANSPOSE_PLAN: Record<DeviceTraits['adapter']['kind'], { variant: TransposeVariant; minEdge: number }> = {
  swiftshader: { variant: 'block', minEdge: 4 },
  gpu: { variant: 'tiled', minEdge: 8 },
};

export type CopyPlan =
  | { kernel: 'strided_copy' | 'strided_copy4'; args: StridedCopyArgs }
  | { kernel: 'transpose_tiled' | 'transpose_block'; args: TransposeArgs };

const denseStrides = (shape: readonly number[]): number[] => {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    strides[k] = s;
    s *= shape[k]!;
  }
  return strides;
};

/** Drop length-1 axes and merge neighbours that are contiguous with each other on both sides. */
export function mergeAxes(a: Omit<StridedCopyArgs, 'dstDense'>): StridedCopyArgs {
  const shape: number[] = [], src: number[] = [], dst: number[] = [];
  a.shape.forEach((d, k) => {
    if (d === 1) return;
    const last = shape.length - 1;
    const ss = a.srcStrides[k]!, ds = a.dstStrides[k]!;
    if (last >= 0 && src[last] === ss * d && dst[last] === ds * d) {
      shape[last] = shape[last]! * d;
      src[last] = ss;
      dst[last] = ds;
    } else {
      shape.push(d);
      src.push(ss);
      dst.push(ds);
    }
  });
  if (shape.length === 0) shape.push(1), src.push(0), dst.push(0);
  const dense = denseStrides(shape);
  const dstDense = numel(shape) === 1 || dense.every((s, k) => s === dst[k] || shape[k] === 1);
  return { shape, srcStrides: src, srcBase: a.srcBase, dstStrides: dst, dstBase: a.dstBase, dstDense };
}

/** The kernel and arguments for a strided copy between two tensors of `srcWords` and `dstWords` words. */
export function planCopy(
  spec: Omit<StridedCopyArgs, 'dstDense'>,
  srcWords: number,
  dstWords: number,
  kind: DeviceTraits['adapter']['kind'],
  transposeVariant?: TransposeVariant,
): CopyPlan {
  const m = mergeAxes(spec);
  const rank = m.shape.length;
  const inner = rank - 1;
  const all4 = (xs: readonly number[]) => xs.every((v) => v % 4 === 0);
  if (
    m.srcStrides[inner] === 1 && m.dstStrides[inner] === 1 && m.shape[inner]! % 4 === 0 &&
    all4(m.srcStrides.slice(0, inner)) && all4(m.dstStrides.slice(0, inner)) &&
    m.srcBase % 4 === 0 && m.dstBase % 4 === 0 && srcWords % 4 === 0 && dstWords % 4 === 0
  ) {
    const q = (v: number) => v / 4;
    return {
      kernel: 'strided_copy4',
      args: {
        shape: m.shape.map((d, k) => (k === inner ? d / 4 : d)),
        srcStrides: m.srcStrides.map((s, k) => (k === inner ? 1 : q(s))),
        srcBase: q(m.srcBase),
        dstStrides: m.dstStrides.map((s, k) => (k === inner ? 1 : q(s))),
        dstBase: q(m.dstBase),
        dstDense: m.dstDense,
      },
    };
  }
  const plan = TRANSPOSE_PLAN[kind];
  const variant = transposeVariant ?? plan.variant;
  if (m.dstDense && m.dstBase === 0 && (rank === 2 || rank === 3) && m.srcStrides[rank - 2] === 1 && variant !== 'gather') {
    const rows = m.shape[rank - 2]!, cols = m.shape[inner]!;
    if (transposeVariant || (rows >= plan.minEdge && cols >= plan.minEdge)) {
      return {
        kernel: variant === 'tiled' ? 'transpose_tiled' : 'transpose_block',
        args: {
          batch: rank === 3 ? m.shape[0]! : 1,
          rows,
          cols,
          srcBase: m.srcBase,
          srcBatch: rank === 3 ? m.srcStrides[0]! : 0,
          srcCol: m.srcStrides[inner]!,
        },
      };
    }
  }
  if (rank > MAX_LAYOUT_RANK) throw new Error(`strided copy of rank ${rank} exceeds ${MAX_LAYOUT_RANK}`);
  return { kernel: 'strided_copy', args: m };
}

const KERNELS = {
  strided_copy: stridedCopyKernel,
  strided_copy4: stridedCopy4Kernel,
  transpose_tiled: transposeTiledKernel,
  transpose_block: transposeBlockKernel,
} as const;

/** Record the dispatch of a planned copy from `src` into `dst`. */
export async function runCopy(gpu: Gpu, plan: CopyPlan, src: Tensor, dst: Tensor): Promise<void> {
  if (plan.kernel === 'strided_copy' || plan.kernel === 'strided_copy4') await gpu.run(KERNELS[plan.kernel], plan.args, { src, dst });
  else await gpu.run(KERNELS[plan.kernel], plan.args, { src, dst });
}

async function stridedCopy(gpu: Gpu, spec: Omit<StridedCopyArgs, 'dstDense'>, src: Tensor, dst: Tensor, variant?: TransposeVariant): Promise<void> {
  if (numel(spec.shape) === 0) return;
  await runCopy(gpu, planCopy(spec, src.size, dst.size, gpu.traits.adapter.kind, variant), src, dst);
}

// ---------------------------------------------------------------------------------------------
// Argument checks shared by the ops

function checkWordDtype(op: string, t: Tensor, what: string): void {
  if (DTYPE_BYTES[t.dtype] !== 4) throw new KernelError(op, `${what} ${t} has dtype ${t.dtype}; layout kernels move 4-byte elements (f32, i32, u32)`);
}

function checkRank(op: string, t: Tensor, what: string): void {
  if (t.rank > MAX_LAYOUT_RANK) throw new KernelError(op, `${what} ${t} has rank ${t.rank}; at most ${MAX_LAYOUT_RANK} is supported`);
}

/** Resolve a possibly negative axis (−1 = last) or fail naming the op and the axis. */
export function normAxis(op: string, axis: number, rank: number, what = 'axis'): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new KernelError(op, `${what} ${axis} is out of range for rank ${rank} (valid: ${-rank}..${rank - 1})`);
  }
  return axis < 0 ? axis + rank : axis;
}

function outputFor(gpu: Gpu, op: string, shape: Shape, dtype: Tensor['dtype'], out: Tensor | undefined): Tensor {
  if (!out) return gpu.empty(shape, dtype, op);
  if (out.dtype !== dtype) throw new KernelError(op, `output ${out} has dtype ${out.dtype}, expected ${dtype}`);
  if (out.size !== numel(shape)) throw new KernelError(op, `output ${out} does not hold the result shape [${shape.join(', ')}]`);
  return out;
}

const fmt = (s: Shape) => `[${s.join(', ')}]`;

// ---------------------------------------------------------------------------------------------
// Tensor-level ops

export interface LayoutOptions {
  out?: Tensor;
  /** Force a transpose kernel (tests and benchmarks); default: TRANSPOSE_PLAN for the adapter. */
  transposeVariant?: TransposeVariant;
}

/** y = x.permute(perm): y.shape[k] = x.shape[perm[k]]. Negative axes count from the end. */
export async function permute(gpu: Gpu, x: Tensor, perm: readonly number[], opts: LayoutOptions = {}): Promise<Tensor> {
  checkWordDtype('permute', x, 'input');
  checkRank('permute', x, 'input');
  if (perm.length !== x.rank) throw new KernelError('permute', `perm ${fmt(perm)} has ${perm.length} axes but the input ${x} has rank ${x.rank}`);
  const axes = perm.map((a) => normAxis('permute', a, x.rank, `perm entry`));
  if (new Set(axes).size !== axes.length) throw new KernelError('permute', `perm ${fmt(perm)} is not a permutation of 0..${x.rank - 1} (repeated axis)`);
  const outShape = axes.map((a) => x.shape[a]!);
  const y = outputFor(gpu, 'permute', outShape, x.dtype, opts.out);
  const xs = denseStrides(x.shape);
  await stridedCopy(gpu, { shape: outShape, srcStrides: axes.map((a) => xs[a]!), srcBase: 0, dstStrides: denseStrides(outShape), dstBase: 0 }, x, y, opts.transposeVariant);
  return y;
}

/** Swap two axes (default the last two). */
export async function transpose(gpu: Gpu, x: Tensor, axis0 = -2, axis1 = -1, opts: LayoutOptions = {}): Promise<Tensor> {
  if (x.rank < 2 && axis0 === -2 && axis1 === -1) throw new KernelError('transpose', `input ${x} has rank ${x.rank}; transposing the last two axes needs rank ≥ 2`);
  const a = normAxis('transpose', axis0, x.rank, 'axis0');
  const b = normAxis('transpose', axis1, x.rank, 'axis1');
  const perm = x.shape.map((_, k) => (k === a ? b : k === b ? a : k));
  return permute(gpu, x, perm, opts);
}

/** A dense copy of x (same shape). */
export async function copy(gpu: Gpu, x: Tensor, opts: { out?: Tensor } = {}): Promise<Tensor> {
  checkWordDtype('copy', x, 'input');
  const y = outputFor(gpu, 'copy', x.shape, x.dtype, opts.out);
  await stridedCopy(gpu, { shape: [x.size], srcStrides: [1], srcBase: 0, dstStrides: [1], dstBase: 0 }, x, y);
  return y;
}

/** Per-axis range: elements start, start+step, … < stop. Defaults: 0, the axis length, 1. */
export interface SliceRange {
  start?: number;
  stop?: number;
  step?: number;
}

/**
 * y = x[r_0, r_1, …] for ranges given for the leading axes (missing or undefined: the whole axis).
 * Unlike Python, bounds are strict: 0 ≤ start ≤ stop ≤ length and step ≥ 1, and anything else is
 * an error rather than being clamped, because a clamped slice is a silent wrong shape.
 */
export async function slice(gpu: Gpu, x: Tensor, ranges: ReadonlyArray<SliceRange | undefined>, opts: { out?: Tensor } = {}): Promise<Tensor> {
  checkWordDtype('slice', x, 'input');
  checkRank('slice', x, 'input');
  if (ranges.length > x.rank) throw new KernelError('slice', `${ranges.length} ranges given for the input ${x} of rank ${x.rank}`);
  const xs = denseStrides(x.shape);
  const outShape: number[] = [], srcStrides: number[] = [];
  let srcBase = 0;
  x.shape.forEach((len, k) => {
    const r = ranges[k] ?? {};
    const start = r.start ?? 0, stop = r.stop ?? len, step = r.step ?? 1;
    const where = `axis ${k} (length ${len})`;
    if (!Number.isInteger(step) || step < 1) throw new KernelError('slice', `${where}: step ${step} must be a positive integer`);
    if (!Number.isInteger(start) || start < 0 || start > len) throw new KernelError('slice', `${where}: start ${start} is outside 0..${len}`);
    if (!Number.isInteger(stop) || stop < start || stop > len) throw new KernelError('slice', `${where}: stop ${stop} is outside ${start}..${len}`);
    outShape.push(Math.ceil((stop - start) / step));
    srcStrides.push(xs[k]! * step);
    srcBase += start * xs[k]!;
  });
  const y = outputFor(gpu, 'slice', outShape, x.dtype, opts.out);
  await stridedCopy(gpu, { shape: outShape, srcStrides, srcBase, dstStrides: denseStrides(outShape), dstBase: 0 }, x, y);
  return y;
}

/**
 * Concatenate along `axis`. Each input is one dispatch that writes its region of the output, so the
 * number of inputs is not bounded by the storage bindings a shader stage may have.
 */
export async function concat(gpu: Gpu, inputs: readonly Tensor[], axis: number, opts: { out?: Tensor } = {}): Promise<Tensor> {
  if (inputs.length === 0) throw new KernelError('concat', 'no inputs given');
  const first = inputs[0]!;
  const ax = normAxis('concat', axis, first.rank);
  inputs.forEach((t, i) => {
    checkWordDtype('concat', t, `input ${i}`);
    checkRank('concat', t, `input ${i}`);
    if (t.dtype !== first.dtype) throw new KernelError('concat', `input ${i} ${t} has dtype ${t.dtype}, input 0 has ${first.dtype}`);
    if (t.rank !== first.rank) throw new KernelError('concat', `input ${i} ${t} has rank ${t.rank}, input 0 ${first} has rank ${first.rank}`);
    t.shape.forEach((d, k) => {
      if (k !== ax && d !== first.shape[k]) {
        throw new KernelError('concat', `input ${i} has shape ${fmt(t.shape)}, which differs from input 0 ${fmt(first.shape)} on axis ${k} (only axis ${ax} may differ)`);
      }
    });
  });
  const outShape = first.shape.map((d, k) => (k === ax ? inputs.reduce((s, t) => s + t.shape[ax]!, 0) : d));
  const y = outputFor(gpu, 'concat', outShape, first.dtype, opts.out);
  const ys = denseStrides(outShape);
  let offset = 0;
  for (const t of inputs) {
    await stridedCopy(gpu, { shape: t.shape, srcStrides: denseStrides(t.shape), srcBase: 0, dstStrides: ys, dstBase: offset * ys[ax]! }, t, y);
    offset += t.shape[ax]!;
  }
  return y;
}

// ---------------------------------------------------------------------------------------------
// Row gather

export interface GatherRowsArgs {
  indices: number;
  rows: number;
  rowLen: number;
}

export const gatherRowsKernel = defineKernel<GatherRowsArgs>({
  name: 'gather_rows',
  shader: 'layout/gather_rows.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ count: a.indices * a.rowLen, row_len: a.rowLen, rows: a.rows }),
  workgroups: (a, t) => grid1d(ceilDiv(a.indices * a.rowLen, WG), t),
  sizes: (a) => ({ indices: a.indices, table: a.rows * a.rowLen, out: a.indices * a.rowLen }),
  cost: (a) => ({ flops: 0, bytes: 4 * a.indices * (2 * a.rowLen + 1) }),
});

/**
 * out[i…, :] = table[indices[i…], :] (rows along the table's first axis); the result has shape
 * indices.shape + table.shape[1:].
 *
 * Indices known on the host (an array) are validated here and a bad one is an error naming it.
 * Indices in a tensor (i32 or u32) live on the GPU and cannot be checked without a read-back: the
 * kernel writes a row of ZEROS for any index outside 0..rows−1 (negative i32 included) and never
 * reads out of bounds.
 */
export async function gatherRows(gpu: Gpu, table: Tensor, indices: Tensor | ArrayLike<number>, opts: { out?: Tensor } = {}): Promise<Tensor> {
  checkWordDtype('gatherRows', table, 'table');
  if (table.rank < 1) throw new KernelError('gatherRows', `table ${table} must have at least one axis (its rows)`);
  const rows = table.shape[0]!;
  let idx: Tensor;
  const owned = !(indices instanceof Tensor);
  if (indices instanceof Tensor) {
    if (indices.dtype !== 'i32' && indices.dtype !== 'u32') throw new KernelError('gatherRows', `indices ${indices} must be i32 or u32, not ${indices.dtype}`);
    idx = indices;
  } else {
    for (let i = 0; i < indices.length; i++) {
      const v = indices[i]!;
      if (!Number.isInteger(v) || v < 0 || v >= rows) throw new KernelError('gatherRows', `index ${v} at position ${i} is outside the table's rows 0..${rows - 1}`);
    }
    idx = gpu.upload(Uint32Array.from(indices as ArrayLike<number>), [indices.length], 'u32', 'gather indices');
  }
  const rowShape = table.shape.slice(1);
  const y = outputFor(gpu, 'gatherRows', [...idx.shape, ...rowShape], table.dtype, opts.out);
  await gpu.run(gatherRowsKernel, { indices: idx.size, rows, rowLen: numel(rowShape) }, { indices: idx, table, out: y });
  if (owned) gpu.release(idx);
  return y;
}

// ---------------------------------------------------------------------------------------------
// Fill

export const fillU32Kernel = defineKernel<{ n: number; value: number }>({
  name: 'fill_u32',
  shader: 'layout/fill_u32.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ n: a.n, value: a.value }),
  workgroups: (a, t) => grid1d(ceilDiv(a.n, WG), t),
  sizes: (a) => ({ data: a.n }),
  cost: (a) => ({ flops: 0, bytes: 4 * a.n }),
});

/** Sets the first n words of a u32 (or i32) tensor to `value` on the GPU (no upload). */
export async function fillWords(gpu: Gpu, data: Tensor, n: number, value: number): Promise<void> {
  if (data.dtype !== 'u32' && data.dtype !== 'i32') throw new KernelError('fill_u32', `${data} must be u32 or i32`, 'data');
  if (!Number.isInteger(n) || n < 0 || n > data.size) throw new KernelError('fill_u32', `n = ${n} must be an integer in 0..${data.size}`);
  if (n > 0) await gpu.run(fillU32Kernel, { n, value }, { data });
}
