// One blur step of the permutohedral lattice (docs/algorithms.md §3.6): along lattice direction
// `axis`, v'[s] = v[s] + ½ (v[n₋] + v[n₊]) with the neighbours' slots from a host-built table
// ([axes, slots] pairs; an absent neighbour is slot 0, which holds 0). Both kernels' lattices share
// the slot space; slots first_slot.. are blurred (the Gaussian lattice has fewer directions than the
// bilateral one, so its slots drop out of the later steps and its result stays in the other buffer).
// One invocation per (slot, chunk of 4 channels).
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup

// The slot counts are the GPU's (space, crf_lattice_space): slots = space[2], and the bilateral-only
// steps start at space[3]; the dispatch is sized from them on the GPU too (crf_dispatch_args).
struct Params {
  chunks: u32,
  axis: u32,
  bilateral_only: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> neighbours: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> space: array<u32>;
@group(0) @binding(3) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let idx = workgroup_linear(wid, nwg) * WG + lid;
  let slots = space[2];
  let first_slot = select(0u, space[3], p.bilateral_only != 0u);
  if (idx >= (slots - first_slot) * p.chunks) { return; }
  let s = first_slot + idx / p.chunks;
  let k = idx % p.chunks;
  let at = s * p.chunks + k;
  let nb = neighbours[p.axis * slots + s];
  dst[at] = src[at] + 0.5 * (src[nb.x * p.chunks + k] + src[nb.y * p.chunks + k]);
}
