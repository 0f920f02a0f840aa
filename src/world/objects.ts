// Objects placed in an image, as the renderer sees them: "layers" that answer, for a point in
// pixel coordinates, how far it is from their outline and what colour they have there.
//
// Two kinds: class objects (a ShapeModel from classes.ts, posed and painted) and occluders (poles
// crossing the image, painted over objects but labelled background, so that objects are split by
// something that is not another object, as a lamppost splits a car in a photo).

import type { Part, Role, ShapeModel, WorldClass } from './classes.js';
import { clamp255, type Rgb } from './color.js';

export interface Bounds {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface Layer {
  /** Mask value: the class id, or 0 for an occluder (background). */
  readonly classId: number;
  /** Pixel rectangle (half-open) outside which `probe` is certainly positive (by > 2 px). */
  readonly bounds: Bounds;
  /**
   * Signed distance in pixels to the outline at (x, y), negative inside; also sets `edge` to the
   * distance to the nearest boundary of any part (colour changes inside the object count).
   */
  probe(x: number, y: number): number;
  edge: number;
  /** The colour at (x, y), a point inside the layer, written to out[offset..offset+2]. */
  colorAt(x: number, y: number, out: Float32Array, offset: number): void;
}

export type Texture =
  | { kind: 'solid' }
  | { kind: 'stripes'; color: Rgb; angle: number; period: number }
  | { kind: 'dots'; color: Rgb; angle: number; spacing: number; radius: number }
  | { kind: 'gradient'; color: Rgb; angle: number };

export interface Paint {
  /** Main colour and its name (for captions). */
  main: Rgb;
  mainName: string;
  texture: Texture;
  /** Colours of the other roles (accent, dark, light, glass, trunk). */
  roles: Record<Exclude<Role, 'main'>, Rgb>;
}

export interface Pose {
  /** Centre in pixels. */
  cx: number;
  cy: number;
  /** Pixels per local unit (the object's radius in pixels). */
  scale: number;
  /** Rotation in radians (clockwise on screen, since y points down). */
  angle: number;
  /** Mirror left-right (before rotating). */
  flip: boolean;
}

export class PlacedObject implements Layer {
  readonly classId: number;
  readonly cls: WorldClass;
  readonly model: ShapeModel;
  readonly pose: Pose;
  readonly paint: Paint;
  readonly bounds: Bounds;
  edge = Infinity;

  private readonly parts: readonly Part[];
  private readonly cos: number;
  private readonly sin: number;
  private readonly sx: number;
  /** Local coordinates of the last transformed point. */
  private u = 0;
  private v = 0;

  constructor(cls: WorldClass, classId: number, model: ShapeModel, pose: Pose, paint: Paint, extent: number) {
    this.cls = cls;
    this.classId = classId;
    this.model = model;
    this.pose = pose;
    this.paint = paint;
    this.parts = model.parts;
    this.cos = Math.cos(pose.angle);
    this.sin = Math.sin(pose.angle);
    this.sx = pose.flip ? -1 : 1;
    const r = extent * pose.scale + 2;
    this.bounds = { x0: Math.floor(pose.cx - r), y0: Math.floor(pose.cy - r), x1: Math.ceil(pose.cx + r), y1: Math.ceil(pose.cy + r) };
  }

  private toLocal(x: number, y: number): void {
    const dx = (x - this.pose.cx) / this.pose.scale;
    const dy = (y - this.pose.cy) / this.pose.scale;
    // Inverse rotation, then the mirror (the forward map mirrors first, then rotates).
    this.u = this.sx * (dx * this.cos + dy * this.sin);
    this.v = -dx * this.sin + dy * this.cos;
  }

  probe(x: number, y: number): number {
    this.toLocal(x, y);
    let inside = Infinity;
    let edge = Infinity;
    for (const part of this.parts) {
      const d = part.sdf(this.u, this.v);
      if (d < inside) inside = d;
      const a = Math.abs(d);
      if (a < edge) edge = a;
    }
    this.edge = edge * this.pose.scale;
    return inside * this.pose.scale;
  }

