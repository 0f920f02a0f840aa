// Splat weights with the symmetric normalisation folded in (docs/algorithms.md §3.6): the CRF splats
// nrm_k ⊙ Q, so entry e (pixel px of a vertex of kernel k) gets weight barycentric · nrm_k[px], once
// per call instead of once per iteration. Entries of Gaussian vertices come before first_bilateral.
// Written as (pixel, bits of the weight): one 8-byte load per entry in crf_splat.
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup

struct Params {
  entries: u32,
  first_bilateral: u32,
  pixels: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> entry_pixel: array<u32>;
@group(0) @binding(2) var<storage, read> entry_weight: array<f32>;
@group(0) @binding(3) var<storage, read> nrm: array<f32>;
@group(0) @binding(4) var<storage, read_write> splat_entry: array<vec2<u32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = workgroup_linear(wid, nwg) * WG + lid;
  if (e >= p.entries) { return; }
  let row = select(0u, p.pixels, e >= p.first_bilateral);
  let px = entry_pixel[e];
  splat_entry[e] = vec2<u32>(px, bitcast<u32>(entry_weight[e] * nrm[row + px]));
}
