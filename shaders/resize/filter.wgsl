// One pass of a separable resampling filter along one axis of a tensor viewed as
// [outer, len_in, inner] → [outer, len_out, inner]:
//   y[a, o, b] = Σ_{k < n_o} weights[o·taps + k] · x[a, s_o + k, b],   (s_o, n_o) = windows[o]
// The host computes every tap window and weight in float64 (src/kernels/resize.ts) for each
// filter (PyTorch's bicubic, Pillow's antialiased bicubic), so one kernel serves them all.
// Border handling is folded into the tables: a tap that a filter clamps to the edge has its weight
// added to the edge tap, so every window is a contiguous in-range run.
//
// Each invocation computes PER outputs that share one output position o (so one window and one set
// of weights, loaded once) on PER consecutive lines m = a·inner + b. Invocation order keeps
// neighbouring invocations on neighbouring addresses: along o for the last axis (inner = 1), along
// the lines otherwise (consecutive b).
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
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> windows: array<u32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

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
  var acc: array<f32, PER>;
  var a = m0;
  var b = 0u;
  if (!LAST_AXIS) {
    a = m0 / p.inner;
    b = m0 - a * p.inner;
  }
  for (var j = 0u; j < PER; j++) {
    src[j] = (a * p.len_in + start) * stride + b;
    dst[j] = (a * p.len_out + o) * stride + b;
    acc[j] = 0.0;
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
      if (j < count) { acc[j] += w * x[src[j]]; }
      src[j] += stride;
    }
  }
  for (var j = 0u; j < PER; j++) {
    if (j < count) { y[dst[j]] = acc[j]; }
  }
}
