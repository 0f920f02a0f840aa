// Table-driven bilinear resampling of planes x [planes, in_h, in_w] → y [planes, out_h, out_w]:
//   r0 = x[y0, x0]·wx0 + x[y0, x1]·wx1;  r1 = x[y1, x0]·wx0 + x[y1, x1]·wx1;  y = r0·wy0 + r1·wy1
// in float32, horizontal first then vertical: the operation order of both OpenCV's INTER_LINEAR
// (HResizeLinear then VResizeLinear) and PyTorch's CPU bilinear. The host computes per output row
// and column the two source indices and the two float32 weights exactly as the emulated library
// does (src/wsss/caa.ts), including the border clamps, so one kernel serves cv2 INTER_LINEAR
// (docs/algorithms.md §3.5) and torch bilinear with and without align_corners (§5, §6).
// tab holds (i0, i1, w0, w1) per output row (first out_h entries) then per output column; the
// indices are exact in f32 (< 2^24). ROUND_F16 rounds every output to the nearest float16 value,
// as CLIP-ES's `.astype(np.float16)` does when it stores attn_highres.
// @include common/dispatch.wgsl
// @include common/f16.wgsl

const ROUND_F16: bool = false; // @param round outputs to float16 values (ties to even)
const WG: u32 = 256u;          // @param invocations per workgroup

struct Params {
  in_h: u32,
  in_w: u32,
  out_h: u32,
  out_w: u32,
  count: u32, // planes · out_h · out_w
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> tab: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = workgroup_linear(wid, nwg) * WG + lid;
  if (e >= p.count) { return; }
  let plane_out = p.out_h * p.out_w;
  let c = e / plane_out;
  let rem = e - c * plane_out;
  let oy = rem / p.out_w;
  let ox = rem - oy * p.out_w;
  let ty = tab[oy];
  let tx = tab[p.out_h + ox];
  let base = c * p.in_h * p.in_w;
  let row0 = base + u32(ty.x) * p.in_w;
  let row1 = base + u32(ty.y) * p.in_w;
  let x0 = u32(tx.x);
  let x1 = u32(tx.y);
  let r0 = x[row0 + x0] * tx.z + x[row0 + x1] * tx.w;
  let r1 = x[row1 + x0] * tx.z + x[row1 + x1] * tx.w;
  var v = r0 * ty.z + r1 * ty.w;
  if (ROUND_F16) { v = round_f16(v); }
  y[e] = v;
}
