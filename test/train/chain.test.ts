// A small residual segmentation network trained by hand-chained kernels, against PyTorch autograd
// of the same network (test/fixtures/train/goldens.* case 'chain', weights/make_train_goldens.py):
//   h = relu(bn(conv3x3(x, w1)) + x);  p = maxpool3x3s2p1(h);  logits = conv1x1(p, w2) + b2;
//   up = bilinear(logits, 13×11, align_corners=False);  loss = CE(up, labels, weights, ignore 255)
// The forward uses seedmask's inference kernels (conv2d, binary add + ReLU, bilinear) and the
// training ones (BN with batch statistics, max pooling with indices); the backward is the chain an
// autodiff pass will emit, the residual's two gradient paths summed by accumulateGrad.
//
// Tolerance: 4·γ_n·max|gradient| per gradient with n = 286 = N·H·W, the longest reduction of the
// chain (dw1, dγ, dβ sum over it): four stages (CE, resize, pooling/1x1 conv, BN/3x3 conv) each
// within γ_n of their magnitude, the tie-free routing of the pooling exact.
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
import { testGpu } from '../helpers/gpu.js';
import { check, reportAfterAll } from './check.js';
import { golden } from './golden.js';
import { gammaN, maxAbs, type Shape4 } from './reference.js';

reportAfterAll('residual network, forward and backward by chained kernels');

describe('a residual network end to end vs PyTorch autograd', () => {
  it('loss and dx, dw1, dγ, dβ, dw2, db2', async () => {
    const gpu = await testGpu();
    const gd = golden('chain');
    const [n, c, h, w] = gd.param<Shape4>('x_shape');
    const classes = gd.param<number>('classes');
    const pool = { kernel: 3, stride: 2, padding: 1 } as const;
    const t = {
      x: gpu.upload(gd.f32('x'), [n, c, h, w]),
      w1: gpu.upload(gd.f32('w1'), [c, 3, 3, c]),
      w2: gpu.upload(gd.f32('w2'), [classes, 1, 1, c]),
      b2: gpu.upload(gd.f32('b2'), [classes]),
      labels: gpu.upload(gd.u32('labels'), [n, h, w], 'u32'),
      weights: gpu.upload(gd.f32('class_weight'), [classes]),
    };
    const layer = {
      gamma: gpu.upload(gd.f32('gamma'), [c]), beta: gpu.upload(gd.f32('beta'), [c]),
      runningMean: gpu.upload(new Float32Array(c), [c]), runningVar: gpu.upload(new Float32Array(c).fill(1), [c]),
      eps: gd.param<number>('eps'), momentum: gd.param<number>('momentum'),
    };

    // Forward.
    const c1 = await conv2d(gpu, t.x, t.w1, { padding: 1 });
    const bn = await batchNormForward(gpu, c1, layer, { training: true });
    const hid = await binary(gpu, 'add', bn.y, t.x, { activation: 'relu' });
    const pooled = await maxPool2dWithIndices(gpu, hid, pool);
    const logits = await conv2d(gpu, pooled.y, t.w2, { bias: t.b2 });
    const up = await bilinear(gpu, logits, [h, w], { alignCorners: false });
    const ce = await softmaxCrossEntropy(gpu, up, t.labels, { classWeights: t.weights });

    // Backward.
    const dLogits = await bilinearBackward(gpu, ce.dlogits!, [logits.shape[2]!, logits.shape[3]!], { alignCorners: false });
    const head = await conv2dBackward(gpu, dLogits, pooled.y, t.w2, { bias: true });
    const dHid = await maxPool2dBackward(gpu, head.dx!, pooled.indices, hid.shape, pool);
    const dSum = await reluBackward(gpu, dHid, hid);
    const dBn = await batchNormBackward(gpu, dSum, c1, bn.stats, layer.gamma, { training: true });
    const body = await conv2dBackward(gpu, dBn.dx, t.x, t.w1, { padding: 1 });
    await accumulateGrad(gpu, body.dx!, dSum); // the shortcut: x also feeds the sum directly

    const tol = (key: string) => 4 * gammaN(n * h * w) * maxAbs(gd.f64(key));
    const note = `4γ_${n * h * w}·max|ref|`;
    check('chain loss', [(await gpu.readF32(ce.loss))[0]!], gd.f64('loss'), tol('loss'), note, gd.torch32Err('loss'));
    for (const [key, tensor] of [['dx', body.dx!], ['dw1', body.dw], ['dgamma', dBn.dgamma!], ['dbeta', dBn.dbeta!], ['dw2', head.dw], ['db2', head.db!]] as const) {
      check(`chain ${key}`, await gpu.readF32(tensor), gd.f64(key), tol(key), note, gd.torch32Err(key));
    }
    expect(pooled.indices.dtype).toBe('u32');
    gpu.release(...Object.values(t), layer.gamma, layer.beta, layer.runningMean, layer.runningVar, c1, bn.y, bn.stats, hid, pooled.y, pooled.indices, logits, up,
      ce.loss, ce.dlogits!, dLogits, head.dx!, head.dw, head.db!, dHid, dSum, dBn.dx, dBn.dgamma!, dBn.dbeta!, body.dx!, body.dw);
  });
});
