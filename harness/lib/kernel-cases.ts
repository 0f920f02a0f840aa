// The kernel cases of the browser benchmark: the shapes of bench/kernels.bench.ts (bench/cases/
// shapes.ts) with the same input data (bench/lib/data.ts), each with one recipe per engine. seedmask
// runs the variant its picker chooses for the adapter (the Node benchmark compares the variants);
// the peers run the same mathematics in their own layout, and `fromPeer` turns a peer's output
// back into seedmask's layout so the page can compare element by element.
//
// Tolerances are on max |seedmask − peer| / max |seedmask|: two correct float32 engines differ
// only by summation order, ~√K·2⁻²⁴ of the output scale (≤ 4e-6 for K = 3072); 1e-4 leaves a
// 25× margin, while a wrong index or a dropped term gives differences of order 1.
import type * as tfc from '@tensorflow/tfjs-core';
import { ATTENTION_MATMULS, LN_SHAPE, SOFTMAX_SHAPE, SQUARE_1024, VIT_MATMULS, isQuickMatmul, matmulLabel, type MatmulCaseShape } from '../../bench/cases/shapes.js';
import { benchData, numel } from '../../bench/lib/data.js';
import { matmulModel, onnxModel, type OnnxNode } from '../../bench/lib/onnx.js';
import type { Gpu } from '../../src/gpu/context.js';
import type { Tensor } from '../../src/gpu/tensor.js';
import { ATTENTION_VARIANT_BY_ADAPTER, attention } from '../../src/kernels/attention.js';
import { layerNorm } from '../../src/kernels/layernorm.js';
import { matmul, pickMatmulPlan } from '../../src/kernels/matmul.js';
import { chooseRowVariant } from '../../src/kernels/rows.js';
import { softmax } from '../../src/kernels/softmax.js';

export interface HostTensor {
  data: Float32Array;
  shape: number[];
}
export type HostTensors = Record<string, HostTensor>;

/** seedmask's side: writes the case's output into `out` (allocated by the caller). */
export interface SeedmaskRecipe {
  outShape: number[];
  run(gpu: Gpu, inputs: Record<string, Tensor>, out: Tensor): Promise<void>;
  /** What the picker chose, for the record. */
  note(gpu: Gpu): string;
}

export interface OnnxRecipe {
  model(): Uint8Array;
  /** Graph inputs from the case's inputs (a layout change, outside the timed runs). */
  feeds(inputs: HostTensors): HostTensors;
  output: HostTensor['shape'];
  note?: string;
}

export interface TfjsRecipe {
  feeds?(inputs: HostTensors): HostTensors;
  build(tf: typeof tfc, t: Record<string, tfc.Tensor>): tfc.Tensor;
  note?: string;
}

export interface KernelCase {
  family: 'matmul' | 'layernorm' | 'softmax' | 'attention';
  name: string;
  shape: string;
  role: string;
  work: number;
  unit: 'GFLOP/s' | 'GB/s';
  quick: boolean;
  tolerance: number;
  inputs(): HostTensors;
  seedmask: SeedmaskRecipe;
  onnx?: OnnxRecipe;
  tfjs?: TfjsRecipe;
  /** A peer's output (in its layout) in seedmask's layout; identity when absent. */
  fromPeer?(y: Float32Array): Float32Array;
}

const KERNEL_TOLERANCE = 1e-4;

/** [B, R, C] → [B, C, R] (or [R, C] → [C, R]). */
export function transposeLast2(x: Float32Array, batch: number, rows: number, cols: number): Float32Array {
  const y = new Float32Array(x.length);
  for (let b = 0; b < batch; b++) {
    const o = b * rows * cols;
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) y[o + c * rows + r] = x[o + r * cols + c]!;
  }
  return y;
}

