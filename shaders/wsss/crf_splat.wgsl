// Permutohedral lattice splat for the dense CRF (docs/algorithms.md §3.6), as a gather: every lattice
// slot sums the contributions of its pixels, listed in a CSR table built on the host (pixel order,
// the order densecrf accumulates in). Slot 0 is the lattice's "absent neighbour" and stays 0; slots
// 1.. hold the vertices of both kernels' lattices. The entries are (pixel, bits of the weight), the
// weight carrying the normalisation nrm_k of the entry's pixel (crf_fold), so this splats nrm_k ⊙ src;
// with UNIT it splats 1 with the bare barycentric weights (the pass that computes nrm_k). Values are vec4 chunks of channels
// [slots, chunks]; one invocation per (slot, chunk).
// @include common/dispatch.wgsl

const WG: u32 = 256u;       // @param invocations per workgroup
const UNIT: bool = false;  // @param splat 1 instead of src

// The slot count is the GPU's (space[2], crf_lattice_space), as is the dispatch's size.
struct Params {
  chunks: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> space: array<u32>;
@group(0) @binding(2) var<storage, read> row_start: array<u32>;
@group(0) @binding(3) var<storage, read> splat_entry: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read> entry_weight: array<f32>;
@group(0) @binding(5) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> values: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let idx = workgroup_linear(wid, nwg) * WG + lid;
  if (idx >= space[2] * p.chunks) { return; }
  let s = idx / p.chunks;
  let k = idx % p.chunks;
  let end = row_start[s + 1u];
  var acc = vec4<f32>(0.0);
  for (var e = row_start[s]; e < end; e = e + 1u) {
    if (UNIT) {
      acc = acc + vec4<f32>(entry_weight[e]);
    } else {
      let entry = splat_entry[e];
      acc = acc + bitcast<f32>(entry.y) * src[entry.x * p.chunks + k];
    }
  }
  values[idx] = acc;
}
