// CLIP-ES pseudo-mask seeds from CRF posteriors (docs/algorithms.md §3.6): label = label_of[argmax Q]
// (the first maximum, as numpy's argmax), and 255 ("ignore") where max Q < threshold. Q is planar
// [C, N]; the labels are bytes packed four to a u32 (pixel 4w + t in bits 8t..8t+7), so that the host
// reads back N bytes. threshold is the smallest float32 ≥ the float64 confidence, which makes the
// float32 comparison agree with numpy's float32-vs-float64 one.
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup

struct Params {
  pixels: u32,
  channels: u32,
  threshold: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> label_of: array<u32>;
@group(0) @binding(3) var<storage, read_write> seeds: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let word = workgroup_linear(wid, nwg) * WG + lid;
  if (word * 4u >= p.pixels) { return; }
  var packed = 0u;
  for (var t = 0u; t < 4u; t = t + 1u) {
    let i = word * 4u + t;
    if (i >= p.pixels) { break; }
    var best = 0u;
    var top = q[i];
    for (var c = 1u; c < p.channels; c = c + 1u) {
      let v = q[c * p.pixels + i];
      if (v > top) {
        top = v;
        best = c;
      }
    }
    let label = select(label_of[best], 255u, top < p.threshold);
    packed = packed | (label << (8u * t));
  }
  seeds[word] = packed;
}
