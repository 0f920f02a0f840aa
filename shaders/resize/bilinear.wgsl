// Bilinear resampling of planes x [planes, in_h, in_w] → y [planes, out_h, out_w], one output per
// invocation: seedmask's one bilinear resampler (cv2 INTER_LINEAR, PyTorch's bilinear with and
// without align_corners or a scale factor). The host computes per output row and per output column
// the two source indices and the two float32 weights exactly as the emulated library does, border
// clamps included (src/kernels/bilinear.ts, linearAxis); this kernel only combines them.
// tab holds (i0, i1, bits of w0, bits of w1) per output row (the first out_h entries), then per
// output column.
//
// Two arithmetic forms, both float32, chosen by the host per mode:
//   lerp   (FILTER = false): r = a·w0 + b·w1, along the width first, then the height:
//            r0 = x[y0, x0]·wx0 + x[y0, x1]·wx1;  r1 = x[y1, x0]·wx0 + x[y1, x1]·wx1;  y = r0·wy0 + r1·wy1
//          the operation order of OpenCV's INTER_LINEAR (HResizeLinear, then VResizeLinear) and of
//          PyTorch's CPU bilinear.
//   filter (FILTER = true): r = (0 + w0·a) + w1·b, the second tap skipped where i1 = i0 (a border
//          tap folded into the edge tap); an axis whose size does not change (RESAMPLE_* = false)
//          is passed through without arithmetic, and X_FIRST says which axis goes first. This is
//          the arithmetic of two passes of resize()'s separable filter (resize/filter.wgsl: an
//          accumulator from 0, one pass per changed axis, the cheaper pass first), which its
//          'bilinear-torch' mode shares with its bicubic modes. The forms differ in the sign of
//          zero results, in ±inf beside a folded tap, and in rounding when the height goes first.
// ROUND_F16 rounds every output to the nearest float16 value, as CLIP-ES's `.astype(np.float16)`
// does when it stores attn_highres.
// @include common/dispatch.wgsl
// @include common/f16.wgsl

const FILTER: bool = false;     // @param the filter-pass form (see above) instead of lerp
const X_FIRST: bool = true;     // @param resample along the width first (the filter form's order)
const RESAMPLE_X: bool = true;  // @param the filter form: the width changes (else copied through)
const RESAMPLE_Y: bool = true;  // @param the filter form: the height changes (else copied through)
const ROUND_F16: bool = false;  // @param round outputs to float16 values (ties to even)
const WG: u32 = 256u;           // @param invocations per workgroup

struct Params {
  in_h: u32,
  in_w: u32,
  out_h: u32,
  out_w: u32,
  count: u32, // planes · out_h · out_w
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> tab: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// 0 + v: v, except that −0 becomes +0. Written as a select because shader compilers fold a literal
// `0.0 + v` to v, which keeps the −0.
fn plus_zero(v: f32) -> f32 {
  return select(v, 0.0, v == 0.0);
}

// The two taps a (at t.x) and b (at t.y) of one axis, weighted by t's weights.
fn combine(a: f32, b: f32, t: vec4<u32>) -> f32 {
  let w0 = bitcast<f32>(t.z);
  let w1 = bitcast<f32>(t.w);
  if (FILTER) {
    var acc = plus_zero(w0 * a);
    if (t.y != t.x) { acc += w1 * b; }
    return acc;
  }
  return a * w0 + b * w1;
}

// Along the width in the row starting at `row`, or the row's own value where the width is unchanged.
fn along_x(row: u32, tx: vec4<u32>) -> f32 {
  if (FILTER && !RESAMPLE_X) { return x[row + tx.x]; }
  return combine(x[row + tx.x], x[row + tx.y], tx);
}

// Along the height in column `col` of the plane at `base`, likewise.
fn along_y(base: u32, col: u32, ty: vec4<u32>) -> f32 {
  if (FILTER && !RESAMPLE_Y) { return x[base + ty.x * p.in_w + col]; }
  return combine(x[base + ty.x * p.in_w + col], x[base + ty.y * p.in_w + col], ty);
}

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
  var v: f32;
  if (!FILTER || X_FIRST) {
    let r0 = along_x(base + ty.x * p.in_w, tx);
    if (FILTER && !RESAMPLE_Y) {
      v = r0;
    } else {
      let r1 = along_x(base + ty.y * p.in_w, tx);
      v = combine(r0, r1, ty);
    }
  } else {
    let c0 = along_y(base, tx.x, ty);
    if (!RESAMPLE_X) {
      v = c0;
    } else {
      let c1 = along_y(base, tx.y, ty);
      v = combine(c0, c1, tx);
    }
  }
  if (ROUND_F16) { v = round_f16(v); }
  y[e] = v;
}
