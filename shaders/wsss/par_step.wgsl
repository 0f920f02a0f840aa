// One PAR iteration (docs/algorithms.md §5): m_out[c, i] = Σ_j aff[j, i] · m_in[c, neighbour_j(i)], with
// neighbour j of (y, x) at (y + dy_j, x + dx_j) clamped to the image (replicate padding) and the
// sum in neighbour order. One invocation per (pixel, group of 4 channels): each weight is loaded
// once for 4 channels; channels past C in the last group read a clamped channel and are not written.
// @include common/dispatch.wgsl

const WG: u32 = 64u; // @param invocations per workgroup

struct Params {
  h: u32,
  w: u32,
  taps: u32,
  channels: u32,
  groups: u32, // ceil(channels / 4)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> aff: array<f32>;
@group(0) @binding(2) var<storage, read> offsets: array<i32>;
@group(0) @binding(3) var<storage, read> m_in: array<f32>;
@group(0) @binding(4) var<storage, read_write> m_out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = workgroup_linear(wid, nwg) * WG + lid;
  let plane = p.h * p.w;
  if (g >= plane * p.groups) { return; }
  let i = g % plane;
  let c0 = (g / plane) * 4u;
  let last = p.channels - 1u;
  let b0 = min(c0, last) * plane;
  let b1 = min(c0 + 1u, last) * plane;
  let b2 = min(c0 + 2u, last) * plane;
  let b3 = min(c0 + 3u, last) * plane;
  let y = i32(i / p.w);
  let x = i32(i % p.w);
  var acc = vec4<f32>(0.0);
  for (var j = 0u; j < p.taps; j++) {
    let yy = clamp(y + offsets[2u * j], 0, i32(p.h) - 1);
    let xx = clamp(x + offsets[2u * j + 1u], 0, i32(p.w) - 1);
    let n = u32(yy) * p.w + u32(xx);
    acc += aff[j * plane + i] * vec4<f32>(m_in[b0 + n], m_in[b1 + n], m_in[b2 + n], m_in[b3 + n]);
  }
  m_out[c0 * plane + i] = acc.x;
  if (c0 + 1u < p.channels) { m_out[(c0 + 1u) * plane + i] = acc.y; }
  if (c0 + 2u < p.channels) { m_out[(c0 + 2u) * plane + i] = acc.z; }
  if (c0 + 3u < p.channels) { m_out[(c0 + 3u) * plane + i] = acc.w; }
}
