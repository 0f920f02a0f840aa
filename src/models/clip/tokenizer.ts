// CLIP's tokenizer: text cleanup, pre-tokenization and byte-level BPE, as OpenAI's
// `simple_tokenizer.py` and `clip.tokenize` define them (docs/algorithms.md §2.1). Written from that
// specification; it shares no code with the original.
//
// Pipeline for one text:
//   1. cleanText: Unicode NFC (standing in for ftfy.fix_text, see below), Python's html.unescape
//      twice, strip, every run of whitespace → one space, strip, lowercase.
//   2. Pre-tokens: the matches of PRETOKEN (special-token literals, the contractions 's 't 're 've
//      'm 'll 'd, runs of letters, single digits, runs of anything else that is not whitespace).
//   3. Each pre-token's UTF-8 bytes become one character each (the byte-to-unicode table), the last
//      one carries '</w>', and the adjacent pair with the lowest merge rank is merged (all its
//      non-overlapping occurrences, left to right) until no ranked pair is left.
//   4. Symbols → ids through the vocabulary. `tokenize` adds <|startoftext|> and <|endoftext|> and
//      pads each row to the context length.
//
// Vocabulary sources: OpenAI's `bpe_simple_vocab_16e6.txt.gz` (merges only; the vocabulary is
// derived from them) or a Hugging Face `vocab.json` + `merges.txt` pair. Both are built from bytes
// or strings, so this module runs in browsers; `tokenizer-node.ts` reads the files from disk.
//
// Differences from the original (all documented at cleanText):
// - ftfy is not available in JavaScript. NFC (one of ftfy's steps) stands in for ftfy.fix_text,
//   and lone UTF-16 surrogates become U+FFFD (ftfy's fix_surrogates; Python could not even encode
//   them). Everything else ftfy does (mojibake repair, curly quotes → straight, ligatures and
//   full-width forms → plain letters, removal of control characters and terminal escapes, its own
//   HTML-entity decoding, …) is not done, so text that ftfy would change can tokenize differently.
//   Printable ASCII without '&', which covers every prompt of CLIP-ES's label sets, is unaffected.
// - A vocabulary without some byte symbol (possible with a custom vocab.json) makes encode throw,
//   naming the symbol; Hugging Face's tokenizer would emit <|endoftext|> as its unknown token.
// - Unicode tables (letter/number categories, case mappings, NFC) are the JavaScript engine's;
//   the original uses those of its Python and `regex` builds. They agree for characters assigned in
//   both Unicode versions (checked for every code point of Unicode 14 against Python 3.11).

import { Gunzip } from 'fflate';
import { htmlUnescape } from './html-entities.js';

export const START_OF_TEXT = '<|startoftext|>';
export const END_OF_TEXT = '<|endoftext|>';
/** CLIP's text context length (positional embeddings of every OpenAI CLIP). */
export const CLIP_CONTEXT_LENGTH = 77;
/** Number of merges OpenAI's tokenizer takes from bpe_simple_vocab_16e6.txt.gz: 49152 − 256 − 2. */
export const CLIP_MERGE_COUNT = 48894;
const END_OF_WORD = '</w>';
const DEFAULT_CACHE_SIZE = 10_000;

/** Every problem with a vocabulary file or a text to tokenize. File problems start with the file name. */
export class TokenizerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerError';
  }
}

export interface TokenizerOptions {
  /** Row length of `tokenize`. Default 77; a small model may have fewer positional embeddings. */
  contextLength?: number;
  /**
   * What fills a row after <|endoftext|>: 'zero' (id 0, as OpenAI's `clip.tokenize`; default) or
   * 'eot' (<|endoftext|>, as Hugging Face's CLIPTokenizer). With CLIP's causal mask and pooling at
   * the first (= largest-id) <|endoftext|>, both give the same text features.
   */
  padding?: 'zero' | 'eot';
  /** Most pre-tokens whose ids are remembered (oldest forgotten first). Default 10,000; 0 disables. */
  cacheSize?: number;
}