function matmulCase(p: MatmulCaseShape, quick: boolean): KernelCase {
  const batch = p.batch ?? 1;
  const aShape = batch > 1 ? [batch, p.m, p.k] : [p.m, p.k];
  const bDims = p.transB ? [p.n, p.k] : [p.k, p.n];
  const bShape = p.batchB ? [batch, ...bDims] : bDims;
  const outShape = batch > 1 ? [batch, p.m, p.n] : [p.m, p.n];
  const shape = matmulLabel(p);
  // ORT's MatMul (batched) has no transpose flag: it gets B already [K, N], as the Node peer does.
  const peerTransposesB = batch > 1 && !!p.transB;
  return {
    family: 'matmul',
    name: `matmul ${shape}`,
    shape,
    role: p.role,
    work: 2 * batch * p.m * p.n * p.k,
    unit: 'GFLOP/s',
    quick,
    tolerance: KERNEL_TOLERANCE,
    inputs: () => ({ a: { data: benchData(numel(aShape), 1), shape: aShape }, b: { data: benchData(numel(bShape), 2), shape: bShape } }),
    seedmask: {
      outShape,
      run: async (gpu, t, out) => void (await matmul(gpu, t.a!, t.b!, { transB: p.transB, out })),
      note: (gpu) => `variant ${pickMatmulPlan({ m: p.m, n: p.n, k: p.k, batch }, gpu.traits.adapter.kind).variant} (picker)`,
    },
    onnx: {
      model: () => matmulModel({ m: p.m, n: p.n, k: p.k, batch, batchB: p.batchB, transB: peerTransposesB ? false : p.transB }),
      feeds: (x) => ({
        a: x.a!,
        b: peerTransposesB ? { data: transposeLast2(x.b!.data, p.batchB ? batch : 1, p.n, p.k), shape: p.batchB ? [batch, p.k, p.n] : [p.k, p.n] } : x.b!,
      }),
      output: outShape,
      note: batch > 1 ? 'MatMul' : 'Gemm',
    },
    tfjs: { build: (tf, t) => tf.matMul(t.a!, t.b!, false, !!p.transB), note: 'tf.matMul' },
  };
}

function layerNormCase(): KernelCase {
  const [rows, cols] = LN_SHAPE as [number, number];
  const eps = 1e-5;
  return {
    family: 'layernorm',
    name: `layernorm ${rows}×${cols}`,
    shape: `${rows}×${cols}`,
    role: 'ln_1/ln_2 over 4 images × 197 tokens',
    work: 4 * (2 * rows * cols + 2 * cols),
    unit: 'GB/s',
    quick: true,
    tolerance: KERNEL_TOLERANCE,
    inputs: () => ({
      x: { data: benchData(rows * cols, 1, -3, 3), shape: LN_SHAPE },
      gamma: { data: benchData(cols, 2, 0.5, 1.5), shape: [cols] },
      beta: { data: benchData(cols, 3), shape: [cols] },
    }),
    seedmask: {
      outShape: LN_SHAPE,
      run: async (gpu, t, out) => void (await layerNorm(gpu, t.x!, { gamma: t.gamma, beta: t.beta, eps, out })),
      note: (gpu) => `variant ${chooseRowVariant({ rows, len: cols, inner: 1 }, gpu.traits)} (picker)`,
    },
    onnx: {
      model: () =>
        onnxModel(
          [{ opType: 'LayerNormalization', inputs: ['x', 'gamma', 'beta'], outputs: ['y'], attributes: { axis: { int: -1 }, epsilon: { float: eps } } }],
          [{ name: 'x', shape: LN_SHAPE }, { name: 'gamma', shape: [cols] }, { name: 'beta', shape: [cols] }],
          [{ name: 'y', shape: LN_SHAPE }],
          17,
        ),
      feeds: (x) => x,
      output: LN_SHAPE,
      note: 'LayerNormalization',
    },
    tfjs: {
      // tfjs has no layer-norm op: this is what a tfjs user writes (moments + 4 elementwise kernels).
      build: (tf, t) => {
        const { mean, variance } = tf.moments(t.x!, -1, true);
        return tf.add(tf.mul(tf.mul(tf.sub(t.x!, mean), tf.rsqrt(tf.add(variance, eps))), t.gamma!), t.beta!);
      },
      note: 'composed: tf.moments + sub, rsqrt, mul, add',
    },
  };
}

function softmaxCase(): KernelCase {
  const [rows, cols] = SOFTMAX_SHAPE as [number, number];
  return {
    family: 'softmax',
    name: `softmax ${rows}×${cols}`,
    shape: `${rows}×${cols}`,
    role: 'attention probabilities of 12 heads',
    work: 4 * 2 * rows * cols,
    unit: 'GB/s',
    quick: true,
    tolerance: KERNEL_TOLERANCE,
    inputs: () => ({ x: { data: benchData(rows * cols, 4, -8, 8), shape: SOFTMAX_SHAPE } }),
    seedmask: {
      outShape: SOFTMAX_SHAPE,
      run: async (gpu, t, out) => void (await softmax(gpu, t.x!, { out })),
      note: (gpu) => `variant ${chooseRowVariant({ rows, len: cols, inner: 1 }, gpu.traits)} (picker)`,
    },
    onnx: {
      model: () => onnxModel([{ opType: 'Softmax', inputs: ['x'], outputs: ['y'], attributes: { axis: { int: -1 } } }], [{ name: 'x', shape: SOFTMAX_SHAPE }], [{ name: 'y', shape: SOFTMAX_SHAPE }]),
      feeds: (x) => x,
      output: SOFTMAX_SHAPE,
      note: 'Softmax',
    },
    tfjs: { build: (tf, t) => tf.softmax(t.x!), note: 'tf.softmax' },
  };
}

