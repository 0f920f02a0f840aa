// Matmul benchmark cases: every variant at the ViT-B/16 shapes (Linear layers y = x·Wᵀ with W
// stored [N, K], for one image (197 tokens) and a batch of four (788)), 1024³, and the two batched
// attention products; each against onnxruntime-node on the same problem.
import type { Gpu } from '../../src/gpu/context.js';
import { MATMUL_VARIANTS, matmul, pickMatmulPlan, type MatmulVariant } from '../../src/kernels/matmul.js';
import { benchData } from '../lib/data.js';
import { matmulModel } from '../lib/onnx.js';
import { ortPeer } from '../lib/ort.js';
import type { BenchCase } from '../lib/suite.js';
import { ATTENTION_MATMULS, SQUARE_1024, VIT_MATMULS, isQuickMatmul, matmulLabel, type MatmulCaseShape } from './shapes.js';

// The shapes live in shapes.ts (Node-free, shared with the browser harness); re-exported for old importers.
export { ATTENTION_MATMULS, SQUARE_1024, VIT_MATMULS };

const describe = matmulLabel;

function matmulCase(p: MatmulCaseShape, variant: MatmulVariant | 'auto', picked: MatmulVariant, quick: boolean): BenchCase {
  const batch = p.batch ?? 1;
  const aShape = batch > 1 ? [batch, p.m, p.k] : [p.m, p.k];
  const bDims = p.transB ? [p.n, p.k] : [p.k, p.n];
  const bShape = p.batchB ? [batch, ...bDims] : bDims;
  const aData = () => benchData(aShape.reduce((x, y) => x * y), 1);
  const bData = () => benchData(bShape.reduce((x, y) => x * y), 2);
  const shape = describe(p);
  // ORT's batched MatMul has no transpose flag: give it B already as [K, N] (same work).
  const peerBatched = batch > 1;
  return {
    family: 'matmul',
    name: `matmul/${variant === 'auto' ? `auto(${picked})` : variant}${variant === picked ? '*' : ''} ${shape}`,
    shape,
    details: { variant, picked, role: p.role, m: p.m, n: p.n, k: p.k, batch, transB: !!p.transB },
    work: { flops: 2 * batch * p.m * p.n * p.k },
    quick,
    async setup(gpu: Gpu) {
      const a = gpu.upload(aData(), aShape);
      const b = gpu.upload(bData(), bShape);
      const out = gpu.empty(batch > 1 ? [batch, p.m, p.n] : [p.m, p.n], 'f32', 'bench out');
      const opts = { transB: p.transB, out, variant: variant === 'auto' ? undefined : variant };
      return {
        encode: async () => void (await matmul(gpu, a, b, opts)),
        dispose: () => gpu.release(a, b, out),
      };
    },
    peer: ortPeer(
      `matmul ${shape}`,
      () => matmulModel({ m: p.m, n: p.n, k: p.k, batch, batchB: p.batchB, transB: peerBatched ? false : p.transB }),
      () => ({ a: [aData(), aShape], b: [bData(), peerBatched ? (p.batchB ? [batch, p.k, p.n] : [p.k, p.n]) : bShape] }),
    ),
  };
}

/** Every variant at the ViT shapes and 1024³ (the picker's choice marked *), plus attention. */
export function matmulCases(kind: 'swiftshader' | 'gpu'): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const p of [...VIT_MATMULS, SQUARE_1024]) {
    const picked = pickMatmulPlan({ m: p.m, n: p.n, k: p.k, batch: p.batch ?? 1 }, kind).variant;
    const quickShape = isQuickMatmul(p);
    for (const v of MATMUL_VARIANTS) cases.push(matmulCase(p, v, picked, quickShape && v === picked));
  }
  for (const p of ATTENTION_MATMULS) {
    const picked = pickMatmulPlan({ m: p.m, n: p.n, k: p.k, batch: p.batch ?? 1 }, kind).variant;
    cases.push(matmulCase(p, 'auto', picked, false));
  }
  return cases;
}
