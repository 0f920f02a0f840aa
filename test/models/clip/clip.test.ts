// CLIP's vision and text graphs against PyTorch (weights/torch_clip.py) on the tiny fixture model.
// Golden outputs: test/fixtures/clip/tiny.{json,bin}, written by make_clip_golden.py (see there for
// what each array is). Image cases: the training grid 3×3 (rounded and unrounded positional table),
// a tall 4×3 and a wide 2×5 grid (the table interpolated), and an RGBA image of 37×70 through
// CLIP-ES's preprocessing (Pillow bicubic to 48×80, grid 3×5).
//
// Tolerances: everything is float32 with different summation orders (matmul tiles, attention,
// LayerNorm), 2 blocks of width 64. Embeddings must reach cosine ≥ 0.99999 (the acceptance bar);
// the measured worst cases are about 1 − 1e-13 and 1e-6 absolute, so per-element bounds of 2e-5
// (tokens are O(1–5)) and 1e-6 (attention probabilities) leave ~10× headroom and still catch any
// real mistake (a wrong op is off by O(0.1)).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { f32ToF16Bits, f16BitsToF32 } from '../../../src/weights/dtype.js';
import { loadClip, type LoadedClip } from '../../../src/weights/index.js';
import { roundToF16 } from '../../../src/models/clip/common.js';
import { agreement, formatAgreement, Golden, hashImage, hashRgba, minRowCosine, type GoldenImageCase } from '../../../src/models/clip/golden.js';
import { ClipModel } from '../../../src/models/clip/model.js';
import { eotIndices, fillTemplate, l2NormalizeRows, zeroShotClassifier } from '../../../src/models/clip/text.js';
import { ClipTokenizer, byteToUnicodeTable } from '../../../src/models/clip/tokenizer.js';
import { interpolatePositionalEmbedding } from '../../../src/models/clip/vision.js';
import { testGpu } from '../../helpers/gpu.js';
import { expectClose, randomArray } from '../../helpers/reference.js';
import { ROOT, TINY_CLIP_FILES } from '../../weights/helpers.js';

const GOLDEN = join(ROOT, 'test', 'fixtures', 'clip', 'tiny');
const COS = 0.99999;
const report: string[] = [];

let golden: Golden;
let loaded: LoadedClip;

beforeAll(async () => {
  golden = await Golden.read(GOLDEN);
  loaded = await loadClip(TINY_CLIP_FILES.openaiSafetensors);
});

afterAll(() => {
  if (report.length) console.log(`CLIP vs PyTorch ${golden.header.torch} (tiny):\n  ${report.join('\n  ')}`);
});

function caseNamed(name: string): GoldenImageCase {
  const c = golden.header.images.find((i) => i.name === name);
  if (!c) throw new Error(`golden has no image case ${name}`);
  return c;
}

