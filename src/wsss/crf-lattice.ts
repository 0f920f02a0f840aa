// The permutohedral lattice of the dense CRF (docs/algorithms.md §3.6), built on the CPU: the reference
// the GPU builder (buildCrfLatticeGpu in crf.ts) reproduces bit for bit, and its fallback for images
// whose buffers exceed the device.
//
// pydensecrf filters with the permutohedral lattice of Adams, Baek & Davis (2010), as
// densecrf/src/permutohedral.cpp implements it: every d-dimensional feature vector is embedded
// ("elevated") into the hyperplane Σx = 0 of R^{d+1}, scaled so that the lattice's blur approximates
// a unit-variance Gaussian; the simplex of the A*_d lattice enclosing it is found by rounding to the
// nearest "remainder-0" point and sorting the residuals; the point is then represented by its d+1
// simplex vertices with barycentric weights. Filtering is splat (scatter the weighted values onto the
// vertices), blur ([1/2, 1, 1/2] along each of the d+1 lattice directions in turn) and slice (gather
// back with the same weights), times 1/(1 + 2^−d).
//
// Parity: which vertices exist changes the result (values only travel through existing vertices), so
// this builder reproduces densecrf's float32 arithmetic on x86 (its SSE path: float32 features,
// float32 elevation in the same order, round-half-to-even to the remainder-0 point, strict `<` in the
// rank comparisons, float32 barycentric weights) with Math.fround at every step. Only the GPU's
// filtering arithmetic then differs from pydensecrf. The SSE path also elevates points in blocks of
// four, padding the last block with all-zero feature vectors, and inserts those padding points'
// simplex vertices into the lattice too (they are never splatted or sliced, but the blur passes
// values through them); this builder does the same when the point count is not a multiple of 4.
// Vertex keys are int32 here; densecrf stores
// int16 keys, which would wrap for lattice coordinates beyond ±32767 (images wider than ~12000 px
// at sxy = 1); there this builder stays correct where pydensecrf would not.

const f32 = Math.fround;

export interface PermutohedralLattice {
  /** Feature dimensions (the lattice lives in R^{d+1}). */
  d: number;
  /** Points (pixels). */
  points: number;
  /** Lattice vertices. */
  vertices: number;
  /** [points, d+1]: the vertex of each point's enclosing simplex, per remainder 0..d. */
  offsets: Int32Array;
  /** [points, d+1]: the barycentric weight of that vertex (float32, as densecrf stores them). */
  weights: Float32Array;
  /** [d+1, vertices, 2]: the vertex one step back / forward along each lattice direction, or −1. */
  neighbours: Int32Array;
  /** [vertices, d]: each vertex's first d lattice coordinates (the last is minus their sum). */
  keys: Int32Array;
  /** The slice factor 1/(1 + 2^−d) as densecrf computes it (float32). */
  alpha: number;
}

/**
 * Open-addressing hash table from d-coordinate keys to dense vertex indices in insertion order.
 * (The table's layout does not affect results: vertices are only ever addressed by index.)
 */
class VertexTable {
  keys: Int32Array;
  private slots: Int32Array;
  private mask: number;
  count = 0;

  constructor(
    private readonly d: number,
    expected: number,
  ) {
    let cap = 16;
    while (cap < 2 * expected) cap *= 2;
    this.slots = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
    this.keys = new Int32Array(Math.max(expected, 16) * d);
  }

