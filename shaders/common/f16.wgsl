// float16 emulation for adapters without shader-f16: the nearest binary16 value of an f32, as an f32
// (round to nearest, ties to even; overflow to ±inf; subnormals kept). numpy's float16 arithmetic
// computes in float32 and rounds each result this way, so chaining f32 ops with round_f16 after
// each one reproduces it exactly whenever the f32 op itself is exact (as 1 − m and d·d are for
// float16 inputs). pack2x16float is not used because WGSL leaves its rounding to the implementation.
fn round_f16(x: f32) -> f32 {
  let bits = bitcast<u32>(x);
  let sign = bits & 0x80000000u;
  let a = bits & 0x7fffffffu;
  if (a >= 0x7f800000u) { return x; }                       // ±inf and NaN pass through
  if (a >= 0x477ff000u) { return bitcast<f32>(sign | 0x7f800000u); } // ≥ 65520 rounds to inf
  if (a >= 0x38800000u) {
    // Normal half (|x| ≥ 2^-14): keep 10 of the 23 mantissa bits. Adding 0xfff + lsb rounds the
    // dropped 13 bits to nearest, ties to even; a carry correctly bumps the exponent.
    let lsb = (a >> 13u) & 1u;
    return bitcast<f32>(sign | ((a + 0xfffu + lsb) & 0xffffe000u));
  }
  // Subnormal half: multiples of 2^-24. Scaling by 2^24 is exact and WGSL's round() is ties-to-even.
  let q = round(abs(x) * 16777216.0) * 5.9604644775390625e-8;
  return bitcast<f32>(sign | bitcast<u32>(q));
}
