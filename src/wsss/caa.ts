// CLIP-ES's class-aware attention affinity (CAA, docs/algorithms.md §3.5):
//
//   T = sinkhornAffinity(W)            3 rounds of (columns / colsum, then rows / rowsum), in place
//   refined_k = S (S (B_k ⊙ cam_k))    S = (T + Tᵀ)/2 applied as (T v + Tᵀ v)/2: neither S nor S² is
//                                      ever formed (§8 item 10); all K classes in one batched pass
//   refined_k ← (x − min)/(1e-7 + max(x − min))   float32, once
//   attn_highres = fp16(cv2.resize(refined_k, (W, H), INTER_LINEAR))
//
// B_k is the box mask of CLIP-ES's scoremap2bbox, computed on the host from the float32 grid CAM
// (the grid is tiny): the union of the bounding boxes of the 8-connected components of
// uint8(cam·255) > int(λ·max), with CLIP-ES's clipping of x1/y1 to gw−1/gh−1 ('clip-es', the
// default, for parity) or without it ('corrected': boxes touching the right/bottom edge keep their
// last column/row, §8 item 8). λ = 0.4 for VOC, 0.7 for COCO.
//
// The affinity W [n, n] (the mean of the last 8 head-averaged attention maps, class token removed)
// and the grid CAMs [K, n] come from the Grad-CAM stage as f32 GPU tensors. The Sinkhorn result T
// depends only on the image, so callers that refine classes in several calls normalise once with
// `sinkhornAffinity` and pass `transition` to each `caaRefine` call.
//
// The GPU steps (Sinkhorn, symmetric propagation, min-max) are in src/kernels/wsss/caa.ts; the cv2
// resize is the bilinear resampler of src/kernels/bilinear.ts.
import type { Gpu } from '../gpu/context.js';
import { KernelError } from '../gpu/errors.js';
import { Tensor } from '../gpu/tensor.js';
import { resizeLinear } from '../kernels/bilinear.js';
import { checkMatrix, minMaxRows, propagateSymmetric, sinkhornAffinity } from '../kernels/wsss/caa.js';

// ---------------------------------------------------------------------------------------------
// Argument checks

function checkPositiveInt(op: string, what: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new KernelError(op, `${what} must be a positive integer, got ${v}`);
}

// ---------------------------------------------------------------------------------------------
// Box masks (host): CLIP-ES's scoremap2bbox with multi_contour_eval=True

export type BoxMode = 'clip-es' | 'corrected';

/** A box as scoremap2bbox reports it: columns x0..x1−1 and rows y0..y1−1 (half-open). */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

function checkGridCam(op: string, cam: ArrayLike<number>, gh: number, gw: number): void {
  checkPositiveInt(op, 'grid height', gh);
  checkPositiveInt(op, 'grid width', gw);
  if (cam.length !== gh * gw) throw new Error(`${op}: the CAM has ${cam.length} values; the grid ${gh}×${gw} needs ${gh * gw}`);
  for (let i = 0; i < cam.length; i++) {
    const v = cam[i]!;
    // uint8(v·255) is only meaningful in [0, 1]; numpy would wrap or saturate outside it.
    if (!(v >= 0 && v <= 1)) throw new Error(`${op}: CAM value ${v} at index ${i} (row ${Math.floor(i / gw)}, column ${i % gw}) is outside [0, 1]`);
  }
}

/**
 * The boxes of scoremap2bbox (§3.5): s8 = uint8(trunc(float32(cam·255))), thr = int(λ·max(s8)),
 * foreground s8 > thr, one box per 8-connected component (cv2.findContours with RETR_TREE also
 * reports hole borders, whose boxes lie inside their component's box, so they add nothing to the
 * union). 'clip-es' clips x1 to gw−1 and y1 to gh−1 as CLIP-ES does; 'corrected' does not.
 * An all-background map gives no boxes (CLIP-ES's [[0, 0, 0, 0]], an empty mask).
 */