export interface TokenizeOptions {
  /**
   * A text longer than the context length (with its start and end tokens) is an error unless
   * `truncate` is set; then the row is cut to the context length and ends with <|endoftext|>.
   */
  truncate?: boolean;
  /** Overrides the tokenizer's padding for this call. */
  padding?: 'zero' | 'eot';
}

export interface OpenAiVocabOptions extends TokenizerOptions {
  /** Name for error messages (a path or file name). Default 'bpe_simple_vocab_16e6.txt.gz'. */
  name?: string;
  /** Merges to use, from line 1 on: 48,894 like CLIP (default), another count, or 'all' lines. */
  mergeCount?: number | 'all';
}

export interface HuggingFaceVocabOptions extends TokenizerOptions {
  /** Names for error messages. Defaults 'vocab.json' and 'merges.txt'. */
  vocabName?: string;
  mergesName?: string;
}

// ---------------------------------------------------------------------------------------------
// Text cleanup

// Whitespace as CLIP's cleanup sees it. The `regex` module's \s (whitespace collapsing and the
// pre-tokenizer) is Unicode's White_Space property; Python's str.strip() also removes U+001C–U+001F
// (str.isspace). JavaScript's \s differs from both (it has U+FEFF, lacks U+0085), so the sets are
// spelled out.
const WHITE_SPACE = '\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const WHITE_SPACE_RUN = new RegExp(`[${WHITE_SPACE}]+`, 'g');
const STRIP = new RegExp(`^[${WHITE_SPACE}\\x1c-\\x1f]+|[${WHITE_SPACE}\\x1c-\\x1f]+$`, 'g');
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * CLIP's text cleanup (`basic_clean`, `whitespace_clean`, `lower`), in the original order:
 *
 * 1. ftfy.fix_text → **Unicode NFC** only (plus lone surrogates → U+FFFD). ftfy does not exist in
 *    JavaScript; NFC is the fix_text step that matters most for well-formed text (decomposed
 *    "e\u0301" becomes "é"). Not reproduced: mojibake repair ("cafÃ©" stays as it is), uncurling
 *    quotes ("it’s" keeps its U+2019, so no 's contraction), ligature and full-width folding ("ﬁ",
 *    "Ａ"), removal of control characters, terminal escapes and BOMs, line-break normalization, and
 *    ftfy's own decoding of HTML entities (by default it decodes them, repeatedly, in text without
 *    '<', and also accepts wrongly capitalized names such as "&EACUTE;"). So even printable ASCII
 *    can differ when it holds entities escaped three or more times ("&amp;amp;amp;") or
 *    mis-capitalized ones. Results for text that ftfy would change may differ from OpenAI's.
 * 2. Python's html.unescape, twice ("&amp;lt;" → "<"; see html-entities.ts).
 * 3. strip (Python str.strip: Unicode whitespace and U+001C–U+001F).
 * 4. Every run of White_Space characters → one space, then strip again.
 * 5. Lowercase. JavaScript's toLowerCase and Python's str.lower both apply Unicode's full default
 *    lowercase mapping: "İ" → "i̇" (i + U+0307) and Σ → ς at the end of a word (Final_Sigma) in both.
 *    They differ only where the engines' Unicode versions differ.
 */
export function cleanText(text: string): string {
  let t = text.replace(LONE_SURROGATE, '\ufffd').normalize('NFC');
  t = htmlUnescape(htmlUnescape(t));
  t = t.replace(STRIP, '').replace(WHITE_SPACE_RUN, ' ').replace(STRIP, '');
  return t.toLowerCase();
}

// The pre-tokenization pattern of §2.1. The original compiles it case-insensitively
// (`regex.IGNORECASE`); on text that is already lowercase that changes exactly three things, spelled
// out here instead of using the `i` flag (which also costs ~1 ms more to compile): "'ſ" (long s,
// U+017F) matches 's, "<|ſtartoftext|>" matches the special-token alternative (it is then BPE'd as
// text, not mapped to the special token), and U+0345, whose case variants include ι, counts as a
// letter. (Checked over every code point: no other lowercase character case-folds to a letter of
// the pattern, and none but U+0345 changes class.)
const PRETOKEN = new RegExp(
  `<\\|[s\u017f]tartoftext\\|>|<\\|endoftext\\|>|'[s\u017f]|'t|'re|'ve|'m|'ll|'d|[\\p{L}\u0345]+|\\p{N}|[^${WHITE_SPACE}\\p{L}\\p{N}\u0345]+`,
  'gu',
);

