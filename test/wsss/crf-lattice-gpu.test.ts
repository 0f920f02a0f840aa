// The dense CRF's lattices built on the GPU (buildCrfLatticeGpu, src/kernels/wsss/crf-lattice.ts)
// against the host builder (buildCrfLattice, itself checked against an independent reference and
// pydensecrf in crf.test.ts / crf-original.test.ts): every packed array must be the same bit for
// bit, so that the CRF's posteriors are too.
import { describe, expect, it } from 'vitest';
import { Gpu, trafficSince } from '../../src/gpu/context.js';
import type { Tensor } from '../../src/gpu/tensor.js';
import { exclusiveScan, radixSortPairs } from '../../src/kernels/scan.js';
import { buildCrfLattice, buildCrfLatticeGpu, CLIP_ES_CRF, denseCrf, type CrfLattice } from '../../src/wsss/crf.js';
import { fp16 } from '../helpers/crf-ref.js';
import { testGpu } from '../helpers/gpu.js';
import { rng } from '../helpers/reference.js';

type Sizes = { gaussian: { sxy: number }; bilateral: { sxy: number; srgb: number } };

const CLIP_ES: Sizes = { gaussian: { sxy: CLIP_ES_CRF.gaussian.sxy }, bilateral: { sxy: CLIP_ES_CRF.bilateral.sxy, srgb: CLIP_ES_CRF.bilateral.srgb } };
const OTHERS: Sizes[] = [
  { gaussian: { sxy: 3 }, bilateral: { sxy: 20, srgb: 10 } },
  { gaussian: { sxy: 5 }, bilateral: { sxy: 5, srgb: 13 } },
  // Powers of two: exact binary quotients, so more coordinates land exactly on rounding boundaries.
  { gaussian: { sxy: 0.5 }, bilateral: { sxy: 2, srgb: 0.25 } },
  // Vertices far above one per pixel (the first hash tables overflow and are rebuilt larger).
  { gaussian: { sxy: 0.3 }, bilateral: { sxy: 1, srgb: 0.7 } },
  // Everything in a handful of vertices.
  { gaussian: { sxy: 1e4 }, bilateral: { sxy: 1e4, srgb: 1e3 } },
];

function noise(h: number, w: number, seed: number): Uint8Array {
  const r = rng(seed);
  return new Uint8Array(h * w * 3).map(() => Math.floor(r() * 256));
}

/** Per-pixel colour from a function of (x, y, channel). */
function image(h: number, w: number, f: (x: number, y: number, c: number) => number): Uint8Array {
  const out = new Uint8Array(h * w * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) out[(y * w + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(f(x, y, c))));
  return out;
}

const STRUCTURED: Record<string, (h: number, w: number) => Uint8Array> = {
  black: (h, w) => new Uint8Array(h * w * 3),
  'uniform colour': (h, w) => image(h, w, (_x, _y, c) => [200, 40, 120][c]!),
  // Equal channels: equal colour residuals, so the rank comparisons tie.
  'grey gradient': (h, w) => image(h, w, (x, y) => (255 * (x + y)) / Math.max(1, h + w - 2)),
  'two colours': (h, w) => image(h, w, (x, _y, c) => (x < w / 2 ? [10, 200, 30] : [250, 5, 90])[c]!),
  'colour gradients': (h, w) => image(h, w, (x, y, c) => [(255 * x) / Math.max(1, w - 1), (255 * y) / Math.max(1, h - 1), 128][c]!),
  'noisy regions': (h, w) => {
    const r = rng(h * 131 + w);
    return image(h, w, (x, y, c) => (x * x + y * y < (h * w) / 4 ? 60 : 190) + 17 * c + (r() - 0.5) * 24);
  },
};

const ARRAYS = ['rowStart', 'entryPixel', 'entryWeight', 'neighbours', 'pixelSlot', 'pixelWeight'] as const;

/** Builds on the GPU and asserts every array equals the host's bit for bit. */
async function expectSameLattice(gpu: Gpu, img: Uint8Array, h: number, w: number, sizes: Sizes, what: string): Promise<CrfLattice> {
  const host = buildCrfLattice(img, h, w, sizes.gaussian, sizes.bilateral);
  const built = await buildCrfLatticeGpu(gpu, img, h, w, sizes.gaussian, sizes.bilateral);
  expect(built, what).toBeDefined();
  const { tensors } = built!;
  try {
    expect([built!.gaussianVertices, built!.bilateralVertices, tensors.slots, tensors.entries, tensors.axes, tensors.pixels], what).toEqual([
      host.gaussianVertices,
      host.bilateralVertices,
      host.slots,
      host.entryPixel.length,
      host.axes,
      h * w,
    ]);
    const got = await gpu.readMany(ARRAYS.map((k) => tensors[k]));
    ARRAYS.forEach((k, i) => {
      const want = host[k];
      const mine = got[i]!;
      expect(mine.length, `${what}: ${k} length`).toBe(want.length);
      const a = new Uint32Array(mine.buffer, mine.byteOffset, mine.length);
      const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
      for (let j = 0; j < b.length; j++) {
        if (a[j] !== b[j]) throw new Error(`${what}: ${k}[${j}] = ${mine[j]} on the GPU, ${want[j]} on the host`);
      }
    });
  } finally {
    gpu.release(...ARRAYS.map((k) => tensors[k]));
  }
  return host;
}

