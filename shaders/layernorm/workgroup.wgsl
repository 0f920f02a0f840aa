// LayerNorm, one workgroup per row: the invocations stride over the row and reduce through
// workgroup memory (a tree, log2(WG) barriers per reduction). The textbook variant for real GPUs and
// for few long rows; on SwiftShader every barrier switches coroutines, so it is slow there.
// Semantics and statistics: layernorm/common.wgsl.
// @include common/dispatch.wgsl
// @include layernorm/common.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup (a power of two)

var<workgroup> scratch: array<vec2<f32>, WG>;

// Sum of v over the workgroup; every invocation gets the result. Must run in uniform control flow.
fn workgroup_sum(lid: u32, v: vec2<f32>) -> vec2<f32> {
  scratch[lid] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { scratch[lid] += scratch[lid + stride]; }
    workgroupBarrier();
  }
  let total = scratch[0];
  workgroupBarrier(); // scratch is reused by the next reduction
  return total;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = workgroup_linear(wid, nwg);
  // The grid can hold a few workgroups past the last row (grid1d folding); the condition is the same
  // for the whole workgroup, so returning keeps the barriers below in uniform control flow.
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  let chunk = 4u * WG;
  let main_end = p.cols - p.cols % chunk;
  let shift = load_h(base);

  var part = vec4<f32>();
  for (var j = lid; j < main_end; j += chunk) { part += load_h4_first_pass(base + j, WG) - shift; }
  var part_sum = sum4(part);
  for (var j = main_end + lid; j < p.cols; j += WG) { part_sum += load_h_first_pass(base + j) - shift; }
  let m1 = workgroup_sum(lid, vec2<f32>(part_sum, 0.0)).x / f32(p.cols);

  var part_d = vec4<f32>();
  var part_dd = vec4<f32>();
  for (var j = lid; j < main_end; j += chunk) {
    let d = (load_h4(base + j, WG) - shift) - m1;
    part_d += d;
    part_dd += d * d;
  }
  var sums = vec2<f32>(sum4(part_d), sum4(part_dd));
  for (var j = main_end + lid; j < p.cols; j += WG) {
    let d = (load_h(base + j) - shift) - m1;
    sums += vec2<f32>(d, d * d);
  }
  sums = workgroup_sum(lid, sums);
  let st = finish_stats(m1, sums.x, sums.y);

  for (var j = lid; j < main_end; j += chunk) { store_y4(base + j, j, WG, (load_h4(base + j, WG) - shift) - st.x, st.y); }
  for (var j = main_end + lid; j < p.cols; j += WG) { store_y(base + j, j, (load_h(base + j) - shift) - st.x, st.y); }
  if (lid == 0u) { store_stats(row, shift, st.x, st.y); }
}
