// LayerNorm backward for B right-hand sides that share one forward pass (docs/algorithms.md §3.4 LNback):
//   x̂ = (x[t, :] − mean_t) · rstd_t,   gh = g[b, t, :] ⊙ gamma
//   dx[b, t, :] = rstd_t · (gh − mean(gh) − x̂ · mean(gh ⊙ x̂))   (+ residual[b, t, :] when `residual` ≠ 0)
// x [rows, cols] is the forward input, shared by every b; (mean_t, rstd_t) = stats[t] as the forward
// layernorm wrote them. g is read at b·g_batch + t·g_row + col and multiplied by g_scale, so one
// [B, cols] gradient can stand for every row (g_row = 0: CLIP-ES's head spreads df/n over the patch
// tokens); rows t < zero_rows get g = 0 (the class token, which the patch mean does not see).
// The residual flag is a uniform, not a `// @param`: one pipeline fewer to compile.
//
// One invocation per (b, t) row, barrier-free, four elements per loop step (the layout of
// layernorm/invocation.wgsl, SwiftShader's variant): rows are 768 wide and there are K·L of them.
// @include common/dispatch.wgsl

const WG: u32 = 64u;  // @param invocations (rows) per workgroup

struct Params {
  count: u32,       // B · rows
  rows: u32,
  cols: u32,
  g_batch: u32,
  g_row: u32,
  zero_rows: u32,
  residual: u32,    // 1: add residual[b, t, :]
  g_scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> residual: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;

fn gh4(gi: u32, col: u32) -> vec4<f32> {
  let gv = vec4<f32>(g[gi], g[gi + 1u], g[gi + 2u], g[gi + 3u]) * p.g_scale;
  return gv * vec4<f32>(gamma[col], gamma[col + 1u], gamma[col + 2u], gamma[col + 3u]);
}

fn xhat4(xi: u32, mean: f32, rstd: f32) -> vec4<f32> {
  return (vec4<f32>(x[xi], x[xi + 1u], x[xi + 2u], x[xi + 3u]) - mean) * rstd;
}

fn sum4(v: vec4<f32>) -> f32 { return (v.x + v.y) + (v.z + v.w); }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = workgroup_linear(wid, nwg) * WG + lid;
  if (row >= p.count) { return; }
  let b = row / p.rows;
  let t = row % p.rows;
  let n = p.cols;
  let out0 = row * n;
  let add = p.residual != 0u;
  if (t < p.zero_rows) {
    // No gradient reaches this row: dx is 0 (plus the residual).
    for (var j = 0u; j < n; j++) {
      var v = 0.0;
      if (add) { v = residual[out0 + j]; }
      dx[out0 + j] = v;
    }
    return;
  }
  let g0 = b * p.g_batch + t * p.g_row;
  let x0 = t * n;
  let mean = stats[2u * t];
  let rstd = stats[2u * t + 1u];
  let main_end = n & ~3u;

  var part_g = vec4<f32>();
  var part_gx = vec4<f32>();
  for (var j = 0u; j < main_end; j += 4u) {
    let gh = gh4(g0 + j, j);
    part_g += gh;
    part_gx += gh * xhat4(x0 + j, mean, rstd);
  }
  var sum_g = sum4(part_g);
  var sum_gx = sum4(part_gx);
  for (var j = main_end; j < n; j++) {
    let gh = g[g0 + j] * p.g_scale * gamma[j];
    sum_g += gh;
    sum_gx += gh * (x[x0 + j] - mean) * rstd;
  }
  let mean_g = sum_g / f32(n);
  let mean_gx = sum_gx / f32(n);

  for (var j = 0u; j < main_end; j += 4u) {
    var v = (gh4(g0 + j, j) - mean_g - xhat4(x0 + j, mean, rstd) * mean_gx) * rstd;
    let o = out0 + j;
    if (add) { v += vec4<f32>(residual[o], residual[o + 1u], residual[o + 2u], residual[o + 3u]); }
    dx[o] = v.x; dx[o + 1u] = v.y; dx[o + 2u] = v.z; dx[o + 3u] = v.w;
  }
  for (var j = main_end; j < n; j++) {
    let gh = g[g0 + j] * p.g_scale * gamma[j];
    var v = (gh - mean_g - (x[x0 + j] - mean) * rstd * mean_gx) * rstd;
    if (add) { v += residual[out0 + j]; }
    dx[out0 + j] = v;
  }
}
