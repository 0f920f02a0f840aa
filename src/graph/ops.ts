// The op table of the graph runner: each entry infers output shapes when a node is added and runs
// the kernel-level op (src/kernels/) into the planned output tensors. Adding an op = one entry here.
import type { Activation } from '../kernels/activation.js';
import { attention, attentionLayout, type AttentionVariant } from '../kernels/attention.js';
import { camMinMax, clipHead, layerNormBackward, quickGeluBackward, softmaxBackward } from '../kernels/backward.js';
import { bilinear } from '../kernels/bilinear.js';
import { binary, broadcastShape, unary, type BinaryOp } from '../kernels/elementwise.js';
import { layerNorm } from '../kernels/layernorm.js';
import { conv2d, convFlops, convGeometry, convOutShape, type ConvParams } from '../kernels/conv.js';
import { concat, gatherRows, normAxis, permute, slice, type SliceRange } from '../kernels/layout.js';
import { matmul, matmulProblem } from '../kernels/matmul.js';
import { channelArgmax, channelSoftmax, globalAvgPool, pool2d, poolGeometry, type Pool2dOptions, type PoolMode } from '../kernels/pool.js';
import { reduce, reducedShape, type ReduceOp } from '../kernels/reduce.js';
import { resize, type ResizeMode } from '../kernels/resize.js';
import { softmax } from '../kernels/softmax.js';
import { numel } from '../gpu/tensor.js';
import type { OpDef, Value } from './graph.js';

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

function need(v: Value | undefined, what: string): Value {
  if (!v) throw new Error(`${what} is required`);
  return v;
}

// ---------------------------------------------------------------------------------------------

export interface MatmulAttrs {
  transA?: boolean;
  transB?: boolean;
  activation?: Activation;
  alpha?: number;
}

/** inputs: [A, B, bias?, residual?] */
export const matmulOp: OpDef<MatmulAttrs> = {
  name: 'matmul',
  infer([a, b, bias, residual], at) {
    const pr = matmulProblem(need(a, 'A').shape, need(b, 'B').shape, at.transA, at.transB);
    if (bias && numel(bias.shape) !== pr.n) throw new Error(`bias ${fmt(bias.shape)} must have N = ${pr.n} elements`);
    if (residual && numel(residual.shape) !== numel(pr.outShape)) throw new Error(`residual ${fmt(residual.shape)} must match the output ${fmt(pr.outShape)}`);
    return [{ shape: pr.outShape }];
  },
  run: async (gpu, [a, b, bias, residual], [out], at) => {
    await matmul(gpu, a!, b!, { ...at, bias, residual, out });
  },
  flops([a, b], at) {
    const pr = matmulProblem(a!.shape, b!.shape, at.transA, at.transB);
    return 2 * pr.batch * pr.m * pr.n * pr.k;
  },
};

export interface LayerNormAttrs {
  eps?: number;
  /** Also output the per-row (mean, rstd) as [rows, 2]. */
  stats?: boolean;
}

/** inputs: [x, gamma?, beta?]; outputs: [y, stats?] */
export const layerNormOp: OpDef<LayerNormAttrs> = {
  name: 'layernorm',
  infer([x, gamma, beta], at) {
    const shape = need(x, 'x').shape;
    const cols = shape[shape.length - 1] ?? 1;
    for (const [name, p] of [['gamma', gamma], ['beta', beta]] as const) {
      if (p && numel(p.shape) !== cols) throw new Error(`${name} ${fmt(p.shape)} must have ${cols} elements (the last axis of x ${fmt(shape)})`);
    }
    const out = [{ shape: [...shape] }];
    if (at.stats) out.push({ shape: [numel(shape) / Math.max(cols, 1), 2] });
    return out;
  },
  run: async (gpu, [x, gamma, beta], [y, stats], at) => {
    await layerNorm(gpu, x!, { gamma, beta, eps: at.eps, out: y, stats: !!stats, statsOut: stats });
  },
};

export interface SoftmaxAttrs {
  scale?: number;
}

