// One mean-field update of the dense CRF (docs/algorithms.md §3.6, densecrf's DenseCRF::inference):
//   acc = −U + w_g · nrm_g ⊙ slice_g + w_b · nrm_b ⊙ slice_b;   Q = softmax over the C labels (acc)
// (Potts compatibility gives −w·msg, which inference subtracts). slice_k gathers kernel k's blurred
// lattice (values_g, values_b: see crf_blur) at the pixel's simplex vertices, given as (slot, bits of
// the weight), the weight already holding barycentric · 1/(1 + 2^−d) · w_k · nrm_k[i] (crf_norm). Without MESSAGES it computes
// the initial Q = softmax(−U). Q is pixel-major vec4 chunks [N, chunks] (padding lanes 0); with
// PLANAR it is also written planar [C, N], the layout returned to callers. One invocation per pixel;
// max-subtracted. With one chunk (C ≤ 4, the common case) the softmax stays in registers; otherwise
// the logits are parked in q between passes (a loop-indexed private array would live in memory
// anyway on CPU-backed adapters).
// @include common/dispatch.wgsl

const WG: u32 = 256u;          // @param invocations per workgroup
const MESSAGES: bool = true;  // @param false: Q = softmax(−U), the initialisation
const PLANAR: bool = false;   // @param also write q_planar [C, N] (the last update)

const LOWEST: f32 = -3.402823e+38;

struct Params {
  pixels: u32,
  channels: u32,
  chunks: u32,
  gaussian_vertices: u32,
  bilateral_vertices: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> unary: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> values_g: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> values_b: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> slice_vertex: array<vec2<u32>>;
@group(0) @binding(5) var<storage, read_write> q: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> q_planar: array<f32>;

// Which lanes of chunk k are real labels.
fn lanes(k: u32) -> vec4<bool> {
  return (vec4<u32>(4u * k) + vec4<u32>(0u, 1u, 2u, 3u)) < vec4<u32>(p.channels);
}

// −U plus both kernels' messages for chunk k of pixel i.
fn logits(i: u32, k: u32) -> vec4<f32> {
  var acc = -unary[i * p.chunks + k];
  if (MESSAGES) {
    let per_pixel = p.gaussian_vertices + p.bilateral_vertices;
    let base = i * per_pixel;
    for (var v = 0u; v < p.gaussian_vertices; v = v + 1u) {
      let vertex = slice_vertex[base + v];
      acc = acc + bitcast<f32>(vertex.y) * values_g[vertex.x * p.chunks + k];
    }
    for (var v = p.gaussian_vertices; v < per_pixel; v = v + 1u) {
      let vertex = slice_vertex[base + v];
      acc = acc + bitcast<f32>(vertex.y) * values_b[vertex.x * p.chunks + k];
    }
  }
  return acc;
}

fn hmax(v: vec4<f32>) -> f32 {
  return max(max(v.x, v.y), max(v.z, v.w));
}

fn store(i: u32, k: u32, y: vec4<f32>) {
  q[i * p.chunks + k] = y;
  if (PLANAR) {
    let c = 4u * k;
    q_planar[c * p.pixels + i] = y.x;
    if (c + 1u < p.channels) { q_planar[(c + 1u) * p.pixels + i] = y.y; }
    if (c + 2u < p.channels) { q_planar[(c + 2u) * p.pixels + i] = y.z; }
    if (c + 3u < p.channels) { q_planar[(c + 3u) * p.pixels + i] = y.w; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_linear(wid, nwg) * WG + lid;
  if (i >= p.pixels) { return; }

  if (p.chunks == 1u) {
    let real = lanes(0u);
    let acc = logits(i, 0u);
    let mx = hmax(select(vec4<f32>(LOWEST), acc, real));
    let e = select(vec4<f32>(0.0), exp(acc - mx), real);
    store(i, 0u, e / ((e.x + e.y) + (e.z + e.w)));
    return;
  }

  let row = i * p.chunks;
  // Pass 1: the logits, parked in q, and their maximum over the real labels.
  var mx = LOWEST;
  for (var k = 0u; k < p.chunks; k = k + 1u) {
    let acc = logits(i, k);
    q[row + k] = acc;
    mx = max(mx, hmax(select(vec4<f32>(LOWEST), acc, lanes(k))));
  }
  // Pass 2: exponentials and their sum.
  var total = 0.0;
  for (var k = 0u; k < p.chunks; k = k + 1u) {
    let e = select(vec4<f32>(0.0), exp(q[row + k] - mx), lanes(k));
    q[row + k] = e;
    total = total + ((e.x + e.y) + (e.z + e.w));
  }
  // Pass 3: normalise.
  for (var k = 0u; k < p.chunks; k = k + 1u) {
    store(i, k, q[row + k] / total);
  }
}
