// The shared slot space of the dense CRF's two lattices, from the builder's counters (info: vertex
// counts, then hash table overflow flags), for the kernels that follow to read instead of the host:
// space = [Gaussian vertices, bilateral vertices, slots = 1 + both, first bilateral slot = 1 +
// Gaussian vertices, overflow]. The host sized every table for `bound_g` / `bound_b` vertices
// (what the hash tables can hold); where a table overflowed the counts mean nothing, so both are
// written as 0 (the later kernels then do no work) and `overflow` is 1: the caller builds the
// lattices again with tables that cannot overflow.

struct Params {
  bound_g: u32,
  bound_b: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> info: array<u32>;
@group(0) @binding(2) var<storage, read_write> space: array<u32>;

@compute @workgroup_size(1)
fn main() {
  let overflow = info[2] != 0u || info[3] != 0u || info[0] > p.bound_g || info[1] > p.bound_b;
  var g = info[0];
  var b = info[1];
  if (overflow) {
    g = 0u;
    b = 0u;
  }
  space[0] = g;
  space[1] = b;
  space[2] = 1u + g + b;
  space[3] = 1u + g;
  space[4] = select(0u, 1u, overflow);
}