/** The pre-tokens of an already cleaned text. */
export function preTokens(cleaned: string): string[] {
  return Array.from(cleaned.matchAll(PRETOKEN), (m) => m[0]);
}

// ---------------------------------------------------------------------------------------------
// Byte-level symbols

/**
 * OpenAI's `bytes_to_unicode`: byte b → one character. Printable bytes ('!'..'~', '¡'..'¬',
 * '®'..'ÿ') stand for themselves; the other 68 take U+0100, U+0101, … in increasing byte order.
 */
export function byteToUnicodeTable(): string[] {
  const table: string[] = [];
  let next = 0x100;
  for (let b = 0; b < 256; b++) table.push(String.fromCharCode(isPrintableByte(b) ? b : next++));
  return table;
}

function isPrintableByte(b: number): boolean {
  return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

const BYTE_CHARS = byteToUnicodeTable();
const CHAR_BYTES = new Map(BYTE_CHARS.map((c, b) => [c, b]));

/** The 256 byte symbols in vocabulary order: printable bytes ascending, then the other 68. */
function byteSymbolsInVocabOrder(): string[] {
  const order: number[] = [];
  for (let b = 0; b < 256; b++) if (isPrintableByte(b)) order.push(b);
  for (let b = 0; b < 256; b++) if (!isPrintableByte(b)) order.push(b);
  return order.map((b) => BYTE_CHARS[b]!);
}

// ---------------------------------------------------------------------------------------------
// The tokenizer

/** A parsed vocabulary: tokens by id, and per merge rank the ids of its two parts and its result. */
interface Vocabulary {
  name: string;
  tokens: string[];
  encoder: Map<string, number>;
  /** [first, second, result] ids of merge r at 3r, 3r+1, 3r+2. */
  merges: Int32Array;
}

export class ClipTokenizer {
  /** Where the vocabulary came from (for messages). */
  readonly name: string;
  /** Number of tokens; ids are 0..vocabSize − 1 (49408 for OpenAI's vocabulary). */
  readonly vocabSize: number;
  /** Id of <|startoftext|>, which begins every row (49406 for OpenAI's vocabulary). */
  readonly sotId: number;
  /** Id of <|endoftext|>, which ends every text (49407 for OpenAI's vocabulary). */
  readonly eotId: number;
  /** Default row length of `tokenize`. */
  readonly contextLength: number;
  /** Default fill of a row after <|endoftext|>: 'zero' (id 0, OpenAI) or 'eot' (Hugging Face). */
  readonly padding: 'zero' | 'eot';
  /** Number of BPE merge rules (48894 for OpenAI's vocabulary). */
  readonly mergeCount: number;

  private readonly tokens: readonly string[];
  private readonly encoder: ReadonlyMap<string, number>;
  private readonly ranks: PairTable;
  /** Result id of each merge, by rank. */
  private readonly mergedIds: Int32Array;
  /** Id of each byte's symbol, and of the symbol with '</w>' (−1 where the vocabulary lacks it). */
  private readonly byteIds = new Int32Array(256);
  private readonly byteEndIds = new Int32Array(256);
  private readonly cache = new Map<string, readonly number[]>();
  private readonly cacheSize: number;

  private constructor(vocab: Vocabulary, options: TokenizerOptions) {
    this.name = vocab.name;
    this.tokens = vocab.tokens;
    this.encoder = vocab.encoder;
    this.vocabSize = vocab.tokens.length;
    const count = vocab.merges.length / 3;
    this.mergeCount = count;
    this.ranks = new PairTable(count);
    this.mergedIds = new Int32Array(count);
    for (let r = 0; r < count; r++) {
      this.ranks.set(vocab.merges[3 * r]!, vocab.merges[3 * r + 1]!, r);
      this.mergedIds[r] = vocab.merges[3 * r + 2]!;
    }
    for (let b = 0; b < 256; b++) {
      this.byteIds[b] = vocab.encoder.get(BYTE_CHARS[b]!) ?? -1;
      this.byteEndIds[b] = vocab.encoder.get(BYTE_CHARS[b]! + END_OF_WORD) ?? -1;
    }
    const sot = vocab.encoder.get(START_OF_TEXT);
    const eot = vocab.encoder.get(END_OF_TEXT);
    if (sot === undefined || eot === undefined) {
      const missing = [sot === undefined ? START_OF_TEXT : '', eot === undefined ? END_OF_TEXT : ''].filter((s) => s !== '').join(' and ');
      throw new TokenizerError(`${vocab.name}: the vocabulary has no ${missing} token; a CLIP vocabulary needs both ${START_OF_TEXT} and ${END_OF_TEXT}`);
    }
    this.sotId = sot;
    this.eotId = eot;
    this.contextLength = checkContextLength(options.contextLength ?? CLIP_CONTEXT_LENGTH);
    this.padding = checkPadding(options.padding ?? 'zero');
    const cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
    if (!Number.isSafeInteger(cacheSize) || cacheSize < 0) throw new TokenizerError(`cacheSize must be a non-negative integer, got ${cacheSize}`);
    this.cacheSize = cacheSize;
  }

  /**
   * From OpenAI's `bpe_simple_vocab_16e6.txt.gz` (gzipped or already unpacked; bytes or text).
   * Line 0 is a header; lines 1…48894 are the merges "first second" (the ~213k later lines are
   * ignored, as by the original, and are not even unpacked). Vocabulary: the 256 byte symbols, the
   * same with '</w>', one token per merge (first+second), then <|startoftext|> and <|endoftext|>
   * (ids 49406 and 49407).
   */
  static fromOpenAiBpe(data: Uint8Array | ArrayBuffer | string, options: OpenAiVocabOptions = {}): ClipTokenizer {
    const name = options.name ?? 'bpe_simple_vocab_16e6.txt.gz';
    const want = options.mergeCount ?? CLIP_MERGE_COUNT;
    if (want !== 'all' && (!Number.isSafeInteger(want) || want < 0)) throw new TokenizerError(`${name}: mergeCount must be a non-negative integer or 'all', got ${String(want)}`);
    const lineCount = want === 'all' ? Infinity : want + 1;
    const text = typeof data === 'string' ? data : decodeUtf8(leadingLines(toBytes(data), lineCount, name), name);

    const base = byteSymbolsInVocabOrder();
    const tokens = [...base, ...base.map((s) => s + END_OF_WORD)];
    const encoder = new Map<string, number>();
    tokens.forEach((token, id) => encoder.set(token, id));
    // Which line made a token (lines counted from 1, as editors do: the header is line 1, merge r
    // (0-based) is line r + 2, and makes token 512 + r).
    const madeBy = (id: number) => (id < 512 ? 'a byte symbol' : `line ${id - 510}`);
    const add = (token: string, what: string) => {
      const earlier = encoder.get(token);
      if (earlier !== undefined) throw new TokenizerError(`${name}: ${what} makes token '${token}', as ${madeBy(earlier)} does already; every token must be unique`);
      encoder.set(token, tokens.length);
      tokens.push(token);
    };

    // The load's hot loop (49k lines): walk the text with indexOf instead of splitting it.
    const merges: number[] = [];
    const unresolved: [number, string, string][] = [];
    let end = text.length;
    while (end > 0 && (text.charCodeAt(end - 1) === 0x0a || text.charCodeAt(end - 1) === 0x0d)) end--;
    let start = text.indexOf('\n') + 1 || end;
    let r = 0;
    for (; r < lineCount - 1 && start < end; r++) {
      let next = text.indexOf('\n', start);
      if (next < 0 || next > end) next = end;
      const lineEnd = text.charCodeAt(next - 1) === 0x0d ? next - 1 : next;
      const space = text.indexOf(' ', start);
      const again = space < 0 ? -1 : text.indexOf(' ', space + 1);
      if (space <= start || space >= lineEnd - 1 || (again >= 0 && again < lineEnd)) {
        throw new TokenizerError(`${name}: line ${r + 2}: expected a merge 'first second' (two symbols, one space), got ${quote(text.slice(start, lineEnd))}`);
      }
      const first = text.slice(start, space);
      const second = text.slice(space + 1, lineEnd);
      const a = encoder.get(first) ?? -1;
      const b = encoder.get(second) ?? -1;
      if (a < 0 || b < 0) unresolved.push([r, first, second]);
      merges.push(a, b, tokens.length);
      add(first + second, `line ${r + 2} (merge '${first} ${second}')`);
      start = next + 1;
    }
    if (want !== 'all' && r < want) {
      throw new TokenizerError(`${name}: holds ${r} merge lines after its header, fewer than the ${want} expected (CLIP uses ${CLIP_MERGE_COUNT}; pass mergeCount to use another number): not a CLIP BPE file, or truncated`);
    }
    add(START_OF_TEXT, 'the special token');
    add(END_OF_TEXT, 'the special token');
    // A merge may use a symbol that only a later line makes (CLIP's file never does): resolve those now.
    for (const [u, first, second] of unresolved) {
      const [a, b] = partIds([first, second], encoder, `${name}: line ${u + 2}`);
      merges[3 * u] = a;
      merges[3 * u + 1] = b;
    }
    return new ClipTokenizer({ name, tokens, encoder, merges: Int32Array.from(merges) }, options);
  }

  /**
   * From Hugging Face's `vocab.json` (token → id, ids 0…N−1 each used once, special tokens
   * included) and `merges.txt` (an optional "#version" header line, then "first second" per line,
   * in rank order; all lines are used). `vocab` may be the file's bytes, its text, or the parsed
   * object.
   */
  static fromHuggingFace(vocab: Uint8Array | ArrayBuffer | string | Record<string, unknown>, merges: Uint8Array | ArrayBuffer | string, options: HuggingFaceVocabOptions = {}): ClipTokenizer {
    const vocabName = options.vocabName ?? 'vocab.json';
    const mergesName = options.mergesName ?? 'merges.txt';
    const tokens = parseVocabJson(vocab, vocabName);
    const encoder = new Map(tokens.map((t, id) => [t, id]));

    const mergesText = typeof merges === 'string' ? merges : decodeUtf8(toBytes(merges), mergesName);
    const lines = splitLines(mergesText, Infinity);
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    const first = lines[0]?.startsWith('#version') ? 1 : 0;
    const ids = new Int32Array(3 * (lines.length - first));
    const seen = new Map<string, number>();
    for (let i = first; i < lines.length; i++) {
      const where = `${mergesName}: line ${i + 1}`;
      const pair = parseMergeLine(lines[i]!, i + 1, mergesName);
      const [a, b] = partIds(pair, encoder, where);
      const key = pair.join(' ');
      const again = seen.get(key);
      if (again !== undefined) throw new TokenizerError(`${where}: merge '${key}' repeats line ${again}`);
      seen.set(key, i + 1);
      const result = encoder.get(pair[0] + pair[1]);
      if (result === undefined) throw new TokenizerError(`${where}: merge '${key}' makes '${pair[0] + pair[1]}', which is not in ${vocabName} (do the two files belong together?)`);
      ids.set([a, b, result], 3 * (i - first));
    }
    return new ClipTokenizer({ name: `${vocabName} + ${mergesName}`, tokens, encoder, merges: ids }, options);
  }

  /** The ids of one text, without start/end tokens. */
  encode(text: string): number[] {
    if (typeof text !== 'string') throw new TokenizerError(`encode expects a string, got ${describe(text)}`);
    const ids: number[] = [];
    for (const match of cleanText(text).matchAll(PRETOKEN)) {
      for (const id of this.encodePreToken(match[0], text)) ids.push(id);
    }
    return ids;
  }

  /**
   * `clip.tokenize`: one row per text, [<|startoftext|>, …ids, <|endoftext|>, padding…], as an
   * Int32Array of shape [texts.length, contextLength] (row-major). A text that does not fit is an
   * error naming it, unless `truncate` (then the row is cut and its last id set to <|endoftext|>).
   */
  tokenize(texts: string | readonly string[], contextLength: number = this.contextLength, options: TokenizeOptions = {}): Int32Array {
    const list = typeof texts === 'string' ? [texts] : texts;
    if (!Array.isArray(list)) throw new TokenizerError(`tokenize expects a string or an array of strings, got ${describe(texts)}`);
    const ctx = checkContextLength(contextLength);
    const pad = checkPadding(options.padding ?? this.padding) === 'eot' ? this.eotId : 0;
    const out = new Int32Array(list.length * ctx);
    if (pad !== 0) out.fill(pad);
    list.forEach((text, row) => {
      if (typeof text !== 'string') throw new TokenizerError(`tokenize: text ${row} is ${describe(text)}, not a string`);
      const ids = [this.sotId, ...this.encode(text), this.eotId];
      if (ids.length > ctx) {
        if (!options.truncate) {
          const which = list.length > 1 ? `text ${row} ` : 'text ';
          throw new TokenizerError(`${which}${quote(text)} has ${ids.length} tokens (with <|startoftext|> and <|endoftext|>), more than the context length ${ctx}; shorten it or tokenize with { truncate: true }`);
        }
        ids.length = ctx;
        ids[ctx - 1] = this.eotId;
      }
      out.set(ids, row * ctx);
    });
    return out;
  }

  /** Ids back to text (OpenAI's `decode`: '</w>' becomes a space; invalid UTF-8 becomes U+FFFD). */
  decode(ids: ArrayLike<number>): string {
    const bytes: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const token = this.tokens[ids[i]!];
      if (token === undefined) throw new TokenizerError(`decode: id ${ids[i]} at position ${i} is not in the vocabulary (0…${this.vocabSize - 1})`);
      for (const ch of token) {
        const b = CHAR_BYTES.get(ch);
        if (b === undefined) throw new TokenizerError(`decode: token ${ids[i]} '${token}' has the character '${ch}', which is no byte symbol`);
        bytes.push(b);
      }
    }
    return new TextDecoder('utf-8').decode(Uint8Array.from(bytes)).replaceAll(END_OF_WORD, ' ');
  }

  /** Token string of an id (undefined when out of range). */
  token(id: number): string | undefined {
    return this.tokens[id];
  }

  /** Id of a token string (undefined when absent). */
  id(token: string): number | undefined {
    return this.encoder.get(token);
  }

  /** Number of pre-tokens whose ids are cached. */
  get cachedPreTokens(): number {
    return this.cache.size;
  }

  private encodePreToken(preToken: string, text: string): readonly number[] {
    const cached = this.cache.get(preToken);
    if (cached) return cached;
    const ids = preToken === START_OF_TEXT ? [this.sotId] : preToken === END_OF_TEXT ? [this.eotId] : this.bpe(this.symbolIds(preToken, text));
    if (this.cacheSize > 0) {
      // Bounded: the oldest entry goes first (Map keeps insertion order).
      if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(preToken, ids);
    }
    return ids;
  }

  /** Ids of a pre-token's byte symbols (UTF-8), the last one with '</w>'. */
  private symbolIds(preToken: string, text: string): number[] {
    const bytes: number[] = [];
    for (const ch of preToken) {
      const cp = ch.codePointAt(0)!;
      if (cp < 0x80) bytes.push(cp);
      else if (cp < 0x800) bytes.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
      else if (cp < 0x10000) bytes.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
      else bytes.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
    }
    const last = bytes.length - 1;
    return bytes.map((b, i) => {
      const id = i < last ? this.byteIds[b]! : this.byteEndIds[b]!;
      if (id < 0) {
        const symbol = BYTE_CHARS[b]! + (i < last ? '' : END_OF_WORD);
        throw new TokenizerError(`${this.name}: the vocabulary has no token '${symbol}' (byte 0x${b.toString(16).padStart(2, '0')}), needed for '${preToken}' in ${quote(text)}`);
      }
      return id;
    });
  }

  /**
   * Byte-pair merging: while some adjacent pair has a rank, merge every occurrence of the
   * lowest-ranked pair, left to right, never reusing a symbol. Symbols are token ids, which stand
   * one-to-one for the symbol strings of the original.
   */
  private bpe(word: number[]): number[] {
    while (word.length > 1) {
      let best = Infinity;
      let at = -1;
      for (let i = 0; i + 1 < word.length; i++) {
        const rank = this.ranks.get(word[i]!, word[i + 1]!);
        if (rank >= 0 && rank < best) {
          best = rank;
          at = i;
        }
      }
      if (at < 0) break;
      // `at` is the first occurrence of the pair (ranks are unique; the scan keeps the first).
      const first = word[at]!;
      const second = word[at + 1]!;
      const result = this.mergedIds[best]!;
      const merged = word.slice(0, at);
      for (let i = at; i < word.length; ) {
        if (i + 1 < word.length && word[i] === first && word[i + 1] === second) {
          merged.push(result);
          i += 2;
        } else {
          merged.push(word[i]!);
          i += 1;
        }
      }
      word = merged;
    }
    return word;
  }
}

