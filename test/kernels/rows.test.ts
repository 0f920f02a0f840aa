// The variant choice of row-wise kernels is plain data: checked here without a GPU.
import { describe, expect, it } from 'vitest';
import type { DeviceTraits } from '../../src/gpu/kernel.js';
import { chooseRowVariant, ROW_PLANS, ROW_THRESHOLDS, rowParams, rowPlan, rowWorkgroups } from '../../src/kernels/rows.js';

function traits(kind: 'swiftshader' | 'gpu', subgroups: boolean): DeviceTraits {
  return {
    adapter: { vendor: 'test', architecture: kind, device: '', description: '', kind, backend: 'node-dawn', subgroupMinSize: 4, subgroupMaxSize: 4 },
    features: { timestampQuery: false, subgroups, shaderF16: false },
    limits: { maxComputeWorkgroupsPerDimension: 65535 } as GPUSupportedLimits,
  };
}

describe('chooseRowVariant', () => {
  const ss = traits('swiftshader', true);
  it('SwiftShader: one invocation per row for many rows, short rows or strided rows', () => {
    expect(chooseRowVariant({ rows: 788, len: 768, inner: 1 }, ss)).toBe('invocation'); // ViT layernorm
    expect(chooseRowVariant({ rows: 2364, len: 197, inner: 1 }, ss)).toBe('invocation'); // ViT attention softmax
    expect(chooseRowVariant({ rows: ROW_THRESHOLDS.swiftshader.manyRows, len: 4097, inner: 1 }, ss)).toBe('invocation');
    expect(chooseRowVariant({ rows: 1, len: ROW_THRESHOLDS.swiftshader.longRow - 1, inner: 1 }, ss)).toBe('invocation');
    expect(chooseRowVariant({ rows: 7, len: 4097, inner: 7 }, ss)).toBe('invocation');
  });

  it('SwiftShader: a subgroup per row for a few long rows, if the device has subgroups; never a workgroup', () => {
    expect(chooseRowVariant({ rows: 1, len: 4097, inner: 1 }, ss)).toBe('subgroup');
    expect(chooseRowVariant({ rows: ROW_THRESHOLDS.swiftshader.manyRows - 1, len: ROW_THRESHOLDS.swiftshader.longRow, inner: 1 }, ss)).toBe('subgroup');
    expect(chooseRowVariant({ rows: 1, len: 4097, inner: 1 }, traits('swiftshader', false))).toBe('invocation');
    for (const rows of [1, 7, 197, 4097]) for (const len of [1, 7, 197, 768, 4097]) for (const inner of [1, 5]) {
      expect(chooseRowVariant({ rows, len, inner }, ss)).not.toBe('workgroup');
    }
  });

  it('GPU: workgroup per row for few long rows, subgroup for medium rows, invocation for short or strided rows', () => {
    const gpu = traits('gpu', true);
    expect(chooseRowVariant({ rows: 7, len: 4097, inner: 1 }, gpu)).toBe('workgroup');
    expect(chooseRowVariant({ rows: 7, len: 4097, inner: 7 }, gpu)).toBe('workgroup');
    expect(chooseRowVariant({ rows: 788, len: 768, inner: 1 }, gpu)).toBe('subgroup');
    expect(chooseRowVariant({ rows: 788, len: 768, inner: 1 }, traits('gpu', false))).toBe('workgroup');
    expect(chooseRowVariant({ rows: 4097, len: 7, inner: 1 }, gpu)).toBe('invocation');
    expect(chooseRowVariant({ rows: 768, len: 197, inner: 768 }, gpu)).toBe('invocation');
    expect(chooseRowVariant({ rows: 4096, len: 8192, inner: 1 }, gpu)).toBe('workgroup');
  });
});

describe('rowPlan', () => {
  it('takes the sizes from ROW_PLANS and honours a forced variant', () => {
    const plan = rowPlan('op', { rows: 788, len: 768, inner: 1 }, traits('swiftshader', true), 'workgroup');
    expect(plan).toEqual({ variant: 'workgroup', ...ROW_PLANS.swiftshader.workgroup });
    expect(rowParams(plan)).toEqual({ WG: plan.workgroupSize });
    const sg = rowPlan('op', { rows: 100, len: 768, inner: 1 }, traits('gpu', true), 'subgroup');
    expect(rowParams(sg)).toEqual({ WG: ROW_PLANS.gpu.subgroup.workgroupSize, ROWS: ROW_PLANS.gpu.subgroup.rowsPerWorkgroup });
    expect(rowWorkgroups(sg, 101, traits('gpu', true))).toEqual([Math.ceil(101 / ROW_PLANS.gpu.subgroup.rowsPerWorkgroup), 1]);
  });

  it('every workgroup-per-row size is a power of two (the tree reduction needs it)', () => {
    for (const kind of ['swiftshader', 'gpu'] as const) {
      const wg = ROW_PLANS[kind].workgroup.workgroupSize;
      expect(wg & (wg - 1)).toBe(0);
      expect(ROW_PLANS[kind].invocation.rowsPerWorkgroup).toBe(ROW_PLANS[kind].invocation.workgroupSize);
    }
  });

  it('refuses the subgroup variant without the feature, and unknown variants, naming the op', () => {
    expect(() => rowPlan('softmax', { rows: 1, len: 4097, inner: 1 }, traits('gpu', false), 'subgroup')).toThrow(/kernel 'softmax': variant 'subgroup' needs the 'subgroups' feature/);
    expect(() => rowPlan('softmax', { rows: 1, len: 1, inner: 1 }, traits('gpu', true), 'lane' as 'subgroup')).toThrow(/kernel 'softmax': unknown variant 'lane'/);
  });
});
