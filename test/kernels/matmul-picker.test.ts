// The matmul variant picker is plain data plus a small function: checked here without a GPU.
import { describe, expect, it } from 'vitest';
import {
  FEW_ROWS_REGISTER,
  MATMUL_RULES,
  MATMUL_VARIANTS,
  VARIANT_PLANS,
  checkMatmulPlan,
  pickMatmulPlan,
  ruleMatches,
  type AdapterKind,
  type MatmulPlan,
  type MatmulRule,
  type MatmulShape,
} from '../../src/kernels/matmul-picker.js';

const shape = (m: number, n: number, k: number, batch = 1): MatmulShape => ({ m, n, k, batch });

// ViT-B/16 at 224: 197 tokens; qkv, attention output, MLP up and down; and the 4-image batch.
const VIT = [shape(197, 2304, 768), shape(197, 768, 768), shape(197, 3072, 768), shape(197, 768, 3072), shape(788, 3072, 768), shape(1024, 1024, 1024)];

describe('pickMatmulPlan', () => {
  it('picks the barrier-free register kernel on SwiftShader, 4-row blocks for M ≤ 4', () => {
    for (const s of [...VIT, shape(7, 13, 5), shape(5, 768, 768), shape(197, 197, 64, 12), shape(32, 32, 4096)]) {
      expect(pickMatmulPlan(s, 'swiftshader')).toEqual(VARIANT_PLANS.swiftshader.register);
    }
    for (const s of [shape(1, 768, 768), shape(4, 3072, 768), shape(1, 1, 1)]) expect(pickMatmulPlan(s, 'swiftshader')).toEqual(FEW_ROWS_REGISTER);
    // fma is emulated there (2–4× slower than multiply-add)
    expect(VARIANT_PLANS.swiftshader.register.fused).toBe(false);
    expect(FEW_ROWS_REGISTER.fused).toBe(false);
  });

  it('on GPUs: gemv for M ≤ 4, split-K for small outputs with long K, else workgroup-memory tiles', () => {
    expect(pickMatmulPlan(shape(1, 768, 768), 'gpu').variant).toBe('gemv');
    expect(pickMatmulPlan(shape(4, 3072, 768), 'gpu').variant).toBe('gemv');
    expect(pickMatmulPlan(shape(64, 64, 4096), 'gpu').variant).toBe('splitk');
    for (const s of VIT) expect(pickMatmulPlan(s, 'gpu')).toEqual(VARIANT_PLANS.gpu.tiled);
    expect(VARIANT_PLANS.gpu.tiled.fused).toBe(true);
  });

  it('forces any variant by name (that adapter’s plan for it) or by a whole plan', () => {
    for (const adapter of ['swiftshader', 'gpu'] as AdapterKind[]) {
      for (const v of MATMUL_VARIANTS) expect(pickMatmulPlan(shape(197, 768, 768), adapter, v)).toEqual(VARIANT_PLANS[adapter][v]);
    }
    const plan: MatmulPlan = { variant: 'register', tm: 4, tn: 8, wgM: 2, wgN: 8, fused: true };
    expect(pickMatmulPlan(shape(5, 5, 5), 'swiftshader', plan)).toBe(plan);
  });

  it('takes another rule table, first match wins, and says when none matches', () => {
    const rules: MatmulRule[] = [
      { adapter: 'any', when: { minM: 100 }, plan: VARIANT_PLANS.gpu.tiled, why: 'test' },
      { adapter: 'gpu', when: { maxM: 99 }, plan: VARIANT_PLANS.gpu.gemv, why: 'test' },
    ];
    expect(pickMatmulPlan(shape(100, 1, 1), 'swiftshader', undefined, rules).variant).toBe('tiled');
    expect(pickMatmulPlan(shape(99, 1, 1), 'gpu', undefined, rules).variant).toBe('gemv');
    expect(() => pickMatmulPlan(shape(99, 2, 3, 4), 'swiftshader', undefined, rules)).toThrow(/matmul.*no rule matches \[4×\] 99×3 · 3×2 on swiftshader/);
  });

  it('rejects unknown variants and adapter kinds, naming them', () => {
    expect(() => pickMatmulPlan(shape(1, 1, 1), 'swiftshader', 'strassen' as 'tiled')).toThrow(/unknown variant 'strassen' \(known: register, tiled, gemv, splitk\)/);
    expect(() => pickMatmulPlan(shape(1, 1, 1), 'tpu' as AdapterKind)).toThrow(/unknown adapter kind 'tpu'/);
  });
});

describe('the rule table', () => {
  it('holds only valid plans, and each adapter ends with a rule that matches everything', () => {
    for (const rule of MATMUL_RULES) {
      expect(() => checkMatmulPlan(rule.plan), rule.why).not.toThrow();
      expect(rule.why.length).toBeGreaterThan(10);
    }
    for (const adapter of ['swiftshader', 'gpu'] as const) {
      const mine = MATMUL_RULES.filter((r) => r.adapter === adapter || r.adapter === 'any');
      expect(mine.at(-1)!.when).toEqual({});
    }
    for (const adapter of ['swiftshader', 'gpu'] as const) for (const v of MATMUL_VARIANTS) expect(() => checkMatmulPlan(VARIANT_PLANS[adapter][v])).not.toThrow();
  });

  it('matches bounds inclusively, with outputs counted over the batch', () => {
    expect(ruleMatches({ maxM: 4 }, shape(4, 9, 9))).toBe(true);
    expect(ruleMatches({ maxM: 4 }, shape(5, 9, 9))).toBe(false);
    expect(ruleMatches({ minK: 1024 }, shape(1, 1, 1024))).toBe(true);
    expect(ruleMatches({ maxOutputs: 100 }, shape(5, 10, 1, 2))).toBe(true);
    expect(ruleMatches({ maxOutputs: 100 }, shape(5, 10, 1, 3))).toBe(false);
    expect(ruleMatches({}, shape(0, 0, 0))).toBe(true);
  });
});

describe('checkMatmulPlan', () => {
  it('names the bad field and what it must be', () => {
    expect(() => checkMatmulPlan({ variant: 'register', tm: 6 as 4, tn: 4, wgM: 4, wgN: 4, fused: false })).toThrow(/register plan has tm = 6; it must be 4 or 8/);
    expect(() => checkMatmulPlan({ variant: 'register', tm: 4, tn: 4, wgM: 0, wgN: 4, fused: false })).toThrow(/wgM = 0; it must be a positive integer/);
    expect(() => checkMatmulPlan({ variant: 'tiled', wgM: 16, wgN: 16, bk: 2.5, fused: true })).toThrow(/tiled plan has bk = 2.5/);
    expect(() => checkMatmulPlan({ variant: 'gemv', wg: 48, fused: true })).toThrow(/gemv plan has wg = 48; it must be a power of two/);
    expect(() => checkMatmulPlan({ variant: 'splitk', kChunk: 0, partial: VARIANT_PLANS.gpu.tiled })).toThrow(/splitk plan has kChunk = 0/);
    expect(() => checkMatmulPlan({ variant: 'splitk', kChunk: 64, partial: VARIANT_PLANS.gpu.gemv as unknown as typeof VARIANT_PLANS.gpu.tiled })).toThrow(
      /splitk plan has partial = .*gemv.*; it must be a register or tiled plan/,
    );
  });
});
