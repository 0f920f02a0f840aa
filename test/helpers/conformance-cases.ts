// Conformance of every kernel descriptor (ggml's test-backend-ops is the model): a walk over
// src/kernels/** that finds each exported KernelDescriptor, a table of cases that run each of them
// through the public function that dispatches it at awkward sizes against a float64 reference, and
// the runner both test/kernels/conformance.test.ts and bench/ops.bench.ts use.
//
// A case names the descriptors it covers. While its public function runs once, the runner records
// which descriptors the Gpu dispatched and with which arguments (by wrapping `run` on that one Gpu
// instance): a case that claims a descriptor it never reaches fails, and the recorded arguments are
// what `cost(args)` is evaluated on, so the printed rates use exactly the dispatched problem. Timing
// wraps the whole public function (host-side table building and uploads included) between
// `gpu.sync()` calls; on SwiftShader those are CPU figures, not GPU ones.
//
// Free of vitest (the bench imports it): comparisons return numbers, and the caller asserts.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Gpu } from '../../src/gpu/context.js';
import type { KernelDescriptor } from '../../src/gpu/kernel.js';
import type { Tensor } from '../../src/gpu/tensor.js';
import { activateRef } from '../../src/kernels/activation.js';
import { attention } from '../../src/kernels/attention.js';
import { camMinMax, clipHead, layerNormBackward, quickGeluBackward, softmaxBackward } from '../../src/kernels/backward.js';
import { conv2d } from '../../src/kernels/conv.js';
import { binary, unary } from '../../src/kernels/elementwise.js';
import { CLIP_MEAN, CLIP_STD, imageToTensor, normalizeBytes, unpackRgba } from '../../src/kernels/image.js';
import { layerNorm } from '../../src/kernels/layernorm.js';
import { concat, gatherRows, slice, transpose } from '../../src/kernels/layout.js';
import { matmul, type MatmulVariant } from '../../src/kernels/matmul.js';
import { channelSoftmax, pool2d, type Pool2dOptions } from '../../src/kernels/pool.js';
import { reduce } from '../../src/kernels/reduce.js';
import { resize } from '../../src/kernels/resize.js';
import type { RowVariant } from '../../src/kernels/rows.js';
import { softmax } from '../../src/kernels/softmax.js';
import { exclusiveScan, radixSortPairs } from '../../src/kernels/scan.js';
import { batchNormBackward, batchNormForward } from '../../src/kernels/train/batchnorm.js';
import { bilinearBackward } from '../../src/kernels/train/bilinear.js';
import { conv2dBackward } from '../../src/kernels/train/conv.js';
import { augmentBatch, augmentSample, NORMALIZATIONS as AUGMENT_NORMALIZATIONS, packLabelBytes } from '../../src/kernels/train/augment.js';
import { accumulateGrad, reluBackward } from '../../src/kernels/train/elementwise.js';
import { softmaxCrossEntropy } from '../../src/kernels/train/loss.js';
import { adamwStep, sgdStep } from '../../src/kernels/train/optim.js';
import { maxPool2dBackward, maxPool2dWithIndices } from '../../src/kernels/train/pool.js';
import { boxMaskCams, minMaxRows, propagateSymmetric, sinkhornAffinity } from '../../src/kernels/wsss/caa.js';
import { crfImageWords, crfUnary, negLogTableFor } from '../../src/kernels/wsss/crf.js';
import { labelsArgmax, labelsProbs } from '../../src/kernels/wsss/labels.js';
import { afaCombine, parAffinityWeights, parSoftmax, parStep } from '../../src/kernels/wsss/par.js';
import { rwAffinity, rwDense, rwSeeds } from '../../src/kernels/wsss/randomwalk.js';
import { boxMask } from '../../src/wsss/caa.js';
import { buildCrfLattice, buildCrfLatticeGpu, CLIP_ES_MEAN_BGR, crfImage, crfSeeds, denseCrf, type GpuCrfLattice } from '../../src/wsss/crf.js';
import { placement as augmentPlacement } from '../../src/train/augment.js';
import { parOffsets, parPositionSoftmax } from '../../src/wsss/par.js';
import {
  adamwRef, batchNormRef, bilinearBackwardRef, conv2dBackwardRef, convOutSize, crossEntropyRef, maxAbs as trainMaxAbs, maxPoolBackwardRef, maxPoolRef,
  optimizerBound, reluBackwardRef, sgdRef, sumBound, type ConvSpec as TrainConvSpec, type PoolSpec as TrainPoolSpec,
} from '../train/reference.js';
import { augmentRef } from '../train/augment-ref.js';
import { attentionRef } from './attention-ref.js';
import { crfSeedsRef, denseCrfRef, fp16, unaryRef } from './crf-ref.js';
import { matmulRef, transposed } from './matmul-ref.js';
import { pilResizeU8Ref, torchBicubicRef, torchBilinearRef } from './resize-ref.js';
import { rng } from './rng.js';
import { layerNormRef, reduceRef, softmaxRef } from './rows-ref.js';

const U = 2 ** -24; // unit roundoff of f32

// ---------------------------------------------------------------------------------------------
// Discovery

export interface FoundKernel {
  name: string;
  /** The module (relative to src/kernels) that exports it, and the export path within it. */
  module: string;
  exportPath: string;
  descriptor: KernelDescriptor<unknown>;
}

export const KERNEL_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'kernels');

/** A KernelDescriptor by shape: string name and shader, functions workgroups and sizes. */
export function isKernelDescriptor(v: unknown): v is KernelDescriptor<unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const d = v as Record<string, unknown>;
  return typeof d.name === 'string' && typeof d.shader === 'string' && typeof d.workgroups === 'function' && typeof d.sizes === 'function';
}

/**
 * Every KernelDescriptor exported by a module under `root` (recursively), also inside exported plain
 * objects and arrays up to two levels deep (the per-variant records such as softmaxKernels). One
 * descriptor re-exported by several modules counts once. Throws if two distinct descriptors share
 * a name, since names key profiles, errors and this table.
 */
export async function discoverKernels(root = KERNEL_ROOT): Promise<Map<string, FoundKernel>> {
  const files = (readdirSync(root, { recursive: true, encoding: 'utf8' }) as string[])
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => f.split(path.sep).join('/'))
    .sort();
  const byObject = new Map<KernelDescriptor<unknown>, FoundKernel>();
  for (const rel of files) {
    const mod = (await import(pathToFileURL(path.join(root, rel)).href)) as Record<string, unknown>;
    const visit = (v: unknown, where: string, depth: number): void => {
      if (isKernelDescriptor(v)) {
        if (!byObject.has(v)) byObject.set(v, { name: v.name, module: rel, exportPath: where, descriptor: v });
        return;
      }
      if (depth >= 2 || typeof v !== 'object' || v === null) return;
      if (Array.isArray(v)) v.forEach((x, i) => visit(x, `${where}[${i}]`, depth + 1));
      else if (Object.getPrototypeOf(v) === Object.prototype) for (const [k, x] of Object.entries(v)) visit(x, `${where}.${k}`, depth + 1);
    };
    for (const [k, v] of Object.entries(mod)) visit(v, k, 0);
  }
  const byName = new Map<string, FoundKernel>();
  for (const f of byObject.values()) {
    const other = byName.get(f.name);
    if (other) throw new Error(`two kernel descriptors are named '${f.name}': ${other.module} ${other.exportPath} and ${f.module} ${f.exportPath}`);
    byName.set(f.name, f);
  }
  return byName;
}

/** Descriptors no case covers, and names in cases that no discovered descriptor has. */
export function coverageGaps(found: ReadonlyMap<string, FoundKernel>, cases: readonly ConformanceCase[]): { uncovered: string[]; unknown: string[] } {
  const named = new Set(cases.flatMap((c) => c.kernels));
  return {
    uncovered: [...found.keys()].filter((k) => !named.has(k)).sort(),
    unknown: [...named].filter((k) => !found.has(k)).sort(),
  };
}

// ---------------------------------------------------------------------------------------------
// Comparisons

/**
 * close: |got − want| ≤ atol + rtol·|want| per element. exact: equal values (integer and label
 * outputs; NaN equals NaN). bound: |got − want| ≤ bound[i], a per-element error bound derived from
 * the inputs (e.g. γ_K·Σ|a·b| for a dot product); `note` says where it comes from.
 */
export type Tolerance = { kind: 'close'; atol: number; rtol: number } | { kind: 'exact' } | { kind: 'bound'; bound: ArrayLike<number>; note: string };

export const close = (atol: number, rtol = 0): Tolerance => ({ kind: 'close', atol, rtol });
export const EXACT: Tolerance = { kind: 'exact' };
export const bound = (b: ArrayLike<number>, note: string): Tolerance => ({ kind: 'bound', bound: b, note });

export interface Comparison {
  what: string;
  got: ArrayLike<number>;
  want: ArrayLike<number>;
  tol: Tolerance;
}

export interface ComparisonResult {
  what: string;
  elements: number;
  /** Largest |got − want| (NaN-vs-NaN and equal infinities count as 0). */
  maxAbsErr: number;
  /** Largest |got − want| / allowed; ≤ 1 passes. exact: 0 when equal, Infinity otherwise. */
  worstRatio: number;
  /** Elements outside the tolerance. */
  bad: number;
  tolerance: string;
  /** The first bad element, for the failure message. */
  first?: { index: number; got: number; want: number };
}

export function tolText(t: Tolerance): string {
  switch (t.kind) {
    case 'exact':
      return 'exact';
    case 'bound':
      return `bound ${t.note}`;
    case 'close':
      // An atol of 1e-30 or so only keeps 0-vs-0 from dividing by zero: the tolerance is relative.
      return t.rtol === 0 ? `abs ${t.atol.toExponential(1)}` : t.atol < 1e-20 ? `rel ${t.rtol.toExponential(1)}` : `${t.atol.toExponential(1)}+${t.rtol.toExponential(1)}·|ref|`;
  }
}

export function compare(c: Comparison): ComparisonResult {
  const { got, want, tol } = c;
  const res: ComparisonResult = { what: c.what, elements: want.length, maxAbsErr: 0, worstRatio: 0, bad: 0, tolerance: tolText(tol) };
  if (got.length !== want.length) {
    return { ...res, maxAbsErr: Infinity, worstRatio: Infinity, bad: Math.max(got.length, want.length), tolerance: `${res.tolerance} (length ${got.length}, want ${want.length})` };
  }
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    const same = g === w || (Number.isNaN(g) && Number.isNaN(w));
    const err = same ? 0 : Math.abs(g - w);
    const allowed = tol.kind === 'exact' ? 0 : tol.kind === 'bound' ? tol.bound[i]! : tol.atol + tol.rtol * Math.abs(w);
    const ratio = same ? 0 : err <= allowed ? err / allowed : Infinity;
    // NaN errors (a NaN against a number) compare false everywhere: count them as the worst.
    const ok = same || err <= allowed;
    if (!ok) {
      res.bad++;
      res.first ??= { index: i, got: g, want: w };
    }
    res.maxAbsErr = Number.isNaN(err) ? Infinity : Math.max(res.maxAbsErr, err);
    res.worstRatio = ok ? Math.max(res.worstRatio, ratio) : Infinity;
  }
  return res;
}

// ---------------------------------------------------------------------------------------------
// Cases

export interface Prepared<R> {
  /** The public function under test; every dispatch it records belongs to this case. */
  run(): Promise<R>;
  /** run()'s outputs against the float64 reference. */
  check(result: R): Promise<Comparison[]>;
  /** Release what run() allocated (after every repetition). */
  free(result: R): void;
  /** Release the inputs. */
  dispose(): void;
}

export interface ConformanceCase {
  /** The descriptors this case covers; each must be dispatched by run(). */
  kernels: readonly string[];
  /** The problem, for the table. */
  shape: string;
  /** A device feature without which the case cannot run (it is then reported as skipped). */
  requires?: 'subgroups';
  setup(gpu: Gpu): Promise<Prepared<unknown>>;
}

function defineCase<R>(c: { kernels: readonly string[]; shape: string; requires?: 'subgroups'; setup(gpu: Gpu): Promise<Prepared<R>> | Prepared<R> }): ConformanceCase {
  return { ...c, setup: async (gpu) => (await c.setup(gpu)) as Prepared<unknown> };
}

/** Prepared for the common case: run() returns tensors (one or several) that free() releases. */
function tensorsOut<R extends Tensor | Tensor[]>(gpu: Gpu, inputs: Tensor[], run: () => Promise<R>, check: (r: R) => Promise<Comparison[]>): Prepared<R> {
  return {
    run,
    check,
    free: (r) => gpu.release(...(Array.isArray(r) ? r : [r])),
    dispose: () => gpu.release(...inputs),
  };
}

// ---------------------------------------------------------------------------------------------
// Inputs and small float64 references (for kernels without one in test/helpers)

function randomF32(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

const maxAbs = (v: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]!));
  return Math.max(m, 1e-30);
};

/** The bytes of packed u32 label words (four per word, little-endian), the first `n` of them. */
function unpackBytes(words: ArrayLike<number>, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (words[i >> 2]! >>> (8 * (i & 3))) & 0xff;
  return out;
}

