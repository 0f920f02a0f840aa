// Sinkhorn column step (docs/algorithms.md §3.5) on a row-major [n, n] matrix t, in place:
//   if DIVIDE_ROWS: t[i, j] /= rowsum[i]      (finishes the previous round's row normalisation)
//   colsum[j] = Σ_i t[i, j] + eps      (eps = 0 reproduces CLIP-ES, which has no guard)
// One invocation per column j walks down the column, so neighbouring invocations read neighbouring
// addresses (coalesced). Fusing the pending row division into this walk saves one pass over t.
// Four interleaved partial sums (rows i ≡ 0..3 mod 4) shorten the f32 rounding chain.
// @include common/dispatch.wgsl

const DIVIDE_ROWS: bool = false; // @param apply t /= rowsum (row-wise) before summing
const WG: u32 = 64u;             // @param invocations per workgroup

struct Params {
  n: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> t: array<f32>;
@group(0) @binding(2) var<storage, read> rowsum: array<f32>;
@group(0) @binding(3) var<storage, read_write> colsum: array<f32>;

fn cell(i: u32, j: u32) -> f32 {
  let at = i * p.n + j;
  var v = t[at];
  if (DIVIDE_ROWS) {
    v = v / rowsum[i];
    t[at] = v;
  }
  return v;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let j = workgroup_linear(wid, nwg) * WG + lid;
  if (j >= p.n) { return; }
  var acc = vec4<f32>(0.0);
  var i = 0u;
  for (; i + 4u <= p.n; i += 4u) {
    acc += vec4<f32>(cell(i, j), cell(i + 1u, j), cell(i + 2u, j), cell(i + 3u, j));
  }
  for (; i < p.n; i++) {
    acc.x += cell(i, j);
  }
  colsum[j] = (acc.x + acc.y) + (acc.z + acc.w) + p.eps;
}
