// Symmetrised propagation without forming S (docs/algorithms.md §3.5, §8 item 10):
//   u[k, i] = ½ Σ_j (t[i, j] + t[j, i]) · v[k, j]      i.e. U = V Sᵀ = V S with S = (T + Tᵀ)/2
// for a row-major [n, n] matrix t and K right-hand sides v [K, n] → u [K, n].
// One invocation per (row i, group of 4 right-hand sides): it reads row i and column i of t once and
// reuses each pair for its 4 right-hand sides (vec4 accumulators, no workgroup memory, no barriers).
// Right-hand sides past K in the last group read a clamped row and are not written.
// @include common/dispatch.wgsl

const WG: u32 = 64u; // @param invocations per workgroup

struct Params {
  n: u32,
  k: u32,
  groups: u32, // ceil(k / 4)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> t: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> u: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = workgroup_linear(wid, nwg) * WG + lid;
  if (g >= p.n * p.groups) { return; }
  let i = g % p.n;
  let k0 = (g / p.n) * 4u;
  let last = p.k - 1u;
  let r0 = min(k0, last) * p.n;
  let r1 = min(k0 + 1u, last) * p.n;
  let r2 = min(k0 + 2u, last) * p.n;
  let r3 = min(k0 + 3u, last) * p.n;
  let row = i * p.n;
  var acc = vec4<f32>(0.0);
  for (var j = 0u; j < p.n; j++) {
    let s = t[row + j] + t[j * p.n + i];
    acc += s * vec4<f32>(v[r0 + j], v[r1 + j], v[r2 + j], v[r3 + j]);
  }
  acc = 0.5 * acc;
  u[k0 * p.n + i] = acc.x;
  if (k0 + 1u < p.k) { u[(k0 + 1u) * p.n + i] = acc.y; }
  if (k0 + 2u < p.k) { u[(k0 + 2u) * p.n + i] = acc.z; }
  if (k0 + 3u < p.k) { u[(k0 + 3u) * p.n + i] = acc.w; }
}
