// Sort input for the order of the bilateral lattice's slots (most pixels first, ties by vertex id):
// key = pixels − count (so an ascending stable sort is by count, descending), value = vertex id.
// The host sized the arrays for `vertices`, a bound; the count is space[1] (crf_lattice_space), and
// the entries past it get key = pixels, above every real key, so they sort last.
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup

struct Params {
  vertices: u32,
  pixels: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> count: array<u32>;
@group(0) @binding(2) var<storage, read> space: array<u32>;
@group(0) @binding(3) var<storage, read_write> sort_keys: array<u32>;
@group(0) @binding(4) var<storage, read_write> sort_vals: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let v = workgroup_linear(wid, nwg) * WG + lid;
  if (v >= p.vertices) { return; }
  sort_keys[v] = select(p.pixels, p.pixels - count[v], v < space[1]);
  sort_vals[v] = v;
}
