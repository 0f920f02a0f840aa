// Label sets: which classes exist, how the text encoder is told about them, and which background
// prompts compete with them. CLIP-ES (docs/algorithms.md §2.3, §3.2) builds one text row per class by
// putting a class string into a template ("a clean origami {}."), where the class string carries
// its synonyms ("person with clothes,people,human"), and adds a row per background prompt.
//
// Ids: a label set's classes are the foreground classes, indexed from 0 in file order. In masks
// and ground truth, class index k has the value k + 1; 0 is background and 255 void. Image-level
// labels are lists of class indices, kept in the order given (CAM channel k belongs to labels[k],
// §8.17).
//
// Sources: the built-in 'voc' and 'coco' sets (exactly CLIP-ES's clip_text.py: the dataset names,
// the class strings with their synonyms and typos, the background lists and the template), or a
// JSON file such as the synthetic world's labelset.json:
//   {
//     "name": "seedmask-world",
//     "template": "a clean origami {}.",
//     "classes": [ { "name": "ball", "synonyms": ["sphere"], "prompt": "ball,sphere" }, "box", … ],
//     "background": ["ground", "water", …]
//   }
// A class may be a bare string (its own prompt, no synonyms); "prompt" defaults to the name.

/** One foreground class of a label set: its name, accepted synonyms, and text prompt. */
export interface ClassSpec {
  /** The dataset's name for the class: what ground truth, annotations and reports use. */
  name: string;
  /** Other names accepted when parsing labels (and, in CLIP-ES's sets, fused into the prompt). */
  synonyms: readonly string[];
  /** The text inserted into the template for this class (CLIP-ES's `new_class_names` entry). */
  prompt: string;
}

/**
 * Classes and prompts for seed generation. Class index k (position in `classes`) has mask value
 * k + 1; 0 is background and 255 void.
 */
export interface LabelSet {
  /** Set name: 'voc', 'coco', or the JSON file's "name"; 'coco' also selects the COCO box threshold. */
  name: string;
  /** Foreground classes in index order, at most 254. */
  classes: readonly ClassSpec[];
  /** Background prompts (CLIP-ES's BACKGROUND_CATEGORY), inserted into the same template. */
  background: readonly string[];
  /** Prompt template with exactly one `{}`. */
  template: string;
}

export class LabelSetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabelSetError';
  }
}

/** Largest number of foreground classes: mask values are uint8 with 0 = background and 255 = void. */
export const MAX_CLASSES = 254;

// ---------------------------------------------------------------------------------------------
// Built-in sets (CLIP-ES clip_text.py, docs/algorithms.md §3.2)

const CLIP_ES_TEMPLATE = 'a clean origami {}.';

/** A class whose prompt is its name. */
const plain = (name: string): ClassSpec => ({ name, synonyms: [], prompt: name });
/** A class whose CLIP-ES prompt differs from its name; `synonyms` are the alternative names in that prompt. */
const renamed = (name: string, prompt: string, synonyms: string[]): ClassSpec => ({ name, synonyms, prompt });

const PERSON = renamed('person', 'person with clothes,people,human', ['person with clothes', 'people', 'human']);
const BIRD = renamed('bird', 'bird avian', ['avian']);
const CHAIR = renamed('chair', 'chair seat', ['seat']);
const TVMONITOR = renamed('tvmonitor', 'tvmonitor screen', ['screen']);

const VOC_BACKGROUND = ['ground', 'land', 'grass', 'tree', 'building', 'wall', 'sky', 'lake', 'water', 'river', 'sea', 'railway', 'railroad', 'keyboard', 'helmet', 'cloud', 'house', 'mountain', 'ocean', 'road', 'rock', 'street', 'valley', 'bridge', 'sign'];

export const VOC_LABELSET: LabelSet = deepFreeze({
  name: 'voc',
  template: CLIP_ES_TEMPLATE,
  classes: [
    plain('aeroplane'), plain('bicycle'), BIRD, plain('boat'), plain('bottle'),
    plain('bus'), plain('car'), plain('cat'), CHAIR, plain('cow'),
    plain('diningtable'), plain('dog'), plain('horse'), plain('motorbike'), PERSON,
    plain('pottedplant'), plain('sheep'), plain('sofa'), plain('train'), TVMONITOR,
  ],
  background: VOC_BACKGROUND,
});

