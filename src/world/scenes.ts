// Backgrounds ("scenes") of the synthetic world: natural-looking contexts (water, grass, road, sky,
// night, sand, wall) and pure clutter (stripes, checkerboard, noise, plain gradients). Some object
// classes prefer a context (boats on water, trees on grass, see classes.ts), which makes background
// bias measurable: a seed generator that has learnt "blue → boat" paints the water.
//
// Scenes are rendered per pixel into float RGB (0..255). Hard pattern edges (stripes, checks,
// bricks, lane markings) are anti-aliased analytically: each pixel takes the pattern's coverage
// over a one-pixel footprint, so no supersampling is needed here.

import { clamp255, jitter, mix, type Rgb } from './color.js';
import type { Rng } from './rng.js';

export type SceneKind = 'water' | 'grass' | 'road' | 'sky' | 'night' | 'sand' | 'wall' | 'stripes' | 'checker' | 'noise' | 'plain';

export interface SceneInfo {
  kind: SceneKind;
  /** Phrases naming the scene in captions. */
  phrases: readonly string[];
  /** Preposition before the phrase ("on the water", "in the sky", "against a checkerboard"). */
  preposition: string;
}

export const SCENES: readonly SceneInfo[] = [
  { kind: 'water', phrases: ['water', 'the sea', 'a lake', 'the waves'], preposition: 'on' },
  { kind: 'grass', phrases: ['grass', 'a lawn', 'a meadow', 'green grass'], preposition: 'on' },
  { kind: 'road', phrases: ['a road', 'the street', 'asphalt'], preposition: 'on' },
  { kind: 'sky', phrases: ['the sky', 'a cloudy sky', 'a blue sky'], preposition: 'in' },
  { kind: 'night', phrases: ['a night sky', 'the dark sky'], preposition: 'in' },
  { kind: 'sand', phrases: ['sand', 'the ground', 'a beach', 'dirt'], preposition: 'on' },
  { kind: 'wall', phrases: ['a brick wall', 'a wall', 'bricks'], preposition: 'in front of' },
  { kind: 'stripes', phrases: ['a striped background', 'stripes'], preposition: 'against' },
  { kind: 'checker', phrases: ['a checkerboard', 'a checkered background'], preposition: 'against' },
  { kind: 'noise', phrases: ['a noisy background', 'a speckled pattern', 'noise'], preposition: 'against' },
  { kind: 'plain', phrases: ['a plain background', 'a gradient background'], preposition: 'against' },
];

/**
 * Background prompts of the world's label set (CLIP-ES's background classes): words for what the
 * scenes show, so CLIP-ES can assign background pixels to them instead of to an object class.
 */
export const WORLD_BACKGROUND_PROMPTS: readonly string[] = ['ground', 'sand', 'water', 'sea', 'grass', 'lawn', 'sky', 'cloud', 'night', 'road', 'street', 'wall', 'bricks', 'stripes', 'checkerboard', 'noise', 'gradient', 'pole'];

export function sceneInfo(kind: SceneKind): SceneInfo {
  return SCENES.find((s) => s.kind === kind)!;
}

export interface RenderedScene {
  kind: SceneKind;
  width: number;
  height: number;
  /** RGB floats, `rgb[3 * (y * width + x) + c]`. */
  rgb: Float32Array;
  /**
   * First row of the "ground" where context objects stand (boats float, cars drive), below a sky
   * band; 0 when the whole image is ground.
   */
  groundTop: number;
}

