// Each entry's vertex id (the scanned first-entry flag of its slot's entry), each vertex's first
// entry (where its key is), the number of pixels per vertex (entries of padding points do not
// count: they are never splatted) and the vertex count, info[which] = scan[entries]. Where the
// insertion gave up (info[2 + which]) it only sets every entry's vertex to 0.
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup

struct Params {
  entries: u32,
  real_entries: u32,
  which: u32,
  fp_mask: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> table: array<u32>;
@group(0) @binding(2) var<storage, read> entry_slot: array<u32>;
@group(0) @binding(3) var<storage, read> scan: array<u32>;
@group(0) @binding(4) var<storage, read_write> entry_vertex: array<u32>;
@group(0) @binding(5) var<storage, read_write> first_entry: array<u32>;
@group(0) @binding(6) var<storage, read_write> count: array<atomic<u32>>;
@group(0) @binding(7) var<storage, read_write> info: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = workgroup_linear(wid, nwg) * WG + lid;
  if (e >= p.entries) { return; }
  // After an overflow the tables are built again; vertex 0 keeps the later look-ups in bounds.
  if (info[2u + p.which] != 0u) {
    entry_vertex[e] = 0u;
    return;
  }
  if (e == 0u) { info[p.which] = scan[p.entries]; }
  let first = table[entry_slot[e]] & ~p.fp_mask;
  let v = scan[first];
  entry_vertex[e] = v;
  if (first == e) { first_entry[v] = e; }
  if (e < p.real_entries) { atomicAdd(&count[v], 1u); }
}
