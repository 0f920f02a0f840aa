// HTML character-reference unescaping with the rules of Python's `html.unescape`, which CLIP's
// tokenizer applies (twice) to every text before tokenizing it (docs/algorithms.md §2.1). Written from
// the behaviour Python documents and exhibits, so that a caption such as "fish &amp; chips" or
// "caf&eacute" gives the same tokens as OpenAI's tokenizer:
//
// - A reference starts at '&' and is one of: '#' + decimal digits, '#x'/'#X' + hex digits, or a
//   name of 1–32 characters other than tab, newline, form feed, space, '<', '&', '#' and ';'. Each
//   may end with ';' (optional). Anything else after '&' is left as it is ("&#;", "& x", "&#xZ").
// - Numeric references: code 0 gives U+FFFD, 13 gives '\r', 0x80–0x9F give the Windows-1252
//   characters ("&#150;" is an en dash); surrogates and codes above 0x10FFFF give U+FFFD; the
//   remaining control codes (1–8, 11, 14–31, 127) and the non-characters (U+FDD0–U+FDEF and the
//   last two code points of every plane) give nothing; every other code gives its character.
// - Named references: the name as written (with its ';' if present) is looked up in the HTML5
//   table (html-entities-data.ts, generated from Python's html.entities.html5). If it is not
//   there, the longest prefix of at least two characters that is in the table is replaced and the
//   rest kept ("&notit;" → "¬it;", "&ampx" → "&x"; only the legacy names such as "amp", "lt",
//   "eacute" exist without ';'). With no such prefix, the text is left as it was.

import { HTML5_ENTITY_TABLE } from './html-entities-data.js';

// The `u` flag makes {1,32} count code points, as Python's re does on str.
const REFERENCE = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

/** Windows-1252 meanings of the numeric references 0x80–0x9F (the five unassigned ones map to themselves). */
const WINDOWS_1252_C1 = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
  0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
];

let entities: Map<string, string> | undefined;

/** The HTML5 named references (name as written after '&', ';' included where present → text). */
export function htmlEntities(): ReadonlyMap<string, string> {
  if (!entities) {
    entities = new Map();
    for (const entry of HTML5_ENTITY_TABLE.split(/\s+/)) {
      if (entry === '') continue;
      const eq = entry.indexOf('=');
      const codes = entry.slice(eq + 1).split('+').map((hex) => parseInt(hex, 16));
      entities.set(entry.slice(0, eq), String.fromCodePoint(...codes));
    }
  }
  return entities;
}

/** Python's `html.unescape(text)`. */
export function htmlUnescape(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(REFERENCE, (whole: string, body: string) => (body[0] === '#' ? numericReference(body) : namedReference(body, whole)));
}

function numericReference(body: string): string {
  const hex = body[1] === 'x' || body[1] === 'X';
  const digits = body.slice(hex ? 2 : 1).replace(/;$/, '').replace(/^0+/, '');
  // Up to 6 hex or 7 decimal digits fit in a safe integer and cover every code point; longer
  // numbers (which Python reads exactly as big integers) are all above 0x10FFFF.
  const code = digits.length > (hex ? 6 : 7) ? Infinity : digits === '' ? 0 : parseInt(digits, hex ? 16 : 10);
  if (code === 0) return '\ufffd';
  if (code === 0x0d) return '\r';
  if (code >= 0x80 && code <= 0x9f) return String.fromCodePoint(WINDOWS_1252_C1[code - 0x80]!);
  if ((code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) return '\ufffd';
  if (isDroppedCode(code)) return '';
  return String.fromCodePoint(code);
}

/** Control codes and non-characters that Python's html.unescape drops (after the cases above). */
function isDroppedCode(code: number): boolean {
  return (
    (code >= 0x01 && code <= 0x08) ||
    code === 0x0b ||
    (code >= 0x0e && code <= 0x1f) ||
    code === 0x7f ||
    (code >= 0xfdd0 && code <= 0xfdef) ||
    (code & 0xfffe) === 0xfffe
  );
}

function namedReference(body: string, whole: string): string {
  const table = htmlEntities();
  const exact = table.get(body);
  if (exact !== undefined) return exact;
  // Longest known prefix of at least two characters. Every name in the table is ASCII, so
  // counting UTF-16 units here finds the same prefixes as counting code points would.
  for (let end = body.length - 1; end >= 2; end--) {
    const value = table.get(body.slice(0, end));
    if (value !== undefined) return value + body.slice(end);
  }
  return whole;
}
