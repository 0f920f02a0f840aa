// CLIP weight layouts → seedmask's canonical CLIP tensors.
//
// CANONICAL LAYOUT
// ================
// Canonical names are OpenAI's state-dict keys (docs/algorithms.md §1.6), all tensors float32:
//
//   visual.conv1.weight                      [Wv, 3, P, P]   patch embedding, no bias
//   visual.class_embedding                   [Wv]
//   visual.positional_embedding              [g*g + 1, Wv]   g = imageSize / P; row 0 = class token
//   visual.ln_pre.{weight,bias}              [Wv]
//   visual.transformer.resblocks.{i}.…       i = 0..layers-1, see "block" below (width Wv, MLP Mv)
//   visual.ln_post.{weight,bias}             [Wv]
//   visual.proj                              [Wv, E]         right-multiplied: e = x @ proj
//   token_embedding.weight                   [V, Wt]
//   positional_embedding                     [C, Wt]         text
//   transformer.resblocks.{i}.…              text blocks (width Wt, MLP Mt)
//   ln_final.{weight,bias}                   [Wt]
//   text_projection                          [Wt, E]         right-multiplied: t = x @ text_projection
//   logit_scale                              []              log of the logit multiplier κ
//
//   block: ln_1.{weight,bias} [W]; attn.in_proj_weight [3W, W] (rows q | k | v);
//          attn.in_proj_bias [3W]; attn.out_proj.weight [W, W]; attn.out_proj.bias [W];
//          ln_2.{weight,bias} [W]; mlp.c_fc.weight [M, W]; mlp.c_fc.bias [M];
//          mlp.c_proj.weight [W, M]; mlp.c_proj.bias [W]
//   Linear weights are [out, in] as in torch (y = x Wᵀ + b). q/k/v stay fused.
//
// Sources: the OpenAI layout (state dicts, the TorchScript ViT-B-16.pt, converted files) is the
// canonical layout already. The Hugging Face CLIPModel layout splits q/k/v into separate
// projections and stores the two output projections transposed (nn.Linear orientation); we fuse
// and transpose back. Keys may sit under a common prefix (`module.`, `state_dict.`, `model.`).
//
// Architecture is inferred from shapes. Heads cannot be seen in shapes; they default to width/64
// (all OpenAI CLIPs use 64-wide heads, §1.1) and are taken from config.json (HF) or the
// `seedmask.clip_config` metadata of converted files when present. Whatever those files say is
// cross-checked against the shapes.

import { WeightFileError, listSome } from '../errors.js';
import type { WeightFile } from '../weightfile.js';

export type ClipVisionConfig = {
  width: number;
  layers: number;
  heads: number;
  patch: number;
  imageSize: number;
  mlpWidth: number;
};

export type ClipTextConfig = {
  width: number;
  layers: number;
  heads: number;
  contextLength: number;
  vocabSize: number;
  mlpWidth: number;
};

export interface ClipConfig {
  /** Joint embedding width E (`visual.proj.shape[1]`). */
  embedDim: number;
  vision: ClipVisionConfig;
  text: ClipTextConfig;
  /** LayerNorm epsilon (1e-5 for OpenAI CLIP). */
  layerNormEps: number;
  /** MLP activation; seedmask implements OpenAI CLIP's QuickGELU only. */
  activation: 'quick_gelu';
}

export type ClipLayout = 'openai' | 'hf';

// ---------------------------------------------------------------------------------------------
// Canonical names and shapes

const BLOCK_PARTS = [
  'ln_1.weight', 'ln_1.bias', 'attn.in_proj_weight', 'attn.in_proj_bias', 'attn.out_proj.weight', 'attn.out_proj.bias',
  'ln_2.weight', 'ln_2.bias', 'mlp.c_fc.weight', 'mlp.c_fc.bias', 'mlp.c_proj.weight', 'mlp.c_proj.bias',
] as const;