export const COCO_LABELSET: LabelSet = deepFreeze({
  name: 'coco',
  template: CLIP_ES_TEMPLATE,
  classes: [
    PERSON, plain('bicycle'), plain('car'), plain('motorbike'), plain('aeroplane'),
    plain('bus'), plain('train'), plain('truck'), plain('boat'), plain('traffic light'),
    plain('fire hydrant'), plain('stop sign'), plain('parking meter'), plain('bench'), BIRD,
    plain('cat'), plain('dog'), plain('horse'), plain('sheep'), plain('cow'),
    plain('elephant'), plain('bear'), plain('zebra'), plain('giraffe'), renamed('backpack', 'backpack,bag', ['bag']),
    renamed('umbrella', 'umbrella,parasol', ['parasol']), renamed('handbag', 'handbag,purse', ['purse']), renamed('tie', 'necktie', ['necktie']), plain('suitcase'), plain('frisbee'),
    // 'sknowboard' is CLIP-ES's typo, kept in the prompt because it is what produced the published
    // numbers; it is not offered as a synonym.
    plain('skis'), renamed('snowboard', 'sknowboard', []), plain('sports ball'), plain('kite'), plain('baseball bat'),
    renamed('baseball glove', 'glove', ['glove']), plain('skateboard'), plain('surfboard'), plain('tennis racket'), plain('bottle'),
    plain('wine glass'), plain('cup'), plain('fork'), plain('knife'), renamed('spoon', 'dessertspoon', ['dessertspoon']),
    plain('bowl'), plain('banana'), plain('apple'), plain('sandwich'), plain('orange'),
    plain('broccoli'), plain('carrot'), plain('hot dog'), plain('pizza'), plain('donut'),
    plain('cake'), CHAIR, plain('sofa'), plain('pottedplant'), plain('bed'),
    plain('diningtable'), plain('toilet'), TVMONITOR, plain('laptop'), plain('mouse'),
    renamed('remote', 'remote control', ['remote control']), plain('keyboard'), plain('cell phone'), plain('microwave'), plain('oven'),
    plain('toaster'), plain('sink'), plain('refrigerator'), plain('book'), plain('clock'),
    plain('vase'), plain('scissors'), plain('teddy bear'), renamed('hair drier', 'hairdrier,blowdrier', ['hairdrier', 'blowdrier']), plain('toothbrush'),
  ],
  // VOC's list without 'keyboard' and 'sign', which are COCO classes.
  background: VOC_BACKGROUND.filter((b) => b !== 'keyboard' && b !== 'sign'),
});

export const BUILTIN_LABELSETS: Readonly<Record<string, LabelSet>> = { voc: VOC_LABELSET, coco: COCO_LABELSET };

// ---------------------------------------------------------------------------------------------
// Loading and validation