describe('scan and radix sort (src/kernels/scan.ts)', () => {
  it('exclusive scan matches the host at sizes around the chunk boundaries', async () => {
    const gpu = await testGpu();
    for (const n of [1, 2, 63, 64, 65, 4095, 4096, 4097, 300_001]) {
      const r = rng(n);
      const data = new Uint32Array(n).map(() => Math.floor(r() * 1000));
      const t = gpu.upload(data, [n], 'u32');
      await exclusiveScan(gpu, t, n);
      const got = (await gpu.read(t)) as Uint32Array;
      let run = 0;
      for (let i = 0; i < n; i++) {
        if (got[i] !== run) throw new Error(`n = ${n}: scan[${i}] = ${got[i]}, want ${run}`);
        run += data[i]!;
      }
      gpu.release(t);
    }
  });

  it('radix sort is stable and matches a stable host sort', async () => {
    const gpu = await testGpu();
    for (const [n, bits] of [
      [1, 5],
      [100, 3],
      [5000, 12],
      [70_001, 19],
      [20_000, 32],
    ] as const) {
      const r = rng(n + bits);
      const keys = new Uint32Array(n).map(() => Math.floor(r() * 2 ** bits) >>> 0);
      const vals = new Uint32Array(n).map((_, i) => i);
      const tk = gpu.upload(keys, [n], 'u32'), tv = gpu.upload(vals, [n], 'u32');
      const sorted = await radixSortPairs(gpu, tk, tv, n, bits);
      const [gk, gv] = (await gpu.readMany([sorted.keys, sorted.vals])) as Uint32Array[];
      const order = Array.from(vals).sort((a, b) => keys[a]! - keys[b]! || a - b);
      for (let i = 0; i < n; i++) {
        if (gv![i] !== order[i] || gk![i] !== keys[order[i]!]) throw new Error(`n = ${n}, bits = ${bits}: item ${i} is (${gk![i]}, ${gv![i]}), want (${keys[order[i]!]}, ${order[i]})`);
      }
      gpu.release(...new Set([tk, tv, sorted.keys, sorted.vals, ...sorted.spare]));
    }
  });
});

