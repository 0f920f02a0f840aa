// One call, `openGpu()`, returns a ready GPUDevice wrapped in a `Gpu` context, in a browser
// (navigator.gpu) or in Node (the npm `webgpu` package, i.e. Dawn).
//
// Node without a GPU: Dawn only finds an adapter if the Vulkan loader is pointed at an ICD.
// The loader reads VK_ICD_FILENAMES / VK_DRIVER_FILES once, when Dawn first loads Vulkan, so we
// decide before creating the instance: if the caller set neither variable and the machine has no
// GPU device node (/dev/dri/renderD*, /dev/nvidia*), we point the loader at SwiftShader from
// Debian's `chromium` package. (Mesa's ICD files are often installed without any GPU, and its CPU
// driver lavapipe is rejected by Dawn, so the presence of ICD files proves nothing.)
import { GpuError } from './errors.js';

/** Options of {@link Gpu.open}: which adapter, and how to set up the device. */
export interface OpenGpuOptions {
  /**
   * Which adapter to use. 'swiftshader' forces the CPU Vulkan driver; any other string is matched
   * (case-insensitively) against the adapter's vendor/architecture/device/description and, in Node,
   * passed to Dawn as its `adapter=` toggle. Default: env SEEDMASK_ADAPTER, else the first adapter.
   */
  adapter?: string;
  /** Passed to `requestAdapter`: 'low-power' or 'high-performance'. Default: the runtime's choice. */
  powerPreference?: GPUPowerPreference;
  /**
   * Disable Dawn's bounds-clamping robustness transform (1.1–3.4x faster on SwiftShader). Only for
   * benchmarks and tests of kernels proven in-bounds; never the default. Env: SEEDMASK_UNSAFE=1.
   */
  unsafeNoRobustness?: boolean;
  /**
   * Lower device limits than the adapter's (e.g. `{ maxBufferSize: 256 * 2 ** 20 }`), to see how
   * work behaves on a smaller GPU. Values above the adapter's maximum are clamped to it.
   */
  limits?: Record<string, number>;
}

/** The WebGPU adapter a {@link Gpu} runs on, from `GPUAdapter.info`; strings may be empty. */
export interface AdapterDescription {
  /** Adapter vendor, e.g. 'nvidia' or 'google' (SwiftShader). */
  vendor: string;
  /** GPU architecture or family name. */
  architecture: string;
  /** Device name or id. */
  device: string;
  /** Driver's human-readable description of the adapter. */
  description: string;
  /** 'swiftshader' when running on the CPU Vulkan driver; kernels pick variants by it. */
  kind: 'swiftshader' | 'gpu';
  /** 'node-dawn' in Node (the npm `webgpu` package), 'browser' for navigator.gpu. */
  backend: 'node-dawn' | 'browser';
  /** Subgroup sizes the adapter may use (0 when it does not say). */
  subgroupMinSize: number;
  /** Largest subgroup size the adapter may use (0 when it does not say). */
  subgroupMaxSize: number;
}

/** Optional WebGPU features enabled on the device (each is requested when the adapter has it). */
export interface GpuFeatures {
  /** 'timestamp-query': needed for kernel profiling ({@link Gpu.profiling}). */
  timestampQuery: boolean;
  /** 'subgroups': lets row-wise kernels (layernorm, softmax, reductions) use their subgroup variants. */
  subgroups: boolean;
  /** 'shader-f16': half-precision arithmetic in shaders. */
  shaderF16: boolean;
}

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

function isNode(): boolean {
  return typeof process !== 'undefined' && !!process.versions?.node && typeof (globalThis as { window?: unknown }).window === 'undefined';
}

async function nodeGpu(adapterWanted: string | undefined, unsafe: boolean): Promise<GPU> {
  const fs = await import('node:fs');
  const env = process.env;
  env.XDG_RUNTIME_DIR ??= '/tmp'; // silences a harmless Dawn warning
  const wantsSwiftShader = adapterWanted?.toLowerCase() === 'swiftshader';
  if (!env.VK_ICD_FILENAMES && !env.VK_DRIVER_FILES) {
    const list = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);
    const hasGpu = list('/dev/dri').some((f) => f.startsWith('renderD')) || list('/dev').some((f) => /^nvidia\d/.test(f));
    if (wantsSwiftShader || !hasGpu) {
      if (!fs.existsSync(SWIFTSHADER_ICD)) {
        throw new GpuError(
          `no GPU device node and no SwiftShader Vulkan driver at ${SWIFTSHADER_ICD}. ` +
            `Install Debian's 'chromium' and 'libvulkan1' packages (.ci/run does this), or set VK_ICD_FILENAMES.`,
        );
      }
      env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    }
  }
  let webgpu: typeof import('webgpu');
  try {
    webgpu = await import('webgpu');
  } catch (err) {
    throw new GpuError(`cannot load the 'webgpu' npm package (Dawn for Node): ${(err as Error).message}`);
  }
  Object.assign(globalThis, webgpu.globals);
  const toggles: string[] = [];
  if (unsafe) toggles.push('enable-dawn-features=allow_unsafe_apis,disable_robustness');
  else toggles.push('enable-dawn-features=allow_unsafe_apis'); // needed for timestamp queries in some Dawn builds
  if (adapterWanted && !wantsSwiftShader) toggles.push(`adapter=${adapterWanted}`);
  const instance = webgpu.create(toggles);
  // Keep the instance reachable for the life of the process: if the GPU object is garbage-collected,
  // Dawn frees the native instance while its event loop hook still runs, and the process crashes
  // at random (a use-after-free in InstanceBase::ProcessEvents, found with gdb).
  liveInstances.push(instance);
  return instance;
}

