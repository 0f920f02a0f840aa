// Sampling what one image shows: its size, scene, objects (class, colour, texture, pose) and
// occluding poles, with every object kept recognisable (enough of it visible and inside the frame).
//
// Context correlation: the first ("anchor") object's class is drawn first; the scene then follows
// that class's context preference (a boat is on water 80 % of the time, plus its share of the
// uniform rest); further objects favour classes that belong to the chosen scene and rarely bring a
// context class into another scene.

import { WORLD_CLASSES, type ShapeModel, type WorldClass } from './classes.js';
import { NAMED_COLORS, distance, jitter, namedColor, scale, type Rgb } from './color.js';
import { PlacedObject, Pole, type Layer, type Paint, type Texture } from './objects.js';
import type { Rng } from './rng.js';
import { SCENES, renderScene, type RenderedScene, type SceneKind } from './scenes.js';

export interface Layout {
  width: number;
  height: number;
  scene: RenderedScene;
  /** Class objects, back to front. */
  objects: PlacedObject[];
  /** Everything drawn over the scene, back to front (objects, then poles). */
  layers: Layer[];
}

export const LIMITS = {
  minSide: 160,
  maxSide: 512,
  /** Smallest object radius, pixels. */
  minRadius: 14,
  /** An object must keep this fraction of its area inside the frame... */
  minInFrame: 0.6,
  /** ...and this fraction visible (not occluded, in frame)... */
  minVisible: 0.45,
  /** ...and at least this many visible pixels. */
  minVisiblePixels: 300,
} as const;

/** Probabilities of 1, 2, 3, 4 objects. */
const OBJECT_COUNT_WEIGHTS = [0.35, 0.33, 0.2, 0.12];
/**
 * Weights when drawing the objects after the anchor: a class whose context is the scene is favoured,
 * a context class elsewhere is rare ("boat usually on water"), other classes are neutral (1).
 */
const IN_CONTEXT_WEIGHT = 3;
const OUT_OF_CONTEXT_WEIGHT = 0.35;
/** Context classes lead images more often, making up for being rare elsewhere (keeps classes balanced). */
const CONTEXT_ANCHOR_WEIGHT = 1.7;
const PLACEMENT_TRIES = 25;
/** Visibility is estimated on a grid of this stride (pixels): close enough for area thresholds, and 9× cheaper. */
const GRID = 3;

export function sampleLayout(rng: Rng): Layout {
  const landscape = rng.chance(0.65);
  const long = rng.int(200, LIMITS.maxSide);
  const short = Math.max(LIMITS.minSide, Math.round(long / rng.range(1, 1.8)));
  const width = landscape ? long : short;
  const height = landscape ? short : long;

  const anchor = rng.weighted(WORLD_CLASSES.map((c) => (c.context ? CONTEXT_ANCHOR_WEIGHT : 1)));
  const context = WORLD_CLASSES[anchor]!.context;
  const sceneKind: SceneKind = context && rng.chance(context.probability) ? context.scene : rng.pick(SCENES).kind;
  const scene = renderScene(sceneKind, width, height, rng);

  const count = 1 + rng.weighted(OBJECT_COUNT_WEIGHTS);
  const classWeights = WORLD_CLASSES.map((c) => (!c.context ? 1 : c.context.scene === sceneKind ? IN_CONTEXT_WEIGHT : OUT_OF_CONTEXT_WEIGHT));
  const grid = new VisibilityGrid(width, height);
  const objects: PlacedObject[] = [];
  for (let k = 0; k < count; k++) {
    const classIndex = k === 0 ? anchor : rng.weighted(classWeights);
    const shape = makeShape(classIndex, count, width, height, rng);
    for (let attempt = 0; attempt < PLACEMENT_TRIES; attempt++) {
      const object = placeShape(shape, scene, width, height, rng);
      if (grid.tryAdd(object, shape.area)) {
        objects.push(object);
        break;
      }
    }
  }
  const layers: Layer[] = [...objects];
  const poles = rng.chance(0.25) ? (rng.chance(0.2) ? 2 : 1) : 0;
  for (let k = 0; k < poles; k++) {
    for (let attempt = 0; attempt < 5; attempt++) {
      const pole = proposePole(width, height, rng);
      if (grid.tryAdd(pole)) {
        layers.push(pole);
        break;
      }
    }
  }
  return { width, height, scene, objects, layers };
}

interface Shape {
  classIndex: number;
  cls: WorldClass;
  model: ShapeModel;
  /** Radius in pixels (pixels per local unit). */
  radius: number;
  /** Bounding radius in local units. */
  extent: number;
  /** Area in pixels (whether in frame or not). */
  area: number;
}

