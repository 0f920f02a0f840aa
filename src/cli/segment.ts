// `seedmask segment --model NAME --weights FILE IMAGE... -o DIR` runs a DeepLab model (torchvision
// deeplabv3_resnet50/101, deeplab-pytorch DeepLabV2-ResNet101 with MSC) or a segmenter trained by
// `seedmask train` (--model segmenter, its best.safetensors or last.safetensors) on images and writes one
// VOC-palette label PNG per image (the per-pixel argmax at the image's size), optionally the logits
// as .npy. With --voc ROOT it segments a VOC-layout split instead and, where ground truth exists,
// scores it with the VOC protocol (src/eval). Every file is written atomically.

import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { evaluateDirectory, formatScoreTable } from '../eval/evaluate.js';
import { Gpu } from '../gpu/context.js';
import { IoError, messageOf } from '../io/errors.js';
import { readImage, writeLabelMap, writeNpy } from '../io/files.js';
import { readSplitList, vocLayout } from '../io/voc.js';
import { DeepLabError } from '../models/deeplab/common.js';
import { DeepLabModel } from '../models/deeplab/model.js';
import { DEEPLAB_MODELS, type DeepLabModelName } from '../weights/layouts/deeplab.js';
import { WeightFileError } from '../weights/errors.js';
import { VOC_LABELSET, maskClassNames } from '../wsss/labelset.js';
import type { RgbaImage } from '../io/image.js';
import { loadTrainedSegmenter, predictLabels, trainedRunMetadata, TrainRunError } from '../train/run.js';
import { SegmenterError, type SegmenterModel } from '../train/segmenter.js';
import { integerOption, parseArgs, positiveList, requiredOption, UsageError } from './args.js';

const USAGE = `usage:
  seedmask segment --model NAME --weights FILE [options] IMAGE... -o DIR
  seedmask segment --model NAME --weights FILE --voc ROOT [--split S | --list FILE] -o DIR
      --model NAME      ${[...DEEPLAB_MODELS, 'segmenter'].join(' | ')}
                        (must match the checkpoint; the layout is recognised from its keys)
      --weights FILE    checkpoint: torchvision deeplabv3 state dict, or deeplab-pytorch
                        DeepLabV2 (MSC) state dict; .pth/.pt (torch.save) or .safetensors;
                        segmenter: a weights file of \`seedmask train\` (RUN/best.safetensors),
                        run at the scale and normalisation it was trained with
      -o, --out DIR     output folder (created): <name>.png per image (VOC palette, class ids)
      --resize N        run the network at longest side N (deeplab-pytorch's demo: 513); the
                        logits are resized back to the image before the argmax. Default: as is
      --logits          also write <name>.logits.npy: float32 [classes, H, W] at the image size
      --scales LIST     DeepLab v2 MSC scales besides 1 (default 0.5,0.75; 'none': single scale)
      --rates LIST      DeepLab v2 ASPP rates (default 6,12,18,24)
      --voc ROOT        segment ROOT/JPEGImages/<id>.jpg for the ids of --split (default val,
                        ROOT/ImageSets/Segmentation/<split>.txt) or --list; then score against
                        ROOT/SegmentationClass when it is there (mIoU, VOC protocol)
      --limit N         with --voc: only the first N ids
`;

