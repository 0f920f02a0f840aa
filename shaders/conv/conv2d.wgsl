// 2-D convolution (NCHW) as an implicit GEMM, register-blocked and barrier-free: the tile design of
// matmul/register.wgsl (4×4 sub-blocks in mat4x4 values, no workgroup memory), with op(B) gathered
// from the input image instead of read from a matrix.
//
// Per group g of batch item n (workgroup z = n·groups + g) the product is
//   Y[co, q] = epilogue( Σ_{ky, kx, ci} W[co, ky, kx, ci] · X[ci, iy, ix] )
//   iy = oy·stride_y − pad_y + ky·dilation_y,  ix = ox·stride_x − pad_x + kx·dilation_x,  q = oy·Wo + ox
// with X read as 0 outside the image. Rows of the GEMM are output channels (M = cout_g), columns are
// output pixels (N = Ho·Wo), and K runs over (ky, kx) outside and the input channels inside. That
// order is why the weights come in [Cout, KH, KW, Cin/groups] order (src/kernels/conv.ts converts
// PyTorch's [Cout, Cin/groups, KH, KW] on the host): for one tap (ky, kx) each column's input pixel
// and its in-image test are fixed, so they are worked out once per tap, and the inner loop over
// channels is the plain matmul loop: four consecutive weights of a row, and four channel planes of
// a column (addresses `off + c·H·W`). Columns outside the image are replaced by zeros, and a
// tap that falls outside the image for every column of the block is skipped (frequent in dilated
// 3×3 convolutions on small maps: ASPP with rate 24 on a 65×65 map).
//
// Epilogue, in ResNet's order: y = act(acc + bias[co] + residual[n, co, q]).
// The tile grid (output-pixel tiles × channel tiles) is folded into x·y (grid1d); workgroups past
// `tiles` return at once.
// @include common/activation.wgsl
// @include common/block4x4.wgsl

const TM: u32 = 8u;             // @param output channels per invocation: 4 or 8
const TN: u32 = 8u;             // @param output pixels per invocation: 4 or 8
const WG_M: u32 = 1u;           // @param invocations along the channels per workgroup
const WG_N: u32 = 8u;           // @param invocations along the pixels per workgroup
const HAS_BIAS: bool = false;   // @param add bias[co]
const RESIDUAL: bool = false;   // @param add residual (y's shape) before the activation
const ACT: u32 = 0u;            // @param activation code (common/activation.wgsl)
const FUSED: bool = false;      // @param accumulate with fma(); SwiftShader emulates fma (slow)

struct Params {
  groups: u32,
  cin: u32,
  h: u32,
  w: u32,
  cout: u32,
  ho: u32,
  wo: u32,
  cin_g: u32,
  cout_g: u32,
  kh: u32,
  kw: u32,
  stride: vec2<u32>,    // .x along the width, .y along the height
  pad: vec2<u32>,       // likewise
  dilation: vec2<u32>,  // likewise
  tiles_n: u32,         // workgroup tiles along the output pixels
  tiles: u32,           // tiles_n · tiles along the output channels
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

// Four consecutive weights of one row (consecutive input channels of one tap).
fn w4(at: u32) -> vec4<f32> {
  return vec4<f32>(weight[at], weight[at + 1u], weight[at + 2u], weight[at + 3u]);
}
// The last, partial group of channels: entries at or past `n` (≤ 3 left) read as 0, loads clamped.
fn w4_tail(at: u32, n: u32) -> vec4<f32> {
  let last = at + n - 1u;
  return vec4<f32>(weight[at], select(0.0, weight[min(at + 1u, last)], n > 1u),
                   select(0.0, weight[min(at + 2u, last)], n > 2u), 0.0);
}
// Four consecutive channels c .. c+3 of one input pixel: planes are `hw` apart.
fn x4(off: u32, c: u32, hw: u32) -> vec4<f32> {
  let at = off + c * hw;
  return vec4<f32>(x[at], x[at + hw], x[at + 2u * hw], x[at + 3u * hw]);
}
fn x4_tail(off: u32, c: u32, hw: u32, n: u32) -> vec4<f32> {
  let at = off + c * hw;
  let last = at + (n - 1u) * hw;
  return vec4<f32>(x[at], select(0.0, x[min(at + hw, last)], n > 1u),
                   select(0.0, x[min(at + 2u * hw, last)], n > 2u), 0.0);
}

// A column's loads where its input pixel is inside the image, else zeros (a select, not a 0/1
// factor, so that an inf or NaN elsewhere in the image cannot leak into a padded tap).
fn xin(v: vec4<f32>, inside: bool) -> vec4<f32> {
  return select(vec4<f32>(0.0), v, inside);
}

// Store rows co0 .. co0+3 (channels within group g) × pixels q0 .. q0+3 through the epilogue.
fn store_block(acc: mat4x4<f32>, item: u32, g: u32, co0: u32, q0: u32) {
  let hwo = p.ho * p.wo;
  for (var i = 0u; i < 4u; i++) {
    let co = co0 + i;
    if (co >= p.cout_g) { return; }
    let ch = g * p.cout_g + co;
    let row = (item * p.cout + ch) * hwo;
    for (var j = 0u; j < 4u; j++) {
      let q = q0 + j;
      if (q < hwo) {
        let at = row + q;
        var v = acc[i][j];
        if (HAS_BIAS) { v = v + bias[ch]; }
        if (RESIDUAL) { v = v + residual[at]; }
        y[at] = activate(ACT, v);
      }
    }
  }
}

@compute @workgroup_size(WG_N, WG_M)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let tile = wid.x + wid.y * nwg.x;
  if (tile >= p.tiles) { return; }
  let tile_m = tile / p.tiles_n;
  let tile_n = tile - tile_m * p.tiles_n;
  let item = wid.z / p.groups;
  let g = wid.z - item * p.groups;
  let co0 = (tile_m * WG_M + lid.y) * TM;
  let q0 = (tile_n * WG_N + lid.x) * TN;
  let hw = p.h * p.w;
  let hwo = p.ho * p.wo;
  let ktot = p.kh * p.kw * p.cin_g;