/** An object's class, size and geometry, fixed before trying positions for it. */
function makeShape(classIndex: number, count: number, width: number, height: number, rng: Rng): Shape {
  const cls = WORLD_CLASSES[classIndex]!;
  const radius = Math.max(LIMITS.minRadius, Math.min(width, height) * rng.range(0.2, 0.5) * (count >= 3 ? 0.75 : 1));
  const model = cls.build(rng, radius);
  const { extent, area } = measureShape(model.parts.map((p) => p.sdf));
  return { classIndex, cls, model, radius, extent, area: area * radius * radius };
}

/** One candidate placement of a shape: position, rotation, mirror and paint. */
function placeShape(shape: Shape, scene: RenderedScene, width: number, height: number, rng: Rng): PlacedObject {
  const { cls, radius } = shape;
  const cx = rng.range(0.08, 0.92) * width;
  let cy = rng.range(0.08, 0.92) * height;
  // Context objects stand in the ground part of a scene with a horizon (boats float below the sky).
  if (cls.context?.scene === scene.kind && scene.groundTop > 0) {
    const top = Math.min(scene.groundTop + 0.3 * radius, 0.9 * height);
    cy = rng.range(top, Math.max(top, 0.95 * height));
  }
  const angle = rng.range(-cls.maxRotation, cls.maxRotation);
  const flip = cls.flip && rng.chance(0.5);
  const paint = choosePaint(cls, scene, cx, cy, radius, rng);
  return new PlacedObject(cls, shape.classIndex + 1, shape.model, { cx, cy, scale: radius, angle, flip }, paint, shape.extent);
}

/**
 * Bounding radius (with a margin) and area of a shape in local units, from its distance functions
 * sampled on a fine grid. A grid point counts as near the shape when its distance is below half a
 * cell diagonal, so the radius cannot be underestimated by more than the margin covers.
 */
function measureShape(sdfs: ((u: number, v: number) => number)[]): { extent: number; area: number } {
  const step = 0.03;
  const reachLimit = 1.35;
  const halfDiagonal = step * Math.SQRT1_2;
  let extent = 0;
  let inside = 0;
  for (let v = -reachLimit; v <= reachLimit; v += step) {
    for (let u = -reachLimit; u <= reachLimit; u += step) {
      let d = Infinity;
      for (const sdf of sdfs) d = Math.min(d, sdf(u, v));
      if (d < 0) inside++;
      if (d < halfDiagonal) extent = Math.max(extent, Math.sqrt(u * u + v * v));
    }
  }
  if (extent > reachLimit - 2 * step) throw new Error('a world shape reaches beyond the measured square; enlarge reachLimit');
  return { extent: extent + halfDiagonal, area: inside * step * step };
}

function choosePaint(cls: WorldClass, scene: RenderedScene, cx: number, cy: number, radius: number, rng: Rng): Paint {
  const background = meanColor(scene, cx, cy, radius);
  const names = cls.colors ? Object.keys(cls.colors) : NAMED_COLORS.map((c) => c.name);
  const weights = cls.colors ? Object.values(cls.colors) : names.map(() => 1);
  // Redraw a colour that would melt into the background (a few tries; low contrast stays possible).
  let mainName = names[rng.weighted(weights)]!;
  for (let k = 0; k < 6 && distance(namedColor(mainName).rgb, background) < 70; k++) mainName = names[rng.weighted(weights)]!;
  const main = jitter(namedColor(mainName).rgb, rng);

  const second = (): Rgb => {
    let c = rng.pick(NAMED_COLORS);
    for (let k = 0; k < 8 && (c.name === mainName || distance(c.rgb, main) < 90); k++) c = rng.pick(NAMED_COLORS);
    return jitter(c.rgb, rng);
  };
  const kind = rng.pick(cls.textures);
  const minPeriod = 7 / radius; // stripes and dots stay at least a few pixels wide
  let texture: Texture;
  switch (kind) {
    case 'solid':
      texture = { kind };
      break;
    case 'stripes':
      texture = { kind, color: second(), angle: rng.range(0, Math.PI), period: Math.max(minPeriod, rng.range(0.2, 0.45)) };
      break;
    case 'dots': {
      const spacing = Math.max(minPeriod * 1.3, rng.range(0.25, 0.45));
      texture = { kind, color: second(), angle: rng.range(0, Math.PI), spacing, radius: spacing * rng.range(0.2, 0.34) };
      break;
    }
    case 'gradient':
      texture = { kind, color: second(), angle: rng.range(0, 2 * Math.PI) };
      break;
  }
  const accent: Rgb = rng.chance(0.6) ? jitter([240, 238, 230], rng, 8) : second();
  return {
    main,
    mainName,
    texture,
    roles: {
      accent,
      dark: jitter([30, 30, 32], rng, 8),
      light: jitter([195, 195, 200], rng, 10),
      glass: jitter([165, 200, 225], rng, 12),
      trunk: jitter(scale([105, 70, 40], rng.range(0.8, 1.2)), rng, 10),
    },
  };
}

