// CLIP tokenizer (src/models/clip/tokenizer.ts). Three layers of evidence:
//   1. Always: cleanup, HTML unescaping, pre-tokenization, BPE mechanics, tokenize/padding/
//      truncation and every load error, on in-memory toy vocabularies.
//   2. With OpenAI's bpe_simple_vocab_16e6.txt.gz (shipped in assets/clip/): "a photo of a cat.", docs/algorithms.md Appendix A (104 CLIP-ES prompts), and
//      1,200 varied strings against test/fixtures/tokenizer/reference.json, written by the
//      independent Python reference next to it.
//   3. With that file and /usr/bin/python3: the same vocabulary converted to Hugging Face's
//      vocab.json + merges.txt by the reference script must give the same ids.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { htmlEntities, htmlUnescape } from '../../../src/models/clip/html-entities.js';
import { HTML5_ENTITY_COUNT } from '../../../src/models/clip/html-entities-data.js';
import { byteToUnicodeTable, cleanText, ClipTokenizer, END_OF_TEXT, preTokens, START_OF_TEXT, TokenizerError } from '../../../src/models/clip/tokenizer.js';
import { BUNDLED_CLIP_VOCAB, loadClipTokenizer } from '../../../src/models/clip/tokenizer-node.js';
import { backgroundPrompts, classPrompts, COCO_LABELSET, VOC_LABELSET } from '../../../src/wsss/labelset.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'tokenizer');
const BPE_PATH = BUNDLED_CLIP_VOCAB;
const PYTHON = '/usr/bin/python3';
const HAS_PYTHON = existsSync(PYTHON);
const WORLD_CLIP = join(ROOT, 'weights', 'world-clip');

interface ReferenceFixture {
  generator: string;
  vocab_sha256: string;
  cases: [text: string, cleaned: string, ids: number[]][];
}

