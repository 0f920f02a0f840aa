// The GPU context: device, pipeline cache, buffer pool, uniform arena, command batching, errors,
// profiling. Dispatches are recorded into one compute pass of one command encoder and submitted
// together on `flush()`; nothing is submitted per kernel.
import { adapterName, requestDevice, type OpenGpuOptions } from './device.js';
import { DeviceLostError, GpuError, KernelError } from './errors.js';
import { type DeviceTraits, type KernelDescriptor, type UniformValues } from './kernel.js';
import { loadShader, reflectLayout, specialize, type ReflectedLayout } from './shader.js';
import { BufferPool, DTYPE_BYTES, Tensor, bucketBytes, numel, type DType, type Shape } from './tensor.js';

const COMPUTE = 0x4; // GPUShaderStage.COMPUTE
const BUF_UNIFORM = 0x40, BUF_STORAGE = 0x80, BUF_COPY_DST = 0x08, BUF_MAP_READ = 0x01, BUF_QUERY_RESOLVE = 0x200, BUF_COPY_SRC = 0x04;
const UNIFORM_ARENA_BYTES = 1 << 20;
/** Bytes of constants (see Gpu.constant) kept per device; tables for a few image sizes fit many times over. */
const CONSTANT_CACHE_BYTES = 32 << 20;

export interface CompiledKernel {
  name: string;
  key: string;
  pipeline: GPUComputePipeline;
  bindGroupLayout: GPUBindGroupLayout;
  layout: ReflectedLayout;
}

export interface KernelTiming {
  kernel: string;
  ms: number;
}

/** Tensors by binding name; an absent (or undefined) binding is allowed where its stated size is 0. */
export type Bindings = Record<string, Tensor | undefined>;

/**
 * Workgroup counts a kernel wrote on the GPU: three u32 (x, y, z) at word `word` of `args`, used
 * instead of the descriptor's `workgroups` (dispatchWorkgroupsIndirect), so that a dispatch sized by
 * a count the GPU computed needs no read-back. The writer folds large grids as grid1d does.
 */
export interface IndirectDispatch {
  args: Tensor;
  word: number;
}

type TypedArray = Float32Array | Int32Array | Uint32Array | Uint16Array;

let nextBufferId = 1;
const bufferIds = new WeakMap<GPUBuffer, number>();
function bufferId(b: GPUBuffer): number {
  let id = bufferIds.get(b);
  if (id === undefined) bufferIds.set(b, (id = nextBufferId++));
  return id;
}

/** One dispatch as encoded: replayable while every buffer its bind group names stays allocated. */
interface RecordedDispatch {
  kernel: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  /** The uniform struct's bytes, or null for a kernel without uniforms. */
  uniforms: Uint8Array | null;
  x: number;
  y: number;
  z: number;
  /** Workgroup counts read from this buffer at this byte offset instead of x, y, z. */
  indirect?: { buffer: GPUBuffer; offset: number };
}

/**
 * The dispatches of a piece of work recorded once (see Gpu.recorder) and replayed by Gpu.replay:
 * pipelines, bind groups and uniform bytes ready, nothing recomputed on the host. The tensors the
 * work allocated are kept (not returned to the pool) and the device constants it used are pinned,
 * so every replayed bind group still points at the same data; dispose() gives them back.
 */
export class DispatchRecording {
  readonly dispatches: RecordedDispatch[] = [];
  /** False once the recorded work did something a replay would not repeat (a read-back). */
  replayable = true;
  /** @internal */ readonly kept = new Set<GPUBuffer>();
  /**
   * @internal Kept buffers the recorded work released, by size: later allocations of the recorded
   * work take them first, as the pool would have, so a recording holds about the work's peak
   * memory, not the sum of everything it allocated (a replay reuses them in the same order).
   */
  readonly free = new Map<number, GPUBuffer[]>();
  /** @internal */ readonly freed = new Set<GPUBuffer>();
  /** @internal Buffers written from the host while recording (never reused by the recorded work). */
  readonly uploaded = new Set<GPUBuffer>();
  /** @internal */ readonly pinned = new Set<string>();
  private disposed = false;

  constructor(private readonly gpu: Gpu) {}

  /** Whether it was made on `gpu`. */
  isOn(gpu: Gpu): boolean {
    return this.gpu === gpu;
  }

  /** Bytes of the device buffers the recording holds while it lives. */
  get keptBytes(): number {
    let n = 0;
    for (const b of this.kept) n += b.size;
    return n;
  }

  /** Returns the kept tensors to the pool and unpins the constants; the recording cannot be replayed after. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.replayable = false;
    for (const b of this.kept) this.gpu.pool.release(b);
    this.kept.clear();
    this.free.clear();
    this.freed.clear();
    this.uploaded.clear();
    this.gpu.unpinConstants(this.pinned);
    this.pinned.clear();
  }
}

/** Host↔device traffic counters of a Gpu (see {@link Gpu.trafficCounters}). */
export interface GpuTraffic {
  /** Host → device data writes (uploads into tensors), and their bytes. */
  uploads: number;
  uploadBytes: number;
  /** Device → host read-backs, and their bytes. */
  downloads: number;
  downloadBytes: number;
  /** Bytes of kernel uniforms written (one write per submit). */
  uniformBytes: number;
  /** Command buffers submitted. */
  submits: number;
  /** Compute dispatches recorded. */
  dispatches: number;
  /** Milliseconds the host awaited the GPU (queue drained, read-backs mapped). */
  waitMs: number;
  /**
   * Milliseconds the host spent inside WebGPU calls outside those waits: command encoding, bind
   * group and buffer creation, uniform and data writes, submits (on a CPU driver a submit may do
   * the driver's own work), mapping and copying read-backs. The rest of a run's host time is
   * seedmask's own code.
   */
  webgpuMs: number;
}

/** The traffic between a snapshot of {@link Gpu.trafficCounters} and now. */
export function trafficSince(gpu: Gpu, before: Readonly<GpuTraffic>): GpuTraffic {
  const now = gpu.trafficCounters;
  return Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - before[k as keyof GpuTraffic]])) as unknown as GpuTraffic;
}

