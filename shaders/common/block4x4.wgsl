// The 4×4 register sub-block step of the register-blocked GEMMs (matmul/register.wgsl,
// conv/conv2d.wgsl, train/conv2d_backward_{input,weight}.wgsl): C held in mat4x4 values, updated
// four k at a time. The including kernel declares the constant FUSED (bool): accumulate with
// fma(), or with a matrix product (SwiftShader emulates fma, 2–4× slower).

// One 4×4 sub-block of C over 4 k: acc[r][c] += Σ_t at[r][t] · bt[c][t], where at[r] holds
// op(A)[row r, k..k+3] and bt[c] holds op(B)[k..k+3, column c].
fn update(acc: mat4x4<f32>, at: mat4x4<f32>, bt: mat4x4<f32>) -> mat4x4<f32> {
  if (FUSED) {
    var r = acc;
    for (var t = 0u; t < 4u; t++) {
      let bk = vec4<f32>(bt[0][t], bt[1][t], bt[2][t], bt[3][t]);
      r[0] = fma(vec4<f32>(at[0][t]), bk, r[0]);
      r[1] = fma(vec4<f32>(at[1][t]), bk, r[1]);
      r[2] = fma(vec4<f32>(at[2][t]), bk, r[2]);
      r[3] = fma(vec4<f32>(at[3][t]), bk, r[3]);
    }
    return r;
  }
  // WGSL matrices are column-major: (transpose(bt) · at)[r][c] = Σ_t bt[c][t] · at[r][t].
  return acc + transpose(bt) * at;
}
