// flag[e] = 1 where entry e is its vertex's first (its table slot names e), else 0; flag[entries] =
// 0, so that the exclusive scan of the flags numbers the vertices in first-occurrence order (the
// host builder's insertion order) and ends in the vertex count. Does nothing if the insertion gave
// up (info[2 + which]: the table was too small and the lattice is built again).
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup

struct Params {
  entries: u32,
  fp_mask: u32,
  which: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> table: array<u32>;
@group(0) @binding(2) var<storage, read> entry_slot: array<u32>;
@group(0) @binding(3) var<storage, read> info: array<u32>;
@group(0) @binding(4) var<storage, read_write> flag: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = workgroup_linear(wid, nwg) * WG + lid;
  if (e > p.entries || info[2u + p.which] != 0u) { return; }
  if (e == p.entries) {
    flag[e] = 0u;
    return;
  }
  flag[e] = select(0u, 1u, (table[entry_slot[e]] & ~p.fp_mask) == e);
}
