// The CPU peer: onnxruntime-node's CPU execution provider on a hand-built one-node ONNX model
// (bench/lib/onnx.ts), 2 intra-op threads, inputs prepared once outside the timed runs.
import * as ort from 'onnxruntime-node';
import type { PeerCase, PeerRun } from './suite.js';

export const ORT_THREADS = 2;
export const ORT_PEER_NAME = `onnxruntime-node ${ort.env.versions?.node ?? ''} cpu, ${ORT_THREADS} threads`.replace(/\s+/g, ' ');

/** A peer that runs `model` on the given inputs (name → [data, dims]). */
export function ortPeer(key: string, model: () => Uint8Array, inputs: () => Record<string, [Float32Array, number[]]>): PeerCase {
  return {
    name: ORT_PEER_NAME,
    key,
    async setup(): Promise<PeerRun> {
      const session = await ort.InferenceSession.create(model(), {
        intraOpNumThreads: ORT_THREADS,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, [data, dims]] of Object.entries(inputs())) feeds[name] = new ort.Tensor('float32', data, dims);
      return {
        run: async () => {
          await session.run(feeds);
        },
        // Releasing ends the session's thread pool, whose spinning threads would otherwise take
        // CPU from the SwiftShader runs that follow.
        dispose: () => void session.release(),
      };
    },
  };
}
