// The problem shapes of the kernel benchmarks, free of any Node import so that the browser
// harness (harness/lib/kernel-cases.ts) measures exactly the shapes bench/kernels.bench.ts does.

export interface MatmulCaseShape {
  m: number;
  n: number;
  k: number;
  /** Batch of A; B is shared (broadcast) unless batchB. */
  batch?: number;
  batchB?: boolean;
  transB?: boolean;
  /** What it is in the model. */
  role: string;
}

/** ViT-B/16 Linear layers y = x·Wᵀ with W stored [N, K], for one image (197 tokens) and a batch of four (788). */
export const VIT_MATMULS: MatmulCaseShape[] = [197, 788].flatMap((m) => [
  { m, n: 768, k: 768, transB: true, role: 'attention out-projection' },
  { m, n: 2304, k: 768, transB: true, role: 'qkv projection' },
  { m, n: 3072, k: 768, transB: true, role: 'MLP up' },
  { m, n: 768, k: 3072, transB: true, role: 'MLP down' },
]);
export const SQUARE_1024: MatmulCaseShape = { m: 1024, n: 1024, k: 1024, role: 'square reference' };
export const ATTENTION_MATMULS: MatmulCaseShape[] = [
  { m: 197, n: 197, k: 64, batch: 12, batchB: true, transB: true, role: 'attention scores Q·Kᵀ (12 heads)' },
  { m: 197, n: 64, k: 197, batch: 12, batchB: true, role: 'attention P·V (12 heads)' },
];
/** The ViT shape --quick keeps besides 1024³. */
export const isQuickMatmul = (p: MatmulCaseShape) => (p.m === 197 && p.n === 768 && p.k === 768) || p === SQUARE_1024;

/** LayerNorm over 4 images × 197 tokens of width 768. */
export const LN_SHAPE = [788, 768];
/** Softmax over the attention scores of 12 heads: [12·197, 197]. */
export const SOFTMAX_SHAPE = [12 * 197, 197];

/** '12×197×197×64 ·Bᵀ': batch × M × N × K, and whether B is transposed. */
export const matmulLabel = (p: MatmulCaseShape) => `${p.batch && p.batch > 1 ? `${p.batch}×` : ''}${p.m}×${p.n}×${p.k}${p.transB ? ' ·Bᵀ' : ''}`;
