// CLIP-ES's class-aware attention affinity (CAA, docs/algorithms.md §3.5):
//
//   T = sinkhornAffinity(W)            3 rounds of (columns / colsum, then rows / rowsum), in place
//   refined_k = S (S (B_k ⊙ cam_k))    S = (T + Tᵀ)/2 applied as (T v + Tᵀ v)/2: neither S nor S² is
//                                      ever formed (§8 item 10); all K classes in one batched pass
//   refined_k ← (x − min)/(1e-7 + max(x − min))   float32, once
//   attn_highres = fp16(cv2.resize(refined_k, (W, H), INTER_LINEAR))
//
// B_k is the box mask of CLIP-ES's scoremap2bbox on the float32 grid CAM: the union of the bounding
// boxes of the 8-connected components of uint8(cam·255) > int(λ·max), with CLIP-ES's clipping of
// x1/y1 to gw−1/gh−1 ('clip-es', the default, for parity) or without it ('corrected': boxes touching
// the right/bottom edge keep their last column/row, §8 item 8). λ = 0.4 for VOC, 0.7 for COCO.
// caaRefine computes B_k ⊙ cam_k on the GPU (boxMaskCams), so GPU CAMs never travel to the host and
// back; scoremapBoxes/boxMask below are the host reference it is tested against
// (test/wsss/box-mask.test.ts), itself checked against cv2 and CLIP-ES's own code.
//
// The affinity W [n, n] (the mean of the last 8 head-averaged attention maps, class token removed)
// and the grid CAMs [K, n] come from the Grad-CAM stage as f32 GPU tensors. The Sinkhorn result T
// depends only on the image, so callers that refine classes in several calls normalise once with
// `sinkhornAffinity` and pass `transition` to each `caaRefine` call.
//
// The GPU steps (box masks, Sinkhorn, symmetric propagation, min-max) are in
// src/kernels/wsss/caa.ts; the cv2 resize is the bilinear resampler of src/kernels/bilinear.ts.
import type { Gpu } from '../gpu/context.js';
import { KernelError } from '../gpu/errors.js';
import { Tensor } from '../gpu/tensor.js';
import { resizeLinear } from '../kernels/bilinear.js';
import { type BoxMode, type BoxMaskTensors, boxMaskCams, checkMatrix, minMaxRows, propagateSymmetric, sinkhornAffinity } from '../kernels/wsss/caa.js';

export type { BoxMode };

// ---------------------------------------------------------------------------------------------
// Argument checks

function checkPositiveInt(op: string, what: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new KernelError(op, `${what} must be a positive integer, got ${v}`);
}

// ---------------------------------------------------------------------------------------------
// Box masks (host reference): CLIP-ES's scoremap2bbox with multi_contour_eval=True

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
  /**
   * Grid CAMs [K, n] in [0, 1] (after Grad-CAM's two min-max passes): on the GPU (used in place, with
   * no host traffic) or on the host (checked, then uploaded once).
   */
  cams: Tensor | Float32Array;
  /**
   * Host copy of a GPU `cams`, where the caller has one anyway: it must hold the same values. Its
   * values are checked to lie in [0, 1], and `masks` can then be computed from it on the host.
   */
  camsHost?: Float32Array;
  /** [gh, gw], n = gh·gw; cams are row-major over it. */
  grid: readonly [number, number];
  /** Box threshold λ: 0.4 (VOC, default) or 0.7 (COCO). */
  threshold?: number;
  /** 'clip-es' (default, parity) or 'corrected' (no x1/y1 clipping). */
  boxes?: BoxMode;
  /** Sinkhorn guard when `affinity` is given (see SinkhornOptions). */
  epsilon?: number;
  /** Read the box masks the GPU used back to the host, into `masks` (one read-back of K·n words). */
  readMasks?: boolean;
  /**
   * GPU CAMs are checked on the GPU for values outside [0, 1] (NaN included): leave that flag for
   * the caller to read with its other outputs (`check`, for SeedContext.check) instead of reading it
   * here, which waits for the whole CAA. Host CAMs are checked on the host either way.
   */
  deferCheck?: boolean;
}

/** A flag on the GPU, u32 [1], and the error its non-zero value means. */
export interface CaaCheck {
  flag: Tensor;
  explain(value: number): KernelError;
}

export interface CaaResult {
  /** [K, n] refined CAMs after the single min-max (eps 1e-7), float32. */
  refined: Tensor;
  /**
   * The box mask of each class, [gh·gw] each. With `readMasks`, the GPU's masks read back; else,
   * where host CAMs were given (a Float32Array `cams` or `camsHost`), boxMask of them, computed on
   * first access (equal to the GPU's for CAMs in [0, 1]). Otherwise the masks stayed on the GPU and
   * reading this throws.
   */
  readonly masks: Uint8Array[];
  /** With `deferCheck` and GPU CAMs: the out-of-range flag, owned by the caller. */
  check?: CaaCheck;
}

