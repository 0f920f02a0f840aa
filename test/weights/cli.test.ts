import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/weights.js';
import { CLIP_CONFIG_METADATA_KEY, loadClip, loadWeights } from '../../src/weights/index.js';
import { TINY, TINY_CLIP_FILES, tempDir } from './helpers.js';
import { captureStdio } from '../helpers/stdio.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const io = captureStdio();

describe('seedmask weights inspect', () => {
  it.each(Object.entries(TINY_CLIP_FILES))('reports layout and architecture for %s', async (_name, path) => {
    expect(await run(['inspect', path])).toBe(0);
    expect(io.stdout).toMatch(/layout\s+CLIP, (OpenAI|Hugging Face) keys/);
    expect(io.stdout).toContain('parameters   275,777');
    expect(io.stdout).toContain('vision     width 64, layers 2, heads 1, patch 16, image 48 (3x3 grid), MLP 256');
    expect(io.stdout).toContain('text       width 64, layers 2, heads 1, context 16, vocab 320, MLP 256');
  });

  it('lists a non-CLIP file generically, and --json --time gives machine-readable timings', async () => {
    expect(await run(['inspect', join(TINY, 'convnet.pth')])).toBe(0);
    expect(io.stdout).toContain('not a CLIP checkpoint');
    expect(io.stdout).toContain('extras.half_strided  F16 [3, 2]');
    io.stdout = '';
    expect(await run(['inspect', TINY_CLIP_FILES.torchScript, '--json', '--time'])).toBe(0);
    const report = JSON.parse(io.stdout);
    expect(report.format).toBe('torchscript');
    expect(report.clip.layout).toBe('openai');
    expect(report.load.float32Bytes).toBe(275_777 * 4);
    expect(report.load.peakRssBytes).toBeGreaterThan(0);
  });

  it('fails with the file name and problem, exit code 1; usage errors exit 2', async () => {
    const bad = tmp.write('bad.pt', 'nope');
    expect(await run(['inspect', bad])).toBe(1);
    expect(io.stderr).toContain(`${bad}: is not a zip archive`);
    expect(await run(['inspect'])).toBe(2);
    expect(await run(['inspect', bad, '--bogus'])).toBe(2);
    expect(await run(['frobnicate'])).toBe(2);
  });
});

describe('seedmask weights convert', () => {
  it('writes the canonical layout in float32 and float16, both loading to the same tensors', async () => {
    const reference = await loadClip(TINY_CLIP_FILES.stateDict);
    for (const f16 of [false, true]) {
      const out = tmp.path(f16 ? 'canon16.safetensors' : 'canon32.safetensors');
      expect(await run(['convert', TINY_CLIP_FILES.hfSafetensors, out, ...(f16 ? ['--f16'] : [])])).toBe(0);
      expect(io.stdout).toContain('canonical CLIP layout');
      const file = await loadWeights(out);
      expect(file.keys).toEqual([...reference.tensors.keys()]);
      expect(file.info('visual.proj').dtype).toBe(f16 ? 'F16' : 'F32');
      expect(JSON.parse(file.metadata[CLIP_CONFIG_METADATA_KEY]!)).toEqual(reference.config);
      await file.close();
      const clip = await loadClip(out);
      expect(clip.layout).toBe('openai');
      for (const [k, t] of reference.tensors) expect(clip.tensors.get(k)!.data, k).toEqual(t.data);
    }
  });

  it('keeps heads taken from config.json through the conversion', async () => {
    const cfgPath = tmp.write('config.json', JSON.stringify({
      model_type: 'clip',
      vision_config: { hidden_size: 64, num_attention_heads: 4 },
      text_config: { hidden_size: 64, num_attention_heads: 2 },
    }));
    const out = tmp.path('heads.safetensors');
    expect(await run(['convert', TINY_CLIP_FILES.hfSafetensors, out, '--config', cfgPath])).toBe(0);
    const clip = await loadClip(out);
    expect([clip.config.vision.heads, clip.config.text.heads]).toEqual([4, 2]);
  });

  it('copies a non-CLIP checkpoint with its keys, floats converted and integers kept', async () => {
    const out = tmp.path('convnet.safetensors');
    expect(await run(['convert', join(TINY, 'convnet.pth'), out])).toBe(0);
    const src = await loadWeights(join(TINY, 'convnet.pth'));
    const dst = await loadWeights(out);
    expect(dst.keys).toEqual(src.keys);
    expect(dst.info('state_dict.bn1.num_batches_tracked').dtype).toBe('I64');
    expect(dst.info('extras.half').dtype).toBe('F32');
    for (const k of src.keys) expect(await dst.getF32(k), k).toEqual(await src.getF32(k));
    await src.close();
    await dst.close();
  });

  it('refuses float16 overflow and names the tensor', async () => {
    const out = tmp.path('overflow.safetensors');
    expect(await run(['convert', join(TINY, 'convnet.pth'), out, '--f16'])).toBe(1);
    expect(io.stderr).toContain("tensor 'extras.bf16': 1 value(s) overflow float16");
  });
});
