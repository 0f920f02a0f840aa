// 2-D max pooling of NCHW planes that also records where each maximum came from, for the backward
// pass: idx[plane, oy, ox] = iy·w + ix of the winning tap (PyTorch's `return_indices`), one output
// per invocation. PyTorch's CPU rule: the first tap inside the image starts as the winner with the
// value −inf, a later tap wins when it is larger or NaN (so the first of equal maxima wins, and
// with NaNs the last NaN). Windows start at o·stride − pad; padding never wins.
// @include common/dispatch.wgsl
// @include common/float.wgsl

const WG: u32 = 64u;  // @param invocations per workgroup

struct Params {
  h: u32,
  w: u32,
  ho: u32,
  wo: u32,
  kernel: vec2<u32>,    // .x along the width, .y along the height
  stride: vec2<u32>,    // likewise
  pad: vec2<u32>,       // likewise
  dilation: vec2<u32>,  // likewise
  count: u32,           // planes · ho · wo
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> idx: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = workgroup_linear(wid, nwg) * WG + lid;
  if (t >= p.count) { return; }
  let ox = t % p.wo;
  let r = t / p.wo;
  let oy = r % p.ho;
  let plane = (r / p.ho) * p.h * p.w;
  let y0 = i32(oy * p.stride.y) - i32(p.pad.y);
  let x0 = i32(ox * p.stride.x) - i32(p.pad.x);
  let h = i32(p.h);
  let w = i32(p.w);

  var m = f32_neg_inf();
  var best = 0u;
  var first = true;
  for (var ky = 0u; ky < p.kernel.y; ky++) {
    let iy = y0 + i32(ky * p.dilation.y);
    if (iy < 0 || iy >= h) { continue; }
    for (var kx = 0u; kx < p.kernel.x; kx++) {
      let ix = x0 + i32(kx * p.dilation.x);
      if (ix < 0 || ix >= w) { continue; }
      let at = u32(iy * w + ix);
      let v = x[plane + at];
      if (first) { best = at; first = false; }
      if (v > m || f32_is_nan(v)) {
        m = v;
        best = at;
      }
    }
  }
  y[t] = m;
  idx[t] = best;
}
