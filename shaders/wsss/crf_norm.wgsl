// Symmetric normalisation of the dense CRF's kernels (docs/algorithms.md §3.6):
// nrm_k[i] = 1 / sqrt(Filter_k(1)[i] + 1e-20), sliced from the blurred lattice of the splat of ones
// (one channel: lane x of chunk 0; the Gaussian lattice's result is in values_g, the bilateral one's in
// values_b, see crf_blur). Per pixel, its simplex vertices are listed as slots with weights
// that already include the slice factor 1/(1 + 2^−d): Gaussian vertices first, then bilateral.
// Writes nrm as [2, pixels] (Gaussian row, then bilateral row) and, because every later slice of
// pixel i is multiplied by w_k · nrm_k[i] (Potts weight and normalisation), the pixel's vertices as
// (slot, bits of the weight with those factors folded in): one 8-byte load per vertex in crf_update.
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup

struct Params {
  pixels: u32,
  gaussian_vertices: u32,
  bilateral_vertices: u32,
  gaussian_compat: f32,
  bilateral_compat: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pixel_slot: array<u32>;
@group(0) @binding(2) var<storage, read> pixel_weight: array<f32>;
@group(0) @binding(3) var<storage, read> values_g: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> values_b: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> nrm: array<f32>;
@group(0) @binding(6) var<storage, read_write> slice_vertex: array<vec2<u32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_linear(wid, nwg) * WG + lid;
  if (i >= p.pixels) { return; }
  let per_pixel = p.gaussian_vertices + p.bilateral_vertices;
  let base = i * per_pixel;
  var g = 0.0;
  for (var v = 0u; v < p.gaussian_vertices; v = v + 1u) {
    g = g + pixel_weight[base + v] * values_g[pixel_slot[base + v]].x;
  }
  var b = 0.0;
  for (var v = p.gaussian_vertices; v < per_pixel; v = v + 1u) {
    b = b + pixel_weight[base + v] * values_b[pixel_slot[base + v]].x;
  }
  let nrm_g = 1.0 / sqrt(g + 1e-20);
  let nrm_b = 1.0 / sqrt(b + 1e-20);
  nrm[i] = nrm_g;
  nrm[p.pixels + i] = nrm_b;
  for (var v = 0u; v < p.gaussian_vertices; v = v + 1u) {
    let w = p.gaussian_compat * (nrm_g * pixel_weight[base + v]);
    slice_vertex[base + v] = vec2<u32>(pixel_slot[base + v], bitcast<u32>(w));
  }
  for (var v = p.gaussian_vertices; v < per_pixel; v = v + 1u) {
    let w = p.bilateral_compat * (nrm_b * pixel_weight[base + v]);
    slice_vertex[base + v] = vec2<u32>(pixel_slot[base + v], bitcast<u32>(w));
  }
}