function blockShapes(prefix: string, layers: number, w: number, m: number, out: Map<string, number[]>): void {
  const shapes: Record<(typeof BLOCK_PARTS)[number], number[]> = {
    'ln_1.weight': [w], 'ln_1.bias': [w],
    'attn.in_proj_weight': [3 * w, w], 'attn.in_proj_bias': [3 * w],
    'attn.out_proj.weight': [w, w], 'attn.out_proj.bias': [w],
    'ln_2.weight': [w], 'ln_2.bias': [w],
    'mlp.c_fc.weight': [m, w], 'mlp.c_fc.bias': [m],
    'mlp.c_proj.weight': [w, m], 'mlp.c_proj.bias': [w],
  };
  for (let i = 0; i < layers; i++) for (const part of BLOCK_PARTS) out.set(`${prefix}${i}.${part}`, shapes[part]);
}

/** Every canonical tensor name with its shape, in canonical order (vision, text, logit scale). */
export function canonicalClipShapes(c: ClipConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const v = c.vision;
  const t = c.text;
  const grid = v.imageSize / v.patch;
  m.set('visual.conv1.weight', [v.width, 3, v.patch, v.patch]);
  m.set('visual.class_embedding', [v.width]);
  m.set('visual.positional_embedding', [grid * grid + 1, v.width]);
  m.set('visual.ln_pre.weight', [v.width]);
  m.set('visual.ln_pre.bias', [v.width]);
  blockShapes('visual.transformer.resblocks.', v.layers, v.width, v.mlpWidth, m);
  m.set('visual.ln_post.weight', [v.width]);
  m.set('visual.ln_post.bias', [v.width]);
  m.set('visual.proj', [v.width, c.embedDim]);
  m.set('token_embedding.weight', [t.vocabSize, t.width]);
  m.set('positional_embedding', [t.contextLength, t.width]);
  blockShapes('transformer.resblocks.', t.layers, t.width, t.mlpWidth, m);
  m.set('ln_final.weight', [t.width]);
  m.set('ln_final.bias', [t.width]);
  m.set('text_projection', [t.width, c.embedDim]);
  m.set('logit_scale', []);
  return m;
}

// ---------------------------------------------------------------------------------------------
// Source layouts: how each canonical tensor is made from file keys

/** How to build one canonical tensor from file tensors (keys relative to the layout prefix). */
export type Recipe =
  | { kind: 'copy'; key: string }
  | { kind: 'transpose'; key: string } // 2-D transpose
  | { kind: 'concat'; keys: string[] }; // row-wise concatenation (q | k | v)

const HF_FIXED: Record<string, Recipe> = {
  'visual.conv1.weight': { kind: 'copy', key: 'vision_model.embeddings.patch_embedding.weight' },
  'visual.class_embedding': { kind: 'copy', key: 'vision_model.embeddings.class_embedding' },
  'visual.positional_embedding': { kind: 'copy', key: 'vision_model.embeddings.position_embedding.weight' },
  'visual.ln_pre.weight': { kind: 'copy', key: 'vision_model.pre_layrnorm.weight' }, // sic: "layrnorm"
  'visual.ln_pre.bias': { kind: 'copy', key: 'vision_model.pre_layrnorm.bias' },
  'visual.ln_post.weight': { kind: 'copy', key: 'vision_model.post_layernorm.weight' },
  'visual.ln_post.bias': { kind: 'copy', key: 'vision_model.post_layernorm.bias' },
  'visual.proj': { kind: 'transpose', key: 'visual_projection.weight' },
  'token_embedding.weight': { kind: 'copy', key: 'text_model.embeddings.token_embedding.weight' },
  'positional_embedding': { kind: 'copy', key: 'text_model.embeddings.position_embedding.weight' },
  'ln_final.weight': { kind: 'copy', key: 'text_model.final_layer_norm.weight' },
  'ln_final.bias': { kind: 'copy', key: 'text_model.final_layer_norm.bias' },
  'text_projection': { kind: 'transpose', key: 'text_projection.weight' },
  'logit_scale': { kind: 'copy', key: 'logit_scale' },
};

