// The image half of DeepLab's training augmentation for one sample (src/kernels/train/augment.ts):
// bilinear resize of packed RGBA8 pixels [src_h, src_w] to [res_h, res_w] as cv2.resize(INTER_LINEAR)
// does on a float32 image, padding bottom and right with the mean, a crop_h × crop_w window at
// (off_y, off_x) of the padded image, optionally mirrored left-right, normalised per channel:
//   y[c] = (v[channel[c]] / divisor − mean[c]) / stddev[c]
// into slot `out_base` of a batch [N, 3, crop_h, crop_w]. One invocation per output pixel (all three
// channels); nothing of the resized image is materialised.
// tab holds the resampler's taps (src/kernels/bilinear.ts, linearAxis 'cv2'): (i0, i1, bits of w0,
// bits of w1) per resized row (the first res_h entries), then per resized column. The arithmetic is
// resize/bilinear.wgsl's lerp form, OpenCV's order: along the width, then the height:
//   r0 = x[y0, x0]·wx0 + x[y0, x1]·wx1;  r1 = x[y1, x0]·wx0 + x[y1, x1]·wx1;  v = r0·wy0 + r1·wy1
// A padded pixel is written as 0, the normalised mean. (deeplab-pytorch pads its float32 image with
// the mean rounded to float32 and then subtracts the float64 mean: a few 1e-6 instead of 0.)
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup

struct Params {
  src_w: u32,
  res_h: u32,
  res_w: u32,
  crop_w: u32,
  off_y: u32,
  off_x: u32,
  flip: u32,           // 1: mirror the crop left-right
  count: u32,          // crop_h · crop_w
  out_base: u32,       // slot · 3 · count
  channel: vec4<u32>,  // .xyz: the RGBA byte (0 R, 1 G, 2 B) of output channel 0, 1, 2
  mean: vec4<f32>,     // .xyz used
  stddev: vec4<f32>,   // .xyz used
  divisor: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> rgba: array<u32>;
@group(0) @binding(2) var<storage, read> tab: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// The output channels' bytes of one pixel, as floats.
fn channels(v: u32) -> vec3<f32> {
  let s = p.channel.xyz * 8u;
  return vec3<f32>(f32((v >> s.x) & 0xffu), f32((v >> s.y) & 0xffu), f32((v >> s.z) & 0xffu));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_linear(wid, nwg) * WG + lid;
  if (i >= p.count) { return; }
  let oy = i / p.crop_w;
  let ox = i - oy * p.crop_w;
  let py = p.off_y + oy;
  let px = p.off_x + select(ox, p.crop_w - 1u - ox, p.flip != 0u);
  var v = vec3<f32>(0.0, 0.0, 0.0);
  if (py < p.res_h && px < p.res_w) {
    let ty = tab[py];
    let tx = tab[p.res_h + px];
    let row0 = ty.x * p.src_w;
    let row1 = ty.y * p.src_w;
    let wx0 = bitcast<f32>(tx.z);
    let wx1 = bitcast<f32>(tx.w);
    let r0 = channels(rgba[row0 + tx.x]) * wx0 + channels(rgba[row0 + tx.y]) * wx1;
    let r1 = channels(rgba[row1 + tx.x]) * wx0 + channels(rgba[row1 + tx.y]) * wx1;
    let s = r0 * bitcast<f32>(ty.z) + r1 * bitcast<f32>(ty.w);
    v = (s / p.divisor - p.mean.xyz) / p.stddev.xyz;
  }
  y[p.out_base + i] = v.x;
  y[p.out_base + p.count + i] = v.y;
  y[p.out_base + 2u * p.count + i] = v.z;
}