export function renderScene(kind: SceneKind, width: number, height: number, rng: Rng): RenderedScene {
  const rgb = new Float32Array(width * height * 3);
  const canvas: Canvas = { width, height, rgb };
  let groundTop = 0;
  switch (kind) {
    case 'water':
    case 'grass':
    case 'road': {
      // Half of these scenes show a strip of sky above the horizon.
      if (rng.chance(0.5)) groundTop = Math.round(height * rng.range(0.15, 0.4));
      const ground = kind === 'water' ? paintWater : kind === 'grass' ? paintGrass : paintRoad;
      ground(canvas, rng, groundTop);
      if (groundTop > 0) paintSky(canvas, rng, 0, groundTop);
      break;
    }
    case 'sky':
      paintSky(canvas, rng, 0, height);
      break;
    case 'night':
      paintNight(canvas, rng);
      break;
    case 'sand':
      paintSand(canvas, rng);
      break;
    case 'wall':
      paintWall(canvas, rng);
      break;
    case 'stripes':
      paintStripes(canvas, rng);
      break;
    case 'checker':
      paintChecker(canvas, rng);
      break;
    case 'noise':
      paintNoise(canvas, rng);
      break;
    case 'plain':
      paintPlain(canvas, rng);
      break;
  }
  return { kind, width, height, rgb, groundTop };
}

interface Canvas {
  width: number;
  height: number;
  rgb: Float32Array;
}

function put(c: Canvas, i: number, r: number, g: number, b: number): void {
  c.rgb[3 * i] = clamp255(r);
  c.rgb[3 * i + 1] = clamp255(g);
  c.rgb[3 * i + 2] = clamp255(b);
}

/** Coverage in [0, 1] of a soft edge: `d` is the signed distance in pixels (positive: covered). */
function coverage(d: number): number {
  return d <= -0.5 ? 0 : d >= 0.5 ? 1 : d + 0.5;
}

// ---------------------------------------------------------------------------------------------
// Noise: value noise on a random lattice, smooth-step interpolated, summed over octaves.

interface NoiseOptions {
  /** Lattice cell size in pixels for the first octave (x and y may differ for streaky textures). */
  cellX: number;
  cellY: number;
  octaves: number;
  /** Amplitude factor per octave. */
  gain?: number;
}

/** A w×h field of fractal value noise, roughly in [-1, 1]. */
export function noiseField(width: number, height: number, rng: Rng, options: NoiseOptions): Float32Array {
  const out = new Float32Array(width * height);
  const gain = options.gain ?? 0.5;
  let amplitude = 1;
  let norm = 0;
  for (let o = 0; o < options.octaves; o++) {
    const cellX = Math.max(1, options.cellX / 2 ** o);
    const cellY = Math.max(1, options.cellY / 2 ** o);
    const gx = Math.ceil(width / cellX) + 2;
    const gy = Math.ceil(height / cellY) + 2;
    const lattice = new Float32Array(gx * gy);
    for (let k = 0; k < lattice.length; k++) lattice[k] = rng.float() * 2 - 1;
    // Column and row interpolation terms are shared by all rows and columns: compute them once.
    const ix = new Int32Array(width);
    const tx = new Float32Array(width);
    for (let x = 0; x < width; x++) {
      const f = (x + 0.5) / cellX;
      ix[x] = Math.floor(f);
      tx[x] = smooth(f - ix[x]!);
    }
    for (let y = 0; y < height; y++) {
      const f = (y + 0.5) / cellY;
      const iy = Math.floor(f);
      const ty = smooth(f - iy);
      const row0 = iy * gx;
      const row1 = row0 + gx;
      for (let x = 0; x < width; x++) {
        const i = ix[x]!;
        const t = tx[x]!;
        const top = lattice[row0 + i]! + (lattice[row0 + i + 1]! - lattice[row0 + i]!) * t;
        const bottom = lattice[row1 + i]! + (lattice[row1 + i + 1]! - lattice[row1 + i]!) * t;
        out[y * width + x]! += amplitude * (top + (bottom - top) * ty);
      }
    }
    norm += amplitude;
    amplitude *= gain;
  }
  for (let k = 0; k < out.length; k++) out[k]! /= norm;
  return out;
}

function smooth(t: number): number {
  return t * t * (3 - 2 * t);
}

// ---------------------------------------------------------------------------------------------
// Scenes

