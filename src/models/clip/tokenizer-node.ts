// Node-only: reads a CLIP vocabulary from disk and builds a ClipTokenizer (tokenizer.ts stays free
// of `fs`, so it bundles for the browser, where callers fetch the bytes themselves).
//
// Accepted paths:
//   - OpenAI's `bpe_simple_vocab_16e6.txt.gz` (or the unpacked .txt);
//   - a Hugging Face `vocab.json` (its `merges.txt` is taken from the same folder);
//   - a folder holding `vocab.json` + `merges.txt`, or else `bpe_simple_vocab_16e6.txt.gz`.

import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { ClipTokenizer, TokenizerError, type OpenAiVocabOptions, type TokenizerOptions } from './tokenizer.js';

export const OPENAI_BPE_FILE = 'bpe_simple_vocab_16e6.txt.gz';

/**
 * OpenAI's CLIP vocabulary as shipped with seedmask (assets/clip/, MIT, OpenAI): the default for
 * OpenAI-layout weights that have no vocabulary beside them.
 */
export const BUNDLED_CLIP_VOCAB = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'assets', 'clip', OPENAI_BPE_FILE);

/** The vocabulary size of OpenAI's CLIP text towers (49,152 BPE tokens + SOT + EOT + 254 unused). */
export const OPENAI_VOCAB_SIZE = 49408;

export async function loadClipTokenizer(path: string, options: TokenizerOptions & Pick<OpenAiVocabOptions, 'mergeCount'> = {}): Promise<ClipTokenizer> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (err) {
    throw new TokenizerError(`${path}: cannot read the vocabulary: ${messageOf(err)}`);
  }
  if (isDir) {
    if (await exists(join(path, 'vocab.json'))) return loadHuggingFace(join(path, 'vocab.json'), join(path, 'merges.txt'), options);
    if (await exists(join(path, OPENAI_BPE_FILE))) return loadOpenAi(join(path, OPENAI_BPE_FILE), options);
    throw new TokenizerError(`${path}: no vocabulary in this folder (looked for vocab.json + merges.txt, and ${OPENAI_BPE_FILE})`);
  }
  if (basename(path).endsWith('.json')) return loadHuggingFace(path, join(dirname(path), 'merges.txt'), options);
  return loadOpenAi(path, options);
}

async function loadOpenAi(path: string, options: TokenizerOptions & Pick<OpenAiVocabOptions, 'mergeCount'>): Promise<ClipTokenizer> {
  let bytes: Uint8Array = await read(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    // Node's native zlib: a few ms for the whole 3 MB, where the portable fflate path of
    // fromOpenAiBpe would cost a cold start of its JavaScript inflater.
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      throw new TokenizerError(`${path}: cannot gunzip: ${messageOf(err)} (truncated or corrupt download?)`);
    }
  }
  return ClipTokenizer.fromOpenAiBpe(bytes, { ...options, name: path });
}

async function loadHuggingFace(vocabPath: string, mergesPath: string, options: TokenizerOptions): Promise<ClipTokenizer> {
  const [vocab, merges] = await Promise.all([read(vocabPath), read(mergesPath)]);
  return ClipTokenizer.fromHuggingFace(vocab, merges, { ...options, vocabName: vocabPath, mergesName: mergesPath });
}

async function read(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new TokenizerError(`${path}: cannot read the vocabulary: ${messageOf(err)}`);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
