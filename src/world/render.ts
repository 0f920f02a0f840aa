// Rasterising a layout: the photo (anti-aliased by supersampling) and its VOC-style ground truth.
//
// Colour: a pixel whose centre is more than 0.75 px from every outline (of every part of every
// layer, as told by the distance functions) is one colour and is shaded once at its centre; the
// others are averaged over a 4×4 grid of subsamples. That is plain supersampling where edges are,
// at a fraction of the cost of supersampling everything.
//
// Speed: the image is walked in 4×4 blocks. A layer probed at a block's centre whose outlines are
// all farther than the block's half-diagonal plus the band radius is wholly inside or wholly
// outside for every pixel, subsample and band probe of the block (the distances are lower bounds),
// so only layers with an outline near the block are probed per pixel.
//
// Ground truth: the class of the topmost layer at the pixel centre (occluding poles are background).
// Like VOC's annotations, a void band (255) runs along every visible object outline, occlusion
// boundaries and boundaries between touching objects included: a pixel is void when the label
// field changes within BAND_RADIUS of its centre (probed at 18 points on two rings), which makes
// the band 2–3 px wide. The frame edge is no boundary.

import type { Layer } from './objects.js';
import type { Layout } from './layout.js';
import type { Rng } from './rng.js';

export interface RenderedImage {
  width: number;
  height: number;
  /** RGBA8 pixels (alpha 255). */
  rgba: Uint8Array;
  /** Class ids (0 background, 255 void band). */
  mask: Uint8Array;
  /** Non-void ground-truth pixels of each object of `layout.objects`, in order. */
  objectPixels: number[];
}

export const BAND_RADIUS = 1.25;
const SUPERSAMPLE = 4;
/** Half the diagonal of a pixel, rounded up: beyond it an outline cannot cross the pixel. */
const EDGE_SLACK = 0.75;
/** Offsets (dx, dy) of the points probed for the void band. */
const BAND_PROBES: readonly number[] = (() => {
  const points: number[] = [];
  for (let k = 0; k < 12; k++) points.push(BAND_RADIUS * Math.cos((k * Math.PI) / 6), BAND_RADIUS * Math.sin((k * Math.PI) / 6));
  for (let k = 0; k < 6; k++) points.push(0.5 * BAND_RADIUS * Math.cos(((k + 0.5) * Math.PI) / 3), 0.5 * BAND_RADIUS * Math.sin(((k + 0.5) * Math.PI) / 3));
  return points;
})();
const BLOCK = 4;
/** A layer farther than this from a block centre cannot change sign anywhere the block looks. */
const UNIFORM_DISTANCE = Math.SQRT2 * (BLOCK / 2 - 0.5) + BAND_RADIUS + 0.05;

/** Per block and layer: wholly outside, wholly inside, or near an outline (probe per point). */
const OUTSIDE = 0;
const INSIDE = 1;
const NEAR = 2;

