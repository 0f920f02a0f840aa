// The GPU box masks of CAA (shaders/wsss/box_mask.wgsl via boxMaskCams) against the host reference
// boxMask (src/wsss/caa.ts, itself checked against cv2.findContours and CLIP-ES's own code in
// caa.test.ts and clip-es-original.test.ts): mask and masked CAM bit for bit, both box modes, at
// awkward grids up to the largest one the pipeline accepts, on CAMs built to stress the threshold,
// the connectivity and the edge clipping; and caaRefine's traffic with the masks on the GPU.
import { describe, expect, it } from 'vitest';
import { trafficSince, type Gpu } from '../../src/gpu/context.js';
import { boxMaskCams, boxThresholdTable, type BoxMode } from '../../src/kernels/wsss/caa.js';
import { boxMask, caaRefine } from '../../src/wsss/caa.js';
import { checkFitsDevice } from '../../src/wsss/limits.js';
import { testGpu } from '../helpers/gpu.js';
import { rng } from '../helpers/rng.js';

const MODES: BoxMode[] = ['clip-es', 'corrected'];

/** A CAM value whose uint8(float32(v·255)) is exactly `level` (the middle of its interval). */
const at = (level: number) => Math.fround((level + 0.5) / 255);

type Cam = (gh: number, gw: number, seed: number) => Float32Array;

function fill(gh: number, gw: number, f: (y: number, x: number) => number): Float32Array {
  const cam = new Float32Array(gh * gw);
  for (let y = 0; y < gh; y++) for (let x = 0; x < gw; x++) cam[y * gw + x] = f(y, x);
  return cam;
}

const CAMS: Record<string, Cam> = {
  // Uniform noise: at λ = 0.4 about 60 % foreground, one large component with holes and islands.
  noise: (gh, gw, seed) => {
    const r = rng(seed);
    return fill(gh, gw, () => r());
  },
  // Sparse hot cells: many small components (single cells, pairs, short diagonals).
  sparse: (gh, gw, seed) => {
    const r = rng(seed);
    return fill(gh, gw, () => (r() < 0.22 ? 0.6 + 0.4 * r() : 0.3 * r()));
  },
  zero: (gh, gw) => new Float32Array(gh * gw),
  equal: (gh, gw) => new Float32Array(gh * gw).fill(0.5),
  ones: (gh, gw) => new Float32Array(gh * gw).fill(1),
  // Cells of the main diagonal and of an anti-diagonal: connected through corners only.
  diagonals: (gh, gw) => fill(gh, gw, (y, x) => (x === y || x + y === gw - 1 ? 0.9 : 0.05)),
  // A checkerboard: every hot cell touches the next only diagonally, so all form one component.
  checker: (gh, gw) => fill(gh, gw, (y, x) => ((x + y) % 2 === 0 ? 0.8 : 0.1)),
  // Isolated cells two apart: one component (and one 1×1 box) each.
  dots: (gh, gw) => fill(gh, gw, (y, x) => (x % 2 === 0 && y % 2 === 0 ? 0.7 : 0)),
  // Diagonal stripes three apart: separate components whose boxes overlap heavily.
  stripes: (gh, gw) => fill(gh, gw, (y, x) => ((x + 2 * gh - y) % 3 === 0 ? 1 : 0.2)),
  // Blobs in the last column and the last row and the bottom-right corner (CLIP-ES clips those boxes).
  edges: (gh, gw) =>
    fill(gh, gw, (y, x) => {
      if (x === gw - 1 && y < Math.ceil(gh / 2)) return 0.95;
      if (y === gh - 1 && x < Math.ceil(gw / 3)) return 0.9;
      if (x >= gw - 2 && y >= gh - 2) return 0.85;
      if (x === 0 && y === 0) return 0.5;
      return 0.1;
    }),
  // Levels straddling the threshold: with top = 255, int(0.4·255) = 102 and int(0.7·255) = 178, so
  // cells at exactly those levels are background and one level up foreground; the raw k/255 values
  // (some round to just under their level in f32) and their float32 neighbours are in too.
  threshold: (gh, gw, seed) => {
    const r = rng(seed);
    const levels = [101, 102, 103, 177, 178, 179];
    return fill(gh, gw, (y, x) => {
      if (y === 0 && x === 0) return 1;
      const level = levels[Math.floor(r() * levels.length)]!;
      const exact = Math.fround(level / 255);
      const pick = r();
      if (pick < 0.3) return at(level);
      if (pick < 0.6) return exact;
      const bits = new Float32Array([exact]);
      new Int32Array(bits.buffer)[0]! += pick < 0.8 ? 1 : -1;
      return Math.min(bits[0]!, 1);
    });
  },
};

