// The graph runner end to end: a pre-LN transformer block (the shape of every CLIP block) built as
// a graph, planned, compiled and run, against a float64 reference of the same block.
import { describe, expect, it } from 'vitest';
import { Graph, GraphError, type Value } from '../../src/graph/graph.js';
import { attentionOp, binaryOp, layerNormOp, matmulOp } from '../../src/graph/ops.js';
import { planMemory } from '../../src/graph/planner.js';
import { CompiledGraph } from '../../src/graph/runner.js';
import { testGpu } from '../helpers/gpu.js';
import { expectClose, randomArray } from '../helpers/reference.js';

const L = 13, D = 64, H = 2, HIDDEN = 4 * D;

interface BlockWeights {
  ln1g: Float32Array; ln1b: Float32Array; wqkv: Float32Array; bqkv: Float32Array; wo: Float32Array; bo: Float32Array;
  ln2g: Float32Array; ln2b: Float32Array; w1: Float32Array; b1: Float32Array; w2: Float32Array; b2: Float32Array;
}

function weights(seed: number): BlockWeights {
  const s = 1 / Math.sqrt(D);
  return {
    ln1g: randomArray(D, seed + 1, 0.5, 1.5), ln1b: randomArray(D, seed + 2, -0.2, 0.2),
    wqkv: randomArray(3 * D * D, seed + 3, -s, s), bqkv: randomArray(3 * D, seed + 4, -0.1, 0.1),
    wo: randomArray(D * D, seed + 5, -s, s), bo: randomArray(D, seed + 6, -0.1, 0.1),
    ln2g: randomArray(D, seed + 7, 0.5, 1.5), ln2b: randomArray(D, seed + 8, -0.2, 0.2),
    w1: randomArray(HIDDEN * D, seed + 9, -s, s), b1: randomArray(HIDDEN, seed + 10, -0.1, 0.1),
    w2: randomArray(D * HIDDEN, seed + 11, -1 / Math.sqrt(HIDDEN), 1 / Math.sqrt(HIDDEN)), b2: randomArray(D, seed + 12, -0.1, 0.1),
  };
}

function buildBlock(g: Graph, x: Value, w: BlockWeights, prefix: string): { y: Value; probs: Value } {
  const p = (n: string, data: Float32Array, shape: number[]) => g.weight(`${prefix}.${n}`, data, shape);
  const [h1] = g.apply(layerNormOp, [x, p('ln1g', w.ln1g, [D]), p('ln1b', w.ln1b, [D])], {}, `${prefix}.ln_1`);
  const [qkv] = g.apply(matmulOp, [h1, p('wqkv', w.wqkv, [3 * D, D]), p('bqkv', w.bqkv, [3 * D])], { transB: true }, `${prefix}.in_proj`);
  const [att, probs] = g.apply(attentionOp, [qkv], { heads: H, probs: true }, `${prefix}.attn`);
  const [r1] = g.apply(matmulOp, [att, p('wo', w.wo, [D, D]), p('bo', w.bo, [D]), x], { transB: true }, `${prefix}.out_proj`);
  const [h2] = g.apply(layerNormOp, [r1, p('ln2g', w.ln2g, [D]), p('ln2b', w.ln2b, [D])], {}, `${prefix}.ln_2`);
  const [f1] = g.apply(matmulOp, [h2, p('w1', w.w1, [HIDDEN, D]), p('b1', w.b1, [HIDDEN])], { transB: true, activation: 'quickgelu' }, `${prefix}.c_fc`);
  const [y] = g.apply(matmulOp, [f1, p('w2', w.w2, [D, HIDDEN]), p('b2', w.b2, [D]), r1], { transB: true }, `${prefix}.c_proj`);
  return { y: y!, probs: probs! };
}

// ---------------------------------------------------------------------------------------------
// float64 reference of the same block

