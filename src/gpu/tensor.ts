// A tensor is a view of a GPUBuffer: shape, dtype, byte offset. Contiguous row-major always;
// kernels that permute or slice write new tensors rather than keeping strides.
import { GpuError } from './errors.js';

export type DType = 'f32' | 'f16' | 'i32' | 'u32';

export const DTYPE_BYTES: Record<DType, number> = { f32: 4, f16: 2, i32: 4, u32: 4 };

export type Shape = readonly number[];

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function checkShape(shape: Shape, what = 'shape'): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new GpuError(`${what} [${shape.join(', ')}] has a dimension that is not a non-negative integer`);
  }
}

export class Tensor {
  constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    readonly buffer: GPUBuffer,
    readonly byteOffset = 0,
  ) {
    checkShape(shape);
    if (byteOffset + this.byteLength > buffer.size) {
      throw new GpuError(`tensor [${shape.join(', ')}] ${dtype} at byte ${byteOffset} does not fit its buffer of ${buffer.size} bytes`);
    }
  }

  get size(): number {
    return numel(this.shape);
  }

  get byteLength(): number {
    return this.size * DTYPE_BYTES[this.dtype];
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Same bytes, another shape of the same element count (a free reshape). */
  view(shape: Shape): Tensor {
    if (numel(shape) !== this.size) throw new GpuError(`cannot view [${this.shape.join(', ')}] as [${shape.join(', ')}]: element counts differ`);
    return new Tensor(shape, this.dtype, this.buffer, this.byteOffset);
  }

  toString(): string {
    return `Tensor[${this.shape.join('×')}] ${this.dtype}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Size-bucketed buffer pool. Buckets are m·2^k bytes with m in 8..15, so a buffer wastes at most
// 12.5 % while still being reused across shapes that differ a little (ViT tokens at other sizes).

export const POOL_USAGE = GPUBufferUsageFlags();

function GPUBufferUsageFlags(): number {
  // GPUBufferUsage is a global only after the WebGPU implementation is loaded; use the spec values.
  // INDIRECT: a kernel may write the workgroup counts of a later dispatch (Gpu.run's `indirect`).
  const STORAGE = 0x80, COPY_SRC = 0x04, COPY_DST = 0x08, INDIRECT = 0x100;
  return STORAGE | COPY_SRC | COPY_DST | INDIRECT;
}

export function bucketBytes(bytes: number): number {
  const min = 256;
  if (bytes <= min) return min;
  const k = Math.floor(Math.log2(bytes)) - 3; // m = bytes >> k lies in 8..15
  const step = 2 ** k;
  return Math.ceil(bytes / step) * step;
}

/**
 * Free buffers the pool keeps for reuse, at most: the larger of this and the high-water mark of
 * bytes in use. Without a bound, a stream of images of different sizes fills every size bucket
 * once and keeps it (hundreds of MiB after a few images); beyond it the least recently freed
 * buffers are destroyed.
 */
export const POOL_MIN_FREE_CAP = 256 * 2 ** 20;

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  /** Free buffers in the order they were freed (oldest first), for eviction. */
  private freeOrder = new Set<GPUBuffer>();
  private freeBytes = 0;
  /** Evicted buffers, destroyed at the next submit: commands still being recorded may use them. */
  private evicted: GPUBuffer[] = [];
  private live = new Set<GPUBuffer>();
  /** Bytes currently handed out and the high-water mark, for reports. */
  allocatedBytes = 0;
  peakBytes = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly maxBufferSize: number,
  ) {}

  acquire(bytes: number, label = 'pool'): GPUBuffer {
    const size = bucketBytes(Math.max(bytes, 4));
    if (size > this.maxBufferSize) {
      throw new GpuError(`${label}: ${bytes} bytes is more than this device's largest buffer (${this.maxBufferSize} bytes)`);
    }
    const reused = this.free.get(size)?.pop();
    if (reused) {
      this.freeOrder.delete(reused);
      this.freeBytes -= size;
    }
    const buffer = reused ?? this.device.createBuffer({ size, usage: POOL_USAGE, label });
    this.live.add(buffer);
    this.allocatedBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.allocatedBytes);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    if (!this.live.delete(buffer)) throw new GpuError(`buffer '${buffer.label}' released twice or not from this pool`);
    this.allocatedBytes -= buffer.size;
    let list = this.free.get(buffer.size);
    if (!list) this.free.set(buffer.size, (list = []));
    list.push(buffer);
    this.freeOrder.add(buffer);
    this.freeBytes += buffer.size;
    const cap = Math.max(POOL_MIN_FREE_CAP, this.peakBytes);
    for (const old of this.freeOrder) {
      if (this.freeBytes <= cap) break;
      const bucket = this.free.get(old.size)!;
      bucket.splice(bucket.indexOf(old), 1);
      this.freeOrder.delete(old);
      this.freeBytes -= old.size;
      this.evicted.push(old);
    }
  }

  /** Destroys the evicted buffers; the context calls it right after each submit. */
  destroyEvicted(): void {
    for (const b of this.evicted) b.destroy();
    this.evicted = [];
  }

  /** Buffers and bytes in use and held free for reuse: what the pool keeps on the device. */
  stats(): { liveBuffers: number; liveBytes: number; freeBuffers: number; freeBytes: number } {
    return { liveBuffers: this.live.size, liveBytes: this.allocatedBytes, freeBuffers: this.freeOrder.size, freeBytes: this.freeBytes };
  }

  /** Destroy every pooled buffer that is not in use. */
  trim(): void {
    this.destroyEvicted();
    for (const b of this.freeOrder) b.destroy();
    this.free.clear();
    this.freeOrder.clear();
    this.freeBytes = 0;
  }
}
