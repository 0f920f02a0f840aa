// What layernorm, softmax and the axis reductions share: each reduces "rows" (a run of `len`
// elements, `inner` apart) and each has three WGSL variants that differ in how many invocations
// cooperate on one row:
//   invocation  one invocation per row; no barriers, no workgroup memory. Neighbouring invocations
//               read neighbouring rows, so it wants many rows, and inner > 1 (then their reads are
//               contiguous) or short rows.
//   subgroup    one subgroup per row; lanes read consecutive elements and combine with subgroup
//               operations; no barriers. Needs the 'subgroups' feature.
//   workgroup   one workgroup per row, tree reduction in workgroup memory. The textbook GPU variant.
// On SwiftShader a workgroup's invocations run as coroutines that switch at every barrier and the
// subgroup size is 4, so the barrier-free variants win there; the choice below is plain data, made
// from measurements on SwiftShader (see ROW_THRESHOLDS) and unit-tested.
import type { Gpu } from '../gpu/context.js';
import { KernelError } from '../gpu/errors.js';
import { ceilDiv, grid1d, type DeviceTraits } from '../gpu/kernel.js';
import type { ShaderParams } from '../gpu/shader.js';
import { Tensor } from '../gpu/tensor.js';

export const ROW_VARIANTS = ['invocation', 'subgroup', 'workgroup'] as const;
export type RowVariant = (typeof ROW_VARIANTS)[number];

/** Workgroup size, and for the subgroup variant how many rows one workgroup owns. */
export interface RowPlan {
  variant: RowVariant;
  workgroupSize: number;
  /** Rows per workgroup: WG for 'invocation', 1 for 'workgroup', a parameter for 'subgroup'. */
  rowsPerWorkgroup: number;
}

/** The shape of a row-wise job: `rows` rows of `len` elements; consecutive elements `inner` apart. */
export interface RowShape {
  rows: number;
  len: number;
  inner: number;
}

type AdapterKind = DeviceTraits['adapter']['kind'];

/**
 * Workgroup sizes per adapter kind. SwiftShader: subgroups are 4 lanes, so 64 invocations = 16
 * subgroups = 16 rows per workgroup. Real GPUs (untuned: no GPU was available when this was
 * written): 128 invocations, 4 rows per workgroup (one row per 32-lane subgroup), and 256 for the
 * workgroup-per-row tree.
 */
export const ROW_PLANS: Record<AdapterKind, Record<RowVariant, { workgroupSize: number; rowsPerWorkgroup: number }>> = {
  swiftshader: {
    invocation: { workgroupSize: 64, rowsPerWorkgroup: 64 },
    subgroup: { workgroupSize: 64, rowsPerWorkgroup: 16 },
    workgroup: { workgroupSize: 64, rowsPerWorkgroup: 1 },
  },
  gpu: {
    invocation: { workgroupSize: 64, rowsPerWorkgroup: 64 },
    subgroup: { workgroupSize: 128, rowsPerWorkgroup: 4 },
    workgroup: { workgroupSize: 256, rowsPerWorkgroup: 1 },
  },
};

/**
 * Where the variants cross over. SwiftShader, measured with robustness on, on 2 cores shared with
 * other jobs (±30 %: enough for the order, not for fine tuning). One invocation per row wins as soon
 * as there are a few rows to fill the 4-wide SIMD lanes: layernorm [788, 768] 15 ms vs 22 ms per
 * subgroup, softmax [2364, 197] 8.5 vs 10.6 ms, [4, 4097] layernorm 0.25 vs 0.32 ms, and 2.5–8× for
 * rows of 2–16 elements. A subgroup per row wins for one to three long rows: [1, 4097] layernorm
 * 0.11 vs 0.24 ms, softmax 0.31 vs 0.65 ms. A workgroup per row never wins by a margin worth its
 * barriers ([4097, 7] layernorm: 600 ms vs 1.2 ms).
 * GPU values are untuned guesses (no GPU was available): coalesced reads want lanes along a row.
 */
export const ROW_THRESHOLDS = {
  swiftshader: {
    /** At least this many rows: one invocation per row. */
    manyRows: 4,
    /** Rows shorter than this: one invocation per row. */
    longRow: 512,
  },
  gpu: {
    /** Fewer rows than this, each at least `longRow` long: a workgroup per row. */
    fewRows: 256,
    longRow: 1024,
    /** Rows up to this length (or strided rows, inner > 1): one invocation per row. */
    shortRow: 16,
  },
} as const;

/**
 * The variant for a row-wise job on this adapter. Strided rows (inner > 1) always run one invocation
 * per row: neighbouring invocations then read neighbouring elements. Otherwise see ROW_THRESHOLDS.
 */
export function chooseRowVariant(shape: RowShape, traits: Pick<DeviceTraits, 'adapter' | 'features'>): RowVariant {
  const subgroups = traits.features.subgroups;
  if (traits.adapter.kind === 'swiftshader') {
    const t = ROW_THRESHOLDS.swiftshader;
    if (shape.inner > 1 || shape.rows >= t.manyRows || shape.len < t.longRow || !subgroups) return 'invocation';
    return 'subgroup';
  }
  const t = ROW_THRESHOLDS.gpu;
  if (shape.rows < t.fewRows && shape.len >= t.longRow) return 'workgroup';
  if (shape.inner > 1 || shape.len <= t.shortRow) return 'invocation';
  return subgroups && shape.len < t.longRow ? 'subgroup' : 'workgroup';
}

/** The plan for a variant (chosen, or forced by the caller), checked against the device. */
export function rowPlan(op: string, shape: RowShape, traits: Pick<DeviceTraits, 'adapter' | 'features'>, forced?: RowVariant): RowPlan {
  if (forced !== undefined && !ROW_VARIANTS.includes(forced)) {
    throw new KernelError(op, `unknown variant '${String(forced)}' (known: ${ROW_VARIANTS.join(', ')})`);
  }
  const variant = forced ?? chooseRowVariant(shape, traits);
  if (variant === 'subgroup' && !traits.features.subgroups) {
    throw new KernelError(op, `variant 'subgroup' needs the 'subgroups' feature, which this device lacks`);
  }
  return { variant, ...ROW_PLANS[traits.adapter.kind][variant] };
}

/** `// @param` values of a variant's shader. */
export function rowParams(plan: RowPlan): ShaderParams {
  return plan.variant === 'subgroup' ? { WG: plan.workgroupSize, ROWS: plan.rowsPerWorkgroup } : { WG: plan.workgroupSize };
}

/** Dispatch grid of a variant for `rows` rows. */
export function rowWorkgroups(plan: RowPlan, rows: number, traits: DeviceTraits): [number, number] {
  return grid1d(ceilDiv(rows, plan.rowsPerWorkgroup), traits);
}

// ---------------------------------------------------------------------------------------------
// Optional bindings. A shader declares every binding it may use and a `// @param` flag turns the
// use on; WebGPU still needs a buffer behind each declared binding. An absent one gets a one-element
// tensor, cached per device and per binding name (distinct names never alias, so a written
// placeholder never overlaps another binding), and the descriptor states 0 elements for it.
