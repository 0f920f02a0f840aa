// Grad-CAM post-processing of CLIP-ES (pytorch_grad_cam, docs/algorithms.md §3.4), per class row:
//   v = ReLU(raw[k, skip ..]);  v = (v − min v) / (1e-7 + max(v − min v));  then the same once more
// (the second min-max of aggregate_multi_layers; its ReLU is a no-op on values ≥ 0). Everything in
// f32 as numpy does it; max(v − m) is taken as max(v) − m, which is the same f32 value because
// rounding is monotonic. An all-zero row stays all zero (0 / 1e-7).
//
// raw is [rows, stride] (e.g. [K, L] with the class token at column 0, skip = 1); out is
// [rows, stride − skip]. One invocation per class row: there are K rows of a few hundred to a few
// thousand values, three passes each.
// @include common/dispatch.wgsl

const WG: u32 = 64u;  // @param invocations (rows) per workgroup

struct Params {
  rows: u32,
  stride: u32,
  skip: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> raw: array<f32>;
@group(0) @binding(2) var<storage, read_write> cam: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = workgroup_linear(wid, nwg) * WG + lid;
  if (row >= p.rows) { return; }
  let n = p.stride - p.skip;
  let src = row * p.stride + p.skip;
  let dst = row * n;
  if (n == 0u) { return; }

  var lo = max(raw[src], 0.0);
  var hi = lo;
  for (var j = 1u; j < n; j++) {
    let v = max(raw[src + j], 0.0);
    lo = min(lo, v);
    hi = max(hi, v);
  }
  let den1 = 1e-7 + (hi - lo);
  var lo2 = (max(raw[src], 0.0) - lo) / den1;
  var hi2 = lo2;
  for (var j = 0u; j < n; j++) {
    let v = (max(raw[src + j], 0.0) - lo) / den1;
    cam[dst + j] = v;
    lo2 = min(lo2, v);
    hi2 = max(hi2, v);
  }
  let den2 = 1e-7 + (hi2 - lo2);
  for (var j = 0u; j < n; j++) { cam[dst + j] = (cam[dst + j] - lo2) / den2; }
}
