// Softmax cross-entropy over the classes of logits [N, C, H, W] (f32) against per-pixel labels,
// first of three steps (src/kernels/train/loss.ts): per pixel i with label t,
//   w_i = class_weight[t] (1 without weights), 0 where t = ignore_index
//   l_i = w_i · (log Σ_c exp(x_c − m) − (x_t − m)),  m = max_c x_c
// and per workgroup the pair (Σ l_i, Σ w_i) over its WG pixels, by a fixed pairwise tree in
// workgroup memory, into partial[2·wg], partial[2·wg + 1]. A label ≥ C other than ignore_index
// gives w_i = NaN (PyTorch raises; here the loss becomes NaN, which the caller sees).
// Labels are u32 per pixel, or with PACKED four bytes per u32 word (little-endian), the layout of
// seedmask's label maps.
// @include common/dispatch.wgsl
// @include common/float.wgsl

const WG: u32 = 64u;            // @param pixels per workgroup (a power of two, ≤ 256)
const PACKED: bool = false;     // @param labels are bytes, four per u32
const WEIGHTED: bool = false;   // @param per-class weights

struct Params {
  channels: u32,
  hw: u32,
  count: u32,         // N · H · W
  ignore_index: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> class_weight: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;

var<workgroup> part_l: array<f32, 256>;
var<workgroup> part_w: array<f32, 256>;

fn label(i: u32) -> u32 {
  if (PACKED) { return (labels[i / 4u] >> (8u * (i % 4u))) & 0xffu; }
  return labels[i];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let group = workgroup_linear(wid, nwg);
  if (group * WG >= p.count) { return; }  // uniform: the whole workgroup leaves
  let i = group * WG + lid;
  var l = 0.0;
  var wt = 0.0;
  if (i < p.count) {
    let t = label(i);
    if (t != p.ignore_index) {
      if (t >= p.channels) {
        wt = f32_nan();
        l = wt;
      } else {
        let item = i / p.hw;
        let base = item * p.channels * p.hw + (i - item * p.hw);
        var m = logits[base];
        for (var c = 1u; c < p.channels; c++) { m = max(m, logits[base + c * p.hw]); }
        var s = 0.0;
        for (var c = 0u; c < p.channels; c++) { s += exp(logits[base + c * p.hw] - m); }
        wt = 1.0;
        if (WEIGHTED) { wt = class_weight[t]; }
        l = wt * (log(s) - (logits[base + t * p.hw] - m));
      }
    }
  }
  part_l[lid] = l;
  part_w[lid] = wt;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) {
      part_l[lid] = part_l[lid] + part_l[lid + s];
      part_w[lid] = part_w[lid] + part_w[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    partial[2u * group] = part_l[0];
    partial[2u * group + 1u] = part_w[0];
  }
}
