// What one image may need of the device, checked before any GPU work.
import type { Gpu } from '../gpu/context.js';
import { SeedError } from './stage.js';

/**
 * The largest per-image buffers must each fit one storage binding: the [K + 1, H, W] float maps at
 * image size, and the attention tensors of the CAM source: Grad-CAM's last-block attention
 * gradients, heads × K × L² floats for L = patches + 1; MaskCLIP's attention probabilities of one
 * block, heads × L². An image over either is refused here, naming the sizes, the limit and a size
 * that fits, before any GPU work (and not as a validation error deep inside a kernel).
 */
export function checkFitsDevice(gpu: Gpu, vision: { heads: number; patch: number }, H: number, W: number, K: number, o: { source?: string } = {}): void {
  const limit = Math.min(gpu.traits.limits.maxStorageBufferBindingSize, gpu.traits.limits.maxBufferSize);
  const perLabel = (o.source ?? 'gradcam') === 'gradcam';
  const tokens = (h: number, w: number) => Math.ceil(h / vision.patch) * Math.ceil(w / vision.patch) + 1;
  const maps = (h: number, w: number) => (K + 1) * h * w * 4;
  const attention = (h: number, w: number) => Math.max(1, vision.heads) * (perLabel ? K : 1) * tokens(h, w) ** 2 * 4;
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const labels = `${K} label${K > 1 ? 's' : ''}`;
  const what = maps(H, W) > attention(H, W)
    ? `${mib(maps(H, W))} per map ([${K + 1}, ${H}, ${W}] floats)`
    : perLabel
      ? `${mib(attention(H, W))} for the attention gradients (${vision.heads} heads × ${labels} × ${tokens(H, W)}² tokens)`
      : `${mib(attention(H, W))} for the attention maps (${vision.heads} heads × ${tokens(H, W)}² tokens)`;
  if (Math.max(maps(H, W), attention(H, W)) <= limit) return;
  let scale = 1;
  while (scale > 0.01 && Math.max(maps(H * scale, W * scale), attention(H * scale, W * scale)) > limit) scale *= 0.95;
  throw new SeedError(
    `image ${W}×${H} with ${labels} needs ${what}, more than this device's ${mib(limit)} buffer limit; downscale it to at most about ${Math.floor(W * scale)}×${Math.floor(H * scale)}`,
  );
}
