// Softmax over the channel axis of [N, C, H·W] (per-pixel class probabilities from logits), one
// pixel per invocation: max-subtracted, f32. Reading down a channel column is strided (H·W apart),
// but neighbouring invocations read neighbouring pixels, so every load is shared through the
// caches. A pixel whose logits are all -inf gives NaN, as in PyTorch.
// @include common/dispatch.wgsl
// @include common/float.wgsl

const WG: u32 = 64u;  // @param invocations per workgroup

struct Params {
  channels: u32,
  pixels: u32,  // H·W
  count: u32,   // N · H·W
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = workgroup_linear(wid, nwg) * WG + lid;
  if (t >= p.count) { return; }
  let item = t / p.pixels;
  let base = item * p.channels * p.pixels + (t - item * p.pixels);
  var m = f32_neg_inf();
  for (var c = 0u; c < p.channels; c++) {
    // A NaN logit makes the whole pixel NaN (max() leaves NaN to the implementation).
    let v = x[base + c * p.pixels];
    if (v > m || f32_is_nan(v)) { m = v; }
    if (f32_is_nan(m)) { break; }
  }
  var s = 0.0;
  for (var c = 0u; c < p.channels; c++) { s += exp(x[base + c * p.pixels] - m); }
  let inv = 1.0 / s;
  for (var c = 0u; c < p.channels; c++) {
    let at = base + c * p.pixels;
    y[at] = exp(x[at] - m) * inv;
  }
}