  private hash(key: Int32Array, at: number): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < this.d; i++) h = Math.imul(h ^ key[at + i]!, 0x01000193) ^ (h >>> 15);
    return Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  }

  /** Index of `key[at .. at+d)`, inserting it when `create`; −1 if absent and not created. */
  find(key: Int32Array, at: number, create: boolean): number {
    const d = this.d;
    let s = this.hash(key, at) & this.mask;
    for (;;) {
      const v = this.slots[s]!;
      if (v < 0) break;
      let same = true;
      for (let i = 0; i < d && same; i++) same = this.keys[v * d + i] === key[at + i];
      if (same) return v;
      s = (s + 1) & this.mask;
    }
    if (!create) return -1;
    if ((this.count + 1) * d > this.keys.length) {
      const grown = new Int32Array(this.keys.length * 2);
      grown.set(this.keys);
      this.keys = grown;
    }
    const v = this.count++;
    this.keys.set(key.subarray(at, at + d), v * d);
    this.slots[s] = v;
    if (2 * this.count > this.slots.length) this.rehash();
    return v;
  }

  private rehash(): void {
    const cap = this.slots.length * 2;
    this.slots = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
    for (let v = 0; v < this.count; v++) {
      let s = this.hash(this.keys, v * this.d) & this.mask;
      while (this.slots[s]! >= 0) s = (s + 1) & this.mask;
      this.slots[s] = v;
    }
  }
}

