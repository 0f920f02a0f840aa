// Max pooling for training over NCHW f32 tensors (shaders/train/): a forward that records the
// winning tap of every window (PyTorch's return_indices, flat iy·W + ix within the plane, u32) and
// the backward that routes each output gradient to it, gathered per input element (no atomics,
// PyTorch's order of addition). Geometry and checks are the inference pool's (src/kernels/pool.ts,
// poolGeometry: kernel, stride, padding, dilation, ceil_mode).
import type { Gpu } from '../../gpu/context.js';
import { KernelError } from '../../gpu/errors.js';
import { ceilDiv, defineKernel, grid1d } from '../../gpu/kernel.js';
import type { Shape, Tensor } from '../../gpu/tensor.js';
import { poolGeometry, type Pool2dOptions, type PoolGeometry } from '../pool.js';
import { checkNchw, checkNoOverlap, checkSize, checkTensor, fmt, resultTensor, xy } from './common.js';

const WG = 64;
const FWD_OP = 'maxpool_forward_indices';
const BACK_OP = 'maxpool_backward';

const inputs = (a: PoolGeometry) => a.planes * a.h * a.w;
const outputs = (a: PoolGeometry) => a.planes * a.ho * a.wo;

function windowUniforms(a: PoolGeometry) {
  return { h: a.h, w: a.w, ho: a.ho, wo: a.wo, kernel: xy(a.kernel), stride: xy(a.stride), pad: xy(a.padding), dilation: xy(a.dilation) };
}

export const maxPoolForwardKernel = defineKernel<PoolGeometry>({
  name: FWD_OP,
  shader: 'train/maxpool_forward.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ ...windowUniforms(a), count: outputs(a) }),
  workgroups: (a, t) => grid1d(ceilDiv(outputs(a), WG), t),
  sizes: (a) => ({ x: inputs(a), y: outputs(a), idx: outputs(a) }),
  cost: (a) => ({ flops: outputs(a) * a.kernel[0] * a.kernel[1], bytes: 4 * (inputs(a) + 2 * outputs(a)) }),
});

export interface MaxPoolBackwardArgs extends PoolGeometry {
  accumulate: boolean;
}

export const maxPoolBackwardKernel = defineKernel<MaxPoolBackwardArgs>({
  name: BACK_OP,
  shader: 'train/maxpool_backward.wgsl',
  params: () => ({ WG }),
  uniforms: (a) => ({ ...windowUniforms(a), count: inputs(a), accumulate: a.accumulate ? 1 : 0 }),
  workgroups: (a, t) => grid1d(ceilDiv(inputs(a), WG), t),
  sizes: (a) => ({ g: outputs(a), idx: outputs(a), dx: inputs(a) }),
  cost: (a) => {
    // Each input element visits the windows that may contain it: about (k·d/s)² per axis pair.
    const visits = Math.ceil((a.kernel[0] * a.dilation[0]) / a.stride[0]) * Math.ceil((a.kernel[1] * a.dilation[1]) / a.stride[1]);
    return { flops: inputs(a) * visits, bytes: 4 * (inputs(a) * (a.accumulate ? 2 : 1) + 2 * outputs(a)) };
  },
});

/** Max pooling of x [N, C, H, W] → { y [N, C, Ho, Wo], indices (u32, same shape) } for maxPool2dBackward. */
export async function maxPool2dWithIndices(gpu: Gpu, x: Tensor, opts: Omit<Pool2dOptions, 'countIncludePad'> & { indicesOut?: Tensor }): Promise<{ y: Tensor; indices: Tensor }> {
  const [n, c] = checkNchw(FWD_OP, x, 'x');
  const g = poolGeometry(x.shape, 'max', opts);
  const shape = [n, c, g.ho, g.wo];
  const y = resultTensor(gpu, FWD_OP, 'y', shape, opts.out);
  let indices: Tensor;
  if (opts.indicesOut) {
    indices = checkTensor(FWD_OP, opts.indicesOut, 'idx', 'u32');
    checkSize(FWD_OP, indices, shape, 'idx');
  } else {
    indices = gpu.empty(shape, 'u32', FWD_OP);
  }
  checkNoOverlap(FWD_OP, 'y', y, { x, idx: indices });
  checkNoOverlap(FWD_OP, 'idx', indices, { x });
  await gpu.run(maxPoolForwardKernel, g, { x, y, idx: indices });
  return { y, indices };
}

/**
 * dx [N, C, H, W] of max pooling for the output gradient g, the forward's indices and x's shape,
 * with the forward's options. `accumulate` adds to out.
 */
export async function maxPool2dBackward(gpu: Gpu, g: Tensor, indices: Tensor, xShape: Shape, opts: Omit<Pool2dOptions, 'countIncludePad' | 'out'> & { out?: Tensor; accumulate?: boolean }): Promise<Tensor> {
  checkTensor(BACK_OP, g, 'g');
  checkTensor(BACK_OP, indices, 'idx', 'u32');
  const geo = poolGeometry(xShape, 'max', opts);
  const [n, c] = xShape as [number, number];
  const outShape = [n, c, geo.ho, geo.wo];
  if (g.size !== outShape.reduce((a, b) => a * b, 1)) throw new KernelError(BACK_OP, `${g} is not the forward's output ${fmt(outShape)}`, 'g');
  checkSize(BACK_OP, indices, outShape, 'idx');
  const accumulate = opts.accumulate ?? false;
  const dx = resultTensor(gpu, BACK_OP, 'dx', xShape, opts.out, accumulate);
  checkNoOverlap(BACK_OP, 'dx', dx, { g, idx: indices });
  await gpu.run(maxPoolBackwardKernel, { ...geo, accumulate }, { g, idx: indices, dx });
  return dx;
}
