// Summary statistics of a generated world, from its captions.jsonl records: how often each class
// appears (images, instances, pixels), how scenes are spread, and how strongly context classes are
// tied to their scene — the background bias a seed generator can be tested against.

import { WORLD_CLASSES } from './classes.js';
import type { WorldRecord } from './generate.js';
import { SCENES } from './scenes.js';

export interface ClassStats {
  name: string;
  /** Images containing the class. */
  images: number;
  instances: number;
  /** Non-void ground-truth pixels, and their share of all non-void pixels. */
  pixels: number;
  pixelShare: number;
}

export interface ContextStats {
  name: string;
  scene: string;
  /** P(scene | class present): how often the class is seen in its context. */
  inContext: number;
  /** P(scene | class absent): the base rate of that scene without the class. */
  baseRate: number;
  /** inContext / baseRate. */
  lift: number;
  /** φ coefficient (Pearson correlation of the two indicators over images). */
  phi: number;
}

export interface WorldStats {
  images: number;
  objects: number;
  /** Images with 1, 2, 3, 4 objects. */
  objectsPerImage: number[];
  classes: ClassStats[];
  scenes: { kind: string; images: number }[];
  context: ContextStats[];
  backgroundPixelShare: number;
  voidPixelShare: number;
}

export function computeWorldStats(records: readonly WorldRecord[]): WorldStats {
  const classes: ClassStats[] = WORLD_CLASSES.map((c) => ({ name: c.name, images: 0, instances: 0, pixels: 0, pixelShare: 0 }));
  const byName = new Map(classes.map((c) => [c.name, c]));
  const objectsPerImage = [0, 0, 0, 0];
  let totalPixels = 0;
  let voidPixels = 0;
  let objectPixels = 0;
  for (const r of records) {
    totalPixels += r.width * r.height;
    voidPixels += r.voidPixels;
    objectsPerImage[Math.min(4, r.objects.length) - 1]!++;
    for (const name of r.labels) byName.get(name)!.images++;
    for (const o of r.objects) {
      const c = byName.get(o.class)!;
      c.instances++;
      c.pixels += o.pixels;
      objectPixels += o.pixels;
    }
  }
  const nonVoid = totalPixels - voidPixels;
  for (const c of classes) c.pixelShare = nonVoid > 0 ? c.pixels / nonVoid : 0;

  const context: ContextStats[] = [];
  for (const cls of WORLD_CLASSES) {
    if (!cls.context) continue;
    const scene = cls.context.scene;
    let both = 0;
    let withClass = 0;
    let withScene = 0;
    for (const r of records) {
      const has = r.labels.includes(cls.name);
      const inScene = r.scene === scene;
      if (has) withClass++;
      if (inScene) withScene++;
      if (has && inScene) both++;
    }
    const n = records.length;
    const without = n - withClass;
    const inContext = withClass > 0 ? both / withClass : Number.NaN;
    const baseRate = without > 0 ? (withScene - both) / without : Number.NaN;
    const denominator = Math.sqrt(withClass * without * withScene * (n - withScene));
    const phi = denominator > 0 ? (n * both - withClass * withScene) / denominator : Number.NaN;
    context.push({ name: cls.name, scene, inContext, baseRate, lift: inContext / baseRate, phi });
  }

  return {
    images: records.length,
    objects: classes.reduce((n, c) => n + c.instances, 0),
    objectsPerImage,
    classes,
    scenes: SCENES.map((s) => ({ kind: s.kind, images: records.filter((r) => r.scene === s.kind).length })),
    context,
    backgroundPixelShare: nonVoid > 0 ? (nonVoid - objectPixels) / nonVoid : 0,
    voidPixelShare: totalPixels > 0 ? voidPixels / totalPixels : 0,
  };
}

const pct = (x: number) => (Number.isNaN(x) ? '—' : `${(100 * x).toFixed(1)} %`);

export function formatWorldStats(stats: WorldStats): string {
  const lines: string[] = [];
  lines.push(`${stats.images} images, ${stats.objects} objects; objects per image 1/2/3/4: ${stats.objectsPerImage.join(' / ')}`);
  lines.push(`pixels: background ${pct(stats.backgroundPixelShare)} of non-void, void band ${pct(stats.voidPixelShare)} of all`);
  lines.push('');
  lines.push(`${'class'.padEnd(8)} ${'images'.padStart(7)} ${'objects'.padStart(8)} ${'pixels'.padStart(8)}`);
  for (const c of stats.classes) lines.push(`${c.name.padEnd(8)} ${String(c.images).padStart(7)} ${String(c.instances).padStart(8)} ${pct(c.pixelShare).padStart(8)}`);
  lines.push('');
  lines.push(`scenes: ${stats.scenes.map((s) => `${s.kind} ${s.images}`).join(', ')}`);
  lines.push('');
  lines.push('context (class → scene): P(scene | class), P(scene | no class), lift, phi');
  for (const c of stats.context) lines.push(`  ${c.name.padEnd(6)} → ${c.scene.padEnd(6)} ${pct(c.inContext).padStart(8)} ${pct(c.baseRate).padStart(8)} ${c.lift.toFixed(1).padStart(6)}× ${c.phi.toFixed(2).padStart(6)}`);
  return lines.join('\n') + '\n';
}
