// Fused multi-head attention (shaders/attention/), as torch.nn.MultiheadAttention computes it between
// its in-projection and its out-projection:
//   O_h = softmax(scale · Q_h K_hᵀ [+ causal mask]) V_h,   O = concat_h(O_h)
// optionally with the head-averaged probabilities P̄ = mean_h softmax(scale · Q_h K_hᵀ) that
// CLIP-ES reads from every block (torch's need_weights=True).
//
// Input layout. The in-projection matmul's output as is: QKV [B, L, 3·D] (or [L, 3·D] for B = 1);
// row t holds q for all heads, then k, then v, and head h occupies columns h·hd .. h·hd+hd−1 within
// each D-wide block. Separate Q, K, V tensors [B, L, D] are accepted too; the kernels see either as
// three views (buffer, row stride, column offset), so neither costs a copy. Output O [B, L, D] (the
// input's rank), heads concatenated, ready for the out-projection.
//
// Kernels:
//   register  one invocation per (query row, head), q and the output accumulator in registers,
//             barrier-free, no workgroup memory: SwiftShader's variant.
//   tiled     one workgroup per (head, tile of query rows); K/V tiles in workgroup memory (K
//             head-dim-major): the variant for real GPUs.
//   probs     the head-averaged probabilities, a second pass over the keys per query row using the
//             row's log-sum-exp that either attention kernel writes when asked (the `stats` uniform
//             flag: one store per row); it only runs when probabilities are wanted, so plain
//             attention pays nothing for them. Flags that change a loop bound or one store per row
//             (causal, stats, accumulate) are uniforms rather than `// @param`s: each pipeline
//             fewer saves 1–4 s of shader compilation on SwiftShader.
// The variant is chosen by adapter kind (ATTENTION_VARIANT_BY_ADAPTER), or forced by the caller.
import type { Gpu } from '../gpu/context.js';
import { KernelError } from '../gpu/errors.js';
import { ceilDiv, defineKernel, grid1d, type DeviceTraits } from '../gpu/kernel.js';
import type { ShaderParams } from '../gpu/shader.js';
import { Tensor, type Shape } from '../gpu/tensor.js';

const OP = 'attention';

export const ATTENTION_VARIANTS = ['register', 'tiled'] as const;
export type AttentionVariant = (typeof ATTENTION_VARIANTS)[number];

type AdapterKind = DeviceTraits['adapter']['kind'];

/** Which variant runs where unless the caller forces one. */
export const ATTENTION_VARIANT_BY_ADAPTER: Record<AdapterKind, AttentionVariant> = {
  swiftshader: 'register',
  gpu: 'tiled',
};

/** Launch shapes of the kernels on one adapter kind. */
export interface AttentionPlan {
  /** register: invocations per workgroup, and query rows per invocation (1, 2 or 4). */
  registerWorkgroup: number;
  registerRowsPerInvocation: 1 | 2 | 4;
  /** tiled: query rows per workgroup (one per invocation), and the largest K/V tile tried. */
  tiledRows: number;
  tiledMaxKeys: number;
  /** probs: invocations per workgroup. */
  probsWorkgroup: number;
}

/**
 * SwiftShader: 4 rows per invocation share every K/V load, 3× faster per FLOP than 1 row (measured;
 * see shaders/attention/register.wgsl). The GPU values are untuned guesses (no GPU was available
 * when this was written): one row per invocation keeps registers low and the machine full.
 */
export const ATTENTION_PLANS: Record<AdapterKind, AttentionPlan> = {
  swiftshader: { registerWorkgroup: 16, registerRowsPerInvocation: 4, tiledRows: 64, tiledMaxKeys: 32, probsWorkgroup: 64 },
  gpu: { registerWorkgroup: 64, registerRowsPerInvocation: 1, tiledRows: 64, tiledMaxKeys: 32, probsWorkgroup: 64 },
};

/** Head dims the kernels take: multiples of 4 (vec4 loads) up to 128 (eight 4×4 register chunks). */
export const MAX_HEAD_DIM = 128;