/** inputs: [x, mask?] */
export const softmaxOp: OpDef<SoftmaxAttrs> = {
  name: 'softmax',
  infer: ([x]) => [{ shape: [...need(x, 'x').shape] }],
  run: async (gpu, [x, mask], [y], at) => {
    await softmax(gpu, x!, { scale: at.scale, mask, out: y });
  },
};

export interface AttentionAttrs {
  heads: number;
  scale?: number;
  causal?: boolean;
  /** Also output the head-averaged probabilities [B, L, L]. */
  probs?: boolean;
  variant?: AttentionVariant;
}

/** inputs: [qkv] packed [B, L, 3·D]; outputs: [out [B, L, D], probs?] */
export const attentionOp: OpDef<AttentionAttrs> = {
  name: 'attention',
  infer([qkv], at) {
    const layout = attentionLayout({ qkv: need(qkv, 'qkv').shape }, at.heads);
    const out = [{ shape: layout.outShape }];
    if (at.probs) out.push({ shape: [layout.batch, layout.len, layout.len] });
    return out;
  },
  run: async (gpu, [qkv], [out, probs], at) => {
    await attention(gpu, qkv!, { heads: at.heads, scale: at.scale, causal: at.causal, variant: at.variant, out, probsOut: probs });
  },
  flops([qkv], at) {
    const l = attentionLayout({ qkv: qkv!.shape }, at.heads);
    return 4 * l.batch * l.len * l.len * l.heads * l.headDim;
  },
};

export interface UnaryAttrs {
  activation: Activation;
  alpha?: number;
  beta?: number;
}

export const unaryOp: OpDef<UnaryAttrs> = {
  name: 'unary',
  infer: ([x]) => [{ shape: [...need(x, 'x').shape] }],
  run: async (gpu, [x], [y], at) => {
    await unary(gpu, x!, at.activation, { alpha: at.alpha, beta: at.beta, out: y });
  },
};

export interface BinaryAttrs {
  op: BinaryOp;
  activation?: Activation;
}

export const binaryOp: OpDef<BinaryAttrs> = {
  name: 'binary',
  infer: ([a, b], at) => [{ shape: broadcastShape(need(a, 'a').shape, need(b, 'b').shape, at.op) }],
  run: async (gpu, [a, b], [y], at) => {
    await binary(gpu, at.op, a!, b!, { activation: at.activation, out: y });
  },
};

export const permuteOp: OpDef<{ perm: number[] }> = {
  name: 'permute',
  infer([x], { perm }) {
    const shape = need(x, 'x').shape;
    if (perm.length !== shape.length) throw new Error(`perm ${fmt(perm)} does not match the rank of ${fmt(shape)}`);
    const axes = perm.map((a) => normAxis('permute', a, shape.length, 'perm entry'));
    if (new Set(axes).size !== axes.length) throw new Error(`perm ${fmt(perm)} repeats an axis`);
    return [{ shape: axes.map((a) => shape[a]!), dtype: x!.dtype }];
  },
  run: async (gpu, [x], [y], { perm }) => {
    await permute(gpu, x!, perm, { out: y });
  },
};

export const sliceOp: OpDef<{ ranges: Array<SliceRange | undefined> }> = {
  name: 'slice',
  infer([x], { ranges }) {
    const shape = need(x, 'x').shape;
    if (ranges.length > shape.length) throw new Error(`${ranges.length} ranges for rank ${shape.length}`);
    return [
      {
        shape: shape.map((len, k) => {
          const r = ranges[k] ?? {};
          const start = r.start ?? 0, stop = r.stop ?? len, step = r.step ?? 1;
          if (!(start >= 0 && start <= stop && stop <= len && step >= 1)) throw new Error(`axis ${k} (length ${len}): bad range ${JSON.stringify(r)}`);
          return Math.ceil((stop - start) / step);
        }),
        dtype: x!.dtype,
      },
    ];
  },
  run: async (gpu, [x], [y], { ranges }) => {
    await slice(gpu, x!, ranges, { out: y });
  },
};

