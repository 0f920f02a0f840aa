// One step of torch.optim.SGD on a parameter tensor, one element per invocation, in PyTorch's
// order of operations:
//   d = g + weight_decay·p
//   momentum ≠ 0:  buf = d on the first step, else buf = momentum·buf + (1 − dampening)·d;
//                  d = d + momentum·buf (nesterov) or d = buf
//   p = p − lr·d
// lr and the other scalars are uniforms, so a schedule (poly) changes them per step without a
// new pipeline. MOMENTUM = false: no buffer is bound.
// @include common/dispatch.wgsl

const WG: u32 = 256u;          // @param invocations per workgroup
const MOMENTUM: bool = true;   // @param keep a momentum buffer

struct Params {
  count: u32,
  first: u32,        // 1: the momentum buffer starts as d
  nesterov: u32,
  lr: f32,
  momentum: f32,
  one_minus_dampening: f32,
  weight_decay: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;
@group(0) @binding(3) var<storage, read_write> buf: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = workgroup_linear(wid, nwg) * WG + lid;
  if (e >= p.count) { return; }
  let w = param[e];
  var d = grad[e] + p.weight_decay * w;
  if (MOMENTUM) {
    var b = d;
    if (p.first == 0u) { b = p.momentum * buf[e] + p.one_minus_dampening * d; }
    buf[e] = b;
    if (p.nesterov != 0u) { d = d + p.momentum * b; } else { d = b; }
  }
  param[e] = w - p.lr * d;
}