/** The host reference for all rows: the box masks and the masked CAMs. */
function hostRef(cams: Float32Array, k: number, gh: number, gw: number, threshold: number, mode: BoxMode): { mask: Uint8Array; masked: Float32Array } {
  const n = gh * gw;
  const mask = new Uint8Array(k * n);
  const masked = new Float32Array(k * n);
  for (let c = 0; c < k; c++) {
    const cam = cams.subarray(c * n, (c + 1) * n);
    const m = boxMask(cam, gh, gw, threshold, mode);
    mask.set(m, c * n);
    for (let j = 0; j < n; j++) masked[c * n + j] = m[j] ? cam[j]! : 0;
  }
  return { mask, masked };
}

async function gpuBoxes(gpu: Gpu, cams: Float32Array, k: number, gh: number, gw: number, threshold: number, mode: BoxMode): Promise<{ mask: Uint8Array; masked: Float32Array; bad: number }> {
  const t = gpu.upload(cams, [k, gh * gw]);
  const r = await boxMaskCams(gpu, t, [gh, gw], { threshold, mode });
  const mask = Uint8Array.from((await gpu.read(r.mask)) as Uint32Array);
  const masked = await gpu.readF32(r.masked);
  const bad = ((await gpu.read(r.bad)) as Uint32Array)[0]!;
  gpu.release(t, r.mask, r.masked, r.bad);
  // Values in [0, 1] are never flagged; the first value outside is (0xffffffff − its index).
  const first = cams.findIndex((v) => !(v >= 0 && v <= 1));
  expect(bad, 'out-of-range flag').toBe(first < 0 ? 0 : 0xffffffff - first);
  return { mask, masked, bad };
}

/** Compares row by row, naming the first differing cell. */
function expectSame(got: { mask: Uint8Array; masked: Float32Array }, want: { mask: Uint8Array; masked: Float32Array }, n: number, gw: number, what: string): void {
  for (let i = 0; i < want.mask.length; i++) {
    if (got.mask[i] !== want.mask[i] || !Object.is(got.masked[i], want.masked[i])) {
      const c = Math.floor(i / n), j = i % n;
      expect.fail(`${what}: class ${c}, cell (row ${Math.floor(j / gw)}, column ${j % gw}): GPU mask ${got.mask[i]} masked ${got.masked[i]}, host mask ${want.mask[i]} masked ${want.masked[i]}`);
    }
  }
}

/** K CAMs of the listed kinds (cycled), each with its own seed. */
function stack(kinds: string[], k: number, gh: number, gw: number, seed: number): Float32Array {
  const n = gh * gw;
  const cams = new Float32Array(k * n);
  for (let c = 0; c < k; c++) cams.set(CAMS[kinds[c % kinds.length]!]!(gh, gw, seed * 101 + c), c * n);
  return cams;
}

async function check(gpu: Gpu, kinds: string[], k: number, gh: number, gw: number, seed: number, thresholds = [0.4, 0.7]): Promise<void> {
  const cams = stack(kinds, k, gh, gw, seed);
  for (const threshold of thresholds) {
    for (const mode of MODES) {
      const want = hostRef(cams, k, gh, gw, threshold, mode);
      const got = await gpuBoxes(gpu, cams, k, gh, gw, threshold, mode);
      expectSame(got, want, gh * gw, gw, `${gh}×${gw} K=${k} [${kinds.join(', ')}] λ=${threshold} ${mode}`);
    }
  }
}

const ALL = Object.keys(CAMS);

