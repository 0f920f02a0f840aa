// The tape (src/train/autodiff.ts) on the residual network of test/train/chain.test.ts:
//   h = relu(bn(conv3x3(x, w1)) + x);  p = maxpool3x3s2p1(h);  logits = conv1x1(p, w2) + b2;
//   up = bilinear(logits, 13×11);  loss = CE(up, labels, class weights, ignore 255)
// with every input a parameter (x too, so that its gradient sums the residual's two paths):
//   - loss and gradients within the chain test's bounds of PyTorch autograd (float64 goldens,
//     test/fixtures/train/, case 'chain'), and bit-identical to the kernels chained by hand;
//   - what the tape leaves in the pool: nothing but the loss (on a second pass, once the resampling
//     tables are cached);
//   - a value read twice (c + c) collects both gradients: bit-exactly twice those of conv(x, 2w);
//   - several losses in one tape sum (dlogits seeded and added where they share a value), a loss's
//     scale scales its gradient, and accumulateGrads adds a tape's gradients to those held: two
//     losses on one value, one loss of scale 2, and two tapes of which the second accumulates, all
//     bit-identical (scaling by 2 and x + x are exact in float32).
import { describe, expect, it } from 'vitest';
import { bilinear } from '../../src/kernels/bilinear.js';
import { conv2d } from '../../src/kernels/conv.js';
import { binary } from '../../src/kernels/elementwise.js';
import { batchNormBackward, batchNormForward } from '../../src/kernels/train/batchnorm.js';
import { bilinearBackward } from '../../src/kernels/train/bilinear.js';
import { conv2dBackward } from '../../src/kernels/train/conv.js';
import { accumulateGrad, reluBackward } from '../../src/kernels/train/elementwise.js';
import { softmaxCrossEntropy } from '../../src/kernels/train/loss.js';
import { maxPool2dBackward, maxPool2dWithIndices } from '../../src/kernels/train/pool.js';
import type { Gpu } from '../../src/gpu/context.js';
import type { Tensor } from '../../src/gpu/tensor.js';
import { Tape, type Param } from '../../src/train/autodiff.js';
import { testGpu } from '../helpers/gpu.js';
import { rng } from '../helpers/rng.js';
import { check, reportAfterAll } from './check.js';
import { golden } from './golden.js';
import { gammaN, maxAbs, type Shape4 } from './reference.js';

reportAfterAll('the tape on the residual network');

