// For harness pages: the world CLIP, served at /world-clip/ by the driver, loaded in the browser.
import { ClipModel, ClipTokenizer, type Gpu } from '../../src/browser.js';

export async function fetchBytes(path: string): Promise<Uint8Array> {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

export async function loadWorldClip(gpu: Gpu): Promise<ClipModel> {
  const tokenizer = ClipTokenizer.fromHuggingFace(await fetchBytes('/world-clip/vocab.json'), await fetchBytes('/world-clip/merges.txt'));
  const config = JSON.parse(new TextDecoder().decode(await fetchBytes('/world-clip/config.json'))) as Record<string, unknown>;
  return ClipModel.load(gpu, new Blob([(await fetchBytes('/world-clip/model.safetensors')) as Uint8Array<ArrayBuffer>]), { config, tokenizer });
}
