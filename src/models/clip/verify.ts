// Golden check of the WebGPU CLIP against PyTorch on a model of any size (Node only; not part of
// the test suite because a ViT-B/16 forward takes tens of seconds on SwiftShader).
//
//   npx tsx src/models/clip/verify.ts --weights weights/generated/vitb16/clip_openai.safetensors
//
// Runs test/fixtures/clip/make_clip_golden.py (with /usr/bin/python3) unless the golden files exist
// already, then encodes the same images and token rows here and prints, per case, cosine and
// largest absolute difference of the embeddings, every block's input tokens and attention maps.
// Exits with status 1 when an embedding's cosine is below --min-cos (default 0.99999).
//
// Options:
//   --weights FILE            weights for seedmask (any format src/weights reads)           [required]
//   --preset vitb16|tiny      generator preset (image sizes, prompts)                      [vitb16]
//   --reference-weights FILE  torch.save'd state dict for PyTorch  [clip_state_dict.pt next to --weights]
//   --golden BASE             golden files BASE.json/.bin           [tmp/clip-golden/<preset>]
//   --regenerate              run the generator even if the golden files exist
//   --images a,b              only these image cases of the preset
//   --no-text                 skip the text tower
//   --bpe FILE                BPE vocabulary, to check the tokenizer against the golden ids
//                             [assets/clip/bpe_simple_vocab_16e6.txt.gz]
//   --python EXE              [/usr/bin/python3]
//   --min-cos X               [0.99999]
//   --repeat N                time N more forwards per case once the graph exists   [0]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gpu } from '../../gpu/context.js';
import { agreement, formatAgreement, Golden, hashImage, hashRgba, minRowCosine } from './golden.js';
import type { LoadedClip } from '../../weights/index.js';
import { ClipModel } from './model.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function parseArgs(argv: string[]): Map<string, string | true> {
  const out = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'`);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out.set(a.slice(2), true);
    else out.set(a.slice(2), (i++, next));
  }
  return out;
}