function layerNorm64(x: Float64Array, g: Float32Array, b: Float32Array, rows: number, cols: number): Float64Array {
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let c = 0; c < cols; c++) mean += x[r * cols + c]!;
    mean /= cols;
    let v = 0;
    for (let c = 0; c < cols; c++) v += (x[r * cols + c]! - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / cols + 1e-5);
    for (let c = 0; c < cols; c++) y[r * cols + c] = (x[r * cols + c]! - mean) * rstd * g[c]! + b[c]!;
  }
  return y;
}

/** y = x Wᵀ + b with W [n, k]. */
function linear64(x: Float64Array, w: Float32Array, b: Float32Array, rows: number, k: number, n: number): Float64Array {
  const y = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) {
    let s = b[j]!;
    for (let i = 0; i < k; i++) s += x[r * k + i]! * w[j * k + i]!;
    y[r * n + j] = s;
  }
  return y;
}

function block64(x: Float64Array, w: BlockWeights): { y: Float64Array; probs: Float64Array } {
  const hd = D / H;
  const qkv = linear64(layerNorm64(x, w.ln1g, w.ln1b, L, D), w.wqkv, w.bqkv, L, D, 3 * D);
  const att = new Float64Array(L * D);
  const probs = new Float64Array(L * L);
  for (let h = 0; h < H; h++) for (let i = 0; i < L; i++) {
    const s = new Float64Array(L);
    for (let j = 0; j < L; j++) {
      let dot = 0;
      for (let d = 0; d < hd; d++) dot += qkv[i * 3 * D + h * hd + d]! * qkv[j * 3 * D + D + h * hd + d]!;
      s[j] = dot / Math.sqrt(hd);
    }
    const m = Math.max(...s);
    let z = 0;
    for (let j = 0; j < L; j++) z += (s[j] = Math.exp(s[j]! - m));
    for (let j = 0; j < L; j++) {
      const pr = s[j]! / z;
      probs[i * L + j]! += pr / H;
      for (let d = 0; d < hd; d++) att[i * D + h * hd + d]! += pr * qkv[j * 3 * D + 2 * D + h * hd + d]!;
    }
  }
  const r1 = linear64(att, w.wo, w.bo, L, D, D).map((v, i) => v + x[i]!);
  const f1 = linear64(layerNorm64(r1, w.ln2g, w.ln2b, L, D), w.w1, w.b1, L, D, HIDDEN).map((v) => v / (1 + Math.exp(-1.702 * v)));
  const y = linear64(f1, w.w2, w.b2, L, HIDDEN, D).map((v, i) => v + r1[i]!);
  return { y, probs };
}

// ---------------------------------------------------------------------------------------------

