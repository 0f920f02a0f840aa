// Softmax, one workgroup per row: the invocations stride over the row and reduce through workgroup
// memory (log2(WG) barriers per reduction). The textbook variant for real GPUs and for few long rows;
// on SwiftShader every barrier switches coroutines, so it is slow there. Semantics: softmax/common.wgsl.
// @include common/dispatch.wgsl
// @include softmax/common.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup (a power of two)

var<workgroup> scratch: array<f32, WG>;

// Max (is_max) or sum of v over the workgroup; every invocation gets the result. Uniform control
// flow only.
fn workgroup_reduce(lid: u32, v: f32, is_max: bool) -> f32 {
  scratch[lid] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      let other = scratch[lid + stride];
      scratch[lid] = select(scratch[lid] + other, max(scratch[lid], other), is_max);
    }
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
  if (row >= p.rows) { return; } // the same for the whole workgroup: barriers stay uniform
  let chunk = 4u * WG;
  let main_end = p.cols - p.cols % chunk;

  var part_max = vec4<f32>(f32_neg_inf());
  for (var j = lid; j < main_end; j += chunk) { part_max = max(part_max, max_key4(logit4(row, j, WG))); }
  var own_max = max4(part_max);
  for (var j = main_end + lid; j < p.cols; j += WG) { own_max = max(own_max, max_key(logit(row, j))); }
  let row_max = workgroup_reduce(lid, own_max, true);

  var part_sum = vec4<f32>();
  for (var j = lid; j < main_end; j += chunk) { part_sum += store_exp4(row, j, WG, row_max); }
  var own_sum = sum4(part_sum);
  for (var j = main_end + lid; j < p.cols; j += WG) { own_sum += store_exp(row, j, row_max); }
  let k = 1.0 / workgroup_reduce(lid, own_sum, false);
  let finite = is_finite(row_max);

  let base = row * p.cols;
  for (var j = lid; j < main_end; j += chunk) { normalise4(base + j, WG, k, finite); }
  for (var j = main_end + lid; j < p.cols; j += WG) { normalise(base + j, k, finite); }
}
