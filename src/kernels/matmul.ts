// Matmul family: C[b] = epilogue(alpha · op(A[b]) · op(B[b])), epilogue = act(· + bias[n]) + residual.
// Four kernels (shaders/matmul/*.wgsl) share one uniform struct and one set of bindings; which one
// runs is decided by src/kernels/matmul-picker.ts (data), or forced by the caller.
import type { Bindings, Gpu } from '../gpu/context.js';
import { KernelError } from '../gpu/errors.js';
import { ceilDiv, defineKernel, grid1d, type DeviceTraits } from '../gpu/kernel.js';
import { Tensor, type Shape } from '../gpu/tensor.js';
import { activationCode, type Activation } from './activation.js';
import { checkMatmulPlan, pickMatmulPlan, type GemvPlan, type MatmulPlan, type MatmulVariant, type RegisterPlan, type TiledPlan } from './matmul-picker.js';

export * from './matmul-picker.js';

/** How the epilogue gets the residual: none, a separate tensor, or the old contents of C. */
export const RESIDUAL_MODES = { none: 0, tensor: 1, inPlace: 2 } as const;
export type ResidualMode = keyof typeof RESIDUAL_MODES;

/** Arguments of one matmul dispatch (one kernel of a plan). */
export interface MatmulKernelArgs<P> {
  m: number;
  n: number;
  k: number;
  /** Matrices in the batch (after broadcasting). */
  batch: number;
  /** Elements between consecutive batch items of A / B; 0 broadcasts one matrix. */
  aBatch: number;
  bBatch: number;
  transA: boolean;
  transB: boolean;
  /** k per split-K slice (K when not split) and the number of slices. */
  kChunk: number;
  splits: number;
  alpha: number;
  hasBias: boolean;
  activation: Activation;
  residual: ResidualMode;
  plan: P;
}

function matmulUniforms(a: MatmulKernelArgs<unknown>) {
  return { m: a.m, n: a.n, k: a.k, batch: a.batch, a_batch: a.aBatch, b_batch: a.bBatch, k_chunk: a.kChunk, alpha: a.alpha };
}

function epilogueParams(a: MatmulKernelArgs<unknown>) {
  return { HAS_BIAS: a.hasBias, ACT: activationCode(a.activation), RESIDUAL: RESIDUAL_MODES[a.residual] };
}

/** Elements each binding needs. Unused bias/residual bindings need none (any tensor may fill them). */
function matmulSizes(a: MatmulKernelArgs<unknown>): Record<string, number> {
  const extent = (stride: number, one: number) => (a.batch === 0 || one === 0 ? 0 : (a.batch - 1) * stride + one);
  const outputs = a.batch * a.m * a.n;
  return {
    a: extent(a.aBatch, a.m * a.k),
    b: extent(a.bBatch, a.k * a.n),
    bias: a.hasBias ? a.n : 0,
    residual: a.residual === 'tensor' ? outputs : 0,
    c: a.splits * outputs,
  };
}

function matmulCost(a: MatmulKernelArgs<unknown>) {
  const s = matmulSizes(a);
  return { flops: 2 * a.batch * a.m * a.n * a.k, bytes: 4 * (s.a! + s.b! + s.c!) };
}

function checkWorkgroup(kernel: string, invocations: number, workgroupBytes: number, t: DeviceTraits): void {
  if (invocations > t.limits.maxComputeInvocationsPerWorkgroup) {
    throw new KernelError(kernel, `plan asks for ${invocations} invocations per workgroup; this device allows ${t.limits.maxComputeInvocationsPerWorkgroup}`);
  }
  if (workgroupBytes > t.limits.maxComputeWorkgroupStorageSize) {
    throw new KernelError(kernel, `plan needs ${workgroupBytes} bytes of workgroup memory; this device allows ${t.limits.maxComputeWorkgroupStorageSize}`);
  }
}

