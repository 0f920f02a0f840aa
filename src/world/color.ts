// Colours of the synthetic world. Object colours come from a small set of named colours, so that
// captions can name them ("a red ball") and a text encoder can tie words to pixels.

import type { Rng } from './rng.js';

export type Rgb = readonly [number, number, number];

export interface NamedColor {
  name: string;
  rgb: Rgb;
}

export const NAMED_COLORS: readonly NamedColor[] = [
  { name: 'red', rgb: [205, 35, 35] },
  { name: 'orange', rgb: [240, 135, 25] },
  { name: 'yellow', rgb: [245, 210, 40] },
  { name: 'green', rgb: [45, 160, 60] },
  { name: 'blue', rgb: [35, 85, 205] },
  { name: 'purple', rgb: [135, 55, 175] },
  { name: 'pink', rgb: [240, 125, 175] },
  { name: 'brown', rgb: [125, 80, 40] },
  { name: 'white', rgb: [240, 240, 235] },
  { name: 'black', rgb: [28, 28, 30] },
  { name: 'grey', rgb: [130, 130, 130] },
];

export function namedColor(name: string): NamedColor {
  const c = NAMED_COLORS.find((c) => c.name === name);
  if (!c) throw new RangeError(`unknown colour '${name}'`);
  return c;
}

/** The colour moved by up to ±`amount` per channel, so no two red balls are quite the same red. */
export function jitter(rgb: Rgb, rng: Rng, amount = 14): Rgb {
  return [clamp255(rgb[0] + rng.range(-amount, amount)), clamp255(rgb[1] + rng.range(-amount, amount)), clamp255(rgb[2] + rng.range(-amount, amount))];
}

export function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

export function scale(rgb: Rgb, factor: number): Rgb {
  return [clamp255(rgb[0] * factor), clamp255(rgb[1] * factor), clamp255(rgb[2] * factor)];
}

/** Euclidean RGB distance: crude, but enough to keep objects from vanishing into their background. */
export function distance(a: Rgb, b: Rgb): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

export function clamp255(x: number): number {
  return x < 0 ? 0 : x > 255 ? 255 : x;
}
