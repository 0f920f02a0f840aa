// ReLU backward, one element per invocation: dx = g where the forward output y > 0, else 0
// (PyTorch's threshold_backward on the result: y = 0 and NaN pass no gradient). With `accumulate`
// = 1 the result is added to dx.
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup

struct Params {
  count: u32,
  accumulate: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = workgroup_linear(wid, nwg) * WG + lid;
  if (e >= p.count) { return; }
  var v = select(0.0, g[e], y[e] > 0.0);
  if (p.accumulate != 0u) { v = dx[e] + v; }
  dx[e] = v;
}
