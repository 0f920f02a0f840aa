// Per-channel statistics of BatchNorm2d over x [N, C, H, W] (f32), one workgroup per channel,
// written as stats[c] = (mean, rstd), the form batchnorm_apply.wgsl and batchnorm_backward.wgsl read.
//   MODE 0 (training): mean and the biased variance over N·H·W in two passes (the sum, then the
//     sum of squared deviations from the mean: no cancellation), rstd = 1/√(var + eps); with
//     `update` = 1 the running averages move as torch.nn.BatchNorm2d's do, with the unbiased
//     variance: running = (1 − momentum)·running + momentum·batch, var·M/(M − 1) for M = N·H·W.
//   MODE 1 (frozen / eval): stats = (running_mean, 1/√(running_var + eps)); nothing is summed.
// Deterministic: lane l sums elements l, l + WG, l + 2·WG, … of the channel (in N, H·W order), then
// a fixed pairwise tree over the lanes in workgroup memory.
// @include common/dispatch.wgsl

const WG: u32 = 64u;   // @param lanes per channel (a power of two, ≤ 256)
const MODE: u32 = 0u;  // @param 0 batch statistics, 1 running statistics

struct Params {
  channels: u32,
  hw: u32,
  per_channel: u32,  // M = N · H · W
  eps: f32,
  momentum: f32,
  update: u32,       // MODE 0: 1 updates running_mean and running_var
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(4) var<storage, read_write> running_var: array<f32>;

var<workgroup> part: array<f32, 256>;

// Σ over the lanes of part[0 .. WG), in a fixed pairwise order; every lane gets the total.
fn lanes_total(lane: u32, v: f32) -> f32 {
  part[lane] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lane < s) { part[lane] = part[lane] + part[lane + s]; }
    workgroupBarrier();
  }
  let total = part[0];
  workgroupBarrier();  // part is reused by the next call
  return total;
}

fn at(c: u32, i: u32) -> u32 {
  let item = i / p.hw;
  return (item * p.channels + c) * p.hw + (i - item * p.hw);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lane: u32) {
  let c = workgroup_linear(wid, nwg);
  if (c >= p.channels) { return; }  // uniform: the whole workgroup leaves
  if (MODE == 1u) {
    if (lane == 0u) {
      stats[2u * c] = running_mean[c];
      stats[2u * c + 1u] = 1.0 / sqrt(running_var[c] + p.eps);
    }
    return;
  }
  let m = p.per_channel;
  var s = 0.0;
  for (var i = lane; i < m; i += WG) { s += x[at(c, i)]; }
  let mean = lanes_total(lane, s) / f32(m);
  var s2 = 0.0;
  for (var i = lane; i < m; i += WG) {
    let d = x[at(c, i)] - mean;
    s2 += d * d;
  }
  let sq = lanes_total(lane, s2);
  if (lane != 0u) { return; }
  let var_b = sq / f32(m);
  stats[2u * c] = mean;
  stats[2u * c + 1u] = 1.0 / sqrt(var_b + p.eps);
  if (p.update != 0u) {
    let unbiased = sq / f32(m - 1u);
    running_mean[c] = (1.0 - p.momentum) * running_mean[c] + p.momentum * mean;
    running_var[c] = (1.0 - p.momentum) * running_var[c] + p.momentum * unbiased;
  }
}
