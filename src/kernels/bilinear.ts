// seedmask's one bilinear resampler (shaders/resize/bilinear.wgsl), behind every bilinear resize:
//   resizeLinear   the last two axes of an f32 tensor [..., h, w], in one of LINEAR_MODES (cv2
//                  INTER_LINEAR for CLIP-ES's CAMs, PyTorch's bilinear for PAR, the random walk
//                  and MaskCLIP), optionally rounded to float16 and cropped from a larger output
//   bilinear       DeepLab's F.interpolate(mode='bilinear') on NCHW: align_corners False or True,
//                  by output size or by scale factor
//   resize(…, 'bilinear-torch') in src/kernels/resize.ts
// One host function, linearAxis, computes per output index of one axis the two source indices and
// the two float32 weights, emulating the library's index arithmetic; the kernel combines them.
//
// Why five modes and not one: the libraries (and the references seedmask's results are pinned to)
// derive the source coordinate with different roundings, and a coordinate one float32 ulp apart
// moves the weights and hence the output bits.
//   'cv2'                  OpenCV: scale = 1/(full/in) in float64, the coordinate rounded to float32
//                          once, then clamped at both ends (weight 0 outside).
//   'torch'                PyTorch, align_corners=False: scale = float32(in/full), the coordinate
//                          scale·(o + 0.5) − 0.5 taken in float64 and rounded to float32 once.
//                          PAR, the random walk and MaskCLIP use it.
//   'torch-unfused'        PyTorch, align_corners=False, with every float32 operation rounded on its
//                          own: float32(float32(step·float32(o + 0.5)) − 0.5), step = float32(in/out),
//                          or float32(1/s) for an explicit scale factor s (F.interpolate's step when
//                          given scale_factor without recompute_scale_factor). The DeepLab ops and
//                          their PyTorch fixtures use it. Its coordinate differs from 'torch''s in the
//                          last bit for about 5 % of output indices at sizes up to a few hundred.
//   'torch-align-corners'  PyTorch, align_corners=True: float32(step·o), step = float32((in−1)/(full−1))
//                          (0 when full = 1). Both roundings agree here (the product is exact up to
//                          one rounding).
//   'torch-f64'            PyTorch's formula in float64 (coordinate and weights), the weights rounded
//                          to float32 independently, evaluated as two separable filter passes (see
//                          the shader): resize()'s 'bilinear-torch', whose tables and arithmetic are
//                          those of its bicubic modes (src/kernels/resize.ts).
import type { Gpu } from '../gpu/context.js';
import { KernelError } from '../gpu/errors.js';
import { ceilDiv, defineKernel, grid1d } from '../gpu/kernel.js';
import { Tensor, numel } from '../gpu/tensor.js';

export type LinearMode = 'cv2' | 'torch' | 'torch-unfused' | 'torch-align-corners' | 'torch-f64';
export const LINEAR_MODES: readonly LinearMode[] = ['cv2', 'torch', 'torch-unfused', 'torch-align-corners', 'torch-f64'];

/** The modes that take an explicit scale factor (PyTorch without align_corners, in float32). */
const SCALE_FACTOR_MODES: readonly LinearMode[] = ['torch', 'torch-unfused'];

// ---------------------------------------------------------------------------------------------
// Per-axis taps (host)

/** Per output index: source indices i0, i1 and float32 weights w0, w1 (value = in[i0]·w0 + in[i1]·w1). */
export interface LinearAxis {
  i0: Int32Array;
  i1: Int32Array;
  w0: Float32Array;
  w1: Float32Array;
}

const f32 = Math.fround;

/**
 * One axis of a bilinear resize from `inSize` to `fullSize` samples, for output indices 0..outSize−1
 * (outSize ≤ fullSize crops the far end, as the random walk does after upsampling to the padded size).
 * Per mode (see the header for why each exists):
 *   cv2: scale = 1/(full/in) in double; f = float32((o + 0.5)·scale − 0.5); s = floor(f); f −= s;
 *     s < 0 → (s, f) = (0, 0); s ≥ in−1 → (s, f) = (in−1, 0); weights 1−f, f.
 *   torch: scale = float32(in/full) (float32(1/scaleFactor) if given); src = float32(scale·(o + 0.5)
 *     − 0.5) with the product in double, clamped below at 0; i0 = min(floor(src), in−1);
 *     λ = clamp(float32(src − i0), 0, 1); weights float32(1 − λ), λ.
 *   torch-unfused: as torch, but src = max(float32(float32(scale·float32(o + 0.5)) − 0.5), 0).
 *   torch-align-corners: scale = float32((in−1)/(full−1)) (0 when full = 1); src = float32(scale·o).
 *   torch-f64: src = max((in/full)·(o + 0.5) − 0.5, 0), i0 = min(floor(src), in−1) and
 *     λ = clamp(src − i0, 0, 1) in double; weights float32(1 − λ), float32(λ); at the last index
 *     (i1 = i0) the two taps fold into one of weight 1, with w1 = 0 (the kernel then skips i1).
 * i1 = min(i0 + 1, in − 1) in every mode.
 */
