// The training kernels' backward passes (src/kernels/train/) against PyTorch autograd in float64
// (test/fixtures/train/goldens.*, weights/make_train_goldens.py) at awkward sizes, then at one
// larger size per kernel that spans many workgroups against the float64 references of
// test/train/reference.ts (which are themselves checked against the goldens here first).
//
// Tolerances are per-element bounds for a float32 evaluation, derived from the sizes (see
// reference.ts): sums of n terms within γ_{n+1}·Σ|terms| (convolution, pooling and bilinear
// gradients, BN and CE reductions); the few elementwise operations around them count their
// roundings (and WGSL's stated exp/log/sqrt/division accuracies). Max-pool outputs and indices,
// ReLU's backward and accumulation of equal values are exact. Every check prints its largest error,
// the tolerance, and PyTorch's own float32 error on the same problem where the fixture records it.
import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/context.js';
import type { Tensor } from '../../src/gpu/tensor.js';
import { batchNormBackward, batchNormForward, type BatchNormLayer } from '../../src/kernels/train/batchnorm.js';
import { bilinearBackward } from '../../src/kernels/train/bilinear.js';
import { convGeometry, type ConvPlan } from '../../src/kernels/conv.js';
import { CONV_INPUT_PLANS, CONV_WEIGHT_PLANS, conv2dBackward, conv2dBackwardInput, conv2dBackwardWeight, type ConvWeightPlan } from '../../src/kernels/train/conv.js';
import { reluBackward } from '../../src/kernels/train/elementwise.js';
import { softmaxCrossEntropy } from '../../src/kernels/train/loss.js';
import { maxPool2dBackward, maxPool2dWithIndices } from '../../src/kernels/train/pool.js';
import { testGpu } from '../helpers/gpu.js';
import { rng } from '../helpers/rng.js';
import { check, checkRef, reportAfterAll } from './check.js';
import { golden, type Golden } from './golden.js';
import {
  batchNormRef, bilinearBackwardRef, conv2dBackwardRef, convOutSize, crossEntropyRef, gammaN, maxPoolBackwardRef, maxPoolRef,
  reluBackwardRef, sumBound, type ConvSpec, type Pair, type PoolSpec, type Shape4,
} from './reference.js';

reportAfterAll('training kernels vs references');