function paintWater(c: Canvas, rng: Rng, top: number): void {
  const deep = jitter([20, 60, 130], rng, 20);
  const shallow = jitter([60, 130, 190], rng, 20);
  const wavePeriod = rng.range(7, 16);
  const waveAmp = rng.range(0.15, 0.35);
  const sway = rng.range(20, 60);
  const phase = rng.range(0, 2 * Math.PI);
  const noise = noiseField(c.width, c.height, rng, { cellX: 48, cellY: 20, octaves: 3 });
  // Wave fronts are horizontal lines bent by a slow sway along x (computed once per column).
  const swayOf = Float32Array.from({ length: c.width }, (_, x) => 4 * Math.sin(x / sway + phase));
  const k = (2 * Math.PI) / wavePeriod;
  for (let y = top; y < c.height; y++) {
    const depth = (y - top) / Math.max(1, c.height - top);
    const base = mix(shallow, deep, depth * 0.8);
    for (let x = 0; x < c.width; x++) {
      const i = y * c.width + x;
      const wave = Math.max(0, Math.sin(k * (y + swayOf[x]!)));
      const w2 = wave * wave;
      const crest = waveAmp * w2 * w2 * w2; // sixth power: thin bright crests
      const f = 1 + 0.12 * noise[i]! + 0.6 * crest;
      put(c, i, base[0] * f + 40 * crest, base[1] * f + 40 * crest, base[2] * f + 30 * crest);
    }
  }
}

function paintGrass(c: Canvas, rng: Rng, top: number): void {
  const dark = jitter([40, 100, 30], rng, 15);
  const light = jitter([110, 175, 60], rng, 15);
  // Tall thin lattice cells give vertical streaks like blades; a coarse field gives patches.
  const blades = noiseField(c.width, c.height, rng, { cellX: 3, cellY: 16, octaves: 2 });
  const patches = noiseField(c.width, c.height, rng, { cellX: 90, cellY: 60, octaves: 2 });
  for (let y = top; y < c.height; y++) {
    for (let x = 0; x < c.width; x++) {
      const i = y * c.width + x;
      const t = Math.min(1, Math.max(0, 0.5 + 0.45 * blades[i]! + 0.35 * patches[i]!));
      const col = mix(dark, light, t);
      put(c, i, col[0], col[1], col[2]);
    }
  }
}

function paintRoad(c: Canvas, rng: Rng, top: number): void {
  const grey = rng.range(70, 110);
  const tint = rng.range(-6, 6);
  const grain = noiseField(c.width, c.height, rng, { cellX: 2, cellY: 2, octaves: 2 });
  const stains = noiseField(c.width, c.height, rng, { cellX: 70, cellY: 40, octaves: 2 });
  const laneY = top + (c.height - top) * rng.range(0.35, 0.65);
  const laneHalf = rng.range(2, 5);
  const dash = rng.range(25, 50);
  const gap = dash * rng.range(0.6, 1.2);
  const offset = rng.range(0, dash + gap);
  const paint: Rgb = rng.chance(0.6) ? [235, 235, 225] : [230, 190, 40];
  for (let y = top; y < c.height; y++) {
    for (let x = 0; x < c.width; x++) {
      const i = y * c.width + x;
      const v = grey * (1 + 0.12 * grain[i]! + 0.1 * stains[i]!);
      let r = v + tint;
      let g = v;
      let b = v - tint;
      // Dashed lane marking: inside the band across, and inside a dash along.
      const across = laneHalf - Math.abs(y + 0.5 - laneY);
      const along = (x + 0.5 + offset) % (dash + gap);
      const inDash = Math.min(along, dash - along);
      const m = coverage(across) * coverage(inDash);
      if (m > 0) {
        r += (paint[0] - r) * m;
        g += (paint[1] - g) * m;
        b += (paint[2] - b) * m;
      }
      put(c, i, r, g, b);
    }
  }
}

function paintSky(c: Canvas, rng: Rng, y0: number, y1: number): void {
  const zenith = jitter([70, 130, 215], rng, 20);
  const horizon = jitter([175, 210, 240], rng, 15);
  const clouds = noiseField(c.width, c.height, rng, { cellX: 80, cellY: 40, octaves: 4 });
  const cloudiness = rng.range(0.1, 0.5);
  for (let y = y0; y < y1; y++) {
    const col = mix(zenith, horizon, y / Math.max(1, c.height - 1));
    for (let x = 0; x < c.width; x++) {
      const i = y * c.width + x;
      const cloud = Math.min(1, Math.max(0, (clouds[i]! + cloudiness - 0.25) * 2.5));
      put(c, i, col[0] + (245 - col[0]) * cloud, col[1] + (245 - col[1]) * cloud, col[2] + (248 - col[2]) * cloud);
    }
  }
}