describe('CRF lattice built on the GPU = host lattice, bit for bit', () => {
  it("random images at awkward sizes (1×1, 1×n, n×1, point counts not a multiple of 4), CLIP-ES's kernel sizes", async () => {
    const gpu = await testGpu();
    const sizes: Array<[number, number]> = [[1, 1], [1, 2], [1, 3], [1, 7], [9, 1], [2, 2], [3, 5], [7, 5], [13, 11], [17, 23], [31, 29], [40, 33], [1, 500], [61, 45]];
    for (const [i, [h, w]] of sizes.entries()) await expectSameLattice(gpu, noise(h, w, 100 + i), h, w, CLIP_ES, `noise ${h}×${w}`);
  });

  it('random images with other kernel sizes (rounding boundaries, overflowing first hash tables, tiny lattices)', async () => {
    const gpu = await testGpu();
    for (const [k, sizes] of OTHERS.entries()) {
      for (const [h, w] of [[1, 1], [5, 7], [19, 13], [33, 40]] as const) {
        await expectSameLattice(gpu, noise(h, w, 7 * k + h), h, w, sizes, `noise ${h}×${w}, sxy ${sizes.gaussian.sxy} / ${sizes.bilateral.sxy}, srgb ${sizes.bilateral.srgb}`);
      }
    }
  });

  it('structured images: uniform, two colours, gradients (rank ties), noisy regions', async () => {
    const gpu = await testGpu();
    for (const [name, make] of Object.entries(STRUCTURED)) {
      for (const sizes of [CLIP_ES, OTHERS[0]!, OTHERS[2]!]) {
        for (const [h, w] of [[1, 1], [11, 9], [37, 50]] as const) {
          await expectSameLattice(gpu, make(h, w), h, w, sizes, `${name} ${h}×${w}, sxy ${sizes.gaussian.sxy} / ${sizes.bilateral.sxy}, srgb ${sizes.bilateral.srgb}`);
        }
      }
    }
  });

  it('exact half-way cases of the rounding to remainder-0 points (half to even) and rank ties', async () => {
    // Found by a search over kernel sizes with the host arithmetic. Coordinates rounded from exactly
    // k + ½: Gaussian sxy 4/3 136 on 16×16 (300 on 24×24), 2/3 16 (24); bilateral (4/3, 1/17) 4 on
    // the greys and 3 on the colours, (2, 0.15625) 1 on the greys. Greys tie the colour residuals.
    const gpu = await testGpu();
    const greys = image(16, 16, (x, y) => 16 * y + x);
    const colours = image(16, 16, (x, y, c) => (16 * y + x + 85 * c) % 256);
    for (const sizes of [
      { gaussian: { sxy: 4 / 3 }, bilateral: { sxy: 4 / 3, srgb: 1 / 17 } },
      { gaussian: { sxy: 2 / 3 }, bilateral: { sxy: 2, srgb: 0.15625 } },
    ]) {
      for (const [what, img] of [['greys', greys], ['colours', colours]] as const) {
        await expectSameLattice(gpu, img, 16, 16, sizes, `${what}, sxy ${sizes.gaussian.sxy} / ${sizes.bilateral.sxy}, srgb ${sizes.bilateral.srgb}`);
      }
      await expectSameLattice(gpu, noise(24, 24, 3), 24, 24, sizes, `noise 24×24, sxy ${sizes.gaussian.sxy}`);
    }
  });

  it('random kernel sizes and image sizes (40 cases)', async () => {
    const gpu = await testGpu();
    const r = rng(2024);
    const logUniform = (lo: number, hi: number) => lo * (hi / lo) ** r();
    for (let i = 0; i < 40; i++) {
      const h = 1 + Math.floor(r() * 30), w = 1 + Math.floor(r() * 30);
      const sizes = { gaussian: { sxy: logUniform(0.2, 50) }, bilateral: { sxy: logUniform(0.5, 200), srgb: logUniform(0.1, 50) } };
      const img = r() < 0.5 ? noise(h, w, i) : STRUCTURED['noisy regions']!(h, w);
      await expectSameLattice(gpu, img, h, w, sizes, `case ${i}: ${h}×${w}, sxy ${sizes.gaussian.sxy} / ${sizes.bilateral.sxy}, srgb ${sizes.bilateral.srgb}`);
    }
  });

  it('a VOC-sized image (the vertex ordering by pixel count has many ties)', async () => {
    const gpu = await testGpu();
    const h = 120, w = 160;
    const r = rng(5);
    const img = image(h, w, (x, y, c) => (Math.hypot(x - 70, y - 60) < 40 ? 40 : x > 120 ? 200 : 120) + 20 * c + (r() - 0.5) * 30);
    const host = await expectSameLattice(gpu, img, h, w, CLIP_ES, `scene ${h}×${w}`);
    expect(host.bilateralVertices).toBeGreaterThan(1000);
  });

  it('a precompile() dry run (read-backs give zeros) builds every pipeline a real image needs', async () => {
    const fresh = await Gpu.open();
    try {
      const h = 30, w = 40;
      await fresh.precompile(() => buildCrfLatticeGpu(fresh, new Uint8Array(h * w * 3), h, w));
      const built = fresh.pipelineCount;
      await expectSameLattice(fresh, STRUCTURED['noisy regions']!(h, w), h, w, CLIP_ES, 'after the dry run');
      expect(fresh.pipelineCount).toBe(built);
    } finally {
      await fresh.destroy();
    }
  });

  it('is deterministic: the same tables on every run', async () => {
    const gpu = await testGpu();
    const img = noise(29, 31, 9);
    for (let run = 0; run < 3; run++) await expectSameLattice(gpu, img, 29, 31, CLIP_ES, `run ${run}`);
  });
});

