// AFA's CAMs-with-background softmax (docs/algorithms.md §5, refine_cams_with_bkg_v2): per pixel p,
//   out[:, p] = softmax([bg[p], cams[0, p], …, cams[K−1, p]])   (max-subtracted, over channels)
// bg is the (resized) constant background plane; out is [K + 1, P]. One invocation per pixel.
// @include common/dispatch.wgsl

const WG: u32 = 64u; // @param invocations per workgroup

struct Params {
  k: u32,
  pixels: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> bg: array<f32>;
@group(0) @binding(2) var<storage, read> cams: array<f32>;
@group(0) @binding(3) var<storage, read_write> probs: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let px = workgroup_linear(wid, nwg) * WG + lid;
  if (px >= p.pixels) { return; }
  var top = bg[px];
  for (var c = 0u; c < p.k; c++) { top = max(top, cams[c * p.pixels + px]); }
  var total = exp(bg[px] - top);
  for (var c = 0u; c < p.k; c++) { total += exp(cams[c * p.pixels + px] - top); }
  probs[px] = exp(bg[px] - top) / total;
  for (var c = 0u; c < p.k; c++) {
    probs[(c + 1u) * p.pixels + px] = exp(cams[c * p.pixels + px] - top) / total;
  }
}
