// The dense column-stochastic transition matrix of the random walk (docs/algorithms.md §6):
//   T[a, b] = table[o, b] / colsum[b] when a − b = o lies in the (2R + 1)² window, else 0,
// from randomwalk_affinity.wgsl's window table. One invocation per element of the row-major n×n T.
// @include common/dispatch.wgsl

const WG: u32 = 256u; // @param invocations per workgroup

struct Params {
  h: u32,
  w: u32,
  radius: u32,
  count: u32, // n · n
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read> colsum: array<f32>;
@group(0) @binding(3) var<storage, read_write> t: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = workgroup_linear(wid, nwg) * WG + lid;
  if (e >= p.count) { return; }
  let n = p.h * p.w;
  let a = e / n;
  let b = e - a * n;
  let oy = i32(a / p.w) - i32(b / p.w);
  let ox = i32(a % p.w) - i32(b % p.w);
  let rf = i32(p.radius) - 1;
  var v = 0.0;
  if (abs(oy) <= rf && abs(ox) <= rf) {
    let slot = u32((oy + rf) * (2 * rf + 1) + (ox + rf));
    v = table[slot * n + b] / colsum[b];
  }
  t[e] = v;
}
