// Strided index spaces of rank ≤ 6, shared by the layout kernels. The host merges and drops axes
// first (src/kernels/layout.ts), so the rank a kernel is specialised for is usually 1–3.
//
// Shapes and strides travel in uniforms as two vec4<u32> each (uniform arrays would need a 16-byte
// stride per element), ordered INNERMOST AXIS FIRST: `lo` holds axes 0..3, `hi` axes 4..5
// (hi.z and hi.w are unused).

fn pick6(lo: vec4<u32>, hi: vec4<u32>, k: u32) -> u32 {
  if (k < 4u) { return lo[k]; }
  return hi[k - 4u];
}

// Offsets of element `i` (row-major over `shape`) in two strided arrays a and b: Σ_k i_k·stride_k.
// `rank` is a specialisation constant at every call site, so the loop unrolls and each pick6 folds.
fn strided_offsets(i: u32, rank: u32, shape_lo: vec4<u32>, shape_hi: vec4<u32>,
                   a_lo: vec4<u32>, a_hi: vec4<u32>, b_lo: vec4<u32>, b_hi: vec4<u32>) -> vec2<u32> {
  var rest = i;
  var off = vec2<u32>(0u, 0u);
  for (var k = 0u; k + 1u < rank; k++) {
    let n = pick6(shape_lo, shape_hi, k);
    let c = rest % n;
    rest = rest / n;
    off += c * vec2<u32>(pick6(a_lo, a_hi, k), pick6(b_lo, b_hi, k));
  }
  // The outermost axis needs no modulo: what is left of i is its index.
  let last = rank - 1u;
  off += rest * vec2<u32>(pick6(a_lo, a_hi, last), pick6(b_lo, b_hi, last));
  return off;
}