/** y = act(conv(x, w) + bias + residual), x [N, Cin, H, W], w [Cout, KH, KW, Cin/groups] (OHWI). */
function conv2dRef(
  x: ArrayLike<number>, xs: readonly [number, number, number, number], w: ArrayLike<number>, ws: readonly [number, number, number, number],
  o: { stride: number; padding: number; dilation: number; groups: number; bias?: ArrayLike<number>; residual?: ArrayLike<number>; activation: 'none' | 'relu' },
): { y: Float64Array; scale: Float64Array } {
  const [n, cin, h, wd] = xs, [cout, kh, kw, cinG] = ws;
  const ho = Math.floor((h + 2 * o.padding - o.dilation * (kh - 1) - 1) / o.stride) + 1;
  const wo = Math.floor((wd + 2 * o.padding - o.dilation * (kw - 1) - 1) / o.stride) + 1;
  const y = new Float64Array(n * cout * ho * wo);
  // Σ|terms| per output: the scale of its f32 rounding error.
  const scale = new Float64Array(y.length);
  const coutG = cout / o.groups;
  for (let b = 0; b < n; b++) {
    for (let co = 0; co < cout; co++) {
      const g = Math.floor(co / coutG);
      for (let oy = 0; oy < ho; oy++) {
        for (let ox = 0; ox < wo; ox++) {
          let s = o.bias ? o.bias[co]! : 0, a = Math.abs(s);
          for (let ky = 0; ky < kh; ky++) {
            const iy = oy * o.stride - o.padding + ky * o.dilation;
            if (iy < 0 || iy >= h) continue;
            for (let kx = 0; kx < kw; kx++) {
              const ix = ox * o.stride - o.padding + kx * o.dilation;
              if (ix < 0 || ix >= wd) continue;
              for (let ci = 0; ci < cinG; ci++) {
                const t = x[((b * cin + g * cinG + ci) * h + iy) * wd + ix]! * w[((co * kh + ky) * kw + kx) * cinG + ci]!;
                s += t;
                a += Math.abs(t);
              }
            }
          }
          const at = ((b * cout + co) * ho + oy) * wo + ox;
          if (o.residual) {
            s += o.residual[at]!;
            a += Math.abs(o.residual[at]!);
          }
          y[at] = o.activation === 'relu' ? Math.max(s, 0) : s;
          scale[at] = a;
        }
      }
    }
  }
  return { y, scale };
}

/** PyTorch's max / average pooling of x [planes, H, W]: output size, padding and divisor rules. */
function pool2dRef(x: ArrayLike<number>, planes: number, h: number, w: number, mode: 'max' | 'avg', k: number, s: number, p: number, dil: number, ceil: boolean, countPad: boolean): Float64Array {
  const outSize = (n: number) => {
    let o = Math.floor((n + 2 * p - dil * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
    if (ceil && (o - 1) * s >= n + p) o--;
    return o;
  };
  const ho = outSize(h), wo = outSize(w);
  const y = new Float64Array(planes * ho * wo);
  for (let c = 0; c < planes; c++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        const y0 = oy * s - p, x0 = ox * s - p;
        let v: number;
        if (mode === 'max') {
          v = -Infinity;
          for (let i = 0; i < k; i++) {
            for (let j = 0; j < k; j++) {
              const yy = y0 + i * dil, xx = x0 + j * dil;
              if (yy >= 0 && yy < h && xx >= 0 && xx < w) v = Math.max(v, x[(c * h + yy) * w + xx]!);
            }
          }
        } else {
          const y1 = Math.min(y0 + k, h + p), x1 = Math.min(x0 + k, w + p);
          const padded = (y1 - y0) * (x1 - x0);
          const ya = Math.max(y0, 0), yb = Math.min(y1, h), xa = Math.max(x0, 0), xb = Math.min(x1, w);
          let sum = 0;
          for (let yy = ya; yy < yb; yy++) for (let xx = xa; xx < xb; xx++) sum += x[(c * h + yy) * w + xx]!;
          v = sum / (countPad ? padded : (yb - ya) * (xb - xa));
        }
        y[(c * ho + oy) * wo + ox] = v;
      }
    }
  }
  return y;
}

