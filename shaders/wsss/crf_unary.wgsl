// Dense CRF unary (docs/algorithms.md §3.6): U = −log(clip(prob, 1e-5, 1)) as pydensecrf's
// unary_from_softmax computes it on CLIP-ES's float16 map: the clip bound is fp16(1e-5), and −log is
// evaluated in float32 then rounded to float16. A GPU log need not round like the host's logf, and a
// one-ulp difference can move the float16 result by 2^-7, so −log comes from a host-built table indexed
// by the float16 bit pattern of the clipped probability (clipped values are ≤ 1, so bits ≤ 0x3C00).
// probs is planar [C, N] f32; U is written pixel-major as vec4 chunks of channels, [N, ceil(C/4)],
// padding lanes 0. A non-finite probability is recorded in bad[0] (1 + its flat index) for the host.
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup

// fp16(1e-5) = 168 · 2^-24, the clip bound numpy uses for a float16 array.
const CLIP_MIN: f32 = 1.0013580322265625e-05;
// The smallest normal float16, 2^-14.
const F16_MIN_NORMAL: f32 = 6.103515625e-05;

struct Params {
  pixels: u32,
  channels: u32,
  chunks: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> probs: array<f32>;
@group(0) @binding(2) var<storage, read> neg_log: array<f32>;
@group(0) @binding(3) var<storage, read_write> unary: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> bad: array<u32>;

// float16 bit pattern of x in [CLIP_MIN, 1], rounded to nearest, ties to even.
fn f16_bits(x: f32) -> u32 {
  if (x < F16_MIN_NORMAL) {
    // Subnormal float16: multiples of 2^-24 (WGSL's round() rounds halves to even).
    return u32(round(x * 16777216.0));
  }
  let b = bitcast<u32>(x);
  let mant = b & 0x7fffffu;
  var h = (((b >> 23u) - 112u) << 10u) + (mant >> 13u);  // rebias 127 → 15
  let rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) == 1u)) { h = h + 1u; }
  return h;
}

fn unary_of(c: u32, i: u32) -> f32 {
  if (c >= p.channels) { return 0.0; }
  let at = c * p.pixels + i;
  let x = probs[at];
  // Bit test rather than x != x: compilers may assume floats are finite.
  if ((bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u) {
    bad[0] = at + 1u;
    return 0.0;
  }
  return neg_log[f16_bits(clamp(x, CLIP_MIN, 1.0))];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let idx = workgroup_linear(wid, nwg) * WG + lid;
  if (idx >= p.pixels * p.chunks) { return; }
  let i = idx / p.chunks;
  let c = 4u * (idx % p.chunks);
  unary[idx] = vec4<f32>(unary_of(c, i), unary_of(c + 1u, i), unary_of(c + 2u, i), unary_of(c + 3u, i));
}
