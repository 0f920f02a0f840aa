// The committed world CLIP (weights/world-clip/, made by weights/train_world_clip.py): the weight
// loader reads it with the architecture its config.json states, and its tokenizer files follow
// CLIP's vocabulary layout (docs/algorithms.md §2.1) in the Hugging Face vocab.json + merges.txt format.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadClip } from '../../src/weights/index.js';
import { ROOT } from './helpers.js';

const DIR = join(ROOT, 'weights', 'world-clip');
interface HfTowerConfig {
  hidden_size: number;
  intermediate_size: number;
  num_attention_heads: number;
  num_hidden_layers: number;
  image_size: number;
  max_position_embeddings: number;
  vocab_size: number;
  eos_token_id: number;
}
interface HfConfig {
  projection_dim: number;
  vision_config: HfTowerConfig;
  text_config: HfTowerConfig;
}
const readJson = <T>(name: string): T => JSON.parse(readFileSync(join(DIR, name), 'utf8')) as T;

describe('weights/world-clip', () => {
  it('loads as a CLIP with the architecture of its config.json', async () => {
    const config = readJson<HfConfig>('config.json');
    const clip = await loadClip(join(DIR, 'model.safetensors'));
    expect(clip.layout).toBe('hf');
    expect(clip.config).toEqual({
      embedDim: config.projection_dim,
      vision: {
        width: config.vision_config.hidden_size, layers: config.vision_config.num_hidden_layers,
        heads: config.vision_config.num_attention_heads, patch: 16, imageSize: config.vision_config.image_size,
        mlpWidth: config.vision_config.intermediate_size,
      },
      text: {
        width: config.text_config.hidden_size, layers: config.text_config.num_hidden_layers,
        heads: config.text_config.num_attention_heads, contextLength: config.text_config.max_position_embeddings,
        vocabSize: config.text_config.vocab_size, mlpWidth: config.text_config.intermediate_size,
      },
      layerNormEps: 1e-5,
      activation: 'quick_gelu',
    });
    expect(clip.config.vision.width).toBeGreaterThanOrEqual(192);
    expect(clip.config.vision.layers).toBeGreaterThanOrEqual(4);
    for (const [name, t] of clip.tensors) {
      expect(t.data.every(Number.isFinite), name).toBe(true);
    }
    const logitScale = clip.tensors.get('logit_scale')!.data[0]!;
    expect(Math.exp(logitScale)).toBeLessThanOrEqual(100 + 1e-3);
  });

  it('has a CLIP-layout byte-level BPE vocabulary: bytes, bytes</w>, merges, SOT, EOT last', () => {
    const vocab = readJson<Record<string, number>>('vocab.json');
    const config = readJson<HfConfig>('config.json');
    const size = config.text_config.vocab_size;
    const byId: string[] = [];
    for (const [token, id] of Object.entries(vocab)) byId[id] = token;
    expect(byId.length).toBe(size);
    expect(Object.keys(vocab).length).toBe(size);
    // CLIP's byte order: '!' (byte 33) is id 0, 'a' id 64, and the same characters again with </w>.
    expect(byId[0]).toBe('!');
    expect(byId[64]).toBe('a');
    expect(byId[256 + 64]).toBe('a</w>');
    expect(byId[size - 2]).toBe('<|startoftext|>');
    expect(byId[size - 1]).toBe('<|endoftext|>');
    const lines = readFileSync(join(DIR, 'merges.txt'), 'utf8').split('\n').filter((l) => l !== '');
    expect(lines[0]).toMatch(/^#version/);
    const merges = lines.slice(1);
    expect(merges.length).toBe(size - 514);
    merges.forEach((line, i) => {
      const parts = line.split(' ');
      expect(parts).toHaveLength(2);
      expect(byId[512 + i]).toBe(parts[0]! + parts[1]!);
    });
    expect(config.text_config.eos_token_id).toBe(size - 1);
  });

  it('stays within 10 MB and has its model card', () => {
    const total = readdirSync(DIR).reduce((sum, name) => sum + statSync(join(DIR, name)).size, 0);
    expect(total).toBeLessThanOrEqual(10 * 1024 * 1024);
    expect(readFileSync(join(DIR, 'MODEL_CARD.md'), 'utf8')).toContain('Intended use');
  });
});
