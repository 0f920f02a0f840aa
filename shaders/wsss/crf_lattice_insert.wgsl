// Inserts every entry's vertex key (crf_lattice_simplex) into the hash table: the first entry to
// reach an empty slot claims it with a compare-exchange; an entry that finds its key (by the key of
// the entry the slot names, published by the previous dispatch) lowers the slot to its own entry id
// if smaller (same key, same fingerprint: the minimum is over the entry ids). When all have run,
// each slot names the smallest entry id of its key: the key's first occurrence in entry order
// (point-major, then remainder), which is where the host builder inserts the vertex. Records each
// entry's slot.
//
// The table is sized from an estimate of the vertex count; past max_claims claimed slots (half the
// capacity) probing would slow down, so the kernel gives up instead, setting info[2 + which]; the
// host then builds this lattice again with a table large enough for every entry.
// @include common/dispatch.wgsl
// @include wsss/crf_lattice_hash.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup
const D: u32 = 5u;     // @param feature dimensions

struct Params {
  entries: u32,
  mask: u32,
  fp_mask: u32,
  max_claims: u32,
  which: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> keys: array<i32>;
@group(0) @binding(2) var<storage, read_write> table: array<atomic<u32>>;
@group(0) @binding(3) var<storage, read_write> entry_slot: array<u32>;
// The builder's counters: [vertices g, vertices b, overflow g, overflow b, claims g, claims b].
@group(0) @binding(4) var<storage, read_write> info: array<atomic<u32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = workgroup_linear(wid, nwg) * WG + lid;
  if (e >= p.entries) { return; }
  var k = array<i32, D>();
  for (var i = 0u; i < D; i = i + 1u) { k[i] = keys[e * D + i]; }
  let h = hash_mix(hash_sum(k));
  let word = (h & p.fp_mask) | e;
  var s = h & p.mask;
  if (atomicLoad(&info[2u + p.which]) != 0u) { return; }
  // Every probe advances, or re-reads a slot that another entry just claimed (or after a spurious
  // compare-exchange failure). Past max_claims the table may fill up while entries are in flight:
  // they look at the flag every 16 probes.
  for (var step = 0u; step <= p.mask + p.entries; step = step + 1u) {
    if ((step & 15u) == 15u && atomicLoad(&info[2u + p.which]) != 0u) { return; }
    let cur = atomicLoad(&table[s]);
    if (cur == EMPTY) {
      if (atomicCompareExchangeWeak(&table[s], EMPTY, word).exchanged) {
        if (atomicAdd(&info[4u + p.which], 1u) >= p.max_claims) { atomicStore(&info[2u + p.which], 1u); }
        entry_slot[e] = s;
        return;
      }
      continue;
    }
    if (word_is(cur, h, k)) {
      // The slot only ever decreases: nothing to do where it is already below this entry.
      if (word < cur) { atomicMin(&table[s], word); }
      entry_slot[e] = s;
      return;
    }
    s = (s + 1u) & p.mask;
  }
  atomicStore(&info[2u + p.which], 1u);
}