describe('host pieces', () => {
  it('roundToF16 rounds float64 to the nearest float16, ties to even', () => {
    expect(roundToF16(1 / 3)).toBe(0.333251953125);
    expect(roundToF16(1 + 2 ** -11)).toBe(1); // tie → even
    expect(roundToF16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9); // tie → even (up)
    expect(roundToF16(1 + 2 ** -11 + 2 ** -40)).toBe(1 + 2 ** -10); // just above the tie: a float32 detour would lose this
    expect(roundToF16(-4e-8)).toBe(-(2 ** -24)); // subnormal (0.67 of the smallest one)
    expect(roundToF16(2 ** -25)).toBe(0); // tie between 0 and the smallest subnormal → 0
    expect(roundToF16(65519)).toBe(65504);
    expect(roundToF16(65520)).toBe(Infinity);
    expect(roundToF16(0)).toBe(0);
    // Agrees with the float32 → float16 bit conversion on float32 inputs.
    const xs = randomArray(2000, 7, -8, 8);
    for (const x of xs) expect(roundToF16(x)).toBe(f16BitsToF32(f32ToF16Bits(x)));
  });

  it('interpolatePositionalEmbedding gives the exactly rounded table of the generator, and CLIP-ES’s float32 one to 1 fp16 ulp', () => {
    const pos = loaded.tensors.get('visual.positional_embedding')!.data;
    const D = loaded.config.vision.width;
    for (const c of golden.header.images.filter((i) => i.arrays.pos)) {
      const table = interpolatePositionalEmbedding(pos, D, c.grid[0], c.grid[1]);
      expect(Array.from(table), c.name).toEqual(Array.from(golden.imageArray(c, 'pos')!.data));
      // The generator measured the official float32 path against the same exact table: at most one
      // float16 ulp apart, in a few percent of the entries at most (few-bit test weights hit midpoints).
      expect(c.pos_f16_ulp_diffs!.max_ulps, c.name).toBeLessThanOrEqual(1);
      expect(c.pos_f16_ulp_diffs!.differing / c.pos_f16_ulp_diffs!.entries, c.name).toBeLessThan(0.05);
    }
    // At the training grid the resize is the identity; 'none' gives the checkpoint's table.
    const same = interpolatePositionalEmbedding(pos, D, 3, 3, 'none');
    expect(Array.from(same)).toEqual(Array.from(pos));
  });

  it('interpolatePositionalEmbedding rounds a value exactly on a float16 midpoint to even', () => {
    // 14 → 10 rows: output row 0 = 0.8·row0 + 0.2·row1 exactly (columns 14 → 14 are the identity).
    // With a = 0.640625, b = −0.061279296875 that is 0.500244140625, the midpoint of 0.5 and
    // 0.50048828125; torch-style weights (s = 0.5·1.4 − 0.5 = 0.19999999999999996) land above it in
    // float64 and would round up. Exact: a tie, to even: 0.5.
    const g = 14;
    const pos = new Float32Array(1 + g * g);
    for (let c = 0; c < g; c++) {
      pos[1 + c] = 0.640625;
      pos[1 + g + c] = -0.061279296875;
    }
    const table = interpolatePositionalEmbedding(pos, 1, 10, 14);
    expect(Array.from(table.subarray(1, 15))).toEqual(new Array(14).fill(0.5));
  });

  it('eotIndices finds the first largest id of each row', () => {
    const ids = Int32Array.from([318, 5, 319, 0, /* */ 318, 319, 319, 319, /* */ 1, 2, 3, 4]);
    expect(Array.from(eotIndices(ids, 3, 4))).toEqual([2, 5, 11]);
  });

  it('hash inputs match the generator (spot values)', () => {
    const x = hashImage(2, 2, 1);
    expect(x.length).toBe(12);
    // k_0 = 1·97531 + 12345 = 109876: 109876 / 2^32 · 4 − 2
    expect(x[0]).toBe(Math.fround((109876 / 2 ** 32) * 4 - 2));
    const rgba = hashRgba(1, 2, 4);
    expect(rgba[3]).toBe(255);
    expect(rgba[0]).toBe(((4 * 97531 + 12345) >>> 24) & 255);
  });
});

