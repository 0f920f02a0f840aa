// The world's object classes: what each looks like (parts built from signed distance functions),
// what it may be called, how it may be coloured, posed and textured, and which scene it prefers.
//
// Local units: an object spans about [-1, 1]² around its centre, y pointing down (image
// convention), "up" is −y. The renderer scales by the object's radius in pixels.

import { box, circle, intersection, polygon, ring, star, tangentPoint, type Sdf } from './geometry.js';
import type { Rng } from './rng.js';
import type { SceneKind } from './scenes.js';

/** Which colour a part takes: the object's main colour (with its texture) or a fixed role colour. */
export type Role = 'main' | 'accent' | 'dark' | 'light' | 'glass' | 'trunk';

export interface Part {
  sdf: Sdf;
  role: Role;
}

export interface ShapeModel {
  /** Painted back to front; the object's silhouette is the union of all parts. */
  parts: Part[];
  /** 'sphere' shades like a lit ball; 'flat' gives a soft top-lit gradient. */
  shading: 'flat' | 'sphere';
}

export type TextureKind = 'solid' | 'stripes' | 'dots' | 'gradient';

export interface WorldClass {
  name: string;
  synonyms: readonly string[];
  /** Plural for captions ("two boxes"); default: name + 's'. */
  plural?: string;
  /** Scene this class is usually found in, and how often (the rest spreads over all scenes). */
  context?: { scene: SceneKind; probability: number };
  textures: readonly TextureKind[];
  /** Allowed main colours with weights (default: all named colours, equally likely). */
  colors?: Readonly<Record<string, number>>;
  /** Largest rotation either way, radians (π: any orientation). */
  maxRotation: number;
  /** May be mirrored left-right. */
  flip: boolean;
  /** Builds one instance. `pixelsPerUnit` lets thin parts keep a minimum width in pixels. */
  build(rng: Rng, pixelsPerUnit: number): ShapeModel;
}

const ALL_TEXTURES: readonly TextureKind[] = ['solid', 'solid', 'solid', 'stripes', 'dots', 'gradient'];

/** A width of at least `px` pixels, in local units. */
const atLeast = (units: number, px: number, pixelsPerUnit: number) => Math.max(units, px / pixelsPerUnit);