  colorAt(x: number, y: number, out: Float32Array, offset: number): void {
    this.toLocal(x, y);
    const u = this.u;
    const v = this.v;
    // The topmost part containing the point; on a numerically ambiguous boundary, the closest part.
    let role: Role = 'main';
    let best = Infinity;
    for (let k = this.parts.length - 1; k >= 0; k--) {
      const d = this.parts[k]!.sdf(u, v);
      if (d < 0) {
        role = this.parts[k]!.role;
        break;
      }
      if (d < best) {
        best = d;
        role = this.parts[k]!.role;
      }
    }
    let r: number;
    let g: number;
    let b: number;
    if (role === 'main') {
      const m = this.paint.main;
      const t = this.textureMix(u, v);
      const c = this.paint.texture.kind === 'solid' ? m : this.paint.texture.color;
      r = m[0] + (c[0] - m[0]) * t;
      g = m[1] + (c[1] - m[1]) * t;
      b = m[2] + (c[2] - m[2]) * t;
    } else {
      const c = this.paint.roles[role];
      r = c[0];
      g = c[1];
      b = c[2];
    }
    let shade: number;
    let highlight = 0;
    if (this.model.shading === 'sphere') {
      // Light from the upper left: brightest near (-0.35, -0.4), darker towards the far rim.
      const hx = u + 0.35 * this.sx;
      const hy = v + 0.4;
      const d = Math.sqrt(hx * hx + hy * hy);
      shade = 0.5 + 0.6 * Math.max(0, 1 - d / 1.6);
      highlight = 90 * Math.max(0, 1 - d / 0.3) ** 2;
    } else {
      shade = 1 - 0.1 * v;
    }
    out[offset] = clamp255(r * shade + highlight);
    out[offset + 1] = clamp255(g * shade + highlight);
    out[offset + 2] = clamp255(b * shade + highlight);
  }

  /** How much of the texture's second colour is at local (u, v), anti-aliased over one pixel. */
  private textureMix(u: number, v: number): number {
    const t = this.paint.texture;
    const ppu = this.pose.scale;
    switch (t.kind) {
      case 'solid':
        return 0;
      case 'stripes': {
        const s = (u * Math.cos(t.angle) + v * Math.sin(t.angle)) / t.period;
        const frac = s - Math.floor(s);
        return coverage((Math.abs(frac - 0.5) - 0.25) * t.period * ppu);
      }
      case 'dots': {
        const cos = Math.cos(t.angle);
        const sin = Math.sin(t.angle);
        const a = (u * cos + v * sin) / t.spacing;
        const b = (-u * sin + v * cos) / t.spacing;
        const da = a - Math.round(a);
        const db = b - Math.round(b);
        return coverage((t.radius / t.spacing - Math.sqrt(da * da + db * db)) * t.spacing * ppu);
      }
      case 'gradient': {
        const s = u * Math.cos(t.angle) + v * Math.sin(t.angle);
        return Math.min(1, Math.max(0, 0.5 + 0.5 * s));
      }
    }
  }
}

/** Coverage in [0, 1] of a soft edge at signed distance d pixels (positive: covered). */
function coverage(d: number): number {
  return d <= -0.5 ? 0 : d >= 0.5 ? 1 : d + 0.5;
}

/** A straight pole (capsule) across the image: occludes objects, labelled background. */
export class Pole implements Layer {
  readonly classId = 0;
  readonly bounds: Bounds;
  edge = Infinity;
  private readonly ax: number;
  private readonly ay: number;
  private readonly ex: number;
  private readonly ey: number;
  private readonly length2: number;

  constructor(
    from: readonly [number, number],
    to: readonly [number, number],
    readonly halfWidth: number,
    readonly color: Rgb,
  ) {
    [this.ax, this.ay] = from;
    this.ex = to[0] - from[0];
    this.ey = to[1] - from[1];
    this.length2 = this.ex * this.ex + this.ey * this.ey;
    const pad = halfWidth + 2;
    this.bounds = {
      x0: Math.floor(Math.min(from[0], to[0]) - pad),
      y0: Math.floor(Math.min(from[1], to[1]) - pad),
      x1: Math.ceil(Math.max(from[0], to[0]) + pad),
      y1: Math.ceil(Math.max(from[1], to[1]) + pad),
    };
  }

  probe(x: number, y: number): number {
    const wx = x - this.ax;
    const wy = y - this.ay;
    const t = Math.min(1, Math.max(0, (wx * this.ex + wy * this.ey) / this.length2));
    const dx = wx - this.ex * t;
    const dy = wy - this.ey * t;
    const d = Math.sqrt(dx * dx + dy * dy) - this.halfWidth;
    this.edge = Math.abs(d);
    return d;
  }

  colorAt(x: number, y: number, out: Float32Array, offset: number): void {
    // Rounded look: darker towards the pole's sides.
    const wx = x - this.ax;
    const wy = y - this.ay;
    const across = (wx * this.ey - wy * this.ex) / Math.sqrt(this.length2) / this.halfWidth;
    const shade = 1.1 - 0.35 * Math.min(1, across * across);
    out[offset] = clamp255(this.color[0] * shade);
    out[offset + 1] = clamp255(this.color[1] * shade);
    out[offset + 2] = clamp255(this.color[2] * shade);
  }
}
