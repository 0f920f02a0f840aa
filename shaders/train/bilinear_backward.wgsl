// Backward of bilinear resampling (resize/bilinear.wgsl's lerp form: F.interpolate(mode='bilinear')
// with and without align_corners), gathered per input element so that each is written once, in a
// fixed order, without atomics. The forward reads, per output (oy, ox), rows i0(oy), i1(oy) with
// weights wy0, wy1 and columns i0(ox), i1(ox) with wx0, wx1; so
//   dx[plane, iy, ix] = Σ_{(oy, wy) ∈ rows(iy)} Σ_{(ox, wx) ∈ cols(ix)} g[plane, oy, ox]·wy·wx
// where rows(iy) lists every (output row, weight) whose tap i0 or i1 is iy (a clamped border
// output lists the same row twice, once per tap, as PyTorch's backward adds both). The host
// inverts the forward's per-axis taps (src/kernels/bilinear.ts, linearAxis) into these lists,
// in increasing output order, in one u32 table:
//   tab[0 .. in_h]                         row list starts (in_h + 1 offsets into the row entries)
//   tab[col_starts .. col_starts + in_w]   column list starts
//   tab[row_entries + 2k], [+ 2k + 1]      entry k of the rows: output row, bits of the f32 weight
//   tab[col_entries + 2k], [+ 2k + 1]      likewise for the columns
// The product is (wy·wx)·g, the order of PyTorch's CPU backward.
// @include common/dispatch.wgsl

const WG: u32 = 256u;  // @param invocations per workgroup

struct Params {
  in_h: u32,
  in_w: u32,
  out_h: u32,
  out_w: u32,
  col_starts: u32,
  row_entries: u32,
  col_entries: u32,
  count: u32,       // planes · in_h · in_w
  accumulate: u32,  // 1: dx += gradient
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> tab: array<u32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = workgroup_linear(wid, nwg) * WG + lid;
  if (e >= p.count) { return; }
  let plane_in = p.in_h * p.in_w;
  let plane = e / plane_in;
  let at = e - plane * plane_in;
  let iy = at / p.in_w;
  let ix = at - iy * p.in_w;
  let base = plane * p.out_h * p.out_w;
  let r_end = tab[iy + 1u];
  let c_begin = tab[p.col_starts + ix];
  let c_end = tab[p.col_starts + ix + 1u];
  var acc = 0.0;
  for (var r = tab[iy]; r < r_end; r++) {
    let oy = tab[p.row_entries + 2u * r];
    let wy = bitcast<f32>(tab[p.row_entries + 2u * r + 1u]);
    let row = base + oy * p.out_w;
    for (var c = c_begin; c < c_end; c++) {
      let ox = tab[p.col_entries + 2u * c];
      let wx = bitcast<f32>(tab[p.col_entries + 2u * c + 1u]);
      acc += (wy * wx) * g[row + ox];
    }
  }
  if (p.accumulate != 0u) { acc = dx[e] + acc; }
  dx[e] = acc;
}
