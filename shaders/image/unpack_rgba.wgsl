// RGBA8 pixels, one u32 each (byte 0 = R … byte 3 = A: a little-endian Uint32Array view of
// ImageData.data), to planar byte values [3, H, W], one u32 (0..255) per value: the input of the
// exact Pillow resize (resize/filter_u8.wgsl), which must run on bytes before normalisation.
// Alpha is dropped.
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup

struct Params {
  pixels: u32,  // H · W
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> rgba: array<u32>;
@group(0) @binding(2) var<storage, read_write> planes: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_linear(wid, nwg) * WG + lid;
  if (i >= p.pixels) { return; }
  let v = rgba[i];
  planes[i] = v & 0xffu;
  planes[p.pixels + i] = (v >> 8u) & 0xffu;
  planes[2u * p.pixels + i] = (v >> 16u) & 0xffu;
}