  // Weight rows (clamped to the group's last channel: rows past it compute copies never stored).
  let wg0 = g * p.cout_g;
  let last_row = p.cout_g - 1u;
  let wr0 = (wg0 + min(co0, last_row)) * ktot;
  let wr1 = (wg0 + min(co0 + 1u, last_row)) * ktot;
  let wr2 = (wg0 + min(co0 + 2u, last_row)) * ktot;
  let wr3 = (wg0 + min(co0 + 3u, last_row)) * ktot;
  let wr4 = (wg0 + min(co0 + 4u, last_row)) * ktot;
  let wr5 = (wg0 + min(co0 + 5u, last_row)) * ktot;
  let wr6 = (wg0 + min(co0 + 6u, last_row)) * ktot;
  let wr7 = (wg0 + min(co0 + 7u, last_row)) * ktot;

  // Output pixels of the block (clamped likewise) and the top-left input pixel of their windows.
  let last_q = vec4<u32>(hwo - 1u);
  let q_lo = min(vec4<u32>(q0) + vec4<u32>(0u, 1u, 2u, 3u), last_q);
  let q_hi = min(vec4<u32>(q0) + vec4<u32>(4u, 5u, 6u, 7u), last_q);
  let oy_lo = q_lo / p.wo;
  let oy_hi = q_hi / p.wo;
  let pad_y = vec4<i32>(i32(p.pad.y));
  let pad_x = vec4<i32>(i32(p.pad.x));
  let iy0_lo = vec4<i32>(oy_lo * p.stride.y) - pad_y;
  let iy0_hi = vec4<i32>(oy_hi * p.stride.y) - pad_y;
  let ix0_lo = vec4<i32>((q_lo - oy_lo * p.wo) * p.stride.x) - pad_x;
  let ix0_hi = vec4<i32>((q_hi - oy_hi * p.wo) * p.stride.x) - pad_x;
  let h_i = vec4<i32>(i32(p.h));
  let w_i = vec4<i32>(i32(p.w));
  let xbase = (item * p.cin + g * p.cin_g) * hw;
  let c_full = p.cin_g & ~3u;
  let c_rest = p.cin_g - c_full;