/** [rows, cols] ⇄ [cols, rows] of a planar [C, P] array, for softmaxRef over channels. */
function swapAxes(v: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = v[i * cols + j]!;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Case builders, per kernel family. Sizes: odd, prime, not multiples of the workgroup or tile, with
// at least one axis spanning several workgroups.

// 129 rows: 3 workgroups of 64 rows (invocation), 9 of 16 (subgroup on SwiftShader), 129 (workgroup).
// The reduction runs over the middle axis of [7, cols, inner]: 7·13 = 91 rows, strided by 13.
function rowCases(rows = 129, cols = 37, variants: readonly RowVariant[] = ['invocation', 'subgroup', 'workgroup'], inner = 13): ConformanceCase[] {
  return variants.flatMap((variant): ConformanceCase[] => {
    const requires = variant === 'subgroup' ? ('subgroups' as const) : undefined;
    return [
      defineCase({
        kernels: [`softmax.${variant}`],
        shape: `[${rows}, ${cols}] scale 0.5, mask [${cols}]`,
        requires,
        setup(gpu) {
          const x = randomF32(rows * cols, 101, -8, 8), mask = randomF32(cols, 102, -2, 2);
          mask[5] = -Infinity;
          const tx = gpu.upload(x, [rows, cols]), tm = gpu.upload(mask, [cols]);
          // softmax.test.ts: 1e-7 absolute (below an ulp of the large probabilities) + 8 ulp relative.
          return tensorsOut(gpu, [tx, tm], () => softmax(gpu, tx, { scale: 0.5, mask: tm, variant }), async (y) => [
            { what: 'y', got: await gpu.readF32(y), want: softmaxRef(x, rows, cols, { scale: 0.5, mask, maskRows: 1 }), tol: close(1e-7, 1e-6) },
          ]);
        },
      }),
      defineCase({
        kernels: [`layernorm.${variant}`],
        shape: `[${rows}, ${cols}] γ β residual stats`,
        requires,
        setup(gpu) {
          const r = rng(201);
          const x = randomF32(rows * cols, 202);
          for (let i = 0; i < rows; i++) {
            const offset = 4 * r() - 2, spread = 0.5 + 2 * r();
            for (let j = 0; j < cols; j++) x[i * cols + j] = Math.fround(offset + spread * x[i * cols + j]!);
          }
          const res = randomF32(rows * cols, 203), gamma = randomF32(cols, 204, 0.5, 1.5), beta = randomF32(cols, 205);
          const t = [gpu.upload(x, [rows, cols]), gpu.upload(res, [rows, cols]), gpu.upload(gamma, [cols]), gpu.upload(beta, [cols])] as const;
          return tensorsOut(
            gpu,
            [...t],
            async () => {
              const o = await layerNorm(gpu, t[0], { residual: t[1], gamma: t[2], beta: t[3], stats: true, variant });
              return [o.y, o.residualSum!, o.stats!];
            },
            async ([y, sum, stats]) => {
              const want = layerNormRef(x, rows, cols, { gamma, beta, residual: res });
              const st = await gpu.readF32(stats!);
              // layernorm.test.ts: y within 2e-6 of the output's scale (~16 ulp); the residual sum is
              // one f32 addition, as the reference rounds it; rstd within 2e-6 relative.
              return [
                { what: 'y', got: await gpu.readF32(y!), want: want.y, tol: close(2e-6 * maxAbs(want.y)) },
                { what: 'x + residual', got: await gpu.readF32(sum!), want: want.h, tol: EXACT },
                { what: 'mean', got: st.filter((_, i) => i % 2 === 0), want: want.mean, tol: close(1e-6 * maxAbs(want.std), 2.4e-7) },
                { what: 'rstd', got: st.filter((_, i) => i % 2 === 1), want: want.rstd, tol: close(0, 2e-6) },
              ];
            },
          );
        },
      }),
      defineCase({
        kernels: [`reduce.${variant}`],
        shape: `sum over axis 1 of [7, ${cols}, ${inner}]`,
        requires,
        setup(gpu) {
          const shape = [7, cols, inner];
          const x = randomF32(7 * cols * inner, 301, -4, 4);
          const tx = gpu.upload(x, shape);
          return tensorsOut(gpu, [tx], () => reduce(gpu, tx, 'sum', { axis: 1, variant }), async (y) => {
            const { value, absSum } = reduceRef(x, 7, cols, inner, 'sum');
            // Any summation order of n terms is within γ_n·Σ|x| (Higham, Thm 3.1).
            const g = (cols * U) / (1 - cols * U);
            return [{ what: 'sum', got: await gpu.readF32(y), want: value, tol: bound(absSum.map((a) => g * a + 1e-30), 'γ_n·Σ|x|') }];
          });
        },
      }),
    ];
  });
}

interface MatmulSpec {
  variant: MatmulVariant;
  batch: number;
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
  /** B is one matrix shared by the batch. */
  shareB?: boolean;
  bias?: boolean;
  residual?: boolean;
  alpha?: number;
  activation?: 'none' | 'relu' | 'gelu' | 'quickgelu';
}

function matmulCase(kernel: string, s: MatmulSpec): ConformanceCase {
  const extras = [s.transA && 'Aᵀ', s.transB && 'Bᵀ', s.shareB && 'shared B', s.bias && 'bias', s.activation && s.activation !== 'none' && s.activation, s.residual && 'residual', s.alpha !== undefined && `α ${s.alpha}`].filter(Boolean);
  return defineCase({
    kernels: [kernel],
    shape: `${s.batch > 1 ? `${s.batch}×` : ''}${s.m}×${s.n}×${s.k}${extras.length ? ` ${extras.join(' ')}` : ''}`,
    setup(gpu) {
      const { batch, m, n, k } = s;
      const bItems = s.shareB ? 1 : batch;
      // Logical op(A) [M, K] and op(B) [K, N]; stored transposed where asked.
      const aLog = Array.from({ length: batch }, (_, i) => randomF32(m * k, 401 + i));
      const bLog = Array.from({ length: bItems }, (_, i) => randomF32(k * n, 501 + i));
      const stored = (mats: Float32Array[], trans: boolean | undefined, r: number, c: number) => {
        const out = new Float32Array(mats.length * r * c);
        mats.forEach((mat, i) => out.set(trans ? transposed(mat, r, c) : mat, i * r * c));
        return out;
      };
      const lead = (items: number) => (items > 1 ? [items] : []);
      const ta = gpu.upload(stored(aLog, s.transA, m, k), [...lead(batch), ...(s.transA ? [k, m] : [m, k])]);
      const tb = gpu.upload(stored(bLog, s.transB, k, n), [...lead(bItems), ...(s.transB ? [n, k] : [k, n])]);
      const bias = s.bias ? randomF32(n, 601) : undefined;
      const residual = s.residual ? randomF32(batch * m * n, 602) : undefined;
      const tBias = bias && gpu.upload(bias, [n]);
      const tRes = residual && gpu.upload(residual, [...lead(batch), m, n]);
      const inputs = [ta, tb, tBias, tRes].filter((t): t is Tensor => t !== undefined);
      const opts = { transA: s.transA, transB: s.transB, bias: tBias, residual: tRes, alpha: s.alpha, activation: s.activation, variant: s.variant };
      return tensorsOut(gpu, inputs, () => matmul(gpu, ta, tb, opts), async (c) => {
        const ref = matmulRef({ m, n, k, a: aLog, b: s.shareB ? aLog.map(() => bLog[0]!) : bLog, alpha: s.alpha, bias, activation: s.activation, residual });
        // matmul-ref.ts: a rigorous bound for any f32 accumulation order (γ_K·Σ|a·b| and the epilogue).
        return [{ what: 'C', got: await gpu.readF32(c), want: ref.c, tol: bound(ref.tol, 'γ_K·Σ|ab|+epilogue') }];
      });
    },
  });
}

function matmulCases(): ConformanceCase[] {
  return [
    // 37 rows: five 8-row blocks; 13 columns: part of one 64-wide tile.
    matmulCase('matmul-register', { variant: 'register', batch: 2, m: 37, n: 13, k: 129, transB: true, shareB: true, bias: true, activation: 'gelu', residual: true, alpha: 0.5 }),
    // 67 rows: two 64-row tiles.
    matmulCase('matmul-tiled', { variant: 'tiled', batch: 1, m: 67, n: 13, k: 37, transA: true, bias: true, activation: 'relu' }),
    // 37 columns: ten 4-column workgroups.
    matmulCase('matmul-gemv', { variant: 'gemv', batch: 1, m: 3, n: 37, k: 129, bias: true, residual: true }),
    // K = 600: three slices of 256; 7·41 = 287 outputs: two reduce workgroups of 256.
    matmulCase('matmul-splitk-reduce', { variant: 'splitk', batch: 1, m: 7, n: 41, k: 600, bias: true, activation: 'quickgelu', residual: true, alpha: 2 }),
  ];
}

interface AttentionSpec {
  kernel: string;
  variant: 'register' | 'tiled';
  batch: number;
  len: number;
  heads: number;
  headDim: number;
  causal: boolean;
  probs: boolean;
}

function attentionCase(s: AttentionSpec): ConformanceCase {
  return defineCase({
    kernels: [s.kernel],
    shape: `B ${s.batch} L ${s.len} H ${s.heads} hd ${s.headDim}${s.causal ? ' causal' : ''}${s.probs ? ' +probs' : ''}`,
    setup(gpu) {
      const d = s.heads * s.headDim;
      const qkv = randomF32(s.batch * s.len * 3 * d, 701 + s.len, -1, 1);
      const t = gpu.upload(qkv, [s.batch, s.len, 3 * d]);
      return tensorsOut(
        gpu,
        [t],
        async () => {
          const r = await attention(gpu, t, { heads: s.heads, causal: s.causal, variant: s.variant, probs: s.probs });
          return r.probs ? [r.out, r.probs] : [r.out];
        },
        async ([out, probs]) => {
          const ref = attentionRef({ qkv, batch: s.batch, len: s.len, heads: s.heads, headDim: s.headDim, scale: 1 / Math.sqrt(s.headDim), causal: s.causal });
          // attention.test.ts: a logit is off by ~ε·κ (κ the logits' condition), which moves each
          // probability by that factor; O adds the rounding of sums over L keys.
          const eps = 2 ** -23;
          const checks: Comparison[] = [{ what: 'O', got: await gpu.readF32(out!), want: ref.out, tol: close(eps * ref.maxAbsV * (ref.logitCondition + 2 * Math.sqrt(s.len))) }];
          if (probs) checks.push({ what: 'P̄', got: await gpu.readF32(probs), want: ref.probs, tol: close(1e-7 + eps * ref.logitCondition) });
          return checks;
        },
      );
    },
  });
}

function attentionCases(): ConformanceCase[] {
  return [
    // 37 query rows per (batch, head): one 64-row workgroup each, 6 in all.
    attentionCase({ kernel: 'attention.register', variant: 'register', batch: 2, len: 37, heads: 3, headDim: 8, causal: false, probs: false }),
    // 67 query rows: two 64-row tiles per head.
    attentionCase({ kernel: 'attention.tiled', variant: 'tiled', batch: 1, len: 67, heads: 2, headDim: 12, causal: true, probs: false }),
    // probs: 2·10² blocks of 4×4 (i, j) over 64-invocation workgroups.
    attentionCase({ kernel: 'attention.probs', variant: 'register', batch: 2, len: 37, heads: 2, headDim: 4, causal: false, probs: true }),
  ];
}

function elementwiseCases(): ConformanceCase[] {
  return [
    defineCase({
      kernels: ['unary'],
      shape: '1297 gelu(0.75x − 0.5)',
      setup(gpu) {
        const n = 1297, x = randomF32(n, 11, -6, 6);
        const tx = gpu.upload(x, [n]);
        // elementwise.test.ts: the f32 rounding of the affine input, amplified by the slope.
        return tensorsOut(gpu, [tx], () => unary(gpu, tx, 'gelu', { alpha: 0.75, beta: -0.5 }), async (y) => [
          { what: 'y', got: await gpu.readF32(y), want: Array.from(x, (v) => activateRef('gelu', 0.75 * v - 0.5)), tol: close(1e-6, 2e-6) },
        ]);
      },
    }),
    defineCase({
      kernels: ['binary'],
      shape: 'relu([3, 1, 37] − [13, 37])',
      setup(gpu) {
        const a = randomF32(3 * 37, 21, -2, 2), b = randomF32(13 * 37, 22, -2, 2);
        const ta = gpu.upload(a, [3, 1, 37]), tb = gpu.upload(b, [13, 37]);
        const want = new Float64Array(3 * 13 * 37);
        for (let i = 0; i < 3; i++) for (let j = 0; j < 13; j++) for (let c = 0; c < 37; c++) want[(i * 13 + j) * 37 + c] = Math.max(a[i * 37 + c]! - b[j * 37 + c]!, 0);
        // One f32 rounding of the difference.
        return tensorsOut(gpu, [ta, tb], () => binary(gpu, 'sub', ta, tb, { activation: 'relu' }), async (y) => [{ what: 'y', got: await gpu.readF32(y), want, tol: close(0, 1.2e-7) }]);
      },
    }),
  ];
}

function backwardCases(): ConformanceCase[] {
  return [
    defineCase({
      kernels: ['layernorm_backward'],
      shape: 'B 2, x [37, 13], residual',
      setup(gpu) {
        const batch = 2, rows = 37, cols = 13;
        const x = randomF32(rows * cols, 801, -2, 2), g = randomF32(batch * rows * cols, 802), gamma = randomF32(cols, 803, 0.5, 1.5), res = randomF32(batch * rows * cols, 804);
        // The forward's stats, rounded to f32 as layerNorm stores them.
        const fwd = layerNormRef(x, rows, cols);
        const stats = new Float32Array(2 * rows);
        for (let t = 0; t < rows; t++) [stats[2 * t], stats[2 * t + 1]] = [fwd.mean[t]!, fwd.rstd[t]!];
        const t = [gpu.upload(g, [batch, rows, cols]), gpu.upload(x, [rows, cols]), gpu.upload(stats, [rows, 2]), gpu.upload(gamma, [cols]), gpu.upload(res, [batch, rows, cols])] as const;
        return tensorsOut(gpu, [...t], () => layerNormBackward(gpu, t[0], t[1], t[2], t[3], { residual: t[4] }), async (dx) => {
          // dx = rstd·(gh − mean(gh) − x̂·mean(gh ⊙ x̂)) + residual, gh = g ⊙ γ, x̂ from the f32 stats.
          const want = new Float64Array(batch * rows * cols);
          const gh = new Float64Array(cols), xh = new Float64Array(cols);
          for (let b = 0; b < batch; b++) {
            for (let r = 0; r < rows; r++) {
              const o = (b * rows + r) * cols;
              let sg = 0, sgx = 0;
              for (let j = 0; j < cols; j++) {
                gh[j] = g[o + j]! * gamma[j]!;
                xh[j] = (x[r * cols + j]! - stats[2 * r]!) * stats[2 * r + 1]!;
                sg += gh[j]!;
                sgx += gh[j]! * xh[j]!;
              }
              for (let j = 0; j < cols; j++) want[o + j] = stats[2 * r + 1]! * (gh[j]! - sg / cols - xh[j]! * (sgx / cols)) + res[o + j]!;
            }
          }
          // backward.test.ts: 4e-7 of the largest |dx| (a few ulp through two row means).
          return [{ what: 'dx', got: await gpu.readF32(dx), want, tol: close(4e-7 * maxAbs(want)) }];
        });
      },
    }),
    defineCase({
      kernels: ['softmax_backward'],
      shape: 'P [2, 13, 7] shared by B 3',
      setup(gpu) {
        const groups = 2, batch = 3, rows = 13, cols = 7;
        const logits = randomF32(groups * rows * cols, 811, -3, 3);
        const p = Float32Array.from(softmaxRef(logits, groups * rows, cols));
        const dp = randomF32(groups * batch * rows * cols, 812);
        const tp = gpu.upload(p, [groups, rows, cols]), tdp = gpu.upload(dp, [groups, batch, rows, cols]);
        return tensorsOut(gpu, [tp, tdp], () => softmaxBackward(gpu, tdp, tp, { batch }), async (ds) => {
          const want = new Float64Array(dp.length), limit = new Float64Array(dp.length);
          const g = ((cols + 2) * U) / (1 - (cols + 2) * U);
          for (let gr = 0; gr < groups; gr++) {
            for (let b = 0; b < batch; b++) {
              for (let r = 0; r < rows; r++) {
                const o = ((gr * batch + b) * rows + r) * cols, po = (gr * rows + r) * cols;
                let dot = 0, mag = 0;
                for (let j = 0; j < cols; j++) {
                  dot += dp[o + j]! * p[po + j]!;
                  mag += Math.abs(dp[o + j]! * p[po + j]!);
                }
                for (let j = 0; j < cols; j++) {
                  want[o + j] = p[po + j]! * (dp[o + j]! - dot);
                  // The row's dot product (γ_C·Σ|dp·p|), the subtraction and the product: one rounding each.
                  limit[o + j] = 1.5 * (p[po + j]! * (g * (mag + Math.abs(dp[o + j]!))) + 2 * U * Math.abs(want[o + j]!)) + 1e-30;
                }
              }
            }
          }
          return [{ what: 'ds', got: await gpu.readF32(ds), want, tol: bound(limit, 'γ_C·p·(Σ|dp·p|+|dp|)') }];
        });
      },
    }),
    defineCase({
      kernels: ['quickgelu_backward'],
      shape: 'g [3, 129], h [129]',
      setup(gpu) {
        const g = randomF32(3 * 129, 821), h = randomF32(129, 822, -6, 6);
        const tg = gpu.upload(g, [3, 129]), th = gpu.upload(h, [129]);
        return tensorsOut(gpu, [tg, th], () => quickGeluBackward(gpu, tg, th), async (dh) => {
          const want = Float64Array.from(g, (gv, i) => {
            const hv = h[i % 129]!, s = 1 / (1 + Math.exp(-1.702 * hv));
            return gv * (s + 1.702 * hv * s * (1 - s));
          });
          // backward.test.ts: a handful of f32 operations and an exp.
          return [{ what: 'dh', got: await gpu.readF32(dh), want, tol: close(2e-7, 2e-6) }];
        });
      },
    }),
    defineCase({
      kernels: ['clip_head'],
      shape: 'e [129], T [13, 129], K 5, κ 100 (one workgroup by design)',
      setup(gpu) {
        const dim = 129, rows = 13, classes = 5, kappa = 100;
        const e = randomF32(dim, 831), text = randomF32(rows * dim, 832);
        const te = gpu.upload(e, [dim]), tt = gpu.upload(text, [rows, dim]);
        return tensorsOut(
          gpu,
          [te, tt],
          async () => {
            const r = await clipHead(gpu, te, tt, { classes, kappa });
            return [r.probs, r.de];
          },
          async ([probs, de]) => {
            // p = softmax(κ ê·T̂_r); ∂p_c/∂e = Σ_r p_c(δ_rc − p_r) · κ(T̂_r − ê(ê·T̂_r))/|e|.
            const en = Math.hypot(...e);
            const eh = Array.from(e, (v) => v / en);
            const th = Array.from({ length: rows }, (_, r) => {
              const row = Array.from(text.subarray(r * dim, (r + 1) * dim));
              const nr = Math.hypot(...row);
              return row.map((v) => v / nr);
            });
            const cos = th.map((t) => t.reduce((s, v, d) => s + v * eh[d]!, 0));
            const p = softmaxRef(cos.map((c) => kappa * c), 1, rows);
            const want = new Float64Array(classes * dim), terms = new Float64Array(classes * dim);
            for (let c = 0; c < classes; c++) {
              for (let r = 0; r < rows; r++) {
                const dl = p[c]! * ((r === c ? 1 : 0) - p[r]!);
                for (let d = 0; d < dim; d++) {
                  want[c * dim + d] += (dl * kappa * (th[r]![d]! - eh[d]! * cos[r]!)) / en;
                  terms[c * dim + d] += Math.abs(dl * kappa * th[r]![d]!) / en + Math.abs((dl * kappa * eh[d]! * cos[r]!) / en);
                }
              }
            }
            // As in attention.test.ts: a logit κ·cos is an f32 dot product and two norms, off by a
            // few ε·κ·Σ|ê·T̂| (4× here); an error δ there moves p by a factor e^δ and each term of de
            // (p_c·p_r products) by ≤ 2δ, relative to the terms' magnitudes.
            const condition = Math.max(...th.map((t) => t.reduce((s, v, d) => s + Math.abs(v * eh[d]!), 0)));
            const delta = 4 * 2 ** -23 * kappa * condition;
            return [
              { what: 'p', got: await gpu.readF32(probs!), want: p, tol: bound(p.map((v) => 2 * delta * v + 1e-9), '2δ·p, δ = 4ε·κ·Σ|ê·T̂|') },
              { what: 'de', got: await gpu.readF32(de!), want, tol: bound(terms.map((t) => 2 * delta * t + 1e-12), '2δ·Σ|terms|, δ = 4ε·κ·Σ|ê·T̂|') },
            ];
          },
        );
      },
    }),
    defineCase({
      kernels: ['cam_minmax'],
      shape: 'raw [67, 38], skip 1',
      setup(gpu) {
        const rows = 67, stride = 38, n = stride - 1;
        const raw = randomF32(rows * stride, 841, -1, 3);
        const t = gpu.upload(raw, [rows, stride]);
        return tensorsOut(gpu, [t], () => camMinMax(gpu, t, { skip: 1 }), async (cam) => {
          // ReLU, then (v − min)/(1e-7 + max(v − min)) twice, each step in f32 as numpy does it.
          const want = new Float64Array(rows * n);
          const f = Math.fround;
          for (let r = 0; r < rows; r++) {
            let v = Array.from(raw.subarray(r * stride + 1, (r + 1) * stride), (x) => Math.max(x, 0));
            for (let pass = 0; pass < 2; pass++) {
              const lo = Math.min(...v), den = f(f(1e-7) + f(Math.max(...v) - lo));
              v = v.map((x) => f(f(x - lo) / den));
            }
            want.set(v, r * n);
          }
          // An f32-faithful reference: what remains is the two divisions (WGSL allows 2.5 ulp each)
          // and their effect on the second pass's max.
          return [{ what: 'cam', got: await gpu.readF32(cam), want, tol: close(1e-30, 6e-7) }];
        });
      },
    }),
  ];
}

function resizeCases(): ConformanceCase[] {
  return [
    defineCase({
      kernels: ['bilinear'],
      shape: "[3, 7, 13] → [37, 29] 'bilinear-torch'",
      setup(gpu) {
        const x = randomF32(3 * 7 * 13, 901);
        const t = gpu.upload(x, [3, 7, 13]);
        // resize.test.ts: float64 weights rounded once to f32, two f32 passes.
        return tensorsOut(gpu, [t], () => resize(gpu, t, [37, 29], 'bilinear-torch'), async (y) => [
          { what: 'y', got: await gpu.readF32(y), want: torchBilinearRef(x, 3, 7, 13, 37, 29), tol: close(1e-6) },
        ]);
      },
    }),
    defineCase({
      kernels: ['resize_filter'],
      shape: "[2, 13, 7] → [29, 5] 'bicubic-torch'",
      setup(gpu) {
        const x = randomF32(2 * 13 * 7, 911);
        const t = gpu.upload(x, [2, 13, 7]);
        return tensorsOut(gpu, [t], () => resize(gpu, t, [29, 5], 'bicubic-torch'), async (y) => [
          { what: 'y', got: await gpu.readF32(y), want: torchBicubicRef(x, 2, 13, 7, 29, 5), tol: close(1e-6) },
        ]);
      },
    }),
    defineCase({
      kernels: ['resize_filter_u8'],
      shape: "bytes [3, 13, 17] → [7, 37] 'bicubic-pil'",
      setup(gpu) {
        const r = rng(921);
        const x = Uint32Array.from({ length: 3 * 13 * 17 }, () => Math.floor(r() * 256));
        const t = gpu.upload(x, [3, 13, 17], 'u32');
        // Pillow's fixed-point arithmetic: bit-exact.
        return tensorsOut(gpu, [t], () => resize(gpu, t, [7, 37], 'bicubic-pil'), async (y) => [
          { what: 'y', got: (await gpu.read(y)) as Uint32Array, want: pilResizeU8Ref(x, 3, 13, 17, 7, 37), tol: EXACT },
        ]);
      },
    }),
  ];
}

function convCase(kernel: string, xs: [number, number, number, number], ws: [number, number, number, number], o: { stride: number; padding: number; dilation: number; groups: number; activation: 'none' | 'relu' }) {
  return defineCase({
      kernels: [kernel],
      shape: `x [${xs.join(', ')}] w [${ws.join(', ')}] s${o.stride} p${o.padding} d${o.dilation} g${o.groups} bias residual ${o.activation}`,
      setup(gpu) {
        const x = randomF32(xs.reduce((a, b) => a * b, 1), 1001), w = randomF32(ws.reduce((a, b) => a * b, 1), 1002);
        const bias = randomF32(ws[0], 1003);
        const ho = Math.floor((xs[2] + 2 * o.padding - o.dilation * (ws[1] - 1) - 1) / o.stride) + 1;
        const wo = Math.floor((xs[3] + 2 * o.padding - o.dilation * (ws[2] - 1) - 1) / o.stride) + 1;
        const residual = randomF32(xs[0] * ws[0] * ho * wo, 1004);
        const ref = conv2dRef(x, xs, w, ws, { ...o, bias, residual });
        const t = [gpu.upload(x, xs), gpu.upload(w, ws), gpu.upload(bias, [ws[0]]), gpu.upload(residual, [xs[0], ws[0], ho, wo])] as const;
        const g = (ws[1] * ws[2] * ws[3] + 2) * U;
        return tensorsOut(gpu, [...t], () => conv2d(gpu, t[0], t[1], { stride: o.stride, padding: o.padding, dilation: o.dilation, groups: o.groups, bias: t[2], residual: t[3], activation: o.activation }), async (y) => [
          // γ_n·Σ|terms| over the taps, bias and residual (ReLU does not increase an error).
          { what: 'y', got: await gpu.readF32(y), want: ref.y, tol: bound(ref.scale.map((a) => 1.5 * g * a + 1e-30), 'γ_n·Σ|terms|') },
        ]);
      },
    });
}

function convCases(): ConformanceCase[] {
  return [
    // 5 × 6 outputs per image, 7 channels: tiles of 32 pixels × 32 channels, one per batch item.
    convCase('conv2d', [2, 5, 13, 11], [7, 3, 3, 5], { stride: 2, padding: 1, dilation: 1, groups: 1, activation: 'relu' }),
    // Groups of one input channel (two outputs each): the depthwise kernel; 12·13·ceil(17/4) quads.
    convCase('conv2d-depthwise', [1, 6, 13, 17], [12, 3, 3, 1], { stride: 1, padding: 2, dilation: 2, groups: 6, activation: 'none' }),
  ];
}

function imageCases(): ConformanceCase[] {
  const pixels = (h: number, w: number, seed: number) => {
    const r = rng(seed);
    return Uint32Array.from({ length: h * w }, () => Math.floor(r() * 2 ** 32) >>> 0);
  };
  const channel = (v: number, c: number) => (v >>> (8 * c)) & 0xff;
  // image.test.ts: outputs within ±2.2; f32 v/255, subtraction, division (2.5 ulp) and the f32
  // rounding of mean and std stay within 1e-6.
  return [
    defineCase({
      kernels: ['rgba_to_chw'],
      shape: 'RGBA [13, 37] → [3, 13, 37]',
      setup(gpu) {
        const px = pixels(13, 37, 1101);
        const t = gpu.upload(px, [13, 37], 'u32');
        const want = new Float64Array(3 * px.length);
        for (let c = 0; c < 3; c++) for (let i = 0; i < px.length; i++) want[c * px.length + i] = (channel(px[i]!, c) / 255 - CLIP_MEAN[c]) / CLIP_STD[c];
        return tensorsOut(gpu, [t], () => imageToTensor(gpu, t), async (y) => [{ what: 'y', got: await gpu.readF32(y), want, tol: close(1e-6) }]);
      },
    }),
    defineCase({
      kernels: ['unpack_rgba'],
      shape: 'RGBA [13, 37] → bytes [3, 13, 37]',
      setup(gpu) {
        const px = pixels(13, 37, 1102);
        const t = gpu.upload(px, [13, 37], 'u32');
        const want = new Float64Array(3 * px.length);
        for (let c = 0; c < 3; c++) for (let i = 0; i < px.length; i++) want[c * px.length + i] = channel(px[i]!, c);
        return tensorsOut(gpu, [t], () => unpackRgba(gpu, t), async (y) => [{ what: 'planes', got: (await gpu.read(y)) as Uint32Array, want, tol: EXACT }]);
      },
    }),
    defineCase({
      kernels: ['normalize_bytes'],
      shape: 'bytes [3, 13, 37]',
      setup(gpu) {
        const r = rng(1103);
        const bytes = Uint32Array.from({ length: 3 * 13 * 37 }, () => Math.floor(r() * 256));
        const t = gpu.upload(bytes, [3, 13, 37], 'u32');
        const plane = 13 * 37;
        const want = Float64Array.from(bytes, (v, i) => (v / 255 - CLIP_MEAN[Math.floor(i / plane)]!) / CLIP_STD[Math.floor(i / plane)]!);
        return tensorsOut(gpu, [t], () => normalizeBytes(gpu, t), async (y) => [{ what: 'y', got: await gpu.readF32(y), want, tol: close(1e-6) }]);
      },
    }),
  ];
}

function layoutCases(): ConformanceCase[] {
  // Data movement is exact: every output word is some input word.
  return [
    defineCase({
      kernels: ['strided_copy'],
      shape: '[37, 129][1:, ::2] (i32)',
      setup(gpu) {
        const rows = 37, cols = 129;
        const x = Int32Array.from({ length: rows * cols }, (_, i) => i * 7 - 1000);
        const t = gpu.upload(x, [rows, cols], 'i32');
        const want: number[] = [];
        for (let i = 1; i < rows; i++) for (let j = 0; j < cols; j += 2) want.push(x[i * cols + j]!);
        return tensorsOut(gpu, [t], () => slice(gpu, t, [{ start: 1 }, { step: 2 }]), async (y) => [{ what: 'y', got: (await gpu.read(y)) as Int32Array, want, tol: EXACT }]);
      },
    }),
    defineCase({
      kernels: ['strided_copy4'],
      shape: 'concat([129, 36], [129, 8]; axis 1)',
      setup(gpu) {
        const rows = 129;
        const a = randomF32(rows * 36, 1201), b = randomF32(rows * 8, 1202);
        const ta = gpu.upload(a, [rows, 36]), tb = gpu.upload(b, [rows, 8]);
        const want = new Float32Array(rows * 44);
        for (let i = 0; i < rows; i++) {
          want.set(a.subarray(i * 36, (i + 1) * 36), i * 44);
          want.set(b.subarray(i * 8, (i + 1) * 8), i * 44 + 36);
        }
        return tensorsOut(gpu, [ta, tb], () => concat(gpu, [ta, tb], 1), async (y) => [{ what: 'y', got: await gpu.readF32(y), want, tol: EXACT }]);
      },
    }),
    ...(['block', 'tiled'] as const).map((variant) =>
      defineCase({
        kernels: [`transpose_${variant}`],
        shape: variant === 'block' ? '[3, 37, 13]ᵀ' : '[2, 37, 67]ᵀ',
        setup(gpu) {
          const [b, r, c] = variant === 'block' ? [3, 37, 13] : [2, 37, 67];
          const x = randomF32(b * r * c, 1210);
          const t = gpu.upload(x, [b, r, c]);
          const want = new Float32Array(x.length);
          for (let k = 0; k < b; k++) want.set(transposed(x.subarray(k * r * c, (k + 1) * r * c), r, c), k * r * c);
          return tensorsOut(gpu, [t], () => transpose(gpu, t, -2, -1, { transposeVariant: variant }), async (y) => [{ what: 'y', got: await gpu.readF32(y), want, tol: EXACT }]);
        },
      }),
    ),
    defineCase({
      kernels: ['gather_rows'],
      shape: 'table [37, 13], 129 i32 indices (some out of range)',
      setup(gpu) {
        const rows = 37, len = 13, n = 129;
        const table = randomF32(rows * len, 1221);
        const r = rng(1222);
        const idx = Int32Array.from({ length: n }, () => Math.floor(r() * (rows + 4)) - 2);
        const tt = gpu.upload(table, [rows, len]), ti = gpu.upload(idx, [n], 'i32');
        const want = new Float32Array(n * len);
        // Out-of-range indices (negative included) give a row of zeros.
        idx.forEach((v, i) => v >= 0 && v < rows && want.set(table.subarray(v * len, (v + 1) * len), i * len));
        return tensorsOut(gpu, [tt, ti], () => gatherRows(gpu, tt, ti), async (y) => [{ what: 'y', got: await gpu.readF32(y), want, tol: EXACT }]);
      },
    }),
  ];
}

function poolCases(): ConformanceCase[] {
  const poolCase = (mode: 'max' | 'avg', opts: Pool2dOptions & { kernel: number; stride: number; padding: number; dilation?: number }) =>
    defineCase({
      kernels: ['pool2d'],
      shape: `${mode} [2, 3, 13, 17] k${opts.kernel} s${opts.stride} p${opts.padding}${opts.dilation ? ` d${opts.dilation}` : ''}${opts.ceilMode ? ' ceil' : ''}${opts.countIncludePad === false ? ' no-pad-count' : ''}`,
      setup(gpu) {
        const x = randomF32(2 * 3 * 13 * 17, mode === 'max' ? 1301 : 1302);
        const t = gpu.upload(x, [2, 3, 13, 17]);
        const want = pool2dRef(x, 6, 13, 17, mode, opts.kernel, opts.stride, opts.padding, opts.dilation ?? 1, opts.ceilMode ?? false, opts.countIncludePad ?? true);
        // Max is a selection (exact); an average of ≤ 9 f32 values and one division.
        return tensorsOut(gpu, [t], () => pool2d(gpu, t, mode, opts), async (y) => [{ what: 'y', got: await gpu.readF32(y), want, tol: mode === 'max' ? EXACT : close(2e-6) }]);
      },
    });
  return [
    poolCase('max', { kernel: 3, stride: 2, padding: 1, dilation: 2, ceilMode: true }),
    poolCase('avg', { kernel: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false }),
    defineCase({
      kernels: ['channel_softmax'],
      shape: '[2, 5, 7, 11] over C',
      setup(gpu) {
        const [n, c, px] = [2, 5, 77];
        const x = randomF32(n * c * px, 1311, -6, 6);
        const t = gpu.upload(x, [n, c, 7, 11]);
        const want = new Float64Array(x.length);
        for (let b = 0; b < n; b++) {
          const plane = x.subarray(b * c * px, (b + 1) * c * px);
          want.set(swapAxes(softmaxRef(swapAxes(plane, c, px), px, c), px, c), b * c * px);
        }
        return tensorsOut(gpu, [t], () => channelSoftmax(gpu, t), async (y) => [{ what: 'y', got: await gpu.readF32(y), want, tol: close(2e-7, 1e-6) }]);
      },
    }),
  ];
}

function caaCases(): ConformanceCase[] {
  const n = 67; // two 64-column workgroups
  return [
    defineCase({
      kernels: ['sinkhorn_colsum', 'sinkhorn_rowsum', 'sinkhorn_rowscale'],
      shape: `W [${n}, ${n}], 3 rounds`,
      setup(gpu) {
        const w = randomF32(n * n, 1401, 0.01, 1);
        const t = gpu.upload(w, [n, n]);
        return tensorsOut(gpu, [t], () => sinkhornAffinity(gpu, t, { rounds: 3 }), async (tt) => {
          const m = Float64Array.from(w);
          for (let round = 0; round < 3; round++) {
            for (let j = 0; j < n; j++) {
              let s = 0;
              for (let i = 0; i < n; i++) s += m[i * n + j]!;
              for (let i = 0; i < n; i++) m[i * n + j]! /= s;
            }
            for (let i = 0; i < n; i++) {
              let s = 0;
              for (let j = 0; j < n; j++) s += m[i * n + j]!;
              for (let j = 0; j < n; j++) m[i * n + j]! /= s;
            }
          }
          // caa.test.ts: six normalisations of 67-term sums.
          return [{ what: 'T', got: await gpu.readF32(tt), want: m, tol: close(1e-9, 1e-5) }];
        });
      },
    }),
    defineCase({
      kernels: ['propagate_symmetric'],
      shape: `T [${n}, ${n}], V [5, ${n}]`,
      setup(gpu) {
        const k = 5;
        const tm = randomF32(n * n, 1411, 0, 1 / n), v = randomF32(k * n, 1412);
        const tt = gpu.upload(tm, [n, n]), tv = gpu.upload(v, [k, n]);
        return tensorsOut(gpu, [tt, tv], () => propagateSymmetric(gpu, tt, tv), async (u) => {
          const want = new Float64Array(k * n), mag = new Float64Array(k * n);
          for (let r = 0; r < k; r++) {
            for (let i = 0; i < n; i++) {
              for (let j = 0; j < n; j++) {
                const term = 0.5 * (tm[i * n + j]! + tm[j * n + i]!) * v[r * n + j]!;
                want[r * n + i] += term;
                mag[r * n + i] += Math.abs(term);
              }
            }
          }
          const g = ((n + 2) * U) / (1 - (n + 2) * U);
          return [{ what: 'U', got: await gpu.readF32(u), want, tol: bound(mag.map((a) => 1.5 * g * a + 1e-30), 'γ_n·Σ|terms|') }];
        });
      },
    }),
    defineCase({
      kernels: ['minmax_rows'],
      shape: 'x [67, 37]',
      setup(gpu) {
        const rows = 67, len = 37;
        const x = randomF32(rows * len, 1421, -3, 5);
        const t = gpu.upload(x, [rows, len]);
        return tensorsOut(gpu, [t], () => minMaxRows(gpu, t), async (y) => {
          const f = Math.fround;
          const want = new Float64Array(rows * len);
          for (let r = 0; r < rows; r++) {
            const row = x.subarray(r * len, (r + 1) * len);
            const lo = Math.min(...row), den = f(f(1e-7) + f(Math.max(...row) - lo));
            row.forEach((v, j) => (want[r * len + j] = f(v - lo) / den));
          }
          // caa.test.ts: one division (2.5 ulp in WGSL) on f32-faithful operands.
          return [{ what: 'y', got: await gpu.readF32(y), want, tol: close(3e-7, 3e-7) }];
        });
      },
    }),
    defineCase({
      kernels: ['box_mask'],
      shape: 'cams [3, 13·17], λ 0.4, clip-es boxes',
      setup(gpu) {
        const k = 3, gh = 13, gw = 17, n = gh * gw;
        // Smooth blobs plus noise: several components per row, some touching the far edges.
        const r = rng(1431);
        const cams = new Float32Array(k * n);
        for (let c = 0; c < k; c++) {
          const blobs = Array.from({ length: 3 }, () => [r() * gh, r() * gw, 1 + 3 * r()] as const);
          for (let y = 0; y < gh; y++) {
            for (let x = 0; x < gw; x++) {
              const v = blobs.reduce((m, [by, bx, s]) => Math.max(m, Math.exp(-((y - by) ** 2 + (x - bx) ** 2) / (2 * s * s))), 0);
              cams[c * n + y * gw + x] = Math.min(1, 0.9 * v + 0.1 * r());
            }
          }
        }
        const t = gpu.upload(cams, [k, n]);
        return tensorsOut(
          gpu,
          [t],
          async () => {
            const r2 = await boxMaskCams(gpu, t, [gh, gw], { threshold: 0.4 });
            gpu.release(r2.bad);
            return [r2.mask, r2.masked];
          },
          async ([mask, masked]) => {
            // The host scoremap2bbox (src/wsss/caa.ts boxMask): integer levels and boxes, bit for bit.
            const wantMask = new Uint8Array(k * n), wantMasked = new Float32Array(k * n);
            for (let c = 0; c < k; c++) {
              const m = boxMask(cams.subarray(c * n, (c + 1) * n), gh, gw, 0.4);
              wantMask.set(m, c * n);
              m.forEach((b, i) => (wantMasked[c * n + i] = b ? cams[c * n + i]! : 0));
            }
            return [
              { what: 'mask', got: (await gpu.read(mask!)) as Uint32Array, want: wantMask, tol: EXACT },
              { what: 'masked', got: await gpu.readF32(masked!), want: wantMasked, tol: EXACT },
            ];
          },
        );
      },
    }),
  ];
}

function crfCases(): ConformanceCase[] {
  return [
    defineCase({
      kernels: ['crf_unary'],
      shape: 'probs [3, 13, 37]',
      setup(gpu) {
        const c = 3, pixels = 13 * 37;
        const r = rng(1501);
        const probs = Float32Array.from({ length: c * pixels }, () => fp16(r()));
        const tp = gpu.upload(probs, [c, 13, 37]);
        // The table is the kernel's own input; allocate it before timing.
        negLogTableFor(gpu);
        const want = new Float64Array(pixels * 4);
        const u = unaryRef(probs);
        for (let k = 0; k < c; k++) for (let i = 0; i < pixels; i++) want[i * 4 + k] = u[k * pixels + i]!;
        return {
          run: async () => {
            const unary = gpu.empty([pixels, 1, 4]), bad = gpu.upload(new Uint32Array(1), [1], 'u32');
            await crfUnary(gpu, tp, unary, bad);
            return [unary, bad];
          },
          check: async ([unary, bad]: Tensor[]) => [
            // pydensecrf's float16 steps through a table of every float16 value: bit-exact, padding lane 0.
            { what: 'U', got: await gpu.readF32(unary!), want, tol: EXACT },
            { what: 'non-finite flag', got: (await gpu.read(bad!)) as Uint32Array, want: [0], tol: EXACT },
          ],
          free: (ts: Tensor[]) => gpu.release(...ts),
          dispose: () => gpu.release(tp),
        };
      },
    }),
    defineCase({
      kernels: ['crf_dispatch_args', 'crf_splat', 'crf_blur', 'crf_norm', 'crf_fold', 'crf_update'],
      shape: 'denseCrf 17×19, 3 labels, 10 iterations',
      setup(gpu) {
        const h = 17, w = 19, c = 3;
        const r = rng(1511);
        const image = Uint8Array.from({ length: h * w * 3 }, () => Math.floor(r() * 256));
        const probs = Float32Array.from({ length: c * h * w }, () => fp16(r()));
        const tp = gpu.upload(probs, [c, h, w]);
        // The lattice is host work the CRF's caller does once per image; build it outside the timing.
        const lattice = buildCrfLattice(image, h, w);
        return tensorsOut(
          gpu,
          [tp],
          async () => (await denseCrf(gpu, { image, height: h, width: w, probs: tp, lattice })).q,
          // crf.test.ts: on uniform noise the float32 filtering error grows ×1.8 per mean-field
          // iteration, ≤ 9.4e-5 after ten (8 seeds); 5e-4 bounds it.
          async (q) => [{ what: 'Q', got: await gpu.readF32(q), want: denseCrfRef({ image, height: h, width: w, probs, channels: c }), tol: close(5e-4) }],
        );
      },
    }),
    defineCase({
      kernels: [
        'fill_u32', 'crf_lattice_simplex', 'crf_lattice_insert', 'crf_lattice_first', 'crf_lattice_vertex', 'crf_lattice_space', 'crf_lattice_order',
        'crf_lattice_slots', 'crf_lattice_sortkeys', 'crf_lattice_csr', 'crf_lattice_pixels', 'crf_lattice_neighbours',
      ],
      shape: 'buildCrfLatticeGpu 17×19 (both lattices, CSR tables)',
      setup(gpu) {
        const h = 17, w = 19;
        const r = rng(1531);
        const image = Uint8Array.from({ length: h * w * 3 }, () => Math.floor(r() * 256));
        // The host builder is the reference the GPU build reproduces bit for bit (it is checked
        // against crf-ref.ts's independent latticeRef in crf.test.ts).
        const host = buildCrfLattice(image, h, w);
        const release = (l: GpuCrfLattice | undefined) => {
          if (l) gpu.release(l.tensors.rowStart, l.tensors.entryPixel, l.tensors.entryWeight, l.tensors.neighbours, l.tensors.pixelSlot, l.tensors.pixelWeight, l.tensors.space);
        };
        return {
          // At this size a first hash table overflows: built again with the full ones, as denseCrf does.
          run: async () => {
            const first = await buildCrfLatticeGpu(gpu, image, h, w);
            if (!first || ((await gpu.read(first.tensors.space)) as Uint32Array)[4] === 0) return first;
            release(first);
            return buildCrfLatticeGpu(gpu, image, h, w, undefined, undefined, 'full');
          },
          check: async (l: GpuCrfLattice | undefined) => {
            if (!l) return [{ what: 'built on the GPU (not declined)', got: [0], want: [1], tol: EXACT }];
            const t = l.tensors;
            // rowStart and neighbours are sized for bounds of the vertex counts: their first words.
            const space = (await gpu.read(t.space)) as Uint32Array;
            return [
              { what: 'vertex counts, slots, overflow', got: space.slice(0, 5), want: [host.gaussianVertices, host.bilateralVertices, host.slots, 1 + host.gaussianVertices, 0], tol: EXACT },
              { what: 'row_start', got: ((await gpu.read(t.rowStart)) as Uint32Array).slice(0, host.rowStart.length), want: host.rowStart, tol: EXACT },
              { what: 'entry_pixel', got: (await gpu.read(t.entryPixel)) as Uint32Array, want: host.entryPixel, tol: EXACT },
              { what: 'entry_weight', got: await gpu.readF32(t.entryWeight), want: host.entryWeight, tol: EXACT },
              { what: 'neighbours', got: ((await gpu.read(t.neighbours)) as Uint32Array).slice(0, host.neighbours.length), want: host.neighbours, tol: EXACT },
              { what: 'pixel_slot', got: (await gpu.read(t.pixelSlot)) as Uint32Array, want: host.pixelSlot, tol: EXACT },
              { what: 'pixel_weight', got: await gpu.readF32(t.pixelWeight), want: host.pixelWeight, tol: EXACT },
            ];
          },
          free: release,
          dispose: () => {},
        };
      },
    }),
    defineCase({
      kernels: ['crf_seeds'],
      shape: 'Q [3, 37, 29], confidence 0.6',
      setup(gpu) {
        const c = 3, n = 37 * 29;
        const r = rng(1521);
        const q = new Float32Array(c * n);
        for (let i = 0; i < n; i++) {
          const raw = Array.from({ length: c }, () => r() ** 4);
          const s = raw.reduce((a, b) => a + b, 0);
          raw.forEach((v, k) => (q[k * n + i] = v / s));
        }
        const t = gpu.upload(q, [c, 37, 29]);
        const keys = [4, 17];
        return {
          run: () => crfSeeds(gpu, t, keys, { confidence: 0.6 }),
          check: async (seeds: Uint8Array) => [{ what: 'labels', got: seeds, want: crfSeedsRef(q, c, keys, 0.6), tol: EXACT }],
          free: () => {},
          dispose: () => gpu.release(t),
        };
      },
    }),
  ];
}

function labelCases(): ConformanceCase[] {
  const k = 5, h = 13, w = 37, pixels = h * w;
  return [
    defineCase({
      kernels: ['labels_argmax'],
      shape: `scores [${k}, ${h}, ${w}], bg (1 − max)², float16`,
      setup(gpu) {
        const r = rng(1601);
        const scores = Float32Array.from({ length: k * pixels }, () => fp16(r()));
        const t = gpu.upload(scores, [k, h, w]);
        const lut = [0, 3, 8, 12, 15, 20];
        // numpy's float16 arithmetic (labels_argmax.wgsl): bg = fp16(fp16(1 − max)²); 1 − m and
        // its square are exact in f32 for float16 m, so fp16 of the float64 value is the same number.
        const want = new Uint8Array(pixels);
        for (let p = 0; p < pixels; p++) {
          let m = scores[p]!;
          for (let c = 1; c < k; c++) m = Math.max(m, scores[c * pixels + p]!);
          let best = fp16(fp16(1 - m) ** 2), idx = 0;
          for (let c = 0; c < k; c++) if (scores[c * pixels + p]! > best) [best, idx] = [scores[c * pixels + p]!, c + 1];
          want[p] = lut[idx]!;
        }
        return tensorsOut(gpu, [t], () => labelsArgmax(gpu, t, lut, { mode: 'power', fp16: true, exponent: 2, bgConst: 0 }), async (labels) => [
          { what: 'labels', got: unpackBytes((await gpu.read(labels)) as Uint32Array, pixels), want, tol: EXACT },
        ]);
      },
    }),
    defineCase({
      kernels: ['labels_probs'],
      shape: `cams [${k}, ${h}, ${w}] → [bg, cams] float16`,
      setup(gpu) {
        const cams = randomF32(k * pixels, 1611, 0, 1);
        const t = gpu.upload(cams, [k, h, w]);
        const want = new Float64Array((k + 1) * pixels);
        for (let p = 0; p < pixels; p++) {
          let m = -Infinity;
          for (let c = 0; c < k; c++) {
            const v = fp16(cams[c * pixels + p]!);
            want[(c + 1) * pixels + p] = v;
            m = Math.max(m, v);
          }
          want[p] = fp16(1 - m);
        }
        return tensorsOut(
          gpu,
          [t],
          async () => {
            const probs = gpu.empty([k + 1, h, w]);
            await labelsProbs(gpu, t, probs);
            return probs;
          },
          async (probs) => [{ what: 'probs', got: await gpu.readF32(probs), want, tol: EXACT }],
        );
      },
    }),
  ];
}

function parCases(): ConformanceCase[] {
  const h = 13, w = 11, plane = h * w;
  const dilations = [1, 3];
  const offsets = parOffsets(dilations);
  const taps = offsets.length / 2;
  const neighbour = (i: number, j: number) => {
    const y = Math.floor(i / w), x = i % w;
    return Math.min(Math.max(y + offsets[2 * j]!, 0), h - 1) * w + Math.min(Math.max(x + offsets[2 * j + 1]!, 0), w - 1);
  };
  return [
    defineCase({
      kernels: ['par_affinity'],
      shape: `image [3, ${h}, ${w}], ${taps} neighbours`,
      setup(gpu) {
        const img = randomF32(3 * plane, 1701, 0, 1);
        const w1 = 0.3;
        const pos = Float32Array.from(parPositionSoftmax(dilations, w1), (v) => 0.01 * v);
        const t = [gpu.upload(img, [3, h, w]), gpu.upload(offsets, [taps, 2], 'i32'), gpu.upload(pos, [taps])] as const;
        // κ_ij = mean_c −(|I_j − I_i| / (σ_c + 1e-8) / w1)², a = softmax_j κ + pos (par_affinity.wgsl).
        const want = new Float64Array(taps * plane);
        for (let i = 0; i < plane; i++) {
          const kappa = new Float64Array(taps);
          for (let c = 0; c < 3; c++) {
            const v = Array.from({ length: taps }, (_, j) => img[c * plane + neighbour(i, j)]!);
            const mean = v.reduce((s, x) => s + x, 0) / taps;
            const sd = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (taps - 1));
            v.forEach((x, j) => (kappa[j]! -= (Math.abs(x - img[c * plane + i]!) / (sd + 1e-8) / w1) ** 2 / 3));
          }
          const p = softmaxRef(kappa, 1, taps);
          for (let j = 0; j < taps; j++) want[j * plane + i] = p[j]! + pos[j]!;
        }
        // par.test.ts: κ reaches −1e3 near edges; its f32 rounding is a relative error of the weights.
        return tensorsOut(gpu, [...t], () => parAffinityWeights(gpu, t[0], t[1], t[2], w1), async (aff) => [{ what: 'a', got: await gpu.readF32(aff), want, tol: close(1e-7, 2e-4) }]);
      },
    }),
    defineCase({
      kernels: ['par_step'],
      shape: `M [5, ${h}, ${w}], ${taps} neighbours`,
      setup(gpu) {
        const c = 5;
        const aff = randomF32(taps * plane, 1711, 0, 1 / taps), m = randomF32(c * plane, 1712);
        const t = [gpu.upload(aff, [taps, h, w]), gpu.upload(offsets, [taps, 2], 'i32'), gpu.upload(m, [c, h, w])] as const;
        const want = new Float64Array(c * plane), mag = new Float64Array(c * plane);
        for (let k = 0; k < c; k++) {
          for (let i = 0; i < plane; i++) {
            for (let j = 0; j < taps; j++) {
              const term = aff[j * plane + i]! * m[k * plane + neighbour(i, j)]!;
              want[k * plane + i] += term;
              mag[k * plane + i] += Math.abs(term);
            }
          }
        }
        const g = (taps * U) / (1 - taps * U);
        return tensorsOut(
          gpu,
          [...t],
          async () => {
            const out = gpu.empty([c, h, w]);
            await parStep(gpu, t[0], t[1], t[2], out);
            return out;
          },
          async (out) => [{ what: 'M′', got: await gpu.readF32(out), want, tol: bound(mag.map((a) => 1.5 * g * a + 1e-30), 'γ_P·Σ|a·m|') }],
        );
      },
    }),
    defineCase({
      kernels: ['par_softmax'],
      shape: `bg [1, ${h}, ${w}], cams [4, ${h}, ${w}]`,
      setup(gpu) {
        const k = 4;
        const bg = randomF32(plane, 1721, 0, 1), cams = randomF32(k * plane, 1722, 0, 1);
        const tb = gpu.upload(bg, [1, h, w]), tc = gpu.upload(cams, [k, h, w]);
        const stacked = new Float64Array((k + 1) * plane);
        stacked.set(bg);
        stacked.set(cams, plane);
        const want = swapAxes(softmaxRef(swapAxes(stacked, k + 1, plane), plane, k + 1), plane, k + 1);
        return tensorsOut(gpu, [tb, tc], () => parSoftmax(gpu, tb, tc), async (p) => [{ what: 'p', got: await gpu.readF32(p), want, tol: close(1e-7, 1e-6) }]);
      },
    }),
    defineCase({
      kernels: ['afa_combine'],
      shape: '129 words (516 label bytes)',
      setup(gpu) {
        const words = 129, r = rng(1731);
        // Labels with plenty of background (0) in both maps.
        const bytes = () => Uint8Array.from({ length: 4 * words }, () => (r() < 0.5 ? 0 : 1 + Math.floor(r() * 20)));
        const high = bytes(), low = bytes();
        const th = gpu.upload(new Uint32Array(high.buffer), [words], 'u32'), tl = gpu.upload(new Uint32Array(low.buffer), [words], 'u32');
        // A class from the high-background run stays; its background is 0 only if the low run agrees, else 255.
        const want = Uint8Array.from(high, (h, i) => (h !== 0 ? h : low[i] !== 0 ? 255 : 0));
        return tensorsOut(gpu, [th, tl], () => afaCombine(gpu, th, tl), async (labels) => [
          { what: 'labels', got: unpackBytes((await gpu.read(labels)) as Uint32Array, 4 * words), want, tol: EXACT },
        ]);
      },
    }),
    ...(['clip-es', 'rgb'] as const).map((mode) =>
      defineCase({
        kernels: ['crf_image'],
        shape: `13×37 RGBA → ${mode} bytes, every byte value`,
        setup(gpu) {
          const h = 13, w = 37, r = rng(1741);
          // Every byte value occurs in every channel (the first 256 pixels), then random ones.
          const rgba = Uint8Array.from({ length: 4 * h * w }, (_, i) => (i < 4 * 256 ? i >> 2 : Math.floor(r() * 256)));
          const rgb = Uint8Array.from({ length: 3 * h * w }, (_, i) => rgba[4 * Math.floor(i / 3) + (i % 3)]!);
          const want = crfImage(rgb, mode);
          const t = gpu.upload(new Uint32Array(rgba.buffer), [h, w], 'u32');
          return tensorsOut(gpu, [t], () => crfImageWords(gpu, t, mode === 'clip-es' ? CLIP_ES_MEAN_BGR : undefined), async (words) => [
            { what: 'colours', got: unpackBytes((await gpu.read(words)) as Uint32Array, 3 * h * w), want, tol: EXACT },
          ]);
        },
      }),
    ),
  ];
}

