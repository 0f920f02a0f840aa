// Reduction, one workgroup per output: the invocations stride over the axis and combine through
// workgroup memory (log2(WG) barriers). The textbook variant for real GPUs and few long axes; on
// SwiftShader every barrier switches coroutines, so it is slow there. Semantics: reduce/common.wgsl.
// @include common/dispatch.wgsl
// @include reduce/common.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup (a power of two)

var<workgroup> scratch_k: array<f32, WG>;
var<workgroup> scratch_at: array<u32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let n = workgroup_linear(wid, nwg);
  if (n >= output_count()) { return; } // the same for the whole workgroup: barriers stay uniform
  let first = first_element(n);
  let chunk = 4u * WG;
  let main_end = p.len - p.len % chunk;
  if (EXTREME) {
    var best = NOTHING;
    for (var a = lid; a < main_end; a += chunk) { best = consider4(best, load4(first, a, WG), a, WG); }
    for (var a = main_end + lid; a < p.len; a += WG) { best = consider(best, x[first + a * p.inner], a); }
    scratch_k[lid] = best.k;
    scratch_at[lid] = best.at;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
      if (lid < stride) {
        let mine = Best(scratch_k[lid], scratch_at[lid]);
        if (beats(scratch_k[lid + stride], scratch_at[lid + stride], mine)) {
          scratch_k[lid] = scratch_k[lid + stride];
          scratch_at[lid] = scratch_at[lid + stride];
        }
      }
      workgroupBarrier();
    }
    if (lid == 0u) { store_extreme(n, Best(scratch_k[0], scratch_at[0])); }
  } else {
    var part = vec4<f32>();
    for (var a = lid; a < main_end; a += chunk) { part += sum_terms4(load4(first, a, WG)); }
    var own = (part.x + part.y) + (part.z + part.w);
    for (var a = main_end + lid; a < p.len; a += WG) { own += sum_term(x[first + a * p.inner]); }
    scratch_k[lid] = own;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
      if (lid < stride) { scratch_k[lid] += scratch_k[lid + stride]; }
      workgroupBarrier();
    }
    if (lid == 0u) { store_sum(n, scratch_k[0]); }
  }
}
