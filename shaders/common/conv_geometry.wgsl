// Index arithmetic of a 2-D convolution along one axis (the height and width axes are handled
// alike), for the kernels that walk the convolution backwards (shaders/train/conv2d_backward_*).
// An output index o and tap k read the input index i = o·stride − pad + k·dilation.

// The output indices [first, end) whose tap k reads inside the input,
// 0 ≤ o·stride − pad + k·dilation < n_in, clipped to 0 ≤ o < n_out (first = end when there are none).
fn conv_tap_range(k: u32, stride: u32, pad: u32, dilation: u32, n_in: u32, n_out: u32) -> vec2<u32> {
  let shift = i32(pad) - i32(k * dilation);   // o·stride ≥ shift
  let s = i32(stride);
  let first = select(0, (shift + s - 1) / s, shift > 0);
  let top = i32(n_in) - 1 + shift;            // o·stride ≤ top
  if (top < 0) { return vec2<u32>(0u, 0u); }
  let end = min(top / s + 1, i32(n_out));
  return vec2<u32>(u32(first), u32(max(end, first)));
}

// The taps k < n_k that reach an output index from the input indices of one phase,
// i = phase + j·stride (0 ≤ phase < stride): tap k does exactly when phase + pad − k·dilation is a
// multiple of the stride, so they are k = first + m·step for m < count, with step = stride /
// gcd(stride, dilation) (the caller's). From i, tap first + m·step reaches the output index
// o = j + offset − m·(step·dilation / stride). Returns (first, count, offset); count = 0 when no tap
// reaches the phase. The caller still tests 0 ≤ o < n_out.
fn conv_phase_taps(phase: u32, stride: u32, pad: u32, dilation: u32, n_k: u32, step: u32) -> vec3<i32> {
  let s = i32(stride);
  for (var k = 0u; k < min(step, n_k); k++) {
    let t = i32(phase + pad) - i32(k * dilation);
    // WGSL's % truncates towards zero: t % s is 0 for the multiples of s of either sign.
    if (t % s == 0) {
      return vec3<i32>(i32(k), i32((n_k - k + step - 1u) / step), t / s);
    }
  }
  return vec3<i32>(0, 0, 0);
}

// The number of input indices i < n in phase `phase` (i = phase + j·stride).
fn conv_phase_size(phase: u32, stride: u32, n: u32) -> u32 {
  return select(0u, (n - phase + stride - 1u) / stride, phase < n);
}