function scanCases(): ConformanceCase[] {
  // 4099 values: three scan tiles of 2048 (the tile sums are scanned recursively) and two sort tiles
  // of 4096. Both ops work in place or ping-pong over their inputs, so each call uploads fresh ones
  // (the upload is inside the timing).
  const n = 4099;
  return [
    defineCase({
      kernels: ['scan_reduce', 'scan_apply'],
      shape: `exclusive scan of ${n} u32`,
      setup(gpu) {
        const r = rng(1901);
        const values = Uint32Array.from({ length: n }, () => Math.floor(r() * 2 ** 21));
        const want = new Uint32Array(n);
        for (let i = 1; i < n; i++) want[i] = (want[i - 1]! + values[i - 1]!) >>> 0;
        return tensorsOut(
          gpu,
          [],
          async () => {
            const data = gpu.upload(values, [n], 'u32');
            await exclusiveScan(gpu, data, n);
            return data;
          },
          async (data) => [{ what: 'prefix sums', got: (await gpu.read(data)) as Uint32Array, want, tol: EXACT }],
        );
      },
    }),
    defineCase({
      kernels: ['radix_count', 'radix_scatter'],
      shape: `stable radix sort of ${n} (12-bit key, value) pairs`,
      setup(gpu) {
        const r = rng(1911);
        // Few distinct keys, so stability (equal keys keep their order) is tested.
        const keys = Uint32Array.from({ length: n }, () => Math.floor(r() * 300) * 13);
        const vals = Uint32Array.from({ length: n }, (_, i) => i);
        const order = Array.from(vals).sort((a, b) => keys[a]! - keys[b]! || a - b);
        return tensorsOut(
          gpu,
          [],
          async () => {
            const s2 = await radixSortPairs(gpu, gpu.upload(keys, [n], 'u32'), gpu.upload(vals, [n], 'u32'), n, 12);
            return [s2.keys, s2.vals, ...s2.spare];
          },
          async ([k2, v2]) => [
            { what: 'keys', got: (await gpu.read(k2!)) as Uint32Array, want: order.map((i) => keys[i]!), tol: EXACT },
            { what: 'values', got: (await gpu.read(v2!)) as Uint32Array, want: order, tol: EXACT },
          ],
        );
      },
    }),
  ];
}

