// The GPU lattice builder's vertex hash table (shared by crf_lattice_insert and
// crf_lattice_neighbours): open addressing, linear probing, capacity a power of two (mask =
// capacity − 1). A slot holds EMPTY or a word naming an entry: its low bits are the entry id (whose
// D-coordinate key is in `keys` at entry·D), the bits of `fp_mask` (those above the largest entry
// id; none for very large lattices) a fingerprint of the key, so most probes past other keys never
// read `keys`. Where a key lands in the table depends on the order of the insertions; nothing else
// does (vertices are numbered by their first entry).
const EMPTY: u32 = 0xffffffffu;

// Multipliers of the coordinates (odd constants of xxHash): a linear combination first, so that
// crf_lattice_neighbours can step it to a neighbouring key without rehashing every coordinate.
const HASH_M = array<u32, 5>(0x9e3779b1u, 0x85ebca77u, 0xc2b2ae3du, 0x27d4eb2fu, 0x165667b1u);

fn hash_sum(k: array<i32, D>) -> u32 {
  var h = 0u;
  for (var i = 0u; i < D; i = i + 1u) { h = h + bitcast<u32>(k[i]) * HASH_M[i]; }
  return h;
}

// murmur3's finaliser over the linear combination: lattice keys differ in few low bits.
fn hash_mix(sum: u32) -> u32 {
  var h = sum;
  h = h ^ (h >> 16u);
  h = h * 0x85ebca6bu;
  h = h ^ (h >> 13u);
  h = h * 0xc2b2ae35u;
  return h ^ (h >> 16u);
}

// Whether the table word `word` (not EMPTY) names an entry with key k, whose hash is h.
fn word_is(word: u32, h: u32, k: array<i32, D>) -> bool {
  if (((word ^ h) & p.fp_mask) != 0u) { return false; }
  let entry = word & ~p.fp_mask;
  for (var i = 0u; i < D; i = i + 1u) {
    if (keys[entry * D + i] != k[i]) { return false; }
  }
  return true;
}