/** docs/algorithms.md Appendix A: `a clean origami {}.` prompts, ids with SOT/EOT, before padding. */
const APPENDIX_A: [string, string][] = [
  ['a clean origami aeroplane.', '49406 320 3772 31832 27735 3980 269 49407'],
  ['a clean origami bicycle.', '49406 320 3772 31832 11652 269 49407'],
  ['a clean origami bird avian.', '49406 320 3772 31832 3329 24115 269 49407'],
  ['a clean origami boat.', '49406 320 3772 31832 4440 269 49407'],
  ['a clean origami bottle.', '49406 320 3772 31832 5392 269 49407'],
  ['a clean origami bus.', '49406 320 3772 31832 2840 269 49407'],
  ['a clean origami car.', '49406 320 3772 31832 1615 269 49407'],
  ['a clean origami cat.', '49406 320 3772 31832 2368 269 49407'],
  ['a clean origami chair seat.', '49406 320 3772 31832 4269 4922 269 49407'],
  ['a clean origami cow.', '49406 320 3772 31832 9706 269 49407'],
  ['a clean origami diningtable.', '49406 320 3772 31832 1462 653 2175 269 49407'],
  ['a clean origami dog.', '49406 320 3772 31832 1929 269 49407'],
  ['a clean origami horse.', '49406 320 3772 31832 4558 269 49407'],
  ['a clean origami motorbike.', '49406 320 3772 31832 33341 269 49407'],
  ['a clean origami person with clothes,people,human.', '49406 320 3772 31832 2533 593 7080 267 1047 267 2751 269 49407'],
  ['a clean origami pottedplant.', '49406 320 3772 31832 3547 4841 3912 269 49407'],
  ['a clean origami sheep.', '49406 320 3772 31832 9629 269 49407'],
  ['a clean origami sofa.', '49406 320 3772 31832 15723 269 49407'],
  ['a clean origami train.', '49406 320 3772 31832 3231 269 49407'],
  ['a clean origami tvmonitor screen.', '49406 320 3772 31832 3197 10198 3750 269 49407'],
  ['a clean origami ground.', '49406 320 3772 31832 2461 269 49407'],
  ['a clean origami land.', '49406 320 3772 31832 973 269 49407'],
  ['a clean origami grass.', '49406 320 3772 31832 5922 269 49407'],
  ['a clean origami tree.', '49406 320 3772 31832 2677 269 49407'],
  ['a clean origami building.', '49406 320 3772 31832 2307 269 49407'],
  ['a clean origami wall.', '49406 320 3772 31832 2569 269 49407'],
  ['a clean origami sky.', '49406 320 3772 31832 2390 269 49407'],
  ['a clean origami lake.', '49406 320 3772 31832 2553 269 49407'],
  ['a clean origami water.', '49406 320 3772 31832 1573 269 49407'],
  ['a clean origami river.', '49406 320 3772 31832 2473 269 49407'],
  ['a clean origami sea.', '49406 320 3772 31832 2102 269 49407'],
  ['a clean origami railway.', '49406 320 3772 31832 7856 269 49407'],
  ['a clean origami railroad.', '49406 320 3772 31832 17080 269 49407'],
  ['a clean origami keyboard.', '49406 320 3772 31832 13017 269 49407'],
  ['a clean origami helmet.', '49406 320 3772 31832 11122 269 49407'],
  ['a clean origami cloud.', '49406 320 3772 31832 3887 269 49407'],
  ['a clean origami house.', '49406 320 3772 31832 1212 269 49407'],
  ['a clean origami mountain.', '49406 320 3772 31832 3965 269 49407'],
  ['a clean origami ocean.', '49406 320 3772 31832 4918 269 49407'],
  ['a clean origami road.', '49406 320 3772 31832 1759 269 49407'],
  ['a clean origami rock.', '49406 320 3772 31832 2172 269 49407'],
  ['a clean origami street.', '49406 320 3772 31832 2012 269 49407'],
  ['a clean origami valley.', '49406 320 3772 31832 3136 269 49407'],
  ['a clean origami bridge.', '49406 320 3772 31832 2465 269 49407'],
  ['a clean origami sign.', '49406 320 3772 31832 2292 269 49407'],
  ['a clean origami truck.', '49406 320 3772 31832 4629 269 49407'],
  ['a clean origami traffic light.', '49406 320 3772 31832 3399 1395 269 49407'],
  ['a clean origami fire hydrant.', '49406 320 3772 31832 1769 8031 773 269 49407'],
  ['a clean origami stop sign.', '49406 320 3772 31832 1691 2292 269 49407'],
  ['a clean origami parking meter.', '49406 320 3772 31832 5984 10104 269 49407'],
  ['a clean origami bench.', '49406 320 3772 31832 8771 269 49407'],
  ['a clean origami elephant.', '49406 320 3772 31832 10299 269 49407'],
  ['a clean origami bear.', '49406 320 3772 31832 4298 269 49407'],
  ['a clean origami zebra.', '49406 320 3772 31832 22548 269 49407'],
  ['a clean origami giraffe.', '49406 320 3772 31832 22826 269 49407'],
  ['a clean origami backpack,bag.', '49406 320 3772 31832 14894 267 3365 269 49407'],
  ['a clean origami umbrella,parasol.', '49406 320 3772 31832 17143 267 15198 2985 269 49407'],
  ['a clean origami handbag,purse.', '49406 320 3772 31832 22654 267 16480 269 49407'],
  ['a clean origami necktie.', '49406 320 3772 31832 6066 3422 269 49407'],
  ['a clean origami suitcase.', '49406 320 3772 31832 27792 269 49407'],
  ['a clean origami frisbee.', '49406 320 3772 31832 45768 269 49407'],
  ['a clean origami skis.', '49406 320 3772 31832 32843 269 49407'],
  ['a clean origami sknowboard.', '49406 320 3772 31832 909 2040 1972 269 49407'],
  ['a clean origami sports ball.', '49406 320 3772 31832 2054 1069 269 49407'],
  ['a clean origami kite.', '49406 320 3772 31832 19867 269 49407'],
  ['a clean origami baseball bat.', '49406 320 3772 31832 3470 6575 269 49407'],
  ['a clean origami glove.', '49406 320 3772 31832 16078 269 49407'],
  ['a clean origami skateboard.', '49406 320 3772 31832 31777 269 49407'],
  ['a clean origami surfboard.', '49406 320 3772 31832 10176 1972 269 49407'],
  ['a clean origami tennis racket.', '49406 320 3772 31832 5298 37691 269 49407'],
  ['a clean origami wine glass.', '49406 320 3772 31832 2604 3313 269 49407'],
  ['a clean origami cup.', '49406 320 3772 31832 1937 269 49407'],
  ['a clean origami fork.', '49406 320 3772 31832 13700 269 49407'],
  ['a clean origami knife.', '49406 320 3772 31832 8960 269 49407'],
  ['a clean origami dessertspoon.', '49406 320 3772 31832 7096 40325 14024 269 49407'],
  ['a clean origami bowl.', '49406 320 3772 31832 3814 269 49407'],
  ['a clean origami banana.', '49406 320 3772 31832 8922 269 49407'],
  ['a clean origami apple.', '49406 320 3772 31832 3055 269 49407'],
  ['a clean origami sandwich.', '49406 320 3772 31832 8687 269 49407'],
  ['a clean origami orange.', '49406 320 3772 31832 4287 269 49407'],
  ['a clean origami broccoli.', '49406 320 3772 31832 19094 269 49407'],
  ['a clean origami carrot.', '49406 320 3772 31832 15435 269 49407'],
  ['a clean origami hot dog.', '49406 320 3772 31832 2069 1929 269 49407'],
  ['a clean origami pizza.', '49406 320 3772 31832 4474 269 49407'],
  ['a clean origami donut.', '49406 320 3772 31832 18471 269 49407'],
  ['a clean origami cake.', '49406 320 3772 31832 2972 269 49407'],
  ['a clean origami bed.', '49406 320 3772 31832 2722 269 49407'],
  ['a clean origami toilet.', '49406 320 3772 31832 11071 269 49407'],
  ['a clean origami laptop.', '49406 320 3772 31832 10464 269 49407'],
  ['a clean origami mouse.', '49406 320 3772 31832 9301 269 49407'],
  ['a clean origami remote control.', '49406 320 3772 31832 9687 3366 269 49407'],
  ['a clean origami cell phone.', '49406 320 3772 31832 5533 1951 269 49407'],
  ['a clean origami microwave.', '49406 320 3772 31832 24240 269 49407'],
  ['a clean origami oven.', '49406 320 3772 31832 12579 269 49407'],
  ['a clean origami toaster.', '49406 320 3772 31832 39061 269 49407'],
  ['a clean origami sink.', '49406 320 3772 31832 14551 269 49407'],
  ['a clean origami refrigerator.', '49406 320 3772 31832 36662 269 49407'],
  ['a clean origami book.', '49406 320 3772 31832 1116 269 49407'],
  ['a clean origami clock.', '49406 320 3772 31832 6716 269 49407'],
  ['a clean origami vase.', '49406 320 3772 31832 20431 269 49407'],
  ['a clean origami scissors.', '49406 320 3772 31832 30867 269 49407'],
  ['a clean origami teddy bear.', '49406 320 3772 31832 11798 4298 269 49407'],
  ['a clean origami hairdrier,blowdrier.', '49406 320 3772 31832 4658 39877 267 15230 39877 269 49407'],
  ['a clean origami toothbrush.', '49406 320 3772 31832 36841 269 49407'],
];

