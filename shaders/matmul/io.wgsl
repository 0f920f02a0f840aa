// The interface shared by every matmul variant: one uniform struct and one set of bindings (so the
// host binds all variants alike), and the addressing of op(A) rows and op(B) columns. The including
// kernel declares the constants TRANS_A and TRANS_B.

struct Params {
  m: u32,
  n: u32,
  k: u32,
  batch: u32,
  a_batch: u32,
  b_batch: u32,
  k_chunk: u32,
  alpha: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> c: array<f32>;

// Offsets of row r of op(A) and column q of op(B) (clamped to the last one: rows and columns past
// the edge load real data, and their sums are simply not stored, so the k loop has no branches).
fn a_row(item: u32, r: u32) -> u32 {
  let rc = min(r, p.m - 1u);
  return item * p.a_batch + select(rc * p.k, rc, TRANS_A);
}
fn b_col(item: u32, q: u32) -> u32 {
  let qc = min(q, p.n - 1u);
  return item * p.b_batch + select(qc, qc * p.k, TRANS_B);
}
