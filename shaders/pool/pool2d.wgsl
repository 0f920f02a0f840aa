// 2-D max or average pooling of NCHW planes, one output per invocation, in PyTorch's semantics
// (F.max_pool2d / F.avg_pool2d): windows start at o·stride − pad; the host works out the output
// size (ceil_mode included: src/kernels/pool.ts), so a window may reach past the bottom/right edge.
//   max: the largest tap inside the image (padding never wins); NaN propagates as in PyTorch.
//   avg: the sum of the taps inside the image over a divisor: with COUNT_PAD the window clipped to
//        the padded image (PyTorch's count_include_pad=True: padding counts, the ceil_mode overhang
//        past the padding does not), else the taps inside the image.
// @include common/dispatch.wgsl
// @include common/float.wgsl

const MODE: u32 = 0u;           // @param 0 max, 1 average
const COUNT_PAD: bool = true;   // @param average: padding taps count in the divisor
const WG: u32 = 64u;            // @param invocations per workgroup

struct Params {
  h: u32,
  w: u32,
  ho: u32,
  wo: u32,
  kernel: vec2<u32>,    // .x along the width, .y along the height
  stride: vec2<u32>,    // likewise
  pad: vec2<u32>,       // likewise
  dilation: vec2<u32>,  // likewise (max only; average pooling has none)
  count: u32,           // planes · ho · wo
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

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

  if (MODE == 0u) {
    var m = f32_neg_inf();
    for (var ky = 0u; ky < p.kernel.y; ky++) {
      let iy = y0 + i32(ky * p.dilation.y);
      if (iy < 0 || iy >= h) { continue; }
      for (var kx = 0u; kx < p.kernel.x; kx++) {
        let ix = x0 + i32(kx * p.dilation.x);
        if (ix < 0 || ix >= w) { continue; }
        let v = x[plane + u32(iy * w + ix)];
        if (v > m || f32_is_nan(v)) { m = v; }
      }
    }
    y[t] = m;
  } else {
    // The window clipped to the padded image (the divisor with padding), then to the image.
    let y1 = min(y0 + i32(p.kernel.y), h + i32(p.pad.y));
    let x1 = min(x0 + i32(p.kernel.x), w + i32(p.pad.x));
    let padded = (y1 - y0) * (x1 - x0);
    let ya = max(y0, 0);
    let xa = max(x0, 0);
    let yb = min(y1, h);
    let xb = min(x1, w);
    var s = 0.0;
    for (var iy = ya; iy < yb; iy++) {
      for (var ix = xa; ix < xb; ix++) { s += x[plane + u32(iy * w + ix)]; }
    }
    let inside = (yb - ya) * (xb - xa);
    y[t] = s / f32(select(inside, padded, COUNT_PAD));
  }
}