/** randomwalk_affinity.wgsl's window table and column sums, in float64 (psa's pair set). */
function rwAffinityRef(f: ArrayLike<number>, c: number, h: number, w: number, radius: number, beta: number): { table: Float64Array; colsum: Float64Array } {
  const n = h * w, rf = radius - 1, side = 2 * rf + 1;
  const table = new Float64Array(side * side * n), colsum = new Float64Array(n);
  const half = (dy: number, dx: number) => (dy === 0 ? dx >= 1 && dx <= rf : dy >= 1 && dy <= rf && Math.abs(dx) <= rf && dx * dx + dy * dy < radius * radius);
  const from = (y: number, x: number) => y < h - rf && x >= rf && x < w - rf;
  for (let by = 0; by < h; by++) {
    for (let bx = 0; bx < w; bx++) {
      const b = by * w + bx;
      for (let oy = -rf; oy <= rf; oy++) {
        for (let ox = -rf; ox <= rf; ox++) {
          const ay = by + oy, ax = bx + ox;
          let v = 0;
          if (oy === 0 && ox === 0) v = 1;
          else if (ay >= 0 && ay < h && ax >= 0 && ax < w && ((half(-oy, -ox) && from(ay, ax)) || (half(oy, ox) && from(by, bx)))) {
            let dist = 0;
            for (let ch = 0; ch < c; ch++) dist += Math.abs(f[ch * n + ay * w + ax]! - f[ch * n + b]!);
            v = Math.exp(-dist / c) ** beta;
          }
          table[((oy + rf) * side + (ox + rf)) * n + b] = v;
          colsum[b] += v;
        }
      }
    }
  }
  return { table, colsum };
}

