// The label half of DeepLab's training augmentation for one sample (src/kernels/train/augment.ts):
// nearest-neighbour resize of a byte label map [src_h, src_w] (packed four per u32, byte 0 first)
// to [res_h, res_w], padding bottom and right with `ignore`, a crop_h × crop_w window at
// (off_y, off_x) of the padded map, optionally mirrored left-right, into slot `out_base` of a batch
// label buffer that the cross-entropy kernels read (src/kernels/train/loss.ts):
//   PACKED = false: one u32 per pixel, one invocation per pixel;
//   PACKED = true:  bytes packed four per u32 word; one invocation owns one whole word. A slot need
//                   not start on a word boundary (321² is odd), so the first and last words may hold
//                   a neighbouring slot's bytes: those are read and written back unchanged. Slots are
//                   separate dispatches, which WebGPU orders, so no word has two writers at once.
// tab holds the source row of every resized row (the first res_h entries), then the source column
// of every resized column (PIL's or cv2's nearest rule, computed on the host).
// @include common/dispatch.wgsl

const PACKED: bool = false;  // @param labels packed four per u32 word (else one u32 each)
const WG: u32 = 256u;        // @param invocations per workgroup

struct Params {
  src_w: u32,
  res_h: u32,
  res_w: u32,
  crop_w: u32,
  off_y: u32,
  off_x: u32,
  flip: u32,        // 1: mirror the crop left-right
  count: u32,       // crop_h · crop_w
  out_base: u32,    // slot · count: the slot's first pixel in the batch
  first_word: u32,  // PACKED: out_base / 4
  work: u32,        // invocations: count, or (PACKED) the words the slot touches
  ignore: u32,      // the label of padded pixels
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read> tab: array<u32>;
@group(0) @binding(3) var<storage, read_write> labels: array<u32>;

// The label of crop pixel i (row-major in the crop).
fn label_at(i: u32) -> u32 {
  let oy = i / p.crop_w;
  let ox = i - oy * p.crop_w;
  let py = p.off_y + oy;
  let px = p.off_x + select(ox, p.crop_w - 1u - ox, p.flip != 0u);
  if (py >= p.res_h || px >= p.res_w) { return p.ignore; }
  let s = tab[py] * p.src_w + tab[p.res_h + px];
  return (src[s >> 2u] >> (8u * (s & 3u))) & 0xffu;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = workgroup_linear(wid, nwg) * WG + lid;
  if (e >= p.work) { return; }
  if (!PACKED) {
    labels[p.out_base + e] = label_at(e);
    return;
  }
  let w = p.first_word + e;
  let b0 = 4u * w;
  let end = p.out_base + p.count;
  var word = 0u;
  if (b0 < p.out_base || b0 + 4u > end) { word = labels[w]; }
  for (var k = 0u; k < 4u; k++) {
    let b = b0 + k;
    if (b >= p.out_base && b < end) {
      let shift = 8u * k;
      word = (word & ~(0xffu << shift)) | (label_at(b - p.out_base) << shift);
    }
  }
  labels[w] = word;
}
