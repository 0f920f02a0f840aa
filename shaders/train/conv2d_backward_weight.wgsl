// Weight and bias gradients of a 2-D convolution over NCHW f32 tensors, first pass: partial sums
// over fixed chunks of the output rows (split-K); conv2d_backward_weight_reduce.wgsl adds them up.
//   dw[co, ky, kx, c] = Σ_{n, oy, ox} dy[n, co, oy, ox] · x[n, g·cin_g + c, iy, ix]
//     iy = oy·stride_y − pad_y + ky·dilation_y, ix likewise, x read as 0 outside the image,
//     g = co / cout_g
//   db[co] = Σ_{n, oy, ox} dy[n, co, oy, ox]
// Per group g and tap (ky, kx) this is a GEMM with few outputs and a long reduction:
//   DW[co, c] = Σ_k DY[co, k] · X_tap[k, c],  k = (n, oy, ox)
// Rows are the group's output channels, columns its input channels, k runs over the output pixels.
// Each batch item's output rows are cut into chunks of `chunk_rows` rows (chunk s = item ·
// item_chunks + j holds rows j·chunk_rows … of item `item`). One invocation (a "unit") computes a
// TM × TN register block of one tap over one chunk, barrier-free, in 4×4 sub-blocks held in mat4x4
// values (the conv/conv2d.wgsl and matmul/register.wgsl design): four consecutive dy values of a
// row per output channel, four x values `stride.x` apart per input channel. Only the output rows
// and columns whose tap lands inside the image are visited (common/conv_geometry.wgsl,
// conv_tap_range, worked out once per unit, so the loops test no bounds): the full quads of
// columns of all those rows in one flat loop that steps to the next row by selects (on SwiftShader
// a loop per row measured 20–30 % slower on rows of 32 and 16 pixels: entering an inner loop costs
// time of its own), then the last, partial quad of each row in a second loop, its missing entries
// read as 0 (a block after the quads in the row loop would cost its time on every row, taken or not).
//
// Summation order (a function of the sizes, TM/TN and chunk_rows only, hence bit-identical from
// run to run on one adapter): partial s of an element is the running sum, from 0, over the chunk's
// rows in order of their full quads of columns in order from the tap's first column, then over the
// rows in order of their partial quads; each quad's four products are summed by one mat4x4 product
// and then added. The reduce pass adds the partials s = 0, 1, … in order.
//
// Bias units (with a bias, the last ⌈cout / 8⌉ tiles): see conv2d_backward_weight_io.wgsl.
// Partial s is written at partial[s·count + e], e = the element's index in dw ([Cout, KH, KW,
// Cin/groups]), or weight_count + co for db.
// @include common/conv_geometry.wgsl
// @include common/dispatch.wgsl
// @include train/conv2d_backward_weight_io.wgsl
// @include common/block4x4.wgsl

const TM: u32 = 8u;             // @param output channels per unit (GEMM rows): 4 or 8
const TN: u32 = 8u;             // @param input channels per unit (GEMM columns): 4 or 8
const WG: u32 = 16u;            // @param units per workgroup
const FUSED: bool = false;      // @param accumulate with fma(); SwiftShader emulates fma (slow)

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
  cin_g: u32,
  cout_g: u32,
  stride: vec2<u32>,    // .x along the width, .y along the height
  pad: vec2<u32>,       // likewise
  dilation: vec2<u32>,  // likewise
  tiles_m: u32,         // row tiles per group: ⌈cout_g / TM⌉
  tiles_n: u32,         // column tiles per tap: ⌈cin_g / TN⌉
  weight_tiles: u32,    // groups · kh · kw · tiles_m · tiles_n
  tiles: u32,           // weight_tiles + the bias units (⌈cout / 8⌉, or 0 without a bias)
  chunk_rows: u32,      // output rows oy per chunk (chunks do not cross batch items)
  item_chunks: u32,     // chunks per batch item: ⌈ho / chunk_rows⌉; chunk s = n · item_chunks + j
  units: u32,           // tiles · chunks; unit u = chunk · tiles + tile
  weight_count: u32,    // cout · kh · kw · cin_g
  count: u32,           // weight_count + (cout with a bias, else 0): one partial's length
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;