function randomWalkCases(): ConformanceCase[] {
  const c = 4, h = 9, w = 11, radius = 3, beta = 2;
  return [
    defineCase({
      kernels: ['randomwalk_affinity'],
      shape: `features [${c}, ${h}, ${w}], radius ${radius}, β ${beta}`,
      setup(gpu) {
        const f = randomF32(c * h * w, 1801, 0, 2);
        const t = gpu.upload(f, [c, h, w]);
        const ref = rwAffinityRef(f, c, h, w, radius, beta);
        return tensorsOut(
          gpu,
          [t],
          async () => {
            const r = await rwAffinity(gpu, t, radius, beta);
            return [r.table, r.colsum];
          },
          // randomwalk.test.ts: a 4-term f32 distance, exp and a square.
          async ([table, colsum]) => [
            { what: 'W^β window', got: await gpu.readF32(table!), want: ref.table, tol: close(1e-12, 4e-6) },
            { what: 'colsum', got: await gpu.readF32(colsum!), want: ref.colsum, tol: close(1e-12, 4e-6) },
          ],
        );
      },
    }),
    defineCase({
      kernels: ['randomwalk_dense'],
      shape: `T [${h * w}, ${h * w}] from the window table, radius ${radius}`,
      setup(gpu) {
        const f = randomF32(c * h * w, 1811, 0, 2);
        const ref = rwAffinityRef(f, c, h, w, radius, beta);
        const table = Float32Array.from(ref.table), colsum = Float32Array.from(ref.colsum);
        const n = h * w, rf = radius - 1, side = 2 * rf + 1;
        const tt = gpu.upload(table, [side * side, n]), tc = gpu.upload(colsum, [n]);
        const want = new Float64Array(n * n);
        for (let a = 0; a < n; a++) {
          for (let b = 0; b < n; b++) {
            const oy = Math.floor(a / w) - Math.floor(b / w), ox = (a % w) - (b % w);
            if (Math.abs(oy) <= rf && Math.abs(ox) <= rf) want[a * n + b] = table[((oy + rf) * side + (ox + rf)) * n + b]! / colsum[b]!;
          }
        }
        // One division of f32 inputs (WGSL allows 2.5 ulp).
        return tensorsOut(gpu, [tt, tc], () => rwDense(gpu, tt, tc, h, w, radius), async (tm) => [{ what: 'T', got: await gpu.readF32(tm), want, tol: close(1e-30, 3e-7) }]);
      },
    }),
    defineCase({
      kernels: ['randomwalk_cams'],
      shape: 'cams [3, 13, 17] → [4, 4·5], pool 4, α 2',
      setup(gpu) {
        const k = 3, ch = 13, cw = 17, pool = 4, gh = Math.ceil(ch / pool), gw = Math.ceil(cw / pool), alpha = 2;
        const cams = randomF32(k * ch * cw, 1821, 0, 1);
        const t = gpu.upload(cams, [k, ch, cw]);
        const plane = ch * cw;
        const want = new Float64Array((k + 1) * gh * gw);
        for (let c = 0; c <= k; c++) {
          for (let cy = 0; cy < gh; cy++) {
            for (let cx = 0; cx < gw; cx++) {
              let s = 0;
              for (let y = cy * pool; y < Math.min((cy + 1) * pool, ch); y++) {
                for (let x = cx * pool; x < Math.min((cx + 1) * pool, cw); x++) {
                  const at = y * cw + x;
                  if (c > 0) s += cams[(c - 1) * plane + at]!;
                  else {
                    let m = cams[at]!;
                    for (let q = 1; q < k; q++) m = Math.max(m, cams[q * plane + at]!);
                    s += (1 - m) ** alpha;
                  }
                }
              }
              // Zero padding past the image counts in the divisor.
              want[(c * gh + cy) * gw + cx] = s / (pool * pool);
            }
          }
        }
        return tensorsOut(gpu, [t], () => rwSeeds(gpu, t, gh, gw, pool, alpha), async (seeds) => [{ what: 'seeds', got: await gpu.readF32(seeds), want, tol: close(1e-7, 1e-6) }]);
      },
    }),
  ];
}