// ---------------------------------------------------------------------------------------------
// Toy vocabularies (in memory)

/** OpenAI-format merges text: a header line, then one merge per line. */
function openAiText(merges: string[]): string {
  return ['"toy.txt#version: 0.2', ...merges, ''].join('\n');
}

const TOY_MERGES = ['t h', 'th e</w>', 'c a', 'ca t</w>', 'a t</w>', 'o n</w>', 'a b', 'b c</w>', 'a a', "' s</w>"];

function toy(options: Parameters<typeof ClipTokenizer.fromOpenAiBpe>[1] = {}): ClipTokenizer {
  return ClipTokenizer.fromOpenAiBpe(openAiText(TOY_MERGES), { name: 'toy.txt', mergeCount: 'all', ...options });
}

/** Symbols (token strings) of a text under a tokenizer. */
function symbols(tok: ClipTokenizer, text: string): string[] {
  return tok.encode(text).map((id) => tok.token(id)!);
}

/** A Hugging Face vocab.json object for the toy merges (same ids as the OpenAI-format toy). */
function toyHfVocab(): Record<string, number> {
  const tok = toy();
  const vocab: Record<string, number> = {};
  for (let id = 0; id < tok.vocabSize; id++) vocab[tok.token(id)!] = id;
  return vocab;
}

const TOY_HF_MERGES = `#version: 0.2\n${TOY_MERGES.join('\n')}\n`;

function errorOf(fn: () => unknown): TokenizerError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TokenizerError);
    return err as TokenizerError;
  }
  throw new Error('expected a TokenizerError');
}

describe('text cleanup', () => {
  it('normalizes to NFC (the stand-in for ftfy.fix_text) and replaces lone surrogates', () => {
    expect(cleanText('cafe\u0301')).toBe('caf\u00e9');
    expect(cleanText('\u212b')).toBe('\u00e5'); // Angstrom sign → Å → å
    expect(cleanText('a\ud800b\udc00c')).toBe('a\ufffdb\ufffdc');
    expect(cleanText('\ud83d\ude00')).toBe('\ud83d\ude00'); // a proper pair stays
  });

  it('unescapes HTML twice, then collapses Unicode whitespace and strips like Python', () => {
    expect(cleanText('fish &amp; chips')).toBe('fish & chips');
    expect(cleanText('&amp;lt;b&amp;gt;')).toBe('<b>'); // twice
    expect(cleanText('&amp;amp;amp;')).toBe('&amp;'); // but not three times (ftfy, absent here, would decode further)
    expect(cleanText('a&nbsp;&nbsp;b')).toBe('a b'); // unescaping comes before whitespace cleanup
    expect(cleanText(' \t a \u00a0\u2009\u3000 b\r\n\u2028c\x85 ')).toBe('a b c');
    // U+001C–U+001F: str.strip() removes them at the ends; \s (White_Space) does not collapse them.
    expect(cleanText('\x1c a\x1db \x1f')).toBe('a\x1db');
    // Not whitespace for CLIP: zero-width space, BOM, Mongolian vowel separator (JS's \s has the BOM).
    expect(cleanText('a\u200b\ufeff\u180eb')).toBe('a\u200b\ufeff\u180eb');
  });

  it('lowercases like Python str.lower (full mappings, final sigma)', () => {
    expect(cleanText('HELLO World')).toBe('hello world');
    expect(cleanText('\u0130stanbul')).toBe('i\u0307stanbul');
    expect(cleanText('\u039f\u0394\u039f\u03a3 \u03a3')).toBe('\u03bf\u03b4\u03bf\u03c2 \u03c3');
    expect(cleanText('\u{10400}')).toBe('\u{10428}'); // Deseret, outside the BMP
  });
});

describe('HTML unescaping (Python html.unescape rules)', () => {
  it('has the whole HTML5 table of Python', () => {
    expect(htmlEntities().size).toBe(HTML5_ENTITY_COUNT);
    expect(htmlEntities().get('amp;')).toBe('&');
    expect(htmlEntities().get('amp')).toBe('&');
    expect(htmlEntities().get('NotEqualTilde;')).toBe('\u2242\u0338');
    expect(htmlEntities().get('eacute;')).toBe('\u00e9');
  });

  it.each([
    ['&lt;3', '<3'],
    ['&eacute', '\u00e9'],
    ['caf&eacute;s', 'caf\u00e9s'],
    ['&notit;', '\u00acit;'], // longest known prefix, rest kept
    ['&notin;', '\u2209'],
    ['&ampx', '&x'],
    ['&Amp;', '&Amp;'], // names are case-sensitive
    ['&zz;', '&zz;'],
    ['& amp;', '& amp;'],
    ['&;', '&;'],
    ['&#;', '&#;'],
    ['&#xG;', '&#xG;'],
    ['&#65;&#x41;&#X41;&#00065', 'AAAA'],
    ['&#0;', '\ufffd'],
    ['&#13;', '\r'],
    ['&#150;&#x80;&#x81;', '\u2013\u20ac\x81'], // Windows-1252 for 0x80–0x9F
    ['&#xD800;&#1114112;&#99999999999999999999;', '\ufffd\ufffd\ufffd'],
    ['a&#1;b&#11;c&#127;d&#xFDD0;e&#xFFFE;f&#x10FFFF;g', 'abcdefg'], // dropped
    ['&#x1F600;', '\u{1f600}'],
    ['&#9;&#10;&#12;', '\t\n\x0c'],
    [`&${'a'.repeat(40)};`, `&${'a'.repeat(40)};`],
    ['&amp;amp;', '&amp;'],
  ])('%j → %j', (input, expected) => {
    expect(htmlUnescape(input)).toBe(expected);
  });
});