export function scoremapBoxes(cam: ArrayLike<number>, gh: number, gw: number, threshold: number, mode: BoxMode = 'clip-es'): Box[] {
  checkGridCam('boxMask', cam, gh, gw);
  if (!(threshold >= 0 && threshold <= 1)) throw new Error(`boxMask: threshold λ must be in [0, 1], got ${threshold}`);
  if (mode !== 'clip-es' && mode !== 'corrected') throw new Error(`boxMask: unknown box mode '${String(mode)}' (known: clip-es, corrected)`);
  const n = gh * gw;
  const s8 = new Uint8Array(n);
  let top = 0;
  for (let i = 0; i < n; i++) {
    s8[i] = Math.trunc(Math.fround(Math.fround(cam[i]!) * 255));
    top = Math.max(top, s8[i]!);
  }
  const thr = Math.trunc(threshold * top); // Python float64 product, int() truncates
  const seen = new Uint8Array(n);
  const stack = new Int32Array(n);
  const boxes: Box[] = [];
  for (let start = 0; start < n; start++) {
    if (seen[start] || s8[start]! <= thr) continue;
    let minX = gw, minY = gh, maxX = -1, maxY = -1;
    let sp = 0;
    stack[sp++] = start;
    seen[start] = 1;
    while (sp > 0) {
      const at = stack[--sp]!;
      const y = Math.floor(at / gw), x = at - y * gw;
      minX = Math.min(minX, x);
      maxX = Math.max(maxX, x);
      minY = Math.min(minY, y);
      maxY = Math.max(maxY, y);
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= gh) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= gw) continue;
          const j = yy * gw + xx;
          if (!seen[j] && s8[j]! > thr) {
            seen[j] = 1;
            stack[sp++] = j;
          }
        }
      }
    }
    // boundingRect gives (x, y, w, h) with x + w = maxX + 1; CLIP-ES then clips the far edges.
    let x1 = maxX + 1, y1 = maxY + 1;
    if (mode === 'clip-es') {
      x1 = Math.min(x1, gw - 1);
      y1 = Math.min(y1, gh - 1);
    }
    boxes.push({ x0: minX, y0: minY, x1, y1 });
  }
  return boxes;
}

/** The box mask B [gh·gw] (1 inside the union of scoremapBoxes, else 0), row-major. */
export function boxMask(cam: ArrayLike<number>, gh: number, gw: number, threshold: number, mode: BoxMode = 'clip-es'): Uint8Array {
  const mask = new Uint8Array(gh * gw);
  for (const b of scoremapBoxes(cam, gh, gw, threshold, mode)) {
    for (let y = b.y0; y < b.y1; y++) mask.fill(1, y * gw + b.x0, y * gw + Math.max(b.x0, b.x1));
  }
  return mask;
}

// ---------------------------------------------------------------------------------------------
// CAA

export interface CaaOptions {
  /** Raw affinity W [n, n] (mean attention, class token removed); Sinkhorn runs on a copy. */
  affinity?: Tensor;
  /** Or T [n, n] already from sinkhornAffinity (reused across calls for the same image). */
  transition?: Tensor;
  /** Grid CAMs [K, n] in [0, 1] (after Grad-CAM's two min-max passes), on the GPU or the host. */
  cams: Tensor | Float32Array;
  /** Host copy of a GPU `cams` (saves a readback); must hold the same values. */
  camsHost?: Float32Array;
  /** [gh, gw], n = gh·gw; cams are row-major over it. */
  grid: readonly [number, number];
  /** Box threshold λ: 0.4 (VOC, default) or 0.7 (COCO). */
  threshold?: number;
  /** 'clip-es' (default, parity) or 'corrected' (no x1/y1 clipping). */
  boxes?: BoxMode;
  /** Sinkhorn guard when `affinity` is given (see SinkhornOptions). */
  epsilon?: number;
}

export interface CaaResult {
  /** [K, n] refined CAMs after the single min-max (eps 1e-7), float32. */
  refined: Tensor;
  /** The box mask of each class, [gh·gw] each. */
  masks: Uint8Array[];
}