function randomF32(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

// ---------------------------------------------------------------------------------------------

describe('conv2d backward vs PyTorch autograd', () => {
  for (const name of ['conv_s2d2', 'conv_dw', 'conv_grouped']) {
    it(`${name}: dx, dw${name === 'conv_grouped' ? '' : ', db'}; accumulation`, async () => {
      const gpu = await testGpu();
      const gd = golden(name);
      const spec: ConvSpec = {
        x: gd.param<Shape4>('x_shape'), w: gd.param<Shape4>('w_shape_ohwi'),
        stride: gd.param<Pair>('stride'), padding: gd.param<Pair>('padding'), dilation: gd.param<Pair>('dilation'), groups: gd.param<number>('groups'),
      };
      const bias = gd.param<boolean>('bias');
      const x = gd.f32('x'), w = gd.f32('w'), dy = gd.f32('dy');
      const ref = conv2dBackwardRef(spec, x, w, dy);
      checkRef(`${name} dx`, ref.dx, gd.f64('dx'));
      checkRef(`${name} dw`, ref.dw, gd.f64('dw'));
      const tx = gpu.upload(x, spec.x), tw = gpu.upload(w, spec.w), tdy = gpu.upload(dy, gd.param<number[]>('y_shape'));
      const opts = { stride: spec.stride, padding: spec.padding, dilation: spec.dilation, groups: spec.groups, bias };
      const r = await conv2dBackward(gpu, tdy, tx, tw, opts);
      const [dx, dw] = [await gpu.readF32(r.dx!), await gpu.readF32(r.dw)];
      check(`${name} dx`, dx, gd.f64('dx'), sumBound(gd.f32('dx_abs'), ref.dxTerms), `γ_${ref.dxTerms + 1}·Σ|terms|`, gd.torch32Err('dx'));
      check(`${name} dw`, dw, gd.f64('dw'), sumBound(gd.f32('dw_abs'), ref.dwTerms), `γ_${ref.dwTerms + 1}·Σ|terms|`, gd.torch32Err('dw'));
      if (bias) check(`${name} db`, await gpu.readF32(r.db!), gd.f64('db'), sumBound(gd.f32('db_abs'), ref.dwTerms), `γ_${ref.dwTerms + 1}·Σ|terms|`, gd.torch32Err('db'));

      // Accumulating the same gradient again doubles it exactly (x + x is exact).
      await conv2dBackwardWeight(gpu, tdy, tx, spec.w, { ...opts, accumulate: true, dwOut: r.dw, dbOut: r.db });
      await conv2dBackwardInput(gpu, tdy, tw, spec.x, { ...opts, accumulate: true, out: r.dx });
      expect(Array.from(await gpu.readF32(r.dw))).toEqual(Array.from(dw, (v) => 2 * v));
      expect(Array.from(await gpu.readF32(r.dx!))).toEqual(Array.from(dx, (v) => 2 * v));
      gpu.release(tx, tw, tdy, r.dx!, r.dw, ...(r.db ? [r.db] : []));
    });
  }

  it('many workgroups: x [3, 10, 33, 29], w [12, 3, 3, 5], stride 2, padding (1, 2), dilation (1, 2), groups 2, bias; bit-identical reruns', async () => {
    const gpu = await testGpu();
    const spec: ConvSpec = { x: [3, 10, 33, 29], w: [12, 3, 3, 5], stride: [2, 2], padding: [1, 2], dilation: [1, 2], groups: 2 };
    const [ho, wo] = convOutSize(spec);
    const x = randomF32(size(spec.x), 11), w = randomF32(size(spec.w), 12), dy = randomF32(3 * 12 * ho * wo, 13);
    const ref = conv2dBackwardRef(spec, x, w, dy);
    const tx = gpu.upload(x, spec.x), tw = gpu.upload(w, spec.w), tdy = gpu.upload(dy, [3, 12, ho, wo]);
    const opts = { stride: spec.stride, padding: spec.padding, dilation: spec.dilation, groups: spec.groups, bias: true };
    const r = await conv2dBackward(gpu, tdy, tx, tw, opts);
    const dx = await gpu.readF32(r.dx!), dw = await gpu.readF32(r.dw), db = await gpu.readF32(r.db!);
    check('conv 3×10×33×29 dx (4 stride phases)', dx, ref.dx, sumBound(ref.dxAbs, ref.dxTerms), `γ_${ref.dxTerms + 1}·Σ|terms|`);
    check(`conv dw (split-K, ${ref.dwTerms} terms)`, dw, ref.dw, sumBound(ref.dwAbs, ref.dwTerms), `γ_${ref.dwTerms + 1}·Σ|terms|`);
    check('conv db', db, ref.db, sumBound(ref.dbAbs, ref.dwTerms), `γ_${ref.dwTerms + 1}·Σ|terms|`);
    const again = await conv2dBackward(gpu, tdy, tx, tw, opts);
    const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer).equals(Buffer.from(b.buffer));
    expect(same(await gpu.readF32(again.dw), dw), 'dw bit-identical on a rerun').toBe(true);
    expect(same(await gpu.readF32(again.db!), db), 'db bit-identical on a rerun').toBe(true);
    expect(same(await gpu.readF32(again.dx!), dx), 'dx bit-identical on a rerun').toBe(true);
    gpu.release(r.dx!, r.dw, r.db!, again.dx!, again.dw, again.db!);
    // The other adapter kind's plans (fma, larger workgroups and chunks), 4-wide blocks, and
    // one-row chunks (the most partial sums).
    const plans: [string, ConvWeightPlan, ConvPlan][] = [
      ['gpu plans', CONV_WEIGHT_PLANS.gpu, CONV_INPUT_PLANS.gpu],
      ['4×4 blocks', { tm: 4, tn: 4, wg: 8, chunk: 100, fused: false }, { tm: 4, tn: 4, wgM: 2, wgN: 4, fused: false }],
      ['8×4, one-row chunks', { tm: 8, tn: 4, wg: 32, chunk: 1, fused: false }, { tm: 8, tn: 4, wgM: 1, wgN: 16, fused: false }],
      ['4×8', { tm: 4, tn: 8, wg: 1, chunk: 5000, fused: false }, { tm: 4, tn: 8, wgM: 3, wgN: 1, fused: false }],
    ];
    for (const [what, plan, inputPlan] of plans) {
      const p = await conv2dBackward(gpu, tdy, tx, tw, { ...opts, plan, inputPlan });
      check(`conv dx, ${what}`, await gpu.readF32(p.dx!), ref.dx, sumBound(ref.dxAbs, ref.dxTerms), `γ_${ref.dxTerms + 1}·Σ|terms|`);
      check(`conv dw, ${what}`, await gpu.readF32(p.dw), ref.dw, sumBound(ref.dwAbs, ref.dwTerms), `γ_${ref.dwTerms + 1}·Σ|terms|`);
      check(`conv db, ${what}`, await gpu.readF32(p.db!), ref.db, sumBound(ref.dbAbs, ref.dwTerms), `γ_${ref.dwTerms + 1}·Σ|terms|`);
      gpu.release(p.dx!, p.dw, p.db!);
    }
    gpu.release(tx, tw, tdy);
  });

  // Awkward sizes against the float64 reference: single pixels, odd and prime sizes and channel
  // counts (partial register blocks, partial channel quads, partial column quads), strides whose
  // phases see different taps or none, dilation, groups, depthwise with a multiplier; each also
  // through the kernel the picker does not choose where both apply (the GEMM on a depthwise layer).
  const awkward: [string, ConvSpec, boolean][] = [
    ['1×1 image, 1 channel', { x: [1, 1, 1, 1], w: [1, 1, 1, 1], stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 }, true],
    ['1×1 image, 3×3 kernel padded', { x: [2, 3, 1, 1], w: [5, 3, 3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 }, true],
    ['7×13, 5→13, 3×3', { x: [2, 5, 7, 13], w: [13, 3, 3, 5], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 }, true],
    ['13×37, 7→9, stride 2', { x: [1, 7, 13, 37], w: [9, 3, 3, 7], stride: [2, 2], padding: [1, 1], dilation: [1, 1], groups: 1 }, false],
    ['37×19, 37→6, stride (3, 2), kernel 2×5, dilation (1, 3)', { x: [3, 37, 37, 19], w: [6, 2, 5, 37], stride: [3, 2], padding: [2, 3], dilation: [1, 3], groups: 1 }, true],
    ['stride 2, dilation 2, no padding: odd pixels get no tap', { x: [2, 4, 9, 11], w: [6, 3, 3, 4], stride: [2, 2], padding: [0, 0], dilation: [2, 2], groups: 1 }, true],
    ['height 1 < stride 2', { x: [2, 3, 1, 7], w: [5, 1, 3, 3], stride: [2, 2], padding: [0, 1], dilation: [1, 1], groups: 1 }, true],
    ['1×1 kernel, 64→11 (the classifier)', { x: [2, 64, 6, 9], w: [11, 1, 1, 64], stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 }, true],
    ['groups 4, 3 channels each, stride (1, 2)', { x: [2, 12, 9, 37], w: [8, 3, 3, 3], stride: [1, 2], padding: [1, 1], dilation: [1, 1], groups: 4 }, true],
    ['groups 3, 9→15, dilation 2', { x: [1, 9, 13, 13], w: [15, 3, 3, 3], stride: [1, 1], padding: [2, 2], dilation: [2, 2], groups: 3 }, false],
    ['depthwise ×2, stride 2', { x: [3, 5, 17, 13], w: [10, 3, 3, 1], stride: [2, 2], padding: [1, 1], dilation: [1, 1], groups: 5 }, true],
    ['depthwise, kernel 5×3, stride (2, 3), dilation 2', { x: [2, 7, 23, 19], w: [7, 5, 3, 1], stride: [2, 3], padding: [3, 1], dilation: [2, 2], groups: 7 }, true],
    ['depthwise 1×1 image', { x: [1, 3, 1, 1], w: [3, 1, 1, 1], stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 3 }, true],
  ];
  it(`awkward sizes (${awkward.length} geometries, each kernel variant that applies)`, async () => {
    const gpu = await testGpu();
    for (const [i, [what, spec, bias]] of awkward.entries()) {
      const [ho, wo] = convOutSize(spec);
      const x = randomF32(size(spec.x), 700 + 3 * i), w = randomF32(size(spec.w), 701 + 3 * i), dy = randomF32(spec.x[0] * spec.w[0] * ho * wo, 702 + 3 * i);
      const ref = conv2dBackwardRef(spec, x, w, dy);
      const tx = gpu.upload(x, spec.x), tw = gpu.upload(w, spec.w), tdy = gpu.upload(dy, [spec.x[0], spec.w[0], ho, wo]);
      const depthwise = spec.groups > 1 && spec.x[1] === spec.groups;
      for (const variant of depthwise ? (['depthwise', 'gemm'] as const) : (['gemm'] as const)) {
        const r = await conv2dBackward(gpu, tdy, tx, tw, { stride: spec.stride, padding: spec.padding, dilation: spec.dilation, groups: spec.groups, bias, variant });
        const name = `conv ${what}${depthwise ? ` (${variant})` : ''}`;
        check(`${name} dx`, await gpu.readF32(r.dx!), ref.dx, sumBound(ref.dxAbs, ref.dxTerms), `γ_${ref.dxTerms + 1}·Σ|terms|`);
        check(`${name} dw`, await gpu.readF32(r.dw), ref.dw, sumBound(ref.dwAbs, ref.dwTerms), `γ_${ref.dwTerms + 1}·Σ|terms|`);
        if (bias) check(`${name} db`, await gpu.readF32(r.db!), ref.db, sumBound(ref.dbAbs, ref.dwTerms), `γ_${ref.dwTerms + 1}·Σ|terms|`);
        gpu.release(r.dx!, r.dw, ...(r.db ? [r.db] : []));
      }
      gpu.release(tx, tw, tdy);
    }
    // The depthwise kernels refuse a layer with several input channels per group.
    const g = convGeometry([1, 4, 5, 5], [4, 3, 3, 2], { groups: 2 });
    const t = [gpu.empty([1, 4, g.ho, g.wo]), gpu.empty([4, 3, 3, 2]), gpu.empty([1, 4, 5, 5])] as const;
    await expect(conv2dBackwardInput(gpu, t[0], t[1], [1, 4, 5, 5], { groups: 2, variant: 'depthwise' })).rejects.toThrow(/one input channel per group/);
    await expect(conv2dBackwardWeight(gpu, t[0], t[2], [4, 3, 3, 2], { groups: 2, variant: 'depthwise' })).rejects.toThrow(/one input channel per group/);
    gpu.release(...t);
  });

  it('a NaN reaches exactly the gradients that depend on it (padding and block tails read zeros, not neighbours)', async () => {
    const gpu = await testGpu();
    for (const [what, spec] of [
      ['3×3 s1 p1', { x: [2, 6, 11, 13], w: [7, 3, 3, 6], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 }],
      ['3×3 s2 p1 d2', { x: [1, 5, 13, 10], w: [9, 3, 3, 5], stride: [2, 2], padding: [1, 1], dilation: [2, 2], groups: 1 }],
      ['depthwise 3×3 s2', { x: [1, 4, 9, 10], w: [4, 3, 3, 1], stride: [2, 2], padding: [1, 1], dilation: [1, 1], groups: 4 }],
    ] as [string, ConvSpec][]) {
      const [ho, wo] = convOutSize(spec);
      const x = randomF32(size(spec.x), 801), w = randomF32(size(spec.w), 802), dy = randomF32(spec.x[0] * spec.w[0] * ho * wo, 803);
      // NaN in dy at an edge output pixel, in x at the corner pixel.
      dy[wo - 1] = Number.NaN;
      x[0] = Number.NaN;
      const ref = conv2dBackwardRef(spec, x, w, dy);
      const tx = gpu.upload(x, spec.x), tw = gpu.upload(w, spec.w), tdy = gpu.upload(dy, [spec.x[0], spec.w[0], ho, wo]);
      const r = await conv2dBackward(gpu, tdy, tx, tw, { stride: spec.stride, padding: spec.padding, dilation: spec.dilation, groups: spec.groups, bias: true });
      const finite = (b: Float64Array) => b.map((v) => (Number.isNaN(v) ? 0 : v));
      check(`NaN ${what} dx`, await gpu.readF32(r.dx!), ref.dx, finite(sumBound(ref.dxAbs, ref.dxTerms)), 'NaN where the reference has one, else γ_n·Σ|terms|');
      check(`NaN ${what} dw`, await gpu.readF32(r.dw), ref.dw, finite(sumBound(ref.dwAbs, ref.dwTerms)), 'NaN where the reference has one, else γ_n·Σ|terms|');
      expect(ref.dw.some((v) => !Number.isNaN(v)), 'some weights do not see the NaN').toBe(true);
      gpu.release(tx, tw, tdy, r.dx!, r.dw, r.db!);
    }
  });
});

// ---------------------------------------------------------------------------------------------

function bnLayer(gpu: Gpu, gamma: Float32Array, beta: Float32Array, rm: Float32Array, rv: Float32Array, eps: number, momentum: number): BatchNormLayer {
  const c = gamma.length;
  return { gamma: gpu.upload(gamma, [c]), beta: gpu.upload(beta, [c]), runningMean: gpu.upload(rm, [c]), runningVar: gpu.upload(rv, [c]), eps, momentum };
}

const releaseLayer = (gpu: Gpu, l: BatchNormLayer) => gpu.release(l.gamma, l.beta, l.runningMean, l.runningVar);

async function statsOf(gpu: Gpu, stats: Tensor): Promise<{ mean: Float32Array; rstd: Float32Array }> {
  const s = await gpu.readF32(stats);
  return { mean: s.filter((_, i) => i % 2 === 0), rstd: s.filter((_, i) => i % 2 === 1) };
}

describe('batch norm vs PyTorch autograd', () => {
  it('training: batch statistics, running averages, dx, dγ, dβ', async () => {
    const gpu = await testGpu();
    const gd = golden('bn');
    const shape = gd.param<Shape4>('x_shape'), eps = gd.param<number>('eps'), momentum = gd.param<number>('momentum');
    const [x, g, gamma, beta, rm, rv] = ['x', 'g', 'gamma', 'beta', 'running_mean', 'running_var'].map((k) => gd.f32(k)) as Float32Array[];
    const ref = batchNormRef(shape, x!, g!, { gamma: gamma!, beta: beta!, runningMean: rm!, runningVar: rv!, eps, momentum, training: true });
    for (const [k, v] of [['y', ref.y], ['dx', ref.dx], ['dgamma', ref.dgamma], ['dbeta', ref.dbeta], ['running_mean', ref.runningMean], ['running_var', ref.runningVar]] as const) checkRef(`bn train ${k}`, v, gd.f64(`train_${k}`));
    const layer = bnLayer(gpu, gamma!, beta!, rm!, rv!, eps, momentum);
    const tx = gpu.upload(x!, shape), tg = gpu.upload(g!, shape);
    const f = await batchNormForward(gpu, tx, layer, { training: true });
    const st = await statsOf(gpu, f.stats);
    const M = shape[0] * shape[2] * shape[3];
    const e = (k: string) => gd.torch32Err(`train_${k}`);
    check('bn train mean', st.mean, gd.f64('train_mean'), ref.bounds.mean, `γ_${M}·mean|x|`, e('mean'));
    check('bn train rstd', st.rstd, gd.f64('train_rstd'), ref.bounds.rstd, `(γ_${M} + 6u)·rstd`, e('rstd'));
    check('bn train y', await gpu.readF32(f.y), gd.f64('train_y'), ref.bounds.y, 'from δmean, δrstd', e('y'));
    check('bn running_mean', await gpu.readF32(layer.runningMean), gd.f64('train_running_mean'), ref.bounds.runningMean, '4u·|terms| + momentum·δmean', e('running_mean'));
    check('bn running_var (unbiased)', await gpu.readF32(layer.runningVar), gd.f64('train_running_var'), ref.bounds.runningVar, `(γ_${M} + 6u)·|terms|`, e('running_var'));
    const b = await batchNormBackward(gpu, tg, tx, f.stats, layer.gamma, { training: true });
    check('bn train dx', await gpu.readF32(b.dx), gd.f64('train_dx'), ref.bounds.dx, `2γ_${M + 8}·Σ|terms|`, e('dx'));
    check('bn train dγ', await gpu.readF32(b.dgamma!), gd.f64('train_dgamma'), ref.bounds.dgamma, `γ_${M + 8}·Σ|g|(|x̂| + μ)`, e('dgamma'));
    check('bn train dβ', await gpu.readF32(b.dbeta!), gd.f64('train_dbeta'), ref.bounds.dbeta, `γ_${M}·Σ|g|`, e('dbeta'));

    // Accumulated parameter gradients double exactly; a fused ReLU is max(y, 0) of the same bits.
    const dgamma = await gpu.readF32(b.dgamma!);
    await batchNormBackward(gpu, tg, tx, f.stats, layer.gamma, { training: true, accumulate: true, dgammaOut: b.dgamma, dbetaOut: b.dbeta, out: b.dx });
    expect(Array.from(await gpu.readF32(b.dgamma!))).toEqual(Array.from(dgamma, (v) => 2 * v));
    const y = await gpu.readF32(f.y);
    const fr = await batchNormForward(gpu, tx, layer, { training: true, updateRunning: false, relu: true });
    expect(Array.from(await gpu.readF32(fr.y))).toEqual(Array.from(y, (v) => Math.max(v, 0)));
    gpu.release(tx, tg, f.y, f.stats, fr.y, fr.stats, b.dx, b.dgamma!, b.dbeta!);
    releaseLayer(gpu, layer);
  });

  it('frozen (eval mode): running statistics, dx = g·γ/√(running_var + eps), dγ, dβ; running buffers untouched', async () => {
    const gpu = await testGpu();
    const gd = golden('bn');
    const shape = gd.param<Shape4>('x_shape'), eps = gd.param<number>('eps'), momentum = gd.param<number>('momentum');
    const [x, g, gamma, beta, rm, rv] = ['x', 'g', 'gamma', 'beta', 'running_mean', 'running_var'].map((k) => gd.f32(k)) as Float32Array[];
    const ref = batchNormRef(shape, x!, g!, { gamma: gamma!, beta: beta!, runningMean: rm!, runningVar: rv!, eps, momentum, training: false });
    for (const [k, v] of [['y', ref.y], ['dx', ref.dx], ['dgamma', ref.dgamma], ['dbeta', ref.dbeta]] as const) checkRef(`bn eval ${k}`, v, gd.f64(`eval_${k}`));
    const layer = bnLayer(gpu, gamma!, beta!, rm!, rv!, eps, momentum);
    const tx = gpu.upload(x!, shape), tg = gpu.upload(g!, shape);
    const f = await batchNormForward(gpu, tx, layer, { training: false });
    const e = (k: string) => gd.torch32Err(`eval_${k}`);
    const M = shape[0] * shape[2] * shape[3];
    check('bn eval rstd', (await statsOf(gpu, f.stats)).rstd, gd.f64('eval_rstd'), ref.bounds.rstd, '6u·rstd', e('rstd'));
    check('bn eval y', await gpu.readF32(f.y), gd.f64('eval_y'), ref.bounds.y, '6u·|x̂γ| + 4u·(|y| + |β|)', e('y'));
    const b = await batchNormBackward(gpu, tg, tx, f.stats, layer.gamma, { training: false });
    check('bn eval dx', await gpu.readF32(b.dx), gd.f64('eval_dx'), ref.bounds.dx, '8u·|dx|', e('dx'));
    check('bn eval dγ', await gpu.readF32(b.dgamma!), gd.f64('eval_dgamma'), ref.bounds.dgamma, `(γ_${M + 8} + 6u)·Σ|g·x̂|`, e('dgamma'));
    check('bn eval dβ', await gpu.readF32(b.dbeta!), gd.f64('eval_dbeta'), ref.bounds.dbeta, `γ_${M}·Σ|g|`, e('dbeta'));
    expect(Array.from(await gpu.readF32(layer.runningMean))).toEqual(Array.from(rm!));
    expect(Array.from(await gpu.readF32(layer.runningVar))).toEqual(Array.from(rv!));
    // Without parameter gradients only dx is written, with the same values.
    const dx = await gpu.readF32(b.dx);
    const b2 = await batchNormBackward(gpu, tg, tx, f.stats, layer.gamma, { training: false, paramGrads: false });
    expect(b2.dgamma).toBeUndefined();
    expect(Array.from(await gpu.readF32(b2.dx))).toEqual(Array.from(dx));
    gpu.release(tx, tg, f.y, f.stats, b.dx, b.dgamma!, b.dbeta!, b2.dx);
    releaseLayer(gpu, layer);
  });

  it('many workgroups: x [3, 37, 17, 13] (37 channels, 663 values each over 64 lanes), training', async () => {
    const gpu = await testGpu();
    const shape: Shape4 = [3, 37, 17, 13];
    const c = 37, n = size(shape);
    const x = randomF32(n, 21, -3, 5), g = randomF32(n, 22);
    const gamma = randomF32(c, 23, 0.5, 1.5), beta = randomF32(c, 24), rm = randomF32(c, 25), rv = randomF32(c, 26, 0.5, 2);
    const ref = batchNormRef(shape, x, g, { gamma, beta, runningMean: rm, runningVar: rv, eps: 1e-5, momentum: 0.1, training: true });
    const layer = bnLayer(gpu, gamma, beta, rm, rv, 1e-5, 0.1);
    const tx = gpu.upload(x, shape), tg = gpu.upload(g, shape);
    const f = await batchNormForward(gpu, tx, layer, { training: true });
    const b = await batchNormBackward(gpu, tg, tx, f.stats, layer.gamma, { training: true });
    check('bn 3×37×17×13 y', await gpu.readF32(f.y), ref.y, ref.bounds.y, 'from δmean, δrstd');
    check('bn running_var', await gpu.readF32(layer.runningVar), ref.runningVar, ref.bounds.runningVar, '(γ_M + 6u)·|terms|');
    check('bn dx', await gpu.readF32(b.dx), ref.dx, ref.bounds.dx, '2γ_{M+8}·Σ|terms|');
    check('bn dγ', await gpu.readF32(b.dgamma!), ref.dgamma, ref.bounds.dgamma, 'γ_{M+8}·Σ|g|(|x̂| + μ)');
    check('bn dβ', await gpu.readF32(b.dbeta!), ref.dbeta, ref.bounds.dbeta, 'γ_M·Σ|g|');
    gpu.release(tx, tg, f.y, f.stats, b.dx, b.dgamma!, b.dbeta!);
    releaseLayer(gpu, layer);
  });
});

// ---------------------------------------------------------------------------------------------

describe('ReLU backward vs PyTorch autograd', () => {
  it('golden [2, 3, 5, 7] with exact zeros (no gradient at 0); 1297 elements with accumulation', async () => {
    const gpu = await testGpu();
    const gd = golden('relu');
    const shape = gd.param<Shape4>('x_shape');
    const x = gd.f32('x'), g = gd.f32('g');
    const y = Float32Array.from(x, (v) => Math.max(v, 0));
    checkRef('relu y', y, gd.f64('y'));
    const ty = gpu.upload(y, shape), tg = gpu.upload(g, shape);
    const dx = await reluBackward(gpu, tg, ty);
    check('relu dx', await gpu.readF32(dx), gd.f64('dx'), 0, 'exact');
    gpu.release(ty, tg, dx);

    const n = 1297, yy = randomF32(n, 31), gg = randomF32(n, 32), base = randomF32(n, 33);
    const t = [gpu.upload(yy, [n]), gpu.upload(gg, [n]), gpu.upload(base, [n])] as const;
    await reluBackward(gpu, t[1], t[0], { out: t[2], accumulate: true });
    const want = reluBackwardRef(gg, yy).map((v, i) => Math.fround(base[i]! + v));
    check('relu dx += (1297, 6 workgroups)', await gpu.readF32(t[2]), want, 0, 'exact (one f32 addition)');
    gpu.release(...t);
  });
});

// ---------------------------------------------------------------------------------------------

async function poolCase(gpu: Gpu, what: string, x: Float32Array, shape: Shape4, spec: PoolSpec, g: Float32Array | ((n: number) => Float32Array), gd?: Golden): Promise<void> {
  const planes = shape[0] * shape[1];
  const ref = maxPoolRef(x, planes, shape[2], shape[3], spec);
  const gArr = typeof g === 'function' ? g(ref.y.length) : g;
  const back = maxPoolBackwardRef(gArr, ref.idx, planes, shape[2], shape[3], ref.ho, ref.wo);
  if (gd) {
    checkRef(`${what} y`, ref.y, gd.f64('y'));
    expect(Array.from(ref.idx), 'reference indices = PyTorch').toEqual(Array.from(gd.u32('indices')));
    checkRef(`${what} dx`, back.dx, gd.f64('dx'));
  }
  const tx = gpu.upload(x, shape);
  const opts = { kernel: spec.kernel, stride: spec.stride, padding: spec.padding, dilation: spec.dilation, ceilMode: spec.ceilMode };
  const { y, indices } = await maxPool2dWithIndices(gpu, tx, opts);
  expect(y.shape).toEqual([shape[0], shape[1], ref.ho, ref.wo]);
  const tg = gpu.upload(gArr, y.shape);
  const dx = await maxPool2dBackward(gpu, tg, indices, shape, opts);
  check(`${what} y`, await gpu.readF32(y), gd ? gd.f64('y') : ref.y, 0, 'exact');
  check(`${what} indices`, (await gpu.read(indices)) as Uint32Array, gd ? gd.u32('indices') : ref.idx, 0, 'exact');
  check(`${what} dx`, await gpu.readF32(dx), gd ? gd.f64('dx') : back.dx, back.bound, 'γ_k·Σ|terms|');
  gpu.release(tx, tg, y, indices, dx);
}

describe('max pooling with indices vs PyTorch autograd', () => {
  it('golden [2, 3, 13, 11] k3 s2 p1 with ties (the first maximum wins)', async () => {
    const gd = golden('maxpool');
    await poolCase(await testGpu(), 'maxpool k3 s2 p1', gd.f32('x'), gd.param<Shape4>('x_shape'), { kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1], ceilMode: false }, gd.f32('g'), gd);
  });

  it('golden [1, 2, 12, 10] k(3, 2) s(2, 1) p(1, 0) d(2, 2) ceil_mode', async () => {
    const gd = golden('maxpool_dil');
    const spec: PoolSpec = { kernel: gd.param<Pair>('kernel'), stride: gd.param<Pair>('stride'), padding: gd.param<Pair>('padding'), dilation: gd.param<Pair>('dilation'), ceilMode: gd.param<boolean>('ceil_mode') };
    await poolCase(await testGpu(), 'maxpool dilated ceil', gd.f32('x'), gd.param<Shape4>('x_shape'), spec, gd.f32('g'), gd);
  });

  it('many workgroups: [2, 5, 37, 29] k3 s2 p1, quantised values (ties)', async () => {
    const shape: Shape4 = [2, 5, 37, 29];
    const x = randomF32(size(shape), 41, -2, 2).map((v) => Math.round(v * 4) / 4);
    await poolCase(await testGpu(), 'maxpool 2×5×37×29', x, shape, { kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1], ceilMode: false }, (n) => randomF32(n, 42));
  });
});

