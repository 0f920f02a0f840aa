// RGBA8 pixels, one u32 each (byte 0 = R … byte 3 = A: a little-endian Uint32Array view of
// ImageData.data), to normalised planar f32 [3, H, W]: y[c, p] = (byte_c / 255 − mean_c) / std_c,
// in the operation order of torchvision's ToTensor + Normalize. Alpha is dropped.
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup

struct Params {
  pixels: u32,       // H · W
  mean: vec4<f32>,   // .xyz used
  stddev: vec4<f32>, // .xyz used
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> rgba: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_linear(wid, nwg) * WG + lid;
  if (i >= p.pixels) { return; }
  let v = rgba[i];
  let rgb = vec3<f32>(f32(v & 0xffu), f32((v >> 8u) & 0xffu), f32((v >> 16u) & 0xffu)) / 255.0;
  let n = (rgb - p.mean.xyz) / p.stddev.xyz;
  y[i] = n.x;
  y[p.pixels + i] = n.y;
  y[2u * p.pixels + i] = n.z;
}
