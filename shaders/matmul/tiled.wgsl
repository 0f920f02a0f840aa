// C[b] = epilogue(alpha · op(A[b]) · op(B[b])), tiled through workgroup memory, for real GPUs.
// A workgroup of WG_M × WG_N invocations computes a (4·WG_M) × (4·WG_N) tile of C; each invocation
// owns a 4×4 block. Per step of BK k, the workgroup stages the A and B slices in workgroup memory
// (coalesced loads along each matrix's contiguous axis, zero-filled past the edges), then every
// invocation reads one vec4 of each per k and does a 4×4 outer-product update in registers.
// (On SwiftShader this shape is 4–5× slower than matmul/register.wgsl: barriers switch
// coroutines there. It is correct on every adapter and tested there.)
//
// Layouts, batch strides and split-K slices: as in matmul/register.wgsl (same uniforms/bindings).
// @include matmul/io.wgsl
// @include matmul/epilogue.wgsl

const WG_M: u32 = 16u;         // @param invocations along M per workgroup (tile rows = 4·WG_M)
const WG_N: u32 = 16u;         // @param invocations along N per workgroup (tile cols = 4·WG_N)
const BK: u32 = 16u;           // @param k per staged slice
const TRANS_A: bool = false;   // @param A is stored [K, M]
const TRANS_B: bool = false;   // @param B is stored [N, K] (PyTorch Linear weights)
const HAS_BIAS: bool = false;  // @param add bias[n]
const ACT: u32 = 0u;           // @param activation code (common/activation.wgsl)
const RESIDUAL: u32 = 0u;      // @param 0 none, 1 add `residual`, 2 add the old `c` (in place)
const FUSED: bool = true;      // @param accumulate with fma()

const BM: u32 = 4u * WG_M;
const BN: u32 = 4u * WG_N;
const THREADS: u32 = WG_M * WG_N;


// Staged slices, k-major: a_tile[k · BM/4 + i] holds op(A) rows 4i..4i+3 at k; same for B.
var<workgroup> a_tile: array<vec4<f32>, BK * BM / 4u>;
var<workgroup> b_tile: array<vec4<f32>, BK * BN / 4u>;

// op(A)[r, k] of batch item `base`, or 0 outside [0, M) × [k0, k_end). The load is clamped so it
// stays in bounds even when it is discarded.
fn load_a(base: u32, r: u32, k: u32, k_end: u32) -> f32 {
  let rc = min(r, p.m - 1u);
  let kc = min(k, k_end - 1u);
  let v = a[base + select(rc * p.k + kc, kc * p.m + rc, TRANS_A)];
  return select(0.0, v, r < p.m && k < k_end);
}
fn load_b(base: u32, k: u32, q: u32, k_end: u32) -> f32 {
  let qc = min(q, p.n - 1u);
  let kc = min(k, k_end - 1u);
  let v = b[base + select(kc * p.n + qc, qc * p.k + kc, TRANS_B)];
  return select(0.0, v, q < p.n && k < k_end);
}

@compute @workgroup_size(WG_N, WG_M)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let item = wid.z % p.batch;
  let slice = wid.z / p.batch;
  let k_begin = slice * p.k_chunk;
  let k_end = min(p.k, k_begin + p.k_chunk);
  let tile_r = wid.y * BM;
  let tile_q = wid.x * BN;
  let a_base = item * p.a_batch;
  let b_base = item * p.b_batch;

  var acc = mat4x4<f32>(); // acc[i] = row i of this invocation's 4×4 block
  for (var k0 = k_begin; k0 < k_end; k0 += BK) {
    // Stage. Consecutive invocations take consecutive elements along the stored contiguous axis.
    for (var e = li; e < BM * BK; e += THREADS) {
      var r: u32; var kk: u32;
      if (TRANS_A) { r = e % BM; kk = e / BM; } else { kk = e % BK; r = e / BK; }
      a_tile[kk * (BM / 4u) + r / 4u][r % 4u] = load_a(a_base, tile_r + r, k0 + kk, k_end);
    }
    for (var e = li; e < BN * BK; e += THREADS) {
      var q: u32; var kk: u32;
      if (TRANS_B) { kk = e % BK; q = e / BK; } else { q = e % BN; kk = e / BN; }
      b_tile[kk * (BN / 4u) + q / 4u][q % 4u] = load_b(b_base, k0 + kk, tile_q + q, k_end);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let av = a_tile[kk * (BM / 4u) + lid.y];
      let bv = b_tile[kk * (BN / 4u) + lid.x];
      if (FUSED) {
        acc[0] = fma(vec4<f32>(av.x), bv, acc[0]);
        acc[1] = fma(vec4<f32>(av.y), bv, acc[1]);
        acc[2] = fma(vec4<f32>(av.z), bv, acc[2]);
        acc[3] = fma(vec4<f32>(av.w), bv, acc[3]);
      } else {
        acc = acc + mat4x4<f32>(av.x * bv, av.y * bv, av.z * bv, av.w * bv);
      }
    }
    workgroupBarrier();
  }

  store_block(acc, wid.z, tile_r + 4u * lid.y, tile_q + 4u * lid.x);
}

// Takes the block by value: indexing it with loop variables here would make the compiler keep the
// accumulator in memory for the whole k loop (SwiftShader does).
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
