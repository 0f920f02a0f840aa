import { describe, expect, it } from 'vitest';
import { ACTIVATIONS, activateRef, type Activation } from '../../src/kernels/activation.js';
import { binary, broadcastShape, unary, type BinaryOp } from '../../src/kernels/elementwise.js';
import { numel } from '../../src/gpu/tensor.js';
import { testGpu } from '../helpers/gpu.js';
import { expectClose, randomArray } from '../helpers/reference.js';

const SIZES = [1, 7, 197, 768, 4097];

// Inputs in a range where every activation is defined and finite.
function inputFor(act: Activation, n: number, seed: number): Float32Array {
  const positive = act === 'sqrt' || act === 'rsqrt' || act === 'log';
  return randomArray(n, seed, positive ? 0.05 : -6, 6);
}

describe('unary kernel vs float64', () => {
  for (const act of Object.keys(ACTIVATIONS) as Activation[]) {
    it(`${act} at sizes ${SIZES.join(', ')}`, async () => {
      const gpu = await testGpu();
      for (const n of SIZES) {
        const x = inputFor(act, n, n + act.length);
        const alpha = 0.75, beta = 0.125;
        const t = gpu.upload(x, [n]);
        const y = await unary(gpu, t, act, { alpha, beta });
        const got = await gpu.readF32(y);
        const want = Array.from(x, (v) => activateRef(act, alpha * v + beta));
        // f32 rounding of the affine input (≤ 1 ulp ≈ 6e-8 relative) is amplified by the slope of
        // the activation; exp and gelu tails need a small absolute floor.
        expectClose(got, want, { rtol: 2e-6, atol: 1e-6 }, `${act} n=${n}`);
        gpu.release(t, y);
      }
    });
  }
});

describe('binary kernel with broadcasting vs float64', () => {
  const cases: Array<[number[], number[]]> = [
    [[4097], [4097]],
    [[197, 7], [7]],
    [[7, 1], [1, 197]],
    [[1], [3, 5, 7]],
    [[2, 3, 1, 5], [3, 4, 1]],
  ];
  const ops: Record<BinaryOp, (a: number, b: number) => number> = {
    add: (a, b) => a + b,
    sub: (a, b) => a - b,
    mul: (a, b) => a * b,
    div: (a, b) => a / b,
    max: Math.max,
    min: Math.min,
  };
  for (const [op, f] of Object.entries(ops) as Array<[BinaryOp, (a: number, b: number) => number]>) {
    it(op, async () => {
      const gpu = await testGpu();
      for (const [sa, sb] of cases) {
        const out = broadcastShape(sa, sb);
        const a = randomArray(numel(sa), 1, -2, 2);
        const b = randomArray(numel(sb), 2, 0.5, 2); // away from 0 so div is well conditioned
        const ta = gpu.upload(a, sa), tb = gpu.upload(b, sb);
        const y = await binary(gpu, op, ta, tb, { activation: op === 'add' ? 'relu' : 'none' });
        const got = await gpu.readF32(y);
        const want = new Float64Array(numel(out));
        const idx = (shape: number[], coord: number[]) => {
          let off = 0;
          for (let k = 0; k < shape.length; k++) {
            const c = coord[coord.length - shape.length + k]!;
            off = off * shape[k]! + (shape[k] === 1 ? 0 : c);
          }
          return off;
        };
        for (let i = 0; i < want.length; i++) {
          const coord: number[] = [];
          let r = i;
          for (let k = out.length - 1; k >= 0; k--) {
            coord.unshift(r % out[k]!);
            r = Math.floor(r / out[k]!);
          }
          const v = f(a[idx(sa, coord)]!, b[idx(sb, coord)]!);
          want[i] = op === 'add' ? Math.max(v, 0) : v;
        }
        expectClose(got, want, { rtol: 1.2e-7, atol: 0 }, `${op} [${sa}] ∘ [${sb}]`);
        gpu.release(ta, tb, y);
      }
    });
  }

  it('rejects shapes that do not broadcast, naming both', async () => {
    const gpu = await testGpu();
    const a = gpu.upload(new Float32Array(6), [2, 3]);
    const b = gpu.upload(new Float32Array(4), [4]);
    await expect(binary(gpu, 'add', a, b)).rejects.toThrow(/\[2, 3\] and \[4\] do not broadcast/);
    gpu.release(a, b);
  });
});
