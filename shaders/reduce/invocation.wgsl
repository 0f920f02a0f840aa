// Reduction, one invocation per output: no workgroup memory and no barriers. With inner > 1,
// neighbouring invocations read neighbouring elements; with inner = 1 each invocation walks its own
// row. Semantics: reduce/common.wgsl.
// @include common/dispatch.wgsl
// @include reduce/common.wgsl

const WG: u32 = 64u;  // @param invocations (outputs) per workgroup

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let n = workgroup_linear(wid, nwg) * WG + lid;
  if (n >= output_count()) { return; }
  let first = first_element(n);
  let main_end = p.len & ~3u; // whole groups of four; the rest is the tail
  if (EXTREME) {
    var best = NOTHING;
    for (var a = 0u; a < main_end; a += 4u) { best = consider4(best, load4(first, a, 1u), a, 1u); }
    for (var a = main_end; a < p.len; a++) { best = consider(best, x[first + a * p.inner], a); }
    store_extreme(n, best);
  } else {
    var total = 0.0;
    var part = vec4<f32>();
    for (var a0 = 0u; a0 < main_end; a0 += 4u * BLOCK) {
      var block_sum = vec4<f32>();
      for (var a = a0; a < min(a0 + 4u * BLOCK, main_end); a += 4u) { block_sum += sum_terms4(load4(first, a, 1u)); }
      part += block_sum;
    }
    total = (part.x + part.y) + (part.z + part.w);
    for (var a = main_end; a < p.len; a++) { total += sum_term(x[first + a * p.inner]); }
    store_sum(n, total);
  }
}
