// One attention head's row (HD ≤ 128 floats) held in registers, for the barrier-free attention
// kernels (attention/register.wgsl, attention/probs.wgsl). The including file declares the
// `// @param` constant HD (a multiple of 4, at most 128).
//
// A row is eight 4×4 matrices, chunk c holding floats 16c .. 16c+15 (column t of chunk c is the
// vec4 of floats 16c+4t .. 16c+4t+3). Named members and constant indices only: SwiftShader keeps
// such values in registers, while an array indexed by a loop variable goes to memory (measured
// 10–20× slower for the matmul kernels). Chunks at or past NC are never touched: every use is
// guarded by `NC > c`, which the compiler folds, so HD = 64 costs four chunks, not eight. Columns
// past HD inside the last chunk (HD not a multiple of 16) are zero, so they add nothing to dots.

const HD4: u32 = HD / 4u;           // vec4 columns per head row
const NC: u32 = (HD + 15u) / 16u;   // chunks in use

struct HeadRow {
  c0: mat4x4<f32>, c1: mat4x4<f32>, c2: mat4x4<f32>, c3: mat4x4<f32>,
  c4: mat4x4<f32>, c5: mat4x4<f32>, c6: mat4x4<f32>, c7: mat4x4<f32>,
}

// Column `col` of a head row clamped into the row, so that loads for the zero columns past HD
// still read inside the row (and the buffer); `head_col_ok` says whether the column is real.
fn head_col(col: u32) -> u32 { return min(col, HD4 - 1u); }
fn head_col_ok(col: u32) -> bool { return col < HD4; }

fn chunk_dot(a: mat4x4<f32>, b: mat4x4<f32>) -> f32 {
  // Four independent products summed pairwise: shorter dependency chains and a little more accuracy
  // than a running sum.
  return (dot(a[0], b[0]) + dot(a[1], b[1])) + (dot(a[2], b[2]) + dot(a[3], b[3]));
}

fn head_dot(a: HeadRow, b: HeadRow) -> f32 {
  var s = chunk_dot(a.c0, b.c0);
  if (NC > 1u) { s += chunk_dot(a.c1, b.c1); }
  if (NC > 2u) { s += chunk_dot(a.c2, b.c2); }
  if (NC > 3u) { s += chunk_dot(a.c3, b.c3); }
  if (NC > 4u) { s += chunk_dot(a.c4, b.c4); }
  if (NC > 5u) { s += chunk_dot(a.c5, b.c5); }
  if (NC > 6u) { s += chunk_dot(a.c6, b.c6); }
  if (NC > 7u) { s += chunk_dot(a.c7, b.c7); }
  return s;
}

fn head_scale(a: HeadRow, f: f32) -> HeadRow {
  var r: HeadRow;
  r.c0 = a.c0 * f;
  if (NC > 1u) { r.c1 = a.c1 * f; }
  if (NC > 2u) { r.c2 = a.c2 * f; }
  if (NC > 3u) { r.c3 = a.c3 * f; }
  if (NC > 4u) { r.c4 = a.c4 * f; }
  if (NC > 5u) { r.c5 = a.c5 * f; }
  if (NC > 6u) { r.c6 = a.c6 * f; }
  if (NC > 7u) { r.c7 = a.c7 * f; }
  return r;
}

// alpha · acc + w.x · v0 + w.y · v1: the online-softmax update of an output accumulator by two
// keys' value rows. Plain multiply-add: SwiftShader emulates fma() (measured 4× slower).
fn head_mix2(acc: HeadRow, alpha: f32, v0: HeadRow, v1: HeadRow, w: vec2<f32>) -> HeadRow {
  var r: HeadRow;
  r.c0 = acc.c0 * alpha + v0.c0 * w.x + v1.c0 * w.y;
  if (NC > 1u) { r.c1 = acc.c1 * alpha + v0.c1 * w.x + v1.c1 * w.y; }
  if (NC > 2u) { r.c2 = acc.c2 * alpha + v0.c2 * w.x + v1.c2 * w.y; }
  if (NC > 3u) { r.c3 = acc.c3 * alpha + v0.c3 * w.x + v1.c3 * w.y; }
  if (NC > 4u) { r.c4 = acc.c4 * alpha + v0.c4 * w.x + v1.c4 * w.y; }
  if (NC > 5u) { r.c5 = acc.c5 * alpha + v0.c5 * w.x + v1.c5 * w.y; }
  if (NC > 6u) { r.c6 = acc.c6 * alpha + v0.c6 * w.x + v1.c6 * w.y; }
  if (NC > 7u) { r.c7 = acc.c7 * alpha + v0.c7 * w.x + v1.c7 * w.y; }
  return r;
}

// Column `col` (vec4 index, 0..31) of a row, for the final store; col is a loop variable there,
// which costs a little memory traffic once per row.
fn head_column(a: HeadRow, col: u32) -> vec4<f32> {
  var m: mat4x4<f32>;
  switch (col / 4u) {
    case 0u: { m = a.c0; }
    case 1u: { m = a.c1; }
    case 2u: { m = a.c2; }
    case 3u: { m = a.c3; }
    case 4u: { m = a.c4; }
    case 5u: { m = a.c5; }
    case 6u: { m = a.c6; }
    default: { m = a.c7; }
  }
  return m[col % 4u];
}
