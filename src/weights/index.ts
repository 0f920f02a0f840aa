// Weight import: entry points.
//
//   loadWeights(input)  → WeightFile: any supported container, tensors read lazily by key.
//   openClip(input)     → ClipCheckpoint: the file interpreted as CLIP (layout detected,
//                         architecture inferred, every key checked), canonical tensors on demand.
//   loadClip(input)     → { config, tensors }: all canonical CLIP tensors as Float32Arrays.
//
// `input` is a path (Node), a File/Blob (browser), bytes, or a ByteSource. The container is
// recognised by content, not by file name: "PK" → PyTorch zip (torch.save or TorchScript),
// a JSON header → safetensors. Nothing here touches the GPU: upload is a later, separate step.

import { WeightFileError } from './errors.js';
import {
  CLIP_CONFIG_METADATA_KEY,
  looksLikeHfClipConfig,
  openClipCheckpoint,
  parseHfClipConfig,
  type ClipCheckpoint,
  type ClipConfig,
  type ClipConfigHints,
  type ClipLayout,
} from './layouts/clip.js';
import { openSafetensors } from './safetensors.js';
import { openSource, readBytes, resolveWeightPath, type WeightInput } from './source.js';
import { isLegacyPickleMagic, openTorchZip } from './torchzip.js';
import type { LoadOptions, WeightFile, WeightFormat } from './weightfile.js';
import { isZipMagic } from './zip.js';

export { WeightFileError } from './errors.js';
export type { DType } from './dtype.js';
export type { ByteSource, WeightInput } from './source.js';
export { FOLDER_WEIGHT_FILES, resolveWeightPath } from './source.js';
export type { LoadOptions, TensorInfo, WeightFile, WeightFormat } from './weightfile.js';
export {
  CLIP_CONFIG_METADATA_KEY,
  canonicalClipShapes,
  type ClipCheckpoint,
  type ClipConfig,
  type ClipLayout,
  type ClipTextConfig,
  type ClipVisionConfig,
} from './layouts/clip.js';

const TORCH_EXTENSIONS = new Set(['pt', 'pth', 'bin', 'ckpt', 'tar', 'zip']);

function extensionOf(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
}

