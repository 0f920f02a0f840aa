// Cross-entropy, second step: one workgroup adds the per-workgroup pairs (Σ l, Σ w) of
// cross_entropy_pixels.wgsl, lane j taking pairs j, j + WG, … in order, then a fixed pairwise tree;
//   loss[0] = Σ l / Σ w (PyTorch's reduction='mean' with weights and ignore_index: NaN when no
//             pixel counts), loss[1] = Σ l, loss[2] = Σ w (read by the backward step).
// @include common/float.wgsl

const WG: u32 = 256u;  // @param lanes (a power of two, ≤ 256)

struct Params {
  pairs: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;

var<workgroup> part_l: array<f32, 256>;
var<workgroup> part_w: array<f32, 256>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var l = 0.0;
  var wt = 0.0;
  for (var j = lid; j < p.pairs; j += WG) {
    l += partial[2u * j];
    wt += partial[2u * j + 1u];
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
    let sl = part_l[0];
    let sw = part_w[0];
    loss[0] = select(sl / sw, f32_nan(), sw == 0.0);
    loss[1] = sl;
    loss[2] = sw;
  }
}
