// TensorFlow.js with its WebGPU backend in the page. Inputs are tensors uploaded once (the cold run
// moves them to the GPU); a run = the ops, the backend's batched dispatches submitted, the queue
// drained. WEBGPU_CPU_FORWARD is off so that no op is sent to the CPU because it looks small.
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import '@tensorflow/tfjs-backend-webgpu';
import type { HostTensors, KernelCase } from '../lib/kernel-cases.js';
import type { PreparedRun } from './types.js';

let ready: Promise<WebGPUBackend> | undefined;

export function loadTfjs(): Promise<WebGPUBackend> {
  ready ??= (async () => {
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs: the webgpu backend did not initialise');
    await tf.ready();
    return tf.backend() as WebGPUBackend;
  })();
  return ready;
}

/** Submit what the backend has batched, the way its own reads do (end the open pass first). */
function flush(backend: WebGPUBackend): void {
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.submitQueue();
}

export const tfjsName = () => `tfjs ${tf.version_core} webgpu backend`;

export async function prepareTfjsKernel(c: KernelCase, inputs: HostTensors): Promise<PreparedRun> {
  const recipe = c.tfjs;
  if (!recipe) throw new Error(`${c.name}: no tfjs recipe for this case`);
  const backend = await loadTfjs();
  const tensors: Record<string, tf.Tensor> = {};
  for (const [name, t] of Object.entries(recipe.feeds ? recipe.feeds(inputs) : inputs)) tensors[name] = tf.tensor(t.data, t.shape, 'float32');
  let last: tf.Tensor | undefined;
  return {
    name: tfjsName(),
    io: 'gpu-resident',
    note: recipe.note,
    run: async () => {
      const y = tf.tidy(() => recipe.build(tf, tensors));
      flush(backend);
      await backend.device.queue.onSubmittedWorkDone();
      last?.dispose();
      last = y;
    },
    read: async () => {
      if (!last) throw new Error('tfjs: read before the first run');
      return (await last.data()) as Float32Array;
    },
    dispose: async () => {
      last?.dispose();
      for (const t of Object.values(tensors)) t.dispose();
    },
  };
}
