// Max-pooling backward from the forward's indices (maxpool_forward.wgsl), gathered per input
// element so that each is written once, in a fixed order, without atomics:
//   dx[plane, iy, ix] = Σ_{oy, ox: idx[plane, oy, ox] = iy·w + ix} g[plane, oy, ox]
// over the windows that contain the element: oy from ⌈(iy + pad − (k − 1)·dilation)/stride⌉ to
// ⌊(iy + pad)/stride⌋, clipped to the output (likewise ox), in increasing (oy, ox) order, the
// order in which PyTorch's CPU backward adds them.
// @include common/dispatch.wgsl

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
  count: u32,           // planes · h · w
  accumulate: u32,      // 1: dx += gradient
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// The output windows along one axis that can contain input index i: [first, last] (empty when
// first > last).
fn window_range(i: u32, k: u32, stride: u32, pad: u32, dilation: u32, n_out: u32) -> vec2<i32> {
  let hi = i32(i + pad);                     // the window starting here has i as its first tap
  let lo = hi - i32((k - 1u) * dilation);    // … and here as its last
  let s = i32(stride);
  let first = select(0, (lo + s - 1) / s, lo > 0);
  let last = min(hi / s, i32(n_out) - 1);
  return vec2<i32>(first, last);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = workgroup_linear(wid, nwg) * WG + lid;
  if (e >= p.count) { return; }
  let hw = p.h * p.w;
  let plane = e / hw;
  let at = e - plane * hw;
  let iy = at / p.w;
  let ix = at - iy * p.w;
  let ry = window_range(iy, p.kernel.y, p.stride.y, p.pad.y, p.dilation.y, p.ho);
  let rx = window_range(ix, p.kernel.x, p.stride.x, p.pad.x, p.dilation.x, p.wo);
  let base = plane * p.ho * p.wo;
  var acc = 0.0;
  for (var oy = ry.x; oy <= ry.y; oy++) {
    for (var ox = rx.x; ox <= rx.y; ox++) {
      let o = base + u32(oy) * p.wo + u32(ox);
      if (idx[o] == at) { acc += g[o]; }
    }
  }
  if (p.accumulate != 0u) { acc = dx[e] + acc; }
  dx[e] = acc;
}