/** The problem and where q, k and v live (in floats; the kernels take vec4 units). */
interface QkvLayout {
  batch: number;
  len: number;
  heads: number;
  headDim: number;
  /** Floats between consecutive tokens' rows (3·D packed, D separate). */
  rowStride: number;
  /** Float offsets of q, k, v within a token's row (0, D, 2D packed; 0, 0, 0 separate). */
  qOff: number;
  kOff: number;
  vOff: number;
}

export interface AttentionKernelArgs extends QkvLayout {
  scale: number;
  causal: boolean;
  /** Also write each row's log2-sum-exp2 to `stats` [B, H, L] for the probs kernel. */
  stats: boolean;
  /** Invocations per workgroup. */
  workgroup: number;
  /** Query rows per invocation: 1 or 2 for register, 1 for tiled. */
  rowsPerInvocation: number;
  /** tiled only: keys per K/V tile. */
  keys: number;
}

export interface AttentionProbsArgs extends QkvLayout {
  scale: number;
  causal: boolean;
  accumulate: boolean;
  workgroup: number;
}

/** Elements (vec4s) each of q, k, v must hold: up to the last head of the last token. */
function qkvExtent(a: QkvLayout, off: number): number {
  const tokens = a.batch * a.len;
  return tokens === 0 ? 0 : ((tokens - 1) * a.rowStride + off + a.heads * a.headDim) / 4;
}

/** Visible (query, key) pairs per head and batch item. */
function visiblePairs(len: number, causal: boolean): number {
  return causal ? (len * (len + 1)) / 2 : len * len;
}

/** Query rows one workgroup covers. */
const rowsPerWorkgroup = (a: AttentionKernelArgs) => a.workgroup * a.rowsPerInvocation;

function attentionDescriptor(variant: AttentionVariant) {
  return defineKernel<AttentionKernelArgs>({
    name: `attention.${variant}`,
    shader: `attention/${variant}.wgsl`,
    params: (a): ShaderParams =>
      variant === 'register'
        ? { HD: a.headDim, WG: a.workgroup, ROWS: a.rowsPerInvocation }
        : { HD: a.headDim, BQ: a.workgroup, BK: a.keys },
    uniforms: (a) => ({
      count: a.batch * a.heads * ceilDiv(a.len, rowsPerWorkgroup(a)),
      len: a.len,
      heads: a.heads,
      q_blocks: ceilDiv(a.len, rowsPerWorkgroup(a)),
      row_stride: a.rowStride / 4,
      q_off: a.qOff / 4,
      k_off: a.kOff / 4,
      v_off: a.vOff / 4,
      scale2: a.scale * Math.LOG2E,
      causal: a.causal ? 1 : 0,
      write_stats: a.stats ? 1 : 0,
    }),
    workgroups: (a, t) => grid1d(a.batch * a.heads * ceilDiv(a.len, rowsPerWorkgroup(a)), t),
    sizes: (a) => ({
      q: qkvExtent(a, a.qOff),
      k: qkvExtent(a, a.kOff),
      v: qkvExtent(a, a.vOff),
      o: (a.batch * a.len * a.heads * a.headDim) / 4,
      stats: a.stats ? a.batch * a.heads * a.len : 0,
    }),
    cost: (a) => {
      const d = a.heads * a.headDim;
      // QKᵀ and PV: 2 multiply-adds per visible pair and head dim (the usual 4·B·H·L²·hd).
      return { flops: 4 * a.batch * a.heads * a.headDim * visiblePairs(a.len, a.causal), bytes: 4 * a.batch * a.len * 4 * d };
    },
  });
}

export const attentionKernels: Record<AttentionVariant, ReturnType<typeof attentionDescriptor>> = {
  register: attentionDescriptor('register'),
  tiled: attentionDescriptor('tiled'),
};

