// Planar byte values [C, H, W] (one u32 0..255 each, C ≤ 4) to normalised f32:
// y[c, p] = (x[c, p] / 255 − mean_c) / std_c, in the operation order of torchvision's
// ToTensor + Normalize.
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup

struct Params {
  count: u32,        // C · H · W
  plane: u32,        // H · W
  mean: vec4<f32>,
  stddev: vec4<f32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_linear(wid, nwg) * WG + lid;
  if (i >= p.count) { return; }
  let c = i / p.plane;
  y[i] = (f32(x[i]) / 255.0 - p.mean[c]) / p.stddev[c];
}
