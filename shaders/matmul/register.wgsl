// C[b] = epilogue(alpha · op(A[b]) · op(B[b])), register-blocked and barrier-free: no workgroup
// memory. Each invocation accumulates a TM×TN block of C in registers, reading A and B straight
// from storage (caches do the reuse). This is the fast shape on SwiftShader, which runs a
// workgroup's invocations as coroutines that switch at every barrier (shaders/README.md).
//
// Layouts (row-major): A is [M, K], or [K, M] when TRANS_A; B is [K, N], or [N, K] when TRANS_B.
// Batch items are p.a_batch / p.b_batch elements apart (0 broadcasts one matrix to every item).
//
// The block is made of 4×4 sub-blocks held in mat4x4 values, updated four k at a time by one
// matrix product. Named matrix values (not arrays indexed in loops) are what keeps the
// accumulators in registers: SwiftShader puts any array indexed by a loop variable in memory,
// which measured 10–20× slower. TM and TN are therefore 4 or 8 (one or two sub-blocks).
//
// Split-K: workgroup z = slice · batch + item; slice s sums k in [s·k_chunk, (s+1)·k_chunk) and
// writes C block z. With k_chunk = K (one slice) this is the plain matmul; with several slices and
// the identity epilogue it writes the partial sums that matmul/splitk_reduce.wgsl adds up.
// @include matmul/io.wgsl
// @include matmul/epilogue.wgsl
// @include common/block4x4.wgsl

const TM: u32 = 8u;            // @param rows of C per invocation: 4 or 8
const TN: u32 = 8u;            // @param columns of C per invocation: 4 or 8
const WG_M: u32 = 4u;          // @param invocations along M per workgroup
const WG_N: u32 = 4u;          // @param invocations along N per workgroup
const TRANS_A: bool = false;   // @param A is stored [K, M]
const TRANS_B: bool = false;   // @param B is stored [N, K] (PyTorch Linear weights)
const HAS_BIAS: bool = false;  // @param add bias[n]
const ACT: u32 = 0u;           // @param activation code (common/activation.wgsl)
const RESIDUAL: u32 = 0u;      // @param 0 none, 1 add `residual`, 2 add the old `c` (in place)
const FUSED: bool = false;     // @param accumulate with fma(); SwiftShader emulates fma (2–4× slower)


// Four consecutive k (k .. k+3) of one row of op(A) / one column of op(B).
fn a_k4(off: u32, k: u32) -> vec4<f32> {
  let s = select(1u, p.m, TRANS_A);
  let at = off + k * s;
  return vec4<f32>(a[at], a[at + s], a[at + 2u * s], a[at + 3u * s]);
}
fn b_k4(off: u32, k: u32) -> vec4<f32> {
  let s = select(p.n, 1u, TRANS_B);
  let at = off + k * s;
  return vec4<f32>(b[at], b[at + s], b[at + 2u * s], b[at + 3u * s]);
}
// The same for the last, partial group of k: entries at or past `end` read as 0 (their loads are
// clamped into the row so they stay in bounds).
fn a_k4_tail(off: u32, k: u32, end: u32) -> vec4<f32> {
  let s = select(1u, p.m, TRANS_A);
  let last = end - 1u;
  var v: vec4<f32>;
  for (var t = 0u; t < 4u; t++) { v[t] = select(0.0, a[off + min(k + t, last) * s], k + t < end); }
  return v;
}
fn b_k4_tail(off: u32, k: u32, end: u32) -> vec4<f32> {
  let s = select(p.n, 1u, TRANS_B);
  let last = end - 1u;
  var v: vec4<f32>;
  for (var t = 0u; t < 4u; t++) { v[t] = select(0.0, b[off + min(k + t, last) * s], k + t < end); }
  return v;
}

fn store_block(acc: mat4x4<f32>, z: u32, r0: u32, q0: u32) {
  let c_base = z * p.m * p.n;
  for (var i = 0u; i < 4u; i++) {
    let r = r0 + i;
    if (r >= p.m) { return; }
    for (var j = 0u; j < 4u; j++) {
      let q = q0 + j;
      if (q < p.n) {
        let at = c_base + r * p.n + q;
        c[at] = epilogue(acc[i][j], q, at);
      }
    }
  }
}

