// CAM → label map and CRF probability map (docs/algorithms.md §3.6) against a float64 reference that
// rounds to float16 like numpy, and against numpy's own output in test/fixtures/caa/caa.json (made by
// weights/clip_es_caa.py from CLIP-ES's attn_highres, τ ∈ {1, 2, 3, 0.3}).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { roundToF16 } from '../../src/models/clip/common.js';
import { backgroundFromTau, crfProbabilities, labelMap, labelMapPacked, type Background } from '../../src/wsss/labels.js';
import { testGpu } from '../helpers/gpu.js';
import { randomArray, rng } from '../helpers/reference.js';

/** eval_cam.py in float64 with numpy's float16 rounding after every float16 operation. */
function labelRef(scores: ArrayLike<number>, channels: number, pixels: number, keys: readonly number[], bg: Background, fp16: boolean): Uint8Array {
  const h = fp16 ? roundToF16 : Math.fround;
  const lut = [0, ...keys.map((k) => k + 1)];
  const out = new Uint8Array(pixels);
  const fg0 = bg.kind === 'channel0' ? 1 : 0;
  const k = channels - fg0;
  for (let p = 0; p < pixels; p++) {
    const cam = (c: number) => h(scores[(fg0 + c) * pixels + p]!);
    let b: number;
    if (bg.kind === 'channel0') b = h(scores[p]!);
    else if (bg.kind === 'constant') b = h(bg.value);
    else {
      let m = -Infinity;
      for (let c = 0; c < k; c++) m = Math.max(m, cam(c));
      const d = h(1 - m);
      // numpy: powf(d, τ) in float32 (correctly rounded for these), then float16.
      b = h(Math.fround(d ** bg.exponent));
    }
    let best = b, idx = 0;
    for (let c = 0; c < k; c++) {
      if (cam(c) > best) {
        best = cam(c);
        idx = c + 1;
      }
    }
    out[p] = lut[idx]!;
  }
  return out;
}

/** CAM-like values with many exact float16 ties: multiples of 1/64 mixed with continuous values. */
function camsWithTies(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() < 0.5 ? Math.floor(r() * 65) / 64 : r()));
}

describe('float16 rounding (shaders/common/f16.wgsl) through the CRF probability map', () => {
  it('rounds every f32 like numpy: ties to even, subnormals, overflow to inf, signs', async () => {
    const gpu = await testGpu();
    const special = [
      0, -0, 1, -1, 0.1, 1 / 3, 65504, 65519.99, 65520, 70000, -70000, 2 ** -14, 2 ** -15, 2 ** -24, 2 ** -25, 2 ** -25 * 1.0001, 3 * 2 ** -26,
      1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 - 2 ** -12, 1 - 2 ** -13, 2048 + 1, 2048 + 3, 0.99999994, 1e-7, 6e-8, 3e-8,
    ];
    const r = rng(5);
    const values = Float32Array.from([...special, ...Array.from({ length: 4000 }, () => (r() - 0.5) * 2 ** Math.floor(r() * 44 - 28))]);
    const pixels = values.length;
    // Channel 0 is a constant 0.5 so that channel 1 (the values) comes out verbatim, only rounded.
    const cams = new Float32Array(2 * pixels);
    cams.fill(0.5, 0, pixels);
    cams.set(values, pixels);
    const t = gpu.upload(cams, [2, 1, pixels]);
    const probs = await crfProbabilities(gpu, t);
    const got = await gpu.readF32(probs);
    for (let i = 0; i < pixels; i++) {
      const want = roundToF16(Math.fround(values[i]!));
      if (!Object.is(got[2 * pixels + i], want)) throw new Error(`fp16(${values[i]}) = ${got[2 * pixels + i]}, want ${want}`);
    }
    gpu.release(t, probs);
  });
});

