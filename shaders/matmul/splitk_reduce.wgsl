// Second pass of split-K: C[i] = epilogue(Σ_s partial[s · count + i]) for i < count = batch·M·N.
// The first pass (matmul/register.wgsl or matmul/tiled.wgsl with several k slices and the identity
// epilogue) wrote one full C-shaped block of partial sums per slice. Adding them here in a fixed
// order keeps the result deterministic (no float atomics).
// @include matmul/epilogue.wgsl
// @include common/dispatch.wgsl

const WG: u32 = 256u;          // @param invocations per workgroup
const HAS_BIAS: bool = false;  // @param add bias[n]
const ACT: u32 = 0u;           // @param activation code (common/activation.wgsl)
const RESIDUAL: u32 = 0u;      // @param 0 none, 1 add `residual`, 2 add the old `c` (in place)

struct Params {
  count: u32,
  n: u32,
  splits: u32,
  alpha: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> residual: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = workgroup_linear(wid, nwg) * WG + li;
  if (i >= p.count) { return; }
  var sum = 0.0;
  for (var s = 0u; s < p.splits; s++) { sum = sum + partial[s * p.count + i]; }
  c[i] = epilogue(sum, i % p.n, i);
}