export const concatOp: OpDef<{ axis: number }> = {
  name: 'concat',
  infer(inputs, { axis }) {
    if (!inputs.length) throw new Error('no inputs');
    const first = need(inputs[0], 'input 0');
    const ax = normAxis('concat', axis, first.shape.length);
    const shape = [...first.shape];
    shape[ax] = inputs.reduce((s, v, i) => {
      const t = need(v, `input ${i}`);
      if (t.shape.length !== shape.length || t.shape.some((d, k) => k !== ax && d !== first.shape[k])) {
        throw new Error(`input ${i} ${fmt(t.shape)} does not match input 0 ${fmt(first.shape)} off axis ${ax}`);
      }
      return s + t.shape[ax]!;
    }, 0);
    return [{ shape, dtype: first.dtype }];
  },
  run: async (gpu, inputs, [y], { axis }) => {
    await concat(gpu, inputs.map((t) => t!), axis, { out: y });
  },
};

/** inputs: [table [rows, width], indices [n] (i32/u32)] → [n, width] */
export const gatherRowsOp: OpDef<Record<string, never>> = {
  name: 'gather_rows',
  infer([table, indices]) {
    const t = need(table, 'table').shape;
    if (t.length !== 2) throw new Error(`table must be [rows, width], got ${fmt(t)}`);
    return [{ shape: [numel(need(indices, 'indices').shape), t[1]!], dtype: table!.dtype }];
  },
  run: async (gpu, [table, indices], [y]) => {
    await gatherRows(gpu, table!, indices!, { out: y });
  },
};

export const reduceOp: OpDef<{ op: ReduceOp; axis: number; keepDims?: boolean }> = {
  name: 'reduce',
  infer: ([x], at) => [{ shape: reducedShape(need(x, 'x').shape, at.axis, at.keepDims ?? false), dtype: at.op === 'argmax' || at.op === 'argmin' ? 'u32' : 'f32' }],
  run: async (gpu, [x], [y], at) => {
    await reduce(gpu, x!, at.op, { axis: at.axis, keepDims: at.keepDims, out: y });
  },
};

export const resizeOp: OpDef<{ size: [number, number]; mode: ResizeMode }> = {
  name: 'resize',
  infer([x], { size }) {
    const shape = need(x, 'x').shape;
    if (shape.length < 2) throw new Error(`input ${fmt(shape)} must be [..., H, W]`);
    return [{ shape: [...shape.slice(0, -2), size[0], size[1]], dtype: x!.dtype }];
  },
  run: async (gpu, [x], [y], { size, mode }) => {
    await resize(gpu, x!, size, mode, { out: y });
  },
};

export interface ViewPermuteAttrs {
  /** The input's elements read as this shape (same element count; a free reshape). */
  view: number[];
  /** Axes of `view`, as in permuteOp. */
  perm: number[];
  /** The permuted result read as this shape (same element count); default the permuted shape. */
  shape?: number[];
}

/**
 * reshape → permute → reshape in one strided copy: y = x.view(view).permute(perm).view(shape).
 * E.g. the im2col of a stride = kernel convolution: [C, H, W] viewed [C, gh, p, gw, p], permuted
 * to [gh, gw, C, p, p], read as [gh·gw, C·p·p].
 */
export const viewPermuteOp: OpDef<ViewPermuteAttrs> = {
  name: 'view_permute',
  infer([x], { view, perm, shape }) {
    const input = need(x, 'x');
    if (numel(view) !== numel(input.shape)) throw new Error(`cannot view ${fmt(input.shape)} as ${fmt(view)}: element counts differ`);
    if (perm.length !== view.length) throw new Error(`perm ${fmt(perm)} does not match the rank of the view ${fmt(view)}`);
    const axes = perm.map((a) => normAxis('view_permute', a, view.length, 'perm entry'));
    if (new Set(axes).size !== axes.length) throw new Error(`perm ${fmt(perm)} repeats an axis`);
    const permuted = axes.map((a) => view[a]!);
    if (shape && numel(shape) !== numel(permuted)) throw new Error(`cannot view the permuted ${fmt(permuted)} as ${fmt(shape)}: element counts differ`);
    return [{ shape: [...(shape ?? permuted)], dtype: input.dtype }];
  },
  run: async (gpu, [x], [y], { view, perm }) => {
    const permuted = perm.map((a) => view[a < 0 ? a + view.length : a]!);
    await permute(gpu, x!.view(view), perm, { out: y!.view(permuted) });
  },
};

