// Memory-bound kernels at ViT-B/16 activation sizes, in GB/s of the bytes they must move: the
// residual add [788, 768] + [788, 768], GELU over the MLP hidden [788, 3072], and the head split
// [197, 12, 64] → [12, 197, 64] of attention. Peers: onnxruntime-node Add, Gelu, Transpose.
import type { Gpu } from '../../src/gpu/context.js';
import { binary, unary } from '../../src/kernels/elementwise.js';
import { permute } from '../../src/kernels/layout.js';
import { benchData, numel } from '../lib/data.js';
import { onnxModel } from '../lib/onnx.js';
import { ortPeer } from '../lib/ort.js';
import type { BenchCase } from '../lib/suite.js';

const RESIDUAL = [788, 768];
const HIDDEN = [788, 3072];
const HEADS_IN = [197, 12, 64];
const HEADS_OUT = [12, 197, 64];
const dims = (s: number[]) => s.join('×');

export function memoryCases(): BenchCase[] {
  const n = numel(RESIDUAL), h = numel(HIDDEN), t = numel(HEADS_IN);
  return [
    {
      family: 'elementwise',
      name: `elementwise/add ${dims(RESIDUAL)}`,
      shape: dims(RESIDUAL),
      work: { bytes: 4 * 3 * n },
      quick: true,
      async setup(gpu: Gpu) {
        const a = gpu.upload(benchData(n, 1), RESIDUAL), b = gpu.upload(benchData(n, 2), RESIDUAL), out = gpu.empty(RESIDUAL);
        return { encode: async () => void (await binary(gpu, 'add', a, b, { out })), dispose: () => gpu.release(a, b, out) };
      },
      peer: ortPeer(
        `add ${dims(RESIDUAL)}`,
        () => onnxModel([{ opType: 'Add', inputs: ['a', 'b'], outputs: ['y'] }], [{ name: 'a', shape: RESIDUAL }, { name: 'b', shape: RESIDUAL }], [{ name: 'y', shape: RESIDUAL }]),
        () => ({ a: [benchData(n, 1), RESIDUAL], b: [benchData(n, 2), RESIDUAL] }),
      ),
    },
    {
      family: 'elementwise',
      name: `elementwise/gelu ${dims(HIDDEN)}`,
      shape: dims(HIDDEN),
      work: { bytes: 4 * 2 * h },
      async setup(gpu: Gpu) {
        const x = gpu.upload(benchData(h, 3, -4, 4), HIDDEN), out = gpu.empty(HIDDEN);
        return { encode: async () => void (await unary(gpu, x, 'gelu', { out })), dispose: () => gpu.release(x, out) };
      },
      peer: ortPeer(
        `gelu ${dims(HIDDEN)}`,
        () => onnxModel([{ opType: 'Gelu', inputs: ['x'], outputs: ['y'] }], [{ name: 'x', shape: HIDDEN }], [{ name: 'y', shape: HIDDEN }], 20),
        () => ({ x: [benchData(h, 3, -4, 4), HIDDEN] }),
      ),
    },
    {
      family: 'layout',
      name: `layout/permute ${dims(HEADS_IN)} → ${dims(HEADS_OUT)}`,
      shape: dims(HEADS_IN),
      work: { bytes: 4 * 2 * t },
      async setup(gpu: Gpu) {
        const x = gpu.upload(benchData(t, 4), HEADS_IN), out = gpu.empty(HEADS_OUT);
        return { encode: async () => void (await permute(gpu, x, [1, 0, 2], { out })), dispose: () => gpu.release(x, out) };
      },
      peer: ortPeer(
        `permute ${dims(HEADS_IN)}`,
        () => onnxModel([{ opType: 'Transpose', inputs: ['x'], outputs: ['y'], attributes: { perm: { ints: [1, 0, 2] } } }], [{ name: 'x', shape: HEADS_IN }], [{ name: 'y', shape: HEADS_OUT }]),
        () => ({ x: [benchData(t, 4), HEADS_IN] }),
      ),
    },
  ];
}