function paintNight(c: Canvas, rng: Rng): void {
  const top = jitter([8, 10, 35], rng, 6);
  const bottom = jitter([25, 35, 80], rng, 10);
  const haze = noiseField(c.width, c.height, rng, { cellX: 100, cellY: 60, octaves: 2 });
  for (let y = 0; y < c.height; y++) {
    const col = mix(top, bottom, y / Math.max(1, c.height - 1));
    for (let x = 0; x < c.width; x++) {
      const i = y * c.width + x;
      const f = 1 + 0.25 * haze[i]!;
      put(c, i, col[0] * f, col[1] * f, col[2] * f);
    }
  }
  // Faint pinpoint stars, one or two pixels: small enough not to read as the 'star' class.
  const count = Math.round((c.width * c.height) / rng.range(600, 1500));
  for (let k = 0; k < count; k++) {
    const x = rng.int(0, c.width - 1);
    const y = rng.int(0, c.height - 1);
    const v = rng.range(120, 230);
    put(c, y * c.width + x, v, v, v * 0.95);
  }
}

function paintSand(c: Canvas, rng: Rng): void {
  const base = jitter([200, 170, 120], rng, 20);
  const grain = noiseField(c.width, c.height, rng, { cellX: 2, cellY: 2, octaves: 1 });
  const dunes = noiseField(c.width, c.height, rng, { cellX: 120, cellY: 50, octaves: 3 });
  const ripple = rng.range(9, 18);
  for (let y = 0; y < c.height; y++) {
    for (let x = 0; x < c.width; x++) {
      const i = y * c.width + x;
      const r = Math.sin((y + 10 * dunes[i]! * ripple) / ripple);
      const f = 1 + 0.08 * grain[i]! + 0.12 * dunes[i]! + 0.04 * r;
      put(c, i, base[0] * f, base[1] * f, base[2] * f);
    }
  }
}

function paintWall(c: Canvas, rng: Rng): void {
  const brick = jitter([160, 70, 50], rng, 25);
  const mortar = jitter([200, 195, 185], rng, 15);
  const bw = rng.range(28, 60);
  const bh = bw * rng.range(0.35, 0.5);
  const joint = rng.range(1.5, 3.5);
  const grain = noiseField(c.width, c.height, rng, { cellX: 3, cellY: 3, octaves: 2 });
  const shades = new Float32Array(4096);
  for (let k = 0; k < shades.length; k++) shades[k] = rng.range(0.8, 1.15);
  for (let y = 0; y < c.height; y++) {
    const row = Math.floor((y + 0.5) / bh);
    const inRowY = (y + 0.5) - row * bh;
    const shift = row % 2 === 0 ? 0 : bw / 2;
    for (let x = 0; x < c.width; x++) {
      const i = y * c.width + x;
      const xs = x + 0.5 + shift;
      const col = Math.floor(xs / bw);
      const inRowX = xs - col * bw;
      // Distance into the brick from its nearest joint, minus half the joint width: > 0 on brick.
      const d = Math.min(inRowX, bw - inRowX, inRowY, bh - inRowY) - joint / 2;
      const shade = shades[(row * 131 + col * 17) & 4095]!;
      const m = coverage(d);
      const f = 1 + 0.1 * grain[i]!;
      put(c, i, (mortar[0] + (brick[0] * shade - mortar[0]) * m) * f, (mortar[1] + (brick[1] * shade - mortar[1]) * m) * f, (mortar[2] + (brick[2] * shade - mortar[2]) * m) * f);
    }
  }
}

/** Two contrasting random colours. */
function colorPair(rng: Rng): [Rgb, Rgb] {
  const a: Rgb = [rng.range(0, 255), rng.range(0, 255), rng.range(0, 255)];
  let b: Rgb = [rng.range(0, 255), rng.range(0, 255), rng.range(0, 255)];
  for (let k = 0; k < 8 && Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]) < 90; k++) b = [rng.range(0, 255), rng.range(0, 255), rng.range(0, 255)];
  return [a, b];
}