export const attentionProbsKernel = defineKernel<AttentionProbsArgs>({
  name: 'attention.probs',
  shader: 'attention/probs.wgsl',
  params: (a) => ({ HD: a.headDim, WG: a.workgroup }),
  uniforms: (a) => ({
    count: a.batch * ceilDiv(a.len, 4) ** 2,
    len: a.len,
    heads: a.heads,
    i_blocks: ceilDiv(a.len, 4),
    j_blocks: ceilDiv(a.len, 4),
    row_stride: a.rowStride / 4,
    q_off: a.qOff / 4,
    k_off: a.kOff / 4,
    scale2: a.scale * Math.LOG2E,
    inv_heads: 1 / a.heads,
    causal: a.causal ? 1 : 0,
    accumulate: a.accumulate ? 1 : 0,
  }),
  workgroups: (a, t) => grid1d(ceilDiv(a.batch * ceilDiv(a.len, 4) ** 2, a.workgroup), t),
  sizes: (a) => ({
    q: qkvExtent(a, a.qOff),
    k: qkvExtent(a, a.kOff),
    stats: a.batch * a.heads * a.len,
    probs: a.batch * a.len * a.len,
  }),
  cost: (a) => ({
    flops: 2 * a.batch * a.heads * a.headDim * visiblePairs(a.len, a.causal),
    bytes: 4 * a.batch * a.len * (2 * a.heads * a.headDim + a.heads + (a.accumulate ? 2 : 1) * a.len),
  }),
});

/** Bytes of workgroup memory the tiled kernel needs (shaders/attention/tiled.wgsl: kt and vt). */
export function tiledWorkgroupBytes(headDim: number, keys: number): number {
  return 16 * headDim * (keys / 4 + 1) + 4 * keys * headDim;
}