export const registerMatmulKernel = defineKernel<MatmulKernelArgs<RegisterPlan>>({
  name: 'matmul-register',
  shader: 'matmul/register.wgsl',
  params: (a, t) => {
    checkWorkgroup('matmul-register', a.plan.wgM * a.plan.wgN, 0, t);
    return { TM: a.plan.tm, TN: a.plan.tn, WG_M: a.plan.wgM, WG_N: a.plan.wgN, TRANS_A: a.transA, TRANS_B: a.transB, FUSED: a.plan.fused, ...epilogueParams(a) };
  },
  uniforms: matmulUniforms,
  workgroups: (a) => [ceilDiv(a.n, a.plan.tn * a.plan.wgN), ceilDiv(a.m, a.plan.tm * a.plan.wgM), a.batch * a.splits],
  sizes: matmulSizes,
  cost: matmulCost,
});

export const tiledMatmulKernel = defineKernel<MatmulKernelArgs<TiledPlan>>({
  name: 'matmul-tiled',
  shader: 'matmul/tiled.wgsl',
  params: (a, t) => {
    const { wgM, wgN, bk } = a.plan;
    checkWorkgroup('matmul-tiled', wgM * wgN, 4 * bk * 4 * (wgM + wgN), t);
    return { WG_M: wgM, WG_N: wgN, BK: bk, TRANS_A: a.transA, TRANS_B: a.transB, FUSED: a.plan.fused, ...epilogueParams(a) };
  },
  uniforms: matmulUniforms,
  workgroups: (a) => [ceilDiv(a.n, 4 * a.plan.wgN), ceilDiv(a.m, 4 * a.plan.wgM), a.batch * a.splits],
  sizes: matmulSizes,
  cost: matmulCost,
});

export const gemvMatmulKernel = defineKernel<MatmulKernelArgs<GemvPlan>>({
  name: 'matmul-gemv',
  shader: 'matmul/gemv.wgsl',
  params: (a, t) => {
    checkWorkgroup('matmul-gemv', a.plan.wg, 64 * a.plan.wg, t);
    return { WG: a.plan.wg, TRANS_A: a.transA, TRANS_B: a.transB, FUSED: a.plan.fused, ...epilogueParams(a) };
  },
  uniforms: matmulUniforms,
  workgroups: (a) => [ceilDiv(a.n, 4), ceilDiv(a.m, 4), a.batch * a.splits],
  sizes: matmulSizes,
  cost: matmulCost,
});

export interface SplitKReduceArgs {
  count: number;
  n: number;
  splits: number;
  alpha: number;
  hasBias: boolean;
  activation: Activation;
  residual: ResidualMode;
}

const REDUCE_WG = 256;

export const splitKReduceKernel = defineKernel<SplitKReduceArgs>({
  name: 'matmul-splitk-reduce',
  shader: 'matmul/splitk_reduce.wgsl',
  params: (a) => ({ WG: REDUCE_WG, HAS_BIAS: a.hasBias, ACT: activationCode(a.activation), RESIDUAL: RESIDUAL_MODES[a.residual] }),
  uniforms: (a) => ({ count: a.count, n: a.n, splits: a.splits, alpha: a.alpha }),
  workgroups: (a, t) => grid1d(ceilDiv(a.count, REDUCE_WG), t),
  sizes: (a) => ({ partial: a.splits * a.count, bias: a.hasBias ? a.n : 0, residual: a.residual === 'tensor' ? a.count : 0, c: a.count }),
  cost: (a) => ({ flops: a.splits * a.count, bytes: 4 * (a.splits + 1) * a.count }),
});

// ---------------------------------------------------------------------------------------------
// Tensor-level op

export interface MatmulOptions {
  /** A is stored [..., K, M]. */
  transA?: boolean;
  /** B is stored [..., N, K] (PyTorch Linear weights: y = x Wᵀ + b). */
  transB?: boolean;
  /** Added to every row of C: N elements. */
  bias?: Tensor;
  activation?: Activation;
  /** Added after the activation; C's shape. May be `out` itself (in-place C += ...). */
  residual?: Tensor;
  /** Scales op(A)·op(B) before the bias. */
  alpha?: number;
  out?: Tensor;
  /** Force a variant (that adapter's plan for it) or a whole plan; default: the picker's rules. */
  variant?: MatmulVariant | MatmulPlan;
}