describe.skipIf(!HAS_PYTHON)('HTML unescaping against Python itself', () => {
  it('has exactly the entity table of this Python', () => {
    const json = execFileSync(PYTHON, ['-c', 'import html.entities, json; print(json.dumps(html.entities.html5))'], { encoding: 'utf8' });
    expect(new Map(Object.entries(JSON.parse(json) as Record<string, string>))).toEqual(htmlEntities());
  });

  it('gives the same results as html.unescape on 3,000 random strings', () => {
    // Deterministic pieces: entity names (with and without ';', mangled), numeric references with
    // edge values, and the characters that end or break a reference.
    let seed = 12345;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const names = [...htmlEntities().keys()];
    const numbers = [0, 1, 8, 9, 10, 11, 12, 13, 14, 15, 31, 32, 65, 127, 128, 129, 141, 150, 159, 160, 255, 0xd7ff, 0xd800, 0xdfff, 0xe000, 0xfdd0, 0xfdef, 0xfffe, 0xffff, 0x10000, 0x1f600, 0x10fffe, 0x10ffff, 0x110000, 2 ** 31, 2 ** 53];
    const pieces = [
      () => `&${names[rand(names.length)]}`,
      () => `&${names[rand(names.length)]!.replace(';', '')}${['', ';', 'x', 'X;', '1'][rand(5)]}`,
      () => `&${names[rand(names.length)]!.toUpperCase()}`,
      () => `&#${'0'.repeat(rand(3))}${numbers[rand(numbers.length)]}${['', ';', 'a'][rand(3)]}`,
      () => `&#${['x', 'X'][rand(2)]}${'0'.repeat(rand(3))}${numbers[rand(numbers.length)]!.toString(16)}${['', ';', 'g'][rand(3)]}`,
      () => ['&', '&&', '&#', '&#x', '&;', '& ', '#', ';', ' ', '\t', '\n', '\f', '\r', '<', 'a', 'Z', '9', '\u00e9', '\u{1f600}'][rand(19)]!,
      () => `&${'abcdefghijklmnopqrstuvwxyz'.repeat(2).slice(rand(20), 20 + rand(30))}${['', ';'][rand(2)]}`,
    ];
    const inputs = Array.from({ length: 3000 }, () => Array.from({ length: 1 + rand(6) }, () => pieces[rand(pieces.length)]!()).join(''));
    const script = 'import html, json, sys; print(json.dumps([html.unescape(s) for s in json.load(sys.stdin)]))';
    const expected = JSON.parse(execFileSync(PYTHON, ['-c', script], { input: JSON.stringify(inputs), encoding: 'utf8', maxBuffer: 1 << 26 })) as string[];
    const mismatches = inputs.map((input, i) => ({ input, python: expected[i], ours: htmlUnescape(input) })).filter((m) => m.python !== m.ours);
    expect(mismatches.slice(0, 5)).toEqual([]);
  });
});

describe('pre-tokenization', () => {
  it('splits like the CLIP pattern', () => {
    expect(preTokens("it's we'll i'm they're you've he'd don't")).toEqual(['it', "'s", 'we', "'ll", 'i', "'m", 'they', "'re", 'you', "'ve", 'he', "'d", 'don', "'t"]);
    expect(preTokens('abc123 4.5')).toEqual(['abc', '1', '2', '3', '4', '.', '5']);
    expect(preTokens('hello!!! ...?  (x)')).toEqual(['hello', '!!!', '...?', '(', 'x', ')']);
    expect(preTokens("..'s")).toEqual(["..'", 's']); // a punctuation run takes the apostrophe
    expect(preTokens('a<|endoftext|>b .<|startoftext|>')).toEqual(['a', END_OF_TEXT, 'b', '.<|', 'startoftext', '|>']);
    expect(preTokens('\u0939\u093f\u0928\u094d\u0926\u0940')).toEqual(['\u0939', '\u093f', '\u0928', '\u094d', '\u0926', '\u0940']); // marks are not letters
    expect(preTokens('\u2160\u2161 \u00bd')).toEqual(['\u2160', '\u2161', '\u00bd']); // numbers one by one
  });

  it('is case-insensitive like the original (regex.IGNORECASE)', () => {
    expect(preTokens("it'\u017f")).toEqual(['it', "'\u017f"]); // long s matches 's
    expect(preTokens('a\u0345b')).toEqual(['a\u0345b']); // U+0345 folds to iota: a letter
    expect(preTokens('x\u00a0y\u2009z\u200bw')).toEqual(['x', 'y', 'z', '\u200b', 'w']);
  });
});