// ---------------------------------------------------------------------------------------------

describe('bilinear resize backward vs PyTorch autograd', () => {
  for (const name of ['bilinear_half', 'bilinear_align', 'bilinear_scale']) {
    it(name, async () => {
      const gpu = await testGpu();
      const gd = golden(name);
      const [n, c, h, w] = gd.param<Shape4>('x_shape');
      const [, , oh, ow] = gd.param<Shape4>('y_shape');
      const align = gd.param<boolean>('align_corners');
      const sf = name === 'bilinear_scale' ? gd.param<number>('scale_factor') : undefined;
      const g = gd.f32('g');
      const ref = bilinearBackwardRef(g, n * c, h, w, oh, ow, align, sf === undefined ? undefined : [sf, sf]);
      checkRef(`${name} dx`, ref.dx, gd.f64('dx'));
      const tg = gpu.upload(g, [n, c, oh, ow]);
      const dx = await gpu.readF32(await bilinearBackward(gpu, tg, [h, w], { alignCorners: align, scaleFactor: sf }));
      // Same float32 weights as PyTorch's float32 backward: only the summation order differs.
      const abs = gd.f32('dx_abs');
      check(`${name} dx vs torch float32`, dx, gd.f32('dx_f32'), Float64Array.from(abs, (a) => 2 * gammaN(ref.terms + 2) * a + 1e-30), `2γ_${ref.terms + 2}·Σ|terms|`);
      check(`${name} dx vs float64`, dx, gd.f64('dx'), ref.bound, `γ_${ref.terms + 2}·Σ|terms| + δλ·Σ|g|`, gd.torch32Err('dx'));
      gpu.release(tg);
    });
  }

  it('many workgroups: up [2, 3, 33, 41] → 65×81 align_corners, down [2, 3, 65, 81] → 33×41 (inputs without any tap get 0), accumulation', async () => {
    const gpu = await testGpu();
    for (const [inH, inW, outH, outW, align] of [[33, 41, 65, 81, true], [65, 81, 33, 41, false]] as const) {
      const g = randomF32(6 * outH * outW, 51 + inH);
      const ref = bilinearBackwardRef(g, 6, inH, inW, outH, outW, align);
      const tg = gpu.upload(g, [2, 3, outH, outW]);
      const dx = await bilinearBackward(gpu, tg, [inH, inW], { alignCorners: align });
      const got = await gpu.readF32(dx);
      check(`bilinear ${inH}×${inW}←${outH}×${outW}${align ? ' align' : ''}`, got, ref.dx, ref.bound, `γ_${ref.terms + 2}·Σ|terms| + δλ·Σ|g|`);
      await bilinearBackward(gpu, tg, [inH, inW], { alignCorners: align, out: dx, accumulate: true });
      expect(Array.from(await gpu.readF32(dx))).toEqual(Array.from(got, (v) => 2 * v));
      gpu.release(tg, dx);
    }
  });
});