/** Round half to even (what SSE's float → int conversion does in the default rounding mode). */
function roundHalfEven(v: number): number {
  const r = Math.round(v); // half up
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * densecrf's float32 constants of a d-dimensional lattice: the elevation's per-coordinate scale, the
 * factor 1/(d+1) of the rounding to remainder-0 points, and the slice factor 1/(1 + 2^−d). Shared
 * with the GPU builder (src/kernels/wsss/crf-lattice.ts) so that both use the same bits.
 */
export function latticeConstants(d: number): { scale: Float64Array; down: number; alpha: number } {
  const d1 = d + 1;
  const invStd = f32(Math.sqrt(2 / 3) * d1);
  const scale = new Float64Array(d);
  for (let i = 0; i < d; i++) scale[i] = f32((1 / Math.sqrt((i + 2) * (i + 1))) * invStd);
  return { scale, down: f32(1 / d1), alpha: f32(1 / (1 + 2 ** -d)) };
}

/**
 * Build the lattice for `points` feature vectors of dimension d, stored point-major in `features`
 * ([points, d], float32 values).
 */
export function buildLattice(features: Float32Array, d: number, points: number): PermutohedralLattice {
  if (!Number.isInteger(d) || d < 1 || d > 16) throw new Error(`buildLattice: feature dimension d = ${d} must be an integer in 1..16`);
  if (!Number.isInteger(points) || points < 0) throw new Error(`buildLattice: points = ${points} must be a non-negative integer`);
  if (features.length !== points * d) throw new Error(`buildLattice: ${features.length} feature values for ${points} points of dimension ${d}`);
  const d1 = d + 1;
  const { scale, down, alpha } = latticeConstants(d);
  // canonical[r][k]: coordinate offset of simplex vertex r for a coordinate of rank k.
  const canonical = new Int32Array(d1 * d1);
  for (let r = 0; r <= d; r++) for (let k = 0; k <= d; k++) canonical[r * d1 + k] = k <= d - r ? r : r - d1;

  const table = new VertexTable(d, points);
  const offsets = new Int32Array(points * d1);
  const weights = new Float32Array(points * d1);
  const elevated = new Float64Array(d1);
  const rem0 = new Float64Array(d1);
  const rank = new Int32Array(d1);
  const bary = new Float64Array(d + 2);
  const key = new Int32Array(d);

  // Points past `points` up to the next multiple of 4: densecrf's SSE padding (all-zero features).
  const padded = Math.ceil(points / 4) * 4;
  for (let p = 0; p < padded; p++) {
    const f = p * d;
    const real = p < points;
    // Elevate: elevated[j] = Σ_{i≥j} c_i − j·c_{j−1}, c_i = f_i·scale_i, in float32, last first.
    let sm = 0;
    for (let j = d; j > 0; j--) {
      const cf = real ? f32(features[f + j - 1]! * scale[j - 1]!) : 0;
      elevated[j] = f32(sm - f32(j * cf));
      sm = f32(sm + cf);
    }
    elevated[0] = sm;
    // Nearest remainder-0 point (every coordinate a multiple of d+1) and how far its coordinate sum
    // is off the plane, in units of d+1.
    let sum = 0;
    for (let i = 0; i <= d; i++) {
      const v = roundHalfEven(f32(down * elevated[i]!));
      rem0[i] = v * d1;
      sum += v;
    }
    // Rank of each coordinate's residual (0 = largest; of equal residuals the earlier ranks first).
    rank.fill(0);
    for (let i = 0; i < d; i++) {
      const di = f32(elevated[i]! - rem0[i]!);
      for (let j = i + 1; j <= d; j++) {
        if (di < f32(elevated[j]! - rem0[j]!)) rank[i]!++;
        else rank[j]!++;
      }
    }
    // Bring the point back onto the plane by shifting ranks, wrapping coordinates whose rank leaves
    // 0..d to the neighbouring multiple of d+1.
    for (let i = 0; i <= d; i++) {
      rank[i] += sum;
      if (rank[i]! < 0) {
        rank[i] += d1;
        rem0[i] += d1;
      } else if (rank[i]! > d) {
        rank[i] -= d1;
        rem0[i] -= d1;
      }
    }
    // Barycentric weights (float32 accumulation, as densecrf).
    bary.fill(0);
    for (let i = 0; i <= d; i++) {
      const v = f32(f32(elevated[i]! - rem0[i]!) * down);
      const at = d - rank[i]!;
      bary[at] = f32(bary[at]! + v);
      bary[at + 1] = f32(bary[at + 1]! - v);
    }
    bary[0] = f32(bary[0]! + f32(1 + bary[d + 1]!));
    // The d+1 vertices of the enclosing simplex.
    for (let r = 0; r <= d; r++) {
      for (let i = 0; i < d; i++) key[i] = rem0[i]! + canonical[r * d1 + rank[i]!]!;
      const vertex = table.find(key, 0, true);
      if (!real) continue;
      offsets[p * d1 + r] = vertex;
      weights[p * d1 + r] = bary[r]!;
    }
  }

  // Blur neighbours: along direction j the lattice step is (d+1)·e_j − 1 (e_d being implicit in the
  // d stored coordinates).
  const m = table.count;
  const keys = table.keys.subarray(0, m * d);
  const neighbours = new Int32Array(d1 * m * 2);
  const n1 = new Int32Array(d), n2 = new Int32Array(d);
  for (let j = 0; j <= d; j++) {
    for (let v = 0; v < m; v++) {
      for (let k = 0; k < d; k++) {
        n1[k] = keys[v * d + k]! - 1;
        n2[k] = keys[v * d + k]! + 1;
      }
      if (j < d) {
        n1[j] = keys[v * d + j]! + d;
        n2[j] = keys[v * d + j]! - d;
      }
      neighbours[(j * m + v) * 2] = table.find(n1, 0, false);
      neighbours[(j * m + v) * 2 + 1] = table.find(n2, 0, false);
    }
  }
  return { d, points, vertices: m, offsets, weights, neighbours, keys: Int32Array.from(keys), alpha };
}

/** Gaussian (smoothness) features [x/sxy, y/sxy] per pixel, x = column, y = row, in float32. */
export function gaussianFeatures(height: number, width: number, sxy: number): Float32Array {
  const out = new Float32Array(height * width * 2);
  const s = f32(sxy);
  for (let y = 0, p = 0; y < height; y++) {
    for (let x = 0; x < width; x++, p += 2) {
      out[p] = x / s;
      out[p + 1] = y / s;
    }
  }
  return out;
}

/** Bilateral (appearance) features [x/sxy, y/sxy, c0/srgb, c1/srgb, c2/srgb] per pixel, float32. */
export function bilateralFeatures(image: Uint8Array, height: number, width: number, sxy: number, srgb: number): Float32Array {
  const out = new Float32Array(height * width * 5);
  const s = f32(sxy), r = f32(srgb);
  for (let y = 0, p = 0; y < height; y++) {
    for (let x = 0; x < width; x++, p++) {
      const o = p * 5;
      out[o] = x / s;
      out[o + 1] = y / s;
      out[o + 2] = image[3 * p]! / r;
      out[o + 3] = image[3 * p + 1]! / r;
      out[o + 4] = image[3 * p + 2]! / r;
    }
  }
  return out;
}