describe('CLIP on the GPU against PyTorch', () => {
  let model: ClipModel;

  beforeAll(async () => {
    const gpu = await testGpu();
    model = ClipModel.fromWeights(gpu, loaded, undefined, { maxGraphs: 8 });
  });

  afterAll(async () => {
    await model?.destroy();
  });

  const layers = () => loaded.config.vision.layers;
  const all = (n: number) => Array.from({ length: n }, (_, i) => i);

  async function checkImage(m: ClipModel, c: GoldenImageCase): Promise<void> {
    const [h, w] = c.source_size;
    const input = c.source === 'hash' ? { tensor: hashImage(h, w, c.seed), height: h, width: w } : { rgba: hashRgba(h, w, c.seed), height: h, width: w };
    const r = await m.encodeImage(input, { attentionLayers: all(layers()), blockInputs: all(layers() + 1), features: true });
    expect([r.height, r.width]).toEqual(c.input_size);
    expect(r.grid).toEqual(c.grid);
    const want = (k: string) => golden.imageArray(c, k)!.data;
    if (c.source === 'rgba') {
      // Pillow's uint8 bicubic is bit-exact on the GPU; only the float normalisation may round differently.
      const { data } = await m.preprocess(input);
      expectClose(data, want('input'), { atol: 1e-6 }, `${c.name}: preprocessed input`);
    }
    const D = loaded.config.vision.width, L = c.grid[0] * c.grid[1] + 1;
    // Layer by layer first, so that a divergence names the first block where it appears.
    for (let i = 0; i <= layers(); i++) {
      const ref = want('block_inputs').subarray(i * L * D, (i + 1) * L * D);
      expectClose(r.blockInputs.get(i)!, ref, { atol: 2e-5, rtol: 2e-5 }, `${c.name}: x entering block ${i}`);
    }
    for (let i = 0; i < layers(); i++) {
      expectClose(r.attention.get(i)!, want('attention').subarray(i * L * L, (i + 1) * L * L), { atol: 1e-6 }, `${c.name}: attention of block ${i}`);
    }
    expectClose(r.features!, want('features'), { atol: 2e-5, rtol: 2e-5 }, `${c.name}: token features`);
    const emb = agreement(r.embedding, want('embedding'));
    const pm = agreement(r.patchMean, want('patch_mean'));
    report.push(`image ${c.name} (${c.input_size.join('×')}, grid ${c.grid.join('×')}): embedding ${formatAgreement(emb)}; patch mean ${formatAgreement(pm)}`);
    expect(emb.cosine, `${c.name}: embedding cosine`).toBeGreaterThanOrEqual(COS);
    expect(pm.cosine, `${c.name}: patch-mean cosine`).toBeGreaterThanOrEqual(COS);
    expect(emb.maxAbs, `${c.name}: embedding max |Δ|`).toBeLessThan(2e-5);
    expect(pm.maxAbs, `${c.name}: patch-mean max |Δ|`).toBeLessThan(2e-5);
    if (c.arrays.embedding_torch32) {
      // Against CLIP-ES's own float32 interpolation: the one-ulp table differences stay invisible.
      const e32 = agreement(r.embedding, want('embedding_torch32'));
      const p32 = agreement(r.patchMean, want('patch_mean_torch32'));
      report.push(`  vs float32-interpolated table (${c.pos_f16_ulp_diffs!.differing}/${c.pos_f16_ulp_diffs!.entries} entries 1 fp16 ulp apart): embedding ${formatAgreement(e32)}; patch mean ${formatAgreement(p32)}`);
      expect(e32.cosine).toBeGreaterThanOrEqual(COS);
      expect(p32.cosine).toBeGreaterThanOrEqual(COS);
    }
  }

  for (const name of ['train_grid', 'tall_4x3', 'wide_2x5', 'rgba_37x70']) {
    it(`image ${name}: every block, attention map and embedding`, async () => {
      await checkImage(model, caseNamed(name));
    });
  }

  it('image train_grid with the unrounded table is torch_clip’s encode_image', async () => {
    const plain = ClipModel.fromWeights(model.gpu, loaded, undefined, { positionalRounding: 'none' });
    try {
      await checkImage(plain, caseNamed('train_grid_unrounded'));
    } finally {
      await plain.destroy();
    }
  });

  it('vision graphs of different sizes share one upload of the weights', async () => {
    expect(model.cachedGraphs.vision).toBe(4);
    // Every canonical vision tensor is uploaded once; only the per-size positional tables repeat.
    let visionBytes = 0;
    for (const [name, t] of loaded.tensors) if (name.startsWith('visual.')) visionBytes += 4 * t.data.length;
    expect(model.weightCache.bytes).toBeLessThan(1.5 * visionBytes);
  });

  it('the graph cache keeps maxGraphs per tower; destroy frees every upload', async () => {
    const m = ClipModel.fromWeights(model.gpu, loaded, undefined, { maxGraphs: 1 });
    const first = await m.encodeImage({ tensor: hashImage(48, 48, 1), height: 48, width: 48 });
    await m.encodeImage({ tensor: hashImage(64, 48, 2), height: 64, width: 48 });
    expect(m.cachedGraphs.vision).toBe(1);
    const rebuilt = await m.encodeImage({ tensor: hashImage(48, 48, 1), height: 48, width: 48 });
    expect(Array.from(rebuilt.embedding)).toEqual(Array.from(first.embedding));
    expect(m.weightCache.size).toBeGreaterThan(0);
    await m.destroy();
    expect(m.weightCache.size).toBe(0);
  });

  it('text: EOT-pooled embeddings of 5 rows (zero and EOT padding, a full row)', async () => {
    const t = golden.header.text!;
    const B = t.ids.length, C = t.context, E = loaded.config.embedDim;
    const ids = Int32Array.from(t.ids.flat());
    const got = await model.encodeTokens(ids, B, C);
    const want = golden.array(t.arrays.embedding!).data;
    const a = agreement(got, want);
    const rowCos = minRowCosine(got, want, E);
    report.push(`text (${B} rows × ${C}): ${formatAgreement(a)}; worst row cos ${rowCos.toFixed(9)}`);
    expect(rowCos).toBeGreaterThanOrEqual(COS);
    expectClose(got, want, { atol: 2e-5, rtol: 2e-5 }, 'text embeddings');

    // One row alone, with a context cut to 8 tokens: same feature (causal mask; graph per batch).
    const row = 3;
    const short = Int32Array.from(t.ids[row]!.slice(0, 8));
    const one = await model.encodeTokens(short, 1, 8);
    expectClose(one, want.subarray(row * E, (row + 1) * E), { atol: 2e-5, rtol: 2e-5 }, 'row 3 alone, context 8');
    expect(model.cachedGraphs.text).toBe(2);
  });

  it('zeroShotClassifier: per-template normalisation, mean, normalisation again', async () => {
    // The tiny model has a 320-token vocabulary, too small for the real BPE: prompts map to fixed rows.
    const t = golden.header.text!;
    const C = t.context, E = loaded.config.embedDim;
    const names = ['cat', 'dog'], templates = ['a {}.', 'the {}!'];
    const rowOf = new Map([['a cat.', 1], ['the cat!', 2], ['a dog.', 3], ['the dog!', 4]]);
    const encode = (texts: string[]) => model.encodeTokens(Int32Array.from(texts.flatMap((s) => t.ids[rowOf.get(s)!]!)), texts.length, C);
    const got = await zeroShotClassifier(encode, names, templates, E);
    const ref = l2NormalizeRows(golden.array(t.arrays.embedding!).data, E);
    for (const [c, rows] of [[0, [1, 2]], [1, [3, 4]]] as const) {
      const mean = Array.from({ length: E }, (_, e) => (ref[rows[0] * E + e]! + ref[rows[1] * E + e]!) / 2);
      const norm = Math.hypot(...mean);
      expectClose(got.subarray(c * E, (c + 1) * E), mean.map((v) => v / norm), { atol: 1e-5 }, `class ${names[c]}`);
    }
    expect(fillTemplate('a clean origami {}.', 'cat')).toBe('a clean origami cat.');
    expect(() => fillTemplate('no slot', 'cat')).toThrow(/exactly one \{\}/);
  });

  it('encodeText / zeroShotClassifier with a toy vocabulary: each prompt runs to its own length, grouped by multiples of 8', async () => {
    // 256 byte symbols, the lowercase letters and '.', '!' with </w>, then the two specials (EOT =
    // the largest id, 285 < the tiny model's 320). No merges: one token per character.
    const words = [...'abcdefghijklmnopqrstuvwxyz.!'].map((ch) => `${ch}</w>`);
    const tokens = [...byteToUnicodeTable(), ...words, '<|startoftext|>', '<|endoftext|>'];
    const tok = ClipTokenizer.fromHuggingFace(Object.fromEntries(tokens.map((t, i) => [t, i])), '#version: 0.2\n', { contextLength: loaded.config.text.contextLength });
    const m = ClipModel.fromWeights(model.gpu, loaded, tok);
    try {
      // 6, 15 and 8 tokens with SOT and EOT: rows 0 and 2 run at context 8, row 1 at 16.
      const prompts = ['cat.', 'a big brown cat.', 'a dog!'];
      expect(m.textGroups(tok.tokenize(prompts, 16), 3)).toEqual([{ contextLength: 8, rows: [0, 2] }, { contextLength: 16, rows: [1] }]);
      const auto = await m.encodeText(prompts);
      const full = await m.encodeText(prompts, { contextLength: 'full' }); // 3 rows of 16
      expect(m.cachedGraphs.text).toBe(3); // 2×8, 1×16, 3×16
      expectClose(auto, full, { atol: 2e-5, rtol: 2e-5 }, 'grouped contexts against 16');
      const other = await m.encodeText(['a dog!', 'cat.']); // same group, other order: rows follow the prompts
      const E0 = loaded.config.embedDim;
      expectClose(other.subarray(0, E0), full.subarray(2 * E0, 3 * E0), { atol: 2e-5, rtol: 2e-5 }, 'a dog! first');
      expectClose(other.subarray(E0), full.subarray(0, E0), { atol: 2e-5, rtol: 2e-5 }, 'cat. second');
      const E = loaded.config.embedDim;
      const got = await m.zeroShotClassifier(['cat', 'dog'], ['{}.', 'a {}!']);
      const unit = l2NormalizeRows(await m.encodeText(['cat.', 'a cat!', 'dog.', 'a dog!']), E);
      for (let c = 0; c < 2; c++) {
        const mean = Array.from({ length: E }, (_, e) => (unit[2 * c * E + e]! + unit[(2 * c + 1) * E + e]!) / 2);
        const norm = Math.hypot(...mean);
        expectClose(got.subarray(c * E, (c + 1) * E), mean.map((v) => v / norm), { atol: 1e-6 }, `class ${c}`);
      }
    } finally {
      await m.destroy();
    }
  });

  it('bad inputs fail with clear messages', async () => {
    await expect(model.encodeImage({ tensor: new Float32Array(3 * 40 * 48), height: 40, width: 48 })).rejects.toThrow(/height 40 must be a positive multiple of the patch size 16/);
    await expect(model.encodeTokens(Int32Array.from([1, 400]), 1, 2)).rejects.toThrow(/id 400 .* outside the vocabulary/);
    await expect(model.encodeText('a cat')).rejects.toThrow(/no tokenizer/);
  });
});
