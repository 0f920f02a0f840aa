// Softmax, one invocation per row: no workgroup memory and no barriers. The variant for many rows
// (SwiftShader; short rows on GPUs). Semantics: softmax/common.wgsl.
// @include common/dispatch.wgsl
// @include softmax/common.wgsl

const WG: u32 = 64u;  // @param invocations (rows) per workgroup

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = workgroup_linear(wid, nwg) * WG + lid;
  if (row >= p.rows) { return; }
  let main_end = p.cols & ~3u; // whole groups of four; the rest is the tail

  var part_max = vec4<f32>(f32_neg_inf());
  for (var j = 0u; j < main_end; j += 4u) { part_max = max(part_max, max_key4(logit4(row, j, 1u))); }
  var row_max = max4(part_max);
  for (var j = main_end; j < p.cols; j++) { row_max = max(row_max, max_key(logit(row, j))); }

  var part_sum = vec4<f32>();
  for (var j0 = 0u; j0 < main_end; j0 += 4u * BLOCK) {
    var block_sum = vec4<f32>();
    for (var j = j0; j < min(j0 + 4u * BLOCK, main_end); j += 4u) { block_sum += store_exp4(row, j, 1u, row_max); }
    part_sum += block_sum;
  }
  var sum = sum4(part_sum);
  for (var j = main_end; j < p.cols; j++) { sum += store_exp(row, j, row_max); }

  let k = 1.0 / sum;
  let finite = is_finite(row_max);
  let base = row * p.cols;
  for (var j = 0u; j < main_end; j += 4u) { normalise4(base + j, 1u, k, finite); }
  for (var j = main_end; j < p.cols; j++) { normalise(base + j, k, finite); }
}
