// conv2d (implicit GEMM and depthwise kernels) against a plain float64 reference in PyTorch's
// semantics (OIHW weights, zero padding), at awkward sizes: 1×1, 7×7, 13×9 and 1×4097 maps,
// channels 3, 5, 7, 33, 65, strides 1/2, padding, dilation 2 and 12, groups and depthwise, and the
// fused epilogue act(conv + bias + residual). Also batch-norm folding: conv + BN(eval) == folded conv.
//
// Tolerance: f32 sums of at most 33·9 = 297 products of values in [-1, 1]; the rounding error of
// such a sum is ~√K·2⁻²⁴·(typical partial sum) ≈ 1e-6 and at worst K·2⁻²⁴·Σ|terms| ≈ 5e-4 (never
// reached in practice). atol 5e-5 + rtol 1e-5 leaves headroom; a wrong tap, channel or epilogue is
// off by O(0.1).
import { describe, expect, it } from 'vitest';
import { activateRef, type Activation } from '../../src/kernels/activation.js';
import { conv2d, convGeometry, foldBatchNorm, ohwiFromOihw, type ConvParams, type ConvPlan, type ConvVariant } from '../../src/kernels/conv.js';
import { Graph } from '../../src/graph/graph.js';
import { conv2dOp } from '../../src/graph/ops.js';
import { testGpu } from '../helpers/gpu.js';
import { expectClose, randomArray } from '../helpers/reference.js';

interface Case extends ConvParams {
  name: string;
  x: [number, number, number, number];
  /** PyTorch weight shape [Cout, Cin/groups, KH, KW]. */
  w: [number, number, number, number];
  bias?: boolean;
  residual?: boolean;
  activation?: Activation;
  variant?: ConvVariant;
  plan?: ConvPlan;
}

const pair = (v: ConvParams['stride'], d: number): [number, number] => (v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : [v[0], v[1]]);

/** float64 conv2d in PyTorch's semantics: x [N, Cin, H, W], w [Cout, Cin/g, KH, KW] (OIHW). */
function convRef(x: Float32Array, xs: number[], w: Float32Array, ws: number[], p: ConvParams, bias?: Float32Array, residual?: Float32Array, act: Activation = 'none'): Float64Array {
  const [n, cin, h, wd] = xs as [number, number, number, number];
  const [cout, cig, kh, kw] = ws as [number, number, number, number];
  const groups = p.groups ?? 1;
  const [sy, sx] = pair(p.stride, 1), [py, px] = pair(p.padding, 0), [dy, dx] = pair(p.dilation, 1);
  const ho = Math.floor((h + 2 * py - dy * (kh - 1) - 1) / sy) + 1;
  const wo = Math.floor((wd + 2 * px - dx * (kw - 1) - 1) / sx) + 1;
  const cog = cout / groups;
  const y = new Float64Array(n * cout * ho * wo);
  for (let b = 0; b < n; b++) {
    for (let co = 0; co < cout; co++) {
      const g = Math.floor(co / cog);
      for (let oy = 0; oy < ho; oy++) {
        for (let ox = 0; ox < wo; ox++) {
          let s = bias ? bias[co]! : 0;
          for (let c = 0; c < cig; c++) {
            const ci = g * cig + c;
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * sy - py + ky * dy;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = ox * sx - px + kx * dx;
                if (ix < 0 || ix >= wd) continue;
                s += w[((co * cig + c) * kh + ky) * kw + kx]! * x[((b * cin + ci) * h + iy) * wd + ix]!;
              }
            }
          }
          const at = ((b * cout + co) * ho + oy) * wo + ox;
          if (residual) s += residual[at]!;
          y[at] = activateRef(act, s);
        }
      }
    }
  }
  return y;
}

