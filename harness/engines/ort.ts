// onnxruntime-web's WebGPU execution provider in the page. Two builds ship in onnxruntime-web 1.30:
//   'jsep'    ort.min.mjs: the ORT core in wasm calling kernels written in TypeScript (JSEP)
//   'native'  ort.webgpu.min.mjs: the C++ WebGPU EP on Dawn, compiled to wasm (asyncify build)
// Both are loaded at run time from /ort/ (the driver serves node_modules/onnxruntime-web/dist
// there), so their .wasm files come from the same folder and vite never bundles them.
//
// Kernel cases run with inputs and the output bound to GPU buffers on ORT's own device (like
// seedmask's); a run = session.run + the queue drained. The CLIP case feeds host arrays and reads
// the output back, as seedmask's graph.run does.
import type * as Ort from 'onnxruntime-web';
import type { HostTensors, KernelCase } from '../lib/kernel-cases.js';
import { readGpuBuffer, type PreparedRun } from './types.js';

export type OrtFlavour = 'jsep' | 'native';
type OrtModule = typeof Ort;

const BUILDS: Record<OrtFlavour, { file: string; label: string }> = {
  jsep: { file: 'ort.min.mjs', label: 'webgpu EP (JSEP)' },
  native: { file: 'ort.webgpu.min.mjs', label: 'webgpu EP (native)' },
};

const loaded = new Map<OrtFlavour, Promise<OrtModule>>();

/** The ORT build, loaded once per page; wasm from the same folder, one thread (the GPU does the work). */
export function loadOrt(flavour: OrtFlavour, base = '/ort/'): Promise<OrtModule> {
  let p = loaded.get(flavour);
  if (!p) {
    const url = new URL(base + BUILDS[flavour].file, location.href).href;
    p = (import(/* @vite-ignore */ url) as Promise<OrtModule>).then((ort) => {
      ort.env.wasm.wasmPaths = new URL(base, location.href).href;
      ort.env.wasm.numThreads = 1;
      ort.env.logLevel = 'error';
      return ort;
    });
    loaded.set(flavour, p);
  }
  return p;
}

export function ortName(ort: OrtModule, flavour: OrtFlavour): string {
  return `onnxruntime-web ${ort.env.versions.web ?? ort.env.versions.common} ${BUILDS[flavour].label}`;
}

const SESSION_OPTIONS: Ort.InferenceSession.SessionOptions = { executionProviders: ['webgpu'], graphOptimizationLevel: 'all' };

export async function prepareOrtKernel(flavour: OrtFlavour, c: KernelCase, inputs: HostTensors): Promise<PreparedRun> {
  const recipe = c.onnx;
  if (!recipe) throw new Error(`${c.name}: no ONNX model for this case`);
  const ort = await loadOrt(flavour);
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(recipe.model(), SESSION_OPTIONS);
  const initMs = performance.now() - t0;
  const device = (await ort.env.webgpu.device) as GPUDevice;
  const buffers: GPUBuffer[] = [];
  const gpuTensor = (data: Float32Array | undefined, dims: number[]) => {
    // Storage buffers are bound in 16-byte units by ORT's kernels.
    const size = Math.ceil((dims.reduce((a, b) => a * b, 1) * 4) / 16) * 16;
    const buffer = device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    buffers.push(buffer);
    if (data) device.queue.writeBuffer(buffer, 0, data as Float32Array<ArrayBuffer>);
    return { buffer, tensor: ort.Tensor.fromGpuBuffer(buffer, { dataType: 'float32', dims }) };
  };
  const feeds: Record<string, Ort.Tensor> = {};
  for (const [name, t] of Object.entries(recipe.feeds(inputs))) feeds[name] = gpuTensor(t.data, t.shape).tensor;
  const outName = session.outputNames[0]!;
  const out = gpuTensor(undefined, recipe.output);
  const outBytes = recipe.output.reduce((a, b) => a * b, 1) * 4;
  return {
    name: ortName(ort, flavour),
    io: 'gpu-resident',
    note: recipe.note,
    initMs,
    run: async () => {
      await session.run(feeds, { [outName]: out.tensor });
      await device.queue.onSubmittedWorkDone();
    },
    read: () => readGpuBuffer(device, out.buffer, outBytes),
    dispose: async () => {
      await session.release();
      for (const b of buffers) b.destroy();
    },
  };
}

/** The exported CLIP image tower (weights/export_onnx.py): image [1, 3, H, W] → features [L, E]. */
export async function prepareOrtClip(flavour: OrtFlavour, spec: { onnxUrl: string; height: number; width: number; image: Float32Array }): Promise<PreparedRun> {
  const ort = await loadOrt(flavour);
  const t0 = performance.now();
  const response = await fetch(spec.onnxUrl);
  if (!response.ok) throw new Error(`${spec.onnxUrl}: HTTP ${response.status}`);
  const session = await ort.InferenceSession.create(new Uint8Array(await response.arrayBuffer()), SESSION_OPTIONS);
  const initMs = performance.now() - t0;
  const image = new ort.Tensor('float32', spec.image, [1, 3, spec.height, spec.width]);
  let last: Float32Array | undefined;
  return {
    name: ortName(ort, flavour),
    io: 'host',
    note: 'weights/export_onnx.py export, opset 17',
    initMs,
    run: async () => {
      const result = await session.run({ image });
      const y = result.features!;
      last = (await y.getData()) as Float32Array;
      y.dispose();
    },
    read: async () => {
      if (!last) throw new Error('onnxruntime-web clip: read before the first run');
      return last;
    },
    dispose: () => session.release(),
  };
}