const liveInstances: GPU[] = [];

export function describeAdapter(adapter: GPUAdapter, backend: AdapterDescription['backend']): AdapterDescription {
  const info = adapter.info;
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    kind: text.includes('swiftshader') ? 'swiftshader' : 'gpu',
    backend,
    subgroupMinSize: (info as { subgroupMinSize?: number }).subgroupMinSize ?? 0,
    subgroupMaxSize: (info as { subgroupMaxSize?: number }).subgroupMaxSize ?? 0,
  };
}

export function adapterName(a: AdapterDescription): string {
  return [a.vendor, a.architecture, a.device || a.description].filter(Boolean).join(' / ') + ` (${a.backend})`;
}

/** Request every limit at the adapter's maximum; the spec defaults are far too small for ViT-B/16. */
function maxLimits(adapter: GPUAdapter): Record<string, number> {
  const limits: Record<string, number> = {};
  // GPUSupportedLimits exposes its values as prototype getters, so enumerate the prototype.
  const proto = Object.getPrototypeOf(adapter.limits) as object;
  for (const key of Object.getOwnPropertyNames(proto)) {
    const value = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof value === 'number') limits[key] = value;
  }
  return limits;
}

export interface OpenedDevice {
  device: GPUDevice;
  /** Held by the context so that it outlives the device (see liveInstances). */
  gpuAdapter: GPUAdapter;
  adapter: AdapterDescription;
  features: GpuFeatures;
}

export async function requestDevice(options: OpenGpuOptions = {}): Promise<OpenedDevice> {
  const env = isNode() ? process.env : {};
  const adapterWanted = options.adapter ?? env.SEEDMASK_ADAPTER;
  const unsafe = options.unsafeNoRobustness ?? env.SEEDMASK_UNSAFE === '1';
  let gpu: GPU;
  let backend: AdapterDescription['backend'];
  if (isNode()) {
    gpu = await nodeGpu(adapterWanted, unsafe);
    backend = 'node-dawn';
  } else {
    const nav = (globalThis as { navigator?: Navigator }).navigator;
    if (!nav?.gpu) throw new GpuError('this browser has no WebGPU (navigator.gpu is missing; a secure context such as http://localhost is required)');
    gpu = nav.gpu;
    backend = 'browser';
  }
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference });
  if (!adapter) {
    throw new GpuError(
      `no WebGPU adapter found${adapterWanted ? ` matching '${adapterWanted}'` : ''}` +
        (isNode() ? ` (VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? 'unset'}, VK_DRIVER_FILES=${process.env.VK_DRIVER_FILES ?? 'unset'})` : ''),
    );
  }
  const description = describeAdapter(adapter, backend);
  if (adapterWanted && adapterWanted.toLowerCase() !== 'swiftshader') {
    const text = `${description.vendor} ${description.architecture} ${description.device} ${description.description}`.toLowerCase();
    if (!text.includes(adapterWanted.toLowerCase())) {
      throw new GpuError(`adapter '${adapterName(description)}' does not match the requested '${adapterWanted}'`);
    }
  }
  const wanted: GPUFeatureName[] = ['timestamp-query', 'subgroups', 'shader-f16'];
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  const requiredLimits = maxLimits(adapter);
  for (const [key, value] of Object.entries(options.limits ?? {})) {
    if (!(key in requiredLimits)) throw new GpuError(`unknown device limit '${key}'`);
    requiredLimits[key] = Math.min(value, requiredLimits[key]!);
  }
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  return {
    device,
    gpuAdapter: adapter,
    adapter: description,
    features: {
      timestampQuery: device.features.has('timestamp-query'),
      subgroups: device.features.has('subgroups'),
      shaderF16: device.features.has('shader-f16'),
    },
  };
}
