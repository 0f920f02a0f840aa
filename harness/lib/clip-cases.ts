// The CLIP image-tower cases of the browser benchmark: which weights, which ONNX export, which input.
import { pseudoImage } from '../../bench/lib/data.js';

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

/** Deterministic normalised image [3, H, W] in [-2, 2): the same input as the Node benchmarks. */
export const clipImage = pseudoImage;
