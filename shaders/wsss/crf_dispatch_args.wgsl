// Workgroup counts of the mean-field dispatches sized by the lattices' slot counts, which only the
// GPU knows (space, from crf_lattice_space): four (x, y, z) triples for dispatchWorkgroupsIndirect,
// one invocation per (slot, chunk) in workgroups of WG:
//   args[0..3)   all slots, 1 chunk       (splat and Gaussian blur steps of the normalisation)
//   args[3..6)   bilateral slots, 1 chunk (its bilateral-only blur steps)
//   args[6..9)   all slots, `chunks`      (the iterations' splat and first three blur steps)
//   args[9..12)  bilateral slots, `chunks`
// Grids past max_dim workgroups are folded into x·y as grid1d (src/gpu/kernel.ts) folds them. A
// lattice overflow (space[4]) is reported in bad[0] as 0xffffffff (see crf_unary for the other
// values), read with the CRF's outputs.

const WG: u32 = 256u;  // @param invocations per workgroup of the sized kernels

struct Params {
  chunks: u32,
  max_dim: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> space: array<u32>;
@group(0) @binding(2) var<storage, read_write> args: array<u32>;
@group(0) @binding(3) var<storage, read_write> bad: array<u32>;

fn grid(at: u32, invocations: u32) {
  let workgroups = (invocations + WG - 1u) / WG;
  var x = workgroups;
  var y = 1u;
  if (workgroups > p.max_dim) {
    y = (workgroups + p.max_dim - 1u) / p.max_dim;
    x = (workgroups + y - 1u) / y;
  }
  args[at] = x;
  args[at + 1u] = y;
  args[at + 2u] = 1u;
}

@compute @workgroup_size(1)
fn main() {
  let slots = space[2];
  let bilateral = slots - space[3];
  grid(0u, slots);
  grid(3u, bilateral);
  grid(6u, slots * p.chunks);
  grid(9u, bilateral * p.chunks);
  if (space[4] != 0u) { bad[0] = 0xffffffffu; }
}
