// Which matmul kernel runs for which shape on which adapter: a table of rules (plain data) and a
// small function that walks it. Nothing here touches the GPU, so the choice is unit-tested
// without one (test/kernels/matmul-picker.test.ts), and benchmarks/tests can force any variant.
//
// The variants (shaders/matmul/):
//   register  barrier-free, no workgroup memory, TM×TN outputs per invocation (SwiftShader's best)
//   tiled     workgroup-memory tiles, 4×4 per invocation (the usual shape for real GPUs)
//   gemv      few rows: a workgroup splits K for a 4×4 block of C and adds the parts by a tree
//   splitk    K cut into slices: a register/tiled pass writes partial C blocks, a reduce pass adds
//             them and applies the epilogue (more workgroups when M·N is small and K long)
import { KernelError } from '../gpu/errors.js';

export type AdapterKind = 'swiftshader' | 'gpu';

export interface RegisterPlan {
  variant: 'register';
  /** Rows / columns of C per invocation: 4 or 8 (one or two 4×4 sub-blocks). */
  tm: 4 | 8;
  tn: 4 | 8;
  /** Invocations per workgroup along M / N. */
  wgM: number;
  wgN: number;
  /** fma() accumulation. SwiftShader emulates fma: measured 2–4× slower than multiply-add there. */
  fused: boolean;
}

export interface TiledPlan {
  variant: 'tiled';
  /** Invocations along M / N; the workgroup's tile of C is (4·wgM) × (4·wgN). */
  wgM: number;
  wgN: number;
  /** k per slice staged in workgroup memory. */
  bk: number;
  fused: boolean;
}

export interface GemvPlan {
  variant: 'gemv';
  /** Invocations per workgroup splitting K (a power of two). */
  wg: number;
  fused: boolean;
}

export interface SplitKPlan {
  variant: 'splitk';
  /** k per slice; the number of slices is ceil(K / kChunk). */
  kChunk: number;
  /** The kernel that computes each slice's partial sums. */
  partial: RegisterPlan | TiledPlan;
}

export type MatmulPlan = RegisterPlan | TiledPlan | GemvPlan | SplitKPlan;
export type MatmulVariant = MatmulPlan['variant'];
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['register', 'tiled', 'gemv', 'splitk'];

/** What the picker looks at. `batch` counts matrices after broadcasting. */
export interface MatmulShape {
  m: number;
  n: number;
  k: number;
  batch: number;
}

/** A rule applies when every stated bound holds (bounds are inclusive). */
export interface MatmulWhen {
  maxM?: number;
  minM?: number;
  minK?: number;
  /** Upper bound on batch·M·N, the number of outputs. */
  maxOutputs?: number;
}

export interface MatmulRule {
  adapter: AdapterKind | 'any';
  when: MatmulWhen;
  plan: MatmulPlan;
  why: string;
}

// Per-adapter plan for each variant: what a forced variant uses, and the building blocks of rules.
export const VARIANT_PLANS: Record<AdapterKind, { register: RegisterPlan; tiled: TiledPlan; gemv: GemvPlan; splitk: SplitKPlan }> = {
  swiftshader: {
    // 8×8 blocks, 8 invocations in a row (an 8 × 64 tile of C): of the shapes tried (wgM × wgN =
    // 4×4, 2×8, 1×4, 1×8, 1×16, 1×32) the fastest or within noise of it at 197×768×768,
    // 197×3072×768 and 512³, and one row of invocations wastes little on the edge of M = 197.
    register: { variant: 'register', tm: 8, tn: 8, wgM: 1, wgN: 8, fused: false },
    tiled: { variant: 'tiled', wgM: 16, wgN: 16, bk: 16, fused: false },
    gemv: { variant: 'gemv', wg: 64, fused: false },
    splitk: { variant: 'splitk', kChunk: 256, partial: { variant: 'register', tm: 8, tn: 8, wgM: 1, wgN: 8, fused: false } },
  },
  gpu: {
    register: { variant: 'register', tm: 8, tn: 8, wgM: 8, wgN: 8, fused: true },
    tiled: { variant: 'tiled', wgM: 16, wgN: 16, bk: 16, fused: true },
    gemv: { variant: 'gemv', wg: 64, fused: true },
    splitk: { variant: 'splitk', kChunk: 512, partial: { variant: 'tiled', wgM: 16, wgN: 16, bk: 16, fused: true } },
  },
};

/** SwiftShader, M ≤ 4: one 4-row block, 16 invocations along N (4 × 128 tiles of C). */
export const FEW_ROWS_REGISTER: RegisterPlan = { variant: 'register', tm: 4, tn: 8, wgM: 1, wgN: 16, fused: false };

/**
 * First matching rule wins; the last rule of each adapter matches everything. SwiftShader figures
 * were measured with GPU timestamps on 2 cores shared with other jobs (±30 %; see the report of
 * bench/kernels.bench.ts); the 'gpu' rules follow the usual practice and are untuned until a GPU
 * machine runs the benchmark.
 *
 * No split-K on SwiftShader: at 32×32×4096, 64×64×2048, 128×128×1024 and 1×512×1024 the plain
 * register kernel was as fast or faster (Dawn's SwiftShader already spreads even one workgroup's
 * few invocations, and the partial pass adds traffic). gemv and tiled are 5–20× slower there.
 */