describe('labelMap vs the float16 reference', () => {
  const shapes: Array<[k: number, h: number, w: number]> = [
    [1, 1, 1],
    [3, 1, 7],
    [2, 197, 1],
    [5, 13, 17],
    [4, 1, 4097],
  ];
  const rules: Array<[string, Background | number]> = [
    ['τ = 1', 1],
    ['τ = 2', 2],
    ['τ = 3', 3],
    ['τ = 0.3 (constant)', 0.3],
    ['constant 0.55', { kind: 'constant', value: 0.55 }],
  ];
  for (const [name, rule] of rules) {
    it(`${name}: exact at sizes 1, 7, 197, 221, 4097 with ties`, async () => {
      const gpu = await testGpu();
      for (const [k, h, w] of shapes) {
        const pixels = h * w;
        const cams = camsWithTies(k * pixels, k * 1000 + pixels);
        const keys = Array.from({ length: k }, (_, i) => (i * 7 + 3) % 20);
        const t = gpu.upload(cams, [k, h, w]);
        const got = await labelMap(gpu, t, { keys, background: rule });
        const bg = typeof rule === 'number' ? backgroundFromTau(rule) : rule;
        expect(Array.from(got), `${name} ${k}×${h}×${w}`).toEqual(Array.from(labelRef(cams, k, pixels, keys, bg, true)));
        gpu.release(t);
      }
    });
  }

  it('ties go to the background, then to the earlier key', async () => {
    const gpu = await testGpu();
    // pixel 0: max 0.5 → bg 0.5 ties with class 0 → bg; pixel 1: both 0.75, bg 0.0625 → first key;
    // pixel 2: a value that only ties after float16 rounding (0.50009 → 0.5).
    const cams = Float32Array.from([0.5, 0.75, 0.50009, 0.25, 0.75, 0.1]);
    const t = gpu.upload(cams, [2, 1, 3]);
    expect(Array.from(await labelMap(gpu, t, { keys: [4, 2], background: 1 }))).toEqual([0, 5, 0]);
    expect(Array.from(await labelMap(gpu, t, { keys: [4, 2], background: 2 }))).toEqual([5, 5, 5]);
    // Without float16 emulation 0.50009 beats bg = 1 − 0.50009.
    expect(Array.from(await labelMap(gpu, t, { keys: [4, 2], background: 1, fp16: false }))).toEqual([0, 5, 5]);
    gpu.release(t);
  });

  it('non-integer exponent (pow) agrees except at float16 rounding ties', async () => {
    const gpu = await testGpu();
    const [k, pixels] = [3, 4097];
    const cams = randomArray(k * pixels, 9, 0, 1);
    const t = gpu.upload(cams, [k, 1, pixels]);
    const got = await labelMap(gpu, t, { keys: [0, 1, 2], background: 1.5 });
    const want = labelRef(cams, k, pixels, [0, 1, 2], { kind: 'power', exponent: 1.5 }, true);
    let differ = 0;
    for (let i = 0; i < pixels; i++) if (got[i] !== want[i]) differ++;
    // pow() on GPUs is a few ulp from powf; that can flip the float16 rounding of bg only at a tie.
    expect(differ).toBeLessThanOrEqual(2);
    gpu.release(t);
  });

  it("'channel0' scores (bg given) in plain f32, and the packed u32 layout", async () => {
    const gpu = await testGpu();
    for (const pixels of [1, 7, 197, 4097]) {
      const k = 3;
      const scores = randomArray((k + 1) * pixels, pixels, 0, 1);
      const keys = [19, 0, 7];
      const t = gpu.upload(scores, [k + 1, 1, pixels]);
      const got = await labelMap(gpu, t, { keys, background: { kind: 'channel0' } });
      expect(Array.from(got), `pixels=${pixels}`).toEqual(Array.from(labelRef(scores, k + 1, pixels, keys, { kind: 'channel0' }, false)));
      const packed = await labelMapPacked(gpu, t, { keys, background: { kind: 'channel0' } });
      expect(packed.shape).toEqual([Math.ceil(pixels / 4)]);
      const words = (await gpu.read(packed)) as Uint32Array;
      expect(words[0]! & 0xff).toBe(got[0]);
      gpu.release(t, packed);
    }
  });

  it('rejects bad arguments naming the culprit', async () => {
    const gpu = await testGpu();
    const t = gpu.upload(new Float32Array(6), [2, 1, 3]);
    await expect(labelMap(gpu, t, { keys: [1], background: 1 })).rejects.toThrow(/2 foreground channel\(s\).* but 1 keys/);
    await expect(labelMap(gpu, t, { keys: [1, 254], background: 1 })).rejects.toThrow(/keys\[1\] = 254/);
    await expect(labelMap(gpu, t, { keys: [1, 2], background: -1 })).rejects.toThrow(/τ must be a finite number ≥ 0/);
    await expect(labelMap(gpu, t, { keys: [1, 2], background: { kind: 'power', exponent: 0.5 } })).rejects.toThrow(/exponent τ must be ≥ 1/);
    await expect(labelMap(gpu, t, { keys: [], background: { kind: 'channel0' } })).rejects.toThrow(/1 foreground channel\(s\).*after channel 0/);
    await expect(labelMap(gpu, t.view([6]), { keys: [1], background: 1 })).rejects.toThrow(/must be f32 \[channels, H, W\]/);
    gpu.release(t);
  });
});

// ---------------------------------------------------------------------------------------------

interface CaaCase {
  k: number;
  size: [number, number];
  keys: number[];
  highres_f16: string;
  labels: Record<string, string>;
  crf_probs_f16: string;
}

function f16From(b64: string): Float32Array {
  const buf = Buffer.from(b64, 'base64');
  const bits = new Uint16Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  return Float32Array.from(bits, (h) => {
    const e = (h >> 10) & 0x1f, m = h & 0x3ff, s = h & 0x8000 ? -1 : 1;
    if (e === 0) return s * m * 2 ** -24;
    if (e === 31) return m ? NaN : s * Infinity;
    return s * (1 + m / 1024) * 2 ** (e - 15);
  });
}

describe('numpy golden label maps and CRF probabilities (test/fixtures/caa/caa.json)', () => {
  const fixture = JSON.parse(readFileSync(new URL('../fixtures/caa/caa.json', import.meta.url), 'utf8')) as { caa: CaaCase[] };

  it('labelMap equals eval_cam.py bit for bit for τ = 1, 2, 3, 0.3', async () => {
    const gpu = await testGpu();
    for (const c of fixture.caa) {
      const t = gpu.upload(f16From(c.highres_f16), [c.k, ...c.size]);
      for (const [tau, b64] of Object.entries(c.labels)) {
        const got = await labelMap(gpu, t, { keys: c.keys, background: Number(tau) });
        expect(Array.from(got), `${c.k}×${c.size} τ=${tau}`).toEqual(Array.from(Buffer.from(b64, 'base64')));
      }
      gpu.release(t);
    }
  });

  it('crfProbabilities equals eval_cam_with_crf.py float16 map bit for bit', async () => {
    const gpu = await testGpu();
    for (const c of fixture.caa) {
      const t = gpu.upload(f16From(c.highres_f16), [c.k, ...c.size]);
      const probs = await crfProbabilities(gpu, t);
      expect(probs.shape).toEqual([c.k + 1, ...c.size]);
      expect(Array.from(await gpu.readF32(probs))).toEqual(Array.from(f16From(c.crf_probs_f16)));
      gpu.release(t, probs);
    }
  });
});