  var acc00 = mat4x4<f32>(); var acc01 = mat4x4<f32>();
  var acc10 = mat4x4<f32>(); var acc11 = mat4x4<f32>();
  for (var ky = 0u; ky < p.kh; ky++) {
    let dy = vec4<i32>(i32(ky * p.dilation.y));
    let iy_lo = iy0_lo + dy;
    let iy_hi = iy0_hi + dy;
    for (var kx = 0u; kx < p.kw; kx++) {
      let dx = vec4<i32>(i32(kx * p.dilation.x));
      let ix_lo = ix0_lo + dx;
      let ix_hi = ix0_hi + dx;
      let in_lo = (iy_lo >= vec4<i32>(0)) & (iy_lo < h_i) & (ix_lo >= vec4<i32>(0)) & (ix_lo < w_i);
      let in_hi = (iy_hi >= vec4<i32>(0)) & (iy_hi < h_i) & (ix_hi >= vec4<i32>(0)) & (ix_hi < w_i);
      if (!any(in_lo) && !(TN > 4u && any(in_hi))) { continue; }
      let off_lo = vec4<u32>(xbase) + vec4<u32>(select(vec4<i32>(0), iy_lo * w_i + ix_lo, in_lo));
      let off_hi = vec4<u32>(xbase) + vec4<u32>(select(vec4<i32>(0), iy_hi * w_i + ix_hi, in_hi));
      let kb = (ky * p.kw + kx) * p.cin_g;
      for (var c = 0u; c < c_full; c += 4u) {
        let k = kb + c;
        let a0 = mat4x4<f32>(w4(wr0 + k), w4(wr1 + k), w4(wr2 + k), w4(wr3 + k));
        let b0 = mat4x4<f32>(xin(x4(off_lo.x, c, hw), in_lo.x), xin(x4(off_lo.y, c, hw), in_lo.y),
                             xin(x4(off_lo.z, c, hw), in_lo.z), xin(x4(off_lo.w, c, hw), in_lo.w));
        acc00 = update(acc00, a0, b0);
        if (TN > 4u) {
          let b1 = mat4x4<f32>(xin(x4(off_hi.x, c, hw), in_hi.x), xin(x4(off_hi.y, c, hw), in_hi.y),
                               xin(x4(off_hi.z, c, hw), in_hi.z), xin(x4(off_hi.w, c, hw), in_hi.w));
          acc01 = update(acc01, a0, b1);
          if (TM > 4u) {
            let a1 = mat4x4<f32>(w4(wr4 + k), w4(wr5 + k), w4(wr6 + k), w4(wr7 + k));
            acc10 = update(acc10, a1, b0);
            acc11 = update(acc11, a1, b1);
          }
        } else if (TM > 4u) {
          let a1 = mat4x4<f32>(w4(wr4 + k), w4(wr5 + k), w4(wr6 + k), w4(wr7 + k));
          acc10 = update(acc10, a1, b0);
        }
      }
      if (c_rest > 0u) {
        let c = c_full;
        let k = kb + c;
        let n = c_rest;
        let a0 = mat4x4<f32>(w4_tail(wr0 + k, n), w4_tail(wr1 + k, n), w4_tail(wr2 + k, n), w4_tail(wr3 + k, n));
        let a1 = mat4x4<f32>(w4_tail(wr4 + k, n), w4_tail(wr5 + k, n), w4_tail(wr6 + k, n), w4_tail(wr7 + k, n));
        let b0 = mat4x4<f32>(xin(x4_tail(off_lo.x, c, hw, n), in_lo.x), xin(x4_tail(off_lo.y, c, hw, n), in_lo.y),
                             xin(x4_tail(off_lo.z, c, hw, n), in_lo.z), xin(x4_tail(off_lo.w, c, hw, n), in_lo.w));
        let b1 = mat4x4<f32>(xin(x4_tail(off_hi.x, c, hw, n), in_hi.x), xin(x4_tail(off_hi.y, c, hw, n), in_hi.y),
                             xin(x4_tail(off_hi.z, c, hw, n), in_hi.z), xin(x4_tail(off_hi.w, c, hw, n), in_hi.w));
        acc00 = update(acc00, a0, b0);
        acc01 = update(acc01, a0, b1);
        acc10 = update(acc10, a1, b0);
        acc11 = update(acc11, a1, b1);
      }
    }
  }

  store_block(acc00, item, g, co0, q0);
  if (TN > 4u) { store_block(acc01, item, g, co0, q0 + 4u); }
  if (TM > 4u) { store_block(acc10, item, g, co0 + 4u, q0); }
  if (TM > 4u && TN > 4u) { store_block(acc11, item, g, co0 + 4u, q0 + 4u); }
}
