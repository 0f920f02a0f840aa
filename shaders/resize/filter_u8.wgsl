// One pass of Pillow's fixed-point resampling (ImagingResampleHorizontal/Vertical_8bpc) along one
// axis of a tensor of byte values (one u32 per value, 0..255) viewed as [outer, len_in, inner]:
//   acc = 2^21 + Σ_{k < n_o} weights[o·taps + k] · x[a, s_o + k, b]      (i32)
//   y[a, o, b] = clamp(acc >> 22, 0, 255)                               (arithmetic shift)
// The weights are Pillow's: float64 filter weights normalised to sum 1, scaled by 2^22 and rounded
// half away from zero on the host (src/kernels/resize.ts), so the result is bit-exact. The sum stays
// far inside i32 (Σ|w| < 2·2^22 for the cubic kernel, times 255 < 2^31), and Pillow accumulates
// in the same 32-bit type.
//
// Work split as in filter.wgsl: PER outputs per invocation share one window and its weights.
// @include common/dispatch.wgsl

const LAST_AXIS: bool = false;  // @param resampling the innermost axis (inner = 1)
const PER: u32 = 1u;            // @param outputs per invocation (>1 amortises loads on CPU drivers)
const WG: u32 = 256u;           // @param invocations per workgroup

struct Params {
  len_in: u32,
  len_out: u32,
  inner: u32,
  taps: u32,     // row length of the weight table (the longest window)
  lines: u32,    // outer · inner
  groups: u32,   // ceil(lines / PER)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read> windows: array<u32>;
@group(0) @binding(3) var<storage, read> weights: array<i32>;
@group(0) @binding(4) var<storage, read_write> y: array<u32>;

const SHIFT: u32 = 22u;        // Pillow's PRECISION_BITS
const HALF: i32 = 2097152i;    // 2^(SHIFT-1): rounds the final shift to nearest

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = workgroup_linear(wid, nwg) * WG + lid;
  if (t >= p.groups * p.len_out) { return; }
  var o: u32;
  var g: u32;
  if (LAST_AXIS) {
    g = t / p.len_out;
    o = t - g * p.len_out;
  } else {
    o = t / p.groups;
    g = t - o * p.groups;
  }
  let start = windows[2u * o];
  let n = windows[2u * o + 1u];
  let w0 = o * p.taps;
  let stride = select(p.inner, 1u, LAST_AXIS);
  let m0 = g * PER;
  let count = min(PER, p.lines - m0);

  var src: array<u32, PER>;
  var dst: array<u32, PER>;
  var acc: array<i32, PER>;
  var a = m0;
  var b = 0u;
  if (!LAST_AXIS) {
    a = m0 / p.inner;
    b = m0 - a * p.inner;
  }
  for (var j = 0u; j < PER; j++) {
    src[j] = (a * p.len_in + start) * stride + b;
    dst[j] = (a * p.len_out + o) * stride + b;
    acc[j] = HALF;
    if (LAST_AXIS) {
      a++;
    } else {
      b++;
      if (b == p.inner) { b = 0u; a++; }
    }
  }
  for (var k = 0u; k < n; k++) {
    let w = weights[w0 + k];
    for (var j = 0u; j < PER; j++) {
      if (j < count) { acc[j] += w * i32(x[src[j]]); }
      src[j] += stride;
    }
  }
  for (var j = 0u; j < PER; j++) {
    if (j < count) { y[dst[j]] = u32(clamp(acc[j] >> SHIFT, 0i, 255i)); }
  }
}