/** The resolved problem of one matmul call; exported for benchmarks and tests. */
export interface MatmulProblem {
  m: number;
  n: number;
  k: number;
  batch: number;
  aBatch: number;
  bBatch: number;
  outShape: number[];
}

const fmt = (s: Shape) => `[${s.join(', ')}]`;

/** Check the shapes of A and B and work out M, N, K, the batch and its strides; errors name the culprit. */
export function matmulProblem(aShape: Shape, bShape: Shape, transA = false, transB = false): MatmulProblem {
  if (aShape.length < 2) throw new KernelError('matmul', `A must have rank ≥ 2 (matrix or batch of matrices), got ${fmt(aShape)}`);
  if (bShape.length < 2) throw new KernelError('matmul', `B must have rank ≥ 2 (matrix or batch of matrices), got ${fmt(bShape)}`);
  const [a0, a1] = aShape.slice(-2) as [number, number];
  const [b0, b1] = bShape.slice(-2) as [number, number];
  const [m, ka] = transA ? [a1, a0] : [a0, a1];
  const [kb, n] = transB ? [b1, b0] : [b0, b1];
  if (ka !== kb) {
    throw new KernelError('matmul', `K of A (${ka}) ≠ K of B (${kb}): A ${fmt(aShape)}${transA ? ' transposed' : ''}, B ${fmt(bShape)}${transB ? ' transposed' : ''}`);
  }
  // Batch dims: equal (ignoring leading 1s), or one side a single matrix broadcast to the other.
  const trim = (s: Shape) => {
    const d = s.slice(0, -2);
    while (d.length && d[0] === 1) d.shift();
    return d;
  };
  const aDims = trim(aShape), bDims = trim(bShape);
  const count = (d: number[]) => d.reduce((x, y) => x * y, 1);
  let batchDims: number[];
  if (aDims.length === bDims.length && aDims.every((d, i) => d === bDims[i])) batchDims = aDims;
  else if (bDims.length === 0) batchDims = aDims;
  else if (aDims.length === 0) batchDims = bDims;
  else throw new KernelError('matmul', `batch dims of A ${fmt(aShape.slice(0, -2))} and B ${fmt(bShape.slice(0, -2))} differ, and neither is a single matrix to broadcast`);
  const batch = count(batchDims);
  const aBatch = aDims.length === 0 ? 0 : m * ka;
  const bBatch = bDims.length === 0 ? 0 : ka * n;
  // Keep the caller's leading 1s in the output rank (e.g. [1, 197, 768] · W → [1, 197, N]).
  const rank = Math.max(aShape.length, bShape.length);
  const outShape = [...Array(rank - 2 - batchDims.length).fill(1), ...batchDims, m, n];
  return { m, n, k: ka, batch, aBatch, bBatch, outShape };
}

function sameView(x: Tensor, y: Tensor): boolean {
  return x.buffer === y.buffer && x.byteOffset === y.byteOffset;
}

/**
 * C = act(alpha · op(A) · op(B) + bias) + residual, batched over A's / B's leading dims (one side
 * may be a single matrix shared by the whole batch). Returns `out` or a new tensor.
 */
