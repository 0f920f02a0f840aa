// The CLIP image-tower cases of the browser benchmark: which weights, which ONNX export, which input.

export interface ClipCaseSpec {
  /** 'tiny' (test fixture, always) or 'vitb16' (ViT-B/16 dimensions, random weights; --full). */
  model: string;
  weightsUrl: string;
  /** The weights/export_onnx.py export for this size; absent: no onnxruntime-web peer. */
  onnxUrl?: string;
  height: number;
  width: number;
  /** Allowed max |seedmask − peer| / max |seedmask| on the features (CLIP_TOLERANCE). */
  tolerance: number;
}

/**
 * Both engines run float32; per-op differences of summation order (~1e-7 relative) pass through
 * every block and LayerNorm. Measured against onnxruntime-web: 6e-7 for the tiny model, 1.7e-6 for
 * the 12 ViT-B/16 blocks (SwiftShader); 1e-4 leaves a 50× margin for other adapters' orders and
 * fma contraction, while a wrong op gives differences of order 1.
 */
export const CLIP_TOLERANCE = 1e-4;

/** Deterministic normalised image [3, H, W] in [-2, 2) (an LCG; same values as bench/clip.bench.ts). */
export function clipImage(height: number, width: number): Float32Array {
  const x = new Float32Array(3 * height * width);
  let s = 0x9e3779b9;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = (s / 2 ** 32) * 4 - 2;
  }
  return x;
}
