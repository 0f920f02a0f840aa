// Weight and bias gradients of a 2-D convolution, second pass: adds the split-K partial sums of
// conv2d_backward_weight.wgsl in a fixed order,
//   v[e] = ((partial_0[e] + partial_1[e]) + partial_2[e]) + … + partial_{splits−1}[e]
// (partial s at partial[s·count + e]), then with `accumulate` = 1 adds v to the existing gradient.
// Elements e < weight_count go to dw, the next (count − weight_count) to db. No atomics: the result
// is the same bits on every run.
// @include common/dispatch.wgsl

const WG: u32 = 64u;  // @param invocations per workgroup

struct Params {
  count: u32,         // weight_count + bias elements
  weight_count: u32,
  splits: u32,
  accumulate: u32,    // 1: add to dw and db
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> dw: array<f32>;
@group(0) @binding(3) var<storage, read_write> db: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = workgroup_linear(wid, nwg) * WG + lid;
  if (e >= p.count) { return; }
  var v = partial[e];
  for (var s = 1u; s < p.splits; s++) { v = v + partial[s * p.count + e]; }
  if (e < p.weight_count) {
    if (p.accumulate != 0u) { v = dw[e] + v; }
    dw[e] = v;
  } else {
    let co = e - p.weight_count;
    if (p.accumulate != 0u) { v = db[co] + v; }
    db[co] = v;
  }
}
