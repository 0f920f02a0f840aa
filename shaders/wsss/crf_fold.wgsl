// Splat weights with the symmetric normalisation folded in (docs/algorithms.md §3.6): the CRF splats
// nrm_k ⊙ Q, so entry e (pixel px of a vertex of kernel k) gets weight barycentric · nrm_k[px], once
// per image instead of once per iteration. Entries of Gaussian vertices come before first_bilateral.
// @include common/dispatch.wgsl

const WG: u32 = 64u;  // @param invocations per workgroup

struct Params {
  entries: u32,
  first_bilateral: u32,
  pixels: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> entry_pixel: array<u32>;
@group(0) @binding(2) var<storage, read> entry_weight: array<f32>;
@group(0) @binding(3) var<storage, read> nrm: array<f32>;
@group(0) @binding(4) var<storage, read_write> splat_weight: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = workgroup_linear(wid, nwg) * WG + lid;
  if (e >= p.entries) { return; }
  let row = select(0u, p.pixels, e >= p.first_bilateral);
  splat_weight[e] = entry_weight[e] * nrm[row + entry_pixel[e]];
}
