// The shared slot space: slot 0 is the absent vertex, slots 1 .. gaussian are the Gaussian lattice's
// vertices in id order, the rest the bilateral lattice's in the sorted order (`order`: vertex of each
// bilateral slot). Writes every bilateral vertex's slot and the pixel count of every slot, plus a
// trailing 0 at [slots], whose exclusive scan is the CSR row starts (row_start[slots] = entries).
// The counts come from space (crf_lattice_space); the host sized row_count for `bound` slots, and
// the words past [slots] are 0 too, so the scan leaves row_start = entries there.
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup

struct Params {
  bound: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> count_g: array<u32>;
@group(0) @binding(2) var<storage, read> count_b: array<u32>;
@group(0) @binding(3) var<storage, read> order: array<u32>;
@group(0) @binding(4) var<storage, read> space: array<u32>;
@group(0) @binding(5) var<storage, read_write> slot_of_b: array<u32>;
@group(0) @binding(6) var<storage, read_write> row_count: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let s = workgroup_linear(wid, nwg) * WG + lid;
  if (s > p.bound) { return; }
  let gaussian = space[0];
  let slots = space[2];
  var c = 0u;
  if (s >= 1u && s <= gaussian) {
    c = count_g[s - 1u];
  } else if (s > gaussian && s < slots) {
    let v = order[s - 1u - gaussian];
    slot_of_b[v] = s;
    c = count_b[v];
  }
  row_count[s] = c;
}
