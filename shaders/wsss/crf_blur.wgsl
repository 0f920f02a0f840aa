// One blur step of the permutohedral lattice (docs/algorithms.md §3.6): along lattice direction
// `axis`, v'[s] = v[s] + ½ (v[n₋] + v[n₊]) with the neighbours' slots from a host-built table
// ([axes, slots] pairs; an absent neighbour is slot 0, which holds 0). Both kernels' lattices share
// the slot space; slots first_slot.. are blurred (the Gaussian lattice has fewer directions than the
// bilateral one, so its slots drop out of the later steps and its result stays in the other buffer).
// One invocation per (slot, chunk of 4 channels).
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup

struct Params {
  slots: u32,
  chunks: u32,
  axis: u32,
  first_slot: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> neighbours: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let idx = workgroup_linear(wid, nwg) * WG + lid;
  if (idx >= (p.slots - p.first_slot) * p.chunks) { return; }
  let s = p.first_slot + idx / p.chunks;
  let k = idx % p.chunks;
  let at = s * p.chunks + k;
  let nb = neighbours[p.axis * p.slots + s];
  dst[at] = src[at] + 0.5 * (src[nb.x * p.chunks + k] + src[nb.y * p.chunks + k]);
}
