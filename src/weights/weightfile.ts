// The lazy weight-file object shared by all containers. A container reader (safetensors.ts,
// torchzip.ts) validates its header and produces, for every tensor, where its bytes start in the
// file plus dtype, shape and (for PyTorch) strides. TensorStore then reads one tensor at a time on
// demand and converts it to float32. Nothing here knows about GPUs: consumers take Float32Arrays.

import { DTYPE_SIZE, firstNonFinite, isFloatDType, toF32, type DType } from './dtype.js';
import { WeightFileError } from './errors.js';
import type { ByteSource } from './source.js';

/** Container format of a weight file: safetensors, a torch.save zip, or a TorchScript (torch.jit.save) archive. */
export type WeightFormat = 'safetensors' | 'torch-zip' | 'torchscript';

export interface TensorInfo {
  readonly dtype: DType;
  readonly shape: readonly number[];
}

/** Options for opening weight files (loadWeights, and the loaders built on it). */
export interface LoadOptions {
  /**
   * What to do when a float tensor holds NaN or ±Inf: 'error' (default) throws a WeightFileError
   * naming the tensor, 'warn' reports through `onWarning` and returns the data, 'allow' says nothing.
   */
  nonFinite?: 'error' | 'warn' | 'allow';
  /** Receives warnings (default: console.warn). */
  onWarning?: (message: string) => void;
  /** Name for in-memory inputs in messages (paths and Files name themselves). */
  name?: string;
}

/** An opened weight file whose tensors are read one at a time, on demand, by key; close it when done. */
export interface WeightFile {
  /** Path or File name, as used in error messages. */
  readonly name: string;
  /** Container format, detected from the file's content. */
  readonly format: WeightFormat;
  /** Tensor keys in file order (PyTorch: dotted paths through the pickled object tree). */
  readonly keys: readonly string[];
  /** safetensors `__metadata__` (empty for PyTorch files). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Whether the file holds a tensor under `key`. */
  has(key: string): boolean;
  /** dtype and shape; throws a WeightFileError for an unknown key. */
  info(key: string): TensorInfo;
  /** Reads the tensor and converts it to float32 (row-major, contiguous). */
  getF32(key: string): Promise<Float32Array>;
  /** Reads the tensor's elements in their stored dtype as contiguous little-endian bytes. */
  getRaw(key: string): Promise<Uint8Array>;
  /** Releases the underlying file handle (no-op for memory and Blob inputs); read no tensor after it. */
  close(): Promise<void>;
}

/** Where a tensor's bytes are in the file. */
export interface StoredTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Absolute file offset of the tensor's first element (PyTorch: storage start + storage_offset). */
  readonly byteOffset: number;
  /** Element strides (PyTorch); undefined means contiguous row-major. */
  readonly stride?: readonly number[];
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function isContiguous(shape: readonly number[], stride: readonly number[] | undefined): boolean {
  if (!stride) return true;
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    // Dimensions of size 1 may carry any stride; they never move the index.
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d]!;
  }
  return true;
}

/** Number of elements between the first and last element a strided view touches, inclusive. */
export function stridedSpan(shape: readonly number[], stride: readonly number[]): number {
  if (numel(shape) === 0) return 0;
  let last = 0;
  for (let d = 0; d < shape.length; d++) last += (shape[d]! - 1) * stride[d]!;
  return last + 1;
}

/** Copies a strided view out of `span` (elements of `itemSize` bytes) into row-major order. */
function gather(span: Uint8Array, shape: readonly number[], stride: readonly number[], itemSize: number): Uint8Array {
  const n = numel(shape);
  const out = new Uint8Array(n * itemSize);
  if (n === 0) return out;
  const rank = shape.length;
  if (rank === 0) {
    out.set(span.subarray(0, itemSize));
    return out;
  }
  const inner = shape[rank - 1]!;
  const innerStride = stride[rank - 1]!;
  const index = new Array<number>(rank - 1).fill(0);
  let src = 0; // element offset of the current row's first element
  for (let row = 0, dst = 0; dst < n; row++) {
    if (innerStride === 1) {
      out.set(span.subarray(src * itemSize, (src + inner) * itemSize), dst * itemSize);
    } else {
      for (let j = 0; j < inner; j++) {
        const s = (src + j * innerStride) * itemSize;
        out.set(span.subarray(s, s + itemSize), (dst + j) * itemSize);
      }
    }
    dst += inner;
    // Odometer increment over the outer dimensions.
    for (let d = rank - 2; d >= 0; d--) {
      index[d]!++;
      src += stride[d]!;
      if (index[d]! < shape[d]!) break;
      src -= index[d]! * stride[d]!;
      index[d] = 0;
    }
  }
  return out;
}

export class TensorStore implements WeightFile {
  readonly keys: readonly string[];
  private readonly warn: (message: string) => void;

  constructor(
    private readonly source: ByteSource,
    readonly format: WeightFormat,
    private readonly tensors: ReadonlyMap<string, StoredTensor>,
    readonly metadata: Readonly<Record<string, string>>,
    private readonly options: LoadOptions = {},
  ) {
    this.keys = [...tensors.keys()];
    this.warn = options.onWarning ?? ((m) => console.warn(m));
  }

  get name(): string {
    return this.source.name;
  }

  has(key: string): boolean {
    return this.tensors.has(key);
  }

  private stored(key: string): StoredTensor {
    const t = this.tensors.get(key);
    if (!t) throw new WeightFileError(this.name, 'no such tensor in the file', key);
    return t;
  }

  info(key: string): TensorInfo {
    const { dtype, shape } = this.stored(key);
    return { dtype, shape };
  }

  async getRaw(key: string): Promise<Uint8Array> {
    const t = this.stored(key);
    const size = DTYPE_SIZE[t.dtype];
    if (isContiguous(t.shape, t.stride)) {
      const out = new Uint8Array(numel(t.shape) * size);
      await this.source.readInto(t.byteOffset, out);
      return out;
    }
    const span = new Uint8Array(stridedSpan(t.shape, t.stride!) * size);
    await this.source.readInto(t.byteOffset, span);
    return gather(span, t.shape, t.stride!, size);
  }

  async getF32(key: string): Promise<Float32Array> {
    const t = this.stored(key);
    let data: Float32Array;
    if (t.dtype === 'F32' && isContiguous(t.shape, t.stride)) {
      // Fast path: read the file bytes straight into the result's memory.
      data = new Float32Array(numel(t.shape));
      await this.source.readInto(t.byteOffset, new Uint8Array(data.buffer));
    } else {
      data = toF32(t.dtype, await this.getRaw(key));
    }
    if (isFloatDType(t.dtype)) this.checkFinite(key, data);
    return data;
  }

  private checkFinite(key: string, data: Float32Array): void {
    const policy = this.options.nonFinite ?? 'error';
    if (policy === 'allow') return;
    const i = firstNonFinite(data);
    if (i < 0) return;
    let count = 0;
    for (let j = i; j < data.length; j++) if (data[j]! - data[j]! !== 0) count++;
    const problem = `holds ${count} non-finite value(s) (first: ${data[i]} at flat index ${i})`;
    if (policy === 'error') {
      throw new WeightFileError(this.name, `${problem}; pass nonFinite: 'warn' (CLI: --allow-nonfinite) to load anyway`, key);
    }
    this.warn(new WeightFileError(this.name, problem, key).message);
  }

  async close(): Promise<void> {
    await this.source.close();
  }
}
