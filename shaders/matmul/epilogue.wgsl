// The matmul epilogue, shared by every variant that writes C:
//   C = act(alpha · acc + bias[n]) + residual[b, m, n]
// The including kernel declares the names used here: the constants HAS_BIAS (bool), ACT (u32,
// code from common/activation.wgsl) and RESIDUAL (u32: 0 none, 1 the `residual` binding, 2 the
// old contents of `c`, i.e. an in-place `c += ...`), the uniform `p.alpha`, and the bindings
// `bias`, `residual`, `c`. Dead branches fold away because they test constants.
// @include common/activation.wgsl

// `at` is the element index into C (and the residual, which has C's shape); `col` is n.
fn epilogue(acc: f32, col: u32, at: u32) -> f32 {
  var v = p.alpha * acc;
  if (HAS_BIAS) { v = v + bias[col]; }
  v = activate(ACT, v);
  if (RESIDUAL == 1u) { v = v + residual[at]; }
  if (RESIDUAL == 2u) { v = v + c[at]; }
  return v;
}
