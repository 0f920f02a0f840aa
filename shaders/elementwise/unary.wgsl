// y[i] = activate(ACT, alpha · x[i] + beta), for any element count.
// @include common/activation.wgsl
// @include common/dispatch.wgsl

const ACT: u32 = 0u;   // @param activation code (common/activation.wgsl)
const WG: u32 = 256u;  // @param invocations per workgroup

struct Params {
  count: u32,
  alpha: f32,
  beta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_linear(wid, nwg) * WG + lid;
  if (i >= p.count) { return; }
  y[i] = activate(ACT, p.alpha * x[i] + p.beta);
}
