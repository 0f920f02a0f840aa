// The body shared by strided_copy.wgsl (u32 words) and strided_copy4.wgsl (vec4<u32> words):
// parameters, uniforms and the copy loop. The including file declares the `src` and `dst`
// bindings (@binding 1 and 2), whose element type is all that differs between the two.
// @include common/dispatch.wgsl
// @include common/strided.wgsl

const RANK: u32 = 1u;          // @param axes of the merged index space, 1..6
const DST_DENSE: bool = true;  // @param dst is contiguous in index order (dst_lo/hi are then unused)
const WG: u32 = 256u;          // @param invocations per workgroup
const PER: u32 = 1u;           // @param consecutive elements per invocation (>1 helps CPU drivers)

struct Params {
  count: u32,
  src_base: u32,
  dst_base: u32,
  shape_lo: vec4<u32>,
  shape_hi: vec4<u32>,
  src_lo: vec4<u32>,
  src_hi: vec4<u32>,
  dst_lo: vec4<u32>,
  dst_hi: vec4<u32>,
}

@group(0) @binding(0) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  var i = (workgroup_linear(wid, nwg) * WG + lid) * PER;
  if (i >= p.count) { return; }
  var off = strided_offsets(i, RANK, p.shape_lo, p.shape_hi, p.src_lo, p.src_hi, p.dst_lo, p.dst_hi);
  if (PER == 1u) {
    var d = p.dst_base + off.y;
    if (DST_DENSE) { d = p.dst_base + i; }
    dst[d] = src[p.src_base + off.x];
    return;
  }
  // Walk PER consecutive elements: step along the innermost axis, and recompute the offsets
  // only when that axis wraps.
  var c = i % p.shape_lo.x;
  for (var j = 0u; j < PER; j++) {
    var d = p.dst_base + off.y;
    if (DST_DENSE) { d = p.dst_base + i; }
    dst[d] = src[p.src_base + off.x];
    i++;
    if (i >= p.count) { return; }
    c++;
    if (c == p.shape_lo.x) {
      c = 0u;
      off = strided_offsets(i, RANK, p.shape_lo, p.shape_hi, p.src_lo, p.src_hi, p.dst_lo, p.dst_hi);
    } else {
      off += vec2<u32>(p.src_lo.x, p.dst_lo.x);
    }
  }
}
