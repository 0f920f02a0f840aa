// `seedmask segment` on the reduced-width fixture checkpoints (test/fixtures/deeplab): label PNGs
// and logits .npy for images, a VOC-layout split with mIoU, atomic outputs, and usage errors. Also
// the preprocessing of both layouts (torchvision ImageNet normalisation; deeplab-pytorch BGR mean).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../../src/cli/segment.js';
import { encodePng, type RgbaImage } from '../../../src/io/image.js';
import { encodeLabelPng } from '../../../src/io/labelpng.js';
import { readLabelMap, readNpy } from '../../../src/io/files.js';
import { DeepLabModel } from '../../../src/models/deeplab/model.js';
import { deeplabInput, fitLongestSide } from '../../../src/models/deeplab/preprocess.js';
import { testGpu } from '../../helpers/gpu.js';
import { captureStdio } from '../../helpers/stdio.js';
import { rng } from '../../helpers/reference.js';

const DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'deeplab');
const V3 = join(DIR, 'deeplabv3_resnet101.pth');
const V2 = join(DIR, 'deeplabv2_resnet101.pth');
const tmp = mkdtempSync(join(tmpdir(), 'seedmask-segment-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function photo(width: number, height: number, seed: number): RgbaImage {
  const r = rng(seed);
  const data = new Uint8Array(4 * width * height);
  for (let i = 0; i < data.length; i++) data[i] = i % 4 === 3 ? 255 : Math.floor(256 * r());
  return { width, height, data };
}

describe('preprocessing', () => {
  const img: RgbaImage = { width: 2, height: 1, data: Uint8Array.of(255, 0, 51, 255, 10, 20, 30, 255) };
  it('torchvision: RGB / 255 normalised with ImageNet mean and std', () => {
    const x = deeplabInput(img, 'torchvision');
    expect(x[0]).toBeCloseTo((1 - 0.485) / 0.229, 5); // R of pixel 0
    expect(x[2]).toBeCloseTo((0 - 0.456) / 0.224, 5); // G of pixel 0
    expect(x[5]).toBeCloseTo((30 / 255 - 0.406) / 0.225, 5); // B of pixel 1
  });
  it('deeplab-pytorch: BGR 0..255 minus its mean', () => {
    const x = deeplabInput(img, 'deeplab-pytorch');
    expect(x[0]).toBeCloseTo(51 - 104.008, 4); // channel 0 is blue
    expect(x[3]).toBeCloseTo(20 - 116.669, 4); // channel 1 green, pixel 1
    expect(x[4]).toBeCloseTo(255 - 122.675, 4); // channel 2 red, pixel 0
  });
  it('resizing keeps the aspect ratio; a constant image stays constant', () => {
    expect(fitLongestSide(375, 500, 513)).toEqual([385, 513]);
    const flat: RgbaImage = { width: 5, height: 3, data: new Uint8Array(60).fill(100) };
    const x = deeplabInput(flat, 'deeplab-pytorch', [7, 11]);
    expect(x.length).toBe(3 * 77);
    expect(Math.max(...x.subarray(0, 77)) - Math.min(...x.subarray(0, 77))).toBeLessThan(1e-5);
  });
});

describe('seedmask segment', () => {
  const io = captureStdio();

  it('writes a label PNG equal to the model’s argmax, and the logits', async () => {
    const image = photo(41, 33, 5);
    const imgPath = join(tmp, 'street.png');
    writeFileSync(imgPath, encodePng(image));
    const out = join(tmp, 'out');
    const code = await run(['--model', 'deeplabv3_resnet101', '--weights', V3, imgPath, '-o', out, '--logits']);
    expect(code, io.stderr).toBe(0);
    expect(io.stdout).toMatch(/street: 41×33 → .*street\.png/);
    const labels = await readLabelMap(join(out, 'street.png'));
    expect([labels.width, labels.height]).toEqual([41, 33]);
    const logits = await readNpy(join(out, 'street.logits.npy'));
    expect(logits.shape).toEqual([21, 33, 41]);
    // The same forward in this process.
    const gpu = await testGpu();
    const model = await DeepLabModel.load(gpu, V3);
    const direct = await model.segment(image, { logits: true });
    expect(Array.from(labels.data)).toEqual(Array.from(direct.labels));
    expect(Array.from(logits.data)).toEqual(Array.from(direct.logits!));
    // Cancelled: an aborted signal rejects with an AbortError, before and after the forward pass.
    const aborted = new AbortController();
    aborted.abort();
    await expect(model.segment(image, { signal: aborted.signal })).rejects.toMatchObject({ name: 'AbortError' });
    const late = new AbortController();
    const pending = model.segment(image, { signal: late.signal });
    late.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await model.destroy();
    // Only the final files: no temporaries left behind by the atomic writes.
    expect(readdirSync(out).sort()).toEqual(['street.logits.npy', 'street.png']);
  });

  it('segments a VOC-layout split with --resize and scores it', async () => {
    const root = join(tmp, 'voc');
    for (const d of ['JPEGImages', 'SegmentationClass', join('ImageSets', 'Segmentation')]) mkdirSync(join(root, d), { recursive: true });
    const { encodeJpeg } = await import('../../../src/io/image.js');
    for (const [id, seed] of [['a', 1], ['b', 2]] as const) {
      writeFileSync(join(root, 'JPEGImages', `${id}.jpg`), encodeJpeg(photo(30, 22, seed)));
      const gt = new Uint8Array(30 * 22).map((_, i) => (i % 7 === 0 ? 255 : i % 3));
      writeFileSync(join(root, 'SegmentationClass', `${id}.png`), encodeLabelPng({ width: 30, height: 22, data: gt }));
    }
    writeFileSync(join(root, 'ImageSets', 'Segmentation', 'val.txt'), 'a\nb\n');
    const out = join(tmp, 'voc-out');
    const code = await run(['--model', 'deeplabv2_resnet101', '--weights', V2, '--voc', root, '--resize', '36', '--scales', '0.75', '-o', out]);
    expect(code, io.stderr).toBe(0);
    expect(io.stdout).toMatch(/a: 30×22/);
    expect(io.stdout).toMatch(/mIoU\s+\d+\.\d\d\s+over 3 of 21 classes present in the GT, 2 images/);
    const a = await readLabelMap(join(out, 'a.png'));
    expect([a.width, a.height]).toEqual([30, 22]);
  });

  it('usage and checkpoint errors', async () => {
    expect(await run(['--model', 'deeplabv3_resnet152', '--weights', V3, 'x.png', '-o', tmp])).toBe(2);
    expect(io.stderr).toMatch(/--model must be one of deeplabv3_resnet50, deeplabv3_resnet101, deeplabv2_resnet101/);
    expect(await run(['--model', 'deeplabv3_resnet101', '--weights', V3, 'x.png'])).toBe(2);
    expect(io.stderr).toMatch(/-o\/--out is required/);
    expect(await run(['--model', 'deeplabv3_resnet101', '--weights', V3, '--scales', '0.5', 'x.png', '-o', tmp])).toBe(2);
    expect(io.stderr).toMatch(/--scales and --rates apply to deeplabv2_resnet101 only/);
    expect(await run(['--model', 'deeplabv3_resnet101', '--weights', V3, join(tmp, 'a', 'x.png'), join(tmp, 'b', 'x.jpg'), '-o', tmp])).toBe(2);
    expect(io.stderr).toMatch(/would both write x\.png/);
    io.stderr = '';
    const out = join(tmp, 'never');
    expect(await run(['--model', 'deeplabv3_resnet50', '--weights', V3, join(tmp, 'street.png'), '-o', out])).toBe(1);
    expect(io.stderr).toMatch(/deeplabv3_resnet101\.pth: is a deeplabv3_resnet101 checkpoint .* not deeplabv3_resnet50/);
    expect(existsSync(out)).toBe(false);
  });
});
