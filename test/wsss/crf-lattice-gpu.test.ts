// The dense CRF's lattices built on the GPU (buildCrfLatticeGpu, src/kernels/wsss/crf-lattice.ts)
// against the host builder (buildCrfLattice, itself checked against an independent reference and
// pydensecrf in crf.test.ts / crf-original.test.ts): every packed array must be the same bit for
// bit, so that the CRF's posteriors are too.
import { describe, expect, it } from 'vitest';
import { Gpu, trafficSince } from '../../src/gpu/context.js';
import type { Tensor } from '../../src/gpu/tensor.js';
import { exclusiveScan, radixSortPairs } from '../../src/kernels/scan.js';
import { buildCrfLattice, buildCrfLatticeGpu, CLIP_ES_CRF, CrfReplay, denseCrf, type CrfLattice } from '../../src/wsss/crf.js';
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

/**
 * Builds on the GPU and asserts every array equals the host's bit for bit: the counts (in `space`),
 * and the tables up to them (rowStart and neighbours are sized for bounds of the counts: past the
 * host's length, rowStart holds the entry count and neighbours 0). Where a first hash table
 * overflowed (space[4]), builds again with the full tables, as denseCrf does. Returns the host
 * lattice and whether the first tables overflowed.
 */
async function expectSameLattice(gpu: Gpu, img: Uint8Array, h: number, w: number, sizes: Sizes, what: string): Promise<CrfLattice & { overflowed: boolean }> {
  const host = buildCrfLattice(img, h, w, sizes.gaussian, sizes.bilateral);
  let built = await buildCrfLatticeGpu(gpu, img, h, w, sizes.gaussian, sizes.bilateral);
  expect(built, what).toBeDefined();
  let space = (await gpu.read(built!.tensors.space)) as Uint32Array;
  const overflowed = space[4] !== 0;
  if (overflowed) {
    expect(Array.from(space), `${what}: an overflow leaves the tables empty`).toEqual([0, 0, 1, 1, 1]);
    gpu.release(...ARRAYS.map((k) => built!.tensors[k]), built!.tensors.space);
    built = await buildCrfLatticeGpu(gpu, img, h, w, sizes.gaussian, sizes.bilateral, 'full');
    expect(built?.tables, what).toBe('full');
    space = (await gpu.read(built!.tensors.space)) as Uint32Array;
  }
  const { tensors } = built!;
  try {
    expect([...space, tensors.entries, tensors.axes, tensors.pixels], what).toEqual([
      host.gaussianVertices,
      host.bilateralVertices,
      host.slots,
      1 + host.gaussianVertices,
      0,
      host.entryPixel.length,
      host.axes,
      h * w,
    ]);
    expect(tensors.slots, `${what}: slot capacity`).toBeGreaterThanOrEqual(host.slots);
    const got = await gpu.readMany(ARRAYS.map((k) => tensors[k]));
    ARRAYS.forEach((k, i) => {
      const want = host[k];
      const mine = got[i]!;
      const a = new Uint32Array(mine.buffer, mine.byteOffset, mine.length);
      const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
      const past = k === 'rowStart' ? host.entryPixel.length : k === 'neighbours' ? 0 : undefined;
      if (past === undefined) expect(mine.length, `${what}: ${k} length`).toBe(want.length);
      else expect(mine.length, `${what}: ${k} length`).toBeGreaterThanOrEqual(want.length);
      for (let j = 0; j < b.length; j++) {
        if (a[j] !== b[j]) throw new Error(`${what}: ${k}[${j}] = ${mine[j]} on the GPU, ${want[j]} on the host`);
      }
      for (let j = b.length; j < a.length; j++) {
        if (a[j] !== past) throw new Error(`${what}: ${k}[${j}] (past the host's ${b.length}) = ${a[j]}, want ${past}`);
      }
    });
  } finally {
    gpu.release(...ARRAYS.map((k) => tensors[k]), tensors.space);
  }
  return { ...host, overflowed };
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

  it('uploads the image instead of the lattice tables, and reads back nothing but the error flag', async () => {
    const gpu = await testGpu();
    const h = 48, w = 64;
    const img = STRUCTURED['noisy regions']!(h, w);
    await posteriors(gpu, img, h, w, 3, 4, 'gpu'); // the −log and feature tables, once per device
    const host = await posteriors(gpu, img, h, w, 3, 4, 'host');
    const mine = await posteriors(gpu, img, h, w, 3, 4, 'gpu');
    expect(Array.from(mine.q)).toEqual(Array.from(host.q));
    expect(host.traffic.uploads).toBe(7);
    expect(mine.traffic.uploads).toBe(1);
    expect(mine.traffic.uploadBytes).toBe(Math.ceil((3 * h * w) / 4) * 4);
    // The host tables: 144 bytes per pixel plus 52 per slot (here ~2.7 slots per pixel); the image: 3.
    expect(host.traffic.uploadBytes).toBeGreaterThan(80 * mine.traffic.uploadBytes);
    // The vertex counts stay on the GPU: the one read is the error flag, as with the host tables.
    expect(mine.traffic.downloads).toBe(1);
    expect(host.traffic.downloads).toBe(1);
  });

  it('deferCheck: reads back nothing and hands over the non-finite flag', async () => {
    const gpu = await testGpu();
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
      expect(trafficSince(gpu, before).downloads).toBe(0);
      const flag = ((await gpu.read(check!.flag)) as Uint32Array)[0]!;
      expect(check!.overflowed(flag)).toBe(false);
      if (at < 0) expect(flag).toBe(0);
      else {
        const c = Math.floor(at / n), y = Math.floor((at % n) / w), x = at % w;
        expect(check!.explain(flag).message).toMatch(new RegExp(`non-finite values \\(e.g. channel ${c}, row ${y}, column ${x}\\)`));
        await expect(denseCrf(gpu, { image: img, height: h, width: w, probs })).rejects.toThrow(check!.explain(flag).message);
      }
      gpu.release(probs, q, check!.flag);
    }
  });

  it('a first hash table too small: flagged with deferCheck, built again with the full tables, the same posteriors', async () => {
    const gpu = await testGpu();
    // Far more vertices than pixels: the first tables overflow (expectSameLattice sees it too).
    const extra = { gaussian: { sxy: 0.3, compat: 3 }, bilateral: { sxy: 1, srgb: 0.7, compat: 4 }, iterations: 3 };
    const sizes = { gaussian: { sxy: 0.3 }, bilateral: { sxy: 1, srgb: 0.7 } };
    for (const [h, w] of [[5, 7], [19, 13]] as const) {
      const img = noise(h, w, h + w);
      expect((await expectSameLattice(gpu, img, h, w, sizes, `${h}×${w}`)).overflowed, `${h}×${w}: the first tables overflow`).toBe(true);
      const host = await posteriors(gpu, img, h, w, 3, 11, 'host', extra);
      const r = rng(11);
      const probs = gpu.upload(new Float32Array(3 * h * w).map(() => fp16(r())), [3, h, w]);
      const before = gpu.trafficCounters;
      const { q, check } = await denseCrf(gpu, { image: img, height: h, width: w, probs, deferCheck: true, ...extra });
      expect(trafficSince(gpu, before).downloads).toBe(0);
      const flag = ((await gpu.read(check!.flag)) as Uint32Array)[0]!;
      expect(check!.overflowed(flag), `${h}×${w}: overflow flagged`).toBe(true);
      expect(check!.explain(flag).message).toMatch(/hashTables: 'full'/);
      gpu.release(q, check!.flag, probs);
      const full = await posteriors(gpu, img, h, w, 3, 11, 'gpu', { ...extra, hashTables: 'full' });
      expect(Array.from(full.q), `${h}×${w}: full tables`).toEqual(Array.from(host.q));
      // Without deferCheck denseCrf builds again by itself.
      const again = await posteriors(gpu, img, h, w, 3, 11, 'gpu', extra);
      expect(Array.from(again.q), `${h}×${w}: default`).toEqual(Array.from(host.q));
    }
  });

  it.each([
    ['kept', undefined],
    ['over its memory cap, not kept', 1],
  ])('replay (%s): a recorded CRF gives the same posteriors and flags for other images of its size, and records again for another size', async (_, maxBytes) => {
    const gpu = await testGpu();
    const replay = new CrfReplay(maxBytes);
    const words = (img: Uint8Array) => {
      const w = new Uint32Array(Math.ceil(img.length / 4));
      new Uint8Array(w.buffer).set(img);
      return gpu.upload(w, [w.length], 'u32');
    };
    // Large enough that the first hash tables suffice.
    // [what, height, width, channels, seed, recorded and kept after the call (under the default cap)]
    const cases: Array<[string, number, number, number, number, boolean]> = [
      ['first 48×64 (plain)', 48, 64, 3, 1, false],
      ['second 48×64 (recorded)', 48, 64, 3, 2, true],
      ['third 48×64 (replayed)', 48, 64, 3, 7, true],
      ['fourth 48×64 (replayed), a non-finite value', 48, 64, 3, -3, true],
      ['56×45, other labels (plain; the 48×64 recording stays)', 56, 45, 6, 4, true],
      ['56×45 (recorded again)', 56, 45, 6, 5, true],
      ['56×45 (replayed)', 56, 45, 6, 6, true],
    ];
    try {
      for (const [what, h, w, c, seed, kept] of cases) {
        // Another image of the same size for every call (the same kind, whose lattices fit the first tables).
        const scene = STRUCTURED['noisy regions']!(h, w);
        const img = scene.map((_, i) => scene[(i + 3 * w * Math.abs(seed)) % scene.length]!);
        const r = rng(Math.abs(seed));
        const values = new Float32Array(c * h * w).map(() => fp16(r()));
        if (seed < 0) values[5] = Number.NaN;
        const probs = gpu.upload(values, [c, h, w]);
        const image = words(img);
        const want = await denseCrf(gpu, { image, height: h, width: w, probs, deferCheck: true });
        const before = gpu.trafficCounters;
        const got = await denseCrf(gpu, { image, height: h, width: w, probs, deferCheck: true, replay });
        expect(trafficSince(gpu, before).downloads, what).toBe(0);
        if (maxBytes === undefined && kept) expect(replay.keptBytes, `${what}: a recording is kept`).toBeGreaterThan(0);
        else expect(replay.keptBytes, `${what}: nothing kept`).toBe(0);
        const [qa, qb, fa, fb] = (await gpu.readMany([want.q, got.q, want.check!.flag, got.check!.flag])) as Uint32Array[];
        expect(Array.from(new Uint32Array(qb!.buffer)), what).toEqual(Array.from(new Uint32Array(qa!.buffer)));
        expect(fb![0], `${what}: flag`).toBe(fa![0]);
        expect(fb![0] !== 0 && !got.check!.overflowed(fb![0]!), `${what}: flagged`).toBe(seed < 0);
        if (seed >= 0) expect(fb![0], `${what}: no overflow`).toBe(0);
        gpu.release(probs, image, want.q, got.q, want.check!.flag, got.check!.flag);
      }
    } finally {
      replay.dispose();
    }
  });

  it("refuses a lattice option that is not 'gpu', 'host' or a CrfLattice", async () => {
    const gpu = await testGpu();
    const probs = gpu.upload(new Float32Array(2 * 4).fill(0.5), [2, 2, 2]);
    await expect(denseCrf(gpu, { image: new Uint8Array(12), height: 2, width: 2, probs, lattice: 'cpu' as 'host' })).rejects.toThrow(/'lattice'.*'gpu', 'host' or a CrfLattice/);
    gpu.release(probs as Tensor);
  });
});
