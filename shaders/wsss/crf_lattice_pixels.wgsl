// Per pixel, its 3 Gaussian then 6 bilateral simplex vertices as slots, and the slice weights:
// barycentric weight × 1/(1 + 2^−d) (one float32 product, as densecrf's SSE path forms it).
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup

struct Params {
  pixels: u32,
  alpha_g: f32,
  alpha_b: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> vertex_g: array<u32>;
@group(0) @binding(2) var<storage, read> vertex_b: array<u32>;
@group(0) @binding(3) var<storage, read> weight_g: array<f32>;
@group(0) @binding(4) var<storage, read> weight_b: array<f32>;
@group(0) @binding(5) var<storage, read> slot_of_b: array<u32>;
@group(0) @binding(6) var<storage, read_write> pixel_slot: array<u32>;
@group(0) @binding(7) var<storage, read_write> pixel_weight: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let px = workgroup_linear(wid, nwg) * WG + lid;
  if (px >= p.pixels) { return; }
  for (var r = 0u; r < 3u; r = r + 1u) {
    let e = px * 3u + r;
    pixel_slot[px * 9u + r] = 1u + vertex_g[e];
    pixel_weight[px * 9u + r] = weight_g[e] * p.alpha_g;
  }
  for (var r = 0u; r < 6u; r = r + 1u) {
    let e = px * 6u + r;
    pixel_slot[px * 9u + 3u + r] = slot_of_b[vertex_b[e]];
    pixel_weight[px * 9u + 3u + r] = weight_b[e] * p.alpha_b;
  }
}
