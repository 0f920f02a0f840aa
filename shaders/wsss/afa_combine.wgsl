// AFA's two-threshold label rule (docs/algorithms.md §5) on packed label maps: where the high-
// background run gives a class, keep it; where it gives background, the pixel is background only if
// the low-background run agrees, else 255 (ignore):
//   out = high ≠ 0 ? high : (low ≠ 0 ? 255 : 0)
// Four label bytes per u32 word in all three maps; one invocation per word.
// @include common/dispatch.wgsl

const WG: u32 = 64u; // @param invocations per workgroup

struct Params {
  words: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> high: array<u32>;
@group(0) @binding(2) var<storage, read> low: array<u32>;
@group(0) @binding(3) var<storage, read_write> labels: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_linear(wid, nwg) * WG + lid;
  if (i >= p.words) { return; }
  let h = high[i];
  let l = low[i];
  var out = 0u;
  for (var b = 0u; b < 4u; b++) {
    let shift = 8u * b;
    let hb = (h >> shift) & 0xffu;
    let lb = (l >> shift) & 0xffu;
    var v = hb;
    if (hb == 0u && lb != 0u) { v = 255u; }
    out = out | (v << shift);
  }
  labels[i] = out;
}
