// Gradient accumulation in place, one element per invocation: acc = acc + alpha·g. Where a tensor
// feeds several consumers (both inputs of a residual add receive its output gradient; a shortcut
// is read twice) its gradient is the sum of what flows back from each; alpha scales a contribution
// (an auxiliary loss weight; 1 adds exactly).
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup

struct Params {
  count: u32,
  alpha: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> acc: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = workgroup_linear(wid, nwg) * WG + lid;
  if (e >= p.count) { return; }
  acc[e] = acc[e] + p.alpha * g[e];
}