describe('byte table', () => {
  it('maps printable bytes to themselves and the other 68 to U+0100… in order', () => {
    const table = byteToUnicodeTable();
    expect(new Set(table).size).toBe(256);
    expect(table[0x21]).toBe('!');
    expect(table[0xff]).toBe('\u00ff');
    expect(table[0x00]).toBe('\u0100');
    expect(table[0x20]).toBe('\u0120');
    expect(table[0xad]).toBe('\u0143');
  });
});

describe('BPE on a toy vocabulary', () => {
  it('builds the vocabulary in CLIP order', () => {
    const tok = toy();
    expect(tok.vocabSize).toBe(512 + TOY_MERGES.length + 2);
    expect(tok.id('!')).toBe(0);
    expect(tok.id('a')).toBe(64);
    expect(tok.id('a</w>')).toBe(320);
    expect(tok.id('\u0100')).toBe(188); // byte 0x00, first of the 68 non-printable bytes
    expect(tok.id('th')).toBe(512);
    expect(tok.sotId).toBe(512 + TOY_MERGES.length);
    expect(tok.eotId).toBe(tok.sotId + 1);
  });

  it('merges the lowest-ranked pair first, every occurrence, left to right', () => {
    const tok = toy();
    expect(symbols(tok, 'the cat sat on')).toEqual(['the</w>', 'cat</w>', 's', 'at</w>', 'on</w>']);
    expect(symbols(tok, 'abc')).toEqual(['ab', 'c</w>']); // 'a b' (rank 6) beats 'b c</w>' (rank 7)
    expect(symbols(tok, 'aaa')).toEqual(['aa', 'a</w>']); // no overlap
    expect(symbols(tok, 'aaaa')).toEqual(['aa', 'a', 'a</w>']); // 'a a</w>' is no merge
    expect(symbols(tok, 'x')).toEqual(['x</w>']);
    expect(symbols(tok, "it's")).toEqual(['i', 't</w>', "'s</w>"]);
    expect(symbols(tok, '\u00e9')).toEqual(['\u00c3', '\u00a9</w>']); // UTF-8 bytes C3 A9
  });

  it('reverses the outcome when the ranks are reversed', () => {
    const tok = ClipTokenizer.fromOpenAiBpe(openAiText(['b c</w>', 'a b']), { mergeCount: 'all' });
    expect(symbols(tok, 'abc')).toEqual(['a', 'bc</w>']);
  });

  it('tokenizes into padded rows', () => {
    const tok = toy();
    const { sotId: s, eotId: e } = tok;
    const the = tok.id('the</w>')!;
    const cat = tok.id('cat</w>')!;
    expect(Array.from(tok.tokenize(['the cat', 'cat'], 6))).toEqual([s, the, cat, e, 0, 0, s, cat, e, 0, 0, 0]);
    expect(Array.from(tok.tokenize('cat', 5, { padding: 'eot' }))).toEqual([s, cat, e, e, e]);
    expect(Array.from(toy({ padding: 'eot', contextLength: 4 }).tokenize(['cat']))).toEqual([s, cat, e, e]);
    expect(tok.tokenize(['a', 'b', 'c']).length).toBe(3 * 77);
    expect(tok.tokenize([]).length).toBe(0);
    expect(Array.from(tok.tokenize(['the cat the cat'], 4, { truncate: true }))).toEqual([s, the, cat, e]);
    expect(Array.from(tok.tokenize(['the cat'], 4))).toEqual([s, the, cat, e]); // exactly fits
  });

  it('names the text, its token count and the context length when a text does not fit', () => {
    const tok = toy();
    expect(() => tok.tokenize(['cat', 'the cat the cat'], 5)).toThrow('text 1 "the cat the cat" has 6 tokens (with <|startoftext|> and <|endoftext|>), more than the context length 5; shorten it or tokenize with { truncate: true }');
    const long = 'the cat '.repeat(40);
    const message = errorOf(() => tok.tokenize(long)).message;
    expect(message).toContain(`"${long.slice(0, 60)}"… (320 characters) has 82 tokens`);
    expect(message).toContain('context length 77');
  });

  it('rejects bad arguments', () => {
    const tok = toy();
    expect(() => tok.tokenize(['x'], 1)).toThrow('context length must be an integer ≥ 2');
    expect(() => tok.tokenize(['x'], 7.5)).toThrow('context length must be an integer ≥ 2');
    expect(() => tok.tokenize([3 as unknown as string])).toThrow('tokenize: text 0 is number, not a string');
    expect(() => tok.encode(null as unknown as string)).toThrow('encode expects a string, got null');
    expect(() => tok.tokenize(['x'], 77, { padding: 'one' as 'zero' })).toThrow(`padding must be 'zero' or 'eot'`);
    expect(() => toy({ contextLength: 0 })).toThrow('context length must be an integer ≥ 2');
  });

  it('maps special-token literals to their ids, but not look-alikes', () => {
    const tok = toy();
    expect(tok.encode('<|startoftext|>x<|ENDOFTEXT|>')).toEqual([tok.sotId, tok.id('x</w>'), tok.eotId]);
    expect(tok.encode('<|\u017ftartoftext|>')).not.toContain(tok.sotId); // matched as one piece, then BPE'd
  });

  it('decodes ids back to text', () => {
    const tok = toy();
    expect(tok.decode(tok.encode('The cat, caf\u00e9! \u{1f600}'))).toBe('the cat , caf\u00e9 ! \u{1f600} ');
    expect(() => tok.decode([tok.vocabSize])).toThrow(`decode: id ${tok.vocabSize} at position 0 is not in the vocabulary`);
  });

  it('keeps a bounded cache of pre-tokens without changing results', () => {
    const words = Array.from({ length: 50 }, (_, i) => `w${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`);
    const bounded = toy({ cacheSize: 5 });
    const none = toy({ cacheSize: 0 });
    const unbounded = toy();
    const text = words.join(' ');
    expect(bounded.encode(text)).toEqual(none.encode(text));
    expect(unbounded.encode(text)).toEqual(none.encode(text));
    expect(bounded.cachedPreTokens).toBe(5);
    expect(none.cachedPreTokens).toBe(0);
    expect(unbounded.cachedPreTokens).toBe(50);
    expect(bounded.encode(text)).toEqual(none.encode(text)); // again, through the cache
    expect(() => toy({ cacheSize: -1 })).toThrow('cacheSize must be a non-negative integer');
  });

  it('builds the same tokenizer from bytes, gzipped bytes and Hugging Face files', () => {
    const text = openAiText(TOY_MERGES);
    const fromGzip = ClipTokenizer.fromOpenAiBpe(gzipSync(new TextEncoder().encode(text)), { mergeCount: 'all' });
    const fromBytes = ClipTokenizer.fromOpenAiBpe(new TextEncoder().encode(text).buffer, { mergeCount: 'all' });
    const fromHf = ClipTokenizer.fromHuggingFace(JSON.stringify(toyHfVocab()), TOY_HF_MERGES);
    const fromHfObject = ClipTokenizer.fromHuggingFace(toyHfVocab(), new TextEncoder().encode(TOY_HF_MERGES.replaceAll('\n', '\r\n')));
    const sample = "The cat sat on the abc mat, it's aaa! \u00e9\u{1f600} 42";
    for (const tok of [fromGzip, fromBytes, fromHf, fromHfObject]) expect(tok.encode(sample)).toEqual(toy().encode(sample));
    // A count below the number of lines takes the first ones only, like the original's slice.
    expect(ClipTokenizer.fromOpenAiBpe(gzipSync(new TextEncoder().encode(text)), { mergeCount: 2 }).mergeCount).toBe(2);
  });
});

