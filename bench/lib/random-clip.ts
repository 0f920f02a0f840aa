// Random CLIP weights of any size, made in TypeScript (no PyTorch): a safetensors file in OpenAI's
// layout (src/weights/layouts/clip.ts) with the ClipConfig in its metadata, so that ClipModel.load
// reads heads and epsilon from it and a Python peer (bench/peers/torch_clip_vision.py reads
// safetensors with numpy alone) runs the very same weights.
//
// Values follow CLIP's initialisation (openai/CLIP model.py initialize_parameters) closely enough
// that activations stay finite and of ordinary size through every block: projections with standard
// deviation ~ width^-0.5 (the residual-branch outputs scaled by (2·layers)^-0.5 more), token and
// positional embeddings small, LayerNorm weight 1 and bias 0, logit_scale ln 100. Values are drawn
// uniformly with the stated standard deviation (a uniform of half-width σ√3): timing does not
// depend on the distribution's shape, and a uniform draw is several times cheaper than a normal
// one for ViT-B/16's 150 M parameters. Each tensor has its own stream seeded from the seed and its
// name, so a tensor's values do not depend on which others exist.
import { canonicalClipShapes, CLIP_CONFIG_METADATA_KEY, type ClipConfig } from '../../src/weights/layouts/clip.js';
import { encodeSafetensors, type SafetensorsEntry } from '../../src/weights/safetensors.js';
import { benchData } from './data.js';

/** OpenAI's ViT-B/16 CLIP. */
export const VIT_B16_CONFIG: ClipConfig = {
  embedDim: 512,
  vision: { width: 768, layers: 12, heads: 12, patch: 16, imageSize: 224, mlpWidth: 3072 },
  text: { width: 512, layers: 12, heads: 8, contextLength: 77, vocabSize: 49408, mlpWidth: 2048 },
  layerNormEps: 1e-5,
  activation: 'quick_gelu',
};

/**
 * A 2-block, width-64 CLIP with patch 16 (one 64-wide head per tower) and OpenAI's vocabulary, so
 * that the bundled BPE file tokenizes its prompts: the same graphs as ViT-B/16, small enough for
 * SwiftShader.
 */
export const TINY_CLIP_CONFIG: ClipConfig = {
  embedDim: 64,
  vision: { width: 64, layers: 2, heads: 1, patch: 16, imageSize: 64, mlpWidth: 256 },
  text: { width: 64, layers: 2, heads: 1, contextLength: 77, vocabSize: 49408, mlpWidth: 256 },
  layerNormEps: 1e-5,
  activation: 'quick_gelu',
};

/** 32-bit FNV-1a of a string: a per-tensor stream seed. */
function hash(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h || 1;
}

/** n values uniform with mean 0 and standard deviation `std` (benchData's xorshift32); std 0 gives zeros. */
function uniform(n: number, std: number, seed: number): Float32Array {
  if (std === 0) return new Float32Array(n);
  const half = std * Math.sqrt(3);
  return benchData(n, seed, -half, half);
}

/** What one canonical tensor is initialised to: a constant, or uniform noise of this std. */
function init(name: string, c: ClipConfig): { fill: number } | { std: number } {
  const vision = name.startsWith('visual.');
  const width = vision ? c.vision.width : c.text.width;
  const layers = vision ? c.vision.layers : c.text.layers;
  const part = name.replace(/^(visual\.)?transformer\.resblocks\.\d+\./, '');
  if (name === 'logit_scale') return { fill: Math.log(100) };
  if (/(^|\.)ln_[a-z0-9_]+\.weight$/.test(name) || name === 'ln_final.weight') return { fill: 1 };
  if (/(^|\.)ln_[a-z0-9_]+\.bias$/.test(name) || name === 'ln_final.bias') return { fill: 0 };
  switch (part) {
    case 'attn.in_proj_weight': return { std: width ** -0.5 };
    case 'attn.out_proj.weight':
    case 'mlp.c_proj.weight': return { std: width ** -0.5 * (2 * layers) ** -0.5 };
    case 'mlp.c_fc.weight': return { std: (2 * width) ** -0.5 };
    case 'attn.in_proj_bias':
    case 'attn.out_proj.bias': return { fill: 0 };
    // torch.nn.Linear's default bias: uniform within ±fan_in^-0.5, i.e. std fan_in^-0.5 / √3.
    case 'mlp.c_fc.bias': return { std: width ** -0.5 / Math.sqrt(3) };
    case 'mlp.c_proj.bias': return { std: (vision ? c.vision.mlpWidth : c.text.mlpWidth) ** -0.5 / Math.sqrt(3) };
  }
  switch (name) {
    case 'visual.conv1.weight': return { std: (3 * c.vision.patch * c.vision.patch) ** -0.5 };
    case 'visual.class_embedding':
    case 'visual.positional_embedding':
    case 'visual.proj': return { std: c.vision.width ** -0.5 };
    case 'token_embedding.weight': return { std: 0.02 };
    case 'positional_embedding': return { std: 0.01 };
    case 'text_projection': return { std: c.text.width ** -0.5 };
  }
  throw new Error(`random CLIP: no initialisation for '${name}'`);
}

/** One float32 safetensors entry per canonical tensor; values are made when the writer asks. */
export function randomClipEntries(config: ClipConfig, seed = 0): SafetensorsEntry[] {
  const entries: SafetensorsEntry[] = [];
  for (const [name, shape] of canonicalClipShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const how = init(name, config);
    entries.push({
      name, dtype: 'F32', shape,
      data: async () => {
        const v = 'fill' in how ? new Float32Array(n).fill(how.fill) : uniform(n, how.std, hash(name, seed));
        return new Uint8Array(v.buffer);
      },
    });
  }
  return entries;
}

/** The metadata ClipModel.load reads the config from (heads and epsilon are not in the shapes). */
export function clipMetadata(config: ClipConfig): Record<string, string> {
  return { format: 'pt', [CLIP_CONFIG_METADATA_KEY]: JSON.stringify(config) };
}

/** A whole safetensors file of random CLIP weights, deterministic in `seed`. */
export function randomClipSafetensors(config: ClipConfig, seed = 0): Promise<Uint8Array<ArrayBuffer>> {
  return encodeSafetensors(randomClipEntries(config, seed), clipMetadata(config));
}