export interface TakeRowsAttrs {
  /** Row length: the table is read as [numel / rowLen, rowLen]; default its last axis. */
  rowLen?: number;
}

/**
 * inputs: [table, indices (i32/u32, any shape)] → [...indices.shape, rowLen]: rows of the table
 * (viewed as [rows, rowLen]) picked by index, e.g. token embeddings for ids [B, C], or one token per
 * sequence out of [B, C, W] with flat indices b·C + t. An index outside the rows gives a row of
 * zeros (the kernel cannot report it without a read-back).
 */
export const takeRowsOp: OpDef<TakeRowsAttrs> = {
  name: 'take_rows',
  infer([table, indices], at) {
    const t = need(table, 'table');
    const idx = need(indices, 'indices');
    if (idx.dtype !== 'i32' && idx.dtype !== 'u32') throw new Error(`indices must be i32 or u32, not ${idx.dtype}`);
    const rowLen = at.rowLen ?? t.shape[t.shape.length - 1] ?? 1;
    if (!Number.isInteger(rowLen) || rowLen < 1 || numel(t.shape) % rowLen !== 0) throw new Error(`table ${fmt(t.shape)} is not a whole number of rows of ${rowLen}`);
    return [{ shape: [...idx.shape, rowLen], dtype: t.dtype }];
  },
  run: async (gpu, [table, indices], [y], at) => {
    const rowLen = at.rowLen ?? table!.shape[table!.rank - 1] ?? 1;
    await gatherRows(gpu, table!.view([table!.size / rowLen, rowLen]), indices!, { out: y });
  },
};

// ---------------------------------------------------------------------------------------------
// Backward ops of CLIP-ES's Grad-CAM (src/kernels/backward.ts), batched over B right-hand sides.

export interface LayerNormBackwardAttrs {
  /** 'full': g is [B, rows, cols]; 'row': g is [B, cols], one row for every row of x. */
  gLayout?: 'full' | 'row';
  gScale?: number;
  /** Rows t < zeroRows receive no gradient. */
  zeroRows?: number;
}

/** inputs: [g, x [rows, cols], stats [rows, 2], gamma [cols], residual?] → dx [B, rows, cols] */
export const layerNormBackwardOp: OpDef<LayerNormBackwardAttrs> = {
  name: 'layernorm_backward',
  infer([g, x, stats, gamma, residual], at) {
    const xs = need(x, 'x').shape;
    const cols = xs[xs.length - 1] ?? 0;
    const rows = cols === 0 ? 0 : numel(xs) / cols;
    if (rows === 0) throw new Error(`x ${fmt(xs)} is empty`);
    if (numel(need(stats, 'stats').shape) !== 2 * rows) throw new Error(`stats ${fmt(stats!.shape)} must be [${rows}, 2]`);
    if (numel(need(gamma, 'gamma').shape) !== cols) throw new Error(`gamma ${fmt(gamma!.shape)} must have ${cols} elements`);
    const per = (at.gLayout ?? 'full') === 'full' ? rows * cols : cols;
    const gn = numel(need(g, 'g').shape);
    if (gn === 0 || gn % per !== 0) throw new Error(`g ${fmt(g!.shape)} is not a whole number of right-hand sides of ${per} elements`);
    const shape = [gn / per, rows, cols];
    if (residual && numel(residual.shape) !== numel(shape)) throw new Error(`residual ${fmt(residual.shape)} must match dx ${fmt(shape)}`);
    return [{ shape }];
  },
  run: async (gpu, [g, x, stats, gamma, residual], [dx], at) => {
    await layerNormBackward(gpu, g!, x!, stats!, gamma!, { ...at, residual, out: dx });
  },
};

/**
 * inputs: [dp, probs [..., R, C]] → ds [G, B, R, C] with G = the product of probs' leading axes and
 * B = attrs.batch; dp holds G·B·R·C elements in that order (any shape).
 */
