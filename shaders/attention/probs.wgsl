// Head-averaged attention probabilities, the second pass of attention with probabilities:
//   P̄[b, i, j] = inv_heads · Σ_h exp2(s2_h[i, j] − lse2_h[i])        (written, or added: `accumulate`)
// where s2_h = scale2 · q_h(i)·k_h(j) is the base-2 logit exactly as the attention kernels compute
// it, and lse2_h[i] = m + log2(l), the row's log2-sum-exp2 that they wrote to `stats` [B, H, L].
// Causally masked entries (j > i) are 0. Row i of P̄ is query token i and sums to 1 (torch's
// need_weights=True average over heads, the orientation CLIP-ES uses).
//
// One invocation per (batch item, block of four query rows, block of four keys), barrier-free: the
// 16 logits of a head share four q and four k row loads (loads are what limits this on SwiftShader:
// one row per invocation ran 3× slower per FLOP). Consecutive invocations take consecutive key
// blocks of the same rows, so SIMD lanes share the q loads. q, k and their offsets follow the
// attention kernels' layout (attention/register.wgsl).
// @include common/dispatch.wgsl
// @include attention/head.wgsl

const HD: u32 = 64u;             // @param head dim: a multiple of 4, at most 128
const WG: u32 = 64u;             // @param invocations per workgroup