const CASES: Case[] = [
  { name: '1×1 map, 3→7, 1×1 kernel, bias, relu', x: [1, 3, 1, 1], w: [7, 3, 1, 1], bias: true, activation: 'relu' },
  { name: '7×7, 7→33, 3×3 pad 1, residual + relu (ResNet block end)', x: [1, 7, 7, 7], w: [33, 7, 3, 3], padding: 1, bias: true, residual: true, activation: 'relu' },
  { name: '13×9, 33→65, 3×3 stride 2 pad 1', x: [1, 33, 13, 9], w: [65, 33, 3, 3], stride: 2, padding: 1, bias: true },
  { name: '13×9, 7→9, 3×3 dilation 2 pad 2', x: [1, 7, 13, 9], w: [9, 7, 3, 3], padding: 2, dilation: 2 },
  { name: '13×9, 5→6, 3×3 dilation 12 pad 12 (ASPP on a small map)', x: [1, 5, 13, 9], w: [6, 5, 3, 3], padding: 12, dilation: 12, bias: true },
  { name: '19×23, 3→8, 7×7 stride 2 pad 3 (ResNet stem)', x: [1, 3, 19, 23], w: [8, 3, 7, 7], stride: 2, padding: 3, activation: 'relu' },
  { name: '13×9, 33→65, 1×1 stride 2 (downsample shortcut)', x: [1, 33, 13, 9], w: [65, 33, 1, 1], stride: 2 },
  { name: '1×4097, 5→3, 1×3 pad (0, 1)', x: [1, 5, 1, 4097], w: [3, 5, 1, 3], padding: [0, 1], bias: true },
  { name: 'batch 2, 7×7, 6→10, groups 2, stride (2, 1), dilation (1, 2)', x: [2, 6, 7, 7], w: [10, 3, 3, 3], groups: 2, stride: [2, 1], padding: [1, 2], dilation: [1, 2], bias: true, residual: true, activation: 'relu' },
  { name: 'groups 3 with 4×4 blocks forced, 13×9, 33→12', x: [1, 33, 13, 9], w: [12, 11, 3, 3], groups: 3, padding: 1, plan: { tm: 4, tn: 4, wgM: 2, wgN: 4, fused: false } },
  { name: 'fused (fma) plan, 7×7, 7→33', x: [1, 7, 7, 7], w: [33, 7, 3, 3], padding: 1, plan: { tm: 8, tn: 4, wgM: 2, wgN: 4, fused: true } },
  { name: 'depthwise 13×9, 7 channels, 3×3 pad 1, bias, relu', x: [1, 7, 13, 9], w: [7, 1, 3, 3], groups: 7, padding: 1, bias: true, activation: 'relu' },
  { name: 'depthwise multiplier 2, batch 2, stride 2, dilation 2, residual', x: [2, 7, 13, 9], w: [14, 1, 3, 3], groups: 7, stride: 2, padding: 2, dilation: 2, residual: true },
  { name: 'depthwise 1×1 map, 33 channels, 3×3 pad 1', x: [1, 33, 1, 1], w: [33, 1, 3, 3], groups: 33, padding: 1 },
  { name: 'depthwise shape through the GEMM kernel', x: [1, 7, 13, 9], w: [7, 1, 3, 3], groups: 7, padding: 1, bias: true, variant: 'gemm' },
];