export const softmaxBackwardOp: OpDef<{ batch: number }> = {
  name: 'softmax_backward',
  infer([dp, probs], { batch }) {
    const ps = need(probs, 'probs').shape;
    if (ps.length < 2) throw new Error(`probs ${fmt(ps)} must be [..., R, C]`);
    const [r, c] = ps.slice(-2) as [number, number];
    const shape = [numel(ps) / Math.max(r * c, 1), batch, r, c];
    if (!Number.isInteger(batch) || batch < 1) throw new Error(`batch = ${batch} must be a positive integer`);
    if (numel(need(dp, 'dp').shape) !== numel(shape)) throw new Error(`dp ${fmt(dp!.shape)} must hold [G, B, R, C] = ${fmt(shape)}`);
    return [{ shape }];
  },
  run: async (gpu, [dp, probs], [ds], { batch }) => {
    await softmaxBackward(gpu, dp!, probs!, { batch, out: ds });
  },
};

/** inputs: [g, h] → g ⊙ QuickGELU'(h), h shared by the blocks of g. */
export const quickGeluBackwardOp: OpDef<Record<string, never>> = {
  name: 'quickgelu_backward',
  infer([g, h]) {
    const gn = numel(need(g, 'g').shape), hn = numel(need(h, 'h').shape);
    if (hn === 0 || gn % hn !== 0) throw new Error(`g ${fmt(g!.shape)} is not a whole number of blocks of h ${fmt(h!.shape)}`);
    return [{ shape: [...g!.shape] }];
  },
  run: async (gpu, [g, h], [dh]) => {
    await quickGeluBackward(gpu, g!, h!, { out: dh });
  },
};

/** inputs: [e (E elements), text [R, E]] → [probs [R], de [K, E]] (CLIP-ES's head and ∂p_c/∂e). */
export const clipHeadOp: OpDef<{ classes: number; kappa: number }> = {
  name: 'clip_head',
  infer([e, text], { classes }) {
    const dim = numel(need(e, 'e').shape);
    const ts = need(text, 'text').shape;
    if (dim === 0 || ts.length !== 2 || ts[1] !== dim) throw new Error(`text ${fmt(ts)} must be [R, ${dim}] (e has ${dim} elements)`);
    if (!Number.isInteger(classes) || classes < 1 || classes > ts[0]!) throw new Error(`classes K = ${classes} must be 1..${ts[0]} (the text rows)`);
    return [{ shape: [ts[0]!] }, { shape: [classes, dim] }];
  },
  run: async (gpu, [e, text], [probs, de], at) => {
    await clipHead(gpu, e!, text!, { ...at, probsOut: probs, deOut: de });
  },
};

/** inputs: [raw [rows, stride]] → [rows, stride − skip]: ReLU and pytorch_grad_cam's two min-max passes. */
export const camMinMaxOp: OpDef<{ skip: number }> = {
  name: 'cam_minmax',
  infer([raw], { skip }) {
    const s = need(raw, 'raw').shape;
    const stride = s[s.length - 1] ?? 0;
    if (!(skip >= 0 && skip < stride)) throw new Error(`skip = ${skip} leaves no columns of ${fmt(s)}`);
    return [{ shape: [numel(s) / stride, stride - skip] }];
  },
  run: async (gpu, [raw], [cam], { skip }) => {
    await camMinMax(gpu, raw!, { skip, out: cam });
  },
};

// ---------------------------------------------------------------------------------------------
// Convolutional networks (src/kernels/conv.ts, src/kernels/pool.ts, src/kernels/bilinear.ts); NCHW f32

export interface Conv2dAttrs extends ConvParams {
  activation?: Activation;
}

/**
 * inputs: [x [N, Cin, H, W], weight [Cout, KH, KW, Cin/groups] (OHWI: see src/kernels/conv.ts;
 * ohwiFromOihw converts PyTorch's order), bias? [Cout], residual? (the output's shape)]
 * → act(conv2d(x) + bias + residual) [N, Cout, Ho, Wo].
 */