describe('graph runner', () => {
  const w1 = weights(100), w2 = weights(200);

  function twoBlocks(): Graph {
    const g = new Graph();
    const x = g.input('x', [L, D]);
    const b1 = buildBlock(g, x, w1, 'block0');
    const b2 = buildBlock(g, b1.y, w2, 'block1');
    g.output('y', b2.y);
    g.output('probs', b2.probs);
    return g;
  }

  it('runs two transformer blocks like the float64 reference, twice, with reused buffers', async () => {
    const gpu = await testGpu();
    const compiled = await CompiledGraph.compile(gpu, twoBlocks());
    // Liveness reuse: the 16 intermediates of two blocks fit in far fewer bytes than one each.
    expect(compiled.plan.peakBytes).toBeLessThan(compiled.plan.unplannedBytes / 2);
    for (const seed of [1, 2]) {
      const x = randomArray(L * D, seed, -2, 2);
      const r1 = block64(Float64Array.from(x), w1);
      const want = block64(r1.y, w2);
      const { outputs } = await compiled.run({ x });
      // Outputs are O(1–5); 2 blocks of f32 matmuls with K ≤ 256 and LayerNorm: 1e-4 absolute is
      // ~100 f32 ulps of the largest entries, far below any real error (a wrong op is off by O(0.1)).
      expectClose(outputs.get('y')!, want.y, { atol: 1e-4, rtol: 1e-4 }, `block output, input ${seed}`);
      expectClose(outputs.get('probs')!, want.probs, { atol: 1e-6 }, `attention probabilities, input ${seed}`);
    }
    compiled.destroy();
  });

  it('debug mode dumps every node output; profile mode times every node', async () => {
    const gpu = await testGpu();
    const g = twoBlocks();
    const compiled = await CompiledGraph.compile(gpu, g);
    const x = randomArray(L * D, 3, -2, 2);
    const { outputs, dumps } = await compiled.run({ x }, { debug: true });
    expect(dumps!.size).toBe(g.values.filter((v) => v.kind === 'node').length);
    const ln1 = layerNorm64(Float64Array.from(x), w1.ln1g, w1.ln1b, L, D);
    expectClose(dumps!.get('block0.ln_1:0')!, ln1, { atol: 2e-5 }, 'first LayerNorm dump');
    expect(Array.from(dumps!.get('block1.c_proj:0')!)).toEqual(Array.from(outputs.get('y')!));
    if (gpu.traits.features.timestampQuery) {
      const { profile } = await compiled.run({ x }, { profile: true });
      expect(profile!.map((p) => p.node)).toEqual(g.nodes.map((n) => n.name));
      for (const p of profile!) {
        expect(p.dispatches).toBeGreaterThan(0);
        expect(p.ms).toBeGreaterThanOrEqual(0);
      }
      expect(profile!.find((p) => p.node === 'block0.c_fc')!.flops).toBe(2 * L * D * HIDDEN);
    }
    compiled.destroy();
  });

  it('the planner never gives two values with overlapping lifetimes the same slot', () => {
    const g = twoBlocks();
    const plan = planMemory(g);
    // Lifetime of a value: from the node that writes it to the last node that reads it (inputs from
    // before the first node, graph outputs to after the last). Outputs are allocated before the
    // node's inputs are freed, so lifetimes in one slot must not even touch.
    const life = new Map<number, [number, number]>();
    for (const v of g.inputs.values()) life.set(v.id, [-1, Infinity]);
    g.nodes.forEach((n, i) => n.outputs.forEach((v) => life.set(v.id, [i, i])));
    g.nodes.forEach((n, i) => n.inputs.forEach((v) => v && v.kind !== 'weight' && (life.get(v.id)![1] = Math.max(life.get(v.id)![1], i))));
    for (const v of g.outputs.values()) life.get(v.id)![1] = Infinity;
    const ids = [...plan.slotOf.keys()];
    for (const a of ids) for (const b of ids) {
      if (a >= b || plan.slotOf.get(a) !== plan.slotOf.get(b)) continue;
      const [pa, ea] = life.get(a)!, [pb, eb] = life.get(b)!;
      expect(ea < pb || eb < pa, `${g.values[a]!.name} and ${g.values[b]!.name} share slot ${plan.slotOf.get(a)}`).toBe(true);
    }
    expect(new Set(plan.slotOf.values()).size).toBeLessThan(ids.length);
  });

  it('wrong wiring fails while building, naming the node', () => {
    const g = new Graph();
    const x = g.input('x', [L, D]);
    const w = g.weight('w', new Float32Array(3 * D * (D + 1)), [3 * D, D + 1]);
    expect(() => g.apply(matmulOp, [x, w], { transB: true }, 'bad_proj')).toThrow(GraphError);
    expect(() => g.apply(matmulOp, [x, w], { transB: true }, 'bad_proj2')).toThrow(/bad_proj2 \(matmul\): .*K of A \(64\) ≠ K of B \(65\)/);
    expect(() => g.apply(binaryOp, [x, g.input('z', [5])], { op: 'add' }, 'bad_add')).toThrow(/bad_add \(binary\): .*do not broadcast/);
    expect(() => g.input('x', [1])).toThrow(/name 'x' is used twice/);
  });

  it('a missing or unknown input is named', async () => {
    const gpu = await testGpu();
    const compiled = await CompiledGraph.compile(gpu, twoBlocks());
    await expect(compiled.run({})).rejects.toThrow(/input 'x' \[13, 64\] not given/);
    await expect(compiled.run({ x: new Float32Array(L * D), y: new Float32Array(1) })).rejects.toThrow(/unknown input 'y'/);
    compiled.destroy();
  });
});