export async function run(argv: string[]): Promise<number> {
  let gpu: Gpu | undefined;
  let model: DeepLabModel | undefined;
  let segmenter: SegmenterModel | undefined;
  try {
    const args = parseArgs(argv, {
      values: ['--model', '--weights', '-o', '--out', '--resize', '--scales', '--rates', '--voc', '--split', '--list', '--limit'],
      flags: ['--logits', '-h', '--help'],
    });
    if (args.flags.has('-h') || args.flags.has('--help')) {
      process.stdout.write(USAGE);
      return 0;
    }
    const name = requiredOption(args, '--model');
    if (name !== 'segmenter' && !(DEEPLAB_MODELS as readonly string[]).includes(name)) throw new UsageError(`--model must be one of ${[...DEEPLAB_MODELS, 'segmenter'].join(', ')}, got '${name}'`);
    const weights = requiredOption(args, '--weights');
    const outDir = args.values.get('-o') ?? args.values.get('--out');
    if (outDir === undefined) throw new UsageError('-o/--out is required');
    const resize = args.values.has('--resize') ? integerOption(args, '--resize', 0) : undefined;
    if (resize === 0) throw new UsageError('--resize must be a positive integer');
    const scalesText = args.values.get('--scales');
    const scales = scalesText === undefined ? undefined : scalesText === 'none' ? [] : positiveList(scalesText, '--scales');
    const rates = args.values.has('--rates') ? positiveList(args.values.get('--rates')!, '--rates') : undefined;
    if (name === 'segmenter' && (resize !== undefined || args.flags.has('--logits'))) throw new UsageError('--resize and --logits apply to the DeepLab models (a segmenter runs at the scale it was trained with)');
    if ((scales || rates) && !name.startsWith('deeplabv2')) throw new UsageError('--scales and --rates apply to deeplabv2_resnet101 only');
    const vocRoot = args.values.get('--voc');
    if (vocRoot === undefined && (args.values.has('--split') || args.values.has('--list') || args.values.has('--limit'))) throw new UsageError('--split, --list and --limit need --voc');
    if (vocRoot !== undefined && args.positional.length > 0) throw new UsageError(`with --voc, give no image paths (got '${args.positional[0]}')`);
    if (vocRoot === undefined && args.positional.length === 0) throw new UsageError('no images given');

    // Inputs: (name, path) pairs; output names must not collide.
    let items: Array<{ id: string; path: string }>;
    let voc: ReturnType<typeof vocLayout> | undefined;
    if (vocRoot !== undefined) {
      voc = vocLayout(vocRoot);
      const listPath = args.values.get('--list') ?? voc.splitPath(args.values.get('--split') ?? 'val');
      let ids = await readSplitList(listPath);
      if (args.values.has('--limit')) ids = ids.slice(0, integerOption(args, '--limit', ids.length));
      items = ids.map((id) => ({ id, path: voc!.imagePath(id) }));
    } else {
      items = args.positional.map((path) => ({ id: basename(path, extname(path)), path }));
      const seen = new Map<string, string>();
      for (const { id, path } of items) {
        if (seen.has(id)) throw new UsageError(`'${path}' and '${seen.get(id)}' would both write ${id}.png`);
        seen.set(id, path);
      }
    }

    gpu = await Gpu.open();
    const t0 = performance.now();
    let segmentImage: (image: RgbaImage) => Promise<{ labels: ArrayLike<number>; width: number; height: number; logits?: Float32Array; classes: number }>;
    let classNames: string[];
    if (name === 'segmenter') {
      const loaded = await loadTrainedSegmenter(gpu, weights);
      segmenter = loaded.model;
      classNames = loaded.classNames;
      process.stderr.write(`segmenter (widths ${loaded.model.config.widths.join('-')}, ${loaded.model.config.classes} classes) from ${weights} on ${gpu.adapterName}\n`);
      segmentImage = async (image) => ({ labels: await predictLabels(loaded.model, image, loaded.augment), width: image.width, height: image.height, classes: loaded.model.config.classes });
    } else {
      const m = await DeepLabModel.load(gpu, weights, { model: name as DeepLabModelName, rates });
      model = m;
      process.stderr.write(`${m.config.name} (${m.layout} layout, ${m.config.classes} classes) from ${weights} on ${gpu.adapterName}, ${((performance.now() - t0) / 1000).toFixed(1)} s to load\n`);
      if (m.config.classes > 255) throw new DeepLabError(`${m.config.classes} classes do not fit an 8-bit label PNG`);
      classNames = maskClassNames(VOC_LABELSET);
      // Weights from `seedmask train` carry their class names and preprocessing: use the one, and
      // refuse what this model's preprocessing (deeplab-pytorch: caffe-bgr, images as they are) is not.
      const meta = weights.endsWith('.safetensors') ? await trainedRunMetadata(weights) : undefined;
      if (meta) {
        if (meta.augment.normalization !== 'caffe-bgr' || meta.augment.baseSize !== undefined) {
          throw new DeepLabError(`${weights} was trained with ${meta.augment.normalization} normalisation${meta.augment.baseSize !== undefined ? ` and base size ${meta.augment.baseSize}` : ''}; ${name} runs on caffe-bgr images as they are`);
        }
        if (meta.classNames.length !== m.config.classes) throw new DeepLabError(`${weights}: ${meta.classNames.length} class names for ${m.config.classes} classes`);
        classNames = meta.classNames;
      }
      segmentImage = (image) => m.segment(image, { resize, logits: args.flags.has('--logits'), scales });
    }
    // Created only once the checkpoint is known good.
    await mkdir(outDir, { recursive: true }).catch((err: unknown) => {
      throw new IoError(outDir, `cannot create the output folder: ${messageOf(err)}`, { cause: err });
    });

    for (const { id, path } of items) {
      const t = performance.now();
      const image = await readImage(path);
      const result = await segmentImage(image);
      const labels = Uint8Array.from(result.labels);
      await writeLabelMap(join(outDir, `${id}.png`), { width: result.width, height: result.height, data: labels });
      if (result.logits) await writeNpy(join(outDir, `${id}.logits.npy`), result.logits, [result.classes, result.height, result.width]);
      process.stdout.write(`${id}: ${result.width}×${result.height} → ${join(outDir, `${id}.png`)} (${((performance.now() - t) / 1000).toFixed(1)} s)\n`);
    }

    const names = classNames;
    const modelClasses = segmenter?.config.classes ?? model!.config.classes;
    if (voc && modelClasses !== names.length) {
      process.stdout.write(`the model has ${modelClasses} classes, VOC ${names.length}: nothing scored\n`);
    } else if (voc) {
      const gtIds: string[] = [];
      for (const { id } of items) if (existsSync(voc.maskPath(id))) gtIds.push(id);
      if (gtIds.length > 0) {
        const { scores } = await evaluateDirectory({ gtDir: voc.masksDir, predDir: outDir, ids: gtIds, numClasses: names.length });
        process.stdout.write(`\n${formatScoreTable(scores, names)}`);
      } else {
        process.stdout.write(`no ground truth under ${voc.masksDir}: nothing scored\n`);
      }
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`seedmask segment: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof IoError || err instanceof WeightFileError || err instanceof DeepLabError || err instanceof SegmenterError || err instanceof TrainRunError || err instanceof RangeError) {
      process.stderr.write(`seedmask segment: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await model?.destroy();
    segmenter?.release();
    await gpu?.destroy();
  }
}