// Training kernels (src/kernels/train/): float64 references and their bounds from
// test/train/reference.ts (checked against PyTorch autograd by test/train/*.test.ts).
function trainCases(): ConformanceCase[] {
  /** In-place updates (optimizer steps, accumulation): run() returns nothing to free; the inputs are the result. */
  const inPlace = (gpu: Gpu, inputs: Tensor[], run: () => Promise<void>, check: () => Promise<Comparison[]>): Prepared<void> => ({
    run, check, free: () => {}, dispose: () => gpu.release(...inputs),
  });
  const bnLayer = (gpu: Gpu, c: number, seed: number) => {
    const p = { gamma: randomF32(c, seed, 0.5, 1.5), beta: randomF32(c, seed + 1), runningMean: randomF32(c, seed + 2), runningVar: randomF32(c, seed + 3, 0.5, 2), eps: 1e-5, momentum: 0.1 };
    const t = { gamma: gpu.upload(p.gamma, [c]), beta: gpu.upload(p.beta, [c]), runningMean: gpu.upload(p.runningMean, [c]), runningVar: gpu.upload(p.runningVar, [c]), eps: p.eps, momentum: p.momentum };
    return { p, t, tensors: [t.gamma, t.beta, t.runningMean, t.runningVar] };
  };
  const evens = (v: Float32Array) => v.filter((_, i) => i % 2 === 0);
  const odds = (v: Float32Array) => v.filter((_, i) => i % 2 === 1);
  return [
    ...([
      [['conv2d_backward_input', 'conv2d_backward_weight', 'conv2d_backward_weight_reduce'], 'x [2, 6, 13, 11] w [4, 3, 3, 3] s2 p1 d2 g2 bias',
        { x: [2, 6, 13, 11], w: [4, 3, 3, 3], stride: [2, 2], padding: [1, 1], dilation: [2, 2], groups: 2 }],
      [['conv2d_backward_input_depthwise', 'conv2d_backward_weight_depthwise', 'conv2d_backward_weight_reduce'], 'depthwise ×2 x [2, 5, 13, 11] w [10, 3, 3, 1] s2 p1 bias',
        { x: [2, 5, 13, 11], w: [10, 3, 3, 1], stride: [2, 2], padding: [1, 1], dilation: [1, 1], groups: 5 }],
    ] as [string[], string, TrainConvSpec][]).map(([kernels, shape, spec], i) => defineCase({
      kernels,
      shape,
      setup(gpu) {
        const [ho, wo] = convOutSize(spec);
        const [n, cin, h, w] = spec.x, cout = spec.w[0];
        const x = randomF32(n * cin * h * w, 1501 + 10 * i), wt = randomF32(spec.w.reduce((a, b) => a * b, 1), 1502 + 10 * i), dy = randomF32(n * cout * ho * wo, 1503 + 10 * i);
        const t = [gpu.upload(x, spec.x), gpu.upload(wt, spec.w), gpu.upload(dy, [n, cout, ho, wo])] as const;
        const opts = { stride: spec.stride, padding: spec.padding, dilation: spec.dilation, groups: spec.groups, bias: true };
        return tensorsOut(gpu, [...t], async () => {
          const r = await conv2dBackward(gpu, t[2], t[0], t[1], opts);
          return [r.dx!, r.dw, r.db!];
        }, async ([dx, dw, db]) => {
          const ref = conv2dBackwardRef(spec, x, wt, dy);
          // Sums of n products in any order: γ_{n+1}·Σ|terms| (test/train/reference.ts).
          return [
            { what: 'dx', got: await gpu.readF32(dx!), want: ref.dx, tol: bound(sumBound(ref.dxAbs, ref.dxTerms), 'γ_n·Σ|terms|') },
            { what: 'dw', got: await gpu.readF32(dw!), want: ref.dw, tol: bound(sumBound(ref.dwAbs, ref.dwTerms), 'γ_n·Σ|terms|') },
            { what: 'db', got: await gpu.readF32(db!), want: ref.db, tol: bound(sumBound(ref.dbAbs, ref.dwTerms), 'γ_n·Σ|terms|') },
          ];
        });
      },
    })),
    defineCase({
      kernels: ['batchnorm_stats', 'batchnorm_apply'],
      shape: 'training [2, 7, 13, 11]: batch statistics, running update',
      setup(gpu) {
        const shape: [number, number, number, number] = [2, 7, 13, 11];
        const x = randomF32(2 * 7 * 143, 1511, -2, 4);
        const layer = bnLayer(gpu, 7, 1512);
        const tx = gpu.upload(x, shape);
        return tensorsOut(gpu, [tx, ...layer.tensors], async () => {
          const r = await batchNormForward(gpu, tx, layer.t, { training: true });
          return [r.y, r.stats];
        }, async ([y, stats]) => {
          const ref = batchNormRef(shape, x, new Float32Array(x.length), { ...layer.p, training: true });
          const st = await gpu.readF32(stats!);
          return [
            { what: 'y', got: await gpu.readF32(y!), want: ref.y, tol: bound(ref.bounds.y, 'from δmean, δrstd') },
            { what: 'mean', got: evens(st), want: ref.mean, tol: bound(ref.bounds.mean, 'γ_M·mean|x|') },
            { what: 'rstd', got: odds(st), want: ref.rstd, tol: bound(ref.bounds.rstd, '(γ_M + 6u)·rstd') },
            { what: 'running_var', got: await gpu.readF32(layer.t.runningVar), want: ref.runningVar, tol: bound(ref.bounds.runningVar, '(γ_M + 6u)·|terms|') },
          ];
        });
      },
    }),
    ...([true, false] as const).map((training) =>
      defineCase({
        kernels: training ? ['batchnorm_backward'] : ['batchnorm_stats', 'batchnorm_apply', 'batchnorm_backward'],
        shape: training ? 'training [2, 7, 13, 11]: dx, dγ, dβ from f32 stats' : 'frozen [2, 7, 13, 11]: forward and backward on running statistics',
        setup(gpu) {
          const shape: [number, number, number, number] = [2, 7, 13, 11];
          const x = randomF32(2 * 7 * 143, 1521, -2, 4), g = randomF32(2 * 7 * 143, 1522);
          const layer = bnLayer(gpu, 7, 1523);
          const ref = batchNormRef(shape, x, g, { ...layer.p, training });
          const stats = new Float32Array(14);
          ref.mean.forEach((m, i) => ((stats[2 * i] = m), (stats[2 * i + 1] = ref.rstd[i]!)));
          const t = [gpu.upload(x, shape), gpu.upload(g, shape), gpu.upload(stats, [7, 2])] as const;
          return tensorsOut(gpu, [...t, ...layer.tensors], async () => {
            if (training) {
              const r = await batchNormBackward(gpu, t[1], t[0], t[2], layer.t.gamma, { training });
              return [r.dx, r.dgamma!, r.dbeta!];
            }
            const f = await batchNormForward(gpu, t[0], layer.t, { training });
            const r = await batchNormBackward(gpu, t[1], t[0], f.stats, layer.t.gamma, { training });
            return [r.dx, r.dgamma!, r.dbeta!, f.y, f.stats];
          }, async ([dx, dgamma, dbeta, y]) => [
            { what: 'dx', got: await gpu.readF32(dx!), want: ref.dx, tol: bound(ref.bounds.dx, training ? '2γ_{M+8}·Σ|terms|' : '8u·|dx|') },
            { what: 'dγ', got: await gpu.readF32(dgamma!), want: ref.dgamma, tol: bound(ref.bounds.dgamma, 'γ_{M+8}·Σ|g|(|x̂| + μ)') },
            { what: 'dβ', got: await gpu.readF32(dbeta!), want: ref.dbeta, tol: bound(ref.bounds.dbeta, 'γ_M·Σ|g|') },
            ...(y ? [{ what: 'y', got: await gpu.readF32(y), want: ref.y, tol: bound(ref.bounds.y, '6u·|x̂γ| + 4u·(|y| + |β|)') }] : []),
          ]);
        },
      }),
    ),
    defineCase({
      kernels: ['relu_backward'],
      shape: '1297, y with zeros',
      setup(gpu) {
        const y = randomF32(1297, 1531).map((v) => Math.max(v, 0)), g = randomF32(1297, 1532);
        const t = [gpu.upload(y, [1297]), gpu.upload(g, [1297])] as const;
        // A selection: exact.
        return tensorsOut(gpu, [...t], () => reluBackward(gpu, t[1], t[0]), async (dx) => [{ what: 'dx', got: await gpu.readF32(dx), want: reluBackwardRef(g, y), tol: EXACT }]);
      },
    }),
    defineCase({
      kernels: ['grad_accumulate'],
      shape: 'acc [1297] += g',
      setup(gpu) {
        const a = randomF32(1297, 1541), g = randomF32(1297, 1542);
        const t = [gpu.upload(a, [1297]), gpu.upload(g, [1297])] as const;
        // One f32 addition per element (the reference rounds it the same way): exact.
        return inPlace(gpu, [...t], async () => void (await accumulateGrad(gpu, t[0], t[1])), async () => [
          { what: 'acc', got: await gpu.readF32(t[0]), want: Array.from(a, (v, i) => Math.fround(v + g[i]!)), tol: EXACT },
        ]);
      },
    }),
    defineCase({
      kernels: ['maxpool_forward_indices', 'maxpool_backward'],
      shape: '[2, 3, 13, 17] k3 s2 p1 d2 ceil, quantised (ties)',
      setup(gpu) {
        const spec: TrainPoolSpec = { kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [2, 2], ceilMode: true };
        const x = randomF32(2 * 3 * 13 * 17, 1551, -2, 2).map((v) => Math.round(v * 4) / 4);
        const fwd = maxPoolRef(x, 6, 13, 17, spec);
        const g = randomF32(fwd.y.length, 1552);
        const back = maxPoolBackwardRef(g, fwd.idx, 6, 13, 17, fwd.ho, fwd.wo);
        const t = [gpu.upload(x, [2, 3, 13, 17]), gpu.upload(g, [2, 3, fwd.ho, fwd.wo])] as const;
        const opts = { kernel: spec.kernel, stride: spec.stride, padding: spec.padding, dilation: spec.dilation, ceilMode: spec.ceilMode };
        return tensorsOut(gpu, [...t], async () => {
          const f = await maxPool2dWithIndices(gpu, t[0], opts);
          return [f.y, f.indices, await maxPool2dBackward(gpu, t[1], f.indices, [2, 3, 13, 17], opts)];
        }, async ([y, idx, dx]) => [
          // Selections are exact; a dx element adds the few gradients routed to it.
          { what: 'y', got: await gpu.readF32(y!), want: fwd.y, tol: EXACT },
          { what: 'indices', got: (await gpu.read(idx!)) as Uint32Array, want: fwd.idx, tol: EXACT },
          { what: 'dx', got: await gpu.readF32(dx!), want: back.dx, tol: bound(back.bound, 'γ_k·Σ|terms|') },
        ]);
      },
    }),
    defineCase({
      kernels: ['bilinear_backward'],
      shape: '[2, 3, 7, 9] ← [2, 3, 13, 17] align_corners False',
      setup(gpu) {
        const g = randomF32(6 * 13 * 17, 1561);
        const t = gpu.upload(g, [2, 3, 13, 17]);
        return tensorsOut(gpu, [t], () => bilinearBackward(gpu, t, [7, 9]), async (dx) => {
          const ref = bilinearBackwardRef(g, 6, 7, 9, 13, 17, false);
          return [{ what: 'dx', got: await gpu.readF32(dx), want: ref.dx, tol: bound(ref.bound, 'γ_n·Σ|terms| + δλ·Σ|g|') }];
        });
      },
    }),
    defineCase({
      kernels: ['cross_entropy_pixels', 'cross_entropy_reduce', 'cross_entropy_backward'],
      shape: 'logits [2, 5, 13, 11], byte labels, 20 % ignored, class weights',
      setup(gpu) {
        const shape: [number, number, number, number] = [2, 5, 13, 11];
        const logits = randomF32(2 * 5 * 143, 1571, -6, 6), weights = randomF32(5, 1572, 0.2, 2);
        const r = rng(1573);
        const labels = Uint32Array.from({ length: 286 }, () => (r() < 0.2 ? 255 : Math.floor(r() * 5)));
        const words = new Uint32Array(Math.ceil(286 / 4));
        labels.forEach((v, i) => (words[i >> 2]! |= v << (8 * (i & 3))));
        const t = [gpu.upload(logits, shape), gpu.upload(words, [words.length], 'u32'), gpu.upload(weights, [5])] as const;
        return tensorsOut(gpu, [...t], async () => {
          const res = await softmaxCrossEntropy(gpu, t[0], t[1], { classWeights: t[2], labelLayout: 'u8x4' });
          return [res.loss, res.dlogits!];
        }, async ([loss, dl]) => {
          const ref = crossEntropyRef(logits, labels, shape, weights, 255);
          // Per pixel: WGSL's exp/log accuracies; the mean: γ_P over the pixels (reference.ts).
          return [
            { what: 'loss', got: [(await gpu.readF32(loss!))[0]!], want: [ref.loss], tol: bound([ref.lossBound], 'exp/log + γ_P·Σ|w·l|') },
            { what: 'dlogits', got: await gpu.readF32(dl!), want: ref.dlogits, tol: bound(ref.dBound, '(2e + γ_C + 3ulp)·p + (γ_P + 4u)·|d|') },
          ];
        });
      },
    }),
    defineCase({
      kernels: ['augment_image', 'augment_labels'],
      shape: 'RGBA [37, 5] → slot 1 of [3, 3, 9, 7], s1.25, flip, caffe-bgr, packed labels',
      setup(gpu) {
        // test/train/augment.test.ts: labels exact; image within u·(9·255 + 2|mean|) + 5u·|want|.
        const r = rng(1595);
        const rgba = Uint8Array.from({ length: 4 * 37 * 5 }, () => Math.floor(r() * 256));
        const labels = Uint8Array.from({ length: 37 * 5 }, () => (r() < 0.1 ? 255 : Math.floor(r() * 21)));
        const words = packLabelBytes(labels);
        const t = [gpu.upload(new Uint32Array(rgba.buffer), [37, 5], 'u32'), gpu.upload(words, [words.length], 'u32')] as const;
        const place = augmentPlacement([37, 5], { crop: [9, 7] }, 1.25, [30, 0], true);
        const ref = augmentRef(rgba, labels, 37, 5, place, AUGMENT_NORMALIZATIONS['caffe-bgr']);
        return tensorsOut(gpu, [...t], async () => {
          const b = augmentBatch(gpu, 3, [9, 7], 'u8x4');
          await augmentSample(gpu, t[0], t[1], place, b, 1, { normalization: 'caffe-bgr' });
          return [b.images, b.labels];
        }, async ([images, packed]) => [
          { what: 'image', got: (await gpu.readF32(images!)).subarray(3 * 63, 6 * 63), want: ref.image, tol: bound(ref.bound, 'u·(9·255 + 2|mean|) + 5u·|ref|') },
          { what: 'labels', got: unpackBytes((await gpu.read(packed!)) as Uint32Array, 3 * 63).subarray(63, 126), want: ref.labels, tol: EXACT },
        ]);
      },
    }),
    defineCase({
      kernels: ['sgd_step'],
      shape: 'p [1297], momentum 0.9 Nesterov, weight decay 1e-2',
      setup(gpu) {
        const p0 = randomF32(1297, 1581), g = randomF32(1297, 1582);
        const t = [gpu.upload(p0, [1297]), gpu.upload(g, [1297]), gpu.empty([1297])] as const;
        const o = { momentum: 0.9, dampening: 0, weightDecay: 1e-2, nesterov: true };
        return inPlace(gpu, [...t], () => sgdStep(gpu, t[0], t[1], { momentumBuffer: t[2], step: 1 }, { lr: 0.1, ...o }), async () => {
          const want = sgdRef(p0, [g], [0.1], o).params[0]!;
          // One step of ≤ 6 float32 operations on values ≤ max|p|.
          return [{ what: 'p', got: await gpu.readF32(t[0]), want, tol: close(optimizerBound(1, 6, trainMaxAbs(want))) }];
        });
      },
    }),
    defineCase({
      kernels: ['adamw_step'],
      shape: 'p [1297], lr 1e-2, weight decay 1e-2, step 1',
      setup(gpu) {
        const p0 = randomF32(1297, 1591), g = randomF32(1297, 1592, -0.1, 0.1);
        const t = [gpu.upload(p0, [1297]), gpu.upload(g, [1297]), gpu.upload(new Float32Array(1297), [1297]), gpu.upload(new Float32Array(1297), [1297])] as const;
        const o = { betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 1e-2 };
        return inPlace(gpu, [...t], () => adamwStep(gpu, t[0], t[1], { expAvg: t[2], expAvgSq: t[3], step: 1 }, { lr: 1e-2, ...o }), async () => {
          const want = adamwRef(p0, [g], [1e-2], o).params[0]!;
          // One step of ≤ 16 float32 operations (sqrt and division counted as several).
          return [{ what: 'p', got: await gpu.readF32(t[0]), want, tol: close(optimizerBound(1, 16, trainMaxAbs(want))) }];
        });
      },
    }),
  ];
}

