// CLIP-ES's class head and its gradient for one image (docs/algorithms.md §1.5, §3.4), batched over the
// K target classes:
//   forward   ê = e / |e|,  T̂_r = T_r / |T_r|,  l_r = κ · ê·T̂_r,  p = softmax(l) over the R text rows
//   backward  for each target c < K (text row c, loss p_c):
//             dl_r = p_c (δ_rc − p_r),  dê = κ Σ_r dl_r T̂_r,  de_c = (dê − ê (ê·dê)) / |e|
// ê·dê is Σ_r dl_r l_r (= κ Σ_r dl_r ê·T̂_r), so no second reduction over E is needed.
// Outputs: probs [R], de [K, E]. Plain L2 norms without an epsilon, as CLIP-ES (a zero row is the
// caller's error to catch).
//
// One workgroup: the head is tiny ([R, E] with R = K + M ≈ 30–100 and E = 512), so the point is
// only to keep it on the GPU between the forward and the backward pass. Lanes split E for the norms
// and the gradient, and the rows for the dots; lane 0 does the R-long softmax.

const WG: u32 = 64u;           // @param invocations in the one workgroup
const MAX_ROWS: u32 = 1024u;   // capacity of the per-row workgroup arrays (checked by the host)

struct Params {
  rows: u32,      // R = K + M
  classes: u32,   // K ≤ R
  dim: u32,       // E
  kappa: f32,     // exp(logit_scale)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> e: array<f32>;
@group(0) @binding(2) var<storage, read> text: array<f32>;
@group(0) @binding(3) var<storage, read_write> probs: array<f32>;
@group(0) @binding(4) var<storage, read_write> de: array<f32>;

var<workgroup> part: array<f32, WG>;
var<workgroup> e_norm: f32;
var<workgroup> logit: array<f32, MAX_ROWS>;     // l_r; afterwards, for r < K, s_r = Σ_q dl_q l_q of class r
var<workgroup> prob: array<f32, MAX_ROWS>;
var<workgroup> inv_norm: array<f32, MAX_ROWS>;  // 1 / |T_r|

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  let dim = p.dim;
  // |e|
  var ee = 0.0;
  for (var d = lid; d < dim; d += WG) { ee += e[d] * e[d]; }
  part[lid] = ee;
  workgroupBarrier();
  if (lid == 0u) {
    var s = 0.0;
    for (var i = 0u; i < WG; i++) { s += part[i]; }
    e_norm = sqrt(s);
  }
  workgroupBarrier();
  let en = e_norm;

  // Logits: a lane per row.
  for (var r = lid; r < p.rows; r += WG) {
    var tt = 0.0;
    var te = 0.0;
    let t0 = r * dim;
    for (var d = 0u; d < dim; d++) {
      let t = text[t0 + d];
      tt += t * t;
      te += t * e[d];
    }
    let inv = 1.0 / sqrt(tt);
    inv_norm[r] = inv;
    logit[r] = p.kappa * ((te / en) * inv);
  }
  workgroupBarrier();

  // Softmax with max subtraction, Σ_r p_r l_r, and s_c = p_c (l_c − Σ_r p_r l_r) for the targets.
  if (lid == 0u) {
    var m = logit[0];
    for (var r = 1u; r < p.rows; r++) { m = max(m, logit[r]); }
    var z = 0.0;
    for (var r = 0u; r < p.rows; r++) {
      let x = exp(logit[r] - m);
      prob[r] = x;
      z += x;
    }
    var mean_l = 0.0;
    for (var r = 0u; r < p.rows; r++) {
      let pr = prob[r] / z;
      prob[r] = pr;
      probs[r] = pr;
      mean_l += pr * logit[r];
    }
    for (var c = 0u; c < p.classes; c++) { logit[c] = prob[c] * (logit[c] - mean_l); }
  }
  workgroupBarrier();

  // de_c[d] = (κ Σ_r dl_r T̂_rd − ê_d s_c) / |e|: a lane per embedding dimension.
  for (var d = lid; d < dim; d += WG) {
    let e_hat = e[d] / en;
    for (var c = 0u; c < p.classes; c++) {
      let pc = prob[c];
      var acc = 0.0;
      for (var r = 0u; r < p.rows; r++) {
        let dl = select(-pc * prob[r], pc * (1.0 - pc), r == c);
        acc += dl * (text[r * dim + d] * inv_norm[r]);
      }
      de[c * dim + d] = (p.kappa * acc - e_hat * logit[c]) / en;
    }
  }
}
