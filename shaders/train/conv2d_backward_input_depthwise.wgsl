// Input gradient of a depthwise 2-D convolution (one input channel per group, groups = cin,
// cout = groups · multiplier), where conv2d_backward_input.wgsl's register block would have a
// single useful row:
//   dx[n, c, iy, ix] = Σ_{ky, kx} Σ_{m < mult} dy[n, c·mult + m, oy, ox] · w[c·mult + m, ky, kx, 0]
// over the taps whose output pixel exists (iy + pad_y − ky·dilation_y = oy·stride_y, 0 ≤ oy < ho,
// likewise along the width). As in conv2d_backward_input.wgsl the input pixels are split into
// stride phases, so that every pixel of a phase sees the same taps (common/conv_geometry.wgsl,
// conv_phase_taps); an invocation gathers a run of 8 consecutive pixels of one phase row of one
// channel: per tap and output channel one weight and 8 consecutive dy values (a column whose dy
// pixel lies outside the output reads 0 by a select). One flat loop over (tap, multiplier), the
// multiplier innermost, taps in (ky, kx) order, each product added to the running sum in that
// order: a run is bit-identical on the same adapter. With `accumulate` = 1 the sum is then added
// to dx.
// @include common/conv_geometry.wgsl
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
  cout_g: u32,          // the multiplier: output channels per input channel
  stride: vec2<u32>,    // .x along the width, .y along the height
  pad: vec2<u32>,       // likewise
  dilation: vec2<u32>,  // likewise
  tap_step: vec2<u32>,  // stride / gcd(stride, dilation): between the taps of one phase
  off_step: vec2<u32>,  // tap_step · dilation / stride: the dy shift between them
  rows: u32,            // rows of the largest phase, (0, 0): ⌈h / stride.y⌉
  runs: u32,            // runs of 8 pixels per row of the largest phase: ⌈⌈w / stride.x⌉ / 8⌉
  count: u32,           // N · cin · stride.y · stride.x · rows · runs
  accumulate: u32,      // 1: dx += gradient
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// dy at row offset `row` and columns ox (4 of them) where `inside`, else 0 (loads stay in bounds).
fn dy4(row: u32, ox: vec4<i32>, inside: vec4<bool>) -> vec4<f32> {
  let at = select(vec4<u32>(0u), vec4<u32>(row) + vec4<u32>(ox), inside);
  return select(vec4<f32>(0.0), vec4<f32>(dy[at.x], dy[at.y], dy[at.z], dy[at.w]), inside);
}

fn store(at: u32, v: f32) {
  var r = v;
  if (p.accumulate != 0u) { r = dx[at] + r; }
  dx[at] = r;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = workgroup_linear(wid, nwg) * WG + lid;
  if (e >= p.count) { return; }
  let run = e % p.runs;
  let r0 = e / p.runs;
  let jy = r0 % p.rows;
  let r1 = r0 / p.rows;
  let phases = p.stride.x * p.stride.y;
  let phase = r1 % phases;
  let plane = r1 / phases;          // item · cin + c
  let c = plane % p.cin;
  let item = plane / p.cin;
  let py = phase / p.stride.x;
  let px = phase - py * p.stride.x;
  let wp = conv_phase_size(px, p.stride.x, p.w);
  let jx0 = run * 8u;
  if (jy >= conv_phase_size(py, p.stride.y, p.h) || jx0 >= wp) { return; }

  let taps = p.kh * p.kw;
  let hwo = p.ho * p.wo;
  let ty = conv_phase_taps(py, p.stride.y, p.pad.y, p.dilation.y, p.kh, p.tap_step.y);
  let tx = conv_phase_taps(px, p.stride.x, p.pad.x, p.dilation.x, p.kw, p.tap_step.x);
  let steps = u32(ty.y) * u32(tx.y) * p.cout_g;
  let cols_lo = vec4<i32>(i32(jx0)) + vec4<i32>(0, 1, 2, 3);
  let cols_hi = cols_lo + vec4<i32>(4);
  let wo_i = vec4<i32>(i32(p.wo));
  let ho_i = i32(p.ho);
  var acc_lo = vec4<f32>();
  var acc_hi = vec4<f32>();
  var m = 0u;
  var my = 0u;
  var mx = 0u;
  for (var step = 0u; step < steps; step++) {
    let ky = u32(ty.x) + my * p.tap_step.y;
    let kx = u32(tx.x) + mx * p.tap_step.x;
    let oy = i32(jy) + ty.z - i32(my * p.off_step.y);
    let sx = tx.z - i32(mx * p.off_step.x);
    let ox_lo = cols_lo + vec4<i32>(sx);
    let ox_hi = cols_hi + vec4<i32>(sx);
    let row_ok = oy >= 0 && oy < ho_i;
    let row_in = vec4<bool>(row_ok);
    let in_lo = row_in & (ox_lo >= vec4<i32>(0)) & (ox_lo < wo_i);
    let in_hi = row_in & (ox_hi >= vec4<i32>(0)) & (ox_hi < wo_i);
    let co = c * p.cout_g + m;
    let row = (item * p.cout + co) * hwo + u32(max(oy, 0)) * p.wo;
    let wv = weight[co * taps + ky * p.kw + kx];
    acc_lo += wv * dy4(row, ox_lo, in_lo);
    acc_hi += wv * dy4(row, ox_hi, in_hi);
    m++;
    let next_x = m == p.cout_g;
    m = select(m, 0u, next_x);
    mx = select(mx, mx + 1u, next_x);
    let next_y = mx == u32(tx.y);
    mx = select(mx, 0u, next_y);
    my = select(my, my + 1u, next_y);
  }

  // Input pixels iy = py + jy·stride_y, ix = px + (jx0 + j)·stride_x for the columns that exist.
  let out = (plane * p.h + py + jy * p.stride.y) * p.w + px + jx0 * p.stride.x;
  let n = min(8u, wp - jx0);
  let sx = p.stride.x;
  store(out, acc_lo.x);
  if (n > 1u) { store(out + sx, acc_lo.y); }
  if (n > 2u) { store(out + 2u * sx, acc_lo.z); }
  if (n > 3u) { store(out + 3u * sx, acc_lo.w); }
  if (n > 4u) { store(out + 4u * sx, acc_hi.x); }
  if (n > 5u) { store(out + 5u * sx, acc_hi.y); }
  if (n > 6u) { store(out + 6u * sx, acc_hi.z); }
  if (n > 7u) { store(out + 7u * sx, acc_hi.w); }
}