function caaResult(refined: Tensor, makeMasks: () => Uint8Array[], check?: CaaCheck): CaaResult {
  let masks: Uint8Array[] | undefined;
  return {
    refined,
    check,
    get masks() {
      return (masks ??= makeMasks());
    },
  };
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
  if (!(threshold >= 0 && threshold <= 1)) throw new KernelError('caa', `threshold λ must be in [0, 1], got ${threshold}`);
  const mode = opts.boxes ?? 'clip-es';
  if (mode !== 'clip-es' && mode !== 'corrected') throw new KernelError('caa', `unknown box mode '${String(mode)}' (known: clip-es, corrected)`);

  let host: Float32Array | undefined;
  let k: number;
  if (opts.cams instanceof Float32Array) {
    host = opts.cams;
    if (host.length % n !== 0) throw new KernelError('caa', `cams hold ${host.length} values, not a multiple of n = ${gh}·${gw} = ${n}`);
    k = host.length / n;
  } else if (opts.cams instanceof Tensor) {
    const c = opts.cams;
    const rowsOk = (c.rank === 2 && c.shape[1] === n) || (c.rank === 3 && c.shape[1] === gh && c.shape[2] === gw);
    if (c.dtype !== 'f32' || !rowsOk) {
      throw new KernelError('caa', `cams ${c} must be f32 [K, ${n}] or [K, ${gh}, ${gw}]`);
    }
    k = c.shape[0]!;
    host = opts.camsHost;
    if (host !== undefined && host.length !== c.size) throw new KernelError('caa', `camsHost has ${host.length} values; cams ${c} has ${c.size}`);
  } else {
    throw new KernelError('caa', 'cams must be a Tensor or a Float32Array');
  }
  const hostCam = (c: number) => host!.subarray(c * n, (c + 1) * n);
  for (let c = 0; host !== undefined && c < k; c++) {
    try {
      checkGridCam('boxMask', hostCam(c), gh!, gw!);
    } catch (err) {
      throw new KernelError('caa', `class ${c}: ${(err as Error).message}`);
    }
  }
  let read: Uint32Array | undefined;
  const masks = () => {
    if (read) return Array.from({ length: k }, (_, c) => Uint8Array.from(read!.subarray(c * n, (c + 1) * n)));
    if (host) return Array.from({ length: k }, (_, c) => boxMask(hostCam(c), gh!, gw!, threshold, mode));
    throw new KernelError('caa', 'the box masks stayed on the GPU: pass readMasks: true (or host CAMs) to get them');
  };
  if (k === 0) return caaResult(gpu.empty([0, n], 'f32', 'caa refined'), () => []);

  const t = opts.transition ?? (await sinkhornAffinity(gpu, opts.affinity!, { epsilon: opts.epsilon }));
  const cams = opts.cams instanceof Tensor ? opts.cams : gpu.upload(opts.cams, [k, n], 'f32', 'caa cams');
  let boxed: BoxMaskTensors;
  try {
    boxed = await boxMaskCams(gpu, cams, [gh!, gw!], { threshold, mode });
  } finally {
    if (cams !== opts.cams) gpu.release(cams);
  }
  const once = await propagateSymmetric(gpu, t, boxed.masked);
  const twice = await propagateSymmetric(gpu, t, once);
  const refined = await minMaxRows(gpu, twice, { eps: 1e-7 });
  if (opts.readMasks) read = (await gpu.read(boxed.mask)) as Uint32Array;
  gpu.release(boxed.masked, boxed.mask, once, twice);
  if (opts.transition === undefined) gpu.release(t);
  const explain = (value: number) => {
    const at = 0xffffffff - value;
    const c = Math.floor(at / n), i = at % n;
    return new KernelError('caa', `class ${c}: CAM value at index ${i} (row ${Math.floor(i / gw!)}, column ${i % gw!}) is outside [0, 1] (or NaN)`);
  };
  if (host !== undefined) {
    gpu.release(boxed.bad); // checked on the host above
    return caaResult(refined, masks);
  }
  if (opts.deferCheck) return caaResult(refined, masks, { flag: boxed.bad, explain });
  const value = ((await gpu.read(boxed.bad)) as Uint32Array)[0]!;
  gpu.release(boxed.bad);
  if (value !== 0) {
    gpu.release(refined);
    throw explain(value);
  }
  return caaResult(refined, masks);
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
