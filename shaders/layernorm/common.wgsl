// What the three layernorm variants share: parameters, bindings, the row loads and the epilogue.
// The variants differ only in how many invocations cooperate on one row (invocation.wgsl: one;
// subgroup.wgsl: one subgroup; workgroup.wgsl: one workgroup) and so in how they reduce.
//
// Over the last axis of a [rows, cols] view:
//   h = x, or x + residual when RESIDUAL (and h is written to residual_sum)
//   y = (h − mean) · rstd · gamma + beta,  var = Σ(h − mean)² / cols (biased), rstd = 1/sqrt(var + eps)
//
// Statistics (f32, robust to a large mean and a small variance):
//   1. shift = h[0] of the row; m1 = Σ(h − shift) / n. Subtracting a value of the row first keeps
//      the summands at the scale of the spread, not of the mean (1000 + noise sums noise, not 1000s).
//   2. d = (h − shift) − m1; corrected two-pass: c = Σd / n, var = Σd²/n − c² (c only removes the
//      rounding error of m1, so the subtraction cannot cancel catastrophically).
//   3. The centred value is ((h − shift) − (m1 + c)): the mean never has to be rounded to f32 at the
//      magnitude of h, which alone would cost ulp(mean)/σ of accuracy.
// stats[row] = (shift + m1 + c, rstd): the mean rounded to f32 once, for the backward pass.

// @include common/float.wgsl

const HAS_GAMMA: bool = true;   // @param multiply by gamma[cols]
const HAS_BETA: bool = true;    // @param add beta[cols]
const RESIDUAL: bool = false;   // @param normalise x + residual, and write that sum to residual_sum
const STATS: bool = false;      // @param write (mean, rstd) of each row to stats[rows, 2]

struct Params {
  rows: u32,
  cols: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> residual: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<storage, read_write> residual_sum: array<f32>;
@group(0) @binding(7) var<storage, read_write> stats: array<f32>;

// Element i of h. The first pass also stores it when RESIDUAL (the later passes recompute the same
// f32 sum rather than reading back their own writes).
fn load_h(i: u32) -> f32 {
  if (RESIDUAL) { return x[i] + residual[i]; }
  return x[i];
}

fn load_h_first_pass(i: u32) -> f32 {
  let h = load_h(i);
  if (RESIDUAL) { residual_sum[i] = h; }
  return h;
}

// Four elements `stride` apart. Loops handle four elements per iteration: on SwiftShader the
// per-iteration overhead costs more than the loads, and four partial sums also sum more accurately.
fn load_h4(i: u32, stride: u32) -> vec4<f32> {
  return vec4<f32>(load_h(i), load_h(i + stride), load_h(i + 2u * stride), load_h(i + 3u * stride));
}

fn load_h4_first_pass(i: u32, stride: u32) -> vec4<f32> {
  return vec4<f32>(load_h_first_pass(i), load_h_first_pass(i + stride),
                   load_h_first_pass(i + 2u * stride), load_h_first_pass(i + 3u * stride));
}

// Sums over long rows run in blocks of BLOCK loop iterations (4·BLOCK elements per lane): each block
// is summed alone and then added to the running partial sum, so rounding error grows with
// BLOCK + len/(4·BLOCK) rather than with len/4 (summands that share a sign, like the d² of a row with
// few distinct values, make it grow linearly, not like a random walk).
const BLOCK: u32 = 16u;

fn sum4(v: vec4<f32>) -> f32 { return (v.x + v.y) + (v.z + v.w); }

// Offset of the mean from the shift, and rstd, from the sums of the second pass.
fn finish_stats(m1: f32, sum_d: f32, sum_dd: f32) -> vec2<f32> {
  let n = f32(p.cols);
  let c = sum_d / n;
  // Clamp the rounding below 0 away, but keep a NaN (from a NaN or ±inf in the row): max() may drop it.
  let raw = sum_dd / n - c * c;
  let variance = select(max(raw, 0.0), raw, f32_is_nan(raw));
  return vec2<f32>(m1 + c, inverseSqrt(variance + p.eps));
}

fn store_y(i: u32, col: u32, centred: f32, rstd: f32) {
  var v = centred * rstd;
  if (HAS_GAMMA) { v = v * gamma[col]; }
  if (HAS_BETA) { v = v + beta[col]; }
  y[i] = v;
}

fn store_y4(i: u32, col: u32, stride: u32, centred: vec4<f32>, rstd: f32) {
  store_y(i, col, centred.x, rstd);
  store_y(i + stride, col + stride, centred.y, rstd);
  store_y(i + 2u * stride, col + 2u * stride, centred.z, rstd);
  store_y(i + 3u * stride, col + 3u * stride, centred.w, rstd);
}

fn store_stats(row: u32, shift: f32, offset: f32, rstd: f32) {
  if (STATS) {
    stats[2u * row] = shift + offset;
    stats[2u * row + 1u] = rstd;
  }
}
