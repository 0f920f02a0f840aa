// Label map from per-class scores (docs/algorithms.md §3.6, eval_cam.py): per pixel p,
//   BG_MODE 0 (τ ≥ 1):  bg = fp16(fp16(1 − max_k cam_k)^τ)     (scores [K, P], fg channels only)
//   BG_MODE 1 (τ < 1):  bg = fp16(τ), a constant plane         (scores [K, P])
//   BG_MODE 2:          bg = scores[0, p], the channels are [bg, class 1..K] (random walk, PAR)
//   idx = argmax([bg, cam_0, …, cam_{K−1}]) with the FIRST maximum winning (strict >): ties go to
//   bg, then to the earlier class; label = lut[idx] with lut = [0, keys + 1].
// With ROUND_F16 every score is first rounded to float16 (idempotent on the float16 values CLIP-ES
// stores) and every intermediate is rounded as numpy's float16 arithmetic does; 1 − m and d·d are
// exact in f32 for float16 inputs, so one rounding each reproduces numpy bit for bit. Integer τ is
// computed by binary powering in f32 (τ ≤ 4: a single rounding, exactly powf's correctly rounded
// result); other τ use pow().
// Labels are bytes, four per u32 word (pixel 4w + b in byte b, little-endian): one invocation per
// word, so no two invocations write the same word.
// @include common/dispatch.wgsl
// @include common/power.wgsl
// @include common/f16.wgsl

const BG_MODE: u32 = 0u;       // @param 0 power (1 − max)^τ, 1 constant plane, 2 channel 0 is bg
const ROUND_F16: bool = true;  // @param emulate float16 storage and arithmetic
const WG: u32 = 64u;           // @param invocations per workgroup

struct Params {
  k: u32,            // foreground channels
  pixels: u32,
  words: u32,        // ceil(pixels / 4)
  exponent: f32,     // τ (BG_MODE 0)
  exponent_int: u32, // τ when it is an integer ≤ 64, else 0 (BG_MODE 0)
  bg_const: f32,     // the constant plane, already float16-rounded by the host (BG_MODE 1)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read> lut: array<u32>;
@group(0) @binding(3) var<storage, read_write> labels: array<u32>;

fn h(v: f32) -> f32 {
  if (ROUND_F16) { return round_f16(v); }
  return v;
}

fn power(d: f32) -> f32 { return int_or_real_power(d, p.exponent_int, p.exponent); }

fn classify(px: u32) -> u32 {
  // Channel c of the foreground scores lives at fg0 + c·pixels.
  let fg0 = select(0u, p.pixels, BG_MODE == 2u) + px;
  var bg = 0.0;
  if (BG_MODE == 2u) {
    bg = h(scores[px]);
  } else if (BG_MODE == 1u) {
    bg = p.bg_const;
  } else {
    var m = h(scores[fg0]);
    for (var c = 1u; c < p.k; c++) { m = max(m, h(scores[fg0 + c * p.pixels])); }
    bg = h(power(h(1.0 - m)));
  }
  var best = bg;
  var idx = 0u;
  for (var c = 0u; c < p.k; c++) {
    let v = h(scores[fg0 + c * p.pixels]);
    if (v > best) {
      best = v;
      idx = c + 1u;
    }
  }
  return lut[idx];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let w = workgroup_linear(wid, nwg) * WG + lid;
  if (w >= p.words) { return; }
  var word = 0u;
  for (var b = 0u; b < 4u; b++) {
    let px = 4u * w + b;
    if (px < p.pixels) { word = word | ((classify(px) & 0xffu) << (8u * b)); }
  }
  labels[w] = word;
}
