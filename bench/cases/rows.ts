// Row-wise kernels at their ViT-B/16 shapes: layernorm over [788, 768] (4 images × 197 tokens)
// and softmax over [12·197, 197] (attention probabilities of 12 heads), each row variant plus the
// default choice, against onnxruntime-node's LayerNormalization / Softmax. Memory-bound: GB/s of
// the bytes the kernel must read and write.
import type { Gpu } from '../../src/gpu/context.js';
import { layerNorm } from '../../src/kernels/layernorm.js';
import { chooseRowVariant, ROW_VARIANTS, type RowVariant } from '../../src/kernels/rows.js';
import { softmax } from '../../src/kernels/softmax.js';
import { benchData, numel } from '../lib/data.js';
import { onnxModel } from '../lib/onnx.js';
import { ortPeer } from '../lib/ort.js';
import type { BenchCase } from '../lib/suite.js';
import { LN_SHAPE, SOFTMAX_SHAPE } from './shapes.js';

function layerNormCase(variant: RowVariant, picked: RowVariant): BenchCase {
  const [rows, cols] = LN_SHAPE as [number, number];
  const shape = `${rows}×${cols}`;
  return {
    family: 'layernorm',
    name: `layernorm/${variant}${variant === picked ? '*' : ''} ${shape}`,
    shape,
    details: { variant, picked },
    // x in, y out, gamma and beta once.
    work: { bytes: 4 * (2 * rows * cols + 2 * cols) },
    quick: variant === picked,
    async setup(gpu: Gpu) {
      const x = gpu.upload(benchData(rows * cols, 1, -3, 3), LN_SHAPE);
      const gamma = gpu.upload(benchData(cols, 2, 0.5, 1.5), [cols]);
      const beta = gpu.upload(benchData(cols, 3), [cols]);
      const out = gpu.empty(LN_SHAPE, 'f32', 'bench out');
      return {
        encode: async () => void (await layerNorm(gpu, x, { gamma, beta, out, variant })),
        dispose: () => gpu.release(x, gamma, beta, out),
      };
    },
    peer: ortPeer(
      `layernorm ${shape}`,
      () =>
        onnxModel(
          [{ opType: 'LayerNormalization', inputs: ['x', 'gamma', 'beta'], outputs: ['y'], attributes: { axis: { int: -1 }, epsilon: { float: 1e-5 } } }],
          [{ name: 'x', shape: LN_SHAPE }, { name: 'gamma', shape: [cols] }, { name: 'beta', shape: [cols] }],
          [{ name: 'y', shape: LN_SHAPE }],
          17,
        ),
      () => ({ x: [benchData(rows * cols, 1, -3, 3), LN_SHAPE], gamma: [benchData(cols, 2, 0.5, 1.5), [cols]], beta: [benchData(cols, 3), [cols]] }),
    ),
  };
}

function softmaxCase(variant: RowVariant, picked: RowVariant): BenchCase {
  const [rows, cols] = SOFTMAX_SHAPE as [number, number];
  const shape = `${rows}×${cols}`;
  return {
    family: 'softmax',
    name: `softmax/${variant}${variant === picked ? '*' : ''} ${shape}`,
    shape,
    details: { variant, picked },
    work: { bytes: 4 * 2 * rows * cols },
    quick: variant === picked,
    async setup(gpu: Gpu) {
      const x = gpu.upload(benchData(rows * cols, 4, -8, 8), SOFTMAX_SHAPE);
      const out = gpu.empty(SOFTMAX_SHAPE, 'f32', 'bench out');
      return {
        encode: async () => void (await softmax(gpu, x, { out, variant })),
        dispose: () => gpu.release(x, out),
      };
    },
    peer: ortPeer(
      `softmax ${shape}`,
      () => onnxModel([{ opType: 'Softmax', inputs: ['x'], outputs: ['y'], attributes: { axis: { int: -1 } } }], [{ name: 'x', shape: SOFTMAX_SHAPE }], [{ name: 'y', shape: SOFTMAX_SHAPE }]),
      () => ({ x: [benchData(numel(SOFTMAX_SHAPE), 4, -8, 8), SOFTMAX_SHAPE] }),
    ),
  };
}

export function rowCases(gpu: Gpu): BenchCase[] {
  const variants = ROW_VARIANTS.filter((v) => v !== 'subgroup' || gpu.traits.features.subgroups);
  const lnPicked = chooseRowVariant({ rows: LN_SHAPE[0]!, len: LN_SHAPE[1]!, inner: 1 }, gpu.traits);
  const smPicked = chooseRowVariant({ rows: SOFTMAX_SHAPE[0]!, len: SOFTMAX_SHAPE[1]!, inner: 1 }, gpu.traits);
  return [...variants.map((v) => layerNormCase(v, lnPicked)), ...variants.map((v) => softmaxCase(v, smPicked))];
}
