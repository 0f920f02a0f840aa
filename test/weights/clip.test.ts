import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadClip, loadWeights, openClip, type ClipCheckpoint, type LoadedClip } from '../../src/weights/index.js';
import { encodeSafetensors, type SafetensorsEntry } from '../../src/weights/safetensors.js';
import { expectWeightError, TINY, TINY_CLIP_FILES, tempDir } from './helpers.js';

type Stats = { shape: number[]; sum: number; abs_sum: number; first: number[]; last: number[] };
const manifest = JSON.parse(readFileSync(join(TINY, 'manifest.json'), 'utf8')) as {
  config: unknown;
  parameters: number;
  tensors: Record<string, Stats>;
};

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const FORMATS = Object.entries(TINY_CLIP_FILES) as [keyof typeof TINY_CLIP_FILES, string][];
const loaded = new Map<string, LoadedClip>();

beforeAll(async () => {
  for (const [name, path] of FORMATS) loaded.set(name, await loadClip(path));
});

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** A safetensors file holding the given tensors (float32), for layout tests. */
async function fileFrom(tensors: Map<string, { shape: readonly number[]; data: Float32Array }>, name: string): Promise<string> {
  const entries: SafetensorsEntry[] = [...tensors].map(([key, t]) => ({
    name: key,
    dtype: 'F32',
    shape: t.shape,
    data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
  }));
  return tmp.write(name, await encodeSafetensors(entries));
}

describe('CLIP: every format gives the same canonical tensors', () => {
  it('detects each layout and container', () => {
    expect(loaded.get('stateDict')).toMatchObject({ format: 'torch-zip', layout: 'openai' });
    expect(loaded.get('torchScript')).toMatchObject({ format: 'torchscript', layout: 'openai' });
    expect(loaded.get('openaiSafetensors')).toMatchObject({ format: 'safetensors', layout: 'openai' });
    expect(loaded.get('hfSafetensors')).toMatchObject({ format: 'safetensors', layout: 'hf' });
  });

  it('infers the architecture the generator used, in every format', () => {
    for (const [name] of FORMATS) expect(loaded.get(name)!.config, name).toEqual(manifest.config);
  });

  it('has bit-identical tensors in all four formats', () => {
    const reference = loaded.get('stateDict')!;
    expect([...reference.tensors.keys()].sort()).toEqual(Object.keys(manifest.tensors).sort());
    for (const [name] of FORMATS) {
      const other = loaded.get(name)!;
      expect([...other.tensors.keys()], name).toEqual([...reference.tensors.keys()]);
      const differing = [...reference.tensors].filter(([k, t]) => !sameBits(t.data, other.tensors.get(k)!.data)).map(([k]) => k);
      expect(differing, `${name} differs from the torch.save state dict`).toEqual([]);
    }
  });

  it('matches the values PyTorch wrote (shapes, sums, first and last elements)', () => {
    const clip = loaded.get('hfSafetensors')!; // the format needing the most work (split q/k/v, transposes)
    for (const [key, s] of Object.entries(manifest.tensors)) {
      const t = clip.tensors.get(key)!;
      expect([...t.shape], key).toEqual(s.shape);
      let sum = 0;
      let abs = 0;
      for (const v of t.data) {
        sum += v;
        abs += Math.abs(v);
      }
      expect(Math.abs(sum - s.sum), key).toBeLessThanOrEqual(1e-9 * Math.max(1, s.abs_sum));
      expect(Math.abs(abs - s.abs_sum), key).toBeLessThanOrEqual(1e-9 * Math.max(1, s.abs_sum));
      expect([...t.data.subarray(0, s.first.length)], key).toEqual(s.first);
      expect([...t.data.subarray(t.data.length - s.last.length)], key).toEqual(s.last);
    }
  });

  it('gives non-trivial LayerNorms and biases (so forward tests cannot ignore them)', () => {
    const t = loaded.get('stateDict')!.tensors;
    expect(t.get('visual.ln_pre.weight')!.data.some((v) => v !== 1)).toBe(true);
    expect(t.get('ln_final.bias')!.data.some((v) => v !== 0)).toBe(true);
    expect(t.get('transformer.resblocks.1.attn.in_proj_bias')!.data.some((v) => v !== 0)).toBe(true);
  });
});