const HF_BLOCK: Record<string, (p: string) => Recipe> = {
  'ln_1.weight': (p) => ({ kind: 'copy', key: `${p}layer_norm1.weight` }),
  'ln_1.bias': (p) => ({ kind: 'copy', key: `${p}layer_norm1.bias` }),
  'attn.in_proj_weight': (p) => ({ kind: 'concat', keys: ['q', 'k', 'v'].map((x) => `${p}self_attn.${x}_proj.weight`) }),
  'attn.in_proj_bias': (p) => ({ kind: 'concat', keys: ['q', 'k', 'v'].map((x) => `${p}self_attn.${x}_proj.bias`) }),
  'attn.out_proj.weight': (p) => ({ kind: 'copy', key: `${p}self_attn.out_proj.weight` }),
  'attn.out_proj.bias': (p) => ({ kind: 'copy', key: `${p}self_attn.out_proj.bias` }),
  'ln_2.weight': (p) => ({ kind: 'copy', key: `${p}layer_norm2.weight` }),
  'ln_2.bias': (p) => ({ kind: 'copy', key: `${p}layer_norm2.bias` }),
  'mlp.c_fc.weight': (p) => ({ kind: 'copy', key: `${p}mlp.fc1.weight` }),
  'mlp.c_fc.bias': (p) => ({ kind: 'copy', key: `${p}mlp.fc1.bias` }),
  'mlp.c_proj.weight': (p) => ({ kind: 'copy', key: `${p}mlp.fc2.weight` }),
  'mlp.c_proj.bias': (p) => ({ kind: 'copy', key: `${p}mlp.fc2.bias` }),
};

const BLOCK_RE = /^(visual\.)?transformer\.resblocks\.(\d+)\.(.+)$/;

/** Recipe for a canonical name in the given layout (keys relative to the prefix). */
export function recipeFor(layout: ClipLayout, name: string): Recipe {
  if (layout === 'openai') return { kind: 'copy', key: name };
  const block = BLOCK_RE.exec(name);
  if (block) {
    const side = block[1] ? 'vision_model' : 'text_model';
    const make = HF_BLOCK[block[3]!];
    if (make) return make(`${side}.encoder.layers.${block[2]}.`);
  } else if (HF_FIXED[name]) {
    return HF_FIXED[name]!;
  }
  throw new Error(`no HF source for canonical CLIP tensor '${name}'`);
}

/** Keys a layout may hold that carry no weights; they are skipped without error. */
function isIgnorable(layout: ClipLayout, key: string): boolean {
  if (layout === 'openai') {
    // The TorchScript archive keeps these scalars (checked against the shapes) and may keep the
    // text causal mask as a module attribute.
    return key === 'input_resolution' || key === 'context_length' || key === 'vocab_size' || key === 'attn_mask' || key.endsWith('.attn_mask');
  }
  return key === 'vision_model.embeddings.position_ids' || key === 'text_model.embeddings.position_ids';
}

const ANCHORS: Record<ClipLayout, string> = {
  openai: 'visual.conv1.weight',
  hf: 'vision_model.embeddings.patch_embedding.weight',
};

/**
 * Finds the layout and key prefix from a characteristic key. Returns undefined for files that
 * are not CLIP checkpoints; throws when several CLIP models are present and `prefix` is not given.
 */
export function detectClipLayout(file: WeightFile, prefix?: string): { layout: ClipLayout; prefix: string } | undefined {
  const found: { layout: ClipLayout; prefix: string }[] = [];
  for (const key of file.keys) {
    for (const layout of ['openai', 'hf'] as const) {
      const anchor = ANCHORS[layout];
      if (key === anchor || key.endsWith(`.${anchor}`)) {
        const p = key.slice(0, key.length - anchor.length);
        if (prefix === undefined || p === prefix) found.push({ layout, prefix: p });
      }
    }
  }
  if (found.length > 1) {
    throw new WeightFileError(
      file.name,
      `holds several CLIP models (${found.map((f) => `${f.layout} keys under '${f.prefix}'`).join('; ')}); choose one with the prefix option`,
    );
  }
  return found[0];
}

