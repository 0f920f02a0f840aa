import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/world.js';
import { IoError } from '../../src/io/errors.js';
import { readImage, readLabelMap } from '../../src/io/files.js';
import { readSplitList, vocLayout } from '../../src/io/voc.js';
import { loadLabelSet, parseLabels } from '../../src/wsss/labelset.js';
import { WORLD_CLASSES, pluralOf } from '../../src/world/classes.js';
import { generateImage, generateWorld, WORLD_VERSION, type WorldRecord } from '../../src/world/generate.js';
import { LIMITS, sampleLayout } from '../../src/world/layout.js';
import { Rng, mixSeed } from '../../src/world/rng.js';
import { computeWorldStats } from '../../src/world/stats.js';
import { tempDir } from '../io/helpers.js';
import { captureStdio } from '../helpers/stdio.js';

const tmp = tempDir('seedmask-world-');
afterAll(() => tmp.cleanup());

const SEED = 11;
let records: WorldRecord[];
beforeAll(async () => {
  ({ records } = await generateWorld({ out: tmp.path('w1'), seed: SEED, train: 4, val: 4 }));
});

/** Every file under `dir`, relative path → bytes. */
function snapshot(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.set(relative(dir, path), readFileSync(path));
    }
  };
  walk(dir);
  return files;
}

