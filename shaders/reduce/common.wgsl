// What the three reduction variants share: parameters, bindings, and the per-element and final steps.
// A reduction runs over the middle axis of a tensor viewed as [outer, len, inner] (any axis of any
// rank: the host multiplies the sizes before and after it). Output n = o·inner + i reduces
// x[o, 0..len, i].
//   sum, mean: f32 accumulation (mean divides once at the end).
//   l2: sqrt(Σ x²), without rescaling (finite for |x| up to about 1e19).
//   max, min, argmax, argmin: one path on keys k = x (max) or k = −x (min). The largest key wins;
//     ties go to the first index and NaN beats every number (the first NaN wins), as in PyTorch.
//     y gets the value; index gets the position along the axis when WRITE_INDEX.
// @include common/float.wgsl

const OP: u32 = 0u;  // @param 0 sum, 1 mean, 2 l2, 3 max, 4 min, 5 argmax, 6 argmin

const EXTREME: bool = OP >= 3u;
const NEGATE: bool = OP == 4u || OP == 6u;
const WRITE_INDEX: bool = OP >= 5u;
const NO_INDEX: u32 = 0xffffffffu;

struct Params {
  outer: u32,
  len: u32,
  inner: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> index: array<u32>;

fn output_count() -> u32 { return p.outer * p.inner; }

// Position in x of element 0 of output n's axis; element a is at first_element(n) + a · inner.
fn first_element(n: u32) -> u32 {
  return (n / p.inner) * p.len * p.inner + n % p.inner;
}

fn sum_term(v: f32) -> f32 {
  if (OP == 2u) { return v * v; }
  return v;
}

fn key(v: f32) -> f32 {
  if (NEGATE) { return -v; }
  return v;
}

// Elements a, a+1, a+2, a+3 (in units of `step` along the axis) of the axis starting at x[first].
// Loops handle four elements per iteration: on SwiftShader the per-iteration overhead costs more
// than the loads, and four partial sums also sum more accurately.
fn load4(first: u32, a: u32, step: u32) -> vec4<f32> {
  let i = first + a * p.inner;
  let s = step * p.inner;
  return vec4<f32>(x[i], x[i + s], x[i + 2u * s], x[i + 3u * s]);
}

// Sums over long axes run in blocks of BLOCK loop iterations: each block is summed alone and then
// added to the running partial sum, so rounding error grows with BLOCK + len/(4·BLOCK), not len/4.
const BLOCK: u32 = 16u;

fn sum_terms4(v: vec4<f32>) -> vec4<f32> {
  if (OP == 2u) { return v * v; }
  return v;
}

// The best key so far and its index along the axis; at = NO_INDEX means "nothing yet".
struct Best {
  k: f32,
  at: u32,
}

const NOTHING = Best(0.0, NO_INDEX);

// Does the candidate (k, at) beat `best`? NaN beats numbers; equal keys go to the lower index.
fn beats(k: f32, at: u32, best: Best) -> bool {
  if (at == NO_INDEX) { return false; }
  if (best.at == NO_INDEX) { return true; }
  let k_nan = f32_is_nan(k);
  let best_nan = f32_is_nan(best.k);
  if (k_nan || best_nan) { return k_nan && (!best_nan || at < best.at); }
  return k > best.k || (k == best.k && at < best.at);
}

fn consider(best: Best, v: f32, at: u32) -> Best {
  let k = key(v);
  if (beats(k, at, best)) { return Best(k, at); }
  return best;
}

// Elements a, a+step, a+2·step, a+3·step, considered in that (increasing) order.
fn consider4(best: Best, v: vec4<f32>, a: u32, step: u32) -> Best {
  var b = consider(best, v.x, a);
  b = consider(b, v.y, a + step);
  b = consider(b, v.z, a + 2u * step);
  return consider(b, v.w, a + 3u * step);
}

fn store_sum(n: u32, total: f32) {
  var v = total;
  if (OP == 1u) { v = total / f32(p.len); }
  if (OP == 2u) { v = sqrt(total); }
  y[n] = v;
}

fn store_extreme(n: u32, best: Best) {
  y[n] = key(best.k); // key() is its own inverse
  if (WRITE_INDEX) { index[n] = best.at; }
}
