// Weight and bias gradients of a 2-D convolution over NCHW f32 tensors (weights in
// [Cout, KH, KW, Cin/groups] order, as src/kernels/conv.ts's forward takes them):
//   dw[co, ky, kx, c] = Σ_{n, oy, ox} dy[n, co, oy, ox] · x[n, g·cin_g + c, iy, ix]
//     iy = oy·stride_y − pad_y + ky·dilation_y, ix likewise, x read as 0 outside the image,
//     g = co / cout_g
//   db[co] = Σ_{n, oy, ox} dy[n, co, oy, ox]
// Deterministic, without atomics: a workgroup holds ROWS gradient elements × LANES lanes. Only the
// output rows and columns whose tap lands inside the image are visited (worked out once per
// element, so the loop has no bounds tests and no divisions); lane l takes the columns
// ox0 + l, ox0 + l + LANES, … of every such row, sums each row on its own and adds the row sums in
// (n, oy) order (blocked summation: the error grows with the row length plus the row count, not
// their product), and the lanes are then added by a fixed pairwise tree in workgroup memory. The order depends on the sizes and the two
// `// @param`s only, so a run is bit-identical on the same adapter.
// Elements e < cout·kh·kw·cin_g are weights; the next `bias_count` (cout or 0) are the biases.
// With `accumulate` = 1 the sums are added to dw and db (gradient accumulation over micro-batches).
// @include common/dispatch.wgsl

const LANES: u32 = 16u;  // @param lanes per element (a power of two)
const ROWS: u32 = 4u;    // @param elements per workgroup

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
  weight_count: u32,    // cout · kh · kw · cin_g
  bias_count: u32,      // cout, or 0 without a bias
  groups_total: u32,    // workgroups holding elements
  accumulate: u32,      // 1: add to dw and db
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;
@group(0) @binding(4) var<storage, read_write> db: array<f32>;

var<workgroup> part: array<f32, 256>;

// The output indices [first, end) along one axis whose tap k reads inside the input:
// 0 ≤ o·stride − pad + k·dilation < n_in, clipped to 0 ≤ o < n_out.
fn tap_range(k: u32, stride: u32, pad: u32, dilation: u32, n_in: u32, n_out: u32) -> vec2<u32> {
  let shift = i32(pad) - i32(k * dilation);   // o·stride ≥ shift
  let s = i32(stride);
  let first = select(0, (shift + s - 1) / s, shift > 0);
  let top = i32(n_in) - 1 + shift;            // o·stride ≤ top
  if (top < 0) { return vec2<u32>(0u, 0u); }
  let end = min(top / s + 1, i32(n_out));
  return vec2<u32>(u32(first), u32(max(end, first)));
}

@compute @workgroup_size(LANES, ROWS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let group = workgroup_linear(wid, nwg);
  if (group >= p.groups_total) { return; }  // uniform: the whole workgroup leaves
  let e = group * ROWS + lid.y;
  let lane = lid.x;
  let hwo = p.ho * p.wo;
  let is_weight = e < p.weight_count;
  let is_bias = !is_weight && e < p.weight_count + p.bias_count;

  var acc = 0.0;
  if (is_weight) {
    let cil = e % p.cin_g;
    let r0 = e / p.cin_g;
    let kx = r0 % p.kw;
    let r1 = r0 / p.kw;
    let ky = r1 % p.kh;
    let co = r1 / p.kh;
    let ci = (co / p.cout_g) * p.cin_g + cil;
    let ry = tap_range(ky, p.stride.y, p.pad.y, p.dilation.y, p.h, p.ho);
    let rx = tap_range(kx, p.stride.x, p.pad.x, p.dilation.x, p.w, p.wo);
    // Input offset of output pixel (oy, ox) under this tap: oy·stride_y + off_y rows, likewise columns.
    let off_y = i32(ky * p.dilation.y) - i32(p.pad.y);
    let off_x = i32(kx * p.dilation.x) - i32(p.pad.x);
    let hw = p.h * p.w;
    for (var item = 0u; item < p.batch; item++) {
      let dy_plane = (item * p.cout + co) * hwo;
      let x_plane = (item * p.cin + ci) * hw;
      for (var oy = ry.x; oy < ry.y; oy++) {
        let dy_row = dy_plane + oy * p.wo;
        let x_row = x_plane + u32(i32(oy * p.stride.y) + off_y) * p.w;
        var row = 0.0;
        for (var ox = rx.x + lane; ox < rx.y; ox += LANES) {
          row += dy[dy_row + ox] * x[x_row + u32(i32(ox * p.stride.x) + off_x)];
        }
        acc += row;
      }
    }
  } else if (is_bias) {
    let co = e - p.weight_count;
    for (var item = 0u; item < p.batch; item++) {
      let dy_plane = (item * p.cout + co) * hwo;
      for (var oy = 0u; oy < p.ho; oy++) {
        var row = 0.0;
        for (var ox = lane; ox < p.wo; ox += LANES) { row += dy[dy_plane + oy * p.wo + ox]; }
        acc += row;
      }
    }
  }

  let slot = lid.y * LANES + lane;
  part[slot] = acc;
  workgroupBarrier();
  for (var s = LANES / 2u; s > 0u; s = s / 2u) {
    if (lane < s) { part[slot] = part[slot] + part[slot + s]; }
    workgroupBarrier();
  }
  if (lane != 0u) { return; }
  var v = part[slot];
  if (is_weight) {
    if (p.accumulate != 0u) { v = dw[e] + v; }
    dw[e] = v;
  } else if (is_bias) {
    let co = e - p.weight_count;
    if (p.accumulate != 0u) { v = db[co] + v; }
    db[co] = v;
  }
}