/** Multi-head self-attention of one ViT-B/16 image: packed QKV [197, 3·768], 12 heads of 64. */
function attentionCase(): KernelCase {
  const L = 197, H = 12, hd = 64, D = H * hd;
  const scale = 1 / Math.sqrt(hd);
  /** Packed QKV [L, 3D] → one of q/k/v as [H, L, hd]. */
  const heads = (qkv: Float32Array, which: 0 | 1 | 2) => {
    const y = new Float32Array(H * L * hd);
    for (let h = 0; h < H; h++) for (let l = 0; l < L; l++) for (let d = 0; d < hd; d++) y[(h * L + l) * hd + d] = qkv[l * 3 * D + which * D + h * hd + d]!;
    return y;
  };
  const nodes: OnnxNode[] = [
    { opType: 'MatMul', inputs: ['q', 'kt'], outputs: ['s'] },
    { opType: 'Mul', inputs: ['s', 'scale'], outputs: ['ss'] },
    { opType: 'Softmax', inputs: ['ss'], outputs: ['p'], attributes: { axis: { int: -1 } } },
    { opType: 'MatMul', inputs: ['p', 'v'], outputs: ['o'] },
  ];
  return {
    family: 'attention',
    name: `attention ${H}×${L}×${hd}`,
    shape: `${H} heads × ${L} tokens × ${hd}`,
    role: 'ViT-B/16 self-attention, one image (seedmask fused; peers Q·Kᵀ, scale, softmax, P·V)',
    // Q·Kᵀ and P·V; the softmax's few operations per score are not counted.
    work: 2 * 2 * H * L * L * hd,
    unit: 'GFLOP/s',
    quick: true,
    tolerance: KERNEL_TOLERANCE,
    inputs: () => ({ qkv: { data: benchData(L * 3 * D, 5), shape: [L, 3 * D] } }),
    seedmask: {
      outShape: [L, D],
      run: async (gpu, t, out) => void (await attention(gpu, t.qkv!, { heads: H, out })),
      note: (gpu) => `fused, variant ${ATTENTION_VARIANT_BY_ADAPTER[gpu.traits.adapter.kind]}`,
    },
    onnx: {
      model: () =>
        onnxModel(
          nodes,
          [{ name: 'q', shape: [H, L, hd] }, { name: 'kt', shape: [H, hd, L] }, { name: 'scale', shape: [1] }, { name: 'v', shape: [H, L, hd] }],
          [{ name: 'o', shape: [H, L, hd] }],
        ),
      feeds: (x) => ({
        q: { data: heads(x.qkv!.data, 0), shape: [H, L, hd] },
        kt: { data: transposeLast2(heads(x.qkv!.data, 1), H, L, hd), shape: [H, hd, L] },
        scale: { data: new Float32Array([scale]), shape: [1] },
        v: { data: heads(x.qkv!.data, 2), shape: [H, L, hd] },
      }),
      output: [H, L, hd],
      note: 'MatMul, Mul, Softmax, MatMul',
    },
    tfjs: {
      feeds: (x) => ({ q: { data: heads(x.qkv!.data, 0), shape: [H, L, hd] }, k: { data: heads(x.qkv!.data, 1), shape: [H, L, hd] }, v: { data: heads(x.qkv!.data, 2), shape: [H, L, hd] } }),
      build: (tf, t) => tf.matMul(tf.softmax(tf.mul(tf.matMul(t.q!, t.k!, false, true), scale)), t.v!),
      note: 'tf.matMul, mul, tf.softmax, tf.matMul',
    },
    fromPeer: (o) => {
      const y = new Float32Array(L * D);
      for (let h = 0; h < H; h++) for (let l = 0; l < L; l++) for (let d = 0; d < hd; d++) y[l * D + h * hd + d] = o[(h * L + l) * hd + d]!;
      return y;
    },
  };
}

/** Every kernel case; `quick` marks the --quick subset (one ViT matmul, 1024³, layernorm, softmax, attention). */
export function kernelCases(): KernelCase[] {
  return [
    ...[...VIT_MATMULS, SQUARE_1024, ...ATTENTION_MATMULS].map((p) => matmulCase(p, isQuickMatmul(p))),
    layerNormCase(),
    softmaxCase(),
    attentionCase(),
  ];
}
