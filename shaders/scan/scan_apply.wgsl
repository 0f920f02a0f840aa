// Exclusive prefix sum over u32 values, in place, second half: each invocation scans its chunk of
// IPT consecutive values serially, starting (with OFFSETS) from its entry of the already scanned
// chunk sums of scan_reduce.wgsl. Without OFFSETS there is one chunk. u32, wrapping.
// @include common/dispatch.wgsl

const WG: u32 = 256u;       // @param invocations per workgroup
const IPT: u32 = 64u;       // @param values per invocation
const OFFSETS: bool = true; // @param start from the scanned chunk sums (more than one chunk)

struct Params {
  n: u32,
  chunks: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> data: array<u32>;
@group(0) @binding(2) var<storage, read> offsets: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let chunk = workgroup_linear(wid, nwg) * WG + lid;
  if (chunk >= p.chunks) { return; }
  let end = min(chunk * IPT + IPT, p.n);
  var run = 0u;
  if (OFFSETS) { run = offsets[chunk]; }
  for (var i = chunk * IPT; i < end; i = i + 1u) {
    let v = data[i];
    data[i] = run;
    run = run + v;
  }
}