export class Gpu {
  /** The adapter description, enabled features and device limits that kernels specialise on. */
  readonly traits: DeviceTraits;
  /** Pool of reusable storage buffers behind every tensor, in size buckets; tracks allocated and peak bytes. */
  readonly pool: BufferPool;
  /** Per-dispatch GPU times, filled when `profiling` is on (needs timestamp-query); see takeTimings. */
  private readonly timings: KernelTiming[] = [];

  private readonly pipelines = new Map<string, Promise<CompiledKernel>>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly placeholders = new Map<number, Tensor>();
  private readonly constants = new Map<string, Tensor>();
  /** Constants a dispatch recording binds: never evicted while it lives (key → recordings using it). */
  private readonly pinnedConstants = new Map<string, number>();
  /** Pipelines being built by precompile(); non-null while it runs its job. */
  private compiling: Promise<CompiledKernel>[] | null = null;
  private constantBytes = 0;
  private readonly uniformArena: GPUBuffer;
  private readonly uniformMirror = new ArrayBuffer(UNIFORM_ARENA_BYTES);
  private uniformCursor = 0;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private batchKernels: string[] = [];
  private pendingChecks: Promise<void>[] = [];
  private errors: string[] = [];
  private lostReason: string | null = null;
  private profilingOn = false;
  private dispatched = 0;
  private readonly traffic: GpuTraffic = { uploads: 0, uploadBytes: 0, downloads: 0, downloadBytes: 0, uniformBytes: 0, submits: 0, dispatches: 0, waitMs: 0, webgpuMs: 0 };
  private querySet: GPUQuerySet | null = null;
  private queryKernels: string[] = [];
  private readonly queryCapacity = 512;

