// Plain float64 references for the dense CRF of CLIP-ES (docs/algorithms.md §3.6), written from the
// definition of pydensecrf's inference (Krähenbühl & Koltun 2011; the permutohedral lattice of Adams,
// Baek & Davis 2010 as densecrf's permutohedral.cpp builds it) independently of src/wsss/crf*.ts:
// string-keyed maps instead of a hash table, sorting instead of pairwise rank counting, explicit
// per-vertex value vectors.
//
// Precision: the lattice's *structure* (which simplex a feature falls in, hence which vertices exist)
// follows pydensecrf's float32 arithmetic step by step, because that decides which vertices exist and
// a different vertex set changes the blur. Everything after that (barycentric weights, splat, blur,
// slice, normalisation, mean field) is float64. Images are [H, W, 3] bytes; probabilities and
// posteriors are planar [C, H·W].

const f32 = Math.fround;

// ---------------------------------------------------------------------------------------------
// binary16 rounding and the unary

/** Round a float64 to the nearest IEEE binary16 value (ties to even), returned as a number. */
export function fp16(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  if (a >= 65520) return sign * Infinity; // halfway to 2^16 and above round to infinity
  // Spacing of binary16 values around a: 2^-24 below 2^-14 (subnormals), else 2^(e-10).
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  const ulp = e < -14 ? 2 ** -24 : 2 ** (e - 10);
  const t = a / ulp; // exact: division by a power of two
  const fl = Math.floor(t);
  const frac = t - fl;
  const n = frac > 0.5 ? fl + 1 : frac < 0.5 ? fl : fl % 2 === 0 ? fl : fl + 1;
  return sign * n * ulp;
}

/** fp16(1e-5): the clip bound numpy uses when clipping a float16 array with the scalar 1e-5. */
export const FP16_CLIP_MIN = fp16(1e-5);

/**
 * pydensecrf `unary_from_softmax` on CLIP-ES's float16 map: clip to [1e-5, 1] in float16, −log in
 * float16 (numpy evaluates log for float16 in float32 and rounds the result to float16), cast to
 * float32. Input values are rounded to float16 first (they should already be float16 values).
 */
