// Optimizer steps and gradient accumulation (src/kernels/train/optim.ts, elementwise.ts) against
// torch.optim.SGD / AdamW run for three steps in float64 and float32 (test/fixtures/train/goldens.*),
// with the poly learning rate of each step passed as a uniform, then at a size spanning several
// workgroups against the float64 references of reference.ts.
//
// Tolerance: steps × operations per step × u × the parameters' magnitude (optimizerBound): every
// float32 operation of a step rounds once (SGD 6 incl. the lr product; AdamW 16, counting WGSL's
// sqrt and division as 4 and 3 ulp), and earlier errors carry forward unamplified. The moments:
// a few roundings of their own magnitude.
import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/context.js';
import { accumulateGrad } from '../../src/kernels/train/elementwise.js';
import { adamwStep, polyLr, sgdStep } from '../../src/kernels/train/optim.js';
import { testGpu } from '../helpers/gpu.js';
import { rng } from '../helpers/rng.js';
import { check, checkRef, reportAfterAll } from './check.js';
import { golden } from './golden.js';
import { adamwRef, maxAbs, optimizerBound, sgdRef, U } from './reference.js';

reportAfterAll('optimizer steps vs references');

const SGD_OPS = 6;
const ADAMW_OPS = 16;

function randomF32(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

interface SgdCase {
  size: number;
  p0: Float32Array;
  grads: Float32Array[];
  lrs: number[];
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/** SGD steps on the GPU: the parameters after each step and the final momentum buffer. */
async function runSgd(gpu: Gpu, c: SgdCase): Promise<{ params: Float32Array[]; buffer: Float32Array }> {
  const p = gpu.upload(c.p0, [c.size]), buf = gpu.empty([c.size]), g = gpu.empty([c.size]);
  const params: Float32Array[] = [];
  for (let s = 0; s < c.grads.length; s++) {
    gpu.write(g, c.grads[s]!);
    await sgdStep(gpu, p, g, { momentumBuffer: buf, step: s + 1 }, { lr: c.lrs[s]!, momentum: c.momentum, dampening: c.dampening, weightDecay: c.weightDecay, nesterov: c.nesterov });
    params.push(await gpu.readF32(p));
  }
  const buffer = await gpu.readF32(buf);
  gpu.release(p, buf, g);
  return { params, buffer };
}

describe('SGD with momentum, weight decay and a poly learning rate vs torch.optim.SGD', () => {
  for (const name of ['sgd', 'sgd_nesterov', 'sgd_dampening']) {
    it(`${name}: 3 steps`, async () => {
      const gpu = await testGpu();
      const gd = golden(name);
      const size = gd.param<number>('size'), steps = gd.param<number>('steps');
      const lrs = gd.param<number[]>('lr');
      // The schedule itself: polyLr reproduces the generator's learning rates.
      lrs.forEach((lr, i) => expect(polyLr(gd.param('base_lr'), i, gd.param('max_iter'), gd.param('power'))).toBeCloseTo(lr, 15));
      const all = gd.f32('grads');
      const c: SgdCase = {
        size, p0: gd.f32('p0'), grads: Array.from({ length: steps }, (_, s) => all.subarray(s * size, (s + 1) * size)), lrs,
        momentum: gd.param('momentum'), dampening: gd.param('dampening'), weightDecay: gd.param('weight_decay'), nesterov: gd.param('nesterov'),
      };
      const ref = sgdRef(c.p0, c.grads, lrs, c);
      const want = gd.f64('params'), want32 = gd.f32('params_f32');
      checkRef(`${name} params`, ref.params.flatMap((r) => Array.from(r)), want);
      const got = await runSgd(gpu, c);
      const scale = maxAbs(want);
      for (let s = 0; s < steps; s++) {
        const w = want.subarray(s * size, (s + 1) * size);
        check(`${name} p after step ${s + 1}`, got.params[s]!, w, optimizerBound(s + 1, SGD_OPS, scale), `${s + 1}·${SGD_OPS}·u·max|p|`, s === steps - 1 ? gd.torch32Err('params') : undefined);
        check(`${name} p after step ${s + 1} vs torch f32`, got.params[s]!, want32.subarray(s * size, (s + 1) * size), 2 * optimizerBound(s + 1, SGD_OPS, scale), `2·${s + 1}·${SGD_OPS}·u·max|p|`);
      }
      check(`${name} momentum buffer`, got.buffer, gd.f64('momentum_buffer'), optimizerBound(steps, 4, maxAbs(gd.f64('momentum_buffer'))), `${steps}·4·u·max|buf|`, gd.torch32Err('momentum_buffer'));
    });
  }

  it('without momentum no buffer is bound; 1297 elements (6 workgroups) vs float64', async () => {
    const gpu = await testGpu();
    const n = 1297;
    const c: SgdCase = { size: n, p0: randomF32(n, 71), grads: [randomF32(n, 72), randomF32(n, 73)], lrs: [0.1, 0.05], momentum: 0, dampening: 0, weightDecay: 1e-3, nesterov: false };
    const got = await runSgd(gpu, c);
    const ref = sgdRef(c.p0, c.grads, c.lrs, c);
    check('sgd plain 1297 p after 2 steps', got.params[1]!, ref.params[1]!, optimizerBound(2, SGD_OPS, maxAbs(ref.params[1]!)), '2·6·u·max|p|');
    const m: SgdCase = { ...c, momentum: 0.9, nesterov: true };
    const gotM = await runSgd(gpu, m);
    const refM = sgdRef(m.p0, m.grads, m.lrs, m);
    check('sgd nesterov 1297 p after 2 steps', gotM.params[1]!, refM.params[1]!, optimizerBound(2, SGD_OPS, maxAbs(refM.params[1]!)), '2·6·u·max|p|');
  });
});

async function runAdamw(gpu: Gpu, size: number, p0: Float32Array, grads: Float32Array[], lrs: number[], o: { betas: [number, number]; eps: number; weightDecay: number }) {
  const p = gpu.upload(p0, [size]), m = gpu.upload(new Float32Array(size), [size]), v = gpu.upload(new Float32Array(size), [size]), g = gpu.empty([size]);
  const params: Float32Array[] = [];
  for (let s = 0; s < grads.length; s++) {
    gpu.write(g, grads[s]!);
    await adamwStep(gpu, p, g, { expAvg: m, expAvgSq: v, step: s + 1 }, { lr: lrs[s]!, betas: o.betas, eps: o.eps, weightDecay: o.weightDecay });
    params.push(await gpu.readF32(p));
  }
  const out = { params, expAvg: await gpu.readF32(m), expAvgSq: await gpu.readF32(v) };
  gpu.release(p, m, v, g);
  return out;
}

describe('AdamW vs torch.optim.AdamW', () => {
  it('adamw: 3 steps (bias correction, decoupled decay, some zero gradients)', async () => {
    const gpu = await testGpu();
    const gd = golden('adamw');
    const size = gd.param<number>('size'), steps = gd.param<number>('steps'), lrs = gd.param<number[]>('lr');
    const o = { betas: gd.param<[number, number]>('betas'), eps: gd.param<number>('eps'), weightDecay: gd.param<number>('weight_decay') };
    const all = gd.f32('grads');
    const grads = Array.from({ length: steps }, (_, s) => all.subarray(s * size, (s + 1) * size));
    const p0 = gd.f32('p0');
    const ref = adamwRef(p0, grads, lrs, o);
    const want = gd.f64('params'), want32 = gd.f32('params_f32');
    checkRef('adamw params', ref.params.flatMap((r) => Array.from(r)), want);
    const got = await runAdamw(gpu, size, p0, grads, lrs, o);
    const scale = maxAbs(want);
    for (let s = 0; s < steps; s++) {
      check(`adamw p after step ${s + 1}`, got.params[s]!, want.subarray(s * size, (s + 1) * size), optimizerBound(s + 1, ADAMW_OPS, scale), `${s + 1}·${ADAMW_OPS}·u·max|p|`, s === steps - 1 ? gd.torch32Err('params') : undefined);
      check(`adamw p after step ${s + 1} vs torch f32`, got.params[s]!, want32.subarray(s * size, (s + 1) * size), 2 * optimizerBound(s + 1, ADAMW_OPS, scale), `2·${s + 1}·${ADAMW_OPS}·u·max|p|`);
    }
    check('adamw exp_avg', got.expAvg, gd.f64('exp_avg'), optimizerBound(steps, 3, maxAbs(gd.f64('exp_avg'))), `${steps}·3·u·max|m|`, gd.torch32Err('exp_avg'));
    check('adamw exp_avg_sq', got.expAvgSq, gd.f64('exp_avg_sq'), optimizerBound(steps, 4, maxAbs(gd.f64('exp_avg_sq'))), `${steps}·4·u·max|v|`, gd.torch32Err('exp_avg_sq'));
  });

  it('1297 elements (6 workgroups), 4 steps with a poly schedule vs float64', async () => {
    const gpu = await testGpu();
    const n = 1297, steps = 4;
    const p0 = randomF32(n, 81), grads = Array.from({ length: steps }, (_, s) => randomF32(n, 82 + s, -0.1, 0.1));
    const lrs = Array.from({ length: steps }, (_, s) => polyLr(1e-2, s, 10));
    const o = { betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0.01 };
    const got = await runAdamw(gpu, n, p0, grads, lrs, o);
    const ref = adamwRef(p0, grads, lrs, o);
    check('adamw 1297 p after 4 steps', got.params[steps - 1]!, ref.params[steps - 1]!, optimizerBound(steps, ADAMW_OPS, maxAbs(ref.params[steps - 1]!)), `4·${ADAMW_OPS}·u·max|p|`);
  });
});

describe('gradient accumulation (residual adds: the sum of what flows back from each consumer)', () => {
  it('acc += g exactly; acc += α·g within one rounding of each operation; 1297 elements', async () => {
    const gpu = await testGpu();
    const n = 1297;
    const a = randomF32(n, 91), g = randomF32(n, 92);
    const ta = gpu.upload(a, [n]), tg = gpu.upload(g, [n]);
    await accumulateGrad(gpu, ta, tg);
    check('grad_accumulate α = 1', await gpu.readF32(ta), Array.from(a, (v, i) => Math.fround(v + g[i]!)), 0, 'exact (one f32 addition)');
    const once = await gpu.readF32(ta);
    await accumulateGrad(gpu, ta, tg, { alpha: 0.3 });
    const want = Array.from(once, (v, i) => v + 0.3 * g[i]!);
    check('grad_accumulate α = 0.3', await gpu.readF32(ta), want, want.map((w, i) => 3 * U * (Math.abs(w) + Math.abs(0.3 * g[i]!)) + 1e-30), '3u·(|acc| + |αg|)');
    gpu.release(ta, tg);
  });
});