/**
 * Model-sized problems for the hot kernels (CLIP ViT-B/16 at 224: 197 tokens, width 768, 12 heads;
 * a DeepLab-like 3×3 convolution), for the bench only: on SwiftShader their references and runs take
 * seconds, too long for the test. Tolerances are derived from the references as above, so they hold.
 */
export function largeCases(): ConformanceCase[] {
  return [
    matmulCase('matmul-register', { variant: 'register', batch: 1, m: 197, n: 768, k: 768, transB: true, bias: true }),
    attentionCase({ kernel: 'attention.register', variant: 'register', batch: 1, len: 197, heads: 12, headDim: 64, causal: false, probs: false }),
    convCase('conv2d', [1, 64, 65, 65], [64, 3, 3, 64], { stride: 1, padding: 1, dilation: 1, groups: 1, activation: 'relu' }),
    ...rowCases(197, 768, ['invocation']).filter((c) => !c.kernels[0]!.startsWith('reduce')),
  ];
}

/** The conformance table: at least one case per kernel descriptor under src/kernels. */
export function conformanceCases(): ConformanceCase[] {
  return [
    ...elementwiseCases(),
    ...rowCases(),
    ...matmulCases(),
    ...attentionCases(),
    ...backwardCases(),
    ...resizeCases(),
    ...convCases(),
    ...imageCases(),
    ...layoutCases(),
    ...poolCases(),
    ...caaCases(),
    ...crfCases(),
    ...labelCases(),
    ...parCases(),
    ...scanCases(),
    ...randomWalkCases(),
    ...trainCases(),
  ];
}

// ---------------------------------------------------------------------------------------------
// Running a case

interface Dispatch {
  kernel: KernelDescriptor<unknown>;
  args: unknown;
}

/** Calls body with `gpu.run` recording every dispatch (descriptor and arguments) on this instance. */
async function recordingDispatches<T>(gpu: Gpu, body: () => Promise<T>): Promise<{ value: T; dispatches: Dispatch[] }> {
  const dispatches: Dispatch[] = [];
  const run = Gpu.prototype.run;
  gpu.run = function <A>(this: Gpu, kernel: KernelDescriptor<A>, args: A, bindings: Parameters<Gpu['run']>[2], indirect?: Parameters<Gpu['run']>[3]) {
    dispatches.push({ kernel: kernel as KernelDescriptor<unknown>, args });
    return run.call(this, kernel, args, bindings, indirect);
  };
  try {
    return { value: await body(), dispatches };
  } finally {
    Reflect.deleteProperty(gpu, 'run');
  }
}

export interface CaseResult {
  kernels: string[];
  shape: string;
  /** Set when the case could not run here; nothing else is then filled in. */
  skipped?: string;
  /** Descriptor names in dispatch order, each once. */
  dispatched: string[];
  checks: ComparisonResult[];
  /** What is wrong besides the numbers: a named descriptor never dispatched, an unknown one dispatched. */
  problems: string[];
  ok: boolean;
  /** Σ cost(args) over one call's dispatches; null when a dispatched descriptor has no cost. */
  cost: { flops: number; bytes: number } | null;
  /** Dispatched descriptors without `cost`. */
  noCost: string[];
  /** Wall-clock ms per warm call (submit to GPU done), and their median. */
  samplesMs: number[];
  medianMs: number;
}

function median(v: readonly number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * One cold call (recorded, checked against the reference), then `warm` timed calls, each between
 * `gpu.sync()`s. The cold call also compiles the pipelines, so it is not timed.
 */
export async function runCase(gpu: Gpu, c: ConformanceCase, known: ReadonlyMap<string, FoundKernel>, warm: number): Promise<CaseResult> {
  const result: CaseResult = { kernels: [...c.kernels], shape: c.shape, dispatched: [], checks: [], problems: [], ok: false, cost: null, noCost: [], samplesMs: [], medianMs: NaN };
  if (c.requires === 'subgroups' && !gpu.traits.features.subgroups) return { ...result, skipped: "the device lacks the 'subgroups' feature" };
  const prepared = await c.setup(gpu);
  try {
    const { value, dispatches } = await recordingDispatches(gpu, () => prepared.run());
    await gpu.sync();
    try {
      result.checks = (await prepared.check(value)).map(compare);
    } finally {
      prepared.free(value);
    }
    const knownObjects = new Set([...known.values()].map((f) => f.descriptor));
    result.dispatched = [...new Set(dispatches.map((d) => d.kernel.name))];
    for (const name of c.kernels) {
      const d = known.get(name)?.descriptor;
      if (!d) result.problems.push(`'${name}' is not an exported kernel descriptor`);
      else if (!dispatches.some((x) => x.kernel === d)) result.problems.push(`never dispatched '${name}' (dispatched: ${result.dispatched.join(', ') || 'nothing'})`);
    }
    for (const d of dispatches) {
      if (!knownObjects.has(d.kernel)) result.problems.push(`dispatched '${d.kernel.name}', which the walk over src/kernels did not find (not exported?)`);
    }
    result.problems = [...new Set(result.problems)];
    result.noCost = [...new Set(dispatches.filter((d) => !d.kernel.cost).map((d) => d.kernel.name))];
    if (result.noCost.length === 0) {
      result.cost = { flops: 0, bytes: 0 };
      for (const d of dispatches) {
        const k = d.kernel.cost!(d.args);
        result.cost.flops += k.flops;
        result.cost.bytes += k.bytes;
      }
    }
    result.ok = result.problems.length === 0 && result.checks.length > 0 && result.checks.every((x) => x.bad === 0);

    for (let i = 0; i < warm; i++) {
      await gpu.sync();
      const t0 = performance.now();
      const v = await prepared.run();
      await gpu.sync();
      result.samplesMs.push(performance.now() - t0);
      prepared.free(v);
    }
    result.medianMs = median(result.samplesMs);
  } finally {
    prepared.dispose();
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// The table

const fmtNum = (v: number) => (!Number.isFinite(v) ? String(v) : v === 0 ? '0' : v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : v >= 0.01 ? v.toFixed(3) : v.toExponential(1));
const fmtErr = (v: number) => (!Number.isFinite(v) ? String(v) : v === 0 ? '0' : v.toExponential(1));

/** The worst of a case's comparisons (by err/tol), for its table line. */
function worstCheck(r: CaseResult): ComparisonResult | undefined {
  return r.checks.reduce<ComparisonResult | undefined>((w, x) => (!w || x.worstRatio > w.worstRatio || (x.worstRatio === w.worstRatio && x.maxAbsErr > w.maxAbsErr) ? x : w), undefined);
}

export const TABLE_HEADER = ['kernel', 'case', 'max|err|', 'err/tol', 'tolerance', 'ms', 'GFLOP/s', 'GB/s', 'also dispatched', ''];

/** Names sharing a prefix up to '_' or '.' as prefix{a,b,c}; long lists are cut with a count. */
export function kernelList(names: readonly string[]): string {
  if (names.length < 2) return names.join('');
  let prefix = names[0]!;
  for (const n of names) while (!n.startsWith(prefix)) prefix = prefix.slice(0, -1);
  prefix = prefix.slice(0, Math.max(prefix.lastIndexOf('_'), prefix.lastIndexOf('.')) + 1);
  if (!prefix) return names.join(' + ');
  const rest = names.map((n) => n.slice(prefix.length));
  let inner = rest.join(',');
  if (inner.length > 40) {
    let k = rest.length;
    while (k > 1 && rest.slice(0, k).join(',').length > 34) k--;
    inner = `${rest.slice(0, k).join(',')},…`;
  }
  return `${prefix}{${inner}}${inner.endsWith('…') ? ` (${names.length})` : ''}`;
}

export function tableRow(r: CaseResult): string[] {
  const others = r.dispatched.filter((d) => !r.kernels.includes(d));
  const name = kernelList(r.kernels);
  const also = others.length ? `+${others.join(', ')}` : '';
  if (r.skipped) return [name, r.shape, '-', '-', '-', '-', '-', '-', also, `skipped: ${r.skipped}`];
  const w = worstCheck(r);
  const rate = (x: number | undefined) => (r.cost && x !== undefined && Number.isFinite(r.medianMs) && r.medianMs > 0 ? fmtNum(x / (r.medianMs * 1e6)) : '-');
  const verdict = r.ok ? '' : `FAIL ${[...r.problems, ...r.checks.filter((c) => c.bad).map((c) => `${c.what}: ${c.bad}/${c.elements} off${c.first ? `, first [${c.first.index}] ${c.first.got} vs ${c.first.want}` : ''}`)].join('; ')}`;
  return [
    name,
    r.shape,
    w ? fmtErr(w.maxAbsErr) : '-',
    w ? fmtNum(w.worstRatio) : '-',
    w ? `${w.tolerance}${r.checks.length > 1 ? ` (${w.what})` : ''}` : '-',
    Number.isFinite(r.medianMs) ? fmtNum(r.medianMs) : '-',
    rate(r.cost?.flops),
    rate(r.cost?.bytes),
    also,
    verdict,
  ];
}

/** Plain-text table: left-aligned text columns, right-aligned numbers. */
export function formatTable(results: readonly CaseResult[]): string {
  const rows = [TABLE_HEADER, ...results.map(tableRow)];
  const widths = TABLE_HEADER.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const left = new Set([0, 1, 4, 8, 9]);
  return rows.map((r) => r.map((cell, i) => (left.has(i) ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd()).join('\n');
}
