// Signed distance functions (negative inside) for the world's shapes, in an object's local units.
//
// The renderer relies on one property: |sdf| never exceeds the true distance to the boundary. Then
// "|sdf| ≥ 0.75 px" proves a pixel lies wholly inside or outside, and only the others need
// supersampling. The primitives here are exact; unions (min) and intersections (max) of exact
// distances keep the property (they are exact on one side of the boundary and a lower bound on
// the other), so composite shapes are safe too.
//
// These run millions of times per image: plain arithmetic (Math.sqrt, not Math.hypot) on purpose.

export type Sdf = (u: number, v: number) => number;

export function circle(cx: number, cy: number, r: number): Sdf {
  return (u, v) => {
    const dx = u - cx;
    const dy = v - cy;
    return Math.sqrt(dx * dx + dy * dy) - r;
  };
}

/** Axis-aligned box with half sizes (hw, hh) and rounded corners of radius `round` (inside the box). */
export function box(cx: number, cy: number, hw: number, hh: number, round = 0): Sdf {
  const ix = hw - round;
  const iy = hh - round;
  return (u, v) => {
    const qx = Math.abs(u - cx) - ix;
    const qy = Math.abs(v - cy) - iy;
    const ox = qx > 0 ? qx : 0;
    const oy = qy > 0 ? qy : 0;
    const outside = Math.sqrt(ox * ox + oy * oy);
    return outside + Math.min(Math.max(qx, qy), 0) - round;
  };
}

/** Annulus: circle of radius r centred at (cx, cy), stroked with half width w. */
export function ring(cx: number, cy: number, r: number, w: number): Sdf {
  return (u, v) => {
    const dx = u - cx;
    const dy = v - cy;
    return Math.abs(Math.sqrt(dx * dx + dy * dy) - r) - w;
  };
}

/**
 * Simple polygon (vertices in order, either winding; no self-intersections). Distance to the
 * nearest edge, negative inside by the even-odd crossing rule.
 */
export function polygon(points: readonly (readonly [number, number])[]): Sdf {
  const n = points.length;
  if (n < 3) throw new RangeError('a polygon needs at least 3 vertices');
  const xs = Float64Array.from(points, (p) => p[0]);
  const ys = Float64Array.from(points, (p) => p[1]);
  return (u, v) => {
    let best = Infinity;
    let inside = false;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const ax = xs[j]!;
      const ay = ys[j]!;
      const ex = xs[i]! - ax;
      const ey = ys[i]! - ay;
      const wx = u - ax;
      const wy = v - ay;
      // Closest point of edge j→i to (u, v): clamp the projection onto the segment.
      const t = Math.min(1, Math.max(0, (wx * ex + wy * ey) / (ex * ex + ey * ey)));
      const dx = wx - ex * t;
      const dy = wy - ey * t;
      const d2 = dx * dx + dy * dy;
      if (d2 < best) best = d2;
      // Crossing test: does the edge straddle the horizontal line through v, right of u?
      if (ay > v !== ys[i]! > v && u < ax + (ex * (v - ay)) / ey) inside = !inside;
    }
    const d = Math.sqrt(best);
    return inside ? -d : d;
  };
}

/** Regular star with `points` tips at radius `outer` and notches at `inner`, first tip straight up. */
export function star(points: number, outer: number, inner: number): Sdf {
  const vertices: [number, number][] = [];
  for (let k = 0; k < 2 * points; k++) {
    const angle = -Math.PI / 2 + (k * Math.PI) / points;
    const r = k % 2 === 0 ? outer : inner;
    vertices.push([r * Math.cos(angle), r * Math.sin(angle)]);
  }
  return polygon(vertices);
}

export function union(...parts: Sdf[]): Sdf {
  if (parts.length === 1) return parts[0]!;
  return (u, v) => {
    let d = Infinity;
    for (const p of parts) d = Math.min(d, p(u, v));
    return d;
  };
}

export function intersection(...parts: Sdf[]): Sdf {
  return (u, v) => {
    let d = -Infinity;
    for (const p of parts) d = Math.max(d, p(u, v));
    return d;
  };
}

/**
 * The outer tangent point from `tip` to the circle (cx, cy, r) on the side given by `side`
 * (+1: counter-clockwise from the centre→tip direction, −1: clockwise). Used to build smooth
 * heart and teardrop outlines from circles and a polygon.
 */
export function tangentPoint(tip: readonly [number, number], cx: number, cy: number, r: number, side: 1 | -1): [number, number] {
  const dx = tip[0] - cx;
  const dy = tip[1] - cy;
  const dist = Math.hypot(dx, dy);
  if (dist <= r) throw new RangeError('tangent from a point inside the circle');
  const angle = Math.atan2(dy, dx) + side * Math.acos(r / dist);
  return [cx + r * Math.cos(angle), cy + r * Math.sin(angle)];
}
