import { describe, expect, it } from 'vitest';
import { WORLD_CLASSES } from '../../src/world/classes.js';
import { box, circle, polygon, ring, star, union, type Sdf } from '../../src/world/geometry.js';
import { Rng } from '../../src/world/rng.js';

describe('distance functions', () => {
  it('are exact for the primitives', () => {
    expect(circle(1, 2, 3)(1, 2)).toBe(-3);
    expect(circle(0, 0, 1)(3, 4)).toBe(4);
    expect(box(0, 0, 2, 1)(4, 0)).toBe(2);
    expect(box(0, 0, 2, 1)(5, 5)).toBeCloseTo(5, 12); // corner (2, 1) to (5, 5)
    expect(box(0, 0, 2, 1)(0, 0)).toBe(-1);
    expect(ring(0, 0, 2, 0.5)(0, 0)).toBe(1.5);
    expect(ring(0, 0, 2, 0.5)(2, 0)).toBe(-0.5);
    // A polygon square agrees with the box everywhere.
    const square = polygon([[-1, -1], [1, -1], [1, 1], [-1, 1]]);
    const reference = box(0, 0, 1, 1);
    const rng = new Rng(1);
    for (let i = 0; i < 200; i++) {
      const u = rng.range(-3, 3);
      const v = rng.range(-3, 3);
      expect(square(u, v)).toBeCloseTo(reference(u, v), 12);
    }
    expect(star(5, 1, 0.4)(0, 0)).toBeLessThan(0);
    expect(star(5, 1, 0.4)(0, -0.99)).toBeLessThan(0); // first tip points up
    expect(star(5, 1, 0.4)(0, 0.99)).toBeGreaterThan(0); // a notch below
  });

  /** |sdf(p)| must never exceed the true distance: the sign cannot change within that radius. */
  function checkLowerBound(sdf: Sdf, rng: Rng, name: string): void {
    for (let i = 0; i < 300; i++) {
      const u = rng.range(-1.4, 1.4);
      const v = rng.range(-1.4, 1.4);
      const d = sdf(u, v);
      for (let k = 0; k < 12; k++) {
        const angle = rng.range(0, 2 * Math.PI);
        const r = 0.999 * Math.abs(d) * Math.sqrt(rng.float());
        const e = sdf(u + r * Math.cos(angle), v + r * Math.sin(angle));
        if (Math.sign(e) !== Math.sign(d) && e !== 0) throw new Error(`${name}: sign changes within |sdf| of (${u}, ${v})`);
      }
    }
  }

  it('of every world class are lower bounds of the true distance (what the renderer relies on)', () => {
    const rng = new Rng(2);
    for (const cls of WORLD_CLASSES) {
      for (let instance = 0; instance < 3; instance++) {
        const model = cls.build(rng, rng.range(14, 200));
        const parts = model.parts.map((p) => p.sdf);
        checkLowerBound(union(...parts), rng, cls.name);
        for (const part of parts) checkLowerBound(part, rng, `${cls.name} part`);
      }
    }
  });
});