/** 'voc', 'coco', or the path of a label-set JSON file. Throws a LabelSetError naming the problem. */
export async function loadLabelSet(source: string): Promise<LabelSet> {
  const builtin = BUILTIN_LABELSETS[source.toLowerCase()];
  if (builtin) return builtin;
  let text: string;
  try {
    // Loaded here, not at the top, so the built-in sets also work where there is no file system.
    const { readFile } = await import('node:fs/promises');
    text = await readFile(source, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'ENOENT' ? ` (not a file, nor one of the built-in sets: ${Object.keys(BUILTIN_LABELSETS).join(', ')})` : '';
    throw new LabelSetError(`${source}: cannot read label set${hint}: ${err instanceof Error ? err.message : String(err)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new LabelSetError(`${source}: not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  return parseLabelSet(json, source);
}

const TOP_LEVEL_KEYS = ['name', 'template', 'classes', 'background'];
const CLASS_KEYS = ['name', 'synonyms', 'prompt'];

/** Validates a parsed label-set JSON value; `origin` (a path) prefixes every error. */
export function parseLabelSet(json: unknown, origin: string): LabelSet {
  const fail = (problem: string): never => {
    throw new LabelSetError(`${origin}: ${problem}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return fail('a label set must be a JSON object');
  const obj = json as Record<string, unknown>;
  for (const key of Object.keys(obj)) if (!TOP_LEVEL_KEYS.includes(key)) fail(`unknown key '${key}' (allowed: ${TOP_LEVEL_KEYS.join(', ')})`);

  const name = obj.name ?? origin;
  if (typeof name !== 'string' || name.trim() === '') fail(`'name' must be a non-empty string`);
  const template = obj.template ?? CLIP_ES_TEMPLATE;
  if (typeof template !== 'string') return fail(`'template' must be a string`);
  if (!Array.isArray(obj.classes)) return fail(`'classes' must be an array of class names or {name, synonyms, prompt} objects`);
  if (!Array.isArray(obj.background)) return fail(`'background' must be an array of background prompts`);

  const classes = obj.classes.map((entry, i): ClassSpec => {
    const where = `classes[${i}]`;
    if (typeof entry === 'string') return plain(entry.trim());
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return fail(`${where} must be a string or an object`);
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e)) if (!CLASS_KEYS.includes(key)) fail(`${where}: unknown key '${key}' (allowed: ${CLASS_KEYS.join(', ')})`);
    if (typeof e.name !== 'string') return fail(`${where}.name must be a string`);
    const synonyms = e.synonyms ?? [];
    if (!Array.isArray(synonyms) || synonyms.some((s) => typeof s !== 'string')) return fail(`${where}.synonyms must be an array of strings`);
    if (e.prompt !== undefined && typeof e.prompt !== 'string') return fail(`${where}.prompt must be a string`);
    return { name: e.name.trim(), synonyms: (synonyms as string[]).map((s) => s.trim()), prompt: ((e.prompt as string | undefined) ?? e.name).trim() };
  });
  if (obj.background.some((b) => typeof b !== 'string')) fail(`'background' must hold only strings`);

  const set: LabelSet = { name: (name as string).trim(), template, classes, background: (obj.background as string[]).map((b) => b.trim()) };
  validateLabelSet(set, origin);
  return deepFreeze(set);
}

/**
 * Checks a label set: 1..254 classes; names and synonyms non-empty, free of label separators
 * (',' ';' newline) and, after normalisation (case, spaces, '-' and '_' ignored), unique across
 * classes; non-empty prompts; at least one background
 * prompt, none repeated and none naming a class; a template with exactly one `{}`.
 */
export function validateLabelSet(set: LabelSet, origin = set.name): void {
  const fail = (problem: string): never => {
    throw new LabelSetError(`${origin}: ${problem}`);
  };
  if (set.classes.length === 0) fail('the label set has no classes');
  if (set.classes.length > MAX_CLASSES) fail(`${set.classes.length} classes exceed the limit of ${MAX_CLASSES} (mask values are 8-bit, 0 = background, 255 = void)`);
  if (set.template.split('{}').length !== 2) fail(`template ${JSON.stringify(set.template)} must contain exactly one '{}'`);

  const owner = new Map<string, { index: number; term: string }>();
  set.classes.forEach((c, index) => {
    if (c.name === '') fail(`class ${index} has an empty name`);
    if (c.prompt === '') fail(`class '${c.name}' has an empty prompt`);
    for (const term of [c.name, ...c.synonyms]) {
      if (term === '') fail(`class '${c.name}' has an empty synonym`);
      const key = matchKey(term);
      if (key === '') fail(`class '${c.name}': '${term}' is nothing but spaces, '-' and '_'`);
      if (/[,;\n]/.test(term)) fail(`class '${c.name}': '${term}' contains ',', ';' or a newline, which separate labels (prompts may contain them, names and synonyms not)`);
      const previous = owner.get(key);
      if (previous && previous.index !== index) {
        const other = set.classes[previous.index]!.name;
        fail(`duplicate class: '${term}' of class '${c.name}' (index ${index}) is the same name as '${previous.term}' of class '${other}' (index ${previous.index})`);
      }
      if (!previous) owner.set(key, { index, term });
    }
  });

  if (set.background.length === 0) fail('no background prompts: CLIP-ES needs at least one, or a single label\'s softmax is constant and its CAM empty');
  const seen = new Set<string>();
  for (const b of set.background) {
    if (b === '') fail('empty background prompt');
    const key = matchKey(b);
    if (seen.has(key)) fail(`background prompt '${b}' is listed twice`);
    seen.add(key);
    const cls = owner.get(key);
    if (cls) fail(`background prompt '${b}' is also class '${set.classes[cls.index]!.name}' (a class cannot be background too; COCO drops 'keyboard' and 'sign' for this reason)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Prompts and labels

/** The foreground prompt texts, one per class, in class order (CLIP-ES's text rows 0..K-1 for all classes). */
export function classPrompts(set: LabelSet): string[] {
  return set.classes.map((c) => fillTemplate(set.template, c.prompt));
}

/** The background prompt texts, in order. */
export function backgroundPrompts(set: LabelSet): string[] {
  return set.background.map((b) => fillTemplate(set.template, b));
}

export function fillTemplate(template: string, text: string): string {
  return template.replace('{}', text);
}

/** Class names with 'background' first: the names of mask values 0..K. */
export function maskClassNames(set: LabelSet): string[] {
  return ['background', ...set.classes.map((c) => c.name)];
}

export interface ParseLabelsOptions {
  /**
   * Naming a class twice is an error by default (likely a typo). With `dedupe`, repeats are dropped
   * keeping the first occurrence, as CLIP-ES does with the objects of a VOC annotation (§3.1).
   */
  dedupe?: boolean;
  /**
   * No labels is an error by default. With `allowEmpty`, [] comes back instead, for pipelines that
   * skip unlabelled images rather than stop (docs/algorithms.md §8.5).
   */
  allowEmpty?: boolean;
}

/**
 * Parses image-level labels ("cat, sofa", or ["cat", "sofa"]) into class indices (0-based, in the
 * order given). Names and synonyms match ignoring case, spaces, '-' and '_' ("dining table" finds
 * 'diningtable'). Errors name the unknown label and suggest close matches.
 */
export function parseLabels(labels: string | readonly string[], set: LabelSet, options: ParseLabelsOptions = {}): number[] {
  const terms = (typeof labels === 'string' ? labels.split(/[,;\n]/) : labels).map((t) => t.trim()).filter((t) => t !== '');
  const shown = typeof labels === 'string' ? JSON.stringify(labels) : JSON.stringify(labels.join(', '));
  if (terms.length === 0 && options.allowEmpty) return [];
  if (terms.length === 0) throw new LabelSetError(`no labels given (${shown}); an image needs at least one class of label set '${set.name}'`);
  const lookup = termLookup(set);
  const indices: number[] = [];
  const termOf = new Map<number, string>();
  for (const term of terms) {
    const index = lookup.get(matchKey(term));
    if (index === undefined) {
      const close = closeMatches(term, set).map((m) => (m.term === m.className ? `'${m.term}'` : `'${m.term}' (= '${m.className}')`));
      const hint = close.length > 0 ? `did you mean ${close.join(', ')}?` : `no close match among ${set.classes.length} classes`;
      throw new LabelSetError(`unknown class '${term}' in labels ${shown} (label set '${set.name}'); ${hint}`);
    }
    const earlier = termOf.get(index);
    if (earlier !== undefined) {
      if (options.dedupe) continue;
      const same = earlier === term ? `'${term}' twice` : `'${earlier}' and '${term}'`;
      throw new LabelSetError(`duplicate class '${set.classes[index]!.name}' in labels ${shown}: ${same} name the same class`);
    }
    termOf.set(index, term);
    indices.push(index);
  }
  return indices;
}

/** Lower case, with spaces, '-' and '_' removed: "Dining-Table" and "diningtable" are the same key. */
function matchKey(term: string): string {
  return term.toLowerCase().replace(/[\s_-]+/g, '');
}

const LOOKUPS = new WeakMap<LabelSet, Map<string, number>>();

function termLookup(set: LabelSet): Map<string, number> {
  let lookup = LOOKUPS.get(set);
  if (!lookup) {
    lookup = new Map();
    set.classes.forEach((c, index) => {
      for (const term of [c.name, ...c.synonyms]) if (!lookup!.has(matchKey(term))) lookup!.set(matchKey(term), index);
    });
    LOOKUPS.set(set, lookup);
  }
  return lookup;
}

/**
 * Up to `max` known names or synonyms close to `term`, best first: edit distance at most a third of
 * the longer word (at least 1), or one containing the other (or starting with the term).
 */
export function closeMatches(term: string, set: LabelSet, max = 5): { term: string; className: string }[] {
  const key = matchKey(term);
  const scored: { term: string; className: string; score: number }[] = [];
  for (const c of set.classes) {
    for (const candidate of [c.name, ...c.synonyms]) {
      const candidateKey = matchKey(candidate);
      const distance = editDistance(key, candidateKey);
      const limit = Math.max(1, Math.floor(Math.max(key.length, candidateKey.length) / 3));
      // Containment catches abbreviations and partial names: "tv" → tvmonitor, "phone" → cell phone.
      const contains = (key.length >= 2 && candidateKey.startsWith(key)) || (key.length >= 3 && (candidateKey.includes(key) || key.includes(candidateKey)));
      if (distance <= limit || contains) scored.push({ term: candidate, className: c.name, score: contains ? Math.min(distance, 0.5) : distance });
    }
  }
  scored.sort((a, b) => a.score - b.score || a.term.localeCompare(b.term));
  const seen = new Set<string>();
  return scored.filter((s) => !seen.has(s.term) && seen.add(s.term)).slice(0, max).map(({ term, className }) => ({ term, className }));
}

/**
 * Edit distance counting insertions, deletions, substitutions and swaps of two neighbouring
 * letters as one edit each (optimal string alignment), so the typo "cta" is one edit from "cat".
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d = new Int32Array(rows * cols);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[(i - 1) * cols + j]! + 1, d[i * cols + j - 1]! + 1, d[(i - 1) * cols + j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[(i - 2) * cols + j - 2]! + 1);
      d[i * cols + j] = best;
    }
  }
  return d[rows * cols - 1]!;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