/** CAA for all K classes of one image (§3.5): refined_k = minmax(S(S(B_k ⊙ cam_k))). */
export async function caaRefine(gpu: Gpu, opts: CaaOptions): Promise<CaaResult> {
  const [gh, gw] = opts.grid ?? [];
  checkPositiveInt('caa', 'grid height', gh as number);
  checkPositiveInt('caa', 'grid width', gw as number);
  const n = gh! * gw!;
  if ((opts.affinity === undefined) === (opts.transition === undefined)) {
    throw new KernelError('caa', 'give exactly one of affinity (raw W) and transition (T from sinkhornAffinity)');
  }
  if (opts.affinity !== undefined) checkMatrix('caa', 'affinity', opts.affinity, n);
  if (opts.transition !== undefined) checkMatrix('caa', 'transition', opts.transition, n);
  const threshold = opts.threshold ?? 0.4;
  const mode = opts.boxes ?? 'clip-es';

  let host: Float32Array;
  if (opts.cams instanceof Float32Array) {
    host = opts.cams;
  } else if (opts.cams instanceof Tensor) {
    const c = opts.cams;
    const rowsOk = (c.rank === 2 && c.shape[1] === n) || (c.rank === 3 && c.shape[1] === gh && c.shape[2] === gw);
    if (c.dtype !== 'f32' || !rowsOk) {
      throw new KernelError('caa', `cams ${c} must be f32 [K, ${n}] or [K, ${gh}, ${gw}]`);
    }
    host = opts.camsHost ?? (await gpu.readF32(c));
  } else {
    throw new KernelError('caa', 'cams must be a Tensor or a Float32Array');
  }
  if (host.length % n !== 0) throw new KernelError('caa', `cams hold ${host.length} values, not a multiple of n = ${gh}·${gw} = ${n}`);
  if (opts.cams instanceof Tensor && host.length !== opts.cams.size) throw new KernelError('caa', `camsHost has ${host.length} values; cams ${opts.cams} has ${opts.cams.size}`);
  const k = host.length / n;

  const masks: Uint8Array[] = [];
  const masked = new Float32Array(k * n);
  for (let c = 0; c < k; c++) {
    const cam = host.subarray(c * n, (c + 1) * n);
    let mask: Uint8Array;
    try {
      mask = boxMask(cam, gh!, gw!, threshold, mode);
    } catch (err) {
      throw new KernelError('caa', `class ${c}: ${(err as Error).message}`);
    }
    masks.push(mask);
    for (let j = 0; j < n; j++) masked[c * n + j] = mask[j] ? cam[j]! : 0;
  }
  if (k === 0) return { refined: gpu.empty([0, n], 'f32', 'caa refined'), masks };

  const t = opts.transition ?? (await sinkhornAffinity(gpu, opts.affinity!, { epsilon: opts.epsilon }));
  const v = gpu.upload(masked, [k, n], 'f32', 'caa masked cams');
  const once = await propagateSymmetric(gpu, t, v);
  const twice = await propagateSymmetric(gpu, t, once);
  const refined = await minMaxRows(gpu, twice, { eps: 1e-7 });
  gpu.release(v, once, twice);
  if (opts.transition === undefined) gpu.release(t);
  return { refined, masks };
}

// ---------------------------------------------------------------------------------------------
// attn_highres

/**
 * CLIP-ES's attn_highres from refined grid CAMs [K, n] (or [K, gh, gw]): cv2 INTER_LINEAR to the
 * original image size [H, W], rounded to float16 values (returned as an f32 tensor [K, H, W]).
 */
export async function caaHighres(gpu: Gpu, refined: Tensor, grid: readonly [number, number], size: readonly [number, number]): Promise<Tensor> {
  const [gh, gw] = grid;
  checkPositiveInt('caa', 'grid height', gh);
  checkPositiveInt('caa', 'grid width', gw);
  if (!(refined instanceof Tensor) || refined.size % (gh * gw) !== 0) throw new KernelError('caa', `refined ${String(refined)} must be [K, ${gh * gw}]`);
  const k = refined.size / (gh * gw);
  return resizeLinear(gpu, refined.view([k, gh, gw]), size, { mode: 'cv2', roundF16: true });
}
