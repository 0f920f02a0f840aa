// Blur neighbours of one lattice's slots, as [axes, slots, 2] slots (0 where absent; the caller
// zeroes the table first). Along direction j the lattice step is (D+1)·e_j − (1, …, 1) (e_D implicit
// in the D stored coordinates). One invocation per vertex: it looks up the vertex one step back
// along each of its D+1 directions in the hash table and, where it exists, records the link from
// both ends: it is that vertex's "back" neighbour, and that vertex has it as its "forward" one (a
// step forward from there lands here). Every word has at most one writer. ORDERED: the slots
// first_slot.. follow `order` (vertex of each slot, the bilateral lattice) and vertices map to slots
// through slot_of; else vertex v is slot first_slot + v. The counts come from space
// (crf_lattice_space): this lattice's vertices space[which], the slots space[2], and its first
// slot 1 (Gaussian) or space[3] (bilateral); the host dispatches for a bound of the vertex count.
// @include common/dispatch.wgsl
// @include wsss/crf_lattice_hash.wgsl

const WG: u32 = 256u;      // @param invocations per workgroup
const D: u32 = 5u;         // @param feature dimensions
const ORDERED: bool = true; // @param slots in `order`, vertices' slots in `slot_of`

struct Params {
  which: u32,
  mask: u32,
  fp_mask: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> keys: array<i32>;
@group(0) @binding(2) var<storage, read> table: array<u32>;
@group(0) @binding(3) var<storage, read> first_entry: array<u32>;
@group(0) @binding(4) var<storage, read> scan: array<u32>;
@group(0) @binding(5) var<storage, read> order: array<u32>;
@group(0) @binding(6) var<storage, read> slot_of: array<u32>;
@group(0) @binding(7) var<storage, read> space: array<u32>;
@group(0) @binding(8) var<storage, read_write> neighbours: array<u32>;

var<private> first_slot: u32;

// Slot of the vertex with key k, whose linear hash sum is `sum`; 0 if the lattice has none.
fn slot_at(k: array<i32, D>, sum: u32) -> u32 {
  let h = hash_mix(sum);
  var s = h & p.mask;
  for (var step = 0u; step <= p.mask; step = step + 1u) {
    let word = table[s];
    if (word == EMPTY) { return 0u; }
    if (word_is(word, h, k)) {
      let v = scan[word & ~p.fp_mask];
      if (ORDERED) { return slot_of[v]; }
      return first_slot + v;
    }
    s = (s + 1u) & p.mask;
  }
  return 0u;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_linear(wid, nwg) * WG + lid;
  if (i >= space[p.which]) { return; }
  let slots = space[2];
  first_slot = select(1u, space[3], p.which == 1u);
  var v = i;
  if (ORDERED) { v = order[i]; }
  let s = first_slot + i;
  let e = first_entry[v];
  // Back one step along j: every coordinate − 1, coordinate j (if stored) + D + 1.
  var back = array<i32, D>();
  for (var c = 0u; c < D; c = c + 1u) { back[c] = keys[e * D + c] - 1; }
  let base = hash_sum(back);
  for (var j = 0u; j <= D; j = j + 1u) {
    var n = back;
    var sum = base;
    if (j < D) {
      n[j] = n[j] + i32(D + 1u);
      sum = sum + (D + 1u) * HASH_M[j];
    }
    let t = slot_at(n, sum);
    if (t != 0u) {
      neighbours[2u * (j * slots + s)] = t;
      neighbours[2u * (j * slots + t) + 1u] = s;
    }
  }
}