describe('CLIP: checkpoint view', () => {
  let hf: ClipCheckpoint;
  beforeAll(async () => {
    hf = await openClip(TINY_CLIP_FILES.hfSafetensors);
  });
  afterAll(() => hf.file.close());

  it('reports parameters, sources and ignored keys', () => {
    expect(hf.parameterCount).toBe(manifest.parameters);
    expect(hf.configSource).toMatch(/^shapes \+ .*hf\/config\.json$/);
    expect([...hf.ignoredKeys].sort()).toEqual(['text_model.embeddings.position_ids', 'vision_model.embeddings.position_ids']);
    expect(hf.recipe('visual.proj')).toEqual({ kind: 'transpose', key: 'visual_projection.weight' });
    expect(hf.recipe('transformer.resblocks.1.attn.in_proj_bias')).toEqual({
      kind: 'concat',
      keys: ['q', 'k', 'v'].map((x) => `text_model.encoder.layers.1.self_attn.${x}_proj.bias`),
    });
  });

  it('works without config.json (shapes only) and takes heads from a config', async () => {
    const plain = await openClip(TINY_CLIP_FILES.hfSafetensors, { config: false });
    expect(plain.configSource).toBe('shapes');
    expect(plain.config).toEqual(manifest.config);
    await plain.file.close();

    const cfg = JSON.parse(readFileSync(join(TINY, 'hf', 'config.json'), 'utf8'));
    cfg.vision_config.num_attention_heads = 2;
    const twoHeads = await openClip(TINY_CLIP_FILES.hfSafetensors, { config: cfg });
    expect(twoHeads.config.vision.heads).toBe(2);
    expect(twoHeads.config.text.heads).toBe(1);
    await twoHeads.file.close();
  });

  it('rejects a config.json that disagrees with the weights, listing each field', async () => {
    const cfg = JSON.parse(readFileSync(join(TINY, 'hf', 'config.json'), 'utf8'));
    cfg.vision_config.hidden_size = 128;
    cfg.text_config.vocab_size = 49408;
    cfg.text_config.hidden_act = 'gelu';
    await expectWeightError(
      openClip(TINY_CLIP_FILES.hfSafetensors, { config: cfg }),
      TINY_CLIP_FILES.hfSafetensors,
      'vision.width = 128 but the tensor shapes say 64',
      'text.vocabSize = 49408 but the tensor shapes say 320',
      "activation 'gelu' is not supported",
    );
    cfg.text_config = { ...cfg.text_config, hidden_size: 64, vocab_size: 320, hidden_act: 'quick_gelu', num_attention_heads: 3 };
    cfg.vision_config.hidden_size = 64;
    await expectWeightError(openClip(TINY_CLIP_FILES.hfSafetensors, { config: cfg }), 'text.heads = 3 does not divide the width 64');
  });
});

describe('CLIP: key problems are reported in one error', () => {
  it('missing and unknown keys, and wrong shapes, all listed', async () => {
    const t = new Map(loaded.get('stateDict')!.tensors);
    t.delete('visual.ln_post.bias');
    t.delete('transformer.resblocks.1.mlp.c_fc.weight');
    t.set('visual.extra_head.weight', { shape: [2], data: new Float32Array(2) });
    t.set('ln_final.weight', { shape: [63], data: new Float32Array(63) });
    const path = await fileFrom(t, 'broken.safetensors');
    await expectWeightError(
      openClip(path),
      path,
      'not a complete CLIP checkpoint (openai layout',
      '2 missing key(s): visual.ln_post.bias, transformer.resblocks.1.mlp.c_fc.weight',
      '1 unknown key(s): visual.extra_head.weight',
      '1 wrong shape(s): ln_final.weight is [63], expected [64]',
    );
  });

  it('a missing HF q projection is named by its HF key', async () => {
    const f = await loadWeights(TINY_CLIP_FILES.hfSafetensors);
    const t = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (const k of f.keys) if (!k.includes('position_ids') && k !== 'vision_model.encoder.layers.0.self_attn.q_proj.weight') t.set(k, { shape: f.info(k).shape, data: await f.getF32(k) });
    await f.close();
    const path = await fileFrom(t, 'hf-missing.safetensors');
    await expectWeightError(openClip(path, { config: false }), '1 missing key(s): vision_model.encoder.layers.0.self_attn.q_proj.weight');
  });

  it('OpenAI scalars that contradict the shapes', async () => {
    const reference = loaded.get('stateDict')!.tensors;
    const entries: SafetensorsEntry[] = [...reference].map(([k, v]) => ({ name: k, dtype: 'F32', shape: v.shape, data: new Uint8Array(v.data.buffer) }));
    entries.push({ name: 'input_resolution', dtype: 'I64', shape: [], data: new Uint8Array(BigInt64Array.from([224n]).buffer) });
    const path = tmp.write('scalar.safetensors', await encodeSafetensors(entries));
    await expectWeightError(openClip(path), path, "tensor 'input_resolution': says 224 but the tensor shapes say 48");
  });

  it('a file that is not CLIP at all', async () => {
    await expectWeightError(openClip(join(TINY, 'convnet.pth')), 'convnet.pth', 'not a CLIP checkpoint', 'state_dict.conv1.weight');
  });
});

describe('CLIP: key prefixes', () => {
  it('finds CLIP under a common prefix (DataParallel "module.") and ignores what lies outside', async () => {
    const t = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (const [k, v] of loaded.get('stateDict')!.tensors) t.set(`module.${k}`, v);
    t.set('optimizer.step', { shape: [1], data: new Float32Array(1) });
    const path = await fileFrom(t, 'prefixed.safetensors');
    const clip = await loadClip(path);
    expect(clip.config).toEqual(manifest.config);
    const ref = loaded.get('stateDict')!.tensors;
    for (const [k, v] of clip.tensors) expect(sameBits(v.data, ref.get(k)!.data), k).toBe(true);
  });

  it('asks for a prefix when a file holds two CLIP models', async () => {
    const t = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (const [k, v] of loaded.get('stateDict')!.tensors) {
      t.set(`model.${k}`, v);
      t.set(`ema.${k}`, v);
    }
    const path = await fileFrom(t, 'two.safetensors');
    await expectWeightError(openClip(path), 'holds several CLIP models', "under 'model.'", "under 'ema.'");
    const ema = await openClip(path, { prefix: 'ema.' });
    expect(ema.prefix).toBe('ema.');
    expect(ema.ignoredKeys.every((k) => k.startsWith('model.'))).toBe(true);
    await ema.file.close();
  });
});
