// v^e for the exponents of the WSSS kernels (τ of the label maps, psa's α and β): an integer
// exponent (the host passes it as e_int in 1..64, else 0) by binary powering in f32, which for e ≤ 4
// is a single rounding and so equals the correctly rounded powf; any other exponent by pow(), with
// v ≤ 0 giving 0 because WGSL leaves pow undefined there.
fn int_or_real_power(v: f32, e_int: u32, e: f32) -> f32 {
  if (e_int > 0u) {
    var result = 1.0;
    var base = v;
    var k = e_int;
    loop {
      if ((k & 1u) == 1u) { result = result * base; }
      k = k >> 1u;
      if (k == 0u) { break; }
      base = base * base;
    }
    return result;
  }
  if (v <= 0.0) { return 0.0; }
  return pow(v, e);
}