describe('conv2d vs float64', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const gpu = await testGpu();
      const seed = c.name.length;
      const x = randomArray(c.x.reduce((a, b) => a * b), seed);
      const w = randomArray(c.w.reduce((a, b) => a * b), seed + 1);
      const bias = c.bias ? randomArray(c.w[0], seed + 2) : undefined;
      const g = convGeometry(c.x, [c.w[0], c.w[2], c.w[3], c.w[1]], c);
      const outShape = [g.batch, g.cout, g.ho, g.wo];
      const residual = c.residual ? randomArray(outShape.reduce((a, b) => a * b), seed + 3) : undefined;
      const tx = gpu.upload(x, c.x);
      const tw = gpu.upload(ohwiFromOihw(w, c.w), [c.w[0], c.w[2], c.w[3], c.w[1]]);
      const tb = bias ? gpu.upload(bias, [bias.length]) : undefined;
      const tr = residual ? gpu.upload(residual, outShape) : undefined;
      const y = await conv2d(gpu, tx, tw, { ...c, bias: tb, residual: tr, activation: c.activation, variant: c.variant, plan: c.plan });
      expect(y.shape).toEqual(outShape);
      const want = convRef(x, c.x, w, c.w, c, bias, residual, c.activation);
      expectClose(await gpu.readF32(y), want, { rtol: 1e-5, atol: 5e-5 }, c.name);
      gpu.release(tx, tw, y, ...[tb, tr].filter((t) => t !== undefined));
    });
  }

  it('padding reads zeros: an inf in the image reaches only the outputs whose window covers it', async () => {
    const gpu = await testGpu();
    for (const variant of ['gemm', 'depthwise'] as const) {
      const xs: [number, number, number, number] = [1, 4, 9, 11];
      const ws: [number, number, number, number] = variant === 'gemm' ? [5, 4, 3, 3] : [4, 1, 3, 3];
      const groups = variant === 'gemm' ? 1 : 4;
      const x = randomArray(4 * 9 * 11, 11);
      x[0] = Infinity; // channel 0, pixel (0, 0): the address padded taps are clamped to
      const w = randomArray(ws.reduce((a, b) => a * b), 12, 0.1, 1);
      const p = { padding: 2, dilation: 2, groups };
      const tx = gpu.upload(x, xs);
      const tw = gpu.upload(ohwiFromOihw(w, ws), [ws[0], 3, 3, ws[1]]);
      const y = await conv2d(gpu, tx, tw, { ...p, variant });
      const got = await gpu.readF32(y);
      const want = convRef(x, xs, w, ws, p);
      let infinite = 0;
      for (let i = 0; i < want.length; i++) if (!Number.isFinite(want[i]!)) infinite++;
      expect(infinite, variant).toBeGreaterThan(0);
      expect(infinite, variant).toBeLessThan(want.length / 4);
      expectClose(got, want, { rtol: 1e-5, atol: 5e-5 }, `${variant} with an inf at (0, 0)`);
      gpu.release(tx, tw, y);
    }
  });

  it('rejects bad arguments, naming the culprit', async () => {
    const gpu = await testGpu();
    const x = gpu.upload(new Float32Array(2 * 6 * 5 * 5), [2, 6, 5, 5]);
    const oihw = gpu.upload(new Float32Array(4 * 6 * 3 * 3), [4, 6, 3, 3]);
    await expect(conv2d(gpu, x, oihw)).rejects.toThrow(/binding 'weight'.*3 input channels per group.*needs 6.*OHWI/);
    const w = gpu.upload(new Float32Array(4 * 3 * 3 * 6), [4, 3, 3, 6]);
    await expect(conv2d(gpu, x, w, { groups: 4 })).rejects.toThrow(/input channels 6 are not a multiple of groups = 4/);
    await expect(conv2d(gpu, x, w, { dilation: 3 })).rejects.toThrow(/smaller than the 3×3 kernel.*output would be -1×-1/);
    await expect(conv2d(gpu, x, w, { stride: 0 })).rejects.toThrow(/stride 0 must be an integer ≥ 1/);
    await expect(conv2d(gpu, x.view([6, 5, 5, 2]), w)).rejects.toThrow(/binding 'weight'/);
    const bias = gpu.upload(new Float32Array(3), [3]);
    await expect(conv2d(gpu, x, w, { padding: 1, bias })).rejects.toThrow(/binding 'bias'.*3 elements; there are 4 output channels/);
    const res = gpu.upload(new Float32Array(10), [10]);
    await expect(conv2d(gpu, x, w, { padding: 1, residual: res })).rejects.toThrow(/binding 'residual'.*does not match the output \[2, 4, 5, 5\]/);
    await expect(conv2d(gpu, x, w, { variant: 'depthwise' })).rejects.toThrow(/one input channel per group/);
    gpu.release(x, oihw, w, bias, res);
  });
});

