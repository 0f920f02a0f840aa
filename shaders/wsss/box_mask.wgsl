// CLIP-ES's scoremap2bbox box masks and the masked CAMs of CAA (docs/algorithms.md §3.5), one
// workgroup per class row of cams [K, n] (n = gh·gw, row-major):
//   s8   = u32(cam·255): one f32 multiply, truncated (numpy's astype(uint8) of the float32 product)
//   top  = max s8 over the row (a workgroup atomicMax)
//   thr  = thr_of[top]: int(λ·top) with the product in float64, tabulated on the host, because an
//          f32 λ·top can land on the other side of an integer than the float64 one
//   foreground s8 > thr; its 8-connected components by union-find (below); one bounding box per
//   component (atomicMin/Max at its root); mask = the union of the boxes, where `clip` cuts each box's
//   far edges x1 = max x + 1 and y1 = max y + 1 to gw − 1 and gh − 1 as CLIP-ES does;
//   masked = mask ? cam : 0, and mask itself (0/1 per cell).
//
// Union-find without locks: a link always points a root at a smaller index (atomicMin), so parent[i]
// ≤ i, a component's root ends as its smallest cell, and the result does not depend on scheduling.
// `unite` retries when its root was linked elsewhere between its find and its atomicMin (atomicMin
// then returns that other parent, whose set it unites next); `find` halves paths with a
// compare-exchange, so it never overwrites a newer link. The labels, boxes and mask live in storage
// buffers rather than workgroup memory, so every grid the pipeline accepts fits; the workgroup
// owns its row alone, and storageBarrier() separates the phases.
//
// In [0, 1] s8 matches the host's Math.trunc(Math.fround(cam·255)) exactly. Outside it the host
// refuses the CAM; here s8 saturates to 0..255 (NaN counts as 0) so that every index stays in range,
// and `bad` records the first such value: max of 0xffffffff − flat index (0 when all are in [0, 1]),
// tested on the bits so that no NaN comparison is involved.
// @include common/dispatch.wgsl

const WG: u32 = 256u; // @param invocations per workgroup
const NONE: u32 = 0xffffffffu;

struct Params {
  k: u32,
  n: u32,
  gh: u32,
  gw: u32,
  clip: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> cams: array<f32>;
@group(0) @binding(2) var<storage, read> thr_of: array<u32>;
@group(0) @binding(3) var<storage, read_write> masked: array<f32>;
@group(0) @binding(4) var<storage, read_write> mask: array<atomic<u32>>;
// Per class c, five runs of n: parent, then the boxes' min x, min y, max x, max y by root.
@group(0) @binding(5) var<storage, read_write> work: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read_write> bad: array<atomic<u32>>;

var<workgroup> top: atomic<u32>;

fn level(v: f32) -> u32 {
  let s = v * 255.0;
  return select(0u, u32(min(s, 255.0)), s > 0.0);
}

fn find(par: u32, i: u32) -> u32 {
  var r = i;
  loop {
    let q = atomicLoad(&work[par + r]);
    if (q == r) { break; }
    let g = atomicLoad(&work[par + q]);
    // g is q's parent, so in r's set; only a non-root r is touched, so unite's root test holds.
    if (g != q) { _ = atomicCompareExchangeWeak(&work[par + r], q, g); }
    r = q;
  }
  return r;
}

fn unite(par: u32, i: u32, j: u32) {
  var a = find(par, i);
  var b = find(par, j);
  loop {
    if (a == b) { break; }
    let hi = max(a, b);
    let lo = min(a, b);
    let old = atomicMin(&work[par + hi], lo);
    if (old == hi) { break; }
    // hi was linked to old meanwhile and now points at min(old, lo): old's set still needs lo's.
    a = find(par, old);
    b = find(par, lo);
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let c = workgroup_linear(wid, nwg);
  if (c >= p.k) { return; } // the same for the whole workgroup: barriers stay uniform
  let n = p.n;
  let gw = p.gw;
  let row = c * n;
  let par = 5u * row;
  let x0s = par + n;
  let y0s = par + 2u * n;
  let x1s = par + 3u * n;
  let y1s = par + 4u * n;

  if (lid == 0u) { atomicStore(&top, 0u); }
  workgroupBarrier();
  for (var i = lid; i < n; i += WG) {
    let bits = bitcast<u32>(cams[row + i]);
    // [0, 1] is +0 .. 0x3f800000 (and −0); negatives, > 1, ±inf and NaN are not.
    if (bits > 0x3f800000u && bits != 0x80000000u) { atomicMax(&bad[0], 0xffffffffu - (row + i)); }
    atomicMax(&top, level(cams[row + i]));
    atomicStore(&work[par + i], i);
    atomicStore(&work[x0s + i], NONE);
    atomicStore(&work[y0s + i], NONE);
    atomicStore(&work[x1s + i], 0u);
    atomicStore(&work[y1s + i], 0u);
    atomicStore(&mask[row + i], 0u);
  }
  workgroupBarrier();
  storageBarrier();
  let thr = thr_of[min(atomicLoad(&top), 255u)];

  // Each adjacent pair of foreground cells once, from its later cell: left, up-left, up, up-right.
  for (var i = lid; i < n; i += WG) {
    if (level(cams[row + i]) <= thr) { continue; }
    let y = i / gw;
    let x = i - y * gw;
    if (x > 0u && level(cams[row + i - 1u]) > thr) { unite(par, i, i - 1u); }
    if (y > 0u) {
      let up = i - gw;
      if (x > 0u && level(cams[row + up - 1u]) > thr) { unite(par, i, up - 1u); }
      if (level(cams[row + up]) > thr) { unite(par, i, up); }
      if (x + 1u < gw && level(cams[row + up + 1u]) > thr) { unite(par, i, up + 1u); }
    }
  }
  storageBarrier();

  for (var i = lid; i < n; i += WG) {
    if (level(cams[row + i]) <= thr) { continue; }
    let r = find(par, i);
    let y = i / gw;
    let x = i - y * gw;
    atomicMin(&work[x0s + r], x);
    atomicMin(&work[y0s + r], y);
    atomicMax(&work[x1s + r], x);
    atomicMax(&work[y1s + r], y);
  }
  storageBarrier();

  // One box per root (a foreground cell that is its own parent); boxes may overlap.
  for (var r = lid; r < n; r += WG) {
    if (atomicLoad(&work[par + r]) != r || level(cams[row + r]) <= thr) { continue; }
    let bx0 = atomicLoad(&work[x0s + r]);
    let by0 = atomicLoad(&work[y0s + r]);
    var bx1 = atomicLoad(&work[x1s + r]) + 1u;
    var by1 = atomicLoad(&work[y1s + r]) + 1u;
    if (p.clip != 0u) {
      bx1 = min(bx1, gw - 1u);
      by1 = min(by1, p.gh - 1u);
    }
    for (var y = by0; y < by1; y++) {
      for (var x = bx0; x < bx1; x++) { atomicStore(&mask[row + y * gw + x], 1u); }
    }
  }
  storageBarrier();

  for (var i = lid; i < n; i += WG) {
    masked[row + i] = select(0.0, cams[row + i], atomicLoad(&mask[row + i]) != 0u);
  }
}