struct Params {
  count: u32,       // invocations: batch · i_blocks · j_blocks
  len: u32,
  heads: u32,
  i_blocks: u32,    // ceil(len / 4): blocks of query rows
  j_blocks: u32,    // ceil(len / 4): blocks of keys
  row_stride: u32,
  q_off: u32,
  k_off: u32,
  scale2: f32,
  inv_heads: f32,
  causal: u32,      // 1: key j > query i has probability 0
  accumulate: u32,  // 1: add to `probs` instead of overwriting it
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> probs: array<f32>;

fn q_col(i: u32, col: u32) -> vec4<f32> { return select(vec4<f32>(), q[i + head_col(col)], head_col_ok(col)); }
fn k_col(i: u32, col: u32) -> vec4<f32> { return select(vec4<f32>(), k[i + head_col(col)], head_col_ok(col)); }

fn load_q(i: u32) -> HeadRow {
  var r: HeadRow;
  r.c0 = mat4x4<f32>(q_col(i, 0u), q_col(i, 1u), q_col(i, 2u), q_col(i, 3u));
  if (NC > 1u) { r.c1 = mat4x4<f32>(q_col(i, 4u), q_col(i, 5u), q_col(i, 6u), q_col(i, 7u)); }
  if (NC > 2u) { r.c2 = mat4x4<f32>(q_col(i, 8u), q_col(i, 9u), q_col(i, 10u), q_col(i, 11u)); }
  if (NC > 3u) { r.c3 = mat4x4<f32>(q_col(i, 12u), q_col(i, 13u), q_col(i, 14u), q_col(i, 15u)); }
  if (NC > 4u) { r.c4 = mat4x4<f32>(q_col(i, 16u), q_col(i, 17u), q_col(i, 18u), q_col(i, 19u)); }
  if (NC > 5u) { r.c5 = mat4x4<f32>(q_col(i, 20u), q_col(i, 21u), q_col(i, 22u), q_col(i, 23u)); }
  if (NC > 6u) { r.c6 = mat4x4<f32>(q_col(i, 24u), q_col(i, 25u), q_col(i, 26u), q_col(i, 27u)); }
  if (NC > 7u) { r.c7 = mat4x4<f32>(q_col(i, 28u), q_col(i, 29u), q_col(i, 30u), q_col(i, 31u)); }
  return r;
}

fn load_k(i: u32) -> HeadRow {
  var r: HeadRow;
  r.c0 = mat4x4<f32>(k_col(i, 0u), k_col(i, 1u), k_col(i, 2u), k_col(i, 3u));
  if (NC > 1u) { r.c1 = mat4x4<f32>(k_col(i, 4u), k_col(i, 5u), k_col(i, 6u), k_col(i, 7u)); }
  if (NC > 2u) { r.c2 = mat4x4<f32>(k_col(i, 8u), k_col(i, 9u), k_col(i, 10u), k_col(i, 11u)); }
  if (NC > 3u) { r.c3 = mat4x4<f32>(k_col(i, 12u), k_col(i, 13u), k_col(i, 14u), k_col(i, 15u)); }
  if (NC > 4u) { r.c4 = mat4x4<f32>(k_col(i, 16u), k_col(i, 17u), k_col(i, 18u), k_col(i, 19u)); }
  if (NC > 5u) { r.c5 = mat4x4<f32>(k_col(i, 20u), k_col(i, 21u), k_col(i, 22u), k_col(i, 23u)); }
  if (NC > 6u) { r.c6 = mat4x4<f32>(k_col(i, 24u), k_col(i, 25u), k_col(i, 26u), k_col(i, 27u)); }
  if (NC > 7u) { r.c7 = mat4x4<f32>(k_col(i, 28u), k_col(i, 29u), k_col(i, 30u), k_col(i, 31u)); }
  return r;
}

fn exp_sums(q: HeadRow, k0: HeadRow, k1: HeadRow, k2: HeadRow, k3: HeadRow, lse2: f32) -> vec4<f32> {
  return exp2(vec4<f32>(head_dot(q, k0), head_dot(q, k1), head_dot(q, k2), head_dot(q, k3)) - lse2);
}

fn store_row(row: u32, j0: u32, pbar: vec4<f32>) {
  let out0 = row * p.len + j0;
  let n = min(4u, p.len - j0);
  for (var t = 0u; t < n; t++) {
    if (p.accumulate != 0u) { probs[out0 + t] += pbar[t]; } else { probs[out0 + t] = pbar[t]; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = workgroup_linear(wid, nwg) * WG + lid;
  if (g >= p.count) { return; }
  let bi = g / p.j_blocks;              // batch item · i_blocks + block of query rows
  let j0 = (g % p.j_blocks) * 4u;
  let i0 = (bi % p.i_blocks) * 4u;
  let b = bi / p.i_blocks;
  let tok0 = b * p.len;
  // Rows i0 .. i0+3 (past the end: computed on the last row, not stored); keys j0 .. j0+3.
  let last_row = p.len - 1u;
  let rows = vec4<u32>(i0, min(i0 + 1u, last_row), min(i0 + 2u, last_row), min(i0 + 3u, last_row));
  let causal = p.causal != 0u;
  // Keys [0, end) are visible to a row; the block's last row sees the most.
  let ends = select(vec4<u32>(p.len), rows + 1u, causal);
  let keys = vec4<u32>(j0, j0 + 1u, j0 + 2u, j0 + 3u);

  var sa = vec4<f32>(); var sb = vec4<f32>(); var sc = vec4<f32>(); var sd = vec4<f32>();
  if (j0 < ends.w) {
    // Keys at or past the last visible one load it instead (in bounds) and are zeroed below.
    let last = ends.w - 1u;
    let stride = p.row_stride;
    let krow = min(keys, vec4<u32>(last));
    for (var h = 0u; h < p.heads; h++) {
      let col0 = h * HD4;
      let q0 = tok0 * stride + p.q_off + col0;
      let k0 = tok0 * stride + p.k_off + col0;
      let kr0 = load_k(k0 + krow.x * stride);
      let kr1 = load_k(k0 + krow.y * stride);
      let kr2 = load_k(k0 + krow.z * stride);
      let kr3 = load_k(k0 + krow.w * stride);
      let st = (b * p.heads + h) * p.len;
      sa += exp_sums(head_scale(load_q(q0 + rows.x * stride), p.scale2), kr0, kr1, kr2, kr3, stats[st + rows.x]);
      sb += exp_sums(head_scale(load_q(q0 + rows.y * stride), p.scale2), kr0, kr1, kr2, kr3, stats[st + rows.y]);
      sc += exp_sums(head_scale(load_q(q0 + rows.z * stride), p.scale2), kr0, kr1, kr2, kr3, stats[st + rows.z]);
      sd += exp_sums(head_scale(load_q(q0 + rows.w * stride), p.scale2), kr0, kr1, kr2, kr3, stats[st + rows.w]);
    }
  }
  let zero = vec4<f32>();
  store_row(tok0 + i0, j0, select(zero, sa * p.inv_heads, keys < vec4<u32>(ends.x)));
  if (i0 + 1u < p.len) { store_row(tok0 + rows.y, j0, select(zero, sb * p.inv_heads, keys < vec4<u32>(ends.y))); }
  if (i0 + 2u < p.len) { store_row(tok0 + rows.z, j0, select(zero, sc * p.inv_heads, keys < vec4<u32>(ends.z))); }
  if (i0 + 3u < p.len) { store_row(tok0 + rows.w, j0, select(zero, sd * p.inv_heads, keys < vec4<u32>(ends.w))); }
}