describe('vocabulary errors', () => {
  const bpe = (merges: string[], options = {}) => () => ClipTokenizer.fromOpenAiBpe(openAiText(merges), { name: 'bad.txt', mergeCount: 'all', ...options });
  const hf = (vocab: unknown, merges = TOY_HF_MERGES) => () => ClipTokenizer.fromHuggingFace(vocab as string, merges, { vocabName: 'v.json', mergesName: 'm.txt' });

  it('OpenAI format: malformed lines, unknown symbols, repeated tokens, short files', () => {
    expect(bpe(['t h', 'th'])).toThrow("bad.txt: line 3: expected a merge 'first second' (two symbols, one space), got \"th\"");
    expect(bpe(['t h', 'a b c'])).toThrow('bad.txt: line 3: expected a merge');
    expect(bpe(['t h', ' h'])).toThrow('bad.txt: line 3: expected a merge');
    expect(bpe(['t h', '', 'a b'])).toThrow('bad.txt: line 3: expected a merge');
    expect(bpe(['t h', 'xyz h'])).toThrow("bad.txt: line 3: merge 'xyz h' uses 'xyz', which is not a token of the vocabulary");
    expect(bpe(['t h', 'c a', 't h'])).toThrow("bad.txt: line 4 (merge 't h') makes token 'th', as line 2 does already; every token must be unique");
    expect(bpe(['<|endoftext| >'])).toThrow("bad.txt: the special token makes token '<|endoftext|>', as line 2 does already");
    expect(bpe(['t h'], { mergeCount: 5 })).toThrow('bad.txt: holds 1 merge lines after its header, fewer than the 5 expected');
    expect(() => ClipTokenizer.fromOpenAiBpe('header only')).toThrow('bpe_simple_vocab_16e6.txt.gz: holds 0 merge lines after its header, fewer than the 48894 expected');
    expect(bpe(['t h'], { mergeCount: -1 })).toThrow("mergeCount must be a non-negative integer or 'all'");
    // A merge may use a symbol that a later line makes (CLIP's file never does).
    expect(ClipTokenizer.fromOpenAiBpe(openAiText(['th e</w>', 't h']), { mergeCount: 'all' }).encode('the')).toHaveLength(1);
  });

  it('OpenAI format: corrupt gzip and invalid UTF-8', () => {
    const gz = gzipSync(new TextEncoder().encode(openAiText(TOY_MERGES)));
    expect(() => ClipTokenizer.fromOpenAiBpe(gz.subarray(0, 20), { name: 'cut.gz', mergeCount: 'all' })).toThrow(/^cut\.gz: /);
    const garbled = gz.slice();
    garbled[10] = 0xff; // first deflate block: reserved block type 3
    expect(() => ClipTokenizer.fromOpenAiBpe(garbled, { name: 'bad.gz', mergeCount: 'all' })).toThrow(/^bad\.gz: cannot gunzip/);
    expect(() => ClipTokenizer.fromOpenAiBpe(Uint8Array.of(0x68, 0x0a, 0xff, 0x20, 0x61, 0x0a), { name: 'latin1.txt', mergeCount: 'all' })).toThrow('latin1.txt: not valid UTF-8 text');
  });

  it('Hugging Face format: vocab.json problems', () => {
    expect(hf('{"a": 0,')).toThrow(/^v\.json: not valid JSON: /);
    expect(hf('[1, 2]')).toThrow('v.json: expected a JSON object mapping each token to its id');
    expect(hf('{}')).toThrow('v.json: the vocabulary is empty');
    expect(hf({ a: 0, b: '1' })).toThrow('v.json: token "b" has id "1"; ids must be integers ≥ 0');
    expect(hf({ a: 0, b: 1.5 })).toThrow('v.json: token "b" has id 1.5');
    expect(hf({ a: 0, b: 0 })).toThrow('v.json: tokens "a" and "b" both have id 0; ids must be unique');
    expect(hf({ a: 0, b: 2 })).toThrow('v.json: token "b" has id 2, but there are 2 tokens: ids must run from 0 to 1 without gaps');
    const noSot = toyHfVocab();
    delete noSot[START_OF_TEXT];
    noSot[END_OF_TEXT] = Object.keys(noSot).length - 1;
    expect(hf(noSot, '#version: 0.2\n')).toThrow('v.json + m.txt: the vocabulary has no <|startoftext|> token; a CLIP vocabulary needs both <|startoftext|> and <|endoftext|>');
    const neither = { a: 0, b: 1 };
    expect(hf(neither, '')).toThrow('the vocabulary has no <|startoftext|> and <|endoftext|> token');
  });

  it('Hugging Face format: merges.txt problems', () => {
    const vocab = toyHfVocab();
    expect(hf(vocab, '#version: 0.2\nt h\nq\n')).toThrow("m.txt: line 3: expected a merge 'first second'");
    expect(hf(vocab, '#version: 0.2\nt h\nzz h\n')).toThrow("m.txt: line 3: merge 'zz h' uses 'zz', which is not a token of the vocabulary");
    expect(hf(vocab, '#version: 0.2\nt h\nt h\n')).toThrow("m.txt: line 3: merge 't h' repeats line 2");
    expect(hf(vocab, '#version: 0.2\nt h\nx y\n')).toThrow("m.txt: line 3: merge 'x y' makes 'xy', which is not in v.json (do the two files belong together?)");
    // No header line is fine too.
    expect(ClipTokenizer.fromHuggingFace(vocab, TOY_MERGES.join('\n')).mergeCount).toBe(TOY_MERGES.length);
  });

  it('names the missing symbol when a vocabulary lacks a byte', () => {
    const vocab: Record<string, number> = { a: 0, 'a</w>': 1, [START_OF_TEXT]: 2, [END_OF_TEXT]: 3 };
    const tok = ClipTokenizer.fromHuggingFace(vocab, '#version: 0.2\n', { vocabName: 'tiny.json' });
    expect(tok.encode('a aa')).toEqual([1, 0, 1]);
    expect(() => tok.encode('ab')).toThrow("tiny.json + merges.txt: the vocabulary has no token 'b</w>' (byte 0x62), needed for 'ab' in \"ab\"");
  });
});