export const WORLD_CLASSES: readonly WorldClass[] = [
  {
    name: 'ball',
    synonyms: ['sphere'],
    textures: ALL_TEXTURES,
    maxRotation: Math.PI,
    flip: false,
    build: () => ({ parts: [{ sdf: circle(0, 0, 1), role: 'main' }], shading: 'sphere' }),
  },
  {
    name: 'boat',
    synonyms: ['sailboat'],
    context: { scene: 'water', probability: 0.8 },
    textures: ['solid', 'solid', 'stripes', 'gradient'],
    maxRotation: 0.25,
    flip: true,
    build: (rng, ppu) => {
      const dy = 0.19; // centres the boat's bounding box on the origin
      const parts: Part[] = [
        { sdf: box(0, -0.36 + dy, atLeast(0.03, 1, ppu), 0.6), role: 'dark' }, // mast
        { sdf: polygon([[0.06, -0.9 + dy], [0.06, 0.14 + dy], [rng.range(0.65, 0.85), 0.14 + dy]]), role: 'accent' },
      ];
      if (rng.chance(0.5)) parts.push({ sdf: polygon([[-0.06, -0.8 + dy], [-0.06, 0.14 + dy], [-rng.range(0.5, 0.65), 0.14 + dy]]), role: 'accent' });
      const bow = rng.range(0.6, 0.75);
      parts.push({ sdf: polygon([[-1, 0.2 + dy], [1, 0.2 + dy], [bow, 0.56 + dy], [-bow + 0.05, 0.56 + dy]]), role: 'main' });
      return { parts, shading: 'flat' };
    },
  },
  {
    name: 'box',
    synonyms: ['crate'],
    plural: 'boxes',
    textures: ALL_TEXTURES,
    colors: { brown: 4, red: 1, orange: 1, yellow: 1, green: 1, blue: 1, purple: 1, pink: 1, white: 1, black: 1, grey: 1 },
    maxRotation: Math.PI,
    flip: false,
    build: (rng, ppu) => {
      const hw = rng.range(0.62, 0.8);
      const hh = rng.range(0.5, 0.8);
      const parts: Part[] = [{ sdf: box(0, 0, hw, hh, 0.05), role: 'main' }];
      // Packing tape across the lid, sometimes.
      if (rng.chance(0.4)) parts.push({ sdf: box(0, 0, hw, atLeast(0.08, 2, ppu)), role: 'accent' });
      return { parts, shading: 'flat' };
    },
  },
  {
    name: 'star',
    synonyms: ['star shape'],
    context: { scene: 'night', probability: 0.6 },
    textures: ALL_TEXTURES,
    colors: { yellow: 4, orange: 1, red: 1, green: 1, blue: 1, purple: 1, pink: 1, white: 2, grey: 1 },
    maxRotation: Math.PI,
    flip: false,
    build: (rng) => ({ parts: [{ sdf: star(rng.chance(0.8) ? 5 : 6, 1, rng.range(0.42, 0.52)), role: 'main' }], shading: 'flat' }),
  },
  {
    name: 'ring',
    synonyms: ['hoop'],
    textures: ALL_TEXTURES,
    maxRotation: Math.PI,
    flip: false,
    build: (rng, ppu) => {
      // At least 3 px each side of the centre line, so the ring keeps interior pixels after the
      // ground truth's void band.
      const halfWidth = atLeast(rng.range(0.14, 0.24), 3, ppu);
      return { parts: [{ sdf: ring(0, 0, 1 - halfWidth, halfWidth), role: 'main' }], shading: 'flat' };
    },
  },
  {
    name: 'cross',
    synonyms: ['plus sign'],
    plural: 'crosses',
    textures: ALL_TEXTURES,
    maxRotation: Math.PI,
    flip: false,
    build: (rng, ppu) => {
      const t = atLeast(rng.range(0.24, 0.34), 3, ppu);
      return { parts: [{ sdf: box(0, 0, 0.95, t, 0.03), role: 'main' }, { sdf: box(0, 0, t, 0.95, 0.03), role: 'main' }], shading: 'flat' };
    },
  },
  {
    name: 'heart',
    synonyms: ['love heart'],
    textures: ALL_TEXTURES,
    colors: { red: 5, pink: 4, purple: 1, orange: 1, yellow: 1, blue: 1, green: 1, white: 1 },
    maxRotation: 0.5,
    flip: false,
    build: (rng) => {
      // Two lobes and a point, joined along the tangents from the point to each lobe.
      const r = rng.range(0.46, 0.52);
      const cx = 0.9 - r;
      const cy = -0.32;
      const tip: [number, number] = [0, rng.range(0.85, 0.95)];
      const left = tangentPoint(tip, -cx, cy, r, 1);
      const right = tangentPoint(tip, cx, cy, r, -1);
      const dy = -0.5 * (cy - r + tip[1]); // vertical centring
      const shift = (p: readonly [number, number]): [number, number] => [p[0], p[1] + dy];
      return {
        parts: [
          { sdf: circle(-cx, cy + dy, r), role: 'main' },
          { sdf: circle(cx, cy + dy, r), role: 'main' },
          { sdf: polygon([shift(left), shift([-cx, cy]), shift([cx, cy]), shift(right), shift(tip)]), role: 'main' },
        ],
        shading: 'flat',
      };
    },
  },
  {
    name: 'car',
    synonyms: ['automobile'],
    context: { scene: 'road', probability: 0.75 },
    textures: ['solid', 'solid', 'solid', 'stripes', 'gradient'],
    maxRotation: 0.2,
    flip: true,
    build: (rng) => {
      const roof = rng.range(-0.55, -0.45);
      const wheel = rng.range(0.18, 0.22);
      const parts: Part[] = [
        { sdf: box(0, 0.08, 1, 0.24, 0.1), role: 'main' },
        { sdf: polygon([[-0.56, -0.14], [-0.33, roof], [0.3, roof], [0.6, -0.14]]), role: 'main' },
        { sdf: polygon([[-0.46, -0.19], [-0.3, roof + 0.07], [-0.04, roof + 0.07], [-0.04, -0.19]]), role: 'glass' },
        { sdf: polygon([[0.04, -0.19], [0.04, roof + 0.07], [0.27, roof + 0.07], [0.5, -0.19]]), role: 'glass' },
      ];
      for (const x of [-0.58, 0.58]) {
        parts.push({ sdf: circle(x, 0.32, wheel), role: 'dark' });
        parts.push({ sdf: circle(x, 0.32, wheel * 0.42), role: 'light' });
      }
      return { parts, shading: 'flat' };
    },
  },
  {
    name: 'tree',
    synonyms: ['sapling'],
    context: { scene: 'grass', probability: 0.75 },
    textures: ['solid', 'solid', 'solid', 'gradient', 'dots'],
    colors: { green: 8, orange: 1, yellow: 1, red: 1 },
    maxRotation: 0.15,
    flip: true,
    build: (rng, ppu) => {
      const trunkHalfWidth = atLeast(rng.range(0.1, 0.14), 2, ppu);
      const parts: Part[] = [{ sdf: box(0, 0.55, trunkHalfWidth, 0.45), role: 'trunk' }];
      if (rng.chance(0.6)) {
        // Broadleaf: a cloud of round lobes.
        for (const [x, y, r] of [[0, -0.3, 0.55], [-0.4, -0.05, 0.4], [0.4, -0.05, 0.4], [0, -0.62, 0.38]] as const) {
          parts.push({ sdf: circle(x + rng.range(-0.04, 0.04), y + rng.range(-0.04, 0.04), r), role: 'main' });
        }
      } else {
        // Conifer: stacked triangles.
        const tiers: [number, number, number][] = [[0.25, 0.7, -0.45], [-0.12, 0.56, -0.8], [-0.48, 0.42, -1]];
        for (const [base, half, top] of tiers) parts.push({ sdf: polygon([[-half, base], [half, base], [0, top]]), role: 'main' });
      }
      return { parts, shading: 'flat' };
    },
  },
  {
    name: 'fish',
    synonyms: ['minnow'],
    plural: 'fish',
    context: { scene: 'water', probability: 0.65 },
    textures: ALL_TEXTURES,
    maxRotation: 0.35,
    flip: true,
    build: (rng, ppu) => {
      const dx = -0.12;
      const tail = rng.range(0.38, 0.46);
      const body = intersection(circle(dx, 0.55, 1), circle(dx, -0.55, 1)); // a lens
      return {
        parts: [
          { sdf: polygon([[-0.3, -0.38], [0.1, -0.6], [0.28, -0.28]]), role: 'accent' }, // dorsal fin, behind the body
          { sdf: body, role: 'main' },
          { sdf: polygon([[0.5, 0], [1, -tail], [0.9, 0], [1, tail]]), role: 'main' },
          { sdf: circle(-0.6, -0.08, atLeast(0.07, 1.2, ppu)), role: 'dark' },
        ],
        shading: 'flat',
      };
    },
  },
];

/** Mask value of a world class (its index + 1; 0 is background). */
export function classIdOf(name: string): number {
  const index = WORLD_CLASSES.findIndex((c) => c.name === name);
  if (index < 0) throw new RangeError(`unknown world class '${name}'`);
  return index + 1;
}

export function pluralOf(term: string, cls: WorldClass): string {
  if (term === cls.name && cls.plural) return cls.plural;
  return /(s|x|ch|sh)$/.test(term) ? `${term}es` : `${term}s`;
}
