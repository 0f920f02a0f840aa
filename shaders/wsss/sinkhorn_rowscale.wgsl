// Last half-step of Sinkhorn (docs/algorithms.md §3.5): t[i, j] /= rowsum[i] over a row-major [n, n]
// matrix, in place; one invocation per element (consecutive invocations, consecutive addresses).
// @include common/dispatch.wgsl

const WG: u32 = 256u; // @param invocations per workgroup

struct Params {
  n: u32,
  count: u32, // n · n
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> t: array<f32>;
@group(0) @binding(2) var<storage, read> rowsum: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = workgroup_linear(wid, nwg) * WG + lid;
  if (e >= p.count) { return; }
  t[e] = t[e] / rowsum[e / p.n];
}
