// LayerNorm, one subgroup per row: the lanes stride over the row and combine with subgroupAdd: no
// barriers and no workgroup memory. A workgroup owns ROWS rows and its subgroups take them in turn,
// so the host's grid does not depend on the subgroup size. Assumes, as every driver does, that a
// 1-D workgroup's subgroups are runs of consecutive local invocation indices.
// Semantics and statistics: layernorm/common.wgsl.
enable subgroups;
// @include common/dispatch.wgsl
// @include layernorm/common.wgsl

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
  // The row loop has a uniform bound, so every subgroupAdd runs in uniform control flow. A subgroup
  // past the last row gets an empty row (cols 0): it loads and stores nothing.
  for (var k0 = 0u; k0 < ROWS; k0 += subgroups) {
    let k = k0 + sg_id;
    let valid = k < ROWS && first_row + k < p.rows;
    let row = select(0u, first_row + k, valid);
    let cols = select(0u, p.cols, valid);
    let main_end = cols - cols % chunk;
    let base = row * p.cols;
    var shift = 0.0;
    if (valid) { shift = load_h(base); }

    var part = vec4<f32>();
    for (var j0 = lane; j0 < main_end; j0 += BLOCK * chunk) {
      var block_sum = vec4<f32>();
      for (var j = j0; j < min(j0 + BLOCK * chunk, main_end); j += chunk) { block_sum += load_h4_first_pass(base + j, lanes) - shift; }
      part += block_sum;
    }
    var part_sum = sum4(part);
    for (var j = main_end + lane; j < cols; j += lanes) { part_sum += load_h_first_pass(base + j) - shift; }
    let m1 = subgroupAdd(part_sum) / f32(p.cols);

    var part_d = vec4<f32>();
    var part_dd = vec4<f32>();
    for (var j0 = lane; j0 < main_end; j0 += BLOCK * chunk) {
      var block_d = vec4<f32>();
      var block_dd = vec4<f32>();
      for (var j = j0; j < min(j0 + BLOCK * chunk, main_end); j += chunk) {
        let d = (load_h4(base + j, lanes) - shift) - m1;
        block_d += d;
        block_dd += d * d;
      }
      part_d += block_d;
      part_dd += block_dd;
    }
    var sums = vec2<f32>(sum4(part_d), sum4(part_dd));
    for (var j = main_end + lane; j < cols; j += lanes) {
      let d = (load_h(base + j) - shift) - m1;
      sums += vec2<f32>(d, d * d);
    }
    sums = subgroupAdd(sums);
    let st = finish_stats(m1, sums.x, sums.y);

    for (var j = lane; j < main_end; j += chunk) { store_y4(base + j, j, lanes, (load_h4(base + j, lanes) - shift) - st.x, st.y); }
    for (var j = main_end + lane; j < cols; j += lanes) { store_y(base + j, j, (load_h(base + j) - shift) - st.x, st.y); }
    if (valid && lane == 0u) { store_stats(row, shift, st.x, st.y); }
  }
}