// ---------------------------------------------------------------------------------------------

/** Labels as bytes packed four per u32 word (little-endian), the layout of seedmask's label maps. */
function packBytes(labels: ArrayLike<number>): Uint32Array {
  const out = new Uint32Array(Math.ceil(labels.length / 4));
  for (let i = 0; i < labels.length; i++) out[i >> 2]! |= (labels[i]! & 0xff) << (8 * (i & 3));
  return out;
}

describe('softmax cross-entropy (ignore 255, class weights, mean) vs PyTorch autograd', () => {
  for (const name of ['ce_weighted', 'ce_plain']) {
    it(`${name}: loss and dlogits; packed byte labels give the same bits`, async () => {
      const gpu = await testGpu();
      const gd = golden(name);
      const shape = gd.param<Shape4>('logits_shape');
      const [n, , h, w] = shape;
      const logits = gd.f32('logits'), labels = gd.u32('labels');
      const weights = gd.param<boolean>('weighted') ? gd.f32('class_weight') : undefined;
      const ref = crossEntropyRef(logits, labels, shape, weights, 255);
      checkRef(`${name} loss`, [ref.loss], gd.f64('loss'));
      checkRef(`${name} dlogits`, ref.dlogits, gd.f64('dlogits'));
      const tl = gpu.upload(logits, shape), tt = gpu.upload(labels, [n, h, w], 'u32'), tw = weights && gpu.upload(weights, [weights.length]);
      const r = await softmaxCrossEntropy(gpu, tl, tt, { classWeights: tw });
      const loss = await gpu.readF32(r.loss), d = await gpu.readF32(r.dlogits!);
      check(`${name} loss`, [loss[0]!], gd.f64('loss'), [ref.lossBound], 'per-pixel exp/log + γ_P·Σ|w·l|', gd.torch32Err('loss'));
      check(`${name} Σw`, [loss[2]!], [gd.param<number>('weight_sum')], [gammaN(n * h * w) * ref.weightSum + 1e-30], `γ_${n * h * w}·Σw`);
      check(`${name} dlogits`, d, gd.f64('dlogits'), ref.dBound, '(2e + γ_C + 3ulp)·p + (γ_P + 4u)·|d|', gd.torch32Err('dlogits'));
      const tp = gpu.upload(packBytes(labels), [Math.ceil(labels.length / 4)], 'u32');
      const rp = await softmaxCrossEntropy(gpu, tl, tp, { classWeights: tw, labelLayout: 'u8x4' });
      expect(Array.from(await gpu.readF32(rp.loss))).toEqual(Array.from(loss));
      expect(Buffer.from((await gpu.readF32(rp.dlogits!)).buffer).equals(Buffer.from(d.buffer))).toBe(true);
      gpu.release(tl, tt, tp, r.loss, r.dlogits!, rp.loss, rp.dlogits!, ...(tw ? [tw] : []));
    });
  }

  it('many workgroups: [2, 7, 37, 29] (34 pixel workgroups), gradScale 0.5; every pixel ignored → loss NaN, dlogits 0', async () => {
    const gpu = await testGpu();
    const shape: Shape4 = [2, 7, 37, 29];
    const [n, c, h, w] = shape;
    const logits = randomF32(size(shape), 61, -6, 6);
    const r = rng(62);
    const labels = Uint32Array.from({ length: n * h * w }, () => (r() < 0.2 ? 255 : Math.floor(r() * c)));
    const weights = randomF32(c, 63, 0.2, 2);
    const ref = crossEntropyRef(logits, labels, shape, weights, 255);
    const tl = gpu.upload(logits, shape), tt = gpu.upload(labels, [n, h, w], 'u32'), tw = gpu.upload(weights, [c]);
    const res = await softmaxCrossEntropy(gpu, tl, tt, { classWeights: tw, gradScale: 0.5 });
    check('ce 2×7×37×29 loss', [(await gpu.readF32(res.loss))[0]!], [ref.loss], [ref.lossBound], 'per-pixel exp/log + γ_P·Σ|w·l|');
    check('ce dlogits (×0.5)', await gpu.readF32(res.dlogits!), ref.dlogits.map((v) => 0.5 * v), ref.dBound.map((v) => 0.5 * v + 1e-30), '(2e + γ_C + 3ulp)·p + (γ_P + 4u)·|d|');

    const allIgnored = gpu.upload(new Uint32Array(n * h * w).fill(255), [n, h, w], 'u32');
    const none = await softmaxCrossEntropy(gpu, tl, allIgnored);
    expect(Number.isNaN((await gpu.readF32(none.loss))[0]!)).toBe(true);
    expect((await gpu.readF32(none.dlogits!)).every((v) => v === 0)).toBe(true);
    gpu.release(tl, tt, tw, res.loss, res.dlogits!, allIgnored, none.loss, none.dlogits!);
  });
});
