// Batched 2-D transpose without workgroup memory (for SwiftShader, where barriers are coroutine
// switches): each invocation moves a BLOCK×BLOCK block through registers,
//   dst[(b·R + r)·C + c] = src[src_base + b·src_batch + r + c·src_col],
// reading BLOCK unit-stride runs along r and writing BLOCK unit-stride runs along c.
// @include common/dispatch.wgsl

const BLOCK: u32 = 4u;  // @param block edge
const WG: u32 = 64u;    // @param invocations per workgroup

struct Params {
  batch: u32,
  rows: u32,        // R
  cols: u32,        // C
  blocks_r: u32,    // ceil(R / BLOCK)
  blocks_c: u32,    // ceil(C / BLOCK)
  src_base: u32,
  src_batch: u32,   // source stride of b
  src_col: u32,     // source stride of c (r has stride 1)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = workgroup_linear(wid, nwg) * WG + lid;
  let per_batch = p.blocks_r * p.blocks_c;
  if (t >= p.batch * per_batch) { return; }
  let b = t / per_batch;
  let rest = t - b * per_batch;
  // Consecutive invocations take consecutive blocks along r, so their reads are adjacent.
  let r0 = (rest % p.blocks_r) * BLOCK;
  let c0 = (rest / p.blocks_r) * BLOCK;
  let src_b = p.src_base + b * p.src_batch;
  var v: array<u32, BLOCK * BLOCK>;
  for (var jc = 0u; jc < BLOCK; jc++) {
    let c = c0 + jc;
    for (var jr = 0u; jr < BLOCK; jr++) {
      let r = r0 + jr;
      if (r < p.rows && c < p.cols) { v[jc * BLOCK + jr] = src[src_b + r + c * p.src_col]; }
    }
  }
  let dst_b = b * p.rows * p.cols;
  for (var jr = 0u; jr < BLOCK; jr++) {
    let r = r0 + jr;
    for (var jc = 0u; jc < BLOCK; jc++) {
      let c = c0 + jc;
      if (r < p.rows && c < p.cols) { dst[dst_b + r * p.cols + c] = v[jc * BLOCK + jr]; }
    }
  }
}