  private constructor(
    /** The underlying WebGPU device. */
    readonly device: GPUDevice,
    traits: DeviceTraits,
    private readonly gpuAdapter: GPUAdapter,
  ) {
    this.traits = traits;
    this.pool = new BufferPool(device, Math.min(device.limits.maxBufferSize, device.limits.maxStorageBufferBindingSize));
    this.uniformArena = device.createBuffer({ size: UNIFORM_ARENA_BYTES, usage: BUF_UNIFORM | BUF_COPY_DST, label: 'uniform arena' });
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.errors.push(ev.error.message);
    };
    void device.lost.then((info) => {
      this.lostReason = `${info.reason}: ${info.message}`;
    });
  }

  /** Whether the device has been lost (driver reset, destroy(), a browser reclaiming the GPU): nothing on it works any more. */
  get lost(): boolean {
    return this.lostReason !== null;
  }

  /** Picks an adapter, requests a device with every limit at its maximum, and wraps it. Throws GpuError when there is no adapter. */
  static async open(options: OpenGpuOptions = {}): Promise<Gpu> {
    const { device, adapter, features, gpuAdapter } = await requestDevice(options);
    return new Gpu(device, { adapter, features, limits: device.limits }, gpuAdapter);
  }

  /** Readable adapter name for messages: 'vendor / architecture / device (backend)'. */
  get adapterName(): string {
    return adapterName(this.traits.adapter);
  }

  /** True on the SwiftShader CPU Vulkan driver rather than a real GPU. */
  get isSwiftShader(): boolean {
    return this.traits.adapter.kind === 'swiftshader';
  }

  /** Destroy the device once pending error checks have settled; resolves when the device is lost. */
  async destroy(): Promise<void> {
    this.encoder = null;
    this.pass = null;
    await Promise.allSettled(this.pendingChecks.splice(0));
    this.pool.trim();
    this.device.destroy();
    await this.device.lost;
  }

  // ------------------------------------------------------------------------------------------
  // Tensors

  /** A pooled, uninitialised tensor of `shape` and `dtype` (default f32); free it with {@link release}. */
  empty(shape: Shape, dtype: DType = 'f32', label = 'tensor'): Tensor {
    const bytes = numel(shape) * DTYPE_BYTES[dtype];
    return new Tensor(shape, dtype, this.pool.acquire(bytes, label));
  }

  /** Upload host data into a new pooled tensor. Pending dispatches are submitted first, because
   *  queue.writeBuffer would otherwise overtake them. */
  upload(data: TypedArray | readonly number[], shape: Shape, dtype: DType = 'f32', label = 'upload'): Tensor {
    const n = numel(shape);
    if (data.length !== n) throw new GpuError(`${label}: ${data.length} values given for shape [${shape.join(', ')}] (${n} elements)`);
    const t = this.empty(shape, dtype, label);
    this.write(t, data);
    return t;
  }

  /**
   * Copies host data into an existing tensor; `data.length` must equal its element count (f16 as raw
   * Uint16Array bits). Pending dispatches are submitted first.
   */
  write(t: Tensor, data: TypedArray | readonly number[]): void {
    if (data.length !== t.size) throw new GpuError(`write: ${data.length} values for ${t}`);
    const typed = toTyped(data, t.dtype);
    if (this.encoder) this.flush();
    if (typed.byteLength === 0) return;
    // writeBuffer moves whole 4-byte words; an odd count of f16 values gets one zero half of padding
    // (pool buffers are whole multiples of 32 bytes, so the padding stays inside the buffer).
    const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
    const padded = bytes.byteLength % 4 === 0 ? bytes : new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
    if (padded !== bytes) padded.set(bytes);
    if (t.byteOffset + padded.byteLength > t.buffer.size) throw new GpuError(`write: ${t} needs a 4-byte-padded buffer`);
    const webgpuStart = performance.now();
    this.device.queue.writeBuffer(t.buffer, t.byteOffset, padded.buffer, padded.byteOffset, padded.byteLength);
    this.traffic.webgpuMs += performance.now() - webgpuStart;
    this.traffic.uploads++;
    this.traffic.uploadBytes += padded.byteLength;
  }

  /**
   * Host↔device traffic since the device opened: data uploads and read-backs (count and bytes),
   * uniform bytes, submits, dispatches, and milliseconds the host spent waiting for the GPU (in
   * read and sync). Take two snapshots and subtract ({@link trafficSince}).
   */
  get trafficCounters(): Readonly<GpuTraffic> {
    return { ...this.traffic, dispatches: this.dispatched };
  }

  /**
   * A constant tensor made from host data once per device and `key` (resampling tables, label
   * look-ups, the CRF's −log table): the first call uploads `make()`, later calls with the same key
   * return the same tensor without touching the host↔device link. The key must determine the data.
   * The cache keeps the most recently used constants up to CONSTANT_CACHE_BYTES; an evicted one is
   * returned to the pool, so use a constant in the dispatches recorded right after getting it (the
   * 16 most recent are never evicted). Never release a constant.
   */
  constant(key: string, shape: Shape, dtype: DType, make: () => TypedArray): Tensor {
    const hit = this.constants.get(key);
    if (hit) {
      this.constants.delete(key); // re-insert: Map order is the recency order
      this.constants.set(key, hit);
      if (hit.dtype !== dtype || hit.size !== numel(shape)) throw new GpuError(`constant '${key}': cached as ${hit}, asked for [${shape.join(', ')}] ${dtype}`);
      return hit.view(shape);
    }
    const t = this.upload(make(), shape, dtype, `constant ${key}`);
    this.constants.set(key, t);
    this.constantBytes += t.byteLength;
    // Oldest first; never the constant just made, a pinned one, or one of the 16 most recent.
    let evictable = this.constants.size - 16;
    for (const [k, old] of this.constants) {
      if (this.constantBytes <= CONSTANT_CACHE_BYTES || evictable <= 0) break;
      evictable--;
      if (k === key || this.pinnedConstants.has(k)) continue;
      this.constants.delete(k);
      this.constantBytes -= old.byteLength;
      this.pool.release(old.buffer);
    }
    return t;
  }

  /** @internal Pins constants for a recording. */
  pinConstants(keys: Iterable<string>): void {
    for (const k of keys) this.pinnedConstants.set(k, (this.pinnedConstants.get(k) ?? 0) + 1);
  }

  /** @internal Releases a recording's pins. */
  unpinConstants(keys: Iterable<string>): void {
    for (const k of keys) {
      const n = (this.pinnedConstants.get(k) ?? 0) - 1;
      if (n > 0) this.pinnedConstants.set(k, n);
      else this.pinnedConstants.delete(k);
    }
  }

  /**
   * A view of this Gpu for work to be recorded into `rec`: the same device and state, except that
   * dispatches are also recorded, tensors it allocates (or uploads) are kept by the recording (a
   * released one goes back to the pool only at the recording's dispose; until then the recorded
   * work's later allocations of its size reuse it), constants it takes are pinned, and a
   * read-back, a write from the host or a copy marks the recording unreplayable. Code that receives the Gpu as a parameter (graph
   * ops, kernel functions) records through it without knowing; other work on the device at the
   * same time is not recorded.
   */
  recorder(rec: DispatchRecording): Gpu {
    const gpu = this;
    const overrides: Partial<Record<keyof Gpu, unknown>> = {
      async run<A>(kernel: KernelDescriptor<A>, args: A, bindings: Bindings, indirect?: IndirectDispatch): Promise<void> {
        if (gpu.precompiling) {
          rec.replayable = false; // nothing was dispatched
          return gpu.run(kernel, args, bindings, indirect);
        }
        const compiled = await gpu.compile(kernel, args);
        gpu.encode(compiled, kernel, args, bindings, rec, indirect);
      },
      empty(shape: Shape, dtype: DType = 'f32', label?: string): Tensor {
        const reused = rec.free.get(bucketBytes(Math.max(numel(shape) * DTYPE_BYTES[dtype], 4)))?.pop();
        if (reused) {
          rec.freed.delete(reused);
          return new Tensor(shape, dtype, reused);
        }
        const t = gpu.empty(shape, dtype, label);
        rec.kept.add(t.buffer);
        return t;
      },
      upload(data: TypedArray | readonly number[], shape: Shape, dtype?: DType, label?: string): Tensor {
        const t = gpu.upload(data, shape, dtype, label);
        rec.kept.add(t.buffer);
        rec.uploaded.add(t.buffer);
        return t;
      },
      release(...tensors: Tensor[]): void {
        for (const t of tensors) {
          if (!rec.kept.has(t.buffer)) gpu.release(t);
          // Uploaded data is written once, while recording: a replay reads it again, so its buffer
          // is never handed to later work of the recording.
          else if (!rec.freed.has(t.buffer) && !rec.uploaded.has(t.buffer)) {
            rec.freed.add(t.buffer);
            let list = rec.free.get(t.buffer.size);
            if (!list) rec.free.set(t.buffer.size, (list = []));
            list.push(t.buffer);
          }
        }
      },
      copy(src: Tensor, dst: Tensor): void {
        rec.replayable = false; // a replay would not copy it again
        gpu.copy(src, dst);
      },
      constant(key: string, shape: Shape, dtype: DType, make: () => TypedArray): Tensor {
        const t = gpu.constant(key, shape, dtype, make);
        if (!rec.pinned.has(key)) {
          rec.pinned.add(key);
          gpu.pinConstants([key]);
        }
        return t;
      },
      async read(t: Tensor): Promise<TypedArray> {
        rec.replayable = false;
        return gpu.read(t);
      },
      async readF32(t: Tensor): Promise<Float32Array> {
        rec.replayable = false;
        return gpu.readF32(t);
      },
      write(t: Tensor, data: TypedArray | readonly number[]): void {
        rec.replayable = false; // a replay would not write it again
        gpu.write(t, data);
      },
      async readMany(tensors: readonly Tensor[]): Promise<TypedArray[]> {
        rec.replayable = false;
        return gpu.readMany(tensors);
      },
    };
    return new Proxy(this, {
      get(target, prop) {
        if (Object.hasOwn(overrides, prop)) return overrides[prop as keyof Gpu];
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  }

  /** Encodes a recording's dispatches again, as they were recorded (see recorder). */
  replay(rec: DispatchRecording): void {
    if (!rec.replayable) throw new GpuError('replay: this recording cannot be replayed (it read data back, or was disposed)');
    if (!rec.isOn(this)) throw new GpuError('replay: the recording was made on another Gpu');
    this.assertAlive('replay');
    if (this.compiling) return; // a precompile dry run dispatches nothing
    const webgpuStart = performance.now();
    for (const d of rec.dispatches) {
      const offset = d.uniforms ? this.packUniformBytes(d.uniforms) : 0;
      const pass = this.takePass(d.kernel);
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup, d.uniforms ? [offset] : []);
      if (d.indirect) pass.dispatchWorkgroupsIndirect(d.indirect.buffer, d.indirect.offset);
      else pass.dispatchWorkgroups(d.x, d.y, d.z);
      this.batchKernels.push(d.kernel);
      this.dispatched++;
      if (this.profilingOn) this.endPass();
    }
    this.traffic.webgpuMs += performance.now() - webgpuStart;
  }

  /**
   * Copies `src`'s bytes into `dst` (the same byte length, a multiple of 4) on the GPU, in order
   * with the dispatches around it.
   */
  copy(src: Tensor, dst: Tensor): void {
    this.assertAlive('copy');
    if (this.compiling) return; // a precompile dry run moves nothing
    if (src.byteLength !== dst.byteLength || src.byteLength % 4 !== 0) throw new GpuError(`copy: ${src} (${src.byteLength} bytes) into ${dst} (${dst.byteLength} bytes): byte lengths must be equal and a multiple of 4`);
    if (src.byteLength === 0) return;
    const webgpuStart = performance.now();
    this.takeEncoder().copyBufferToBuffer(src.buffer, src.byteOffset, dst.buffer, dst.byteOffset, src.byteLength);
    this.traffic.webgpuMs += performance.now() - webgpuStart;
  }

  /** Returns the tensors' buffers to the pool for reuse; the tensors must not be used afterwards. */
  release(...tensors: Tensor[]): void {
    for (const t of tensors) this.pool.release(t.buffer);
  }

  /** Submit pending work and read a tensor back to the host. */
  async read(t: Tensor): Promise<TypedArray> {
    return (await this.readMany([t]))[0]!;
  }

  /**
   * Submit pending work and read several tensors back in one round trip: one staging buffer, one
   * submit, one wait (counted as one read-back). Results come in the order given.
   */
  async readMany(tensors: readonly Tensor[]): Promise<TypedArray[]> {
    this.assertAlive('read');
    if (this.compiling) return tensors.map((t) => fromBytes(new ArrayBuffer(t.byteLength), t.dtype));
    const at: number[] = [];
    let bytes = 0, total = 0;
    for (const t of tensors) {
      at.push(total);
      bytes += t.byteLength;
      total += Math.ceil(t.byteLength / 4) * 4;
    }
    if (total === 0) return tensors.map((t) => fromBytes(new ArrayBuffer(0), t.dtype));
    const webgpuStart = performance.now();
    const staging = this.device.createBuffer({ size: total, usage: BUF_MAP_READ | BUF_COPY_DST, label: 'readback' });
    const encoder = this.takeEncoder();
    tensors.forEach((t, i) => {
      const size = Math.ceil(t.byteLength / 4) * 4;
      if (size > 0) encoder.copyBufferToBuffer(t.buffer, t.byteOffset, staging, at[i]!, size);
    });
    this.traffic.webgpuMs += performance.now() - webgpuStart;
    this.submit(encoder);
    this.traffic.downloads++;
    this.traffic.downloadBytes += bytes;
    await this.sync();
    const waitStart = performance.now();
    try {
      try {
        await staging.mapAsync(1 /* GPUMapMode.READ */);
      } catch (err) {
        // A device lost while the copy was pending rejects the map; say so once `lost` has settled.
        await new Promise((resolve) => setTimeout(resolve, 0));
        this.assertAlive('read');
        throw err;
      }
      const mappedAt = performance.now();
      this.traffic.waitMs += mappedAt - waitStart;
      try {
        const mapped = staging.getMappedRange();
        const out = tensors.map((t, i) => fromBytes(mapped.slice(at[i]!, at[i]! + t.byteLength), t.dtype));
        staging.unmap();
        return out;
      } finally {
        this.traffic.webgpuMs += performance.now() - mappedAt;
      }
    } finally {
      staging.destroy();
    }
  }

  /** {@link read} for an f32 tensor; throws GpuError for any other dtype. */
  async readF32(t: Tensor): Promise<Float32Array> {
    if (t.dtype !== 'f32') throw new GpuError(`readF32: ${t} is not f32`);
    return (await this.read(t)) as Float32Array;
  }

  // ------------------------------------------------------------------------------------------
  // Kernels

  /** True while precompile() runs its job (dispatches then only build pipelines). */
  get precompiling(): boolean {
    return this.compiling !== null;
  }

  /** Pipelines built or being built on this device (one per shader + specialisation). */
  get pipelineCount(): number {
    return this.pipelines.size;
  }

  /** Compile (once per shader + specialisation) and cache; safe to call ahead of time. */
  compile<A>(kernel: KernelDescriptor<A>, args: A): Promise<CompiledKernel> {
    const params = kernel.params?.(args, this.traits) ?? {};
    const key = `${kernel.name}|${kernel.shader}|${JSON.stringify(params, Object.keys(params).sort())}`;
    let p = this.pipelines.get(key);
    if (!p) {
      p = this.build(kernel, key, params);
      this.pipelines.set(key, p);
      p.catch(() => this.pipelines.delete(key));
    }
    return p;
  }

  private async build<A>(kernel: KernelDescriptor<A>, key: string, params: Record<string, number | boolean>): Promise<CompiledKernel> {
    this.assertAlive(kernel.name);
    const code = specialize(kernel.shader, await loadShader(kernel.shader), params);
    const layout = reflectLayout(kernel.shader, code);
    const bindGroupLayout = this.device.createBindGroupLayout({
      label: kernel.name,
      entries: layout.bindings.map((b) => ({
        binding: b.binding,
        visibility: COMPUTE,
        buffer:
          b.kind === 'uniform'
            ? { type: 'uniform' as const, hasDynamicOffset: true }
            : { type: b.kind === 'read' ? ('read-only-storage' as const) : ('storage' as const) },
      })),
    });
    // The scope keeps a compile failure from also surfacing later as an uncaptured error.
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code, label: kernel.shader });
    const scoped = this.device.popErrorScope();
    const info = await module.getCompilationInfo();
    const problems = info.messages.filter((m) => m.type === 'error');
    if (problems.length) {
      throw new KernelError(kernel.name, `${kernel.shader} does not compile:\n${problems.map((m) => `  line ${m.lineNum}:${m.linePos} ${m.message}`).join('\n')}`);
    }
    const scopeError = await scoped;
    if (scopeError) throw new KernelError(kernel.name, `${kernel.shader} does not compile: ${scopeError.message}`);
    const descriptor: GPUComputePipelineDescriptor = {
      label: kernel.name,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [bindGroupLayout], label: kernel.name }),
      compute: { module, entryPoint: 'main' },
    };
    try {
      // Asynchronous creation keeps Node's event loop and the browser's main thread free while the
      // driver compiles (60 ms to 1 s per pipeline on SwiftShader).
      const pipeline = await this.device.createComputePipelineAsync(descriptor);
      return { name: kernel.name, key, pipeline, bindGroupLayout, layout };
    } catch (err) {
      throw new KernelError(kernel.name, `pipeline for ${kernel.shader} failed: ${(err as Error).message}`);
    }
  }

  /**
   * Compile if needed, check the bindings, and record the dispatch into the current batch; with
   * `indirect`, its workgroup counts are those a kernel wrote there (see IndirectDispatch).
   */
  async run<A>(kernel: KernelDescriptor<A>, args: A, bindings: Bindings, indirect?: IndirectDispatch): Promise<void> {
    if (this.compiling) {
      this.compiling.push(this.compile(kernel, args));
      return;
    }
    const compiled = await this.compile(kernel, args);
    this.encode(compiled, kernel, args, bindings, undefined, indirect);
  }

  /**
   * Builds every pipeline that `job` would dispatch, all at once, without running anything on the
   * GPU: while `job` runs, each dispatch only starts its pipeline's compilation (the driver builds
   * them in parallel instead of one after another as a first run would), read-backs return zeros
   * and waits return at once. Uploads still happen (weights, constants: a warm-up wants them too).
   * Nothing else may use this Gpu meanwhile: its dispatches would be dropped. Returns how many
   * dispatches were seen.
   */
  async precompile(job: () => Promise<unknown>): Promise<number> {
    if (this.compiling) throw new GpuError('precompile: already precompiling on this Gpu');
    const started: Promise<CompiledKernel>[] = [];
    this.compiling = started;
    try {
      await job();
    } finally {
      this.compiling = null;
    }
    await Promise.all(started);
    return started.length;
  }

  /** Record a dispatch of an already compiled kernel (synchronous: used by graph runners). */
  encode<A>(compiled: CompiledKernel, kernel: KernelDescriptor<A>, args: A, bindings: Bindings, rec?: DispatchRecording, indirect?: IndirectDispatch): void {
    this.assertAlive(kernel.name);
    if (this.compiling) return; // a precompile dry run dispatches nothing
    const [x, y = 1, z = 1] = indirect ? [1, 1, 1] : kernel.workgroups(args, this.traits);
    this.checkBindings(compiled, kernel.sizes(args), bindings);
    const max = this.traits.limits.maxComputeWorkgroupsPerDimension;
    for (const [axis, n] of [['x', x], ['y', y], ['z', z]] as const) {
      if (!Number.isInteger(n) || n < 0 || n > max) throw new KernelError(kernel.name, `dispatch ${axis} = ${n} workgroups is outside 0..${max}`);
    }
    if (x * y * z === 0) return; // empty tensors: nothing to do
    let from: { buffer: GPUBuffer; offset: number } | undefined;
    if (indirect) {
      const { args: t, word } = indirect;
      if (!(t instanceof Tensor) || t.dtype !== 'u32' || !Number.isInteger(word) || word < 0 || word + 3 > t.size) {
        throw new KernelError(kernel.name, `indirect workgroup counts must be 3 u32 inside a u32 tensor (word ${word} of ${String(t)})`);
      }
      from = { buffer: t.buffer, offset: t.byteOffset + 4 * word };
    }
    const uniformOffset = this.packUniforms(compiled, kernel.uniforms?.(args, this.traits) ?? {});
    const bindGroup = this.bindGroupFor(compiled, bindings);
    const webgpuStart = performance.now();
    const pass = this.takePass(kernel.name);
    pass.setPipeline(compiled.pipeline);
    pass.setBindGroup(0, bindGroup, compiled.layout.uniform ? [uniformOffset] : []);
    if (from) pass.dispatchWorkgroupsIndirect(from.buffer, from.offset);
    else pass.dispatchWorkgroups(x, y, z);
    this.traffic.webgpuMs += performance.now() - webgpuStart;
    this.batchKernels.push(kernel.name);
    this.dispatched++;
    if (this.profilingOn) this.endPass();
    if (rec) {
      const size = compiled.layout.uniform ? Math.ceil(compiled.layout.uniform.size / 16) * 16 : 0;
      const uniforms = size ? new Uint8Array(this.uniformMirror.slice(uniformOffset, uniformOffset + size)) : null;
      rec.dispatches.push({ kernel: kernel.name, pipeline: compiled.pipeline, bindGroup, uniforms, x, y, z, indirect: from });
    }
  }

  /** Places recorded uniform bytes in the arena; returns their offset. */
  private packUniformBytes(bytes: Uint8Array): number {
    const align = this.traits.limits.minUniformBufferOffsetAlignment;
    if (this.uniformCursor + bytes.byteLength > UNIFORM_ARENA_BYTES) this.flush();
    const offset = this.uniformCursor;
    this.uniformCursor = Math.ceil((offset + bytes.byteLength) / align) * align;
    new Uint8Array(this.uniformMirror, offset, bytes.byteLength).set(bytes);
    return offset;
  }

  private checkBindings(compiled: CompiledKernel, sizes: Record<string, number>, bindings: Bindings): void {
    const name = compiled.name;
    const declared = compiled.layout.bindings.filter((b) => b.kind !== 'uniform');
    const declaredNames = new Set(declared.map((b) => b.name));
    for (const given of Object.keys(bindings)) {
      if (!declaredNames.has(given)) throw new KernelError(name, `not declared by the shader (it declares: ${[...declaredNames].join(', ')})`, given);
    }
    for (const b of declared) {
      const needed = sizes[b.name];
      if (needed === undefined) throw new KernelError(name, 'the descriptor states no size for it', b.name);
      const t = bindings[b.name];
      if (!t) {
        // A binding the kernel will not touch for these arguments (size 0: an absent bias, an
        // unrequested statistics output) may be omitted; bindGroupFor binds a placeholder.
        if (needed === 0) continue;
        throw new KernelError(name, 'missing', b.name);
      }
      if (!(t instanceof Tensor)) throw new KernelError(name, 'is not a Tensor', b.name);
      const elementBytes = b.elementBytes;
      if (t.byteLength % elementBytes !== 0 && t.byteLength > 0) {
        throw new KernelError(name, `${t} is ${t.byteLength} bytes, not a whole number of ${b.elementType} (${elementBytes} bytes)`, b.name);
      }
      const have = t.byteLength / elementBytes;
      if (have < needed) throw new KernelError(name, `${t} holds ${have} ${b.elementType}, the kernel needs ${needed}`, b.name);
      if ((t.buffer.usage & BUF_STORAGE) === 0) throw new KernelError(name, `buffer '${t.buffer.label}' lacks STORAGE usage`, b.name);
      if (t.byteOffset % this.traits.limits.minStorageBufferOffsetAlignment !== 0) {
        throw new KernelError(name, `byte offset ${t.byteOffset} is not a multiple of ${this.traits.limits.minStorageBufferOffsetAlignment}`, b.name);
      }
    }
    // A writable binding may not overlap any other binding (WebGPU forbids writable aliasing).
    for (const w of declared.filter((b) => b.kind === 'read_write' && bindings[b.name])) {
      const tw = bindings[w.name]!;
      for (const o of declared) {
        const to = bindings[o.name];
        if (o === w || !to) continue;
        const overlap = to.buffer === tw.buffer && to.byteOffset < tw.byteOffset + Math.max(tw.byteLength, 4) && tw.byteOffset < to.byteOffset + Math.max(to.byteLength, 4);
        if (overlap) throw new KernelError(name, `overlaps binding '${o.name}' in the same buffer; a written binding must not alias another`, w.name);
      }
    }
  }

  private packUniforms(compiled: CompiledKernel, values: UniformValues): number {
    const u = compiled.layout.uniform;
    if (!u) {
      if (Object.keys(values).length) throw new KernelError(compiled.name, `the shader has no uniform struct but uniforms were given: ${Object.keys(values).join(', ')}`);
      return 0;
    }
    const align = this.traits.limits.minUniformBufferOffsetAlignment;
    const bytes = Math.ceil(u.size / 16) * 16;
    if (this.uniformCursor + bytes > UNIFORM_ARENA_BYTES) this.flush();
    const offset = this.uniformCursor;
    this.uniformCursor = Math.ceil((offset + bytes) / align) * align;
    const view = new DataView(this.uniformMirror, offset, bytes);
    for (let i = 0; i < bytes; i += 4) view.setUint32(i, 0, true);
    for (const key of Object.keys(values)) {
      if (!u.fields.has(key)) throw new KernelError(compiled.name, `unknown uniform '${key}' (the struct has: ${[...u.fields.keys()].join(', ')})`);
    }
    for (const [field, f] of u.fields) {
      const v = values[field];
      if (v === undefined) throw new KernelError(compiled.name, `uniform '${field}' not given`);
      const list = typeof v === 'number' ? [v] : v;
      if (list.length !== f.components) throw new KernelError(compiled.name, `uniform '${field}' (${f.type}) needs ${f.components} values, got ${list.length}`);
      const scalar = /f32/.test(f.type) ? 'f32' : /i32/.test(f.type) ? 'i32' : 'u32';
      list.forEach((value, i) => {
        const at = f.offset + 4 * i;
        if (scalar === 'f32') view.setFloat32(at, value, true);
        else {
          if (!Number.isInteger(value)) throw new KernelError(compiled.name, `uniform '${field}' is ${f.type} but got ${value}`);
          if (scalar === 'i32') view.setInt32(at, value, true);
          else {
            if (value < 0 || value > 0xffffffff) throw new KernelError(compiled.name, `uniform '${field}' = ${value} does not fit u32`);
            view.setUint32(at, value, true);
          }
        }
      });
    }
    return offset;
  }

  private bindGroupFor(compiled: CompiledKernel, bindings: Bindings): GPUBindGroup {
    const parts = [compiled.key];
    const resolved = new Map<string, Tensor>();
    for (const b of compiled.layout.bindings) {
      if (b.kind === 'uniform') continue;
      const t = bindings[b.name] ?? this.placeholder(b.binding);
      resolved.set(b.name, t);
      parts.push(`${bufferId(t.buffer)}:${t.byteOffset}:${t.byteLength}`);
    }
    const key = parts.join('|');
    let group = this.bindGroups.get(key);
    if (!group) {
      if (this.bindGroups.size > 8192) this.bindGroups.clear();
      const u = compiled.layout.uniform;
      const webgpuStart = performance.now();
      group = this.device.createBindGroup({
        label: compiled.name,
        layout: compiled.bindGroupLayout,
        entries: compiled.layout.bindings.map((b) => {
          if (b.kind === 'uniform') return { binding: b.binding, resource: { buffer: this.uniformArena, offset: 0, size: Math.ceil(u!.size / 16) * 16 } };
          const t = resolved.get(b.name)!;
          // WebGPU forbids zero-sized bindings; an empty tensor binds 4 bytes that are never read.
          const size = Math.max(Math.ceil(t.byteLength / 4) * 4, 4);
          return { binding: b.binding, resource: { buffer: t.buffer, offset: t.byteOffset, size: Math.min(size, t.buffer.size - t.byteOffset) } };
        }),
      });
      this.traffic.webgpuMs += performance.now() - webgpuStart;
      this.bindGroups.set(key, group);
    }
    return group;
  }

  /** A 16-byte buffer bound in place of an omitted binding; one per binding slot, so that two
   *  placeholders in one dispatch never alias (a written binding must not alias another). */
  private placeholder(slot: number): Tensor {
    let t = this.placeholders.get(slot);
    if (!t) this.placeholders.set(slot, (t = new Tensor([4], 'f32', this.device.createBuffer({ size: 16, usage: 0x80 | 0x08 | 0x04, label: `placeholder @binding(${slot})` }))));
    return t;
  }

  /** Drop cached bind groups that reference a buffer (call before destroying it). */
  forgetBuffer(buffer: GPUBuffer): void {
    const id = `${bufferId(buffer)}:`;
    for (const key of this.bindGroups.keys()) if (key.includes(`|${id}`)) this.bindGroups.delete(key);
  }

  // ------------------------------------------------------------------------------------------
  // Batching and submission

  private takeEncoder(): GPUCommandEncoder {
    this.endPass();
    this.encoder ??= this.device.createCommandEncoder({ label: 'seedmask batch' });
    return this.encoder;
  }

  private takePass(kernel: string): GPUComputePassEncoder {
    if (this.pass) return this.pass;
    const encoder = this.takeEncoder();
    let timestampWrites: GPUComputePassTimestampWrites | undefined;
    if (this.profilingOn) {
      if (this.queryKernels.length >= this.queryCapacity) {
        this.flush();
        return this.takePass(kernel);
      }
      this.querySet ??= this.device.createQuerySet({ type: 'timestamp', count: 2 * this.queryCapacity, label: 'profiler' });
      const i = this.queryKernels.length;
      this.queryKernels.push(kernel);
      timestampWrites = { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
    }
    this.pass = encoder.beginComputePass({ label: kernel, timestampWrites });
    return this.pass;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  /** Per-dispatch GPU timing via timestamp queries (one pass per dispatch while on). */
  set profiling(on: boolean) {
    if (on && !this.traits.features.timestampQuery) throw new GpuError(`adapter ${this.adapterName} has no timestamp-query feature`);
    this.flush();
    this.profilingOn = on;
  }

  /** Whether per-dispatch timing is on; off by default. */
  get profiling(): boolean {
    return this.profilingOn;
  }

  /** Remove and return the GPU times gathered so far (in dispatch order; complete after sync()). */
  takeTimings(): KernelTiming[] {
    return this.timings.splice(0);
  }

  /** Dispatches recorded since the device opened (runners use it to attribute profile entries). */
  get dispatchCount(): number {
    return this.dispatched;
  }

  /** Submit everything recorded so far. */
  flush(): void {
    if (!this.encoder) return;
    this.submit(this.takeEncoder());
  }

  private submit(encoder: GPUCommandEncoder): void {
    this.endPass();
    let timestamps: { buffer: GPUBuffer; kernels: string[] } | undefined;
    if (this.queryKernels.length && this.querySet) {
      const n = this.queryKernels.length;
      const resolve = this.device.createBuffer({ size: 16 * n, usage: BUF_QUERY_RESOLVE | BUF_COPY_SRC, label: 'timestamps' });
      const buffer = this.device.createBuffer({ size: 16 * n, usage: BUF_MAP_READ | BUF_COPY_DST, label: 'timestamps readback' });
      encoder.resolveQuerySet(this.querySet, 0, 2 * n, resolve, 0);
      encoder.copyBufferToBuffer(resolve, 0, buffer, 0, 16 * n);
      timestamps = { buffer, kernels: this.queryKernels };
      this.queryKernels = [];
    }
    const kernels = this.batchKernels;
    this.batchKernels = [];
    const webgpuStart = performance.now();
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    if (this.uniformCursor > 0) this.device.queue.writeBuffer(this.uniformArena, 0, this.uniformMirror, 0, this.uniformCursor);
    this.traffic.uniformBytes += this.uniformCursor;
    this.traffic.submits++;
    this.device.queue.submit([encoder.finish()]);
    this.pool.destroyEvicted();
    this.encoder = null;
    this.uniformCursor = 0;
    const where = () => (kernels.length ? ` in a batch of ${kernels.length} dispatches (${summarise(kernels)})` : '');
    const validation = this.device.popErrorScope().then((e) => {
      if (e) throw new GpuError(`WebGPU validation error${where()}: ${e.message}`);
    });
    const oom = this.device.popErrorScope().then((e) => {
      if (e) throw new GpuError(`out of GPU memory${where()}: ${e.message}`);
    });
    this.traffic.webgpuMs += performance.now() - webgpuStart;
    this.pendingChecks.push(validation, oom);
    if (timestamps) {
      const { buffer, kernels: names } = timestamps;
      this.pendingChecks.push(
        buffer.mapAsync(1).then(() => {
          const t = new BigUint64Array(buffer.getMappedRange());
          names.forEach((kernel, i) => this.timings.push({ kernel, ms: Number(t[2 * i + 1]! - t[2 * i]!) / 1e6 }));
          buffer.unmap();
          buffer.destroy();
        }),
      );
    }
  }

  /** Submit, wait for the GPU to finish, and throw any error the device reported. */
  async sync(): Promise<void> {
    if (this.compiling) return;
    this.flush();
    const checks = this.pendingChecks;
    this.pendingChecks = [];
    const waitStart = performance.now();
    await this.device.queue.onSubmittedWorkDone();
    await Promise.all(checks);
    this.traffic.waitMs += performance.now() - waitStart;
    this.assertAlive('sync');
    if (this.errors.length) {
      const errs = this.errors.splice(0);
      throw new GpuError(`WebGPU error: ${errs.join('\n')}`);
    }
  }

  private assertAlive(what: string): void {
    if (this.lostReason !== null) throw new DeviceLostError(`GPU device lost (${this.lostReason}) before '${what}'`);
  }
}

function summarise(kernels: string[]): string {
  const counts = new Map<string, number>();
  for (const k of kernels) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts].map(([k, n]) => (n > 1 ? `${k}×${n}` : k)).join(', ');
}

function toTyped(data: TypedArray | readonly number[], dtype: DType): TypedArray {
  switch (dtype) {
    case 'f32':
      return data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
    case 'i32':
      return data instanceof Int32Array ? data : Int32Array.from(data as ArrayLike<number>);
    case 'u32':
      return data instanceof Uint32Array ? data : Uint32Array.from(data as ArrayLike<number>);
    case 'f16':
      if (!(data instanceof Uint16Array)) throw new GpuError('f16 data must be given as raw Uint16Array bits');
      return data;
  }
}

function fromBytes(bytes: ArrayBuffer, dtype: DType): TypedArray {
  switch (dtype) {
    case 'f32':
      return new Float32Array(bytes);
    case 'i32':
      return new Int32Array(bytes);
    case 'u32':
      return new Uint32Array(bytes);
    case 'f16':
      return new Uint16Array(bytes);
  }
}
