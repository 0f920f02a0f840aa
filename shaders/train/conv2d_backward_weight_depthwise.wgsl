// Weight and bias gradients of a depthwise 2-D convolution (one input channel per group,
// groups = cin, cout = groups · multiplier), first pass: the split-K partial sums of
// conv2d_backward_weight.wgsl for the shape where its register block would have a single useful
// row and column. conv2d_backward_weight_reduce.wgsl adds them up.
//   dw[co, ky, kx, 0] = Σ_{n, oy, ox} dy[n, co, oy, ox] · x[n, co / mult, iy, ix]
//   db[co] = Σ_{n, oy, ox} dy[n, co, oy, ox]
// A unit is one weight (co, ky, kx) over one chunk of output rows (the same chunks as
// conv2d_backward_weight.wgsl: `chunk_rows` rows of one batch item), visiting only the rows and
// columns where the tap lands inside the image (common/conv_geometry.wgsl, conv_tap_range), four
// columns at a time: lane t of a vec4 accumulator sums the products of the columns
// first + 4j + t, the full quads of the rows in order and then the partial quads in row order;
// the lanes are added as (l0 + l1) + (l2 + l3). Bias units as in conv2d_backward_weight.wgsl. So the
// order depends on the sizes and chunk_rows only, and a run is bit-identical on one adapter.
// Partial s is written at partial[s·count + e], e = co·kh·kw + ky·kw + kx, or weight_count + co.
// @include common/conv_geometry.wgsl
// @include common/dispatch.wgsl
// @include train/conv2d_backward_weight_io.wgsl

const WG: u32 = 64u;  // @param units per workgroup

struct Params {
  batch: u32,
  cin: u32,
  h: u32,
  w: u32,
  cout: u32,
  ho: u32,
  wo: u32,
  kh: u32,
  kw: u32,
  cout_g: u32,          // the multiplier: output channels per input channel
  stride: vec2<u32>,    // .x along the width, .y along the height
  pad: vec2<u32>,       // likewise
  dilation: vec2<u32>,  // likewise
  weight_tiles: u32,    // weight_count: one weight per unit
  tiles: u32,           // weight_tiles + the bias units (⌈cout / 8⌉, or 0 without a bias)
  chunk_rows: u32,      // output rows oy per chunk (chunks do not cross batch items)
  item_chunks: u32,     // chunks per batch item: ⌈ho / chunk_rows⌉; chunk s = n · item_chunks + j
  units: u32,           // tiles · chunks; unit u = chunk · tiles + tile
  weight_count: u32,    // cout · kh · kw
  count: u32,           // weight_count + (cout with a bias, else 0): one partial's length
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let u = workgroup_linear(wid, nwg) * WG + lid;
  // No barriers: invocations past the last unit leave at once.
  if (u >= p.units) { return; }
  let chunk = u / p.tiles;
  let e = u - chunk * p.tiles;
  let item = chunk / p.item_chunks;
  let r0 = (chunk - item * p.item_chunks) * p.chunk_rows;
  let r1 = min(p.ho, r0 + p.chunk_rows);
  let base = chunk * p.count;
  if (e >= p.weight_tiles) {
    bias_unit(e - p.weight_tiles, base, item, r0, r1);
    return;
  }

  let taps = p.kh * p.kw;
  let co = e / taps;
  let tap = e - co * taps;
  let ky = tap / p.kw;
  let kx = tap - ky * p.kw;
  let ci = co / p.cout_g;
  let hw = p.h * p.w;
  let hwo = p.ho * p.wo;
  let ry = conv_tap_range(ky, p.stride.y, p.pad.y, p.dilation.y, p.h, p.ho);
  let rx = conv_tap_range(kx, p.stride.x, p.pad.x, p.dilation.x, p.w, p.wo);
  let off_y = i32(ky * p.dilation.y) - i32(p.pad.y);
  let ix0 = u32(i32(rx.x * p.stride.x) + i32(kx * p.dilation.x) - i32(p.pad.x));
  let sx = p.stride.x;
  let quads = (rx.y - rx.x) / 4u;
  let rest = rx.y - rx.x - 4u * quads;
  let first = max(ry.x, r0);
  let end = max(min(ry.y, r1), first);
  let d0 = (item * p.cout + co) * hwo + first * p.wo + rx.x;
  let x0 = (item * p.cin + ci) * hw + u32(i32(first * p.stride.y) + off_y) * p.w + ix0;
  let x_row = p.stride.y * p.w;

  // The full quads of the rows in one flat loop, stepping rows by selects (see
  // conv2d_backward_weight.wgsl), then the partial quads.
  var acc = vec4<f32>();
  var dq = d0;
  var xq = x0;
  var q = 0u;
  for (var step = 0u; step < (end - first) * quads; step++) {
    acc += dy4(dq + 4u * q) * x4(xq + 4u * q * sx, sx);
    q++;
    let wrap = q == quads;
    q = select(q, 0u, wrap);
    dq = select(dq, dq + p.wo, wrap);
    xq = select(xq, xq + x_row, wrap);
  }
  for (var r = 0u; r < select(0u, end - first, rest > 0u); r++) {
    acc += dy4_tail(d0 + r * p.wo + 4u * quads, rest) * x4_tail(x0 + r * x_row + 4u * quads * sx, sx, rest);
  }
  partial[base + e] = lanes_sum(acc);
}