export function linearAxis(mode: LinearMode, inSize: number, fullSize: number, outSize = fullSize, scaleFactor?: number): LinearAxis {
  if (!LINEAR_MODES.includes(mode)) throw new Error(`linearAxis: unknown mode '${String(mode)}' (known: ${LINEAR_MODES.join(', ')})`);
  for (const [what, v] of [['input size', inSize], ['full size', fullSize], ['output size', outSize]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`linearAxis: ${what} must be a positive integer, got ${v}`);
  }
  if (outSize > fullSize) throw new Error(`linearAxis: output size ${outSize} exceeds the full size ${fullSize}`);
  if (scaleFactor !== undefined) {
    if (!SCALE_FACTOR_MODES.includes(mode)) throw new Error(`linearAxis: mode '${mode}' takes no scale factor (only ${SCALE_FACTOR_MODES.join(', ')})`);
    if (!(scaleFactor > 0) || !Number.isFinite(scaleFactor)) throw new Error(`linearAxis: scale factor ${scaleFactor} must be positive and finite`);
  }
  const ax: LinearAxis = { i0: new Int32Array(outSize), i1: new Int32Array(outSize), w0: new Float32Array(outSize), w1: new Float32Array(outSize) };
  const last = inSize - 1;
  const torchStep = scaleFactor !== undefined ? f32(1 / scaleFactor) : f32(inSize / fullSize);
  for (let o = 0; o < outSize; o++) {
    let s: number, f: number;
    switch (mode) {
      case 'cv2': {
        const scale = 1 / (fullSize / inSize);
        f = f32((o + 0.5) * scale - 0.5);
        s = Math.floor(f);
        f = f32(f - s);
        if (s < 0) {
          s = 0;
          f = 0;
        }
        if (s >= last) {
          s = last;
          f = 0;
        }
        break;
      }
      case 'torch-f64': {
        const src = Math.max((inSize / fullSize) * (o + 0.5) - 0.5, 0);
        s = Math.min(Math.floor(src), last);
        const lambda = Math.min(Math.max(src - s, 0), 1);
        ax.i0[o] = s;
        if (s < last) {
          ax.i1[o] = s + 1;
          ax.w0[o] = 1 - lambda;
          ax.w1[o] = lambda;
        } else {
          // Both taps are the last sample: one tap of weight (1 − λ) + λ, which rounds to 1.
          ax.i1[o] = s;
          ax.w0[o] = 1;
          ax.w1[o] = 0;
        }
        continue;
      }
      default: {
        let src: number;
        if (mode === 'torch') src = Math.max(f32(torchStep * (o + 0.5) - 0.5), 0);
        else if (mode === 'torch-unfused') src = Math.max(f32(f32(torchStep * f32(o + 0.5)) - 0.5), 0);
        else src = f32((fullSize > 1 ? f32(last / (fullSize - 1)) : 0) * o);
        s = Math.min(Math.floor(src), last);
        f = Math.min(Math.max(f32(src - s), 0), 1);
      }
    }
    ax.i0[o] = s;
    ax.i1[o] = Math.min(s + 1, last);
    ax.w0[o] = f32(1 - f);
    ax.w1[o] = f;
  }
  return ax;
}

/** The taps of F.interpolate(mode='bilinear') for one axis, from its own arguments. */
export function bilinearAxis(inSize: number, outSize: number, alignCorners: boolean, scaleFactor?: number): LinearAxis {
  return alignCorners ? linearAxis('torch-align-corners', inSize, outSize) : linearAxis('torch-unfused', inSize, outSize, outSize, scaleFactor);
}

// ---------------------------------------------------------------------------------------------
// Kernel descriptor

const WG = 256;

export interface BilinearArgs {
  planes: number;
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  /** The filter-pass arithmetic of 'torch-f64' (see shaders/resize/bilinear.wgsl), else lerp. */
  filter: boolean;
  /** Filter form: the width first; and which axes change at all. */
  xFirst: boolean;
  resampleX: boolean;
  resampleY: boolean;
  roundF16: boolean;
}

