// LayerNorm, one invocation per row: no workgroup memory and no barriers. The variant for many rows
// (SwiftShader; short rows on GPUs). Semantics and statistics: layernorm/common.wgsl.
// @include common/dispatch.wgsl
// @include layernorm/common.wgsl

const WG: u32 = 64u;  // @param invocations (rows) per workgroup

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = workgroup_linear(wid, nwg) * WG + lid;
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  let main_end = p.cols & ~3u; // whole groups of four; the rest is the tail
  let shift = load_h(base);

  var part = vec4<f32>();
  for (var j0 = 0u; j0 < main_end; j0 += 4u * BLOCK) {
    var block_sum = vec4<f32>();
    for (var j = j0; j < min(j0 + 4u * BLOCK, main_end); j += 4u) { block_sum += load_h4_first_pass(base + j, 1u) - shift; }
    part += block_sum;
  }
  var sum_shifted = sum4(part);
  for (var j = main_end; j < p.cols; j++) { sum_shifted += load_h_first_pass(base + j) - shift; }
  let m1 = sum_shifted / f32(p.cols);

  var part_d = vec4<f32>();
  var part_dd = vec4<f32>();
  for (var j0 = 0u; j0 < main_end; j0 += 4u * BLOCK) {
    var block_d = vec4<f32>();
    var block_dd = vec4<f32>();
    for (var j = j0; j < min(j0 + 4u * BLOCK, main_end); j += 4u) {
      let d = (load_h4(base + j, 1u) - shift) - m1;
      block_d += d;
      block_dd += d * d;
    }
    part_d += block_d;
    part_dd += block_dd;
  }
  var sum_d = sum4(part_d);
  var sum_dd = sum4(part_dd);
  for (var j = main_end; j < p.cols; j++) {
    let d = (load_h(base + j) - shift) - m1;
    sum_d += d;
    sum_dd += d * d;
  }
  let st = finish_stats(m1, sum_d, sum_dd);

  for (var j = 0u; j < main_end; j += 4u) { store_y4(base + j, j, 1u, (load_h4(base + j, 1u) - shift) - st.x, st.y); }
  for (var j = main_end; j < p.cols; j++) { store_y(base + j, j, (load_h(base + j) - shift) - st.x, st.y); }
  store_stats(row, shift, st.x, st.y);
}
