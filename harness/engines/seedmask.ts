// seedmask in the page: kernels with inputs and output resident on the GPU (a run = record the
// dispatches, submit, wait), and the CLIP vision graph from a weight file fetched from the server
// (a run = graph.run: input upload, forward, output download, as a user calls it).
import type { Gpu } from '../../src/gpu/context.js';
import type { Tensor } from '../../src/gpu/tensor.js';
import { ClipModel } from '../../src/models/clip/model.js';
import type { HostTensors, KernelCase } from '../lib/kernel-cases.js';
import type { PreparedRun } from './types.js';

export const SEEDMASK_NAME = 'seedmask (WebGPU, hand-written WGSL)';

export async function prepareSeedmaskKernel(gpu: Gpu, c: KernelCase, inputs: HostTensors): Promise<PreparedRun> {
  const tensors: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(inputs)) tensors[name] = gpu.upload(t.data, t.shape, 'f32', name);
  const out = gpu.empty(c.seedmask.outShape, 'f32', 'bench out');
  return {
    name: SEEDMASK_NAME,
    io: 'gpu-resident',
    note: c.seedmask.note(gpu),
    run: async () => {
      await c.seedmask.run(gpu, tensors, out);
      await gpu.sync();
    },
    read: () => gpu.readF32(out),
    dispose: async () => gpu.release(...Object.values(tensors), out),
  };
}

export interface ClipForwardSpec {
  weightsUrl: string;
  height: number;
  width: number;
  image: Float32Array;
}

/** The CLIP image tower: features [L, E] of every token. initMs = weight load + graph compile. */
export async function prepareSeedmaskClip(gpu: Gpu, spec: ClipForwardSpec): Promise<PreparedRun & { flops: number; tokens: number; embedDim: number }> {
  const t0 = performance.now();
  const response = await fetch(spec.weightsUrl);
  if (!response.ok) throw new Error(`${spec.weightsUrl}: HTTP ${response.status}`);
  const model = await ClipModel.load(gpu, await response.blob(), { tokenizer: false });
  const graph = await model.visionGraph(spec.height, spec.width);
  const initMs = performance.now() - t0;
  let flops = 0;
  for (const node of graph.graph.nodes) flops += node.op.flops?.(node.inputs, node.attrs) ?? 0;
  const embedDim = model.config.embedDim;
  const tokens = 1 + (spec.height / model.config.vision.patch) * (spec.width / model.config.vision.patch);
  let last: Float32Array | undefined;
  return {
    name: SEEDMASK_NAME,
    io: 'host',
    note: `compiled graph (${graph.graph.nodes.length} nodes); weights ${(graph.weightBytes / 2 ** 20).toFixed(1)} MiB`,
    initMs,
    flops,
    tokens,
    embedDim,
    run: async () => {
      const { outputs } = await graph.run({ image: spec.image });
      last = outputs.get('features') as Float32Array;
    },
    read: async () => {
      if (!last) throw new Error('seedmask clip: read before the first run');
      return last;
    },
    dispose: () => model.destroy(),
  };
}
