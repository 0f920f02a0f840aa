// Fused multi-head attention, the variant for real GPUs: one workgroup per (batch item, head, tile
// of BQ query rows), one query row per invocation. The workgroup stages BK keys' K and V rows at a
// time in workgroup memory and every invocation runs an online softmax (FA-2 style) over them:
// running maximum m and denominator l, the accumulator rescaled by exp2(m_old − m) once per tile,
// one division by l at the end. Logits are base 2 (scale2 = scale · log2 e is folded into q).
// Same semantics, bindings, layout and uniform flags as attention/register.wgsl.
//
// Workgroup memory:
//   kt  K tile stored head-dim-major, four keys per vec4: kt[d · KT_STRIDE + jq] holds dim d of keys
//       4jq .. 4jq+3. The score loop then reads one vec4 (the same address in every lane: a
//       broadcast) per four multiply-adds. KT_STRIDE = BK/4 + 1 pads each row so that the
//       transposing store, where neighbouring lanes write neighbouring d, spreads over the banks.
//   vt  V tile key-major, vt[j · HD/4 + dd] = dims 4dd .. 4dd+3 of key j (copied as read: coalesced).
// The host picks BK so that both fit the device's workgroup storage (src/kernels/attention.ts).
// @include common/dispatch.wgsl
// @include common/float.wgsl

const HD: u32 = 64u;         // @param head dim: a multiple of 4, at most 128
const BQ: u32 = 64u;         // @param query rows per workgroup (= invocations)
const BK: u32 = 16u;         // @param keys per K/V tile, a multiple of 4

const HD4: u32 = HD / 4u;
const BK4: u32 = BK / 4u;
const KT_STRIDE: u32 = BK / 4u + 1u;

struct Params {
  count: u32,       // workgroups: batch · heads · q_blocks
  len: u32,
  heads: u32,
  q_blocks: u32,    // ceil(len / BQ)
  row_stride: u32,  // vec4s from one token's q/k/v row to the next
  q_off: u32,
  k_off: u32,
  v_off: u32,
  scale2: f32,      // scale · log2(e)
  causal: u32,      // 1: mask key j > query i (text encoder)
  write_stats: u32, // 1: write each row's log2-sum-exp2 m + log2(l) to `stats` [B, H, L] (attention/probs.wgsl)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> o: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;

var<workgroup> kt: array<vec4<f32>, HD * KT_STRIDE>;
var<workgroup> vt: array<vec4<f32>, BK * HD4>;

@compute @workgroup_size(BQ)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let wg = workgroup_linear(wid, nwg);
  if (wg >= p.count) { return; }        // uniform: the whole workgroup leaves
  let bh = wg / p.q_blocks;
  let q0 = (wg % p.q_blocks) * BQ;
  let h = bh % p.heads;
  let tok0 = (bh / p.heads) * p.len;
  let col0 = h * HD4;
  // Rows past the end compute on the last row (every invocation must reach the barriers) and
  // store nothing.
  let row = q0 + lid;
  let row_c = min(row, p.len - 1u);
  let stride = p.row_stride;

  // Every accumulator gets an explicit zero value: a `var` declared without an initializer inside a
  // loop is NOT re-zeroed on each iteration by Dawn (webgpu@0.6.2) on SwiftShader, although WGSL
  // says it should be (measured: the scores `s` below carried over from tile to tile).
  var qr: array<vec4<f32>, HD4>;
  var acc = array<vec4<f32>, HD4>();
  let qi = (tok0 + row_c) * stride + p.q_off + col0;
  for (var dd = 0u; dd < HD4; dd++) { qr[dd] = q[qi + dd] * p.scale2; }

  let end = select(p.len, row_c + 1u, p.causal != 0u);             // this row sees keys [0, end)
  let keys_end = select(p.len, min(p.len, q0 + BQ), p.causal != 0u); // the tile's last row sees keys [0, keys_end)
  let k0 = tok0 * stride + p.k_off + col0;
  let v0 = tok0 * stride + p.v_off + col0;
  // See attention/register.wgsl: m starts finite so that exp2(m − m_new) is 0, not NaN.
  var m = F32_LOWEST;
  var l = 0.0;
  for (var t0 = 0u; t0 < keys_end; t0 += BK) {
    // Stage the tile; keys past the sequence load its last key and are masked below.
    for (var e = lid; e < HD * BK4; e += BQ) {
      let d = e % HD;
      let jq = e / HD;
      var kv: vec4<f32>;
      for (var c = 0u; c < 4u; c++) {
        let f = (k0 + min(t0 + 4u * jq + c, p.len - 1u) * stride) * 4u + d;
        kv[c] = k[f / 4u][f % 4u];
      }
      kt[d * KT_STRIDE + jq] = kv;
    }
    for (var e = lid; e < BK * HD4; e += BQ) {
      let j = e / HD4;
      vt[e] = v[v0 + min(t0 + j, p.len - 1u) * stride + e % HD4];
    }
    workgroupBarrier();

    var s = array<vec4<f32>, BK4>();
    for (var dd = 0u; dd < HD4; dd++) {
      let qv = qr[dd];
      let r = 4u * dd * KT_STRIDE;
      for (var jq = 0u; jq < BK4; jq++) {
        s[jq] += qv.x * kt[r + jq] + qv.y * kt[r + KT_STRIDE + jq]
               + qv.z * kt[r + 2u * KT_STRIDE + jq] + qv.w * kt[r + 3u * KT_STRIDE + jq];
      }
    }
    var m_new = m;
    for (var jq = 0u; jq < BK4; jq++) {
      let key = vec4<u32>(t0 + 4u * jq) + vec4<u32>(0u, 1u, 2u, 3u);
      s[jq] = select(vec4<f32>(F32_LOWEST), s[jq], key < vec4<u32>(end));
      m_new = max(m_new, max(max(s[jq].x, s[jq].y), max(s[jq].z, s[jq].w)));
    }
    let alpha = exp2(m - m_new);
    l = l * alpha;
    for (var dd = 0u; dd < HD4; dd++) { acc[dd] = acc[dd] * alpha; }
    for (var jq = 0u; jq < BK4; jq++) {
      let key = vec4<u32>(t0 + 4u * jq) + vec4<u32>(0u, 1u, 2u, 3u);
      let w = select(vec4<f32>(), exp2(s[jq] - m_new), key < vec4<u32>(end));
      l += (w.x + w.y) + (w.z + w.w);
      let r = 4u * jq * HD4;
      for (var dd = 0u; dd < HD4; dd++) {
        acc[dd] += w.x * vt[r + dd] + w.y * vt[r + HD4 + dd] + w.z * vt[r + 2u * HD4 + dd] + w.w * vt[r + 3u * HD4 + dd];
      }
    }
    m = m_new;
    workgroupBarrier();
  }

  if (row < p.len) {
    let out0 = (tok0 + row) * (p.heads * HD4) + col0;
    let inv_l = 1.0 / l;
    for (var dd = 0u; dd < HD4; dd++) { o[out0 + dd] = acc[dd] * inv_l; }
    if (p.write_stats != 0u) { stats[bh * p.len + row] = m + log2(l); }
  }
}
