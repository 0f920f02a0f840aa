// Backward of F.interpolate(mode='bilinear') on NCHW f32 tensors (shaders/train/bilinear_backward.wgsl),
// the exact adjoint of seedmask's forward (src/kernels/bilinear.ts, `bilinear`): the same per-axis
// taps and float32 weights (bilinearAxis: align_corners False or True, by size or scale factor),
// inverted on the host into per-input-index lists, so that the kernel gathers every input
// gradient in a fixed order without atomics.
import type { Gpu } from '../../gpu/context.js';
import { KernelError } from '../../gpu/errors.js';
import { ceilDiv, defineKernel, grid1d } from '../../gpu/kernel.js';
import type { Tensor } from '../../gpu/tensor.js';
import { bilinearAxis, type LinearAxis } from '../bilinear.js';
import { checkNchw, checkNoOverlap, resultTensor } from './common.js';

const OP = 'bilinear_backward';
const WG = 256;

export interface BilinearBackwardArgs {
  planes: number;
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  /** Entries in the row and column lists (two per output index of the axis). */
  rowEntries: number;
  colEntries: number;
  accumulate: boolean;
}

const tableWords = (a: BilinearBackwardArgs) => a.inH + 1 + a.inW + 1 + 2 * (a.rowEntries + a.colEntries);
const inputs = (a: BilinearBackwardArgs) => a.planes * a.inH * a.inW;
const outputs = (a: BilinearBackwardArgs) => a.planes * a.outH * a.outW;

export const bilinearBackwardKernel = defineKernel<BilinearBackwardArgs>({
  name: OP,
  shader: 'train/bilinear_backward.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({
    in_h: a.inH, in_w: a.inW, out_h: a.outH, out_w: a.outW,
    col_starts: a.inH + 1, row_entries: a.inH + 1 + a.inW + 1, col_entries: a.inH + 1 + a.inW + 1 + 2 * a.rowEntries,
    count: inputs(a), accumulate: a.accumulate ? 1 : 0,
  }),
  workgroups: (a, t) => grid1d(ceilDiv(inputs(a), WG), t),
  sizes: (a) => ({ g: outputs(a), tab: tableWords(a), dx: inputs(a) }),
  // Every output gradient reaches four inputs (a multiply-add and a weight product each).
  cost: (a) => ({ flops: 12 * outputs(a), bytes: 4 * (outputs(a) + (a.accumulate ? 2 : 1) * inputs(a)) }),
});

/** One axis's forward taps inverted: per input index, the (output index, weight) pairs that read it, in output order. */
export function invertAxis(ax: LinearAxis, inSize: number): { starts: Uint32Array; out: Uint32Array; weight: Float32Array } {
  const n = ax.i0.length;
  const counts = new Uint32Array(inSize + 1);
  for (let o = 0; o < n; o++) {
    counts[ax.i0[o]! + 1]!++;
    counts[ax.i1[o]! + 1]!++;
  }
  for (let i = 0; i < inSize; i++) counts[i + 1]! += counts[i]!;
  const starts = counts.slice();
  const fill = counts.slice(0, inSize);
  const out = new Uint32Array(2 * n), weight = new Float32Array(2 * n);
  for (let o = 0; o < n; o++) {
    for (const [i, w] of [[ax.i0[o]!, ax.w0[o]!], [ax.i1[o]!, ax.w1[o]!]] as const) {
      const k = fill[i]!++;
      out[k] = o;
      weight[k] = w;
    }
  }
  return { starts, out, weight };
}

export interface BilinearBackwardOptions {
  /** The forward's align_corners (default false). */
  alignCorners?: boolean;
  /** The forward's scale factor (F.interpolate(scale_factor=s) without recompute_scale_factor); ignored with alignCorners. */
  scaleFactor?: number | readonly [number, number];
  out?: Tensor;
  /** Add to out. */
  accumulate?: boolean;
}

/**
 * dx [N, C, inSize[0], inSize[1]] of y = bilinear(x, [outH, outW]) for the output gradient
 * g [N, C, outH, outW] and the forward's options.
 */
export async function bilinearBackward(gpu: Gpu, g: Tensor, inSize: readonly [number, number], opts: BilinearBackwardOptions = {}): Promise<Tensor> {
  const [n, c, outH, outW] = checkNchw(OP, g, 'g');
  const [inH, inW] = inSize;
  for (const [what, v] of [['input height', inH], ['input width', inW]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new KernelError(OP, `${what} must be a positive integer, got ${v}`);
  }
  if (outH < 1 || outW < 1) throw new KernelError(OP, `${g} is empty`, 'g');
  const align = opts.alignCorners ?? false;
  const sf = align ? undefined : opts.scaleFactor;
  const [sy, sx] = sf === undefined ? [undefined, undefined] : typeof sf === 'number' ? [sf, sf] : [sf[0], sf[1]];
  for (const s of [sy, sx]) if (s !== undefined && !(s > 0 && Number.isFinite(s))) throw new KernelError(OP, `scale factor ${s} must be positive and finite`);
  const accumulate = opts.accumulate ?? false;
  const dx = resultTensor(gpu, OP, 'dx', [n, c, inH, inW], opts.out, accumulate);
  checkNoOverlap(OP, 'dx', dx, { g });
  const args: BilinearBackwardArgs = { planes: n * c, inH, inW, outH, outW, rowEntries: 2 * outH, colEntries: 2 * outW, accumulate };
  const key = `bilinear_backward ${align ? 'align' : 'half-pixel'} ${inH}×${inW}→${outH}×${outW} scale ${sy ?? '-'}×${sx ?? '-'}`;
  const tab = gpu.constant(key, [tableWords(args)], 'u32', () => {
    const rows = invertAxis(bilinearAxis(inH, outH, align, sy), inH);
    const cols = invertAxis(bilinearAxis(inW, outW, align, sx), inW);
    const words = new Uint32Array(tableWords(args));
    const bits = new Float32Array(1);
    const asU32 = new Uint32Array(bits.buffer);
    let at = 0;
    words.set(rows.starts, at);
    at += inH + 1;
    words.set(cols.starts, at);
    at += inW + 1;
    for (const list of [rows, cols]) {
      for (let k = 0; k < list.out.length; k++) {
        bits[0] = list.weight[k]!;
        words[at++] = list.out[k]!;
        words[at++] = asU32[0]!;
      }
    }
    return words;
  });
  await gpu.run(bilinearBackwardKernel, args, { g, tab, dx });
  return dx;
}
