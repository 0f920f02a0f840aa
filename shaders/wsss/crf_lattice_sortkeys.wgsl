// Sort input for the CSR table: every splat entry of a real pixel (the Gaussian lattice's 3 per
// pixel, then the bilateral's 6 per pixel, each in entry order) keyed by its slot; value = its
// position in that sequence. A stable sort by slot then lists each slot's entries in pixel order,
// as the host's counting-sort fill does.
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup

struct Params {
  gaussian_entries: u32,
  entries: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> vertex_g: array<u32>;
@group(0) @binding(2) var<storage, read> vertex_b: array<u32>;
@group(0) @binding(3) var<storage, read> slot_of_b: array<u32>;
@group(0) @binding(4) var<storage, read_write> sort_keys: array<u32>;
@group(0) @binding(5) var<storage, read_write> sort_vals: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_linear(wid, nwg) * WG + lid;
  if (i >= p.entries) { return; }
  if (i < p.gaussian_entries) {
    sort_keys[i] = 1u + vertex_g[i];
  } else {
    sort_keys[i] = slot_of_b[vertex_b[i - p.gaussian_entries]];
  }
  sort_vals[i] = i;
}