describe('denseCrf with the GPU-built lattice', () => {
  async function posteriors(gpu: Gpu, img: Uint8Array, h: number, w: number, c: number, seed: number, lattice: 'gpu' | 'host', extra: object = {}) {
    const r = rng(seed);
    const probs = gpu.upload(new Float32Array(c * h * w).map(() => fp16(r())), [c, h, w]);
    const before = gpu.trafficCounters;
    const { q } = await denseCrf(gpu, { image: img, height: h, width: w, probs, lattice, ...extra });
    const traffic = trafficSince(gpu, before);
    const out = (await gpu.read(q)) as Float32Array;
    gpu.release(probs, q);
    return { q: new Uint32Array(out.buffer, out.byteOffset, out.length), traffic };
  }

  it('gives the same posteriors bit for bit as the host lattice, and is the default', async () => {
    const gpu = await testGpu();
    const cases: Array<[string, Uint8Array, number, number, number, object]> = [
      ['noise 23×17×3', noise(23, 17, 1), 23, 17, 3, {}],
      ['scene 40×33×4', STRUCTURED['noisy regions']!(40, 33), 40, 33, 4, {}],
      ['1×1×2', noise(1, 1, 2), 1, 1, 2, {}],
      ['two colours 19×13×6, other kernels, 4 iterations', STRUCTURED['two colours']!(19, 13), 19, 13, 6, { gaussian: { sxy: 3, compat: 2 }, bilateral: { sxy: 20, srgb: 10, compat: 5 }, iterations: 4 }],
    ];
    for (const [what, img, h, w, c, extra] of cases) {
      const host = await posteriors(gpu, img, h, w, c, 3, 'host', extra);
      const mine = await posteriors(gpu, img, h, w, c, 3, 'gpu', extra);
      expect(Array.from(mine.q), what).toEqual(Array.from(host.q));
      // The default: the GPU path (no lattice upload).
      const r = rng(3);
      const probs = gpu.upload(new Float32Array(c * h * w).map(() => fp16(r())), [c, h, w]);
      const before = gpu.trafficCounters;
      const { q } = await denseCrf(gpu, { image: img, height: h, width: w, probs, ...extra });
      const traffic = trafficSince(gpu, before);
      const got = (await gpu.read(q)) as Float32Array;
      expect(Array.from(new Uint32Array(got.buffer, got.byteOffset, got.length)), `${what} (default)`).toEqual(Array.from(host.q));
      expect(traffic.uploadBytes, `${what}: default uploads`).toBeLessThanOrEqual(mine.traffic.uploadBytes);
      gpu.release(probs, q);
    }
  });

  it('uploads the image instead of the lattice tables, and reads back only the vertex counts', async () => {
    const gpu = await testGpu();
    const h = 48, w = 64;
    const img = STRUCTURED['noisy regions']!(h, w);
    await posteriors(gpu, img, h, w, 3, 4, 'gpu'); // the −log and feature tables, once per device
    const host = await posteriors(gpu, img, h, w, 3, 4, 'host');
    const mine = await posteriors(gpu, img, h, w, 3, 4, 'gpu');
    expect(Array.from(mine.q)).toEqual(Array.from(host.q));
    expect(host.traffic.uploads).toBe(6);
    expect(mine.traffic.uploads).toBe(1);
    expect(mine.traffic.uploadBytes).toBe(Math.ceil((3 * h * w) / 4) * 4);
    // The host tables: 144 bytes per pixel plus 52 per slot (here ~2.7 slots per pixel); the image: 3.
    expect(host.traffic.uploadBytes).toBeGreaterThan(80 * mine.traffic.uploadBytes);
    // Vertex counts (one read), then the non-finite check of the probabilities (one read).
    expect(mine.traffic.downloads).toBe(host.traffic.downloads + 1);
  });

  it('deferCheck: reads back nothing but the vertex counts and hands over the non-finite flag', async () => {
    const gpu = await testGpu();
    // Large enough that the first hash tables suffice (tiny images have many vertices per pixel, and
    // their lattices are numbered a second time: a second read).
    const h = 48, w = 64, n = h * w;
    const img = STRUCTURED['noisy regions']!(h, w);
    for (const [bad, at] of [
      [0.5, -1],
      [Number.NaN, 7],
      [Number.POSITIVE_INFINITY, n + 2 * w + 5],
    ] as const) {
      const values = new Float32Array(2 * h * w).fill(0.5);
      if (at >= 0) values[at] = bad;
      const probs = gpu.upload(values, [2, h, w]);
      const before = gpu.trafficCounters;
      const { q, check } = await denseCrf(gpu, { image: img, height: h, width: w, probs, deferCheck: true });
      expect(trafficSince(gpu, before).downloads).toBe(1);
      const flag = ((await gpu.read(check!.flag)) as Uint32Array)[0]!;
      if (at < 0) expect(flag).toBe(0);
      else {
        const c = Math.floor(at / n), y = Math.floor((at % n) / w), x = at % w;
        expect(check!.explain(flag).message).toMatch(new RegExp(`non-finite values \\(e.g. channel ${c}, row ${y}, column ${x}\\)`));
        await expect(denseCrf(gpu, { image: img, height: h, width: w, probs })).rejects.toThrow(check!.explain(flag).message);
      }
      gpu.release(probs, q, check!.flag);
    }
  });

  it("refuses a lattice option that is not 'gpu', 'host' or a CrfLattice", async () => {
    const gpu = await testGpu();
    const probs = gpu.upload(new Float32Array(2 * 4).fill(0.5), [2, 2, 2]);
    await expect(denseCrf(gpu, { image: new Uint8Array(12), height: 2, width: 2, probs, lattice: 'cpu' as 'host' })).rejects.toThrow(/'lattice'.*'gpu', 'host' or a CrfLattice/);
    gpu.release(probs as Tensor);
  });
});