function hex(bytes: Uint8Array): string {
  return [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** Opens a weight file of any supported format. Only headers are read here. */
export async function loadWeights(input: WeightInput, options: LoadOptions = {}): Promise<WeightFile> {
  const source = await openSource(input, options.name);
  try {
    const file = source.name;
    if (source.size === 0) throw new WeightFileError(file, 'the file is empty');
    const head = await readBytes(source, 0, Math.min(16, source.size));
    const ext = extensionOf(file);
    if (isZipMagic(head)) return await openTorchZip(source, options);
    // safetensors starts with a length, then '{'; trust the extension too, so that a corrupt
    // length still gets a safetensors-specific message.
    if (ext === 'safetensors' || (head.length >= 9 && head[8] === 0x7b)) return await openSafetensors(source, options);
    if (isLegacyPickleMagic(head)) {
      throw new WeightFileError(
        file,
        'is not a zip archive but a bare pickle: a legacy (PyTorch < 1.6) torch.save file, which is not supported; re-save it with a current torch.save',
      );
    }
    if (TORCH_EXTENSIONS.has(ext)) {
      throw new WeightFileError(file, `is not a zip archive (first bytes: ${hex(head)}), so it is not a PyTorch checkpoint`);
    }
    throw new WeightFileError(file, `unrecognised weight file format (first bytes: ${hex(head)}); expected safetensors or a PyTorch zip archive`);
  } catch (err) {
    await source.close();
    throw err;
  }
}

export interface ClipLoadOptions extends LoadOptions {
  /**
   * Hugging Face config.json: a path, a File/Blob, or the parsed object; false to ignore. By
   * default, when `input` is a path, a CLIP config.json next to it is used if present.
   */
  config?: string | Blob | Record<string, unknown> | false;
  /** Key prefix, when a file holds several CLIP models. */
  prefix?: string;
}

/**
 * Finds architecture hints for a CLIP file: the explicit `config` option, else (for a path input)
 * a CLIP config.json in the same folder. Returns undefined when there is none.
 */
export async function resolveClipConfigHints(
  input: WeightInput,
  config: ClipLoadOptions['config'],
): Promise<{ hints: ClipConfigHints; source: string } | undefined> {
  if (config === false) return undefined;
  let text: string;
  let source: string;
  if (config === undefined) {
    if (typeof input !== 'string') return undefined;
    const path = await import('node:path');
    const fs = await import('node:fs/promises');
    source = path.join(path.dirname(input), 'config.json');
    try {
      text = await fs.readFile(source, 'utf8');
    } catch {
      return undefined; // no sibling config: shapes alone will do
    }
    // A config.json of some other model next to the weights is not ours to judge.
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return undefined;
    }
    return looksLikeHfClipConfig(json) ? { hints: parseHfClipConfig(json, source), source } : undefined;
  }
  if (typeof config === 'string') {
    const fs = await import('node:fs/promises');
    source = config;
    try {
      text = await fs.readFile(config, 'utf8');
    } catch (err) {
      throw new WeightFileError(config, `cannot read config: ${(err as Error).message}`);
    }
  } else if (typeof Blob !== 'undefined' && config instanceof Blob) {
    source = (config as Blob & { name?: string }).name || '<config blob>';
    text = await config.text();
  } else {
    return { hints: parseHfClipConfig(config, '<config object>'), source: '<config object>' };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new WeightFileError(source, `config is not valid JSON (${(err as Error).message})`);
  }
  return { hints: parseHfClipConfig(json, source), source };
}

/** Opens a weight file as a CLIP checkpoint. Throws a WeightFileError listing every problem. */
export async function openClip(input: WeightInput, options: ClipLoadOptions = {}): Promise<ClipCheckpoint> {
  if (typeof input === 'string') input = await resolveWeightPath(input);
  const file = await loadWeights(input, options);
  try {
    const cfg = await resolveClipConfigHints(input, options.config);
    return await openClipCheckpoint(file, { hints: cfg?.hints, hintsSource: cfg?.source, prefix: options.prefix });
  } catch (err) {
    await file.close();
    throw err;
  }
}

/** One canonical CLIP tensor in memory. */
export interface ClipTensor {
  /** Dimensions, outermost first; [] for a scalar (logit_scale). */
  shape: readonly number[];
  /** The values as float32, row-major; length = product of `shape`. */
  data: Float32Array;
}

/** A CLIP checkpoint read fully into memory by {@link loadClip}, in the canonical (OpenAI) layout. */
export interface LoadedClip {
  /** The file's name (path or File name), for messages. */
  name: string;
  /** Container format the weights were read from. */
  format: WeightFormat;
  /** Key layout found in the file: 'openai' or 'hf' (Hugging Face CLIPModel, converted on load). */
  layout: ClipLayout;
  /** Architecture inferred from the tensor shapes (and config.json when there is one). */
  config: ClipConfig;
  /** Canonical name → float32 tensor, canonical order. */
  tensors: Map<string, ClipTensor>;
}

/** Loads every canonical CLIP tensor into memory as float32 and closes the file. */
export async function loadClip(input: WeightInput, options: ClipLoadOptions = {}): Promise<LoadedClip> {
  const clip = await openClip(input, options);
  try {
    const tensors = new Map<string, ClipTensor>();
    for (const name of clip.names) tensors.set(name, { shape: clip.shape(name), data: await clip.get(name) });
    return { name: clip.file.name, format: clip.file.format, layout: clip.layout, config: clip.config, tensors };
  } finally {
    await clip.file.close();
  }
}

/** Metadata to store with converted files so that heads and epsilon survive the conversion. */
export function clipConfigMetadata(config: ClipConfig): Record<string, string> {
  return { [CLIP_CONFIG_METADATA_KEY]: JSON.stringify(config) };
}
