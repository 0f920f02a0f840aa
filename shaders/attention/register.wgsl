// Fused multi-head attention O = softmax(scale · Q Kᵀ [+ causal mask]) V, one invocation per
// (query rows, head): barrier-free and without workgroup memory, the fast shape on SwiftShader, which
// runs a workgroup's invocations as coroutines that switch at every barrier and turns workgroup
// memory into gathers. An invocation owns ROWS query rows of one head (rows row0 + r·WG), keeps
// their scaled q rows and output accumulators in registers (attention/head.wgsl), and streams over
// the keys two at a time with an online softmax (FA-2 style): per row a running maximum m and
// denominator l, the accumulator rescaled by exp2(m_old − m) at each step, one division by l at the
// end. Logits are base 2 (scale2 = scale · log2 e is folded into q), so every exponential is exp2.
//
// Why these shapes (SwiftShader, measured in CPU time per GFLOP, ±10 %): loading K and V rows is
// the bottleneck, so the ROWS rows share every load: ROWS = 1 / 2 / 4 gave 0.4 / 0.7 / 1.2 GFLOP per
// CPU-second at L = 769 (8 rows with one key per step: 1.0). Two keys per step run as fast as four
// (1.1 vs 1.2) and compile in half the time (3–4 s vs 5–8 s on a busy 2-core machine).
//
// Layout (see src/kernels/attention.ts): token t of batch item b has its q, k and v rows at vec4
// offsets (b·len + t)·row_stride + {q,k,v}_off, head h at + h·HD/4 within each. For the packed
// in-projection output [B, L, 3D] the three bindings are the same buffer, row_stride = 3D/4 and
// the offsets 0, D/4, 2D/4. O is [B, L, D] with heads concatenated (D = heads · HD).
// Consecutive invocations take consecutive query rows of one (batch item, head), so the four SIMD
// lanes of a SwiftShader subgroup read the same key and value rows.
// Causal masking (key j > query i) and writing the row statistics are uniform flags, not
// parameters: one moves the loop end, the other adds one store per row, and every pipeline fewer
// saves 2–4 s of compilation on SwiftShader.
// @include common/dispatch.wgsl
// @include common/float.wgsl
// @include attention/head.wgsl

const HD: u32 = 64u;         // @param head dim: a multiple of 4, at most 128
const WG: u32 = 16u;         // @param invocations per workgroup
const ROWS: u32 = 4u;        // @param query rows per invocation: 1, 2 or 4 (they share every K/V load)