function str(args: Map<string, string | true>, key: string, fallback?: string): string | undefined {
  const v = args.get(key);
  if (v === true) throw new Error(`--${key} needs a value`);
  return v ?? fallback;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const weights = str(args, 'weights');
  if (!weights) throw new Error('--weights FILE is required (e.g. weights/generated/vitb16/clip_openai.safetensors)');
  const preset = str(args, 'preset', 'vitb16')!;
  const refWeights = str(args, 'reference-weights', join(dirname(weights), 'clip_state_dict.pt'))!;
  const base = str(args, 'golden', join(ROOT, 'tmp', 'clip-golden', preset))!;
  const python = str(args, 'python', '/usr/bin/python3')!;
  const minCos = Number(str(args, 'min-cos', '0.99999'));
  const images = str(args, 'images');
  const noText = args.has('no-text');
  const repeat = Number(str(args, 'repeat', '0'));

  if (args.has('regenerate') || !existsSync(`${base}.json`)) {
    const cmd = [join(ROOT, 'test', 'fixtures', 'clip', 'make_clip_golden.py'), '--preset', preset, '--weights', refWeights, '--out', base];
    if (images) cmd.push('--images', images);
    if (noText) cmd.push('--no-text');
    console.log(`PyTorch reference: ${python} ${cmd.join(' ')}`);
    const t0 = performance.now();
    const r = spawnSync(python, cmd, { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`the golden generator failed (status ${r.status ?? r.signal})`);
    console.log(`  ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const golden = await Golden.read(base);
  console.log(`golden ${base}: torch ${golden.header.torch}, weights ${golden.header.weights}`);

  const gpu = await Gpu.open();
  console.log(`device: ${gpu.adapterName}`);
  let t0 = performance.now();
  const bpe = str(args, 'bpe', join(ROOT, 'assets', 'clip', 'bpe_simple_vocab_16e6.txt.gz'))!;
  // The tiny preset's 320-token vocabulary cannot take the real BPE.
  const model = await ClipModel.load(gpu, weights, { tokenizer: preset !== 'tiny' && existsSync(bpe) ? bpe : false });
  console.log(`loaded ${weights} in ${((performance.now() - t0) / 1000).toFixed(1)} s: vision ${model.config.vision.width}×${model.config.vision.layers}, text ${model.config.text.width}×${model.config.text.layers}, tokenizer ${model.tokenizer ? model.tokenizer.name : 'none'}`);

  let failures = 0;
  const check = (what: string, got: ArrayLike<number>, want: ArrayLike<number>) => {
    const a = agreement(got, want);
    const ok = a.cosine >= minCos;
    if (!ok) failures++;
    console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}: ${formatAgreement(a)}`);
  };

  let plain: ClipModel | undefined;
  const layers = model.config.vision.layers;
  const all = (n: number) => Array.from({ length: n }, (_, i) => i);
  for (const c of golden.header.images) {
    if (images && !images.split(',').includes(c.name)) continue;
    const [h, w] = c.source_size;
    const input = c.source === 'hash' ? { tensor: hashImage(h, w, c.seed), height: h, width: w } : { rgba: hashRgba(h, w, c.seed), height: h, width: w };
    // Cases with the unrounded table need a model built that way (same weights, uploaded again).
    const m = c.round_pos ? model : (plain ??= ClipModel.fromWeights(gpu, { config: model.config, tensors: model.weights as LoadedClip['tensors'] }, undefined, { positionalRounding: 'none' }));
    t0 = performance.now();
    const outputs = { attentionLayers: all(layers), blockInputs: all(layers + 1), features: true };
    const r = await m.encodeImage(input, outputs);
    const ms = performance.now() - t0;
    const L = c.grid[0] * c.grid[1] + 1, D = model.config.vision.width;
    console.log(`image ${c.name}: ${c.source} ${h}×${w} → input ${r.height}×${r.width}, grid ${r.grid.join('×')} (${L} tokens), ${(ms / 1000).toFixed(1)} s (first run of this size: graph build included)`);
    for (let i = 0; i < repeat; i++) {
      t0 = performance.now();
      await m.encodeImage(input, outputs);
      console.log(`       again (graph cached): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    const want = (k: string) => golden.imageArray(c, k)!.data;
    check('embedding (class token)', r.embedding, want('embedding'));
    check('patch-mean embedding (CLIP-ES)', r.patchMean, want('patch_mean'));
    if (c.arrays.embedding_torch32) {
      check(`embedding vs CLIP-ES's float32-interpolated table (${c.pos_f16_ulp_diffs!.differing}/${c.pos_f16_ulp_diffs!.entries} entries 1 fp16 ulp apart)`, r.embedding, want('embedding_torch32'));
      check('patch-mean vs the float32-interpolated table', r.patchMean, want('patch_mean_torch32'));
    }
    check('token features [L, E]', r.features!, want('features'));
    let worstBlock = { i: -1, maxAbs: 0, cos: 1 };
    for (let i = 0; i <= layers; i++) {
      const a = agreement(r.blockInputs.get(i)!, want('block_inputs').subarray(i * L * D, (i + 1) * L * D));
      if (a.maxAbs > worstBlock.maxAbs) worstBlock = { i, maxAbs: a.maxAbs, cos: a.cosine };
    }
    console.log(`       block inputs 0..${layers}: worst max |Δ| ${worstBlock.maxAbs.toExponential(2)} at ${worstBlock.i} (cos ${worstBlock.cos.toFixed(9)})`);
    check(`x entering block ${layers - 1} (CLIP-ES's X)`, r.blockInputs.get(layers - 1)!, want('block_inputs').subarray((layers - 1) * L * D, layers * L * D));
    let worstAttn = 0;
    for (let i = 0; i < layers; i++) worstAttn = Math.max(worstAttn, agreement(r.attention.get(i)!, want('attention').subarray(i * L * L, (i + 1) * L * L)).maxAbs);
    console.log(`       attention maps 0..${layers - 1}: worst max |Δ| ${worstAttn.toExponential(2)}`);
  }

  const t = golden.header.text;
  if (t && !noText) {
    const B = t.ids.length, C = t.context, E = model.config.embedDim;
    const ids = Int32Array.from(t.ids.flat());
    if (model.tokenizer && t.prompts.every((p) => p !== null)) {
      const mine = model.tokenizer.tokenize(t.prompts as string[], C);
      const same = mine.every((v, i) => v === ids[i]);
      if (!same) failures++;
      console.log(`  ${same ? 'ok  ' : 'FAIL'} tokenizer: the ${B} prompts give the golden ids`);
    }
    t0 = performance.now();
    const got = await model.encodeTokens(ids, B, C);
    console.log(`text: ${B} rows × ${C} tokens, ${((performance.now() - t0) / 1000).toFixed(1)} s (graph build included)`);
    for (let i = 0; i < repeat; i++) {
      t0 = performance.now();
      await model.encodeTokens(ids, B, C);
      console.log(`      again (graph cached): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    const want = golden.array(t.arrays.embedding!).data;
    check('text embeddings', got, want);
    const rowCos = minRowCosine(got, want, E);
    if (rowCos < minCos) failures++;
    console.log(`  ${rowCos >= minCos ? 'ok  ' : 'FAIL'} worst row cosine ${rowCos.toFixed(9)}`);
  }
  await plain?.destroy();
  await model.destroy();
  await gpu.destroy();
  console.log(failures ? `${failures} check(s) FAILED` : 'all checks passed');
  return failures ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(2);
  },
);
