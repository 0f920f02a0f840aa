// Compares decoded RGBA8 pixels with reference RGB8 pixels (the decoding goldens): shared by the
// Node test, the Chromium page and the decode benchmark.

/** Pixels whose RGB differs from the reference, and the largest difference of one sample. */
export function pixelMismatches(rgba: Uint8Array, rgb: Uint8Array): { pixels: number; maxDiff: number } {
  const n = rgb.length / 3;
  if (rgba.length !== 4 * n) throw new Error(`decoded ${rgba.length / 4} pixels, the reference has ${n}`);
  let pixels = 0;
  let maxDiff = 0;
  for (let i = 0; i < n; i++) {
    let differs = false;
    for (let c = 0; c < 3; c++) {
      const d = Math.abs(rgba[4 * i + c]! - rgb[3 * i + c]!);
      if (d > 0) {
        differs = true;
        if (d > maxDiff) maxDiff = d;
      }
    }
    if (differs) pixels++;
  }
  return { pixels, maxDiff };
}