function paintStripes(c: Canvas, rng: Rng): void {
  const [a, b] = colorPair(rng);
  const period = rng.range(8, 40);
  const angle = rng.range(0, Math.PI);
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const grain = noiseField(c.width, c.height, rng, { cellX: 4, cellY: 4, octaves: 1 });
  for (let y = 0; y < c.height; y++) {
    for (let x = 0; x < c.width; x++) {
      const i = y * c.width + x;
      const t = ((x + 0.5) * cos + (y + 0.5) * sin) / period;
      const frac = t - Math.floor(t);
      const m = coverage((Math.abs(frac - 0.5) - 0.25) * period);
      const f = 1 + 0.05 * grain[i]!;
      put(c, i, (a[0] + (b[0] - a[0]) * m) * f, (a[1] + (b[1] - a[1]) * m) * f, (a[2] + (b[2] - a[2]) * m) * f);
    }
  }
}

function paintChecker(c: Canvas, rng: Rng): void {
  const [a, b] = colorPair(rng);
  const cell = rng.range(10, 48);
  const angle = rng.range(0, Math.PI / 2);
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  for (let y = 0; y < c.height; y++) {
    for (let x = 0; x < c.width; x++) {
      const i = y * c.width + x;
      const u = ((x + 0.5) * cos + (y + 0.5) * sin) / cell;
      const v = (-(x + 0.5) * sin + (y + 0.5) * cos) / cell;
      // Signed distance (px) to the nearest cell edge along each axis; the product's sign picks the colour.
      const du = (0.5 - Math.abs(u - Math.floor(u) - 0.5)) * cell;
      const dv = (0.5 - Math.abs(v - Math.floor(v) - 0.5)) * cell;
      const parity = (Math.floor(u) + Math.floor(v)) & 1;
      const edge = coverage(Math.min(du, dv)); // 1 well inside a cell, 0.5 on an edge
      const m = parity ? 0.5 + 0.5 * edge : 0.5 - 0.5 * edge;
      put(c, i, a[0] + (b[0] - a[0]) * m, a[1] + (b[1] - a[1]) * m, a[2] + (b[2] - a[2]) * m);
    }
  }
}

function paintNoise(c: Canvas, rng: Rng): void {
  const [a, b] = colorPair(rng);
  const cell = rng.range(4, 24);
  const n1 = noiseField(c.width, c.height, rng, { cellX: cell, cellY: cell, octaves: 4, gain: 0.6 });
  const n2 = noiseField(c.width, c.height, rng, { cellX: cell * 3, cellY: cell * 3, octaves: 2 });
  for (let i = 0; i < c.width * c.height; i++) {
    const t = Math.min(1, Math.max(0, 0.5 + 0.9 * n1[i]!));
    const f = 1 + 0.3 * n2[i]!;
    put(c, i, (a[0] + (b[0] - a[0]) * t) * f, (a[1] + (b[1] - a[1]) * t) * f, (a[2] + (b[2] - a[2]) * t) * f);
  }
}

function paintPlain(c: Canvas, rng: Rng): void {
  const [a, b0] = colorPair(rng);
  const b = mix(a, b0, rng.range(0.3, 0.8));
  const angle = rng.range(0, 2 * Math.PI);
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const half = 0.5 * (Math.abs(cos) * c.width + Math.abs(sin) * c.height);
  const grain = noiseField(c.width, c.height, rng, { cellX: 3, cellY: 3, octaves: 1 });
  for (let y = 0; y < c.height; y++) {
    for (let x = 0; x < c.width; x++) {
      const i = y * c.width + x;
      const t = 0.5 + ((x + 0.5 - c.width / 2) * cos + (y + 0.5 - c.height / 2) * sin) / (2 * half);
      const f = 1 + 0.03 * grain[i]!;
      put(c, i, (a[0] + (b[0] - a[0]) * t) * f, (a[1] + (b[1] - a[1]) * t) * f, (a[2] + (b[2] - a[2]) * t) * f);
    }
  }
}
