import { describe, expect, it } from 'vitest';
import type { WorldClass } from '../../src/world/classes.js';
import { circle } from '../../src/world/geometry.js';
import type { Layout } from '../../src/world/layout.js';
import { PlacedObject } from '../../src/world/objects.js';
import { BAND_RADIUS, renderLayout } from '../../src/world/render.js';
import { Rng } from '../../src/world/rng.js';

const DISC: WorldClass = {
  name: 'disc',
  synonyms: [],
  textures: ['solid'],
  maxRotation: 0,
  flip: false,
  build: () => ({ parts: [{ sdf: circle(0, 0, 1), role: 'main' }], shading: 'flat' }),
};

function discLayout(cx: number, cy: number, r: number): Layout {
  const width = 48;
  const height = 40;
  const model = DISC.build(new Rng(0), r);
  const grey = [128, 128, 128] as const;
  const object = new PlacedObject(DISC, 3, model, { cx, cy, scale: r, angle: 0, flip: false }, { main: [240, 240, 240], mainName: 'white', texture: { kind: 'solid' }, roles: { accent: grey, dark: grey, light: grey, glass: grey, trunk: grey } }, 1.01);
  const rgb = new Float32Array(width * height * 3).fill(20);
  return { width, height, scene: { kind: 'plain', width, height, rgb, groundTop: 0 }, objects: [object], layers: [object] };
}

describe('renderLayout', () => {
  const cx = 20.3;
  const cy = 18.7;
  const r = 10.4;
  const image = renderLayout(discLayout(cx, cy, r), new Rng(5));
  const distanceToEdge = (x: number, y: number) => Math.hypot(x + 0.5 - cx, y + 0.5 - cy) - r;

  it('labels the disc, with a void band of about 2.5 px along its outline', () => {
    let band = 0;
    for (let y = 0; y < image.height; y++) {
      for (let x = 0; x < image.width; x++) {
        const d = distanceToEdge(x, y);
        const value = image.mask[y * image.width + x];
        if (Math.abs(d) > BAND_RADIUS + 0.01) expect(value).toBe(d < 0 ? 3 : 0);
        else if (Math.abs(d) < 1.15) expect(value).toBe(255);
        if (value === 255) band++;
      }
    }
    // Band area ≈ circumference × width.
    expect(band / (2 * Math.PI * r)).toBeGreaterThan(2.2);
    expect(band / (2 * Math.PI * r)).toBeLessThan(2.8);
    expect(image.objectPixels[0]).toBe([...image.mask].filter((v) => v === 3).length);
  });

  it('anti-aliases the outline: pixels cut by the edge take in-between colours', () => {
    let edgePixels = 0;
    for (let y = 0; y < image.height; y++) {
      for (let x = 0; x < image.width; x++) {
        const d = distanceToEdge(x, y);
        const red = image.rgba[4 * (y * image.width + x)]!;
        if (Math.abs(d) < 0.15) {
          // Half covered: halfway between the background (~20) and the disc (~240), whatever the
          // exposure and noise of finish().
          expect(red).toBeGreaterThan(60);
          expect(red).toBeLessThan(200);
          edgePixels++;
        } else if (d > 1) expect(red).toBeLessThan(50);
        else if (d < -1) expect(red).toBeGreaterThan(160);
      }
    }
    expect(edgePixels).toBeGreaterThan(5);
  });
});
