// Seeds of a JPEG photo: decoding the file gives the same seed masks, stage by stage, as PIL's
// decoded pixels of that file (test/fixtures/decode/world_val0.*), so a user's JPEGs get the seeds
// CLIP-ES would make from them. jpeg-js, a decoder that rounds differently, is run too: its masks
// are reported, and must differ somewhere, which shows the comparison can fail.
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readImage } from '../../src/io/files.js';
import { decodeSeedImage } from '../../src/io/image.js';
import { decodeLabelPng, encodeLabelPng } from '../../src/io/labelpng.js';
import { vocLayout } from '../../src/io/voc.js';
import { runDataset } from '../../src/wsss/dataset.js';
import type { SeedOptions } from '../../src/wsss/seeds.js';
import { run as seedsCli } from '../../src/cli/seeds.js';
import { captureStdio } from '../helpers/stdio.js';
import type { RgbaImage } from '../../src/io/image.js';
import { ClipModel } from '../../src/models/clip/model.js';
import { generateImage, worldLabelSetJson } from '../../src/world/generate.js';
import { parseLabelSet } from '../../src/wsss/labelset.js';
import { SeedPipeline, STAGES } from '../../src/wsss/seeds.js';
import { testGpu } from '../helpers/gpu.js';
import { DECODE_FIXTURES } from '../io/decode-fixtures.js';
import { ROOT } from '../weights/helpers.js';

function fromRgb(rgb: Uint8Array, width: number, height: number): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) data.set([rgb[3 * i]!, rgb[3 * i + 1]!, rgb[3 * i + 2]!, 255], 4 * i);
  return { width, height, data };
}

describe('seeds of a JPEG photo', () => {
  const io = captureStdio();
  let model: ClipModel;
  let pipeline: SeedPipeline;
  beforeAll(async () => {
    model = await ClipModel.load(await testGpu(), join(ROOT, 'weights', 'world-clip', 'model.safetensors'));
    pipeline = new SeedPipeline(model);
  });
  afterAll(async () => {
    await model?.destroy();
  });

  it('are the same from the file as from PIL’s pixels, every stage', async () => {
    const file = join(DECODE_FIXTURES, 'world_val0.jpg');
    const decoded = await readImage(file);
    const pil = fromRgb(new Uint8Array(readFileSync(join(DECODE_FIXTURES, 'world_val0.pil.rgb'))), decoded.width, decoded.height);
    const labelSet = parseLabelSet(worldLabelSetJson(), 'world');
    const labels = generateImage(1, 0, 'val').record.classIds.map((v) => v - 1);
    expect(labels.length).toBeGreaterThan(0);

    const fromFile = await pipeline.run(decoded, labels, { labelSet, stages: STAGES, read: ['cams'] });
    const fromPil = await pipeline.run(pil, labels, { labelSet, stages: STAGES, read: ['cams'] });
    for (const stage of STAGES) expect(fromFile.stages[stage], stage).toEqual(fromPil.stages[stage]);
    expect(Array.from(fromFile.cams!)).toEqual(Array.from(fromPil.cams!));

    const js = jpeg.decode(readFileSync(file), { useTArray: true, formatAsRGBA: true });
    const fromJs = await pipeline.run({ width: js.width, height: js.height, data: js.data }, labels, { labelSet, stages: STAGES, read: ['cams'] });
    const changed = STAGES.map((s) => [s, fromJs.stages[s]!.reduce((n, v, i) => n + (v !== fromPil.stages[s]![i] ? 1 : 0), 0)] as const);
    console.log(`jpeg-js pixels instead of PIL's change ${changed.map(([s, n]) => `${s} ${n}`).join(', ')} of ${decoded.width * decoded.height} seed pixels`);
    expect(Array.from(fromJs.cams!)).not.toEqual(Array.from(fromPil.cams!));
  });

  it('CMYK: CLIP gets PIL’s pixels and the CRF OpenCV’s, as in CLIP-ES; the CLI does the same', async () => {
    const file = join(DECODE_FIXTURES, 'cmyk_adobe.jpg');
    const { image, crfImage } = await decodeSeedImage(new Uint8Array(readFileSync(file)), file);
    expect(crfImage).toBeDefined();
    const labelSet = parseLabelSet(worldLabelSetJson(), 'world');
    const options = { labelSet, refiner: 'crf' as const };
    const expected = await pipeline.run(image, [0, 2], { ...options, crfPixels: crfImage });
    const out = await mkdtemp(join(tmpdir(), 'seedmask-cmyk-'));
    try {
      const labelFile = join(out, 'labelset.json');
      writeFileSync(labelFile, JSON.stringify(worldLabelSetJson()));
      const code = await seedsCli(['--weights', join(ROOT, 'weights', 'world-clip'), '--labelset', labelFile, '--labels', 'ball, box', '--no-cams', '--no-overlay', file, '-o', out]);
      expect(code, io.stderr).toBe(0);
      expect(Array.from(decodeLabelPng(readFileSync(join(out, 'cmyk_adobe.png'))).data)).toEqual(Array.from(expected.seeds));
    } finally {
      await rm(out, { recursive: true, force: true });
    }
    await expect(pipeline.run(image, [0], { ...options, crfPixels: { width: 3, height: 2, data: new Uint8Array(24) } })).rejects.toThrow(/^crfPixels: a 3×2 image for a 101×67 one$/);

    // Dataset runs hand the second reading to the pipeline (a runner that records what it gets).
    const root = await mkdtemp(join(tmpdir(), 'seedmask-cmyk-dataset-'));
    try {
      const layout = vocLayout(root);
      await mkdir(join(root, 'JPEGImages'), { recursive: true });
      await mkdir(join(root, 'SegmentationClass'), { recursive: true });
      await mkdir(join(root, 'ImageSets', 'Segmentation'), { recursive: true });
      writeFileSync(layout.imagePath('cmyk'), readFileSync(file));
      writeFileSync(layout.imagePath('plain'), readFileSync(join(DECODE_FIXTURES, 'baseline_420.jpg')));
      const mask = { width: 101, height: 67, data: new Uint8Array(101 * 67).fill(1) };
      for (const id of ['cmyk', 'plain']) writeFileSync(layout.maskPath(id), encodeLabelPng(mask));
      writeFileSync(layout.splitPath('val'), 'cmyk\nplain\n');
      const seen: boolean[] = [];
      const recording = {
        run: (img: RgbaImage, l: readonly number[], o: SeedOptions) => {
          seen.push(o.crfPixels !== undefined);
          return pipeline.run(img, l, o);
        },
      };
      const summary = await runDataset(recording, { root, out: join(root, 'out'), labelSet, split: 'val', seedOptions: { labelSet, refiner: 'none' } });
      expect(summary.processed).toBe(2);
      expect(seen).toEqual([true, false]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
