// Sinkhorn row step (docs/algorithms.md §3.5) on a row-major [n, n] matrix t, in place:
//   t[i, j] /= colsum[j]      (the column normalisation of this round)
//   rowsum[i] = Σ_j t[i, j] + eps   (after that division; eps = 0 reproduces CLIP-ES)
// One invocation per row i walks along its row. The division by rowsum is left to the next
// column step (sinkhorn_colsum.wgsl, DIVIDE_ROWS) or the final sinkhorn_rowscale.wgsl.
// @include common/dispatch.wgsl

const WG: u32 = 64u; // @param invocations per workgroup

struct Params {
  n: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> t: array<f32>;
@group(0) @binding(2) var<storage, read> colsum: array<f32>;
@group(0) @binding(3) var<storage, read_write> rowsum: array<f32>;

fn cell(row: u32, j: u32) -> f32 {
  let at = row + j;
  let v = t[at] / colsum[j];
  t[at] = v;
  return v;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_linear(wid, nwg) * WG + lid;
  if (i >= p.n) { return; }
  let row = i * p.n;
  var acc = vec4<f32>(0.0);
  var j = 0u;
  for (; j + 4u <= p.n; j += 4u) {
    acc += vec4<f32>(cell(row, j), cell(row, j + 1u), cell(row, j + 2u), cell(row, j + 3u));
  }
  for (; j < p.n; j++) {
    acc.x += cell(row, j);
  }
  rowsum[i] = (acc.x + acc.y) + (acc.z + acc.w) + p.eps;
}