export function renderLayout(layout: Layout, rng: Rng): RenderedImage {
  const { width, height, layers } = layout;
  const sceneRgb = layout.scene.rgb;
  const color = sceneRgb.slice();
  const mask = new Uint8Array(width * height);
  // Instance label of each layer for the band: objects 1..n, poles 0 (they are background).
  const instanceOf = layers.map((layer, k) => (layer.classId > 0 ? k + 1 : 0));
  const objectIndexOf = layers.map((layer) => layout.objects.indexOf(layer as never));
  const objectPixels = layout.objects.map(() => 0);
  const sample = new Float32Array(3);
  const state = new Uint8Array(layers.length);
  const blockLayers: number[] = [];

  for (let by = 0; by < height; by += BLOCK) {
    for (let bx = 0; bx < width; bx += BLOCK) {
      // Classify the layers whose bounds meet this block.
      blockLayers.length = 0;
      const cx = bx + BLOCK / 2;
      const cy = by + BLOCK / 2;
      for (let k = 0; k < layers.length; k++) {
        const b = layers[k]!.bounds;
        if (b.x1 <= bx || b.x0 >= bx + BLOCK || b.y1 <= by || b.y0 >= by + BLOCK) continue;
        const d = layers[k]!.probe(cx, cy);
        const s = layers[k]!.edge > UNIFORM_DISTANCE ? (d < 0 ? INSIDE : OUTSIDE) : NEAR;
        if (s === OUTSIDE) continue;
        state[k] = s;
        blockLayers.push(k);
      }
      if (blockLayers.length === 0) continue;

      for (let y = by; y < Math.min(by + BLOCK, height); y++) {
        for (let x = bx; x < Math.min(bx + BLOCK, width); x++) {
          const px = x + 0.5;
          const py = y + 0.5;
          let top = -1;
          let edge = Infinity;
          for (const k of blockLayers) {
            if (state[k] === INSIDE) top = k;
            else {
              const layer = layers[k]!;
              if (layer.probe(px, py) < 0) top = k;
              if (layer.edge < edge) edge = layer.edge;
            }
          }
          const i = y * width + x;

          if (edge < EDGE_SLACK) {
            // Supersample: the average over a 4×4 grid of the topmost layer's colour (or the scene's).
            let r = 0;
            let g = 0;
            let b = 0;
            for (let sy = 0; sy < SUPERSAMPLE; sy++) {
              for (let sx = 0; sx < SUPERSAMPLE; sx++) {
                const qx = x + (sx + 0.5) / SUPERSAMPLE;
                const qy = y + (sy + 0.5) / SUPERSAMPLE;
                const k = topLayerAt(layers, blockLayers, state, qx, qy);
                if (k >= 0) {
                  layers[k]!.colorAt(qx, qy, sample, 0);
                  r += sample[0]!;
                  g += sample[1]!;
                  b += sample[2]!;
                } else {
                  r += sceneRgb[3 * i]!;
                  g += sceneRgb[3 * i + 1]!;
                  b += sceneRgb[3 * i + 2]!;
                }
              }
            }
            const n = SUPERSAMPLE * SUPERSAMPLE;
            color[3 * i] = r / n;
            color[3 * i + 1] = g / n;
            color[3 * i + 2] = b / n;
          } else if (top >= 0) {
            layers[top]!.colorAt(px, py, color, 3 * i);
          }

          const label = top >= 0 ? instanceOf[top]! : 0;
          let value = top >= 0 ? layers[top]!.classId : 0;
          if (edge < BAND_RADIUS + 0.01) {
            for (let p = 0; p < BAND_PROBES.length; p += 2) {
              const k = topLayerAt(layers, blockLayers, state, px + BAND_PROBES[p]!, py + BAND_PROBES[p + 1]!);
              if ((k >= 0 ? instanceOf[k]! : 0) !== label) {
                value = 255;
                break;
              }
            }
          }
          mask[i] = value;
          if (value !== 255 && label > 0) objectPixels[objectIndexOf[top]!]!++;
        }
      }
    }
  }

  return { width, height, rgba: finish(color, width, height, rng), mask, objectPixels };
}

/** Index of the topmost of the block's layers containing (x, y), or -1. */
function topLayerAt(layers: readonly Layer[], blockLayers: readonly number[], state: Uint8Array, x: number, y: number): number {
  for (let a = blockLayers.length - 1; a >= 0; a--) {
    const k = blockLayers[a]!;
    if (state[k] === INSIDE || layers[k]!.probe(x, y) < 0) return k;
  }
  return -1;
}

/** Camera-like finish: global exposure and tint, mild sensor noise, then 8-bit RGBA. */
function finish(color: Float32Array, width: number, height: number, rng: Rng): Uint8Array {
  const gain = rng.range(0.88, 1.1);
  const tintR = rng.range(-6, 6);
  const tintG = rng.range(-6, 6);
  const tintB = rng.range(-6, 6);
  const sigma = rng.range(1, 4);
  // Per-pixel noise needs ~300k draws per image: a local xorshift32 (seeded from the image's
  // stream) is several times cheaper than a method call per draw and is good enough for grain.
  let state = rng.uint32() | 1;
  const noise = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const u = state >>> 0;
    // Sum of four bytes: Irwin–Hall, close to normal; centred and scaled to unit variance.
    return ((u & 0xff) + ((u >>> 8) & 0xff) + ((u >>> 16) & 0xff) + (u >>> 24) - 510) / 147.80054127;
  };
  // A clamped array rounds and saturates on assignment (a plain Uint8Array would wrap around).
  const out = new Uint8ClampedArray(width * height * 4);
  for (let i = 0, j = 0; i < color.length; i += 3, j += 4) {
    out[j] = color[i]! * gain + tintR + sigma * noise();
    out[j + 1] = color[i + 1]! * gain + tintG + sigma * noise();
    out[j + 2] = color[i + 2]! * gain + tintB + sigma * noise();
    out[j + 3] = 255;
  }
  return new Uint8Array(out.buffer);
}