describe('GPU box masks equal the host reference bit for bit', () => {
  it('every CAM kind at 1×1, 1×n, n×1, 2×2, 7×13, 13×7 and 23×31', async () => {
    const gpu = await testGpu();
    for (const [gh, gw] of [[1, 1], [1, 2], [1, 37], [37, 1], [2, 2], [3, 4], [7, 13], [13, 7], [23, 31]] as const) {
      for (const kind of ALL) await check(gpu, [kind], 1, gh, gw, gh * 1000 + gw);
    }
  });

  it('K = 1, 3 and 20 rows of mixed kinds in one dispatch (and 80, COCO’s label count)', async () => {
    const gpu = await testGpu();
    await check(gpu, ['sparse'], 1, 23, 31, 1);
    await check(gpu, ['noise', 'edges', 'zero'], 3, 7, 13, 2);
    await check(gpu, ALL, 20, 23, 31, 3);
    await check(gpu, ALL, 80, 7, 13, 4, [0.4]);
  });

  it('many random sparse and noisy CAMs at λ = 0.4 and 0.7 (and λ = 0, 1, 0.25)', async () => {
    const gpu = await testGpu();
    for (let seed = 0; seed < 6; seed++) {
      const r = rng(seed + 77);
      const gh = 1 + Math.floor(r() * 40), gw = 1 + Math.floor(r() * 40);
      await check(gpu, ['sparse', 'noise', 'sparse', 'threshold'], 8, gh, gw, seed, [0.4, 0.7, 0, 1, 0.25]);
    }
  });

  it('values exactly at the threshold, including tops where an f32 λ·top truncates differently', async () => {
    const gpu = await testGpu();
    await check(gpu, ['threshold'], 4, 17, 19, 5);
    // For these tops float64 int(λ·top) differs from int(f32(λ)·top) in f32: a cell at level thr is
    // background only with the float64 threshold.
    for (const threshold of [0.4, 0.7]) {
      const table = boxThresholdTable(threshold);
      const tricky: number[] = [];
      for (let top = 0; top < 256; top++) {
        expect(table[top], `λ=${threshold} top=${top}`).toBe(Math.trunc(threshold * top));
        if (Math.trunc(Math.fround(Math.fround(threshold) * top)) !== table[top]) tricky.push(top);
      }
      if (threshold === 0.7) expect(tricky).toContain(90); // 62.99999999999999 in float64, 63 in f32
      const [gh, gw] = [5, 6];
      const k = Math.max(tricky.length, 1);
      const cams = new Float32Array(k * gh * gw);
      tricky.forEach((top, c) => {
        const thr = table[top]!;
        const cam = fill(gh, gw, (y, x) => (y === 0 && x === 0 ? at(top) : (x + y) % 3 === 0 ? at(thr) : (x + y) % 3 === 1 ? at(thr + 1) : at(Math.max(thr - 1, 0))));
        cams.set(cam, c * gh * gw);
      });
      for (const mode of MODES) {
        const want = hostRef(cams, k, gh, gw, threshold, mode);
        expectSame(await gpuBoxes(gpu, cams, k, gh, gw, threshold, mode), want, gh * gw, gw, `tricky tops ${tricky.join(', ')} λ=${threshold} ${mode}`);
      }
    }
  });

  it('the largest grids the pipeline accepts on this device (square and one row)', async () => {
    const gpu = await testGpu();
    // The most permissive model checkFitsDevice admits: one head, MaskCLIP's per-image attention.
    const patch = 16;
    const fits = (gh: number, gw: number) => {
      try {
        checkFitsDevice(gpu, { heads: 1, patch }, gh * patch, gw * patch, 1, { source: 'maskclip' });
        return true;
      } catch {
        return false;
      }
    };
    const largest = (grow: (s: number) => [number, number]) => {
      let lo = 1, hi = 1;
      while (fits(...grow(hi * 2))) hi *= 2;
      hi *= 2;
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (fits(...grow(mid))) lo = mid;
        else hi = mid;
      }
      return grow(lo);
    };
    const square = largest((s) => [s, s]);
    const line = largest((s) => [1, s]);
    expect(fits(square[0] + 1, square[1] + 1)).toBe(false);
    expect(fits(1, line[1] + 1)).toBe(false);
    console.log(`box-mask: largest accepted grids here ${square.join('×')} and ${line.join('×')} (n = ${line[1]})`);
    await check(gpu, ['noise', 'sparse', 'stripes'], 3, square[0], square[1], 6);
    await check(gpu, ['sparse', 'edges'], 2, line[0], line[1], 7, [0.4]);
    await check(gpu, ['sparse'], 1, line[1], line[0], 8, [0.7]);
  });

  it('takes [K, gh, gw] CAMs; saturates values outside [0, 1] (NaN as 0) where the host refuses them', async () => {
    const gpu = await testGpu();
    const [gh, gw] = [6, 7];
    const cams = CAMS.sparse!(gh, gw, 9);
    const t = gpu.upload(cams, [1, gh, gw]);
    const r = await boxMaskCams(gpu, t, [gh, gw]);
    expect(r.masked.shape).toEqual([1, gh * gw]);
    expect(Array.from((await gpu.read(r.mask)) as Uint32Array)).toEqual(Array.from(boxMask(cams, gh, gw, 0.4)));
    gpu.release(t, r.mask, r.masked);

    const wild = Float32Array.from(cams);
    wild[3] = 1.5;
    wild[10] = -0.25;
    wild[11] = NaN;
    wild[20] = Infinity;
    const saturated = wild.map((v) => (v > 1 ? 1 : v >= 0 ? v : 0));
    const got = await gpuBoxes(gpu, wild, 1, gh, gw, 0.4, 'clip-es');
    expect(Array.from(got.mask)).toEqual(Array.from(boxMask(saturated, gh, gw, 0.4)));
    expect(() => boxMask(wild, gh, gw, 0.4)).toThrow(/outside \[0, 1\]/);
    // caaRefine reads the flag (or hands it over with deferCheck) and names the first bad value.
    const n = gh * gw;
    const identity = gpu.upload(Float32Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0)), [n, n]);
    const wt = gpu.upload(wild, [1, n]);
    await expect(caaRefine(gpu, { affinity: identity, cams: wt, grid: [gh, gw] })).rejects.toThrow('class 0: CAM value at index 3 (row 0, column 3) is outside [0, 1] (or NaN)');
    gpu.release(identity, wt);
  });

  it('rejects bad arguments, naming the op', async () => {
    const gpu = await testGpu();
    const t = gpu.upload(new Float32Array(12), [2, 6]);
    await expect(boxMaskCams(gpu, t, [2, 2])).rejects.toThrow(/box_mask.*cams .*\[K, 4\]/);
    await expect(boxMaskCams(gpu, t, [0, 6])).rejects.toThrow(/box_mask.*grid height/);
    await expect(boxMaskCams(gpu, t, [2, 3], { threshold: 1.5 })).rejects.toThrow(/box_mask.*threshold/);
    await expect(boxMaskCams(gpu, t, [2, 3], { mode: 'fixed' as never })).rejects.toThrow(/unknown box mode 'fixed'/);
    const empty = gpu.upload(new Float32Array(0), [0, 6]);
    const r = await boxMaskCams(gpu, empty, [2, 3]);
    expect(r.masked.shape).toEqual([0, 6]);
    expect(((await gpu.read(r.bad)) as Uint32Array)[0]).toBe(0);
    gpu.release(t, empty, r.mask, r.masked, r.bad);
  });
});

