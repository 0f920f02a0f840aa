// Batched 2-D transpose through workgroup memory (for real GPUs):
//   dst[(b·R + r)·C + c] = src[src_base + b·src_batch + r + c·src_col]
// i.e. the output's rows (r) are unit-stride in the source and its columns (c) are strided. A
// TILE×TILE block is read along r (coalesced), parked in workgroup memory, and written along c
// (coalesced). The +1 column of padding keeps the transposed reads free of bank conflicts.
// On SwiftShader barriers are coroutine switches; the host uses transpose_block.wgsl there.
// @include common/dispatch.wgsl

const TILE: u32 = 32u;  // @param tile edge; the workgroup is TILE × ROWS invocations
const ROWS: u32 = 8u;   // @param invocation rows; each invocation moves TILE/ROWS elements

struct Params {
  batch: u32,
  rows: u32,        // R
  cols: u32,        // C
  tiles_r: u32,     // ceil(R / TILE)
  tiles_c: u32,     // ceil(C / TILE)
  src_base: u32,
  src_batch: u32,   // source stride of b
  src_col: u32,     // source stride of c (r has stride 1)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

var<workgroup> tile: array<u32, TILE * (TILE + 1u)>;

@compute @workgroup_size(TILE, ROWS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  // The tile index depends on the workgroup only, so this early return is workgroup-uniform and
  // the barrier below stays in uniform control flow.
  let t = workgroup_linear(wid, nwg);
  let per_batch = p.tiles_r * p.tiles_c;
  if (t >= p.batch * per_batch) { return; }
  let b = t / per_batch;
  let rest = t - b * per_batch;
  let r0 = (rest / p.tiles_c) * TILE;
  let c0 = (rest % p.tiles_c) * TILE;
  let src_b = p.src_base + b * p.src_batch;

  for (var j = 0u; j < TILE; j += ROWS) {
    let r = r0 + lid.x;
    let c = c0 + lid.y + j;
    if (r < p.rows && c < p.cols) {
      tile[(lid.y + j) * (TILE + 1u) + lid.x] = src[src_b + r + c * p.src_col];
    }
  }
  workgroupBarrier();
  let dst_b = b * p.rows * p.cols;
  for (var j = 0u; j < TILE; j += ROWS) {
    let r = r0 + lid.y + j;
    let c = c0 + lid.x;
    if (r < p.rows && c < p.cols) {
      dst[dst_b + r * p.cols + c] = tile[lid.x * (TILE + 1u) + lid.y + j];
    }
  }
}
