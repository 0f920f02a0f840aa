// Shared by the first passes of the weight gradient (conv2d_backward_weight.wgsl and
// conv2d_backward_weight_depthwise.wgsl; not a kernel of its own): loads of dy and x quads and
// the bias units. The including shader declares `p` (with ho, wo, cout, weight_count), `dy`, `x`
// and `partial`.

const BIAS_ROWS: u32 = 8u;  // output channels per bias unit

// Four consecutive dy values of a row.
fn dy4(at: u32) -> vec4<f32> {
  return vec4<f32>(dy[at], dy[at + 1u], dy[at + 2u], dy[at + 3u]);
}
// The last, partial quad of a row: entries at or past `n` (≤ 3 left) read as 0, loads clamped.
fn dy4_tail(at: u32, n: u32) -> vec4<f32> {
  let last = at + n - 1u;
  return vec4<f32>(dy[at], select(0.0, dy[min(at + 1u, last)], n > 1u),
                   select(0.0, dy[min(at + 2u, last)], n > 2u), 0.0);
}
// Four x values of a row, `s` (the stride) apart.
fn x4(at: u32, s: u32) -> vec4<f32> {
  return vec4<f32>(x[at], x[at + s], x[at + 2u * s], x[at + 3u * s]);
}
// Their partial quad, zero-filled likewise (so that an inf in the image cannot meet a 0 of dy).
fn x4_tail(at: u32, s: u32, n: u32) -> vec4<f32> {
  let last = at + (n - 1u) * s;
  return vec4<f32>(x[at], select(0.0, x[min(at + s, last)], n > 1u),
                   select(0.0, x[min(at + 2u * s, last)], n > 2u), 0.0);
}

// The lanes of a bias sum: (l0 + l1) + (l2 + l3).
fn lanes_sum(v: vec4<f32>) -> f32 {
  return (v.x + v.y) + (v.z + v.w);
}

// A bias unit: db partials of the output channels bt·8 .. bt·8+7 over rows r0 .. r1−1 of batch item
// `item`, written at partial[base + weight_count + co]. Each of four lanes sums the columns
// ox ≡ lane (mod 4): the full quads of the rows in order, then the partial quads in row order; the
// lanes are added as (l0 + l1) + (l2 + l3).
fn bias_unit(bt: u32, base: u32, item: u32, r0: u32, r1: u32) {
  let hwo = p.ho * p.wo;
  let co0 = bt * BIAS_ROWS;
  let last = p.cout - 1u;
  let plane = item * p.cout * hwo + r0 * p.wo;
  let c0 = min(co0, last) * hwo + plane;      let c1 = min(co0 + 1u, last) * hwo + plane;
  let c2 = min(co0 + 2u, last) * hwo + plane; let c3 = min(co0 + 3u, last) * hwo + plane;
  let c4 = min(co0 + 4u, last) * hwo + plane; let c5 = min(co0 + 5u, last) * hwo + plane;
  let c6 = min(co0 + 6u, last) * hwo + plane; let c7 = min(co0 + 7u, last) * hwo + plane;
  let quads = p.wo / 4u;
  let rest = p.wo - 4u * quads;
  var s0 = vec4<f32>(); var s1 = vec4<f32>(); var s2 = vec4<f32>(); var s3 = vec4<f32>();
  var s4 = vec4<f32>(); var s5 = vec4<f32>(); var s6 = vec4<f32>(); var s7 = vec4<f32>();
  // Rows r0 .. r1−1, full quads (one flat loop, as for the weights), then the partial quads.
  var row = 0u;
  var q = 0u;
  for (var step = 0u; step < (r1 - r0) * quads; step++) {
    let at = row + 4u * q;
    s0 += dy4(c0 + at); s1 += dy4(c1 + at); s2 += dy4(c2 + at); s3 += dy4(c3 + at);
    s4 += dy4(c4 + at); s5 += dy4(c5 + at); s6 += dy4(c6 + at); s7 += dy4(c7 + at);
    q++;
    let wrap = q == quads;
    q = select(q, 0u, wrap);
    row = select(row, row + p.wo, wrap);
  }
  for (var r = 0u; r < select(0u, r1 - r0, rest > 0u); r++) {
    let at = r * p.wo + 4u * quads;
    s0 += dy4_tail(c0 + at, rest); s1 += dy4_tail(c1 + at, rest);
    s2 += dy4_tail(c2 + at, rest); s3 += dy4_tail(c3 + at, rest);
    s4 += dy4_tail(c4 + at, rest); s5 += dy4_tail(c5 + at, rest);
    s6 += dy4_tail(c6 + at, rest); s7 += dy4_tail(c7 + at, rest);
  }
  let at = base + p.weight_count + co0;
  let sums = array<f32, 8>(lanes_sum(s0), lanes_sum(s1), lanes_sum(s2), lanes_sum(s3),
                           lanes_sum(s4), lanes_sum(s5), lanes_sum(s6), lanes_sum(s7));
  for (var i = 0u; i < BIAS_ROWS; i++) {
    if (co0 + i < p.cout) { partial[at + i] = sums[i]; }
  }
}