struct Params {
  count: u32,       // workgroups: batch · heads · q_blocks
  len: u32,         // tokens per batch item (queries and keys alike)
  heads: u32,
  q_blocks: u32,    // ceil(len / (ROWS · WG))
  row_stride: u32,  // vec4s from one token's q/k/v row to the next
  q_off: u32,       // vec4 offset of head 0's q (k, v) within a token's row
  k_off: u32,
  v_off: u32,
  scale2: f32,      // scale · log2(e)
  causal: u32,      // 1: mask key j > query i (text encoder)
  write_stats: u32, // 1: write each row's log2-sum-exp2 m + log2(l) to `stats` [B, H, L] (attention/probs.wgsl)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> o: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;

// Head rows starting at vec4 index i (columns past HD read as 0; see attention/head.wgsl).
fn q_col(i: u32, col: u32) -> vec4<f32> { return select(vec4<f32>(), q[i + head_col(col)], head_col_ok(col)); }
fn k_col(i: u32, col: u32) -> vec4<f32> { return select(vec4<f32>(), k[i + head_col(col)], head_col_ok(col)); }
fn v_col(i: u32, col: u32) -> vec4<f32> { return select(vec4<f32>(), v[i + head_col(col)], head_col_ok(col)); }

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

fn load_v(i: u32) -> HeadRow {
  var r: HeadRow;
  r.c0 = mat4x4<f32>(v_col(i, 0u), v_col(i, 1u), v_col(i, 2u), v_col(i, 3u));
  if (NC > 1u) { r.c1 = mat4x4<f32>(v_col(i, 4u), v_col(i, 5u), v_col(i, 6u), v_col(i, 7u)); }
  if (NC > 2u) { r.c2 = mat4x4<f32>(v_col(i, 8u), v_col(i, 9u), v_col(i, 10u), v_col(i, 11u)); }
  if (NC > 3u) { r.c3 = mat4x4<f32>(v_col(i, 12u), v_col(i, 13u), v_col(i, 14u), v_col(i, 15u)); }
  if (NC > 4u) { r.c4 = mat4x4<f32>(v_col(i, 16u), v_col(i, 17u), v_col(i, 18u), v_col(i, 19u)); }
  if (NC > 5u) { r.c5 = mat4x4<f32>(v_col(i, 20u), v_col(i, 21u), v_col(i, 22u), v_col(i, 23u)); }
  if (NC > 6u) { r.c6 = mat4x4<f32>(v_col(i, 24u), v_col(i, 25u), v_col(i, 26u), v_col(i, 27u)); }
  if (NC > 7u) { r.c7 = mat4x4<f32>(v_col(i, 28u), v_col(i, 29u), v_col(i, 30u), v_col(i, 31u)); }
  return r;
}

// The online-softmax state of one query row.
struct RowState {
  m: f32,        // running maximum of the base-2 logits seen
  l: f32,        // running Σ exp2(s − m)
  acc: HeadRow,  // running Σ exp2(s − m) · v
}

fn row_start() -> RowState {
  // m starts at the lowest finite value, not -inf: exp2(m − m_new) must be 0, never NaN. Key 0 is
  // visible to every row, so the first step makes m a real logit. acc is explicitly zero (see
  // attention/tiled.wgsl).
  return RowState(F32_LOWEST, 0.0, HeadRow());
}

// One step over two keys: their base-2 logits (masked where not `visible`) and value rows.
fn row_step(st: RowState, s_raw: vec2<f32>, visible: vec2<bool>, v0: HeadRow, v1: HeadRow) -> RowState {
  let s = select(vec2<f32>(F32_LOWEST), s_raw, visible);
  let m_new = max(st.m, max(s.x, s.y));
  let alpha = exp2(st.m - m_new);
  let w = select(vec2<f32>(), exp2(s - m_new), visible);
  return RowState(m_new, st.l * alpha + (w.x + w.y), head_mix2(st.acc, alpha, v0, v1, w));
}

fn row_finish(st: RowState, out0: u32, stats_at: u32) {
  let inv_l = 1.0 / st.l;
  for (var col = 0u; col < HD4; col++) { o[out0 + col] = head_column(st.acc, col) * inv_l; }
  if (p.write_stats != 0u) { stats[stats_at] = st.m + log2(st.l); }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let wg = workgroup_linear(wid, nwg);
  if (wg >= p.count) { return; }
  let bh = wg / p.q_blocks;             // batch item · heads + head
  // Rows a, b, c, d = row0 + {0, 1, 2, 3}·WG (the first ROWS of them); rows past the end compute on
  // the last row and store nothing.
  let row0 = (wg % p.q_blocks) * (ROWS * WG) + lid;
  if (row0 >= p.len) { return; }
  let last_row = p.len - 1u;
  let row_b = min(row0 + WG, last_row);
  let row_c = min(row0 + 2u * WG, last_row);
  let row_d = min(row0 + 3u * WG, last_row);
  let h = bh % p.heads;
  let tok0 = (bh / p.heads) * p.len;    // first token of this batch item
  let col0 = h * HD4;
  let stride = p.row_stride;
  let q0 = tok0 * stride + p.q_off + col0;
  let k0 = tok0 * stride + p.k_off + col0;
  let v0 = tok0 * stride + p.v_off + col0;

  let qa = head_scale(load_q(q0 + row0 * stride), p.scale2);
  var qb = HeadRow(); var qc = HeadRow(); var qd = HeadRow();
  if (ROWS >= 2u) { qb = head_scale(load_q(q0 + row_b * stride), p.scale2); }
  if (ROWS >= 4u) {
    qc = head_scale(load_q(q0 + row_c * stride), p.scale2);
    qd = head_scale(load_q(q0 + row_d * stride), p.scale2);
  }
  // Keys [0, end_x) are visible to row x; the loop runs to the largest end (that of the last row).
  // A key past it (odd count) loads the last key, so every load stays in bounds, and is masked out.
  let causal = p.causal != 0u;
  let end_a = select(p.len, row0 + 1u, causal);
  let end_b = select(p.len, row_b + 1u, causal);
  let end_c = select(p.len, row_c + 1u, causal);
  let end_d = select(p.len, row_d + 1u, causal);
  let end = select(select(end_a, end_b, ROWS == 2u), end_d, ROWS == 4u);
  let last = end - 1u;

  var sa = row_start(); var sb = row_start(); var sc = row_start(); var sd = row_start();
  for (var j = 0u; j < end; j += 2u) {
    let key = vec2<u32>(j, j + 1u);
    let j1 = min(j + 1u, last);
    let kr0 = load_k(k0 + j * stride);
    let kr1 = load_k(k0 + j1 * stride);
    let xa = vec2<f32>(head_dot(qa, kr0), head_dot(qa, kr1));
    var xb = vec2<f32>(); var xc = vec2<f32>(); var xd = vec2<f32>();
    if (ROWS >= 2u) { xb = vec2<f32>(head_dot(qb, kr0), head_dot(qb, kr1)); }
    if (ROWS >= 4u) {
      xc = vec2<f32>(head_dot(qc, kr0), head_dot(qc, kr1));
      xd = vec2<f32>(head_dot(qd, kr0), head_dot(qd, kr1));
    }
    let vr0 = load_v(v0 + j * stride);
    let vr1 = load_v(v0 + j1 * stride);
    sa = row_step(sa, xa, key < vec2<u32>(end_a), vr0, vr1);
    if (ROWS >= 2u) { sb = row_step(sb, xb, key < vec2<u32>(end_b), vr0, vr1); }
    if (ROWS >= 4u) {
      sc = row_step(sc, xc, key < vec2<u32>(end_c), vr0, vr1);
      sd = row_step(sd, xd, key < vec2<u32>(end_d), vr0, vr1);
    }
  }

  let od = p.heads * HD4;               // vec4s per token row of O
  let out0 = tok0 * od + col0;
  let st0 = bh * p.len;
  row_finish(sa, out0 + row0 * od, st0 + row0);
  if (ROWS >= 2u && row0 + WG < p.len) { row_finish(sb, out0 + row_b * od, st0 + row_b); }
  if (ROWS >= 4u && row0 + 2u * WG < p.len) { row_finish(sc, out0 + row_c * od, st0 + row_c); }
  if (ROWS >= 4u && row0 + 3u * WG < p.len) { row_finish(sd, out0 + row_d * od, st0 + row_d); }
}