export const conv2dOp: OpDef<Conv2dAttrs> = {
  name: 'conv2d',
  infer([x, weight, bias, residual], at) {
    const g = convGeometry(need(x, 'x').shape, need(weight, 'weight').shape, at);
    const shape = convOutShape(g);
    if (bias && numel(bias.shape) !== g.cout) throw new Error(`bias ${fmt(bias.shape)} must have ${g.cout} elements (the output channels)`);
    if (residual && (residual.shape.length !== 4 || residual.shape.some((d, i) => d !== shape[i]))) throw new Error(`residual ${fmt(residual.shape)} must match the output ${fmt(shape)}`);
    return [{ shape }];
  },
  run: async (gpu, [x, weight, bias, residual], [y], at) => {
    await conv2d(gpu, x!, weight!, { ...at, bias, residual, out: y });
  },
  flops: ([x, weight], at) => convFlops(convGeometry(x!.shape, weight!.shape, at)),
};

export type Pool2dAttrs = Omit<Pool2dOptions, 'out'> & { mode: PoolMode };

/** inputs: [x [N, C, H, W]] → max or average pooling (PyTorch semantics, ceil_mode included). */
export const pool2dOp: OpDef<Pool2dAttrs> = {
  name: 'pool2d',
  infer([x], at) {
    const shape = need(x, 'x').shape;
    const g = poolGeometry(shape, at.mode, at);
    return [{ shape: [shape[0]!, shape[1]!, g.ho, g.wo] }];
  },
  run: async (gpu, [x], [y], at) => {
    await pool2d(gpu, x!, at.mode, { ...at, out: y });
  },
};

/** inputs: [x [N, C, H, W]] → [N, C, 1, 1], the mean over H·W (AdaptiveAvgPool2d(1)). */
export const globalAvgPoolOp: OpDef<Record<string, never>> = {
  name: 'global_avg_pool',
  infer([x]) {
    const shape = need(x, 'x').shape;
    if (shape.length !== 4) throw new Error(`input ${fmt(shape)} must be [N, C, H, W]`);
    return [{ shape: [shape[0]!, shape[1]!, 1, 1] }];
  },
  run: async (gpu, [x], [y]) => {
    await globalAvgPool(gpu, x!, { out: y });
  },
};

export interface BilinearAttrs {
  size: [number, number];
  alignCorners?: boolean;
  /** F.interpolate(scale_factor=…) semantics: the sampling step is 1/scale (see bilinear.ts). */
  scaleFactor?: number | [number, number];
}

/** inputs: [x [N, C, H, W]] → [N, C, size[0], size[1]], bilinear (F.interpolate, antialias off). */
export const bilinearOp: OpDef<BilinearAttrs> = {
  name: 'bilinear',
  infer([x], { size }) {
    const shape = need(x, 'x').shape;
    if (shape.length !== 4) throw new Error(`input ${fmt(shape)} must be [N, C, H, W]`);
    if (!Array.isArray(size) || size.length !== 2 || !size.every((d) => Number.isInteger(d) && d >= 1)) throw new Error(`size ${JSON.stringify(size)} must be [height, width] of positive integers`);
    return [{ shape: [shape[0]!, shape[1]!, size[0], size[1]] }];
  },
  run: async (gpu, [x], [y], at) => {
    await bilinear(gpu, x!, at.size, { alignCorners: at.alignCorners, scaleFactor: at.scaleFactor, out: y });
  },
};

/** inputs: [logits [N, C, H, W]] → per-pixel softmax over C. */
export const channelSoftmaxOp: OpDef<Record<string, never>> = {
  name: 'channel_softmax',
  infer([x]) {
    const shape = need(x, 'x').shape;
    if (shape.length !== 4) throw new Error(`input ${fmt(shape)} must be [N, C, H, W]`);
    return [{ shape: [...shape] }];
  },
  run: async (gpu, [x], [y]) => {
    await channelSoftmax(gpu, x!, { out: y });
  },
};

/** inputs: [logits [N, C, H, W]] → u32 [N, H, W], the index of the largest class per pixel. */
export const channelArgmaxOp: OpDef<Record<string, never>> = {
  name: 'channel_argmax',
  infer([x]) {
    const shape = need(x, 'x').shape;
    if (shape.length !== 4) throw new Error(`input ${fmt(shape)} must be [N, C, H, W]`);
    return [{ shape: [shape[0]!, shape[2]!, shape[3]!], dtype: 'u32' }];
  },
  run: async (gpu, [x], [y]) => {
    await channelArgmax(gpu, x!, { out: y });
  },
};