describe('seedmask world generate', () => {
  it('writes a VOC-layout dataset with captions, label set and manifest', async () => {
    const root = tmp.path('w1');
    const layout = vocLayout(root);
    expect(await readSplitList(layout.splitPath('train'))).toEqual(['000000', '000001', '000002', '000003']);
    expect(await readSplitList(layout.splitPath('val'))).toEqual(['000004', '000005', '000006', '000007']);
    expect(readdirSync(layout.imagesDir).sort()).toEqual(records.map((r) => `${r.id}.jpg`));
    expect(readdirSync(layout.masksDir).sort()).toEqual(records.map((r) => `${r.id}.png`));
    const lines = readFileSync(join(root, 'captions.jsonl'), 'utf8').trim().split('\n');
    expect(lines.map((l) => JSON.parse(l))).toEqual(records);
    const manifest = JSON.parse(readFileSync(join(root, 'world.json'), 'utf8'));
    expect(manifest).toMatchObject({ generator: 'seedmask world', version: WORLD_VERSION, seed: SEED, train: 4, val: 4 });

    const labelSet = await loadLabelSet(join(root, 'labelset.json'));
    expect(labelSet.classes.map((c) => c.name)).toEqual(WORLD_CLASSES.map((c) => c.name));
    expect(labelSet.classes.length).toBeGreaterThanOrEqual(6);
    expect(labelSet.classes.length).toBeLessThanOrEqual(10);
    expect(labelSet.template).toBe('a clean origami {}.');
    expect(labelSet.background).toEqual(expect.arrayContaining(['ground', 'water', 'grass', 'sky', 'stripes', 'noise']));
    expect(labelSet.classes.every((c) => c.synonyms.length > 0)).toBe(true);
  });

  it('gives consistent images, masks, labels and captions', async () => {
    const root = tmp.path('w1');
    const layout = vocLayout(root);
    const labelSet = await loadLabelSet(join(root, 'labelset.json'));
    for (const r of records) {
      const image = await readImage(layout.imagePath(r.id));
      expect([image.width, image.height]).toEqual([r.width, r.height]);
      for (const side of [r.width, r.height]) expect(side >= LIMITS.minSide && side <= LIMITS.maxSide).toBe(true);

      // Palette-mode PNG (colour type 3 in IHDR).
      expect(readFileSync(layout.maskPath(r.id))[25]).toBe(3);
      const mask = await readLabelMap(layout.maskPath(r.id));
      expect([mask.width, mask.height]).toEqual([r.width, r.height]);
      const counts = new Map<number, number>();
      for (const v of mask.data) counts.set(v, (counts.get(v) ?? 0) + 1);
      expect([...counts.keys()].sort((a, b) => a - b)).toEqual([0, ...[...r.classIds].sort((a, b) => a - b), 255]);
      expect(counts.get(255)).toBe(r.voidPixels);
      expect(r.voidPixels / mask.data.length).toBeLessThan(0.15);

      // Labels parse back through the label set to the mask values, in order.
      expect(parseLabels(r.labels, labelSet).map((k) => k + 1)).toEqual(r.classIds);
      expect(r.objects.length).toBeGreaterThanOrEqual(1);
      expect(r.objects.length).toBeLessThanOrEqual(4);
      // The caption names every class present (by name, synonym or plural).
      for (const name of r.labels) {
        const cls = WORLD_CLASSES.find((c) => c.name === name)!;
        const words = [cls.name, ...cls.synonyms].flatMap((w) => [w, pluralOf(w, cls)]);
        expect(words.some((w) => r.caption.includes(w)), `${r.caption} should mention ${name}`).toBe(true);
      }

      // VOC-style void band: two different classes never touch without 255 between them.
      for (let y = 0; y < mask.height; y++) {
        for (let x = 0; x < mask.width; x++) {
          const v = mask.data[y * mask.width + x]!;
          if (v === 255) continue;
          const right = x + 1 < mask.width ? mask.data[y * mask.width + x + 1]! : v;
          const below = y + 1 < mask.height ? mask.data[(y + 1) * mask.width + x]! : v;
          if ((right !== 255 && right !== v) || (below !== 255 && below !== v)) throw new Error(`${r.id}: classes touch at (${x}, ${y})`);
        }
      }
    }
  });

  it('is deterministic: the same seed gives byte-identical files, another seed other images', async () => {
    await generateWorld({ out: tmp.path('w2'), seed: SEED, train: 4, val: 4 });
    const first = snapshot(tmp.path('w1'));
    const second = snapshot(tmp.path('w2'));
    expect([...second.keys()].sort()).toEqual([...first.keys()].sort());
    for (const [name, bytes] of first) expect(second.get(name)!.equals(bytes), name).toBe(true);

    // Image i depends on (seed, i) only: the pure generator reproduces the dataset's image 5.
    const again = generateImage(SEED, 5, 'val');
    expect(again.record).toEqual(records[5]);
    expect(again.image.mask).toEqual((await readLabelMap(vocLayout(tmp.path('w1')).maskPath('000005'))).data);
    expect(generateImage(SEED + 1, 5, 'val').image.mask).not.toEqual(again.image.mask);
  });

  it('pins its output: a change to any generated pixel or caption must bump WORLD_VERSION', () => {
    const { image, record } = generateImage(1, 0, 'train');
    const digest = createHash('sha256').update(image.rgba).update(image.mask).update(JSON.stringify(record)).digest('hex');
    expect({ version: WORLD_VERSION, digest }).toEqual({ version: 1, digest: '37db1f9ab6ae63fdce5cebe1efa6781ee5d620d3e9004c7395d080e9f14172e5' });
    expect([new Rng(0).uint32(), mixSeed(1, 2, 3)]).toEqual([548183886, 2901138804]);
  });

  it('refuses to write into an unrelated non-empty directory', async () => {
    const dir = tmp.path('busy');
    mkdirSync(dir);
    writeFileSync(join(dir, 'thesis.tex'), 'precious');
    const err = await generateWorld({ out: dir, seed: 1, train: 1, val: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IoError);
    expect((err as Error).message).toContain(`${dir}: directory is not empty and holds no world.json`);
    expect(readdirSync(dir)).toEqual(['thesis.tex']);
  });
});

describe('world layouts', () => {
  it('vary in size and aspect, 1–4 objects, and tie context classes to their scenes', () => {
    const sizes: [number, number][] = [];
    let boats = 0;
    let boatsOnWater = 0;
    let others = 0;
    let othersOnWater = 0;
    for (let i = 0; i < 80; i++) {
      const layout = sampleLayout(new Rng(mixSeed(99, i)));
      sizes.push([layout.width, layout.height]);
      expect(layout.objects.length).toBeGreaterThanOrEqual(1);
      expect(layout.objects.length).toBeLessThanOrEqual(4);
      const hasBoat = layout.objects.some((o) => o.cls.name === 'boat');
      const onWater = layout.scene.kind === 'water';
      if (hasBoat) {
        boats++;
        if (onWater) boatsOnWater++;
      } else {
        others++;
        if (onWater) othersOnWater++;
      }
    }
    expect(sizes.some(([w, h]) => w % 16 !== 0 || h % 16 !== 0)).toBe(true);
    expect(sizes.some(([w, h]) => w > h)).toBe(true);
    expect(sizes.some(([w, h]) => w < h)).toBe(true);
    expect(new Set(sizes.map(([w, h]) => (w / h).toFixed(1))).size).toBeGreaterThan(5);
    expect(boats).toBeGreaterThan(3);
    expect(boatsOnWater / boats).toBeGreaterThan(0.45);
    expect(othersOnWater / others).toBeLessThan(0.25);
  });

  it('summarises class frequencies and context strength', () => {
    const stats = computeWorldStats(records);
    expect(stats.images).toBe(8);
    expect(stats.objects).toBe(records.reduce((n, r) => n + r.objects.length, 0));
    expect(stats.objectsPerImage.reduce((a, b) => a + b, 0)).toBe(8);
    expect(stats.context.map((c) => c.name).sort()).toEqual(WORLD_CLASSES.filter((c) => c.context).map((c) => c.name).sort());
  });
});

describe('seedmask world (CLI)', () => {
  const io = captureStdio();

  it('generates, then reports stats', async () => {
    const out = tmp.path('cli');
    expect(await run(['generate', '--out', out, '--seed', '3', '--train', '2', '--val', '1'])).toBe(0);
    expect(io.stdout).toMatch(/wrote 3 images \(2 train, 1 val\)/);
    expect(io.stdout).toContain('context (class → scene)');
    io.stdout = '';
    expect(await run(['stats', out, '--json'])).toBe(0);
    expect(JSON.parse(io.stdout).images).toBe(3);
  });

  it('exits 2 on usage errors, 1 on file errors', async () => {
    expect(await run(['generate', '--seed', '1'])).toBe(2);
    expect(io.stderr).toContain('--out is required');
    expect(await run(['generate', '--out', tmp.path('x'), '--seed', 'abc'])).toBe(2);
    expect(await run(['generate', '--out', tmp.path('x'), '--seed', '1', '--train', '0', '--val', '0'])).toBe(2);
    expect(await run(['frobnicate'])).toBe(2);
    expect(await run(['stats', tmp.path('nowhere')])).toBe(1);
    expect(io.stderr).toContain(`${join(tmp.path('nowhere'), 'captions.jsonl')}: cannot read`);
  });
});
