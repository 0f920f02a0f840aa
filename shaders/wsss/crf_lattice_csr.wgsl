// The CSR table's entries from the entries sorted by slot (crf_lattice_sortkeys): contributing pixel
// and bare barycentric weight.
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup

struct Params {
  gaussian_entries: u32,
  entries: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> sorted: array<u32>;
@group(0) @binding(2) var<storage, read> weight_g: array<f32>;
@group(0) @binding(3) var<storage, read> weight_b: array<f32>;
@group(0) @binding(4) var<storage, read_write> entry_pixel: array<u32>;
@group(0) @binding(5) var<storage, read_write> entry_weight: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let k = workgroup_linear(wid, nwg) * WG + lid;
  if (k >= p.entries) { return; }
  let i = sorted[k];
  if (i < p.gaussian_entries) {
    entry_pixel[k] = i / 3u;
    entry_weight[k] = weight_g[i];
  } else {
    let j = i - p.gaussian_entries;
    entry_pixel[k] = j / 6u;
    entry_weight[k] = weight_b[j];
  }
}
