// The random walk's seeds (docs/algorithms.md §6, psa infer_aff.py): from foreground CAMs cams [K, H, W]
// build [bg, cam_1..cam_K] with bg = (1 − max_k cam_k)^α (f32; integer α by binary powering), pad
// with zeros to [K + 1, POOL·h, POOL·w] and average-pool POOL×POOL with stride POOL → out [K + 1, h·w].
// POOL = 1 (CAMs already at feature resolution) is the identity pooling. One invocation per output.
// @include common/dispatch.wgsl
// @include common/power.wgsl

const WG: u32 = 64u; // @param invocations per workgroup

struct Params {
  k: u32,
  cam_h: u32,
  cam_w: u32,
  h: u32,
  w: u32,
  pool: u32,
  alpha: f32,
  alpha_int: u32, // α when it is an integer in 1..64, else 0
  count: u32,     // (k + 1) · h · w
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> cams: array<f32>;
@group(0) @binding(2) var<storage, read_write> seeds: array<f32>;

fn power(v: f32) -> f32 { return int_or_real_power(v, p.alpha_int, p.alpha); }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = workgroup_linear(wid, nwg) * WG + lid;
  if (e >= p.count) { return; }
  let cells = p.h * p.w;
  let ch = e / cells;
  let cell = e - ch * cells;
  let y0 = (cell / p.w) * p.pool;
  let x0 = (cell % p.w) * p.pool;
  let plane = p.cam_h * p.cam_w;
  var sum = 0.0;
  for (var dy = 0u; dy < p.pool; dy++) {
    let y = y0 + dy;
    if (y >= p.cam_h) { break; } // zero padding below the image
    for (var dx = 0u; dx < p.pool; dx++) {
      let x = x0 + dx;
      if (x >= p.cam_w) { break; } // zero padding right of the image
      let at = y * p.cam_w + x;
      var v = 0.0;
      if (ch == 0u) {
        var m = cams[at];
        for (var c = 1u; c < p.k; c++) { m = max(m, cams[c * plane + at]); }
        v = power(1.0 - m);
      } else {
        v = cams[(ch - 1u) * plane + at];
      }
      sum += v;
    }
  }
  seeds[e] = sum / f32(p.pool * p.pool);
}
