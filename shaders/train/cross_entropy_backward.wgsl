// Cross-entropy, third step: the gradient of the mean loss (cross_entropy_pixels.wgsl,
// cross_entropy_reduce.wgsl) with respect to the logits, one pixel per invocation:
//   dlogits[n, c, y, x] = scale · w_i · (softmax_c − [c = t]) / Σ w
// with Σ w = loss[2] read on the GPU (no round trip), `scale` the gradient arriving at the loss
// (1 for the loss itself; an auxiliary head's weight). Ignored pixels get 0, as in PyTorch.
// @include common/dispatch.wgsl
// @include common/float.wgsl

const WG: u32 = 64u;            // @param invocations per workgroup
const PACKED: bool = false;     // @param labels are bytes, four per u32
const WEIGHTED: bool = false;   // @param per-class weights

struct Params {
  channels: u32,
  hw: u32,
  count: u32,         // N · H · W
  ignore_index: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> class_weight: array<f32>;
@group(0) @binding(4) var<storage, read> loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> dlogits: array<f32>;

fn label(i: u32) -> u32 {
  if (PACKED) { return (labels[i / 4u] >> (8u * (i % 4u))) & 0xffu; }
  return labels[i];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_linear(wid, nwg) * WG + lid;
  if (i >= p.count) { return; }
  let item = i / p.hw;
  let base = item * p.channels * p.hw + (i - item * p.hw);
  let t = label(i);
  if (t == p.ignore_index) {
    for (var c = 0u; c < p.channels; c++) { dlogits[base + c * p.hw] = 0.0; }
    return;
  }
  if (t >= p.channels) {
    for (var c = 0u; c < p.channels; c++) { dlogits[base + c * p.hw] = f32_nan(); }
    return;
  }
  var wt = 1.0;
  if (WEIGHTED) { wt = class_weight[t]; }
  let k = p.scale * wt / loss[2];
  var m = logits[base];
  for (var c = 1u; c < p.channels; c++) { m = max(m, logits[base + c * p.hw]); }
  var s = 0.0;
  for (var c = 0u; c < p.channels; c++) { s += exp(logits[base + c * p.hw] - m); }
  let inv = 1.0 / s;
  for (var c = 0u; c < p.channels; c++) {
    let prob = exp(logits[base + c * p.hw] - m) * inv;
    dlogits[base + c * p.hw] = k * (prob - select(0.0, 1.0, c == t));
  }
}