describe('Node loader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'seedmask-tokenizer-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads OpenAI and Hugging Face files, and names the path when it cannot', async () => {
    writeFileSync(join(dir, 'toy.txt.gz'), gzipSync(new TextEncoder().encode(openAiText(TOY_MERGES))));
    writeFileSync(join(dir, 'vocab.json'), JSON.stringify(toyHfVocab()));
    writeFileSync(join(dir, 'merges.txt'), TOY_HF_MERGES);
    const sample = 'the cat sat on the mat';
    const expected = toy().encode(sample);
    expect((await loadClipTokenizer(join(dir, 'toy.txt.gz'), { mergeCount: 'all' })).encode(sample)).toEqual(expected);
    expect((await loadClipTokenizer(join(dir, 'vocab.json'))).encode(sample)).toEqual(expected);
    expect((await loadClipTokenizer(dir, { contextLength: 16 })).contextLength).toBe(16);
    await expect(loadClipTokenizer(join(dir, 'none.gz'))).rejects.toThrow(`${join(dir, 'none.gz')}: cannot read the vocabulary`);
    const empty = mkdtempSync(join(dir, 'empty-'));
    await expect(loadClipTokenizer(empty)).rejects.toThrow(`${empty}: no vocabulary in this folder`);
    writeFileSync(join(dir, 'cut.gz'), gzipSync(new TextEncoder().encode(openAiText(TOY_MERGES))).subarray(0, 30));
    await expect(loadClipTokenizer(join(dir, 'cut.gz'), { mergeCount: 'all' })).rejects.toThrow(`${join(dir, 'cut.gz')}: cannot gunzip`);
  });
});

// ---------------------------------------------------------------------------------------------
// The real vocabulary