// ---------------------------------------------------------------------------------------------
// Architecture inference

function layerCount(keys: readonly string[], re: RegExp): number {
  let max = -1;
  for (const k of keys) {
    const m = re.exec(k);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max + 1;
}

function fmt(shape: readonly number[] | undefined): string {
  return shape ? `[${shape.join(', ')}]` : 'absent';
}

/** Infers the architecture from tensor shapes (heads = width / 64). */
export function inferClipConfig(file: WeightFile, layout: ClipLayout, prefix: string): ClipConfig {
  // Shape of a canonical tensor as the file stores it (transposes undone, q/k/v counted as fused).
  const canon = (name: string): number[] | undefined => {
    const r = recipeFor(layout, name);
    const key = prefix + (r.kind === 'concat' ? r.keys[0]! : r.key);
    if (!file.has(key)) return undefined;
    const s = [...file.info(key).shape];
    if (r.kind === 'transpose') return s.reverse();
    if (r.kind === 'concat') s[0] = s[0]! * r.keys.length;
    return s;
  };
  const problems: string[] = [];
  const dim = (name: string, rank: number, axis: number): number => {
    const s = canon(name);
    if (!s || s.length !== rank || !(s[axis]! > 0)) {
      problems.push(`${name} (in the file: ${prefix}${describeRecipe(recipeFor(layout, name))}) is ${fmt(s)}, expected a rank-${rank} tensor`);
      return 0;
    }
    return s[axis]!;
  };

  const esc = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const visionLayers = layerCount(
    file.keys,
    new RegExp(`^${esc}${layout === 'openai' ? 'visual\\.transformer\\.resblocks' : 'vision_model\\.encoder\\.layers'}\\.(\\d+)\\.`),
  );
  const textLayers = layerCount(
    file.keys,
    new RegExp(`^${esc}${layout === 'openai' ? 'transformer\\.resblocks' : 'text_model\\.encoder\\.layers'}\\.(\\d+)\\.`),
  );

  const conv = canon('visual.conv1.weight');
  const vWidth = dim('visual.conv1.weight', 4, 0);
  const patch = dim('visual.conv1.weight', 4, 3);
  if (conv && conv.length === 4 && (conv[1] !== 3 || conv[2] !== conv[3])) {
    problems.push(`visual.conv1.weight is ${fmt(conv)}, expected [width, 3, patch, patch]`);
  }
  const tokens = dim('visual.positional_embedding', 2, 0);
  const grid = Math.round(Math.sqrt(tokens - 1));
  if (tokens > 0 && grid * grid + 1 !== tokens) {
    problems.push(`visual.positional_embedding has ${tokens} rows, not 1 + a square number of patches`);
  }
  const embedDim = dim('visual.proj', 2, 1);
  const tWidth = dim('token_embedding.weight', 2, 1);
  const vocabSize = dim('token_embedding.weight', 2, 0);
  const contextLength = dim('positional_embedding', 2, 0);
  if (visionLayers === 0) problems.push('no vision transformer blocks found');
  if (textLayers === 0) problems.push('no text transformer blocks found');
  const vMlp = visionLayers > 0 ? dim('visual.transformer.resblocks.0.mlp.c_fc.weight', 2, 0) : 0;
  const tMlp = textLayers > 0 ? dim('transformer.resblocks.0.mlp.c_fc.weight', 2, 0) : 0;
  if (problems.length > 0) {
    throw new WeightFileError(file.name, `cannot infer the CLIP architecture (${layout} layout): ${problems.join('; ')}`);
  }
  return {
    embedDim,
    vision: { width: vWidth, layers: visionLayers, heads: defaultHeads(vWidth), patch, imageSize: grid * patch, mlpWidth: vMlp },
    text: { width: tWidth, layers: textLayers, heads: defaultHeads(tWidth), contextLength, vocabSize, mlpWidth: tMlp },
    layerNormEps: 1e-5,
    activation: 'quick_gelu',
  };
}

/** OpenAI CLIPs use 64-wide heads (§1.1); 0 means "unknown" when the width is not a multiple of 64. */
function defaultHeads(width: number): number {
  return width % 64 === 0 ? width / 64 : 0;
}

function describeRecipe(r: Recipe): string {
  return r.kind === 'concat' ? r.keys.join(' + ') : r.kind === 'transpose' ? `${r.key} (transposed)` : r.key;
}

// ---------------------------------------------------------------------------------------------
// config.json (Hugging Face) and converted-file metadata

/** Architecture fields a config file states; anything absent is left to the shapes. */
export type ClipConfigHints = {
  embedDim?: number;
  vision?: Partial<ClipVisionConfig>;
  text?: Partial<ClipTextConfig>;
  layerNormEps?: number;
  activation?: string;
};

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** True for a Hugging Face CLIPModel config (model_type "clip", or both sub-configs present). */
export function looksLikeHfClipConfig(json: unknown): boolean {
  if (typeof json !== 'object' || json === null) return false;
  const j = json as Record<string, unknown>;
  return j.model_type === 'clip' || ((!!j.vision_config || !!j.vision_config_dict) && (!!j.text_config || !!j.text_config_dict));
}

/**
 * Reads a Hugging Face CLIPModel config.json. Old exports keep the real values in
 * `*_config_dict`, which then takes precedence over `*_config`, as transformers does.
 */
export function parseHfClipConfig(json: unknown, source: string): ClipConfigHints {
  if (!looksLikeHfClipConfig(json)) {
    throw new WeightFileError(source, 'not a Hugging Face CLIP config (expected model_type "clip" with vision_config and text_config)');
  }
  const j = json as Record<string, unknown>;
  const sub = (name: string): Record<string, unknown> => ({
    ...((j[`${name}_config`] as Record<string, unknown> | null) ?? {}),
    ...((j[`${name}_config_dict`] as Record<string, unknown> | null) ?? {}),
  });
  const v = sub('vision');
  const t = sub('text');
  const acts = [v.hidden_act, t.hidden_act].filter((a) => a !== undefined);
  const epss = [num(v.layer_norm_eps), num(t.layer_norm_eps)].filter((e) => e !== undefined);
  if (epss.length === 2 && epss[0] !== epss[1]) {
    throw new WeightFileError(source, `vision and text layer_norm_eps differ (${epss[0]} vs ${epss[1]}); seedmask uses one epsilon`);
  }
  const act = acts.find((a) => a !== 'quick_gelu');
  return {
    embedDim: num(j.projection_dim),
    vision: {
      width: num(v.hidden_size), layers: num(v.num_hidden_layers), heads: num(v.num_attention_heads),
      patch: num(v.patch_size), imageSize: num(v.image_size), mlpWidth: num(v.intermediate_size),
    },
    text: {
      width: num(t.hidden_size), layers: num(t.num_hidden_layers), heads: num(t.num_attention_heads),
      contextLength: num(t.max_position_embeddings), vocabSize: num(t.vocab_size), mlpWidth: num(t.intermediate_size),
    },
    layerNormEps: epss[0],
    activation: typeof act === 'string' ? act : acts.length > 0 ? 'quick_gelu' : undefined,
  };
}

/** Applies hints to an inferred config; any disagreement with the shapes is an error listing all. */
export function applyConfigHints(inferred: ClipConfig, hints: ClipConfigHints, file: string, source: string): ClipConfig {
  const problems: string[] = [];
  const out: ClipConfig = { ...inferred, vision: { ...inferred.vision }, text: { ...inferred.text } };
  // Every stated field must equal what the shapes say, except heads, which shapes cannot show.
  const check = (target: Record<string, number>, given: Record<string, unknown> | undefined, path: string): void => {
    for (const [field, value] of Object.entries(given ?? {})) {
      if (value === undefined) continue;
      if (field === 'heads') {
        const width = target.width!;
        if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && width % value === 0) target.heads = value;
        else problems.push(`${path}.heads = ${value} does not divide the width ${width}`);
      } else if (target[field] !== value) {
        problems.push(`${path}.${field} = ${value} but the tensor shapes say ${target[field]}`);
      }
    }
  };
  check(out.vision, hints.vision, 'vision');
  check(out.text, hints.text, 'text');
  if (hints.embedDim !== undefined && hints.embedDim !== out.embedDim) {
    problems.push(`embedDim = ${hints.embedDim} but the tensor shapes say ${out.embedDim}`);
  }
  if (hints.activation !== undefined && hints.activation !== 'quick_gelu') {
    problems.push(`activation '${hints.activation}' is not supported (seedmask implements OpenAI CLIP's quick_gelu)`);
  }
  if (hints.layerNormEps !== undefined) out.layerNormEps = hints.layerNormEps;
  if (problems.length > 0) throw new WeightFileError(file, `${source} disagrees with the weights: ${problems.join('; ')}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The checkpoint view

export interface ClipCheckpoint {
  readonly file: WeightFile;
  readonly layout: ClipLayout;
  /** Common key prefix in the file ('' for plain state dicts). */
  readonly prefix: string;
  readonly config: ClipConfig;
  /** Where the architecture came from: 'shapes', or 'shapes + <config source>'. */
  readonly configSource: string;
  /** Canonical tensor names, canonical order. */
  readonly names: readonly string[];
  /** File keys not used: known non-weights (position_ids, attn_mask, ...) and keys outside the prefix. */
  readonly ignoredKeys: readonly string[];
  /** Number of scalars over all canonical tensors. */
  readonly parameterCount: number;
  shape(name: string): readonly number[];
  recipe(name: string): Recipe;
  /** Builds the canonical tensor in float32 (reads, fuses and transposes as needed). */
  get(name: string): Promise<Float32Array>;
}

export interface OpenClipOptions {
  /** Architecture hints, from config.json (parseHfClipConfig) or converted-file metadata. */
  hints?: ClipConfigHints;
  /** Name of the hints' source for messages. */
  hintsSource?: string;
  /** Key prefix to use when a file holds several CLIP models. */
  prefix?: string;
}

/** Key under which converted files record their ClipConfig. */
export const CLIP_CONFIG_METADATA_KEY = 'seedmask.clip_config';

/** Interprets a WeightFile as a CLIP checkpoint: detect, infer, validate every key and shape. */
export async function openClipCheckpoint(file: WeightFile, options: OpenClipOptions = {}): Promise<ClipCheckpoint> {
  const detected = detectClipLayout(file, options.prefix);
  if (!detected) {
    throw new WeightFileError(
      file.name,
      `not a CLIP checkpoint: no key ends with '${ANCHORS.openai}' (OpenAI layout) or '${ANCHORS.hf}' (Hugging Face layout); first keys: ${listSome([...file.keys], 6)}`,
    );
  }
  const { layout, prefix } = detected;
  let config = inferClipConfig(file, layout, prefix);
  let configSource = 'shapes';

  const hintSources: [ClipConfigHints, string][] = [];
  const meta = file.metadata[CLIP_CONFIG_METADATA_KEY];
  if (meta !== undefined) {
    let parsed: ClipConfigHints;
    try {
      parsed = JSON.parse(meta) as ClipConfigHints;
    } catch {
      throw new WeightFileError(file.name, `metadata '${CLIP_CONFIG_METADATA_KEY}' is not valid JSON`);
    }
    hintSources.push([parsed, `metadata '${CLIP_CONFIG_METADATA_KEY}'`]);
  }
  if (options.hints) hintSources.push([options.hints, options.hintsSource ?? 'config']);
  for (const [hints, source] of hintSources) {
    config = applyConfigHints(config, hints, file.name, source);
    configSource += ` + ${source}`;
  }

  for (const side of ['vision', 'text'] as const) {
    if (config[side].heads === 0) {
      throw new WeightFileError(
        file.name,
        `cannot tell the number of ${side} attention heads: width ${config[side].width} is not a multiple of 64; supply a config.json`,
      );
    }
  }

  // OpenAI's TorchScript archive keeps three scalars; they must agree with the shapes.
  if (layout === 'openai') {
    const scalars: [string, number][] = [
      ['input_resolution', config.vision.imageSize],
      ['context_length', config.text.contextLength],
      ['vocab_size', config.text.vocabSize],
    ];
    for (const [key, expected] of scalars) {
      if (!file.has(prefix + key)) continue;
      const v = await file.getF32(prefix + key);
      if (v.length !== 1 || v[0] !== expected) {
        throw new WeightFileError(file.name, `says ${v[0]} but the tensor shapes say ${expected}`, prefix + key);
      }
    }
  }

  // Validate: every source key present with the right shape, nothing unexplained left over.
  const shapes = canonicalClipShapes(config);
  const recipes = new Map<string, Recipe>();
  const expected = new Map<string, number[]>(); // file key → expected shape
  for (const [name, shape] of shapes) {
    const r = recipeFor(layout, name);
    recipes.set(name, r);
    if (r.kind === 'copy') expected.set(prefix + r.key, shape);
    else if (r.kind === 'transpose') expected.set(prefix + r.key, [...shape].reverse());
    else for (const k of r.keys) expected.set(prefix + k, [shape[0]! / r.keys.length, ...shape.slice(1)]);
  }
  const missing: string[] = [];
  const wrongShape: string[] = [];
  for (const [key, shape] of expected) {
    if (!file.has(key)) missing.push(key);
    else {
      const actual = file.info(key).shape;
      if (actual.length !== shape.length || actual.some((d, i) => d !== shape[i])) wrongShape.push(`${key} is ${fmt(actual)}, expected ${fmt(shape)}`);
    }
  }
  const unknown: string[] = [];
  const ignored: string[] = [];
  for (const key of file.keys) {
    if (expected.has(key)) continue;
    if (!key.startsWith(prefix) || isIgnorable(layout, key.slice(prefix.length))) ignored.push(key);
    else unknown.push(key);
  }
  if (missing.length + wrongShape.length + unknown.length > 0) {
    const parts: string[] = [];
    if (missing.length) parts.push(`${missing.length} missing key(s): ${listSome(missing)}`);
    if (unknown.length) parts.push(`${unknown.length} unknown key(s): ${listSome(unknown)}`);
    if (wrongShape.length) parts.push(`${wrongShape.length} wrong shape(s): ${listSome(wrongShape)}`);
    throw new WeightFileError(
      file.name,
      `not a complete CLIP checkpoint (${layout} layout${prefix ? `, prefix '${prefix}'` : ''}, architecture from ${configSource}): ${parts.join('; ')}`,
    );
  }

  let parameterCount = 0;
  for (const s of shapes.values()) parameterCount += s.reduce((a, b) => a * b, 1);

  const get = async (name: string): Promise<Float32Array> => {
    const r = recipes.get(name);
    if (!r) throw new WeightFileError(file.name, 'not a canonical CLIP tensor name', name);
    if (r.kind === 'copy') return file.getF32(prefix + r.key);
    if (r.kind === 'transpose') {
      const src = await file.getF32(prefix + r.key);
      const [rows, cols] = file.info(prefix + r.key).shape as [number, number];
      const out = new Float32Array(src.length);
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = src[i * cols + j]!;
      return out;
    }
    const out = new Float32Array(shapes.get(name)!.reduce((a, b) => a * b, 1));
    let at = 0;
    for (const k of r.keys) {
      const part = await file.getF32(prefix + k);
      out.set(part, at);
      at += part.length;
    }
    return out;
  };

  return {
    file,
    layout,
    prefix,
    config,
    configSource,
    names: [...shapes.keys()],
    ignoredKeys: ignored,
    parameterCount,
    shape: (name) => {
      const s = shapes.get(name);
      if (!s) throw new WeightFileError(file.name, 'not a canonical CLIP tensor name', name);
      return s;
    },
    recipe: (name) => {
      const r = recipes.get(name);
      if (!r) throw new WeightFileError(file.name, 'not a canonical CLIP tensor name', name);
      return r;
    },
    get,
  };
}
