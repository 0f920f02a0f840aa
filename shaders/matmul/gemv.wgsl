// C[b] = epilogue(alpha · op(A[b]) · op(B[b])) for few rows (matrix-vector and M up to a few):
// a workgroup computes a 4×4 block of C (4 rows, 4 columns) and its WG invocations split K between
// them (k = lid, lid + WG, ...: consecutive invocations read consecutive addresses of row-major A
// and of B stored [N, K]), then add their partial blocks by a tree in workgroup memory. Rows and
// columns past the edges are clamped on load and not stored, so any M works, but the work per row
// is 4 rows' worth: this variant is for M ≤ 4.
//
// Layouts, batch strides and split-K slices: as in matmul/register.wgsl (same uniforms/bindings).
// @include matmul/io.wgsl
// @include matmul/epilogue.wgsl

const WG: u32 = 64u;           // @param invocations per workgroup (a power of two), splitting K
const TRANS_A: bool = false;   // @param A is stored [K, M]
const TRANS_B: bool = false;   // @param B is stored [N, K] (PyTorch Linear weights)
const HAS_BIAS: bool = false;  // @param add bias[n]
const ACT: u32 = 0u;           // @param activation code (common/activation.wgsl)
const RESIDUAL: u32 = 0u;      // @param 0 none, 1 add `residual`, 2 add the old `c` (in place)
const FUSED: bool = true;      // @param accumulate with fma(); SwiftShader emulates fma (2–4× slower)


// partial[t][j] = invocation t's sums for column j of the block, rows in the vec4's components.
var<workgroup> partial: array<mat4x4<f32>, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let item = wid.z % p.batch;
  let slice = wid.z / p.batch;
  let k_begin = slice * p.k_chunk;
  let k_end = min(p.k, k_begin + p.k_chunk);
  let r0 = wid.y * 4u;
  let q0 = wid.x * 4u;

  // Offsets of rows r0.. of op(A) and columns q0.. of op(B), clamped to the last row/column, and
  // the distance from k to k + 1 in each. (Named values, not a vector written in a loop: that
  // would live in memory.)
  let ra = vec4<u32>(a_row(item, r0), a_row(item, r0 + 1u), a_row(item, r0 + 2u), a_row(item, r0 + 3u));
  let qb = vec4<u32>(b_col(item, q0), b_col(item, q0 + 1u), b_col(item, q0 + 2u), b_col(item, q0 + 3u));
  let sa = select(1u, p.m, TRANS_A);
  let sb = select(p.n, 1u, TRANS_B);

  var acc = mat4x4<f32>(); // acc[j][i] = C[r0 + i, q0 + j]
  for (var k = k_begin + li; k < k_end; k += WG) {
    let av = vec4<f32>(a[ra.x + k * sa], a[ra.y + k * sa], a[ra.z + k * sa], a[ra.w + k * sa]);
    let bv = vec4<f32>(b[qb.x + k * sb], b[qb.y + k * sb], b[qb.z + k * sb], b[qb.w + k * sb]);
    if (FUSED) {
      acc[0] = fma(av, vec4<f32>(bv.x), acc[0]);
      acc[1] = fma(av, vec4<f32>(bv.y), acc[1]);
      acc[2] = fma(av, vec4<f32>(bv.z), acc[2]);
      acc[3] = fma(av, vec4<f32>(bv.w), acc[3]);
    } else {
      acc = acc + mat4x4<f32>(av * bv.x, av * bv.y, av * bv.z, av * bv.w);
    }
  }

  partial[li] = acc;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (li < stride) { partial[li] = partial[li] + partial[li + stride]; }
    workgroupBarrier();
  }

  // Invocation t < 16 stores element (t / 4, t % 4) of the block.
  if (li < 16u) {
    let i = li / 4u;
    let j = li % 4u;
    let r = r0 + i;
    let q = q0 + j;
    if (r < p.m && q < p.n) {
      let at = wid.z * p.m * p.n + r * p.n + q;
      c[at] = epilogue(partial[0][j][i], q, at);
    }
  }
}
