// dst[dst_base + Σ_k i_k·dst_stride_k] = src[src_base + Σ_k i_k·src_stride_k] for every index
// (i_0 … i_{RANK-1}) of `shape`: the one gather/scatter behind permute, slice, concat and copy.
// Elements are moved as raw 32-bit words, so f32, i32 and u32 tensors share the kernel.
// @include layout/strided_copy_main.wgsl

@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;
