// The PASCAL VOC colour map. VOC stores label masks as palette PNGs whose pixel values are class
// ids (0 background, 1..20 classes, 255 void); the palette only makes them viewable. It is computed,
// not tabulated: the bits of the index are dealt out round-robin to red, green and blue, most
// significant output bit first (bit 0 → red, bit 1 → green, bit 2 → blue, then the next three bits
// one position lower, and so on). So 1 → (128, 0, 0), 2 → (0, 128, 0), 255 → (224, 224, 192).

/** The colour of palette index `index` (0..255) as [r, g, b]. */
export function vocColor(index: number): [number, number, number] {
  if (!Number.isInteger(index) || index < 0 || index > 255) throw new RangeError(`palette index ${index} is not an integer in 0..255`);
  let r = 0;
  let g = 0;
  let b = 0;
  let bits = index;
  for (let shift = 7; shift >= 0; shift--) {
    r |= (bits & 1) << shift;
    g |= ((bits >> 1) & 1) << shift;
    b |= ((bits >> 2) & 1) << shift;
    bits >>= 3;
  }
  return [r, g, b];
}

/** All 256 colours, RGB interleaved (768 bytes), as a PNG PLTE chunk wants them. */
export const VOC_PALETTE: Uint8Array = (() => {
  const palette = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) palette.set(vocColor(i), 3 * i);
  return palette;
})();

/** The palette index of an RGB colour of the VOC map, or -1 when the colour is not in it. */
export function vocIndexOfColor(r: number, g: number, b: number): number {
  return COLOR_TO_INDEX.get((r << 16) | (g << 8) | b) ?? -1;
}

const COLOR_TO_INDEX: Map<number, number> = (() => {
  const map = new Map<number, number>();
  for (let i = 0; i < 256; i++) map.set((VOC_PALETTE[3 * i]! << 16) | (VOC_PALETTE[3 * i + 1]! << 8) | VOC_PALETTE[3 * i + 2]!, i);
  return map;
})();
