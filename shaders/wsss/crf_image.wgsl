// The colours the CRF's bilateral kernel sees, made on the GPU from the uploaded RGBA pixels, packed
// as the byte stream [H, W, 3] (four bytes per u32 word, byte 0 first) that the lattice builder reads:
//   BGR = 0: the image's own R, G, B;
//   BGR = 1: CLIP-ES's BGR − mean_bgr cast to uint8 as x86 numpy casts it: truncated toward zero,
//            low 8 bits kept. For an integer byte v and a mean m, trunc(v − m) is v − ceil(m) when
//            v ≥ ceil(m) and v − floor(m) below it: integer arithmetic, so no division or rounding
//            mode can move a value (the host computes ceil and floor in float64).
// One invocation per output word.
// @include common/dispatch.wgsl

const WG: u32 = 256u; // @param invocations per workgroup

struct Params {
  pixels: u32,
  words: u32,
  bgr: u32,
  ceil_mean: vec4<i32>,  // .xyz: ceil(mean_bgr[c]) for output channel c (B, G, R)
  floor_mean: vec4<i32>, // .xyz: floor(mean_bgr[c])
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> rgba: array<u32>;
@group(0) @binding(2) var<storage, read_write> colours: array<u32>;

fn colour_byte(k: u32) -> u32 {
  let px = k / 3u;
  let c = k - 3u * px;
  let v = rgba[px];
  if (p.bgr == 0u) { return (v >> (8u * c)) & 0xffu; }
  let byte = i32((v >> (8u * (2u - c))) & 0xffu); // output channel c reads input channel 2 − c
  var t = byte - p.floor_mean[c];
  if (byte >= p.ceil_mean[c]) { t = byte - p.ceil_mean[c]; }
  return u32(t) & 0xffu;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let w = workgroup_linear(wid, nwg) * WG + lid;
  if (w >= p.words) { return; }
  let bytes = 3u * p.pixels;
  var out = 0u;
  for (var b = 0u; b < 4u; b++) {
    let k = 4u * w + b;
    if (k < bytes) { out = out | (colour_byte(k) << (8u * b)); }
  }
  colours[w] = out;
}