// Store rows co0 .. co0+3 × columns ci0 .. ci0+3 (channels within group g) of tap `tap`.
fn store_block(acc: mat4x4<f32>, base: u32, g: u32, tap: u32, co0: u32, ci0: u32) {
  let taps = p.kh * p.kw;
  for (var i = 0u; i < 4u; i++) {
    let co = co0 + i;
    if (co >= p.cout_g) { return; }
    let row = base + ((g * p.cout_g + co) * taps + tap) * p.cin_g;
    for (var j = 0u; j < 4u; j++) {
      let ci = ci0 + j;
      if (ci < p.cin_g) { partial[row + ci] = acc[i][j]; }
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let u = workgroup_linear(wid, nwg) * WG + lid;
  // No barriers: invocations past the last unit leave at once.
  if (u >= p.units) { return; }
  let chunk = u / p.tiles;
  let tile = u - chunk * p.tiles;
  let item = chunk / p.item_chunks;
  let r0 = (chunk - item * p.item_chunks) * p.chunk_rows;
  let r1 = min(p.ho, r0 + p.chunk_rows);
  let base = chunk * p.count;
  if (tile >= p.weight_tiles) {
    bias_unit(tile - p.weight_tiles, base, item, r0, r1);
    return;
  }

  let tile_n = tile % p.tiles_n;
  let rest0 = tile / p.tiles_n;
  let tile_m = rest0 % p.tiles_m;
  let rest1 = rest0 / p.tiles_m;
  let taps = p.kh * p.kw;
  let tap = rest1 % taps;
  let g = rest1 / taps;
  let ky = tap / p.kw;
  let kx = tap - ky * p.kw;
  let co0 = tile_m * TM;
  let ci0 = tile_n * TN;
  let hw = p.h * p.w;
  let hwo = p.ho * p.wo;

  // The output rows and columns this tap reads inside the image, and its shift into the input.
  let ry = conv_tap_range(ky, p.stride.y, p.pad.y, p.dilation.y, p.h, p.ho);
  let rx = conv_tap_range(kx, p.stride.x, p.pad.x, p.dilation.x, p.w, p.wo);
  let off_y = i32(ky * p.dilation.y) - i32(p.pad.y);
  let ix0 = u32(i32(rx.x * p.stride.x) + i32(kx * p.dilation.x) - i32(p.pad.x));
  let sx = p.stride.x;
  let quads = (rx.y - rx.x) / 4u;
  let rest = rx.y - rx.x - 4u * quads;

  // dy planes of the rows (output channels) and x planes of the columns (input channels), clamped
  // to the group's last: the copies past it are never stored.
  let lr = p.cout_g - 1u;
  let d0 = (g * p.cout_g + min(co0, lr)) * hwo + rx.x;      let d1 = (g * p.cout_g + min(co0 + 1u, lr)) * hwo + rx.x;
  let d2 = (g * p.cout_g + min(co0 + 2u, lr)) * hwo + rx.x; let d3 = (g * p.cout_g + min(co0 + 3u, lr)) * hwo + rx.x;
  let d4 = (g * p.cout_g + min(co0 + 4u, lr)) * hwo + rx.x; let d5 = (g * p.cout_g + min(co0 + 5u, lr)) * hwo + rx.x;
  let d6 = (g * p.cout_g + min(co0 + 6u, lr)) * hwo + rx.x; let d7 = (g * p.cout_g + min(co0 + 7u, lr)) * hwo + rx.x;
  let lc = p.cin_g - 1u;
  let x0 = (g * p.cin_g + min(ci0, lc)) * hw + ix0;      let x1 = (g * p.cin_g + min(ci0 + 1u, lc)) * hw + ix0;
  let x2 = (g * p.cin_g + min(ci0 + 2u, lc)) * hw + ix0; let x3 = (g * p.cin_g + min(ci0 + 3u, lc)) * hw + ix0;
  let x4_ = (g * p.cin_g + min(ci0 + 4u, lc)) * hw + ix0; let x5 = (g * p.cin_g + min(ci0 + 5u, lc)) * hw + ix0;
  let x6 = (g * p.cin_g + min(ci0 + 6u, lc)) * hw + ix0; let x7 = (g * p.cin_g + min(ci0 + 7u, lc)) * hw + ix0;

  // The chunk's rows that this tap reads: oy in [first, end). One flat loop over (row, quad), the
  // quads innermost, stepping to the next row by selects (see the header).
  let first = max(ry.x, r0);
  let end = max(min(ry.y, r1), first);
  var dq = item * p.cout * hwo + first * p.wo;
  var xq = item * p.cin * hw + u32(i32(first * p.stride.y) + off_y) * p.w;
  let x_row = p.stride.y * p.w;
  var q = 0u;
  var acc00 = mat4x4<f32>(); var acc01 = mat4x4<f32>();
  var acc10 = mat4x4<f32>(); var acc11 = mat4x4<f32>();
  for (var step = 0u; step < (end - first) * quads; step++) {
    let dk = dq + 4u * q;
    let xk = xq + 4u * q * sx;
    let a0 = mat4x4<f32>(dy4(d0 + dk), dy4(d1 + dk), dy4(d2 + dk), dy4(d3 + dk));
    let b0 = mat4x4<f32>(x4(x0 + xk, sx), x4(x1 + xk, sx), x4(x2 + xk, sx), x4(x3 + xk, sx));
    acc00 = update(acc00, a0, b0);
    if (TN > 4u) {
      let b1 = mat4x4<f32>(x4(x4_ + xk, sx), x4(x5 + xk, sx), x4(x6 + xk, sx), x4(x7 + xk, sx));
      acc01 = update(acc01, a0, b1);
      if (TM > 4u) {
        let a1 = mat4x4<f32>(dy4(d4 + dk), dy4(d5 + dk), dy4(d6 + dk), dy4(d7 + dk));
        acc10 = update(acc10, a1, b0);
        acc11 = update(acc11, a1, b1);
      }
    } else if (TM > 4u) {
      let a1 = mat4x4<f32>(dy4(d4 + dk), dy4(d5 + dk), dy4(d6 + dk), dy4(d7 + dk));
      acc10 = update(acc10, a1, b0);
    }
    q++;
    let wrap = q == quads;
    q = select(q, 0u, wrap);
    dq = select(dq, dq + p.wo, wrap);
    xq = select(xq, xq + x_row, wrap);
  }
  // Then the last, partial quad (rest = 1 to 3 columns) of the same rows in the same order.
  let dt = item * p.cout * hwo + first * p.wo + 4u * quads;
  let xt = item * p.cin * hw + u32(i32(first * p.stride.y) + off_y) * p.w + 4u * quads * sx;
  for (var r = 0u; r < select(0u, end - first, rest > 0u); r++) {
    let dk = dt + r * p.wo;
    let xk = xt + r * x_row;
    let n = rest;
    let a0 = mat4x4<f32>(dy4_tail(d0 + dk, n), dy4_tail(d1 + dk, n), dy4_tail(d2 + dk, n), dy4_tail(d3 + dk, n));
    let a1 = mat4x4<f32>(dy4_tail(d4 + dk, n), dy4_tail(d5 + dk, n), dy4_tail(d6 + dk, n), dy4_tail(d7 + dk, n));
    let b0 = mat4x4<f32>(x4_tail(x0 + xk, sx, n), x4_tail(x1 + xk, sx, n), x4_tail(x2 + xk, sx, n), x4_tail(x3 + xk, sx, n));
    let b1 = mat4x4<f32>(x4_tail(x4_ + xk, sx, n), x4_tail(x5 + xk, sx, n), x4_tail(x6 + xk, sx, n), x4_tail(x7 + xk, sx, n));
    acc00 = update(acc00, a0, b0);
    acc01 = update(acc01, a0, b1);
    acc10 = update(acc10, a1, b0);
    acc11 = update(acc11, a1, b1);
  }

  store_block(acc00, base, g, tap, co0, ci0);
  if (TN > 4u) { store_block(acc01, base, g, tap, co0, ci0 + 4u); }
  if (TM > 4u) { store_block(acc10, base, g, tap, co0 + 4u, ci0); }
  if (TM > 4u && TN > 4u) { store_block(acc11, base, g, tap, co0 + 4u, ci0 + 4u); }
}
