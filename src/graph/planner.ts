// Static memory plan: every intermediate value gets a buffer slot, and a slot is reused once the
// last node reading its previous value has been recorded. Within one compute pass WebGPU orders
// dispatches, so a later node may overwrite a buffer that an earlier node read.
import { DTYPE_BYTES, numel } from '../gpu/tensor.js';
import type { Graph, Value } from './graph.js';

export interface MemoryPlan {
  /** Slot index of each node value (by value id); inputs get slots too, weights do not. */
  slotOf: Map<number, number>;
  /** Bytes of each slot (the largest value it ever holds, rounded up to 16). */
  slotBytes: number[];
  /** Σ slot bytes: the activations' peak footprint. */
  peakBytes: number;
  /** What the same graph would need without reuse. */
  unplannedBytes: number;
}

export function valueBytes(v: Value): number {
  return Math.max(16, Math.ceil((numel(v.shape) * DTYPE_BYTES[v.dtype]) / 16) * 16);
}

export function planMemory(graph: Graph): MemoryPlan {
  const lastUse = new Map<number, number>();
  graph.nodes.forEach((node, i) => {
    for (const v of node.inputs) if (v) lastUse.set(v.id, i);
  });
  // Graph outputs and inputs live for the whole run: outputs are read after it, and inputs are
  // written before it and must survive a second run of the same compiled graph untouched.
  const pinned = new Set<number>([...graph.outputs.values(), ...graph.inputs.values()].map((v) => v.id));

  const slotBytes: number[] = [];
  const free: number[] = [];
  const slotOf = new Map<number, number>();
  let unplannedBytes = 0;

  const allocate = (v: Value) => {
    const bytes = valueBytes(v);
    unplannedBytes += bytes;
    // Best fit among free slots; otherwise grow the largest free slot, else open a new one.
    let best = -1;
    for (const s of free) if (slotBytes[s]! >= bytes && (best < 0 || slotBytes[s]! < slotBytes[best]!)) best = s;
    if (best < 0 && free.length) best = free.reduce((a, b) => (slotBytes[a]! >= slotBytes[b]! ? a : b));
    if (best >= 0) {
      free.splice(free.indexOf(best), 1);
      slotBytes[best] = Math.max(slotBytes[best]!, bytes);
    } else {
      best = slotBytes.length;
      slotBytes.push(bytes);
    }
    slotOf.set(v.id, best);
  };

  for (const v of graph.inputs.values()) allocate(v);
  graph.nodes.forEach((node, i) => {
    // Outputs first: a node never writes over the inputs it is still reading.
    for (const v of node.outputs) allocate(v);
    for (const v of new Set(node.inputs)) {
      if (!v || v.kind === 'weight' || pinned.has(v.id) || lastUse.get(v.id) !== i) continue;
      free.push(slotOf.get(v.id)!);
    }
    // An output nobody reads (e.g. optional statistics) is free right away.
    for (const v of node.outputs) if (!lastUse.has(v.id) && !pinned.has(v.id)) free.push(slotOf.get(v.id)!);
  });
  return { slotOf, slotBytes, peakBytes: slotBytes.reduce((a, b) => a + b, 0), unplannedBytes };
}