describe('OpenAI vocabulary (bpe_simple_vocab_16e6.txt.gz)', () => {
  let tok: ClipTokenizer;
  let fixture: ReferenceFixture;
  beforeAll(async () => {
    tok = await loadClipTokenizer(BPE_PATH);
    fixture = JSON.parse(readFileSync(join(FIXTURES, 'reference.json'), 'utf8')) as ReferenceFixture;
  });

  it('has CLIP\'s vocabulary layout', () => {
    expect(tok.vocabSize).toBe(49408);
    expect(tok.mergeCount).toBe(48894);
    expect([tok.sotId, tok.eotId]).toEqual([49406, 49407]);
    expect(tok.id('a')).toBe(64);
    expect(tok.id('a</w>')).toBe(320);
    expect(tok.token(512)).toBe('in');
    expect(tok.token(49405)).toBe('jekyll</w>');
  });

  it('"a photo of a cat." → 49406 320 1125 539 320 2368 269 49407, zero-padded to 77', () => {
    const row = tok.tokenize(['a photo of a cat.']);
    expect(row.length).toBe(77);
    expect(Array.from(row.subarray(0, 8))).toEqual([49406, 320, 1125, 539, 320, 2368, 269, 49407]);
    expect(row.subarray(8).every((v) => v === 0)).toBe(true);
    expect(Array.from(tok.tokenize(['a photo of a cat.'], 77, { padding: 'eot' }).subarray(8)).every((v) => v === 49407)).toBe(true);
  });

  it('matches every Appendix A vector of docs/algorithms.md (104 CLIP-ES prompts)', () => {
    expect(APPENDIX_A).toHaveLength(104);
    const rows = tok.tokenize(APPENDIX_A.map(([prompt]) => prompt));
    APPENDIX_A.forEach(([prompt, ids], i) => {
      const expected = ids.split(' ').map(Number);
      const row = Array.from(rows.subarray(i * 77, (i + 1) * 77));
      expect({ prompt, ids: row.slice(0, expected.length) }).toEqual({ prompt, ids: expected });
      expect(row.slice(expected.length).every((v) => v === 0)).toBe(true);
    });
  });

  it('tokenizes the VOC and COCO label sets within 77', () => {
    for (const set of [VOC_LABELSET, COCO_LABELSET]) {
      const prompts = [...classPrompts(set), ...backgroundPrompts(set)];
      const rows = tok.tokenize(prompts);
      expect(rows.length).toBe(prompts.length * 77);
    }
  });

  it('matches the Python reference on 1,200 varied strings (cleanup and ids)', () => {
    const sha = createHash('sha256').update(readFileSync(BPE_PATH)).digest('hex');
    expect(sha, 'the fixture was made from another vocabulary file').toBe(fixture.vocab_sha256);
    expect(fixture.cases.length).toBeGreaterThanOrEqual(1200);
    const failures: string[] = [];
    for (const [text, cleaned, ids] of fixture.cases) {
      const gotClean = cleanText(text);
      const got = tok.encode(text);
      if (gotClean !== cleaned) failures.push(`cleanup of ${JSON.stringify(text)}: ${JSON.stringify(gotClean)} ≠ ${JSON.stringify(cleaned)}`);
      else if (got.join(' ') !== ids.join(' ')) failures.push(`ids of ${JSON.stringify(text)}: ${got.join(' ')} ≠ ${ids.join(' ')}`);
    }
    expect(failures.slice(0, 10)).toEqual([]);
  });

  it('truncates long texts when asked, ending them with <|endoftext|>', () => {
    const text = fixture.cases.map(([t]) => t).find((t) => tok.encode(t).length > 100)!;
    expect(() => tok.tokenize([text])).toThrow(/has \d+ tokens \(with <\|startoftext\|> and <\|endoftext\|>\), more than the context length 77/);
    const row = Array.from(tok.tokenize([text], 77, { truncate: true }));
    expect(row).toEqual([49406, ...tok.encode(text).slice(0, 75), 49407]);
  });

  it('gives the same tokenizer from the portable (fflate) path and from unpacked text', () => {
    const gz = readFileSync(BPE_PATH);
    const portable = ClipTokenizer.fromOpenAiBpe(gz);
    const sample = fixture.cases.slice(0, 200).map(([t]) => t);
    for (const text of sample) expect(portable.encode(text)).toEqual(tok.encode(text));
    expect(portable.vocabSize).toBe(49408);
  });
});

describe.skipIf(!HAS_PYTHON)('Hugging Face format of the same vocabulary (vocab.json + merges.txt)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'seedmask-hf-vocab-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the same ids as the OpenAI file', async () => {
    execFileSync(PYTHON, [join(FIXTURES, 'reference_tokenizer.py'), '--vocab', BPE_PATH, 'hf', dir], { stdio: 'pipe' });
    const hf = await loadClipTokenizer(dir);
    const openai = await loadClipTokenizer(BPE_PATH);
    expect(hf.vocabSize).toBe(49408);
    expect(hf.mergeCount).toBe(48894);
    for (let id = 0; id < openai.vocabSize; id++) if (hf.token(id) !== openai.token(id)) expect({ id, token: hf.token(id) }).toEqual({ id, token: openai.token(id) });
    const fixture = JSON.parse(readFileSync(join(FIXTURES, 'reference.json'), 'utf8')) as ReferenceFixture;
    for (const [text, , ids] of fixture.cases) expect(hf.encode(text)).toEqual(ids);
    expect(Array.from(hf.tokenize(APPENDIX_A.map(([p]) => p)).subarray(0, 8))).toEqual(APPENDIX_A[0]![1].split(' ').map(Number));
  });
});

describe('the small world model\'s vocabulary (weights/world-clip)', () => {
  it('loads and tokenizes the world captions\' words', async () => {
    const tok = await loadClipTokenizer(WORLD_CLIP);
    expect(tok.encode('a photo of a red ball on the sea.').length).toBeGreaterThan(0);
  });
});
