// Softmax backward for B right-hand sides that share one forward pass (attention, docs/algorithms.md §3.4):
//   ds[g, b, r, :] = P[g, r, :] ⊙ (dp[g, b, r, :] − Σ_j dp[g, b, r, j] · P[g, r, j])
// P [G, R, C] holds the forward probabilities (G groups, e.g. heads; R rows, e.g. queries; C
// columns, e.g. keys); dp and ds are [G, B, R, C], P broadcast over b (the K classes of CLIP-ES's
// batched Grad-CAM).
//
// One invocation per (g, b, r) row, barrier-free, two passes over the row (the dot, then the
// output), four elements per loop step: SwiftShader's shape (rows of 769 keys, G·B·R of them).
// @include common/dispatch.wgsl

const WG: u32 = 64u;  // @param invocations (rows) per workgroup

struct Params {
  count: u32,   // G · B · R
  rows: u32,    // R
  cols: u32,    // C
  batch: u32,   // B
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dp: array<f32>;
@group(0) @binding(2) var<storage, read> probs: array<f32>;
@group(0) @binding(3) var<storage, read_write> ds: array<f32>;

fn load4(i: u32) -> vec4<f32> { return vec4<f32>(dp[i], dp[i + 1u], dp[i + 2u], dp[i + 3u]); }
fn prob4(i: u32) -> vec4<f32> { return vec4<f32>(probs[i], probs[i + 1u], probs[i + 2u], probs[i + 3u]); }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = workgroup_linear(wid, nwg) * WG + lid;
  if (row >= p.count) { return; }
  let r = row % p.rows;
  let grp = row / (p.rows * p.batch);
  let n = p.cols;
  let d0 = row * n;
  let p0 = (grp * p.rows + r) * n;
  let main_end = n & ~3u;

  var part = vec4<f32>();
  for (var j = 0u; j < main_end; j += 4u) { part += load4(d0 + j) * prob4(p0 + j); }
  var dot_dp_p = (part.x + part.y) + (part.z + part.w);
  for (var j = main_end; j < n; j++) { dot_dp_p += dp[d0 + j] * probs[p0 + j]; }

  for (var j = 0u; j < main_end; j += 4u) {
    let v = prob4(p0 + j) * (load4(d0 + j) - dot_dp_p);
    let o = d0 + j;
    ds[o] = v.x; ds[o + 1u] = v.y; ds[o + 2u] = v.z; ds[o + 3u] = v.w;
  }
  for (var j = main_end; j < n; j++) { ds[d0 + j] = probs[p0 + j] * (dp[d0 + j] - dot_dp_p); }
}
