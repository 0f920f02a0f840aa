// AffinityNet's pair affinities (docs/algorithms.md §6, psa network/resnet38_aff.py + tool/pyutils.py),
// one invocation per pixel b of a feature map f [C, h, w] (n = h·w), i.e. per column b of the dense
// n×n affinity. For every window offset o = (oy, ox) ∈ [−R, R]², R = radius − 1, with a = b + o:
//   table[o, b] = 1                                   if o = 0 (W_ii = 1)
//               = exp(−mean_c |f_a − f_b|)^β          if (a, b) is a pair (either direction)
//               = 0                                   otherwise (and outside the image)
//   colsum[b]   = Σ_o table[o, b]                     (the column sum of W^β)
// A pair goes from p to p + (dy, dx) for (dy, dx) in psa's half-plane set S = {(0, x): 1 ≤ x ≤ R} ∪
// {(y, x): 1 ≤ y ≤ R, |x| ≤ R, x² + y² < radius²}, and only from pixels with row < h − R and
// R ≤ col < w − R (border pixels have fewer pairs); the transpose supplies the other direction.
// Integer β (≤ 64) is applied by binary powering in f32, any other β by pow().
// @include common/dispatch.wgsl
// @include common/power.wgsl

const WG: u32 = 64u; // @param invocations per workgroup

struct Params {
  c: u32,
  h: u32,
  w: u32,
  radius: u32,
  beta: f32,
  beta_int: u32, // β when it is an integer in 1..64, else 0
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> features: array<f32>;
@group(0) @binding(2) var<storage, read_write> table: array<f32>;
@group(0) @binding(3) var<storage, read_write> colsum: array<f32>;

fn in_half_plane(dy: i32, dx: i32) -> bool {
  let r = i32(p.radius);
  if (dy == 0) { return dx >= 1 && dx <= r - 1; }
  return dy >= 1 && dy <= r - 1 && abs(dx) <= r - 1 && dx * dx + dy * dy < r * r;
}

fn is_from(y: i32, x: i32) -> bool {
  let rf = i32(p.radius) - 1;
  return y < i32(p.h) - rf && x >= rf && x < i32(p.w) - rf;
}

fn power(v: f32) -> f32 { return int_or_real_power(v, p.beta_int, p.beta); }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let b = workgroup_linear(wid, nwg) * WG + lid;
  let n = p.h * p.w;
  if (b >= n) { return; }
  let by = i32(b / p.w);
  let bx = i32(b % p.w);
  let rf = i32(p.radius) - 1;
  let side = 2 * rf + 1;
  var total = 0.0;
  for (var oy = -rf; oy <= rf; oy++) {
    for (var ox = -rf; ox <= rf; ox++) {
      let slot = u32((oy + rf) * side + (ox + rf));
      let ay = by + oy;
      let ax = bx + ox;
      var v = 0.0;
      if (oy == 0 && ox == 0) {
        v = 1.0;
      } else if (ay >= 0 && ay < i32(p.h) && ax >= 0 && ax < i32(p.w)) {
        // b − a = (−oy, −ox): a pair from a to b, or (oy, ox): from b to a.
        let pair = (in_half_plane(-oy, -ox) && is_from(ay, ax)) || (in_half_plane(oy, ox) && is_from(by, bx));
        if (pair) {
          let a = u32(ay) * p.w + u32(ax);
          var dist = 0.0;
          for (var ch = 0u; ch < p.c; ch++) { dist += abs(features[ch * n + a] - features[ch * n + b]); }
          v = power(exp(-(dist / f32(p.c))));
        }
      }
      table[slot * n + b] = v;
      total += v;
    }
  }
  colsum[b] = total;
}
