// What the three softmax variants share: parameters, bindings, the logits and the epilogue.
// Over the last axis of a [rows, cols] view, in f32 with max-subtraction:
//   z[j] = scale · x[j] (+ mask[row mod mask_rows, j] when HAS_MASK)
//   y[j] = exp(z[j] − max z) / Σ exp(z − max z)
// A mask entry of -inf gives probability 0. A row whose logits are all -inf has no distribution:
// it yields NaN in every entry, as PyTorch does, so that the mistake shows instead of passing as
// zeros. A NaN or +inf logit also makes its whole row NaN (PyTorch keeps the other entries of a
// +inf row at 0). NaN is handled explicitly: WGSL lets max() drop NaNs and arithmetic lose them
// (without the explicit handling SwiftShader gives zeros beside the NaN entry).
// Passes: max (a NaN counts as +inf); then exp(z − max) written to y and summed; then y scaled by
// 1/sum, or set to NaN when the max is not finite (the exps are read back from y, not recomputed).
// @include common/float.wgsl

const HAS_MASK: bool = false;  // @param add mask[mask_rows, cols] (row r uses mask row r mod mask_rows)

struct Params {
  rows: u32,
  cols: u32,
  scale: f32,
  mask_rows: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn logit(row: u32, col: u32) -> f32 {
  var z = p.scale * x[row * p.cols + col];
  if (HAS_MASK) { z = z + mask[(row % p.mask_rows) * p.cols + col]; }
  return z;
}

// Four logits `stride` apart. Loops handle four elements per iteration: on SwiftShader the
// per-iteration overhead costs more than the loads, and four partial sums also sum more accurately.
fn logit4(row: u32, col: u32, stride: u32) -> vec4<f32> {
  return vec4<f32>(logit(row, col), logit(row, col + stride), logit(row, col + 2u * stride), logit(row, col + 3u * stride));
}

// The sum of exps over a long row runs in blocks of BLOCK loop iterations: each block is summed alone
// and then added to the running sum, so the rounding error of these same-sign summands grows with
// BLOCK + len/(4·BLOCK) instead of len/4.
const BLOCK: u32 = 16u;

fn max4(v: vec4<f32>) -> f32 { return max(max(v.x, v.y), max(v.z, v.w)); }

// The logit as it enters the row maximum: NaN becomes +inf, so that it marks the row.
fn max_key(z: f32) -> f32 { return select(z, f32_pos_inf(), f32_is_nan(z)); }

fn max_key4(z: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(max_key(z.x), max_key(z.y), max_key(z.z), max_key(z.w));
}

fn sum4(v: vec4<f32>) -> f32 { return (v.x + v.y) + (v.z + v.w); }

// exp(z − row_max), stored to y; the caller sums it.
fn store_exp(row: u32, col: u32, row_max: f32) -> f32 {
  let e = exp(logit(row, col) - row_max);
  y[row * p.cols + col] = e;
  return e;
}

fn store_exp4(row: u32, col: u32, stride: u32, row_max: f32) -> vec4<f32> {
  return vec4<f32>(store_exp(row, col, row_max), store_exp(row, col + stride, row_max),
                   store_exp(row, col + 2u * stride, row_max), store_exp(row, col + 3u * stride, row_max));
}

// Multiply the stored exps by k = 1/sum; a row without a finite maximum is all NaN.
fn normalise(i: u32, k: f32, finite: bool) {
  y[i] = select(f32_nan(), y[i] * k, finite);
}

fn normalise4(i: u32, stride: u32, k: f32, finite: bool) {
  normalise(i, k, finite);
  normalise(i + stride, k, finite);
  normalise(i + 2u * stride, k, finite);
  normalise(i + 3u * stride, k, finite);
}

fn is_finite(row_max: f32) -> bool {
  return row_max >= F32_LOWEST && row_max <= F32_MAX;
}