/**
 * Merge ranks by (first id, second id): an open-addressing hash table in typed arrays, which
 * builds and answers faster than a Map keyed by strings or by first·N + second (not a small
 * integer once the vocabulary passes 2^15 tokens).
 */
class PairTable {
  private readonly shift: number;
  private readonly mask: number;
  private readonly firsts: Int32Array;
  private readonly seconds: Int32Array;
  private readonly values: Int32Array;

  constructor(count: number) {
    let bits = 4;
    while (1 << bits < count * 2) bits++;
    this.shift = 32 - bits;
    this.mask = (1 << bits) - 1;
    this.firsts = new Int32Array(1 << bits).fill(-1);
    this.seconds = new Int32Array(1 << bits);
    this.values = new Int32Array(1 << bits);
  }

  /** Home slot: the top bits of a multiplicative hash of both ids. */
  private slot(a: number, b: number): number {
    const h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77);
    return Math.imul(h ^ (h >>> 16), 0xc2b2ae35) >>> this.shift;
  }

  /** Keeps the first value set for a pair (callers reject repeated pairs before). */
  set(a: number, b: number, value: number): void {
    let i = this.slot(a, b);
    while (this.firsts[i] !== -1) {
      if (this.firsts[i] === a && this.seconds[i] === b) return;
      i = (i + 1) & this.mask;
    }
    this.firsts[i] = a;
    this.seconds[i] = b;
    this.values[i] = value;
  }

  /** The value of (a, b), or −1. */
  get(a: number, b: number): number {
    let i = this.slot(a, b);
    for (;;) {
      const f = this.firsts[i]!;
      if (f === -1) return -1;
      if (f === a && this.seconds[i] === b) return this.values[i]!;
      i = (i + 1) & this.mask;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing helpers

function toBytes(data: Uint8Array | ArrayBuffer): Uint8Array {
  return data instanceof Uint8Array ? data : new Uint8Array(data);
}

/**
 * The bytes of the first `lines` lines (all of them for Infinity), unpacked first if gzipped.
 * CLIP reads 48,895 of the file's 262,146 lines, the first sixth of it, so unpacking and decoding
 * stop there.
 */
function leadingLines(bytes: Uint8Array, lines: number, name: string): Uint8Array {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return cutAfterLines(bytes, lines);
  const chunks: Uint8Array[] = [];
  let newlines = 0;
  let total = 0;
  let ended = false;
  const gunzip = new Gunzip((chunk, final) => {
    chunks.push(chunk);
    total += chunk.length;
    for (let i = 0; i < chunk.length && newlines < lines; i++) if (chunk[i] === 0x0a) newlines++;
    if (final) ended = true;
  });
  const step = 1 << 15;
  try {
    for (let offset = 0; offset < bytes.length && newlines < lines; offset += step) {
      gunzip.push(bytes.subarray(offset, offset + step), offset + step >= bytes.length);
    }
  } catch (err) {
    throw new TokenizerError(`${name}: cannot gunzip: ${err instanceof Error ? err.message : String(err)} (truncated or corrupt download?)`);
  }
  if (newlines < lines && !ended) throw new TokenizerError(`${name}: the gzip stream ends early (truncated download?)`);
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return cutAfterLines(out, lines);
}

/** `bytes` up to and including its `lines`-th newline (a whole-line cut, so no character is split). */
function cutAfterLines(bytes: Uint8Array, lines: number): Uint8Array {
  if (lines === Infinity) return bytes;
  let at = -1;
  for (let seen = 0; seen < lines; seen++) {
    at = bytes.indexOf(0x0a, at + 1);
    if (at < 0) return bytes;
  }
  return bytes.subarray(0, at + 1);
}

function decodeUtf8(bytes: Uint8Array, name: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new TokenizerError(`${name}: not valid UTF-8 text (a vocabulary file is UTF-8)`);
  }
}

/** The first `max` lines of `text` (all of them for Infinity); accepts '\n' and '\r\n'. */
function splitLines(text: string, max: number): string[] {
  const lines: string[] = [];
  let start = 0;
  while (lines.length < max && start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    lines.push(text.charCodeAt(end - 1) === 13 && end > start ? text.slice(start, end - 1) : text.slice(start, end));
    start = end + 1;
  }
  return lines;
}

function parseMergeLine(line: string, lineNumber: number, name: string): [string, string] {
  const space = line.indexOf(' ');
  if (space <= 0 || space === line.length - 1 || line.indexOf(' ', space + 1) >= 0) {
    throw new TokenizerError(`${name}: line ${lineNumber}: expected a merge 'first second' (two symbols, one space), got ${quote(line)}`);
  }
  return [line.slice(0, space), line.slice(space + 1)];
}

/** Ids of a merge's two symbols; each must be a token already (a byte symbol or a merge's result). */
function partIds(pair: [string, string], encoder: ReadonlyMap<string, number>, where: string): [number, number] {
  const ids = pair.map((part) => {
    const id = encoder.get(part);
    if (id === undefined) throw new TokenizerError(`${where}: merge '${pair.join(' ')}' uses '${part}', which is not a token of the vocabulary (neither a byte symbol nor made by a merge)`);
    return id;
  });
  return [ids[0]!, ids[1]!];
}

function parseVocabJson(vocab: Uint8Array | ArrayBuffer | string | Record<string, unknown>, name: string): string[] {
  let json: unknown = vocab;
  if (typeof vocab === 'string' || vocab instanceof Uint8Array || vocab instanceof ArrayBuffer) {
    const text = typeof vocab === 'string' ? vocab : decodeUtf8(toBytes(vocab), name);
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new TokenizerError(`${name}: not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new TokenizerError(`${name}: expected a JSON object mapping each token to its id`);
  const entries = Object.entries(json as Record<string, unknown>);
  if (entries.length === 0) throw new TokenizerError(`${name}: the vocabulary is empty`);
  const tokens: (string | undefined)[] = new Array(entries.length);
  for (const [token, id] of entries) {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) throw new TokenizerError(`${name}: token ${quote(token)} has id ${JSON.stringify(id)}; ids must be integers ≥ 0`);
    if (id >= entries.length) throw new TokenizerError(`${name}: token ${quote(token)} has id ${id}, but there are ${entries.length} tokens: ids must run from 0 to ${entries.length - 1} without gaps`);
    const other = tokens[id];
    if (other !== undefined) throw new TokenizerError(`${name}: tokens ${quote(other)} and ${quote(token)} both have id ${id}; ids must be unique`);
    tokens[id] = token;
  }
  // Unique ids below the count fill every slot, so there are no gaps left to report.
  return tokens as string[];
}

function checkContextLength(n: number): number {
  if (!Number.isSafeInteger(n) || n < 2) throw new TokenizerError(`context length must be an integer ≥ 2 (room for <|startoftext|> and <|endoftext|>), got ${String(n)}`);
  return n;
}

function checkPadding(p: string): 'zero' | 'eot' {
  if (p !== 'zero' && p !== 'eot') throw new TokenizerError(`padding must be 'zero' or 'eot', got ${JSON.stringify(p)}`);
  return p;
}

/** A text for messages: JSON-quoted, cut to about 60 characters. */
function quote(text: string, max = 60): string {
  const chars = Array.from(text);
  return chars.length <= max ? JSON.stringify(text) : `${JSON.stringify(chars.slice(0, max).join(''))}… (${chars.length} characters)`;
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}
