// Bilinear resampling of NCHW planes with host-computed taps (src/kernels/pool.ts builds them in
// PyTorch's float32 arithmetic for align_corners False or True, with or without an explicit scale
// factor), one output per invocation:
//   y[o_y, o_x] = (1 − λy)·((1 − λx)·x[y0, x0] + λx·x[y0, x1]) + λy·((1 − λx)·x[y1, x0] + λx·x[y1, x1])
// the evaluation order of PyTorch's CPU kernel (height outer). Tables:
//   index  = [y0 (ho), y1 (ho), x0 (wo), x1 (wo)]   lambda = [λy (ho), λx (wo)]
// @include common/dispatch.wgsl

const WG: u32 = 64u;  // @param invocations per workgroup

struct Params {
  h: u32,
  w: u32,
  ho: u32,
  wo: u32,
  count: u32,  // planes · ho · wo
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> index: array<u32>;
@group(0) @binding(3) var<storage, read> lambda: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = workgroup_linear(wid, nwg) * WG + lid;
  if (t >= p.count) { return; }
  let ox = t % p.wo;
  let r = t / p.wo;
  let oy = r % p.ho;
  let plane = (r / p.ho) * p.h * p.w;
  let r0 = plane + index[oy] * p.w;
  let r1 = plane + index[p.ho + oy] * p.w;
  let c0 = index[2u * p.ho + ox];
  let c1 = index[2u * p.ho + p.wo + ox];
  let ly1 = lambda[oy];
  let lx1 = lambda[p.ho + ox];
  let ly0 = 1.0 - ly1;
  let lx0 = 1.0 - lx1;
  let top = x[r0 + c0] * lx0 + x[r0 + c1] * lx1;
  let bottom = x[r1 + c0] * lx0 + x[r1 + c1] * lx1;
  y[t] = top * ly0 + bottom * ly1;
}