describe('batch-norm folding', () => {
  it('conv + BatchNorm2d(eval) equals the folded conv (with and without a conv bias)', async () => {
    const gpu = await testGpu();
    const xs: [number, number, number, number] = [1, 7, 13, 9];
    const ws: [number, number, number, number] = [33, 7, 3, 3];
    const x = randomArray(7 * 13 * 9, 21);
    const w = randomArray(33 * 7 * 9, 22);
    const bn = {
      gamma: randomArray(33, 23, 0.5, 1.5),
      beta: randomArray(33, 24, -0.5, 0.5),
      mean: randomArray(33, 25, -0.3, 0.3),
      variance: randomArray(33, 26, 0.2, 3),
      eps: 1e-5,
    };
    for (const convBias of [undefined, randomArray(33, 27)]) {
      const p = { stride: 2, padding: 1 };
      // Reference: the conv in float64, then BN in float64, as PyTorch's eval-mode module pair.
      const conv = convRef(x, xs, w, ws, p, convBias);
      const hw = conv.length / 33;
      const want = conv.map((v, i) => {
        const c = Math.floor(i / hw);
        return ((v - bn.mean[c]!) / Math.sqrt(bn.variance[c]! + bn.eps)) * bn.gamma[c]! + bn.beta[c]!;
      });
      const folded = foldBatchNorm(w, 33, convBias, bn);
      const tx = gpu.upload(x, xs);
      const tw = gpu.upload(ohwiFromOihw(folded.weight, ws), [33, 3, 3, 7]);
      const tb = gpu.upload(folded.bias, [33]);
      const y = await conv2d(gpu, tx, tw, { ...p, bias: tb });
      // The folded weights carry one extra f32 rounding of W·s (s up to 1.5/√0.2 ≈ 3.4).
      expectClose(await gpu.readF32(y), want, { rtol: 1e-5, atol: 2e-4 }, `folded BN, conv bias ${convBias ? 'yes' : 'no'}`);
      gpu.release(tx, tw, tb, y);
    }
  });

  it('rejects mismatched parameters and a non-positive variance', () => {
    const w = new Float32Array(12);
    const ok = { gamma: new Float32Array(3), beta: new Float32Array(3), mean: new Float32Array(3), variance: new Float32Array(3).fill(1), eps: 1e-5 };
    expect(() => foldBatchNorm(w, 3, undefined, { ...ok, mean: new Float32Array(4) })).toThrow(/mean has 4 entries; the convolution has 3 output channels/);
    expect(() => foldBatchNorm(w, 3, undefined, { ...ok, variance: Float32Array.of(1, -1, 1), eps: 0 })).toThrow(/channel 1: running_var \+ eps = -1/);
    expect(() => foldBatchNorm(w, 5, undefined, ok)).toThrow(/12 weights are not 5 output channels/);
  });
});

describe('conv2d graph op', () => {
  it('infers the output shape and rejects miswired inputs, naming the node', () => {
    const g = new Graph();
    const x = g.input('x', [1, 7, 13, 9]);
    const w = g.weight('w', new Float32Array(33 * 9 * 7), [33, 3, 3, 7]);
    const [y] = g.apply(conv2dOp, [x, w], { stride: 2, padding: 1, activation: 'relu' }, 'c1');
    expect(y!.shape).toEqual([1, 33, 7, 5]);
    const oihw = g.weight('w_oihw', new Float32Array(33 * 7 * 9), [33, 7, 3, 3]);
    expect(() => g.apply(conv2dOp, [x, oihw], {}, 'c2')).toThrow(/c2 \(conv2d\):.*has 3 input channels per group; x \[1, 7, 13, 9\] with groups = 1 needs 7/);
    const r = g.input('r', [1, 33, 13, 9]);
    expect(() => g.apply(conv2dOp, [x, w, undefined, r], { stride: 2, padding: 1 }, 'c3')).toThrow(/c3 \(conv2d\): residual \[1, 33, 13, 9\] must match the output \[1, 33, 7, 5\]/);
  });
});
