// out[i, :] = table[indices[i], :] for a table of `rows` rows of `row_len` words. An index outside
// 0..rows-1 yields a row of zeros and reads nothing out of bounds (a kernel cannot throw; the host
// validates indices it knows). i32 indices are read as u32: a negative i32 becomes ≥ 2^31, which is
// out of range for every table, so the same kernel serves both index types.
// Elements are moved as raw 32-bit words (f32, i32, u32 tables alike).
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup

struct Params {
  count: u32,    // number of indices × row_len
  row_len: u32,
  rows: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> indices: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_linear(wid, nwg) * WG + lid;
  if (i >= p.count) { return; }
  let n = i / p.row_len;
  let c = i - n * p.row_len;
  let row = indices[n];
  var v = 0u;
  // The bounds test comes first so that row · row_len is never formed for a bad index.
  if (row < p.rows) { v = table[row * p.row_len + c]; }
  out[i] = v;
}