export async function matmul(gpu: Gpu, a: Tensor, b: Tensor, opts: MatmulOptions = {}): Promise<Tensor> {
  const transA = opts.transA ?? false, transB = opts.transB ?? false;
  for (const [name, t] of [['A', a], ['B', b], ['bias', opts.bias], ['residual', opts.residual], ['out', opts.out]] as const) {
    if (t !== undefined && !(t instanceof Tensor)) throw new KernelError('matmul', `${name} is not a Tensor`);
    if (t && t.dtype !== 'f32') throw new KernelError('matmul', `${name} is ${t.dtype}; matmul takes f32`);
  }
  const pr = matmulProblem(a.shape, b.shape, transA, transB);
  const outputs = pr.batch * pr.m * pr.n;
  const alpha = opts.alpha ?? 1;
  if (!Number.isFinite(alpha)) throw new KernelError('matmul', `alpha must be finite, got ${alpha}`);
  if (opts.bias && opts.bias.size !== pr.n) throw new KernelError('matmul', `bias ${opts.bias} has ${opts.bias.size} elements; N is ${pr.n}`);
  if (opts.residual && opts.residual.size !== outputs) {
    throw new KernelError('matmul', `residual ${opts.residual} has ${opts.residual.size} elements; C is ${fmt(pr.outShape)} (${outputs})`);
  }
  const out = opts.out ?? gpu.empty(pr.outShape, 'f32', 'matmul');
  if (out.size !== outputs) throw new KernelError('matmul', `out ${out} has ${out.size} elements; C is ${fmt(pr.outShape)} (${outputs})`);
  for (const [name, t] of [['A', a], ['B', b], ['bias', opts.bias]] as const) {
    if (t && t.buffer === out.buffer && t.byteOffset < out.byteOffset + out.byteLength && out.byteOffset < t.byteOffset + t.byteLength) {
      throw new KernelError('matmul', `out overlaps ${name}; matmul cannot write in place over its inputs`);
    }
  }
  const residual: MatmulKernelArgs<unknown>['residual'] = !opts.residual ? 'none' : sameView(opts.residual, out) ? 'inPlace' : 'tensor';

  const plan = pickMatmulPlan({ m: pr.m, n: pr.n, k: pr.k, batch: pr.batch }, gpu.traits.adapter.kind, opts.variant);
  const base = {
    m: pr.m, n: pr.n, k: pr.k, batch: pr.batch, aBatch: pr.aBatch, bBatch: pr.bBatch, transA, transB,
    kChunk: Math.max(pr.k, 1), splits: 1, alpha, hasBias: !!opts.bias, activation: opts.activation ?? 'none', residual,
  };
  activationCode(base.activation); // an unknown activation fails here, before any dispatch
  // Absent bias/residual bindings are omitted: their stated size is 0 and the context binds a placeholder.
  const bias = opts.bias;
  const residualBinding = residual === 'tensor' ? opts.residual : undefined;
  if (plan.variant === 'splitk') {
    const splits = Math.max(1, Math.ceil(pr.k / plan.kChunk));
    const partial = gpu.empty([splits * outputs], 'f32', 'matmul split-K partials');
    const first = { ...base, kChunk: plan.kChunk, splits, alpha: 1, hasBias: false, activation: 'none' as const, residual: 'none' as const };
    try {
      await runPlan(gpu, plan.partial, first, { a, b, c: partial });
      await gpu.run(
        splitKReduceKernel,
        { count: outputs, n: pr.n, splits, alpha, hasBias: base.hasBias, activation: base.activation, residual },
        { partial, bias, residual: residualBinding, c: out },
      );
    } finally {
      // Safe before the GPU ran: a later user of this buffer is ordered after these dispatches.
      gpu.release(partial);
    }
  } else {
    await runPlan(gpu, plan, base, { a, b, bias, residual: residualBinding, c: out });
  }
  return out;
}

async function runPlan(gpu: Gpu, plan: Exclude<MatmulPlan, { variant: 'splitk' }>, args: Omit<MatmulKernelArgs<unknown>, 'plan'>, bindings: Bindings): Promise<void> {
  checkMatmulPlan(plan);
  switch (plan.variant) {
    case 'register':
      return gpu.run(registerMatmulKernel, { ...args, plan }, bindings);
    case 'tiled':
      return gpu.run(tiledMatmulKernel, { ...args, plan }, bindings);
    case 'gemv':
      return gpu.run(gemvMatmulKernel, { ...args, plan }, bindings);
  }
}
