// QuickGELU backward (CLIP's MLP, docs/algorithms.md §3.4):
//   dh[i] = g[i] · QuickGELU'(h[i mod h_count]),   QuickGELU'(h) = s + 1.702 · h · s · (1 − s),  s = σ(1.702 h)
// h is the pre-activation of the forward pass, shared by the B right-hand sides that make up g
// (g has B · h_count elements, b-major).
// @include common/activation.wgsl
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup

struct Params {
  count: u32,
  h_count: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> h: array<f32>;
@group(0) @binding(3) var<storage, read_write> dh: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_linear(wid, nwg) * WG + lid;
  if (i >= p.count) { return; }
  let hv = h[i % p.h_count];
  let s = sigmoid_f32(1.702 * hv);
  dh[i] = g[i] * (s + 1.702 * hv * s * (1.0 - s));
}
