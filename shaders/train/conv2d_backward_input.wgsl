// Input gradient of a 2-D convolution over NCHW f32 tensors (src/kernels/conv.ts's forward, weights
// in [Cout, KH, KW, Cin/groups] order) as an implicit GEMM, register-blocked and barrier-free like
// conv/conv2d.wgsl (4×4 sub-blocks in mat4x4 values, no workgroup memory):
//   dx[n, ci, iy, ix] = Σ_{ky, kx} Σ_{co ∈ group(ci)} dy[n, co, oy, ox] · w[co, ky, kx, ci − g·cin_g]
// over the taps whose output pixel exists: iy + pad_y − ky·dilation_y = oy·stride_y with
// 0 ≤ oy < ho (likewise along the width). Every dx element is gathered by one invocation and
// written once: no atomics, no scatter.
//
// Phases. With a stride s > 1 only the taps with iy + pad − ky·dilation ≡ 0 (mod s) reach an
// output row, and which ones depends on iy mod s. The input pixels are therefore split into
// stride_y·stride_x phases (iy mod s_y, ix mod s_x): within a phase every pixel sees the same taps,
// and tap (ky, kx) reads dy at (jy + off_y, jx + off_x) for the phase pixel (jy, jx), a stride-1
// gather with a shift (common/conv_geometry.wgsl, conv_phase_taps). A block of pixels of one phase
// visits only the taps that reach it, never a tap that is wasted on some of its columns.
//
// Per group g of batch item n (workgroup z = n·groups + g) and phase, the product is
//   DX[ci, q] = Σ_{ky, kx, co} W[co, ky, kx, ci] · DY[co, jy(q) + off_y, jx(q) + off_x]
// with rows = the group's input channels (M = cin_g), columns = the phase's pixels q = jy·wp + jx,
// and K = the phase's taps in (ky, kx) order outside, the group's output channels inside, four at a
// time (four weights taps·cin_g apart, four dy planes ho·wo apart). A column whose dy pixel lies
// outside the output reads zeros (a select, so an inf or NaN elsewhere cannot leak in).
// The partial last quad of output channels costs masked loads on every step, so it is compiled in
// only where cout_g is not a multiple of 4 (C_TAIL); it is not a separate block after the channel
// loop because SwiftShader pays for the body of an `if` that no invocation takes: such a block in
// the tap loop cost 20–30 % of the kernel's time at 16 and 32 channels.
// Summation order per element: taps in (ky, kx) order, within a tap the output channels in quads
// (each quad's four products summed by one mat4x4 product, then added), so a run is bit-identical
// on the same adapter. With `accumulate` = 1 the sum is then added to dx.
// The tile grid (phases × channel tiles × pixel tiles) is folded into x·y (grid1d); workgroups past
// `tiles` return at once.
// @include common/conv_geometry.wgsl
// @include common/block4x4.wgsl

const TM: u32 = 8u;             // @param input channels per invocation: 4 or 8
const TN: u32 = 8u;             // @param input pixels (of one phase) per invocation: 4 or 8
const WG_M: u32 = 1u;           // @param invocations along the channels per workgroup
const WG_N: u32 = 8u;           // @param invocations along the pixels per workgroup
const FUSED: bool = false;      // @param accumulate with fma(); SwiftShader emulates fma (slow)
const C_TAIL: bool = true;      // @param cout_g is not a multiple of 4 (the last quad of channels is partial)

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
  tiles_n: u32,         // workgroup tiles along the pixels of the largest phase, (0, 0)
  tiles_m: u32,         // workgroup tiles along the group's input channels
  tiles: u32,           // stride.y · stride.x · tiles_m · tiles_n
  tap_step: vec2<u32>,  // stride / gcd(stride, dilation): between the taps of one phase
  off_step: vec2<u32>,  // tap_step · dilation / stride: the dy shift between them
  cout_q: u32,          // ⌈cout_g / 4⌉: output-channel quads per tap
  accumulate: u32,      // 1: dx += gradient
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// The weights of four consecutive output channels for one row (input channel) and tap: `s` apart.
// With C_TAIL, entries at or past `n` read as 0 (loads clamped to the last one); otherwise n = 4.
fn w4(at: u32, s: u32, n: u32) -> vec4<f32> {
  if (!C_TAIL) {
    return vec4<f32>(weight[at], weight[at + s], weight[at + 2u * s], weight[at + 3u * s]);
  }
  let last = at + (n - 1u) * s;
  return vec4<f32>(weight[at], select(0.0, weight[min(at + s, last)], n > 1u),
                   select(0.0, weight[min(at + 2u * s, last)], n > 2u), select(0.0, weight[last], n > 3u));
}
// Output channels c .. c+3 of one dy pixel: planes are `hwo` apart; `n` as for w4.
fn dy4(off: u32, c: u32, hwo: u32, n: u32) -> vec4<f32> {
  let at = off + c * hwo;
  if (!C_TAIL) {
    return vec4<f32>(dy[at], dy[at + hwo], dy[at + 2u * hwo], dy[at + 3u * hwo]);
  }
  let last = at + (n - 1u) * hwo;
  return vec4<f32>(dy[at], select(0.0, dy[min(at + hwo, last)], n > 1u),
                   select(0.0, dy[min(at + 2u * hwo, last)], n > 2u), select(0.0, dy[last], n > 3u));
}

