// CLIP-ES's scale_cam_image on each row of x [rows, len] (docs/algorithms.md §3.4, §3.5), in float32:
//   y = (x − min(x)) / (eps + max(x − min(x)))
// numpy forms eps + max in float64 and the division casts it to float32; here eps + max is one f32
// addition, which can differ from that only when the sum lies within ~1e-15 of an f32 rounding tie.
// One invocation per row (rows are few: one per class), three sequential passes over the row.
// @include common/dispatch.wgsl

const WG: u32 = 64u; // @param invocations per workgroup

struct Params {
  rows: u32,
  len: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let r = workgroup_linear(wid, nwg) * WG + lid;
  if (r >= p.rows) { return; }
  let base = r * p.len;
  var lo = x[base];
  for (var j = 1u; j < p.len; j++) { lo = min(lo, x[base + j]); }
  var hi = 0.0;
  for (var j = 0u; j < p.len; j++) { hi = max(hi, x[base + j] - lo); }
  let den = p.eps + hi;
  for (var j = 0u; j < p.len; j++) { y[base + j] = (x[base + j] - lo) / den; }
}