const param = (gpu: Gpu, name: string, data: Float32Array, shape: number[]): Param => ({ name, value: gpu.upload(data, shape), grad: gpu.empty(shape) });
const bits = async (gpu: Gpu, t: Tensor) => Buffer.from((await gpu.readF32(t)).buffer);
const f32Bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('Tape', () => {
  it('residual network: PyTorch autograd within bounds, the hand-chained kernels bit for bit, nothing left in the pool', async () => {
    const gpu = await testGpu();
    const gd = golden('chain');
    const [n, c, h, w] = gd.param<Shape4>('x_shape');
    const classes = gd.param<number>('classes');
    const pool = { kernel: 3, stride: 2, padding: 1 } as const;
    const p = {
      x: param(gpu, 'x', gd.f32('x'), [n, c, h, w]),
      w1: param(gpu, 'w1', gd.f32('w1'), [c, 3, 3, c]),
      w2: param(gpu, 'w2', gd.f32('w2'), [classes, 1, 1, c]),
      b2: param(gpu, 'b2', gd.f32('b2'), [classes]),
      gamma: param(gpu, 'gamma', gd.f32('gamma'), [c]),
      beta: param(gpu, 'beta', gd.f32('beta'), [c]),
    };
    const labels = gpu.upload(gd.u32('labels'), [n, h, w], 'u32');
    const weights = gpu.upload(gd.f32('class_weight'), [classes]);
    const eps = gd.param<number>('eps'), momentum = gd.param<number>('momentum');
    const freshRunning = () => ({ mean: gpu.upload(new Float32Array(c), [c]), var: gpu.upload(new Float32Array(c).fill(1), [c]) });

    const pass = async () => {
      const running = freshRunning();
      const tape = new Tape(gpu);
      const x = tape.param(p.x);
      const c1 = await tape.conv2d(x, tape.param(p.w1), { padding: 1 });
      const bn = await tape.batchNorm(c1, tape.param(p.gamma), tape.param(p.beta), running, { eps, momentum });
      const hid = await tape.add(bn, x, { relu: true });
      const pooled = await tape.maxPool(hid, pool);
      const logits = await tape.conv2d(pooled, tape.param(p.w2), { bias: tape.param(p.b2) });
      const up = await tape.bilinear(logits, [h, w]);
      const loss = await tape.crossEntropy(up, labels, { classWeights: weights });
      const updated = await tape.backward();
      return { loss, updated, running };
    };

    const first = await pass();
    expect([...first.updated].map((q) => q.name).sort()).toEqual(Object.keys(p).sort());
    const tol = (key: string) => 4 * gammaN(n * h * w) * maxAbs(gd.f64(key));
    const note = `4γ_${n * h * w}·max|ref|`;
    check('tape loss', [(await gpu.readF32(first.loss))[0]!], gd.f64('loss'), tol('loss'), note, gd.torch32Err('loss'));
    const grads = { dx: p.x, dw1: p.w1, dgamma: p.gamma, dbeta: p.beta, dw2: p.w2, db2: p.b2 };
    for (const [key, q] of Object.entries(grads)) check(`tape ${key}`, await gpu.readF32(q.grad), gd.f64(key), tol(key), note, gd.torch32Err(key));

    // The same network chained by hand (chain.test.ts's order): bit-identical.
    const running = freshRunning();
    const layer = { gamma: p.gamma.value, beta: p.beta.value, runningMean: running.mean, runningVar: running.var, eps, momentum };
    const c1 = await conv2d(gpu, p.x.value, p.w1.value, { padding: 1 });
    const bn = await batchNormForward(gpu, c1, layer, { training: true });
    const hid = await binary(gpu, 'add', bn.y, p.x.value, { activation: 'relu' });
    const pooled = await maxPool2dWithIndices(gpu, hid, pool);
    const logits = await conv2d(gpu, pooled.y, p.w2.value, { bias: p.b2.value });
    const up = await bilinear(gpu, logits, [h, w]);
    const ce = await softmaxCrossEntropy(gpu, up, labels, { classWeights: weights });
    const dLogits = await bilinearBackward(gpu, ce.dlogits!, [logits.shape[2]!, logits.shape[3]!]);
    const head = await conv2dBackward(gpu, dLogits, pooled.y, p.w2.value, { bias: true });
    const dHid = await maxPool2dBackward(gpu, head.dx!, pooled.indices, hid.shape, pool);
    const dSum = await reluBackward(gpu, dHid, hid);
    const dBn = await batchNormBackward(gpu, dSum, c1, bn.stats, p.gamma.value, { training: true });
    const body = await conv2dBackward(gpu, dBn.dx, p.x.value, p.w1.value, { padding: 1 });
    await accumulateGrad(gpu, body.dx!, dSum);
    const hand = { dx: body.dx!, dw1: body.dw, dgamma: dBn.dgamma!, dbeta: dBn.dbeta!, dw2: head.dw, db2: head.db! };
    expect((await bits(gpu, first.loss)).equals(await bits(gpu, ce.loss)), 'loss').toBe(true);
    for (const [key, q] of Object.entries(grads)) expect((await bits(gpu, q.grad)).equals(await bits(gpu, hand[key as keyof typeof hand])), key).toBe(true);
    for (const k of ['mean', 'var'] as const) expect((await bits(gpu, first.running[k])).equals(await bits(gpu, k === 'mean' ? running.mean : running.var)), `running ${k}`).toBe(true);
    gpu.release(running.mean, running.var, c1, bn.y, bn.stats, hid, pooled.y, pooled.indices, logits, up, ce.loss, ce.dlogits!, dLogits,
      head.dx!, head.dw, head.db!, dHid, dSum, dBn.dx, dBn.dgamma!, dBn.dbeta!, body.dx!, body.dw);

    // A second pass (resampling tables now cached): the pool grows by the loss tensor only.
    gpu.release(first.loss, first.running.mean, first.running.var);
    const before = gpu.pool.stats();
    const second = await pass();
    const after = gpu.pool.stats();
    expect(after.liveBuffers - before.liveBuffers).toBe(3); // loss, running mean, running var
    gpu.release(second.loss, second.running.mean, second.running.var);
    expect(gpu.pool.stats().liveBytes).toBe(before.liveBytes);
    for (const q of Object.values(p)) gpu.release(q.value, q.grad);
    gpu.release(labels, weights);
  });

  it('a value read twice collects both gradients (c + c vs conv with 2w, bit-exact)', async () => {
    const gpu = await testGpu();
    const r = rng(5);
    const [n, ci, h, w, k] = [2, 3, 5, 7, 4];
    const xs = Float32Array.from({ length: n * ci * h * w }, () => r() * 2 - 1);
    const ws = Float32Array.from({ length: k * ci }, () => r() - 0.5);
    const labels = gpu.upload(Uint32Array.from({ length: n * h * w }, (_, i) => (i % 7 === 0 ? 255 : Math.floor(r() * k))), [n * h * w], 'u32');
    const x = gpu.upload(xs, [n, ci, h, w]);
    const run = async (scale: number, twice: boolean) => {
      const q = param(gpu, 'w', ws.map((v) => scale * v), [k, 1, 1, ci]);
      const tape = new Tape(gpu);
      const conv = await tape.conv2d(tape.input(x), tape.param(q));
      const logits = twice ? await tape.add(conv, conv) : conv;
      const loss = await tape.crossEntropy(logits, labels);
      await tape.backward();
      const out = { loss: (await gpu.readF32(loss))[0]!, grad: await gpu.readF32(q.grad) };
      gpu.release(loss, q.value, q.grad);
      return out;
    };
    const sum = await run(1, true), doubled = await run(2, false);
    expect(sum.loss).toBe(doubled.loss);
    expect(Array.from(sum.grad)).toEqual(Array.from(doubled.grad, (v) => 2 * v));
    gpu.release(x, labels);
  });

  it('several losses, loss scale, accumulation across tapes: bit-identical sums', async () => {
    const gpu = await testGpu();
    const r = rng(9);
    const [n, ci, h, w, k] = [2, 3, 5, 6, 4];
    const xs = Float32Array.from({ length: n * ci * h * w }, () => r() * 2 - 1);
    const ws = Float32Array.from({ length: k * 3 * 3 * ci }, () => r() - 0.5);
    const bs = Float32Array.from({ length: k }, () => r() - 0.5);
    const labels = gpu.upload(Uint32Array.from({ length: n * h * w }, (_, i) => (i % 5 === 0 ? 255 : Math.floor(r() * k))), [n * h * w], 'u32');
    const lowLabels = gpu.upload(Uint32Array.from({ length: n * 3 * 3 }, () => Math.floor(r() * k)), [n * 3 * 3], 'u32');
    const x = gpu.upload(xs, [n, ci, h, w]);
    const q = { w: param(gpu, 'w', ws, [k, 3, 3, ci]), b: param(gpu, 'b', bs, [k]) };
    // logits = conv3x3(x) + b; low = maxpool(relu(logits)): the second loss shares the first's path.
    const pass = async (losses: { low: boolean; scale?: number }[], accumulateGrads = false) => {
      const tape = new Tape(gpu, { accumulateGrads });
      const logits = await tape.conv2d(tape.input(x), tape.param(q.w), { padding: 1, bias: tape.param(q.b) });
      const low = await tape.maxPool(await tape.relu(logits), { kernel: 2, stride: 2, ceilMode: true });
      const out: Tensor[] = [];
      for (const l of losses) out.push(await tape.crossEntropy(l.low ? low : logits, l.low ? lowLabels : labels, l.scale === undefined ? {} : { scale: l.scale }));
      const updated = await tape.backward();
      expect([...updated].map((p) => p.name).sort()).toEqual(['b', 'w']);
      const values = await Promise.all(out.map(async (t) => (await gpu.readF32(t))[0]!));
      gpu.release(...out);
      return { values, w: await gpu.readF32(q.w.grad), b: await gpu.readF32(q.b.grad) };
    };
    const one = await pass([{ low: false }, { low: true }]);
    const twiceEach = await pass([{ low: false }, { low: true }, { low: false }, { low: true }]);
    const scaled = await pass([{ low: false, scale: 2 }, { low: true, scale: 2 }]);
    await pass([{ low: false }, { low: true }]);
    const accumulated = await pass([{ low: false }, { low: true }], true);
    expect(twiceEach.values).toEqual([...one.values, ...one.values]);
    expect(scaled.values).toEqual(one.values);
    for (const g of ['w', 'b'] as const) {
      const doubled = f32Bits(one[g].map((v) => 2 * v));
      expect(f32Bits(twiceEach[g]).equals(doubled), `${g}: two losses each`).toBe(true);
      expect(f32Bits(scaled[g]).equals(doubled), `${g}: scale 2`).toBe(true);
      expect(f32Bits(accumulated[g]).equals(doubled), `${g}: accumulated over two tapes`).toBe(true);
    }
    // The single-scale first loss alone differs (the second loss reaches w and b).
    const first = await pass([{ low: false }]);
    expect(f32Bits(first.w).equals(f32Bits(one.w))).toBe(false);
    for (const t of Object.values(q)) gpu.release(t.value, t.grad);
    gpu.release(x, labels, lowLabels);
  });
});
