// A world image as a file reader sees it: rendered, encoded as the world generator writes it (JPEG,
// quality 90) and decoded again, with its labels and ground-truth mask. For runs that make world
// images on the fly (soak, the browser report) and must see the pixels Node reads from the files.
import { decodeImage, encodeJpeg, type RgbaImage } from '../io/image.js';
import { generateImage, JPEG_QUALITY } from './generate.js';

export async function worldPhoto(seed: number, index: number, split: 'train' | 'val'): Promise<{ id: string; image: RgbaImage; labels: number[]; mask: Uint8Array }> {
  const { record, image: rendered } = generateImage(seed, index, split);
  const image = await decodeImage(encodeJpeg({ width: rendered.width, height: rendered.height, data: rendered.rgba }, JPEG_QUALITY), record.id);
  return { id: record.id, image, labels: record.classIds.map((c) => c - 1), mask: rendered.mask };
}
