// Exclusive prefix sum over u32 values, first half: the sum of every chunk of IPT consecutive
// values, one invocation per chunk (scan_apply.wgsl then scans within the chunks, starting from the
// scanned chunk sums). No workgroup memory and no barriers: on CPU drivers (SwiftShader) barriers
// dominate such light kernels. u32 arithmetic, wrapping.
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup
const IPT: u32 = 64u;  // @param values per invocation

struct Params {
  n: u32,
  chunks: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> data: array<u32>;
@group(0) @binding(2) var<storage, read_write> sums: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let chunk = workgroup_linear(wid, nwg) * WG + lid;
  if (chunk >= p.chunks) { return; }
  let end = min(chunk * IPT + IPT, p.n);
  var s = 0u;
  for (var i = chunk * IPT; i < end; i = i + 1u) { s = s + data[i]; }
  sums[chunk] = s;
}