const outputs = (a: BilinearArgs) => a.planes * a.outH * a.outW;

export const bilinearKernel = defineKernel<BilinearArgs>({
  name: 'bilinear',
  shader: 'resize/bilinear.wgsl',
  params: (a) => ({ FILTER: a.filter, X_FIRST: a.xFirst, RESAMPLE_X: a.resampleX, RESAMPLE_Y: a.resampleY, ROUND_F16: a.roundF16, WG }),
  uniforms: (a) => ({ in_h: a.inH, in_w: a.inW, out_h: a.outH, out_w: a.outW, count: outputs(a) }),
  workgroups: (a, t) => grid1d(ceilDiv(outputs(a), WG), t),
  sizes: (a) => ({ x: a.planes * a.inH * a.inW, tab: a.outH + a.outW, y: outputs(a) }),
  cost: (a) => ({ flops: 6 * outputs(a), bytes: 4 * (a.planes * a.inH * a.inW + outputs(a)) }),
});

// ---------------------------------------------------------------------------------------------
// Tensor-level ops

export interface ResizeLinearOptions {
  mode: LinearMode;
  /** Round every output to the nearest float16 value (CLIP-ES stores attn_highres as float16). */
  roundF16?: boolean;
  /** Resample onto this [H, W] and keep its top-left `size` crop (default: `size` itself). */
  fullSize?: readonly [number, number];
  /** 'torch' and 'torch-unfused': the scale factor the size came from, a number or [height, width]. */
  scaleFactor?: number | readonly [number, number];
  out?: Tensor;
}

function checkPositiveInt(op: string, what: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new KernelError(op, `${what} must be a positive integer, got ${v}`);
}

/** The filter form's longest window of one axis: 2 taps, or 1 where every output is a folded border tap. */
const taps = (ax: LinearAxis) => (ax.i0.some((i, o) => ax.i1[o] !== i) ? 2 : 1);

/** Bilinear resize of the last two axes of an f32 tensor [..., h, w] → [..., H, W] (see linearAxis). */
export async function resizeLinear(gpu: Gpu, x: Tensor, size: readonly [number, number], opts: ResizeLinearOptions): Promise<Tensor> {
  const op = 'bilinear';
  if (!(x instanceof Tensor) || x.dtype !== 'f32' || x.rank < 2) throw new KernelError(op, `input ${String(x)} must be f32 [..., h, w]`);
  const mode = opts.mode;
  if (!LINEAR_MODES.includes(mode)) throw new KernelError(op, `unknown mode '${String(mode)}' (known: ${LINEAR_MODES.join(', ')})`);
  const [outH, outW] = size;
  const [fullH, fullW] = opts.fullSize ?? size;
  for (const [what, v] of [['output height', outH], ['output width', outW], ['full height', fullH], ['full width', fullW]] as const) checkPositiveInt(op, what, v);
  if (outH > fullH || outW > fullW) throw new KernelError(op, `output ${outH}×${outW} is larger than the full size ${fullH}×${fullW} it is cropped from`);
  const sf = opts.scaleFactor;
  const [sy, sx] = sf === undefined ? [undefined, undefined] : typeof sf === 'number' ? [sf, sf] : [sf[0], sf[1]];
  if (sf !== undefined && !SCALE_FACTOR_MODES.includes(mode)) throw new KernelError(op, `mode '${mode}' takes no scale factor (only ${SCALE_FACTOR_MODES.join(', ')})`);
  for (const s of [sy, sx]) if (s !== undefined && !(s > 0 && Number.isFinite(s))) throw new KernelError(op, `scale factor ${s} must be positive and finite`);
  const inH = x.shape[x.rank - 2]!, inW = x.shape[x.rank - 1]!;
  checkPositiveInt(op, `input ${x} height`, inH);
  checkPositiveInt(op, `input ${x} width`, inW);
  const lead = x.shape.slice(0, -2);
  const planes = x.size / (inH * inW);
  const y = opts.out ?? gpu.empty([...lead, outH, outW], 'f32', `resize ${mode}`);
  if (!(y instanceof Tensor) || y.dtype !== 'f32' || y.size !== planes * outH * outW) throw new KernelError(op, `out ${String(y)} must be f32 [${[...lead, outH, outW].join(', ')}]`);
  if (planes === 0) return y;

  const ry = linearAxis(mode, inH, fullH, outH, sy), rx = linearAxis(mode, inW, fullW, outW, sx);
  const filter = mode === 'torch-f64';
  // The filter form resamples only the axes that change, the cheaper pass first (fewer multiply-
  // adds: the first pass runs over the other axis at its input size).
  const resampleY = !filter || inH !== fullH, resampleX = !filter || inW !== fullW;
  const xFirst = !filter || inH * outW * taps(rx) + outH * outW * taps(ry) <= outH * inW * taps(ry) + outH * outW * taps(rx);

  const makeTaps = (): Uint32Array => {
    const tab = new Uint32Array(4 * (outH + outW));
    const weights = new Float32Array(tab.buffer);
    const put = (at: number, ax: LinearAxis, o: number) => {
      tab[4 * at] = ax.i0[o]!;
      tab[4 * at + 1] = ax.i1[o]!;
      weights[4 * at + 2] = ax.w0[o]!;
      weights[4 * at + 3] = ax.w1[o]!;
    };
    for (let o = 0; o < outH; o++) put(o, ry, o);
    for (let o = 0; o < outW; o++) put(outH + o, rx, o);
    return tab;
  };
  // The taps depend only on the mode and the sizes: a device constant, uploaded once (and before
  // recording: an upload submits the batch recorded so far).
  const key = `bilinear ${mode} ${inH}×${inW}→${outH}×${outW} of ${fullH}×${fullW} scale ${sy ?? '-'}×${sx ?? '-'}`;
  const tabT = gpu.constant(key, [outH + outW, 4], 'u32', makeTaps);
  const args: BilinearArgs = { planes, inH, inW, outH, outW, filter, xFirst, resampleX, resampleY, roundF16: opts.roundF16 ?? false };
  await gpu.run(bilinearKernel, args, { x, tab: tabT, y });
  return y;
}

