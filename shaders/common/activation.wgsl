// Activation functions shared by elementwise kernels and matmul epilogues.
// Codes (keep in sync with src/kernels/activation.ts):
//   0 none, 1 relu, 2 gelu (erf form, as torch.nn.GELU()), 3 quickgelu x·σ(1.702x) (CLIP),
//   4 sigmoid, 5 tanh, 6 exp, 7 neg, 8 abs, 9 sqrt, 10 rsqrt, 11 log, 12 square

// erfc by the Chebyshev fit from Numerical Recipes (fractional error < 1.2e-7 everywhere), so
// that GELU keeps f32 relative accuracy also for negative inputs, where 1 + erf(x) cancels.
fn erfc_f32(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let p = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
          t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let r = t * exp(p);
  return select(2.0 - r, r, x >= 0.0);
}

fn sigmoid_f32(x: f32) -> f32 {
  // exp of a non-positive number never overflows.
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

fn activate(code: u32, x: f32) -> f32 {
  switch code {
    case 1u: { return max(x, 0.0); }
    case 2u: { return 0.5 * x * erfc_f32(-x * 0.70710678118654752); }
    case 3u: { return x * sigmoid_f32(1.702 * x); }
    case 4u: { return sigmoid_f32(x); }
    case 5u: { return tanh(clamp(x, -15.0, 15.0)); }
    case 6u: { return exp(x); }
    case 7u: { return -x; }
    case 8u: { return abs(x); }
    case 9u: { return sqrt(x); }
    case 10u: { return inverseSqrt(x); }
    case 11u: { return log(x); }
    case 12u: { return x * x; }
    default: { return x; }
  }
}
