// One step of torch.optim.AdamW (amsgrad off) on a parameter tensor, one element per invocation,
// in PyTorch's order of operations (torch/optim/adamw.py, _single_tensor_adamw):
//   p = p·(1 − lr·weight_decay)                        decoupled decay
//   m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g·g
//   p = p − step_size · m / (√v / √(1 − β2^t) + eps),  step_size = lr / (1 − β1^t)
// The host works out the per-step scalars (decay, step_size, √(1 − β2^t)) in float64; they are
// uniforms, so the step count and a learning-rate schedule never rebuild the pipeline.
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup

struct Params {
  count: u32,
  decay: f32,          // 1 − lr·weight_decay
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  step_size: f32,      // lr / (1 − β1^t)
  bc2_sqrt: f32,       // √(1 − β2^t)
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;
@group(0) @binding(3) var<storage, read_write> exp_avg: array<f32>;
@group(0) @binding(4) var<storage, read_write> exp_avg_sq: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = workgroup_linear(wid, nwg) * WG + lid;
  if (e >= p.count) { return; }
  let g = grad[e];
  let w = param[e] * p.decay;
  let m = exp_avg[e] * p.beta1 + g * p.one_minus_beta1;
  let v = exp_avg_sq[e] * p.beta2 + (g * g) * p.one_minus_beta2;
  exp_avg[e] = m;
  exp_avg_sq[e] = v;
  let denom = sqrt(v) / p.bc2_sqrt + p.eps;
  param[e] = w - p.step_size * (m / denom);
}
