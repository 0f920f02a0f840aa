// The probability map CLIP-ES hands to the dense CRF (docs/algorithms.md §3.6, eval_cam_with_crf.py):
//   out[0, p] = fp16(1 − max_k fp16(cam_k[p]))      (bg = (1 − max)^1 in float16)
//   out[k + 1, p] = fp16(cam_k[p])
// from cams [K, P] → out [K + 1, P], float16 values held in f32, not renormalised (they can sum to
// more than 1; the CRF clips to [1e-5, 1] before its log). One invocation per pixel.
// @include common/dispatch.wgsl
// @include common/f16.wgsl

const WG: u32 = 64u; // @param invocations per workgroup

struct Params {
  k: u32,
  pixels: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> cams: array<f32>;
@group(0) @binding(2) var<storage, read_write> probs: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let px = workgroup_linear(wid, nwg) * WG + lid;
  if (px >= p.pixels) { return; }
  var m = round_f16(cams[px]);
  for (var c = 0u; c < p.k; c++) {
    let v = round_f16(cams[c * p.pixels + px]);
    m = max(m, v);
    probs[(c + 1u) * p.pixels + px] = v;
  }
  probs[px] = round_f16(1.0 - m);
}
