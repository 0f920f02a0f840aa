// Input gradient of a 2-D convolution over NCHW f32 tensors (src/kernels/conv.ts's forward, weights
// in [Cout, KH, KW, Cin/groups] order), one input element per invocation, gathered rather than
// scattered so that every element is written once, with a fixed summation order and no atomics:
//   dx[n, ci, iy, ix] = Σ_{ky, kx} Σ_{co ∈ group(ci)} dy[n, co, oy, ox] · w[co, ky, kx, ci − g·cin_g]
// over the taps whose output pixel exists: iy + pad_y − ky·dilation_y = oy·stride_y with
// 0 ≤ oy < ho (and likewise along the width). Taps outside the output are skipped. The order is
// ky, kx outside and the group's output channels inside.
// With `accumulate` = 1 the result is added to dx (a gradient that also flows in from elsewhere).
// @include common/dispatch.wgsl

const WG: u32 = 64u;  // @param invocations per workgroup

struct Params {
  cin: u32,
  h: u32,
  w: u32,
  cout: u32,
  ho: u32,
  wo: u32,
  kh: u32,
  kw: u32,
  cin_g: u32,
  cout_g: u32,
  stride: vec2<u32>,    // .x along the width, .y along the height
  pad: vec2<u32>,       // likewise
  dilation: vec2<u32>,  // likewise
  count: u32,           // N · cin · h · w
  accumulate: u32,      // 1: dx += gradient
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// The output index along one axis that tap k reaches from input index i, or −1 when none does.
fn out_index(i: u32, k: u32, stride: u32, pad: u32, dilation: u32, n_out: u32) -> i32 {
  let t = i32(i + pad) - i32(k * dilation);
  if (t < 0) { return -1; }
  let o = u32(t) / stride;
  if (o * stride != u32(t) || o >= n_out) { return -1; }
  return i32(o);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = workgroup_linear(wid, nwg) * WG + lid;
  if (e >= p.count) { return; }
  let ix = e % p.w;
  let r0 = e / p.w;
  let iy = r0 % p.h;
  let r1 = r0 / p.h;
  let ci = r1 % p.cin;
  let item = r1 / p.cin;
  let g = ci / p.cin_g;
  let cil = ci - g * p.cin_g;
  let hwo = p.ho * p.wo;
  let co0 = g * p.cout_g;
  let taps = p.kh * p.kw;

  var acc = 0.0;
  for (var ky = 0u; ky < p.kh; ky++) {
    let oy = out_index(iy, ky, p.stride.y, p.pad.y, p.dilation.y, p.ho);
    if (oy < 0) { continue; }
    for (var kx = 0u; kx < p.kw; kx++) {
      let ox = out_index(ix, kx, p.stride.x, p.pad.x, p.dilation.x, p.wo);
      if (ox < 0) { continue; }
      var dyi = (item * p.cout + co0) * hwo + u32(oy) * p.wo + u32(ox);
      var wi = (co0 * taps + ky * p.kw + kx) * p.cin_g + cil;
      for (var c = 0u; c < p.cout_g; c++) {
        acc += dy[dyi] * weight[wi];
        dyi += hwo;
        wi += taps * p.cin_g;
      }
    }
  }
  if (p.accumulate != 0u) { acc = dx[e] + acc; }
  dx[e] = acc;
}
