// Depthwise 2-D convolution (NCHW): groups = input channels, each output channel reads one input
// channel (ci = co / mult, mult = output channels per group, usually 1). A GEMM tile would have one
// useful row, so this is a direct kernel: each invocation computes four horizontally adjacent
// outputs of one channel (a vec4), looping over the taps; rows of taps outside the image are
// skipped, columns outside it read as 0 (a select, so no inf/NaN leaks from elsewhere).
//   y[n, co, oy, ox] = act( Σ_{ky, kx} w[co, ky, kx] · x[n, ci, iy, ix] + bias[co] + residual[n, co, oy, ox] )
// Weights are [Cout, KH, KW, 1], the same [Cout, KH, KW, Cin/groups] order as conv/conv2d.wgsl.
// @include common/activation.wgsl
// @include common/dispatch.wgsl

const WG: u32 = 64u;            // @param invocations per workgroup
const HAS_BIAS: bool = false;   // @param add bias[co]
const RESIDUAL: bool = false;   // @param add residual (y's shape) before the activation
const ACT: u32 = 0u;            // @param activation code (common/activation.wgsl)

struct Params {
  cin: u32,
  h: u32,
  w: u32,
  cout: u32,
  ho: u32,
  wo: u32,
  mult: u32,            // output channels per input channel
  kh: u32,
  kw: u32,
  stride: vec2<u32>,    // .x along the width, .y along the height
  pad: vec2<u32>,       // likewise
  dilation: vec2<u32>,  // likewise
  quads: u32,           // ceil(wo / 4): invocations per output row
  count: u32,           // batch · cout · ho · quads
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

fn load(at: u32, inside: bool) -> f32 {
  return select(0.0, x[at], inside);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = workgroup_linear(wid, nwg) * WG + lid;
  if (t >= p.count) { return; }
  let quad = t % p.quads;
  let r = t / p.quads;
  let oy = r % p.ho;
  let r2 = r / p.ho;
  let co = r2 % p.cout;
  let item = r2 / p.cout;
  let ci = co / p.mult;
  let ox0 = quad * 4u;

  let w_i = vec4<i32>(i32(p.w));
  let ix0 = vec4<i32>((vec4<u32>(ox0) + vec4<u32>(0u, 1u, 2u, 3u)) * p.stride.x) - vec4<i32>(i32(p.pad.x));
  let iy0 = i32(oy * p.stride.y) - i32(p.pad.y);
  let plane = (item * p.cin + ci) * p.h * p.w;
  let wbase = co * p.kh * p.kw;

  var acc = vec4<f32>(0.0);
  for (var ky = 0u; ky < p.kh; ky++) {
    let iy = iy0 + i32(ky * p.dilation.y);
    if (iy < 0 || iy >= i32(p.h)) { continue; }
    let row = plane + u32(iy) * p.w;
    for (var kx = 0u; kx < p.kw; kx++) {
      let ix = ix0 + vec4<i32>(i32(kx * p.dilation.x));
      let inside = (ix >= vec4<i32>(0)) & (ix < w_i);
      let at = vec4<u32>(row) + vec4<u32>(select(vec4<i32>(0), ix, inside));
      let v = vec4<f32>(load(at.x, inside.x), load(at.y, inside.y), load(at.z, inside.z), load(at.w, inside.w));
      acc += weight[wbase + ky * p.kw + kx] * v;
    }
  }

  let out_row = ((item * p.cout + co) * p.ho + oy) * p.wo;
  for (var j = 0u; j < 4u; j++) {
    let ox = ox0 + j;
    if (ox < p.wo) {
      let at = out_row + ox;
      var v = acc[j];
      if (HAS_BIAS) { v = v + bias[co]; }
      if (RESIDUAL) { v = v + residual[at]; }
      y[at] = activate(ACT, v);
    }
  }
}
