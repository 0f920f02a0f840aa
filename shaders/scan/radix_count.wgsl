// Stable LSD radix sort of (u32 key, u32 value) pairs, one digit of log2(DIGITS) bits per pass,
// first half: each invocation counts the digits (key >> shift) % DIGITS of its chunk of IPT
// consecutive items into hist[digit, chunk] (digit-major, so that its exclusive scan is every
// (digit, chunk)'s first output position). radix_scatter.wgsl moves the items. No atomics and no
// barriers: the result is fully determined.
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
@group(0) @binding(1) var<storage, read> keys: array<u32>;
@group(0) @binding(2) var<storage, read_write> hist: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let chunk = workgroup_linear(wid, nwg) * WG + lid;
  if (chunk >= p.chunks) { return; }
  let end = min(chunk * IPT + IPT, p.n);
  var c = array<u32, DIGITS>();
  for (var i = chunk * IPT; i < end; i = i + 1u) {
    let d = (keys[i] >> p.shift) & (DIGITS - 1u);
    c[d] = c[d] + 1u;
  }
  for (var d = 0u; d < DIGITS; d = d + 1u) { hist[d * p.chunks + chunk] = c[d]; }
}