/** The K/V tile of the tiled kernel: the largest of maxKeys, maxKeys/2, ... (≥ 4) that fits. */
export function tiledKeys(headDim: number, maxKeys: number, limits: Pick<GPUSupportedLimits, 'maxComputeWorkgroupStorageSize'>): number {
  for (let keys = maxKeys; keys >= 4; keys /= 2) {
    if (Number.isInteger(keys / 4) && tiledWorkgroupBytes(headDim, keys) <= limits.maxComputeWorkgroupStorageSize) return keys;
  }
  throw new KernelError(
    'attention.tiled',
    `head dim ${headDim} needs ${tiledWorkgroupBytes(headDim, 4)} bytes of workgroup memory even with 4-key tiles; this device allows ${limits.maxComputeWorkgroupStorageSize}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Tensor-level op

/** Packed QKV [B, L, 3·D] or [L, 3·D], or separate Q, K, V of one shape [B, L, D] or [L, D]. */
export type AttentionInput = Tensor | { q: Tensor; k: Tensor; v: Tensor };

export interface AttentionOptions {
  /** Number of heads H; the head dim D / H must be a multiple of 4, at most 128. */
  heads: number;
  /** Multiplies Q·Kᵀ; default 1/sqrt(head dim) (torch MHA). */
  scale?: number;
  /** Mask key j > query i (CLIP's text encoder). */
  causal?: boolean;
  /** Output [B, L, D] (or [L, D]); default a new tensor. */
  out?: Tensor;
  /** Also return the head-averaged probabilities P̄ [B, L, L] (row i = query i, sums to 1). */
  probs?: boolean;
  /** Write P̄ into this [B, L, L] tensor (implies `probs`). */
  probsOut?: Tensor;
  /** Add P̄ to `probsOut` instead of overwriting it (summing maps over layers). */
  accumulateProbs?: boolean;
  /** Force a variant (tests, benchmarks); default by adapter kind. */
  variant?: AttentionVariant;
  /** register variant: force 1 or 2 query rows per invocation (tests, benchmarks); default: the plan's. */
  rowsPerInvocation?: 1 | 2 | 4;
}

export interface AttentionResult {
  out: Tensor;
  /** P̄, when `probs` or `probsOut` was given. */
  probs?: Tensor;
}

const fmt = (s: Shape) => `[${s.join(', ')}]`;

function checkTensor(t: unknown, binding: string): Tensor {
  if (!(t instanceof Tensor)) throw new KernelError(OP, 'is not a Tensor', binding);
  if (t.dtype !== 'f32') throw new KernelError(OP, `${t} must be f32`, binding);
  return t;
}

interface ResolvedInput extends QkvLayout {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  outShape: number[];
}

/** Check the input's shapes against `heads`; errors name the tensor and what is wrong with it. */
export function attentionLayout(input: { qkv: Shape } | { q: Shape; k: Shape; v: Shape }, heads: number): QkvLayout & { outShape: number[] } {
  if (!Number.isInteger(heads) || heads < 1) throw new KernelError(OP, `heads = ${heads} must be a positive integer`);
  const split = (shape: Shape, name: string): [number, number, number] => {
    if (shape.length !== 2 && shape.length !== 3) throw new KernelError(OP, `${name} must be [B, L, width] or [L, width], got ${fmt(shape)}`, name);
    const [b, l, w] = shape.length === 3 ? (shape as [number, number, number]) : [1, shape[0]!, shape[1]!];
    return [b, l, w];
  };
  let batch: number, len: number, d: number, rowStride: number, qOff: number, kOff: number, vOff: number, rank: number;
  if ('qkv' in input) {
    const [b, l, w] = split(input.qkv, 'qkv');
    if (w % 3 !== 0) throw new KernelError(OP, `packed QKV ${fmt(input.qkv)} has width ${w}, not 3·D (q, k, v blocks of D columns each)`, 'qkv');
    [batch, len, d, rank] = [b, l, w / 3, input.qkv.length];
    [rowStride, qOff, kOff, vOff] = [w, 0, d, 2 * d];
  } else {
    const [b, l, w] = split(input.q, 'q');
    for (const name of ['k', 'v'] as const) {
      const s = input[name];
      if (s.length !== input.q.length || s.some((x, i) => x !== input.q[i])) throw new KernelError(OP, `${fmt(s)} differs from q ${fmt(input.q)}; q, k and v must have one shape`, name);
    }
    [batch, len, d, rank] = [b, l, w, input.q.length];
    [rowStride, qOff, kOff, vOff] = [w, 0, 0, 0];
  }
  const what = 'qkv' in input ? `QKV ${fmt(input.qkv)}` : `q ${fmt(input.q)}`;
  if (d % heads !== 0) throw new KernelError(OP, `D = ${d} of ${what} is not a multiple of heads = ${heads}`);
  const headDim = d / heads;
  if (headDim % 4 !== 0 || headDim > MAX_HEAD_DIM || headDim === 0) {
    throw new KernelError(OP, `head dim D / heads = ${d} / ${heads} = ${headDim} is not supported (a multiple of 4 from 4 to ${MAX_HEAD_DIM})`);
  }
  const outShape = rank === 3 ? [batch, len, d] : [len, d];
  return { batch, len, heads, headDim, rowStride, qOff, kOff, vOff, outShape };
}

function resolveInput(input: AttentionInput, heads: number): ResolvedInput {
  if (input instanceof Tensor) {
    const qkv = checkTensor(input, 'qkv');
    return { ...attentionLayout({ qkv: qkv.shape }, heads), q: qkv, k: qkv, v: qkv };
  }
  if (typeof input !== 'object' || input === null) throw new KernelError(OP, 'input must be a packed QKV tensor or { q, k, v }', 'qkv');
  const q = checkTensor(input.q, 'q'), k = checkTensor(input.k, 'k'), v = checkTensor(input.v, 'v');
  return { ...attentionLayout({ q: q.shape, k: k.shape, v: v.shape }, heads), q, k, v };
}

function overlaps(a: Tensor, b: Tensor): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/**
 * Multi-head attention over packed QKV (or separate Q, K, V); see the file header. Returns O and,
 * when asked, the head-averaged probabilities.
 */
export async function attention(gpu: Gpu, input: AttentionInput, opts: AttentionOptions): Promise<AttentionResult> {
  if (typeof opts !== 'object' || opts === null) throw new KernelError(OP, 'options with `heads` are required');
  const r = resolveInput(input, opts.heads);
  const scale = opts.scale ?? 1 / Math.sqrt(r.headDim);
  if (!Number.isFinite(scale)) throw new KernelError(OP, `scale = ${scale} must be finite`);
  const causal = opts.causal ?? false;
  const variant = opts.variant ?? ATTENTION_VARIANT_BY_ADAPTER[gpu.traits.adapter.kind];
  if (!ATTENTION_VARIANTS.includes(variant)) throw new KernelError(OP, `unknown variant '${String(variant)}' (known: ${ATTENTION_VARIANTS.join(', ')})`);

  const inputs = [['q', r.q], ['k', r.k], ['v', r.v]] as const;
  const { out: outGiven, probsOut } = opts;
  if (outGiven !== undefined) {
    checkTensor(outGiven, 'o');
    if (outGiven.size !== r.batch * r.len * r.heads * r.headDim) throw new KernelError(OP, `out ${outGiven} does not match the output ${fmt(r.outShape)}`, 'o');
    for (const [name, t] of inputs) if (overlaps(outGiven, t)) throw new KernelError(OP, `out overlaps ${name}; attention cannot write over its input`, 'o');
  }
  const wantProbs = (opts.probs ?? false) || probsOut !== undefined;
  const probsShape = r.outShape.length === 3 ? [r.batch, r.len, r.len] : [r.len, r.len];
  if (probsOut !== undefined) {
    checkTensor(probsOut, 'probs');
    if (probsOut.size !== r.batch * r.len * r.len) throw new KernelError(OP, `probsOut ${probsOut} does not match the probabilities ${fmt(probsShape)}`, 'probs');
    for (const [name, t] of inputs) if (overlaps(probsOut, t)) throw new KernelError(OP, `probsOut overlaps ${name}`, 'probs');
    if (outGiven && overlaps(probsOut, outGiven)) throw new KernelError(OP, 'probsOut overlaps out', 'probs');
  }
  if (opts.accumulateProbs && probsOut === undefined) throw new KernelError(OP, 'accumulateProbs needs probsOut, the tensor to add to', 'probs');

  const plan = ATTENTION_PLANS[gpu.traits.adapter.kind];
  const layout: QkvLayout = { batch: r.batch, len: r.len, heads: r.heads, headDim: r.headDim, rowStride: r.rowStride, qOff: r.qOff, kOff: r.kOff, vOff: r.vOff };
  const args: AttentionKernelArgs =
    variant === 'register'
      ? { ...layout, scale, causal, stats: wantProbs, workgroup: plan.registerWorkgroup, rowsPerInvocation: opts.rowsPerInvocation ?? plan.registerRowsPerInvocation, keys: 4 }
      : { ...layout, scale, causal, stats: wantProbs, workgroup: plan.tiledRows, rowsPerInvocation: 1, keys: tiledKeys(r.headDim, plan.tiledMaxKeys, gpu.traits.limits) };
  if (![1, 2, 4].includes(args.rowsPerInvocation)) throw new KernelError(OP, `rowsPerInvocation = ${args.rowsPerInvocation} must be 1, 2 or 4`);

  const out = outGiven ?? gpu.empty(r.outShape, 'f32', OP);
  if (!wantProbs) {
    await gpu.run(attentionKernels[variant], args, { q: r.q, k: r.k, v: r.v, o: out });
    return { out };
  }
  const probs = probsOut ?? gpu.empty(probsShape, 'f32', `${OP} probs`);
  const stats = gpu.empty([r.batch, r.heads, r.len], 'f32', `${OP} row stats`);
  try {
    await gpu.run(attentionKernels[variant], args, { q: r.q, k: r.k, v: r.v, o: out, stats });
    const probArgs: AttentionProbsArgs = { ...layout, scale, causal, accumulate: opts.accumulateProbs ?? false, workgroup: plan.probsWorkgroup };
    await gpu.run(attentionProbsKernel, probArgs, { q: r.q, k: r.k, stats, probs });
  } finally {
    // Safe before the GPU ran: a later user of this buffer is ordered after these dispatches.
    gpu.release(stats);
  }
  return { out, probs };
}
