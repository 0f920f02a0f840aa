// The 16-byte-word twin of strided_copy.wgsl: the same gather/scatter over vec4<u32> elements,
// dst[dst_base + Σ_k i_k·dst_stride_k] = src[src_base + Σ_k i_k·src_stride_k]. The host picks it
// when the innermost axis is unit-stride on both sides and every length, stride and base is a
// multiple of 4 words, and then passes all of them in units of 4 words (a quarter of the index
// arithmetic and one 16-byte access per invocation instead of four 4-byte ones).
// @include layout/strided_copy_main.wgsl

@group(0) @binding(1) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<u32>>;
