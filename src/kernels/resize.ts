// Image resizing of [..., H, W] tensors (NCHW or CHW f32, per channel).
//
// Modes:
//   'bilinear-torch'  F.interpolate(mode='bilinear', align_corners=False, antialias=False):
//                     source x = (o + 0.5)·in/out − 0.5 clamped below at 0, neighbours floor(x)
//                     and min(floor(x) + 1, in − 1). No antialiasing when shrinking. Runs on the
//                     one bilinear resampler (src/kernels/bilinear.ts, mode 'torch-f64': the same
//                     float64 weights and pass arithmetic as the filter modes below).
//   'bicubic-torch'   F.interpolate(mode='bicubic', align_corners=False, antialias=False): Keys
//                     cubic a = −0.75 on the 4 taps floor(x)−1 … floor(x)+2 of the unclamped source
//                     x, each tap index clamped to the border (torch's upsample_get_value_bounded).
//   'bicubic-pil'     Pillow's Image.resize(BICUBIC) (ImagingResample; docs/algorithms.md §1.3):
//                     Keys cubic a = −0.5, support 2·max(1, in/out) (antialiased when shrinking),
//                     weights normalised to sum 1. Horizontal pass first, then vertical; a pass
//                     whose size is unchanged is skipped, as in Pillow.
//                     On f32 input: the same filter in float (no rounding between passes).
//                     On u32 input holding byte values 0..255: Pillow's exact uint8 arithmetic
//                     (22-bit fixed-point weights, rounding and clipping after each pass), which
//                     reproduces Pillow bit for bit.
// The bicubic modes are two separable passes of one generic 1-D filter kernel, described by
// host-computed tables (float64): per output index a contiguous window of input taps (start, count)
// and its weights. Clamped border taps are folded into the edge tap's weight, so windows are always
// contiguous.
import type { Gpu } from '../gpu/context.js';
import { KernelError } from '../gpu/errors.js';
import { ceilDiv, defineKernel, grid1d, type DeviceTraits } from '../gpu/kernel.js';
import { type Tensor, numel } from '../gpu/tensor.js';
import { resizeLinear } from './bilinear.js';
import { copy } from './layout.js';

export const RESIZE_MODES = ['bilinear-torch', 'bicubic-torch', 'bicubic-pil'] as const;
export type ResizeMode = (typeof RESIZE_MODES)[number];
/** The modes that run on filter tables. */
export type FilterMode = Exclude<ResizeMode, 'bilinear-torch'>;

// ---------------------------------------------------------------------------------------------
// Filter tables (float64, host)

/** Per output index o: taps windows[2o] … windows[2o] + windows[2o+1] − 1 with weights[o·taps + k]. */
export interface FilterTable {
  inSize: number;
  outSize: number;
  /** Longest window: the row length of `weights` (shorter rows are zero-padded). */
  taps: number;
  windows: Uint32Array;
  weights: Float64Array;
}

/** Build a table from per-output (index → weight) contributions whose indices are already in range. */
function tableFrom(inSize: number, outSize: number, perOutput: (o: number) => Map<number, number>): FilterTable {
  const rows = Array.from({ length: outSize }, (_, o) => perOutput(o));
  let taps = 1;
  const spans = rows.map((m) => {
    let lo = Infinity, hi = -Infinity;
    for (const i of m.keys()) {
      lo = Math.min(lo, i);
      hi = Math.max(hi, i);
    }
    taps = Math.max(taps, hi - lo + 1);
    return [lo, hi - lo + 1] as const;
  });
  const windows = new Uint32Array(2 * outSize);
  const weights = new Float64Array(outSize * taps);
  rows.forEach((m, o) => {
    const [lo, n] = spans[o]!;
    windows[2 * o] = lo;
    windows[2 * o + 1] = n;
    for (const [i, w] of m) weights[o * taps + (i - lo)] += w;
  });
  return { inSize, outSize, taps, windows, weights };
}

function addTap(m: Map<number, number>, i: number, w: number): void {
  m.set(i, (m.get(i) ?? 0) + w);
}

/** Keys' cubic convolution weights for the 4 taps around fractional offset t ∈ [0, 1). */
function keysWeights(t: number, a: number): [number, number, number, number] {
  // |x| < 1: (a+2)|x|³ − (a+3)|x|² + 1;   1 ≤ |x| < 2: a(|x|³ − 5|x|² + 8|x| − 4)
  const near = (x: number) => ((a + 2) * x - (a + 3)) * x * x + 1;
  const far = (x: number) => ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return [far(t + 1), near(t), near(1 - t), far(2 - t)];
}

/** PyTorch bicubic (a = −0.75), align_corners=False, no antialias, clamped border taps. */
export function bicubicTorchTable(inSize: number, outSize: number): FilterTable {
  const scale = inSize / outSize;
  return tableFrom(inSize, outSize, (o) => {
    const src = scale * (o + 0.5) - 0.5; // not clamped for cubic
    const i0 = Math.floor(src);
    const w = keysWeights(src - i0, -0.75);
    const m = new Map<number, number>();
    for (let k = 0; k < 4; k++) addTap(m, Math.min(Math.max(i0 - 1 + k, 0), inSize - 1), w[k]!);
    return m;
  });
}

