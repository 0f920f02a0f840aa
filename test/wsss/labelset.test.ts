import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  COCO_LABELSET,
  LabelSetError,
  VOC_LABELSET,
  backgroundPrompts,
  classPrompts,
  editDistance,
  loadLabelSet,
  maskClassNames,
  parseLabelSet,
  parseLabels,
  validateLabelSet,
} from '../../src/wsss/labelset.js';
import { tempDir } from '../io/helpers.js';

const tmp = tempDir('seedmask-labelset-');
afterAll(() => tmp.cleanup());

// docs/algorithms.md §3.2 (CLIP-ES clip_text.py), written out independently of the source under test.
const VOC_NAMES = 'aeroplane bicycle bird boat bottle bus car cat chair cow diningtable dog horse motorbike person pottedplant sheep sofa train tvmonitor'.split(' ');
const VOC_PROMPTS = ['aeroplane', 'bicycle', 'bird avian', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair seat', 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person with clothes,people,human', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor screen'];
const VOC_BACKGROUND = 'ground land grass tree building wall sky lake water river sea railway railroad keyboard helmet cloud house mountain ocean road rock street valley bridge sign'.split(' ');
const COCO_NAMES = [
  'person', 'bicycle', 'car', 'motorbike', 'aeroplane', 'bus', 'train', 'truck', 'boat', 'traffic light',
  'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
  'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee',
  'skis', 'snowboard', 'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
  'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
  'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'sofa', 'pottedplant', 'bed',
  'diningtable', 'toilet', 'tvmonitor', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone', 'microwave', 'oven',
  'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear', 'hair drier', 'toothbrush',
];
const COCO_RENAMED: Record<string, string> = {
  person: 'person with clothes,people,human', bird: 'bird avian', backpack: 'backpack,bag', umbrella: 'umbrella,parasol',
  handbag: 'handbag,purse', tie: 'necktie', snowboard: 'sknowboard', 'baseball glove': 'glove', spoon: 'dessertspoon',
  chair: 'chair seat', tvmonitor: 'tvmonitor screen', remote: 'remote control', 'hair drier': 'hairdrier,blowdrier',
};

describe('built-in label sets', () => {
  it('VOC is CLIP-ES\'s: 20 names, prompts with synonyms, 25 background prompts, the origami template', () => {
    expect(VOC_LABELSET.classes.map((c) => c.name)).toEqual(VOC_NAMES);
    expect(VOC_LABELSET.classes.map((c) => c.prompt)).toEqual(VOC_PROMPTS);
    expect(VOC_LABELSET.background).toEqual(VOC_BACKGROUND);
    expect(VOC_LABELSET.template).toBe('a clean origami {}.');
    expect(classPrompts(VOC_LABELSET)[14]).toBe('a clean origami person with clothes,people,human.');
    expect(backgroundPrompts(VOC_LABELSET)[0]).toBe('a clean origami ground.');
    expect(maskClassNames(VOC_LABELSET)).toEqual(['background', ...VOC_NAMES]);
  });

  it('COCO is CLIP-ES\'s: 80 names, renamed prompts (typos kept), 23 background prompts', () => {
    expect(COCO_LABELSET.classes.map((c) => c.name)).toEqual(COCO_NAMES);
    expect(COCO_LABELSET.classes.map((c) => c.prompt)).toEqual(COCO_NAMES.map((n) => COCO_RENAMED[n] ?? n));
    expect(COCO_LABELSET.background).toEqual(VOC_BACKGROUND.filter((b) => b !== 'keyboard' && b !== 'sign'));
    expect(COCO_LABELSET.template).toBe('a clean origami {}.');
  });

  it('are frozen and load by name', async () => {
    expect(await loadLabelSet('voc')).toBe(VOC_LABELSET);
    expect(await loadLabelSet('COCO')).toBe(COCO_LABELSET);
    expect(Object.isFrozen(VOC_LABELSET.classes[0])).toBe(true);
    expect(() => validateLabelSet(VOC_LABELSET)).not.toThrow();
    expect(() => validateLabelSet(COCO_LABELSET)).not.toThrow();
  });
});

describe('parseLabels', () => {
  it('maps names and synonyms to class indices, in the order given', () => {
    expect(parseLabels('cat, sofa', VOC_LABELSET)).toEqual([7, 17]);
    expect(parseLabels('sofa;cat', VOC_LABELSET)).toEqual([17, 7]);
    expect(parseLabels(['people', 'avian'], VOC_LABELSET)).toEqual([14, 2]);
    expect(parseLabels('Dining Table, TV-monitor, potted_plant', VOC_LABELSET)).toEqual([10, 19, 15]);
    expect(parseLabels('traffic light, teddy bear, hairdrier', COCO_LABELSET)).toEqual([9, 77, 78]);
  });

  it('names an unknown label and suggests close matches', () => {
    expect(() => parseLabels('cta, sofa', VOC_LABELSET)).toThrow(/unknown class 'cta' in labels "cta, sofa" \(label set 'voc'\); did you mean 'cat'/);
    expect(() => parseLabels('persn', VOC_LABELSET)).toThrow(/did you mean 'person'/);
    expect(() => parseLabels('humans', VOC_LABELSET)).toThrow(/'human' \(= 'person'\)/);
    expect(() => parseLabels('tv', VOC_LABELSET)).toThrow(/did you mean 'tvmonitor'/);
    expect(() => parseLabels('xylophone', VOC_LABELSET)).toThrow(/no close match among 20 classes/);
    expect(editDistance('cta', 'cat')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('refuses empty labels and (unless asked to dedupe) a class named twice', () => {
    expect(() => parseLabels('', VOC_LABELSET)).toThrow(LabelSetError);
    expect(() => parseLabels(' , ;', VOC_LABELSET)).toThrow(/no labels given/);
    expect(() => parseLabels([], VOC_LABELSET)).toThrow(/no labels given/);
    expect(parseLabels(' , ', VOC_LABELSET, { allowEmpty: true })).toEqual([]);
    expect(() => parseLabels('cat, dog, cat', VOC_LABELSET)).toThrow(/duplicate class 'cat' in labels "cat, dog, cat": 'cat' twice/);
    expect(() => parseLabels('person, people', VOC_LABELSET)).toThrow(/'person' and 'people' name the same class/);
    expect(parseLabels('cat, dog, cat, people, person', VOC_LABELSET, { dedupe: true })).toEqual([7, 11, 14]);
  });
});

describe('label-set files', () => {
  const write = (name: string, json: unknown) => {
    const path = tmp.path(name);
    writeFileSync(path, typeof json === 'string' ? json : JSON.stringify(json));
    return path;
  };

  it('loads a file like the world\'s labelset.json', async () => {
    const path = write('world.json', {
      name: 'toy',
      template: 'a photo of a {}.',
      classes: [{ name: 'ball', synonyms: ['sphere'], prompt: 'ball,sphere' }, 'box', { name: 'boat' }],
      background: ['water', 'grass'],
    });
    const set = await loadLabelSet(path);
    expect(set.name).toBe('toy');
    expect(set.classes).toEqual([
      { name: 'ball', synonyms: ['sphere'], prompt: 'ball,sphere' },
      { name: 'box', synonyms: [], prompt: 'box' },
      { name: 'boat', synonyms: [], prompt: 'boat' },
    ]);
    expect(classPrompts(set)).toEqual(['a photo of a ball,sphere.', 'a photo of a box.', 'a photo of a boat.']);
    expect(parseLabels('Sphere, boat', set)).toEqual([0, 2]);
  });

  it('reports what is wrong, and where', async () => {
    const base = { classes: ['cat', 'dog'], background: ['grass'] };
    const cases: [unknown, RegExp][] = [
      [{ ...base, classes: ['cat', 'Cat'] }, /duplicate class: 'Cat' of class 'Cat' \(index 1\) is the same name as 'cat' of class 'cat' \(index 0\)/],
      [{ ...base, classes: ['cat', { name: 'kitty', synonyms: ['cat'] }] }, /duplicate class: 'cat' of class 'kitty'/],
      [{ ...base, classes: ['dining table', 'diningtable'] }, /duplicate class/],
      [{ ...base, classes: [] }, /has no classes/],
      [{ ...base, classes: ['cat', { name: 'dog', synonyms: ['hound,pup'] }] }, /'hound,pup' contains ',', ';' or a newline/],
      [{ ...base, classes: ['cat', ''] }, /class 1 has an empty name/],
      [{ ...base, background: [] }, /no background prompts/],
      [{ ...base, background: ['grass', 'Grass'] }, /background prompt 'Grass' is listed twice/],
      [{ ...base, background: ['dog'] }, /background prompt 'dog' is also class 'dog'/],
      [{ ...base, template: 'a photo' }, /must contain exactly one '\{\}'/],
      [{ ...base, backgrounds: [] }, /unknown key 'backgrounds' \(allowed: name, template, classes, background\)/],
      [{ ...base, classes: [{ name: 'cat', synonym: ['x'] }] }, /classes\[0\]: unknown key 'synonym'/],
      [{ ...base, classes: Array.from({ length: 255 }, (_, i) => `c${i}`) }, /255 classes exceed the limit of 254/],
      [[1, 2], /must be a JSON object/],
    ];
    for (const [i, [json, message]] of cases.entries()) {
      const path = write(`bad${i}.json`, json);
      await expect(loadLabelSet(path), JSON.stringify(json).slice(0, 80)).rejects.toThrow(message);
      await expect(loadLabelSet(path)).rejects.toThrow(path);
    }
    await expect(loadLabelSet(write('broken.json', '{"classes": ['))).rejects.toThrow(/not valid JSON/);
    await expect(loadLabelSet(tmp.path('absent.json'))).rejects.toThrow(/not a file, nor one of the built-in sets: voc, coco/);
    expect(() => parseLabelSet({ classes: ['a'], background: ['b'] }, 'inline')).not.toThrow();
  });
});
