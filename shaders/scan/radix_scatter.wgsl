// Stable LSD radix sort of (u32 key, u32 value) pairs, one digit of log2(DIGITS) bits per pass,
// second half: each invocation walks its chunk of IPT consecutive items in order and moves each to
// the next position of its digit, starting from offsets[digit, chunk] (the exclusive scan of
// radix_count.wgsl's histogram). No atomics and no barriers: the output order is fully determined,
// and stable.
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup
const IPT: u32 = 64u;  // @param items per invocation
const DIGITS: u32 = 16u; // @param digit values per pass (a power of two)

struct Params {
  n: u32,
  shift: u32,
  chunks: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> keys_in: array<u32>;
@group(0) @binding(2) var<storage, read> vals_in: array<u32>;
@group(0) @binding(3) var<storage, read> offsets: array<u32>;
@group(0) @binding(4) var<storage, read_write> keys_out: array<u32>;
@group(0) @binding(5) var<storage, read_write> vals_out: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let chunk = workgroup_linear(wid, nwg) * WG + lid;
  if (chunk >= p.chunks) { return; }
  let end = min(chunk * IPT + IPT, p.n);
  var next = array<u32, DIGITS>();
  for (var d = 0u; d < DIGITS; d = d + 1u) { next[d] = offsets[d * p.chunks + chunk]; }
  for (var i = chunk * IPT; i < end; i = i + 1u) {
    let key = keys_in[i];
    let d = (key >> p.shift) & (DIGITS - 1u);
    let at = next[d];
    next[d] = at + 1u;
    keys_out[at] = key;
    vals_out[at] = vals_in[i];
  }
}