/** Pillow's bicubic filter (a = −0.5), evaluated in Pillow's operation order. */
function pilCubic(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/**
 * Pillow's `precompute_coeffs` for BICUBIC over the full box: support 2·max(1, scale), centre
 * (o + 0.5)·scale, window [trunc(centre − support + 0.5), trunc(centre + support + 0.5)) clipped to
 * [0, in), weights cubic((j − centre + 0.5)·(1/max(scale, 1))) normalised by their sum, in the
 * same float64 operation order as Pillow so that the fixed-point rounding agrees exactly.
 */
export function bicubicPilTable(inSize: number, outSize: number): FilterTable {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 2 * filterScale;
  const ss = 1 / filterScale;
  return tableFrom(inSize, outSize, (o) => {
    const center = (o + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
    const ws: number[] = [];
    let sum = 0;
    for (let j = xmin; j < xmax; j++) {
      const w = pilCubic((j - center + 0.5) * ss);
      ws.push(w);
      sum += w;
    }
    const m = new Map<number, number>();
    ws.forEach((w, k) => m.set(xmin + k, sum !== 0 ? w / sum : w));
    return m;
  });
}

export const PIL_PRECISION_BITS = 22;

/** Pillow's fixed-point weights: w·2^22 rounded half away from zero. */
export function pilFixedPoint(weights: Float64Array): Int32Array {
  const scale = 2 ** PIL_PRECISION_BITS;
  return Int32Array.from(weights, (w) => (w < 0 ? Math.trunc(-0.5 + w * scale) : Math.trunc(0.5 + w * scale)));
}

export function filterTable(mode: FilterMode, inSize: number, outSize: number): FilterTable {
  // Every image of a size resamples with the same tables: the recent ones are kept (they are small),
  // so the host does not rebuild them per image.
  const key = `${mode} ${inSize} ${outSize}`;
  let table = recentTables.get(key);
  if (!table) {
    table = mode === 'bicubic-pil' ? bicubicPilTable(inSize, outSize) : bicubicTorchTable(inSize, outSize);
    if (recentTables.size >= 64) recentTables.delete(recentTables.keys().next().value!);
  } else recentTables.delete(key);
  recentTables.set(key, table);
  return table;
}

const recentTables = new Map<string, FilterTable>();

// ---------------------------------------------------------------------------------------------
// Kernel descriptors

/** One pass over x viewed as [outer, lenIn, inner] → [outer, lenOut, inner]. */
export interface FilterPassArgs {
  outer: number;
  lenIn: number;
  lenOut: number;
  inner: number;
  taps: number;
}

/**
 * Workgroup size and outputs per invocation of the filter passes, per adapter kind. Outputs of one
 * invocation share a window and its weights. On real GPUs one output per invocation keeps
 * neighbouring invocations on neighbouring addresses; on SwiftShader (CPU SIMD lanes) several per
 * invocation amortise the table loads and index arithmetic (measured: see the report).
 */
export const RESIZE_PLAN: Record<DeviceTraits['adapter']['kind'], { wg: number; per: number }> = {
  swiftshader: { wg: 64, per: 8 },
  gpu: { wg: 256, per: 1 },
};

function filterDescriptor(name: string, shader: string) {
  const groups = (a: FilterPassArgs, t: DeviceTraits) => ceilDiv(a.outer * a.inner, RESIZE_PLAN[t.adapter.kind].per);
  return defineKernel<FilterPassArgs>({
    name,
    shader,
    params: (a, t) => ({ LAST_AXIS: a.inner === 1, PER: RESIZE_PLAN[t.adapter.kind].per, WG: RESIZE_PLAN[t.adapter.kind].wg }),
    uniforms: (a, t) => ({ len_in: a.lenIn, len_out: a.lenOut, inner: a.inner, taps: a.taps, lines: a.outer * a.inner, groups: groups(a, t) }),
    workgroups: (a, t) => grid1d(ceilDiv(groups(a, t) * a.lenOut, RESIZE_PLAN[t.adapter.kind].wg), t),
    sizes: (a) => ({
      x: a.outer * a.lenIn * a.inner,
      windows: 2 * a.lenOut,
      weights: a.lenOut * a.taps,
      y: a.outer * a.lenOut * a.inner,
    }),
    // Bytes: the input read once and the output written once (the taps of neighbouring outputs
    // overlap and come from caches); flops: one multiply-add per tap of the longest window.
    cost: (a) => ({ flops: 2 * a.outer * a.lenOut * a.inner * a.taps, bytes: 4 * (a.outer * a.lenIn * a.inner + a.outer * a.lenOut * a.inner) }),
  });
}

export const resizeFilterKernel = filterDescriptor('resize_filter', 'resize/filter.wgsl');
export const resizeFilterU8Kernel = filterDescriptor('resize_filter_u8', 'resize/filter_u8.wgsl');

// ---------------------------------------------------------------------------------------------
// Tensor-level op

interface Pass {
  axis: 'h' | 'w';
  table: FilterTable;
}

function checkSize(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 1) throw new KernelError('resize', `${what} ${v} must be a positive integer`);
}

/**
 * Resize the last two axes of x ([..., H, W]) to `size` = [outH, outW]. f32 input: any mode.
 * u32 input (one byte value 0..255 per element, e.g. from unpackRgba): 'bicubic-pil' only, with
 * Pillow's exact uint8 arithmetic; the result is u32 byte values too.
 */
export async function resize(gpu: Gpu, x: Tensor, size: readonly [number, number], mode: ResizeMode, opts: { out?: Tensor } = {}): Promise<Tensor> {
  if (!RESIZE_MODES.includes(mode)) throw new KernelError('resize', `unknown mode '${String(mode)}' (known: ${RESIZE_MODES.join(', ')})`);
  if (x.rank < 2) throw new KernelError('resize', `input ${x} must have rank ≥ 2 ([..., H, W])`);
  const exact = x.dtype === 'u32';
  if (x.dtype !== 'f32' && !exact) throw new KernelError('resize', `input ${x} has dtype ${x.dtype}; f32, or u32 byte values for 'bicubic-pil'`);
  if (exact && mode !== 'bicubic-pil') throw new KernelError('resize', `mode '${mode}' needs f32 input; u32 (byte-valued) input is only for the exact Pillow mode 'bicubic-pil'`);
  if (!Array.isArray(size) || size.length !== 2) throw new KernelError('resize', `size must be [height, width], got ${JSON.stringify(size)}`);
  const [outH, outW] = size;
  checkSize(outH, 'output height');
  checkSize(outW, 'output width');
  const inH = x.shape[x.rank - 2]!, inW = x.shape[x.rank - 1]!;
  checkSize(inH, `input ${x}: height`);
  checkSize(inW, `input ${x}: width`);
  const lead = x.shape.slice(0, -2);
  const planes = numel(lead);
  const outShape = [...lead, outH, outW];
  const y = opts.out ?? gpu.empty(outShape, x.dtype, `resize ${mode}`);
  if (y.dtype !== x.dtype || y.size !== numel(outShape)) throw new KernelError('resize', `output ${y} does not hold the result [${outShape.join(', ')}] ${x.dtype}`);
  if (planes === 0) return y;
  if (inH === outH && inW === outW) return copy(gpu, x, { out: y });
  if (mode === 'bilinear-torch') return resizeLinear(gpu, x, size, { mode: 'torch-f64', out: y });

  const passes: Pass[] = [];
  if (inW !== outW) passes.push({ axis: 'w', table: filterTable(mode, inW, outW) });
  if (inH !== outH) passes.push({ axis: 'h', table: filterTable(mode, inH, outH) });
  // Pillow runs horizontal then vertical, and its uint8 rounding between the passes makes that
  // order part of the result. The float modes are order-independent up to rounding, so they take
  // the order that does fewer multiply-adds.
  if (passes.length === 2 && !(mode === 'bicubic-pil')) {
    const [pw, ph] = passes as [Pass, Pass];
    const wFirst = inH * outW * pw.table.taps + outH * outW * ph.table.taps;
    const hFirst = outH * inW * ph.table.taps + outH * outW * pw.table.taps;
    if (hFirst < wFirst) passes.reverse();
  }

  // The tables depend only on the mode and the two lengths: device constants, uploaded once (and
  // before recording: an upload submits the batch recorded so far).
  const tables = passes.map(({ axis, table }) => {
    const key = `resize ${mode} ${axis === 'w' ? inW : inH}→${axis === 'w' ? outW : outH}`;
    return {
      windows: gpu.constant(`${key} windows`, [table.windows.length], 'u32', () => table.windows),
      weights: exact
        ? gpu.constant(`${key} weights i32`, [table.weights.length], 'i32', () => pilFixedPoint(table.weights))
        : gpu.constant(`${key} weights f32`, [table.weights.length], 'f32', () => Float32Array.from(table.weights)),
    };
  });
  const temporaries: Tensor[] = [];
  let cur = x, h = inH, w = inW;
  for (let k = 0; k < passes.length; k++) {
    const { axis, table } = passes[k]!;
    const nh = axis === 'h' ? outH : h, nw = axis === 'w' ? outW : w;
    const dst = k === passes.length - 1 ? y : gpu.empty([...lead, nh, nw], x.dtype, 'resize intermediate');
    const args: FilterPassArgs =
      axis === 'w'
        ? { outer: planes * h, lenIn: w, lenOut: nw, inner: 1, taps: table.taps }
        : { outer: planes, lenIn: h, lenOut: nh, inner: w, taps: table.taps };
    await gpu.run(exact ? resizeFilterU8Kernel : resizeFilterKernel, args, { x: cur, ...tables[k]!, y: dst });
    if (dst !== y) temporaries.push(dst);
    cur = dst;
    h = nh;
    w = nw;
  }
  // Released buffers may be handed out again, but only to work recorded after these dispatches,
  // which WebGPU orders after them.
  gpu.release(...temporaries);
  return y;
}
