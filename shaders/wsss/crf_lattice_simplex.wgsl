// The enclosing simplex of every point of a permutohedral lattice (docs/algorithms.md §3.6), with
// exactly the float32 arithmetic of the host builder (src/wsss/crf-lattice.ts buildLattice, which
// reproduces densecrf's SSE path): features, elevation (last coordinate first), rounding half to
// even to the nearest remainder-0 point, ranks by strict `<`, barycentric weights accumulated in
// float32. Writes, per entry e = point·(D+1) + r (r: the vertex's remainder), the vertex's D integer
// lattice coordinates and its barycentric weight.
//
// Points are the pixels (x = column, y = row; features x/sxy, y/sxy and, for the bilateral kernel,
// the three colour bytes / srgb) and then densecrf's padding up to a multiple of 4: all-zero feature
// vectors, whose vertices exist in the lattice too. The divisions are not done here: WGSL does not
// promise a correctly rounded f32 division, so the quotients come from host-made tables (x, y and
// colour byte → float32 feature), the same values the host builder computes.
//
// Every product that the host rounds to float32 before adding goes through `rounded()`: a compiler
// may otherwise contract a·b + c into one fused multiply-add, which rounds once instead of twice.
// XOR with a uniform that is always 0 is opaque to any compiler, so the product is rounded and
// stored as a float32 before the addition sees it. (Also before floor() in round_half_even.)
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup
const D: u32 = 5u;     // @param feature dimensions: 2 (x, y) or 5 (x, y and three colours)
const D1: u32 = D + 1u;

struct Params {
  scale_lo: vec4<f32>,
  scale_hi: f32,
  down: f32,
  pixels: u32,
  points: u32,
  width: u32,
  x_table: u32,
  y_table: u32,
  c_table: u32,
  zero: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// The image's bytes, [pixels, 3] packed little-endian into words.
@group(0) @binding(1) var<storage, read> image: array<u32>;
// f32 bits: x/sxy per column at x_table, y/sxy per row at y_table, byte/srgb at c_table (256).
@group(0) @binding(2) var<storage, read> tables: array<u32>;
@group(0) @binding(3) var<storage, read_write> keys: array<i32>;
@group(0) @binding(4) var<storage, read_write> weights: array<f32>;

fn rounded(v: f32) -> f32 {
  return bitcast<f32>(bitcast<u32>(v) ^ p.zero);
}

fn scale_of(i: u32) -> f32 {
  if (i < 4u) { return p.scale_lo[i]; }
  return p.scale_hi;
}

fn feature(pt: u32, i: u32) -> f32 {
  if (i == 0u) { return bitcast<f32>(tables[p.x_table + pt % p.width]); }
  if (i == 1u) { return bitcast<f32>(tables[p.y_table + pt / p.width]); }
  let b = 3u * pt + (i - 2u);
  let byte = (image[b / 4u] >> (8u * (b % 4u))) & 0xffu;
  return bitcast<f32>(tables[p.c_table + byte]);
}

// Nearest integer, halves to even (SSE's float → int conversion), for an already rounded float32.
fn round_half_even(v: f32) -> i32 {
  let f = floor(v);
  let frac = v - f;
  let r = i32(f);
  return r + select(0, 1, frac > 0.5 || (frac == 0.5 && (r & 1) != 0));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let pt = workgroup_linear(wid, nwg) * WG + lid;
  if (pt >= p.points) { return; }
  let real = pt < p.pixels;

  // Elevate: elevated[j] = Σ_{i≥j} c_i − j·c_{j−1}, c_i = f_i·scale_i, last coordinate first.
  var elevated = array<f32, D1>();
  var sm = 0.0;
  for (var j = D; j > 0u; j = j - 1u) {
    var cf = 0.0;
    if (real) { cf = rounded(feature(pt, j - 1u) * scale_of(j - 1u)); }
    elevated[j] = sm - rounded(f32(j) * cf);
    sm = sm + cf;
  }
  elevated[0] = sm;

  // Nearest remainder-0 point and how far its coordinate sum is off the plane, in units of D+1.
  var rem0 = array<i32, D1>();
  var sum = 0i;
  for (var i = 0u; i < D1; i = i + 1u) {
    let v = round_half_even(rounded(p.down * elevated[i]));
    rem0[i] = v * i32(D1);
    sum = sum + v;
  }

  // Ranks of the residuals (0 = largest; of equal ones the earlier coordinate ranks first).
  var rank = array<i32, D1>();
  for (var i = 0u; i < D; i = i + 1u) {
    let di = elevated[i] - f32(rem0[i]);
    for (var j = i + 1u; j < D1; j = j + 1u) {
      if (di < elevated[j] - f32(rem0[j])) { rank[i] = rank[i] + 1; } else { rank[j] = rank[j] + 1; }
    }
  }

  // Back onto the plane: shift ranks by the sum, wrapping coordinates whose rank leaves 0..D.
  for (var i = 0u; i < D1; i = i + 1u) {
    rank[i] = rank[i] + sum;
    if (rank[i] < 0) {
      rank[i] = rank[i] + i32(D1);
      rem0[i] = rem0[i] + i32(D1);
    } else if (rank[i] > i32(D)) {
      rank[i] = rank[i] - i32(D1);
      rem0[i] = rem0[i] - i32(D1);
    }
  }

  // Barycentric weights, accumulated in float32 in the host's order.
  var bary = array<f32, D + 2u>();
  for (var i = 0u; i < D1; i = i + 1u) {
    let v = rounded((elevated[i] - f32(rem0[i])) * p.down);
    let at = D - u32(rank[i]);
    bary[at] = bary[at] + v;
    bary[at + 1u] = bary[at + 1u] - v;
  }
  bary[0] = bary[0] + (1.0 + bary[D1]);

  // Vertex r of the simplex: rem0 + the canonical offset of each coordinate's rank
  // (r where rank ≤ D − r, else r − (D+1)).
  for (var r = 0u; r < D1; r = r + 1u) {
    let e = pt * D1 + r;
    for (var i = 0u; i < D; i = i + 1u) {
      let k = u32(rank[i]);
      keys[e * D + i] = rem0[i] + select(i32(r) - i32(D1), i32(r), k <= D - r);
    }
    weights[e] = bary[r];
  }
}