@compute @workgroup_size(WG_N, WG_M)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let item = wid.z % p.batch;
  let slice = wid.z / p.batch;
  let k_begin = slice * p.k_chunk;
  let k_end = min(p.k, k_begin + p.k_chunk);
  let r0 = (wid.y * WG_M + lid.y) * TM;
  let q0 = (wid.x * WG_N + lid.x) * TN;

  let ra0 = a_row(item, r0);      let ra1 = a_row(item, r0 + 1u);
  let ra2 = a_row(item, r0 + 2u); let ra3 = a_row(item, r0 + 3u);
  let ra4 = a_row(item, r0 + 4u); let ra5 = a_row(item, r0 + 5u);
  let ra6 = a_row(item, r0 + 6u); let ra7 = a_row(item, r0 + 7u);
  let qb0 = b_col(item, q0);      let qb1 = b_col(item, q0 + 1u);
  let qb2 = b_col(item, q0 + 2u); let qb3 = b_col(item, q0 + 3u);
  let qb4 = b_col(item, q0 + 4u); let qb5 = b_col(item, q0 + 5u);
  let qb6 = b_col(item, q0 + 6u); let qb7 = b_col(item, q0 + 7u);

  // acc_ij: sub-block i along M, j along N.
  var acc00 = mat4x4<f32>(); var acc01 = mat4x4<f32>();
  var acc10 = mat4x4<f32>(); var acc11 = mat4x4<f32>();
  // Whole groups of four k, then at most one partial group with zero-filled loads.
  let k_full = k_begin + (max(k_end, k_begin) - k_begin) / 4u * 4u;
  for (var k = k_begin; k < k_full; k += 4u) {
    let a0 = mat4x4<f32>(a_k4(ra0, k), a_k4(ra1, k), a_k4(ra2, k), a_k4(ra3, k));
    let b0 = mat4x4<f32>(b_k4(qb0, k), b_k4(qb1, k), b_k4(qb2, k), b_k4(qb3, k));
    acc00 = update(acc00, a0, b0);
    if (TN > 4u) {
      let b1 = mat4x4<f32>(b_k4(qb4, k), b_k4(qb5, k), b_k4(qb6, k), b_k4(qb7, k));
      acc01 = update(acc01, a0, b1);
      if (TM > 4u) {
        let a1 = mat4x4<f32>(a_k4(ra4, k), a_k4(ra5, k), a_k4(ra6, k), a_k4(ra7, k));
        acc10 = update(acc10, a1, b0);
        acc11 = update(acc11, a1, b1);
      }
    } else if (TM > 4u) {
      let a1 = mat4x4<f32>(a_k4(ra4, k), a_k4(ra5, k), a_k4(ra6, k), a_k4(ra7, k));
      acc10 = update(acc10, a1, b0);
    }
  }
  if (k_full < k_end) {
    let k = k_full;
    let e = k_end;
    let a0 = mat4x4<f32>(a_k4_tail(ra0, k, e), a_k4_tail(ra1, k, e), a_k4_tail(ra2, k, e), a_k4_tail(ra3, k, e));
    let b0 = mat4x4<f32>(b_k4_tail(qb0, k, e), b_k4_tail(qb1, k, e), b_k4_tail(qb2, k, e), b_k4_tail(qb3, k, e));
    let a1 = mat4x4<f32>(a_k4_tail(ra4, k, e), a_k4_tail(ra5, k, e), a_k4_tail(ra6, k, e), a_k4_tail(ra7, k, e));
    let b1 = mat4x4<f32>(b_k4_tail(qb4, k, e), b_k4_tail(qb5, k, e), b_k4_tail(qb6, k, e), b_k4_tail(qb7, k, e));
    acc00 = update(acc00, a0, b0);
    acc01 = update(acc01, a0, b1);
    acc10 = update(acc10, a1, b0);
    acc11 = update(acc11, a1, b1);
  }

  store_block(acc00, wid.z, r0, q0);
  if (TN > 4u) { store_block(acc01, wid.z, r0, q0 + 4u); }
  if (TM > 4u) { store_block(acc10, wid.z, r0 + 4u, q0); }
  if (TM > 4u && TN > 4u) { store_block(acc11, wid.z, r0 + 4u, q0 + 4u); }
}