export const MATMUL_RULES: readonly MatmulRule[] = [
  {
    adapter: 'swiftshader',
    when: { maxM: 4 },
    plan: FEW_ROWS_REGISTER,
    why: 'few rows: one row of invocations with 4-row blocks; 8×8 blocks in 4×4 workgroups computed clamped copies of rows past M and ran 5–6× slower (4×2304×768: 8.5 vs 52 ms)',
  },
  {
    adapter: 'swiftshader',
    when: {},
    plan: VARIANT_PLANS.swiftshader.register,
    why: 'barrier-free 8×8 register blocks: 2.5–4× faster than workgroup-memory tiling on SwiftShader',
  },
  {
    adapter: 'gpu',
    when: { maxM: 4 },
    plan: VARIANT_PLANS.gpu.gemv,
    why: 'matrix-vector: a workgroup per 4 columns reduces along K, reading B once, coalesced',
  },
  {
    adapter: 'gpu',
    when: { maxOutputs: 128 * 128, minK: 2048 },
    plan: VARIANT_PLANS.gpu.splitk,
    why: 'few 64×64 tiles for a long K: split K to fill the machine',
  },
  {
    adapter: 'gpu',
    when: {},
    plan: VARIANT_PLANS.gpu.tiled,
    why: 'workgroup-memory 64×64 tiles with 4×4 register blocks',
  },
];

export function ruleMatches(when: MatmulWhen, s: MatmulShape): boolean {
  return (
    (when.maxM === undefined || s.m <= when.maxM) &&
    (when.minM === undefined || s.m >= when.minM) &&
    (when.minK === undefined || s.k >= when.minK) &&
    (when.maxOutputs === undefined || s.batch * s.m * s.n <= when.maxOutputs)
  );
}

/**
 * The plan for a matmul: `force` (a variant name, which takes that adapter's plan for it, or a
 * whole plan) if given, else the first rule in `rules` that matches.
 */
export function pickMatmulPlan(shape: MatmulShape, adapter: AdapterKind, force?: MatmulVariant | MatmulPlan, rules: readonly MatmulRule[] = MATMUL_RULES): MatmulPlan {
  if (adapter !== 'swiftshader' && adapter !== 'gpu') throw new KernelError('matmul', `unknown adapter kind '${String(adapter)}' (known: swiftshader, gpu)`);
  if (force !== undefined) {
    if (typeof force === 'string') {
      if (!MATMUL_VARIANTS.includes(force)) throw new KernelError('matmul', `unknown variant '${force}' (known: ${MATMUL_VARIANTS.join(', ')})`);
      return checkMatmulPlan(VARIANT_PLANS[adapter][force]);
    }
    return checkMatmulPlan(force);
  }
  for (const rule of rules) {
    if ((rule.adapter === adapter || rule.adapter === 'any') && ruleMatches(rule.when, shape)) return rule.plan;
  }
  throw new KernelError('matmul', `no rule matches [${shape.batch}×] ${shape.m}×${shape.k} · ${shape.k}×${shape.n} on ${adapter}`);
}

const isPow2 = (x: number) => Number.isInteger(x) && x > 0 && (x & (x - 1)) === 0;

/** Reject a plan the shaders cannot run, naming the bad field. Returns the plan. */
export function checkMatmulPlan<P extends MatmulPlan>(plan: P): P {
  const bad = (field: string, value: unknown, want: string): never => {
    throw new KernelError('matmul', `${plan.variant} plan has ${field} = ${JSON.stringify(value)}; it must be ${want}`);
  };
  const positive = (field: string, v: number) => (Number.isInteger(v) && v > 0) || bad(field, v, 'a positive integer');
  switch (plan.variant) {
    case 'register':
      if (plan.tm !== 4 && plan.tm !== 8) bad('tm', plan.tm, '4 or 8');
      if (plan.tn !== 4 && plan.tn !== 8) bad('tn', plan.tn, '4 or 8');
      positive('wgM', plan.wgM);
      positive('wgN', plan.wgN);
      break;
    case 'tiled':
      positive('wgM', plan.wgM);
      positive('wgN', plan.wgN);
      positive('bk', plan.bk);
      break;
    case 'gemv':
      if (!isPow2(plan.wg)) bad('wg', plan.wg, 'a power of two');
      break;
    case 'splitk':
      positive('kChunk', plan.kChunk);
      if (plan.partial?.variant !== 'register' && plan.partial?.variant !== 'tiled') bad('partial', plan.partial, 'a register or tiled plan');
      checkMatmulPlan(plan.partial);
      break;
    default:
      throw new KernelError('matmul', `unknown variant '${(plan as { variant: unknown }).variant}' (known: ${MATMUL_VARIANTS.join(', ')})`);
  }
  return plan;
}