describe('caaRefine keeps the box masks on the GPU', () => {
  const [gh, gw, k] = [9, 11, 3];
  const n = gh * gw;
  const cams = stack(['sparse', 'edges', 'noise'], k, gh, gw, 10);
  const w = Float32Array.from({ length: n * n }, (_, i) => 0.5 + ((i * 7919) % 97) / 97);

  it('no upload and no read-back for GPU CAMs; masks on request (one read-back) or from host CAMs', async () => {
    const gpu = await testGpu();
    const wt = gpu.upload(w, [n, n]);
    const ct = gpu.upload(cams, [k, n]);
    for (const mode of MODES) {
      // The first call per λ uploads its 1 KiB threshold table; later calls reuse it.
      const warm = await caaRefine(gpu, { affinity: wt, cams: ct, grid: [gh, gw], boxes: mode });
      const reference = await gpu.readF32(warm.refined);
      gpu.release(warm.refined);

      const before = gpu.trafficCounters;
      const plain = await caaRefine(gpu, { affinity: wt, cams: ct, grid: [gh, gw], boxes: mode, deferCheck: true });
      const moved = trafficSince(gpu, before);
      expect({ uploads: moved.uploads, downloads: moved.downloads }, mode).toEqual({ uploads: 0, downloads: 0 });
      expect(() => plain.masks).toThrow(/box masks stayed on the GPU: pass readMasks/);
      expect(Array.from(await gpu.readF32(plain.refined))).toEqual(Array.from(reference));

      const want = hostRef(cams, k, gh, gw, 0.4, mode).mask;
      const before2 = gpu.trafficCounters;
      const read = await caaRefine(gpu, { affinity: wt, cams: ct, grid: [gh, gw], boxes: mode, readMasks: true, deferCheck: true });
      const moved2 = trafficSince(gpu, before2);
      expect({ uploads: moved2.uploads, downloads: moved2.downloads }, `${mode} readMasks`).toEqual({ uploads: 0, downloads: 1 });
      expect(read.masks.length).toBe(k);
      expect(Array.from(read.masks.flatMap((m) => Array.from(m)))).toEqual(Array.from(want));

      const before3 = gpu.trafficCounters;
      const withHost = await caaRefine(gpu, { affinity: wt, cams: ct, camsHost: cams, grid: [gh, gw], boxes: mode });
      expect(trafficSince(gpu, before3).downloads).toBe(0);
      expect(Array.from(withHost.masks.flatMap((m) => Array.from(m)))).toEqual(Array.from(want));

      const fromHost = await caaRefine(gpu, { affinity: wt, cams, grid: [gh, gw], boxes: mode });
      expect(Array.from(await gpu.readF32(fromHost.refined))).toEqual(Array.from(reference));
      expect(((await gpu.read(plain.check!.flag)) as Uint32Array)[0], 'no CAM out of range').toBe(0);
      gpu.release(plain.refined, read.refined, withHost.refined, fromHost.refined, plain.check!.flag, read.check!.flag);
    }
    await expect(caaRefine(gpu, { affinity: wt, cams: ct, camsHost: cams.subarray(1), grid: [gh, gw] })).rejects.toThrow(/camsHost has \d+ values/);
    await expect(caaRefine(gpu, { affinity: wt, cams: ct, grid: [gh, gw], threshold: -1 })).rejects.toThrow(/caa.*threshold λ/);
    gpu.release(wt, ct);
  });
});