/** Mean scene colour over the square around (cx, cy), sampled sparsely. */
function meanColor(scene: RenderedScene, cx: number, cy: number, radius: number): Rgb {
  const { rgb, width, height } = scene;
  let r = 0;
  let g = 0;
  let b = 0;
  let n = 0;
  const x0 = Math.max(0, Math.floor(cx - radius));
  const x1 = Math.min(width - 1, Math.ceil(cx + radius));
  const y0 = Math.max(0, Math.floor(cy - radius));
  const y1 = Math.min(height - 1, Math.ceil(cy + radius));
  for (let y = y0; y <= y1; y += 4) {
    for (let x = x0; x <= x1; x += 4) {
      const i = 3 * (y * width + x);
      r += rgb[i]!;
      g += rgb[i + 1]!;
      b += rgb[i + 2]!;
      n++;
    }
  }
  return n > 0 ? [r / n, g / n, b / n] : [128, 128, 128];
}

/** A pole through a random point, mostly upright, reaching past the frame on both sides. */
function proposePole(width: number, height: number, rng: Rng): Pole {
  const px = rng.range(0.1, 0.9) * width;
  const py = rng.range(0.1, 0.9) * height;
  const angle = rng.chance(0.6) ? Math.PI / 2 + rng.range(-0.3, 0.3) : rng.range(0, Math.PI);
  const dx = Math.cos(angle);
  const dy = Math.sin(angle);
  const color = rng.chance(0.5) ? jitter([70, 55, 40], rng, 15) : jitter([90, 90, 95], rng, 20);
  return new Pole(exitPoint(px, py, -dx, -dy, width, height), exitPoint(px, py, dx, dy, width, height), rng.range(3, 8), color);
}

/** Where the ray from (px, py) along the unit direction (dx, dy) leaves the image, 10 px beyond. */
function exitPoint(px: number, py: number, dx: number, dy: number, width: number, height: number): [number, number] {
  let t = Infinity;
  if (dx > 1e-9) t = Math.min(t, (width + 10 - px) / dx);
  if (dx < -1e-9) t = Math.min(t, (-10 - px) / dx);
  if (dy > 1e-9) t = Math.min(t, (height + 10 - py) / dy);
  if (dy < -1e-9) t = Math.min(t, (-10 - py) / dy);
  return [px + dx * t, py + dy * t];
}

/**
 * Coarse ownership map (which layer is on top at each grid point) used to accept or reject a new
 * layer: the new layer must not hide too much of any earlier object, and an object must itself be
 * mostly in frame and big enough.
 */
class VisibilityGrid {
  private readonly gw: number;
  private readonly gh: number;
  private readonly owner: Int16Array;
  /** Scratch: grid cells the candidate covers. */
  private readonly cells: Int32Array;
  /** Per layer: grid points visible now, and the layer's full area in grid points (frame ignored). */
  private readonly visible: number[] = [];
  private readonly full: number[] = [];
  private readonly isObject: boolean[] = [];

  constructor(width: number, height: number) {
    this.gw = Math.ceil(width / GRID);
    this.gh = Math.ceil(height / GRID);
    this.owner = new Int16Array(this.gw * this.gh).fill(-1);
    this.cells = new Int32Array(this.gw * this.gh);
  }

  /** Adds the layer if it fits. `area` (pixels) makes it an object with visibility requirements. */
  tryAdd(layer: Layer, area?: number): boolean {
    const { x0, y0, x1, y1 } = layer.bounds;
    const lost = new Int32Array(this.visible.length);
    let count = 0;
    for (let gy = Math.max(0, Math.floor(y0 / GRID)); gy < this.gh && gy * GRID < y1; gy++) {
      for (let gx = Math.max(0, Math.floor(x0 / GRID)); gx < this.gw && gx * GRID < x1; gx++) {
        if (layer.probe(gx * GRID + GRID / 2, gy * GRID + GRID / 2) >= 0) continue;
        const cell = gy * this.gw + gx;
        this.cells[count++] = cell;
        const below = this.owner[cell]!;
        if (below >= 0) lost[below]!++;
      }
    }
    const minCells = LIMITS.minVisiblePixels / (GRID * GRID);
    const full = area === undefined ? 0 : area / (GRID * GRID);
    if (area !== undefined && (count < LIMITS.minInFrame * full || count < minCells)) return false;
    for (let k = 0; k < lost.length; k++) {
      if (lost[k] === 0 || !this.isObject[k]) continue;
      const left = this.visible[k]! - lost[k]!;
      if (left < LIMITS.minVisible * this.full[k]! || left < minCells) return false;
    }
    const index = this.visible.length;
    for (let k = 0; k < lost.length; k++) this.visible[k]! -= lost[k]!;
    for (let c = 0; c < count; c++) this.owner[this.cells[c]!] = index;
    this.visible.push(count);
    this.full.push(full);
    this.isObject.push(area !== undefined);
    return true;
  }
}