/** F.interpolate's output size for a scale factor: ⌊size · scale⌋ (Python, in double). */
export function scaledSize(size: number, scaleFactor: number): number {
  if (!(scaleFactor > 0) || !Number.isFinite(scaleFactor)) throw new KernelError('bilinear', `scale factor ${scaleFactor} must be positive and finite`);
  return Math.floor(size * scaleFactor);
}

export interface BilinearOptions {
  /** PyTorch's align_corners (default false). */
  alignCorners?: boolean;
  /**
   * The scale factor the size came from (F.interpolate(scale_factor=s) without
   * recompute_scale_factor): the sampling step is then 1/s instead of in/out. Ignored with
   * alignCorners. A number or [height, width].
   */
  scaleFactor?: number | readonly [number, number];
  out?: Tensor;
}

/** F.interpolate(mode='bilinear') of x [N, C, H, W] to [N, C, size[0], size[1]] (see BilinearOptions). */
export async function bilinear(gpu: Gpu, x: Tensor, size: readonly [number, number], opts: BilinearOptions = {}): Promise<Tensor> {
  const op = 'bilinear';
  if (!(x instanceof Tensor)) throw new KernelError(op, 'is not a Tensor', 'x');
  if (x.dtype !== 'f32') throw new KernelError(op, `${x} must be f32`, 'x');
  if (x.rank !== 4) throw new KernelError(op, `input ${x} must be [N, C, H, W]`, 'x');
  const [n, c, h, w] = x.shape as [number, number, number, number];
  if (!Array.isArray(size) || size.length !== 2 || !size.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new KernelError(op, `size ${JSON.stringify(size)} must be [height, width] of positive integers`);
  }
  if (h < 1 || w < 1) throw new KernelError(op, `input ${x} is empty`, 'x');
  const shape = [n, c, size[0], size[1]];
  const sf = opts.scaleFactor;
  for (const s of sf === undefined ? [] : typeof sf === 'number' ? [sf] : [sf[0], sf[1]]) {
    if (!(s > 0 && Number.isFinite(s))) throw new KernelError(op, `scale factor ${s} must be positive and finite`);
  }
  const out = opts.out;
  if (out && (!(out instanceof Tensor) || out.dtype !== 'f32' || out.size !== numel(shape))) {
    throw new KernelError(op, `${out} does not hold the result [${shape.join(', ')}] f32`, 'y');
  }
  const y = out ?? gpu.empty(shape, 'f32', 'bilinear');
  const align = opts.alignCorners ?? false;
  return resizeLinear(gpu, x, size, align ? { mode: 'torch-align-corners', out: y } : { mode: 'torch-unfused', scaleFactor: sf, out: y });
}
