// Reduction, one subgroup per output: the lanes stride over the axis and combine with subgroup
// operations: no barriers, no workgroup memory. A workgroup owns ROWS outputs and its subgroups take
// them in turn (the grid does not depend on the subgroup size). Assumes, as every driver does, that
// a 1-D workgroup's subgroups are runs of consecutive local invocation indices.
// Semantics: reduce/common.wgsl.
enable subgroups;
// @include common/dispatch.wgsl
// @include reduce/common.wgsl

const WG: u32 = 64u;    // @param invocations per workgroup
const ROWS: u32 = 16u;  // @param outputs per workgroup

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_size) sg_size: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let lanes = min(sg_size, WG); // a subgroup may be larger than the workgroup
  let subgroups = max(WG / sg_size, 1u);
  let sg_id = lid / sg_size;
  let first_n = workgroup_linear(wid, nwg) * ROWS;
  let chunk = 4u * lanes;
  // The output loop has a uniform bound, so every subgroup operation runs in uniform control flow.
  // A subgroup past the last output gets an empty axis: it loads and stores nothing.
  for (var k0 = 0u; k0 < ROWS; k0 += subgroups) {
    let k = k0 + sg_id;
    let valid = k < ROWS && first_n + k < output_count();
    let n = select(0u, first_n + k, valid);
    let len = select(0u, p.len, valid);
    let main_end = len - len % chunk;
    let first = first_element(n);
    if (EXTREME) {
      var best = NOTHING;
      for (var a = lane; a < main_end; a += chunk) { best = consider4(best, load4(first, a, lanes), a, lanes); }
      for (var a = main_end + lane; a < len; a += lanes) { best = consider(best, x[first + a * p.inner], a); }
      // Combine the lanes: the first NaN if any lane holds one, else the first index of the max.
      let has = best.at != NO_INDEX;
      let lane_nan = has && f32_is_nan(best.k);
      let any_nan = subgroupAny(lane_nan);
      let top = subgroupMax(select(f32_neg_inf(), best.k, has && !lane_nan));
      let candidate = select(has && best.k == top, lane_nan, any_nan);
      let at = subgroupMin(select(NO_INDEX, best.at, candidate));
      if (valid && lane == 0u) { store_extreme(n, Best(select(top, f32_nan(), any_nan), at)); }
    } else {
      var part = vec4<f32>();
      for (var a0 = lane; a0 < main_end; a0 += BLOCK * chunk) {
        var block_sum = vec4<f32>();
        for (var a = a0; a < min(a0 + BLOCK * chunk, main_end); a += chunk) { block_sum += sum_terms4(load4(first, a, lanes)); }
        part += block_sum;
      }
      var lane_total = (part.x + part.y) + (part.z + part.w);
      for (var a = main_end + lane; a < len; a += lanes) { lane_total += sum_term(x[first + a * p.inner]); }
      let total = subgroupAdd(lane_total);
      if (valid && lane == 0u) { store_sum(n, total); }
    }
  }
}