// A column's loads where its dy pixel exists, else zeros.
fn din(v: vec4<f32>, inside: bool) -> vec4<f32> {
  return select(vec4<f32>(0.0), v, inside);
}

// Store rows ci0 .. ci0+3 (channels within the group) × phase pixels q0 .. q0+3, whose offsets
// within an input plane are `pix`; pixels at or past `np` do not exist.
fn store_block(acc: mat4x4<f32>, plane0: u32, ci0: u32, q0: u32, np: u32, pix: vec4<u32>) {
  let hw = p.h * p.w;
  for (var i = 0u; i < 4u; i++) {
    let ci = ci0 + i;
    if (ci >= p.cin_g) { return; }
    let plane = plane0 + ci * hw;
    for (var j = 0u; j < 4u; j++) {
      if (q0 + j < np) {
        let at = plane + pix[j];
        var v = acc[i][j];
        if (p.accumulate != 0u) { v = dx[at] + v; }
        dx[at] = v;
      }
    }
  }
}

@compute @workgroup_size(WG_N, WG_M)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let tile = wid.x + wid.y * nwg.x;
  if (tile >= p.tiles) { return; }
  let tile_n = tile % p.tiles_n;
  let rest = tile / p.tiles_n;
  let tile_m = rest % p.tiles_m;
  let phase = rest / p.tiles_m;
  let py = phase / p.stride.x;
  let px = phase - py * p.stride.x;
  let wp = conv_phase_size(px, p.stride.x, p.w);
  let np = conv_phase_size(py, p.stride.y, p.h) * wp;
  let ci0 = (tile_m * WG_M + lid.y) * TM;
  let q0 = (tile_n * WG_N + lid.x) * TN;
  // No barriers below: invocations without work leave at once.
  if (q0 >= np || ci0 >= p.cin_g) { return; }
  let item = wid.z / p.groups;
  let g = wid.z - item * p.groups;
  let hwo = p.ho * p.wo;
  let taps = p.kh * p.kw;
  let kstep = taps * p.cin_g;   // between the weights of consecutive output channels

  // Weight rows (input channels, clamped to the group's last: rows past it compute copies never stored).
  let wg0 = g * p.cout_g * kstep;
  let last_row = p.cin_g - 1u;
  let wr0 = wg0 + min(ci0, last_row);
  let wr1 = wg0 + min(ci0 + 1u, last_row);
  let wr2 = wg0 + min(ci0 + 2u, last_row);
  let wr3 = wg0 + min(ci0 + 3u, last_row);
  let wr4 = wg0 + min(ci0 + 4u, last_row);
  let wr5 = wg0 + min(ci0 + 5u, last_row);
  let wr6 = wg0 + min(ci0 + 6u, last_row);
  let wr7 = wg0 + min(ci0 + 7u, last_row);

  // The block's phase pixels (clamped likewise) as (jy, jx) on the phase grid.
  let last_q = vec4<u32>(np - 1u);
  let q_lo = min(vec4<u32>(q0) + vec4<u32>(0u, 1u, 2u, 3u), last_q);
  let q_hi = min(vec4<u32>(q0) + vec4<u32>(4u, 5u, 6u, 7u), last_q);
  let jy_lo = q_lo / wp;
  let jy_hi = q_hi / wp;
  let jx_lo = q_lo - jy_lo * wp;
  let jx_hi = q_hi - jy_hi * wp;
  let ho_i = vec4<i32>(i32(p.ho));
  let wo_i = vec4<i32>(i32(p.wo));
  let dybase = vec4<u32>((item * p.cout + g * p.cout_g) * hwo);

  // The phase's taps: ky = ty.x + my·tap_step.y for my < ty.y, reading dy row jy + ty.z − my·off_step.y,
  // likewise along the width (common/conv_geometry.wgsl, conv_phase_taps); the taps that miss the
  // phase are never visited.
  let ty = conv_phase_taps(py, p.stride.y, p.pad.y, p.dilation.y, p.kh, p.tap_step.y);
  let tx = conv_phase_taps(px, p.stride.x, p.pad.x, p.dilation.x, p.kw, p.tap_step.x);
  var acc00 = mat4x4<f32>(); var acc01 = mat4x4<f32>();
  var acc10 = mat4x4<f32>(); var acc11 = mat4x4<f32>();
  for (var my = 0u; my < u32(ty.y); my++) {
    let ky = u32(ty.x) + my * p.tap_step.y;
    let oy_lo = vec4<i32>(jy_lo) + vec4<i32>(ty.z - i32(my * p.off_step.y));
    let oy_hi = vec4<i32>(jy_hi) + vec4<i32>(ty.z - i32(my * p.off_step.y));
    let iny_lo = (oy_lo >= vec4<i32>(0)) & (oy_lo < ho_i);
    let iny_hi = (oy_hi >= vec4<i32>(0)) & (oy_hi < ho_i);
    for (var mx = 0u; mx < u32(tx.y); mx++) {
      let kx = u32(tx.x) + mx * p.tap_step.x;
      let ox_lo = vec4<i32>(jx_lo) + vec4<i32>(tx.z - i32(mx * p.off_step.x));
      let ox_hi = vec4<i32>(jx_hi) + vec4<i32>(tx.z - i32(mx * p.off_step.x));
      let in_lo = iny_lo & (ox_lo >= vec4<i32>(0)) & (ox_lo < wo_i);
      let in_hi = iny_hi & (ox_hi >= vec4<i32>(0)) & (ox_hi < wo_i);
      let off_lo = dybase + vec4<u32>(select(vec4<i32>(0), oy_lo * wo_i + ox_lo, in_lo));
      let off_hi = dybase + vec4<u32>(select(vec4<i32>(0), oy_hi * wo_i + ox_hi, in_hi));
      let kb = (ky * p.kw + kx) * p.cin_g;
      for (var quad = 0u; quad < p.cout_q; quad++) {
        let c = 4u * quad;
        let k = kb + c * kstep;
        // Output channels in this quad: 4, or fewer in the last one when cout_g is not a multiple of 4.
        let n = select(4u, min(4u, p.cout_g - c), C_TAIL);
        let a0 = mat4x4<f32>(w4(wr0 + k, kstep, n), w4(wr1 + k, kstep, n), w4(wr2 + k, kstep, n), w4(wr3 + k, kstep, n));
        let b0 = mat4x4<f32>(din(dy4(off_lo.x, c, hwo, n), in_lo.x), din(dy4(off_lo.y, c, hwo, n), in_lo.y),
                             din(dy4(off_lo.z, c, hwo, n), in_lo.z), din(dy4(off_lo.w, c, hwo, n), in_lo.w));
        acc00 = update(acc00, a0, b0);
        if (TN > 4u) {
          let b1 = mat4x4<f32>(din(dy4(off_hi.x, c, hwo, n), in_hi.x), din(dy4(off_hi.y, c, hwo, n), in_hi.y),
                               din(dy4(off_hi.z, c, hwo, n), in_hi.z), din(dy4(off_hi.w, c, hwo, n), in_hi.w));
          acc01 = update(acc01, a0, b1);
          if (TM > 4u) {
            let a1 = mat4x4<f32>(w4(wr4 + k, kstep, n), w4(wr5 + k, kstep, n), w4(wr6 + k, kstep, n), w4(wr7 + k, kstep, n));
            acc10 = update(acc10, a1, b0);
            acc11 = update(acc11, a1, b1);
          }
        } else if (TM > 4u) {
          let a1 = mat4x4<f32>(w4(wr4 + k, kstep, n), w4(wr5 + k, kstep, n), w4(wr6 + k, kstep, n), w4(wr7 + k, kstep, n));
          acc10 = update(acc10, a1, b0);
        }
      }
    }
  }

  // Offsets within an input plane of the block's pixels: iy = py + jy·stride_y, ix likewise.
  let pix_lo = (vec4<u32>(py) + jy_lo * p.stride.y) * p.w + vec4<u32>(px) + jx_lo * p.stride.x;
  let pix_hi = (vec4<u32>(py) + jy_hi * p.stride.y) * p.w + vec4<u32>(px) + jx_hi * p.stride.x;
  let plane0 = (item * p.cin + g * p.cin_g) * p.h * p.w;
  store_block(acc00, plane0, ci0, q0, np, pix_lo);
  if (TN > 4u) { store_block(acc01, plane0, ci0, q0 + 4u, np, pix_hi); }
  if (TM > 4u) { store_block(acc10, plane0, ci0 + 4u, q0, np, pix_lo); }
  if (TM > 4u && TN > 4u) { store_block(acc11, plane0, ci0 + 4u, q0 + 4u, np, pix_hi); }
}
