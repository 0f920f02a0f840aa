// The 16-byte-word twin of strided_copy.wgsl: the same gather/scatter over vec4<u32> elements,
// dst[dst_base + Σ_k i_k·dst_stride_k] = src[src_base + Σ_k i_k·src_stride_k]. The host picks it
// when the innermost axis is unit-stride on both sides and every length, stride and base is a
// multiple of 4 words, and then passes all of them in units of 4 words (a quarter of the index
// arithmetic and one 16-byte access per invocation instead of four 4-byte ones).
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
@group(0) @binding(1) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<u32>>;

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
