// PAR's pixel-adaptive affinities (docs/algorithms.md §5, AFA's PAR), one invocation per pixel i of an
// image [3, h, w]:
//   σ_c   = unbiased std over the P neighbours j of I_j,c        (the centre is not a neighbour)
//   κ_ij  = mean_c −(|I_j,c − I_i,c| / (σ_c + 1e-8) / w1)²
//   a_ij  = softmax_j(κ_ij) + pos[j]                               (pos = w2·softmax_j(π_j), host)
// Neighbour j of (y, x) is (y + dy_j, x + dx_j) clamped to the image (replicate padding).
// The P weights go to aff [P, h·w] (neighbour-major, so the gather kernel reads them coalesced);
// the same array holds κ and the exponentials between the passes, so no private array is needed.
// @include common/dispatch.wgsl
// @include common/float.wgsl

const WG: u32 = 64u; // @param invocations per workgroup

struct Params {
  h: u32,
  w: u32,
  taps: u32,  // P
  w1: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> image: array<f32>;
@group(0) @binding(2) var<storage, read> offsets: array<i32>; // (dy, dx) per neighbour
@group(0) @binding(3) var<storage, read> pos: array<f32>;
@group(0) @binding(4) var<storage, read_write> aff: array<f32>;

fn neighbour(y: i32, x: i32, j: u32) -> u32 {
  let yy = clamp(y + offsets[2u * j], 0, i32(p.h) - 1);
  let xx = clamp(x + offsets[2u * j + 1u], 0, i32(p.w) - 1);
  return u32(yy) * p.w + u32(xx);
}

fn rgb(at: u32) -> vec3<f32> {
  let plane = p.h * p.w;
  return vec3<f32>(image[at], image[plane + at], image[2u * plane + at]);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_linear(wid, nwg) * WG + lid;
  let plane = p.h * p.w;
  if (i >= plane) { return; }
  let y = i32(i / p.w);
  let x = i32(i % p.w);
  let centre = rgb(i);
  let count = f32(p.taps);

  var sum = vec3<f32>(0.0);
  for (var j = 0u; j < p.taps; j++) { sum += rgb(neighbour(y, x, j)); }
  let mean = sum / count;
  var sq = vec3<f32>(0.0);
  for (var j = 0u; j < p.taps; j++) {
    let d = rgb(neighbour(y, x, j)) - mean;
    sq += d * d;
  }
  let den = sqrt(sq / (count - 1.0)) + 1e-8;

  var top = F32_LOWEST;
  for (var j = 0u; j < p.taps; j++) {
    let t = abs(rgb(neighbour(y, x, j)) - centre) / den / p.w1;
    let k = -(t * t);
    let kappa = (k.x + k.y + k.z) / 3.0;
    aff[j * plane + i] = kappa;
    top = max(top, kappa);
  }
  var total = 0.0;
  for (var j = 0u; j < p.taps; j++) {
    let e = exp(aff[j * plane + i] - top);
    aff[j * plane + i] = e;
    total += e;
  }
  for (var j = 0u; j < p.taps; j++) {
    aff[j * plane + i] = aff[j * plane + i] / total + pos[j];
  }
}
