// BatchNorm2d's affine normalisation of x [N, C, H, W] (f32) with per-channel stats[c] =
// (mean, rstd) from batchnorm_stats.wgsl (batch or running statistics alike), one element per
// invocation:  y = (x − mean)·(rstd·γ) + β, then ReLU when RELU is set (conv → BN → ReLU).
// @include common/dispatch.wgsl

const WG: u32 = 256u;     // @param invocations per workgroup
const RELU: bool = false;  // @param y = max(y, 0)

struct Params {
  channels: u32,
  hw: u32,
  count: u32,  // N · C · H · W
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = workgroup_linear(wid, nwg) * WG + lid;
  if (e >= p.count) { return; }
  let c = (e / p.hw) % p.channels;
  var v = (x[e] - stats[2u * c]) * (stats[2u * c + 1u] * gamma[c]) + beta[c];
  if (RELU) { v = max(v, 0.0); }
  y[e] = v;
}
