// One caption per image, e.g. "a photo of a red ball and a striped boat on the sea." Templates,
// the order of words and the use of synonyms vary, so that a text encoder trained on captions
// learns names (and synonyms, colours, patterns) rather than one fixed sentence.

import { pluralOf } from './classes.js';
import type { PlacedObject } from './objects.js';
import type { Rng } from './rng.js';
import { sceneInfo, type SceneKind } from './scenes.js';

const NUMBER_WORDS = ['', '', 'two', 'three', 'four'];

/** Template pieces: {objects} and {place} ("on the sea") are filled in. */
const TEMPLATES_WITH_PLACE = ['a photo of {objects} {place}.', '{objects} {place}.', 'an image showing {objects} {place}.', 'you can see {objects} {place}.', 'a rendering of {objects} {place}.', 'a picture of {objects} {place}.'];
const TEMPLATES_WITHOUT_PLACE = ['a photo of {objects}.', 'a picture of {objects}.', 'a synthetic image of {objects}.', '{objects}.'];
const SCENE_FIRST_TEMPLATES = ['{scene} with {objects}.', 'a view of {scene} with {objects}.'];

function article(word: string): string {
  return /^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`;
}

/** The class word for an object: mostly its name, sometimes a synonym. */
function classWord(object: PlacedObject, rng: Rng): string {
  const { cls } = object;
  return cls.synonyms.length > 0 && rng.chance(0.2) ? rng.pick(cls.synonyms) : cls.name;
}

/** "red", "striped red", "red and white striped", "blue … with white dots", "red and yellow". */
function describe(object: PlacedObject, word: string, rng: Rng): string {
  const { texture, mainName } = object.paint;
  const colorWord = rng.chance(0.85) ? `${mainName} ` : '';
  switch (texture.kind) {
    case 'solid':
      return `${colorWord}${word}`;
    case 'stripes':
      return rng.chance(0.5) ? `striped ${colorWord}${word}` : `${colorWord}${word} with stripes`;
    case 'dots':
      return rng.chance(0.5) ? `dotted ${colorWord}${word}` : `${colorWord}${word} with dots`;
    case 'gradient':
      return rng.chance(0.5) ? `shaded ${colorWord}${word}` : `${colorWord}${word}`;
  }
}

/** Objects as a noun phrase; repeated classes are sometimes counted ("two boats"). */
function objectPhrase(objects: readonly PlacedObject[], rng: Rng): string {
  const groups = new Map<string, PlacedObject[]>();
  for (const o of objects) groups.set(o.cls.name, [...(groups.get(o.cls.name) ?? []), o]);
  const phrases: string[] = [];
  for (const members of groups.values()) {
    if (members.length > 1 && rng.chance(0.5)) {
      const word = classWord(members[0]!, rng);
      phrases.push(`${NUMBER_WORDS[members.length]} ${pluralOf(word, members[0]!.cls)}`);
    } else {
      for (const o of members) phrases.push(article(describe(o, classWord(o, rng), rng)));
    }
  }
  if (phrases.length === 1) return phrases[0]!;
  return `${phrases.slice(0, -1).join(', ')} and ${phrases[phrases.length - 1]}`;
}

export function makeCaption(objects: readonly PlacedObject[], scene: SceneKind, rng: Rng): string {
  const info = sceneInfo(scene);
  const objectsText = objectPhrase(objects, rng);
  const scenePhrase = rng.pick(info.phrases);
  const style = rng.float();
  if (style < 0.65) return fill(rng.pick(TEMPLATES_WITH_PLACE), objectsText, `${info.preposition} ${scenePhrase}`, scenePhrase);
  if (style < 0.85) return fill(rng.pick(SCENE_FIRST_TEMPLATES), objectsText, '', scenePhrase);
  return fill(rng.pick(TEMPLATES_WITHOUT_PLACE), objectsText, '', scenePhrase);
}

function fill(template: string, objects: string, place: string, scene: string): string {
  return template.replace('{objects}', objects).replace('{place}', place).replace('{scene}', scene);
}
