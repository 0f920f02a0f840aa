// BatchNorm2d backward over x [N, C, H, W] (f32), one workgroup per channel, from the forward's
// stats[c] = (mean, rstd) (batchnorm_stats.wgsl) and the output gradient g:
//   x̂ = (x − mean)·rstd,  Sg = Σ g,  Sgx = Σ g·x̂  (over the channel's M = N·H·W elements)
//   dγ = Sgx,  dβ = Sg
//   TRAINING (batch statistics, which depend on x):  dx = γ·rstd·(g − Sg/M − x̂·Sgx/M)
//   frozen (running statistics, constants):          dx = γ·rstd·g
// PARAM_GRADS = false skips Sg and Sgx in frozen mode (a frozen BN with frozen γ, β); training
// mode always needs them. With `accumulate` = 1, dγ and dβ are added to (micro-batches).
// Deterministic: lane l sums elements l, l + WG, … in order, then a fixed pairwise tree.
// @include common/dispatch.wgsl

const WG: u32 = 64u;              // @param lanes per channel (a power of two, ≤ 256)
const TRAINING: bool = true;      // @param batch statistics (else frozen)
const PARAM_GRADS: bool = true;   // @param write dγ and dβ

struct Params {
  channels: u32,
  hw: u32,
  per_channel: u32,  // M = N · H · W
  accumulate: u32,   // 1: dγ, dβ are added to
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(7) var<storage, read_write> dbeta: array<f32>;

var<workgroup> part: array<f32, 256>;

fn lanes_total(lane: u32, v: f32) -> f32 {
  part[lane] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lane < s) { part[lane] = part[lane] + part[lane + s]; }
    workgroupBarrier();
  }
  let total = part[0];
  workgroupBarrier();
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
  let m = p.per_channel;
  let mean = stats[2u * c];
  let rstd = stats[2u * c + 1u];
  let scale = gamma[c] * rstd;

  var sg = 0.0;
  var sgx = 0.0;
  if (TRAINING || PARAM_GRADS) {
    var a = 0.0;
    var b = 0.0;
    for (var i = lane; i < m; i += WG) {
      let k = at(c, i);
      let gv = g[k];
      a += gv;
      b += gv * ((x[k] - mean) * rstd);
    }
    sg = lanes_total(lane, a);
    sgx = lanes_total(lane, b);
    if (PARAM_GRADS && lane == 0u) {
      var dga = sgx;
      var dbe = sg;
      if (p.accumulate != 0u) {
        dga = dgamma[c] + dga;
        dbe = dbeta[c] + dbe;
      }
      dgamma[c] = dga;
      dbeta[c] = dbe;
    }
  }

  let mean_g = sg / f32(m);
  let mean_gx = sgx / f32(m);
  for (var i = lane; i < m; i += WG) {
    let k = at(c, i);
    if (TRAINING) {
      dx[k] = scale * (g[k] - mean_g - (x[k] - mean) * rstd * mean_gx);
    } else {
      dx[k] = scale * g[k];
    }
  }
}
