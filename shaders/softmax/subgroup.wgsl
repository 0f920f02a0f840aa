// Softmax, one subgroup per row: the lanes stride over the row and combine with subgroupMax and
// subgroupAdd: no barriers, no workgroup memory. A workgroup owns ROWS rows and its subgroups take
// them in turn (the grid does not depend on the subgroup size). Assumes, as every driver does, that
// a 1-D workgroup's subgroups are runs of consecutive local invocation indices.
// Semantics: softmax/common.wgsl.
enable subgroups;
// @include common/dispatch.wgsl
// @include softmax/common.wgsl

const WG: u32 = 64u;    // @param invocations per workgroup
const ROWS: u32 = 16u;  // @param rows per workgroup

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_size) sg_size: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let lanes = min(sg_size, WG); // a subgroup may be larger than the workgroup
  let subgroups = max(WG / sg_size, 1u);
  let sg_id = lid / sg_size;
  let first_row = workgroup_linear(wid, nwg) * ROWS;
  let chunk = 4u * lanes;
  // The row loop has a uniform bound, so every subgroup operation runs in uniform control flow. A
  // subgroup past the last row gets an empty row (cols 0): it loads and stores nothing.
  for (var k0 = 0u; k0 < ROWS; k0 += subgroups) {
    let k = k0 + sg_id;
    let valid = k < ROWS && first_row + k < p.rows;
    let row = select(0u, first_row + k, valid);
    let cols = select(0u, p.cols, valid);
    let main_end = cols - cols % chunk;

    var part_max = vec4<f32>(f32_neg_inf());
    for (var j = lane; j < main_end; j += chunk) { part_max = max(part_max, max_key4(logit4(row, j, lanes))); }
    var lane_max = max4(part_max);
    for (var j = main_end + lane; j < cols; j += lanes) { lane_max = max(lane_max, max_key(logit(row, j))); }
    let row_max = subgroupMax(lane_max);

    var part_sum = vec4<f32>();
    for (var j0 = lane; j0 < main_end; j0 += BLOCK * chunk) {
      var block_sum = vec4<f32>();
      for (var j = j0; j < min(j0 + BLOCK * chunk, main_end); j += chunk) { block_sum += store_exp4(row, j, lanes, row_max); }
      part_sum += block_sum;
    }
    var lane_sum = sum4(part_sum);
    for (var j = main_end + lane; j < cols; j += lanes) { lane_sum += store_exp(row, j, row_max); }
    let k_norm = 1.0 / subgroupAdd(lane_sum);
    let finite = is_finite(row_max);

    let base = row * p.cols;
    for (var j = lane; j < main_end; j += chunk) { normalise4(base + j, lanes, k_norm, finite); }
    for (var j = main_end + lane; j < cols; j += lanes) { normalise(base + j, k_norm, finite); }
  }
}