export function unaryRef(probs: ArrayLike<number>): Float64Array {
  const out = new Float64Array(probs.length);
  for (let i = 0; i < probs.length; i++) {
    const p = fp16(probs[i]!);
    if (!Number.isFinite(p)) throw new Error(`unaryRef: probability ${probs[i]} at ${i} is not finite`);
    const clipped = Math.min(Math.max(p, FP16_CLIP_MIN), 1);
    out[i] = fp16(-f32(Math.log(clipped)));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Features (float32, as DenseCRF2D builds them: x = column, y = row)

/** Gaussian features per pixel [x/sxy, y/sxy], rows of the returned array. */
export function gaussianFeaturesRef(h: number, w: number, sxy: number): number[][] {
  const out: number[][] = [];
  const s = f32(sxy);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out.push([f32(x / s), f32(y / s)]);
  return out;
}

/** Bilateral features per pixel [x/sxy, y/sxy, c0/srgb, c1/srgb, c2/srgb]. */
export function bilateralFeaturesRef(image: ArrayLike<number>, h: number, w: number, sxy: number, srgb: number): number[][] {
  const out: number[][] = [];
  const s = f32(sxy), r = f32(srgb);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = 3 * (y * w + x);
      out.push([f32(x / s), f32(y / s), f32(image[p]! / r), f32(image[p + 1]! / r), f32(image[p + 2]! / r)]);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The permutohedral lattice

export interface LatticeRef {
  d: number;
  /** Vertex keys (the first d of the d+1 lattice coordinates; they sum to 0). */
  keys: string[];
  /** Per point: the d+1 enclosing-simplex vertices (indices into keys) and barycentric weights. */
  vertices: number[][];
  weights: number[][];
  /** Per point: the elevated position (d+1 coordinates, float32 as computed), for checks. */
  elevated: number[][];
}

/** Round half to even, as SSE's cvtps2dq does under the default rounding mode. */
function roundHalfEven(v: number): number {
  const fl = Math.floor(v);
  const frac = v - fl;
  if (frac > 0.5) return fl + 1;
  if (frac < 0.5) return fl;
  return fl % 2 === 0 ? fl : fl + 1;
}

/**
 * densecrf's x86 (SSE) build elevates points four at a time and fills the last group with all-zero
 * feature vectors, whose simplex vertices it also inserts (never splatting them): those vertices exist
 * for the blur. Reproduced by appending the zero vectors and recording only the real points.
 */
export function latticeRef(features: number[][], d: number): LatticeRef {
  const d1 = d + 1;
  // Elevation onto the plane Σ = 0 in R^{d+1}, scaled so that the [1/2, 1, 1/2] blur along the d+1
  // lattice directions approximates a unit Gaussian: per coordinate i the scale
  // sqrt(2/3)·(d+1)/sqrt((i+1)(i+2)) (computed in double, stored as float, like densecrf).
  const invStd = f32(Math.sqrt(2 / 3) * d1);
  const scale = Array.from({ length: d }, (_, i) => f32((1 / Math.sqrt((i + 2) * (i + 1))) * invStd));
  const down = f32(1 / d1);
  const index = new Map<string, number>();
  const lat: LatticeRef = { d, keys: [], vertices: [], weights: [], elevated: [] };
  const padding = Array.from({ length: (4 - (features.length % 4)) % 4 }, () => new Array<number>(d).fill(0));
  for (const [p, f] of [...features, ...padding].entries()) {
    const real = p < features.length;
    // elevated[j] = Σ_{i≥j} c_i − j·c_{j−1} with c_i = f_i·scale_i, accumulated from the last
    // coordinate down in float32 (densecrf's order).
    const el = new Array<number>(d1);
    let acc = 0;
    for (let j = d; j >= 1; j--) {
      const c = f32(f[j - 1]! * scale[j - 1]!);
      el[j] = f32(acc - f32(j * c));
      acc = f32(acc + c);
    }
    el[0] = acc;
    // Nearest remainder-0 point: each coordinate to the nearest multiple of d+1.
    const rounded = el.map((v) => roundHalfEven(f32(v * down)));
    const rem0 = rounded.map((k) => k * d1);
    const excess = rounded.reduce((a, b) => a + b, 0); // (Σ rem0)/(d+1): how far off the plane
    // Rank of each coordinate's residual, descending; equal residuals keep index order.
    const residual = el.map((v, i) => f32(v - rem0[i]!));
    const order = residual.map((_, i) => i).sort((a, b) => residual[b]! - residual[a]! || a - b);
    const rank = new Array<number>(d1);
    order.forEach((coord, pos) => (rank[coord] = pos));
    // Put the point back on the plane: shifting ranks by the excess, wrapping coordinates whose
    // rank leaves 0..d to the neighbouring multiple of d+1.
    for (let i = 0; i < d1; i++) {
      rank[i] += excess;
      if (rank[i]! < 0) {
        rank[i] += d1;
        rem0[i] += d1;
      } else if (rank[i]! > d) {
        rank[i] -= d1;
        rem0[i] -= d1;
      }
    }
    // Barycentric coordinates from the residuals (float64 from the float32 residuals).
    const bary = new Array<number>(d + 2).fill(0);
    for (let i = 0; i < d1; i++) {
      const v = (el[i]! - rem0[i]!) / d1;
      bary[d - rank[i]!] += v;
      bary[d - rank[i]! + 1] -= v;
    }
    bary[0] += 1 + bary[d + 1]!;
    // Vertex r of the simplex: rem0 + r on coordinates of rank ≤ d−r, rem0 + r − (d+1) on the others.
    const verts: number[] = [];
    for (let r = 0; r <= d; r++) {
      const key: number[] = [];
      for (let i = 0; i < d; i++) key.push(rem0[i]! + (rank[i]! <= d - r ? r : r - d1));
      const k = key.join(',');
      let v = index.get(k);
      if (v === undefined) {
        v = lat.keys.length;
        index.set(k, v);
        lat.keys.push(k);
      }
      verts.push(v);
    }
    if (!real) continue;
    lat.vertices.push(verts);
    lat.weights.push(bary.slice(0, d1));
    lat.elevated.push(el);
  }
  return lat;
}

/**
 * Lattice filter of `values` (per point, V channels): splat with barycentric weights, blur with
 * [1/2, 1, 1/2] along lattice direction 0, 1, …, d in turn (absent neighbours count as 0), slice,
 * and scale by 1/(1 + 2^−d).
 */
export function latticeFilterRef(lat: LatticeRef, values: ReadonlyArray<ArrayLike<number>>, channels: number): Float64Array[] {
  const { d } = lat;
  const m = lat.keys.length;
  let grid = Array.from({ length: m }, () => new Float64Array(channels));
  values.forEach((v, p) => {
    lat.vertices[p]!.forEach((vert, r) => {
      for (let c = 0; c < channels; c++) grid[vert]![c] += lat.weights[p]![r]! * v[c]!;
    });
  });
  const index = new Map(lat.keys.map((k, i) => [k, i]));
  const coords = lat.keys.map((k) => k.split(',').map(Number));
  for (let axis = 0; axis <= d; axis++) {
    // Neighbours along direction `axis`: ±(d+1)·e_axis ∓ 1 on every coordinate (e_d is implicit).
    const next = grid.map((v) => Float64Array.from(v));
    coords.forEach((key, i) => {
      for (const s of [1, -1]) {
        const nb = key.map((k, j) => (j === axis ? k + s * d : k - s));
        const j = index.get(nb.join(','));
        if (j === undefined) continue;
        for (let c = 0; c < channels; c++) next[i]![c] += 0.5 * grid[j]![c]!;
      }
    });
    grid = next;
  }
  const alpha = 1 / (1 + 2 ** -d);
  return values.map((_, p) => {
    const out = new Float64Array(channels);
    lat.vertices[p]!.forEach((vert, r) => {
      for (let c = 0; c < channels; c++) out[c] += alpha * lat.weights[p]![r]! * grid[vert]![c]!;
    });
    return out;
  });
}

/** The kernel matrix the lattice approximates, K_ij = exp(−½‖f_i − f_j‖²), [N·N] (O(N²) memory). */
export function exactGaussianMatrix(features: number[][]): Float64Array {
  const n = features.length;
  const k = new Float64Array(n * n);
  features.forEach((fi, i) => {
    features.forEach((fj, j) => {
      let dist = 0;
      for (let a = 0; a < fi.length; a++) dist += (fi[a]! - fj[a]!) ** 2;
      k[i * n + j] = Math.exp(-0.5 * dist);
    });
  });
  return k;
}

/** The filter the lattice approximates, Σ_j K_ij v_j, by brute force. */
export function exactGaussianFilterRef(features: number[][], values: ReadonlyArray<ArrayLike<number>>, channels: number, matrix = exactGaussianMatrix(features)): Float64Array[] {
  const n = features.length;
  return features.map((_, i) => {
    const out = new Float64Array(channels);
    for (let j = 0; j < n; j++) {
      const w = matrix[i * n + j]!;
      for (let c = 0; c < channels; c++) out[c] += w * values[j]![c]!;
    }
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// Mean-field inference

export interface CrfRefInput {
  image: ArrayLike<number>;
  height: number;
  width: number;
  /** Planar [C, H·W] probabilities (float16 values). */
  probs: ArrayLike<number>;
  channels: number;
  iterations?: number;
  gaussian?: { sxy: number; compat: number };
  bilateral?: { sxy: number; srgb: number; compat: number };
  /** 'lattice' (pydensecrf) or 'exact' (brute-force Gaussian sums in its place). */
  filter?: 'lattice' | 'exact';
}

function softmaxInto(out: Float64Array, logits: ArrayLike<number>): void {
  let mx = -Infinity;
  for (let c = 0; c < logits.length; c++) mx = Math.max(mx, logits[c]!);
  let sum = 0;
  for (let c = 0; c < logits.length; c++) sum += (out[c] = Math.exp(logits[c]! - mx));
  for (let c = 0; c < logits.length; c++) out[c]! /= sum;
}

/** Posteriors Q as planar [C, H·W] float64. */
export function denseCrfRef(input: CrfRefInput): Float64Array {
  const { image, height: h, width: w, probs, channels: nc } = input;
  const n = h * w;
  const iterations = input.iterations ?? 10;
  const gaussian = input.gaussian ?? { sxy: 1, compat: 3 };
  const bilateral = input.bilateral ?? { sxy: 67, srgb: 3, compat: 4 };
  const unary = unaryRef(probs);
  const kernels = [
    { features: gaussianFeaturesRef(h, w, gaussian.sxy), d: 2, compat: gaussian.compat },
    { features: bilateralFeaturesRef(image, h, w, bilateral.sxy, bilateral.srgb), d: 5, compat: bilateral.compat },
  ].map((k) => {
    const lat = input.filter === 'exact' ? null : latticeRef(k.features, k.d);
    const matrix = lat ? null : exactGaussianMatrix(k.features);
    const filter = (v: Float64Array[], ch: number) => (lat ? latticeFilterRef(lat, v, ch) : exactGaussianFilterRef(k.features, v, ch, matrix!));
    const ones = Array.from({ length: n }, () => Float64Array.of(1));
    const norm = filter(ones, 1).map((v) => 1 / Math.sqrt(v[0]! + 1e-20));
    return { filter, norm, compat: k.compat };
  });
  let q = Array.from({ length: n }, (_, i) => {
    const out = new Float64Array(nc);
    softmaxInto(out, Array.from({ length: nc }, (_, c) => -unary[c * n + i]!));
    return out;
  });
  for (let it = 0; it < iterations; it++) {
    const acc = Array.from({ length: n }, (_, i) => Float64Array.from({ length: nc }, (_, c) => -unary[c * n + i]!));
    for (const k of kernels) {
      const scaled = q.map((v, i) => v.map((x) => x * k.norm[i]!));
      const msg = k.filter(scaled, nc);
      // Potts compatibility gives −w·msg, which inference subtracts.
      msg.forEach((v, i) => v.forEach((x, c) => (acc[i]![c] += k.compat * k.norm[i]! * x)));
    }
    q = acc.map((a) => {
      const out = new Float64Array(nc);
      softmaxInto(out, a);
      return out;
    });
  }
  const planar = new Float64Array(nc * n);
  q.forEach((v, i) => v.forEach((x, c) => (planar[c * n + i] = x)));
  return planar;
}

/** CLIP-ES's seeds: argmax (first maximum) mapped through [0, keys+1], 255 where max Q < confidence
 *  (a float32 posterior compared with a float64 threshold, as numpy does). */
export function crfSeedsRef(q: ArrayLike<number>, channels: number, keys: readonly number[], confidence: number): Uint8Array {
  const n = q.length / channels;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < channels; c++) if (q[c * n + i]! > q[best * n + i]!) best = c;
    out[i] = q[best * n + i]! < confidence ? 255 : best === 0 ? 0 : keys[best - 1]! + 1;
  }
  return out;
}
