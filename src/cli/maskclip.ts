// `seedmask maskclip`: MaskCLIP's zero-shot dense labels (src/wsss/sources/maskclip.ts) for images
// without image-level labels: every class of the label set and its background prompts compete at
// every pixel.

import { mkdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { Gpu } from '../gpu/context.js';
import { IoError } from '../io/errors.js';
import { readImage } from '../io/files.js';
import { writeFileAtomic } from '../io/atomic.js';
import { encodePng } from '../io/image.js';
import { encodeLabelPng } from '../io/labelpng.js';
import { ClipModel } from '../models/clip/model.js';
import { LabelSetError, loadLabelSet } from '../wsss/labelset.js';
import { overlayLabels } from '../wsss/overlay.js';
import { maskClipLabels } from '../wsss/sources/maskclip.js';
import { parseArgs, requiredOption, UsageError } from './args.js';
import { eachImage } from './images.js';

const USAGE = `usage:
  seedmask maskclip --weights W IMAGE... -o OUT [--labelset S] [--tokenizer PATH] [--no-overlay] [--json]
      Zero-shot dense labels (MaskCLIP) for each image, without image-level labels. Writes
      OUT/<name>.png (VOC-palette label map: class id = index + 1, 0 where a background prompt
      wins) and OUT/<name>.overlay.png.

options:
  --weights W         CLIP weights: .pt/.pth (OpenAI), .safetensors, or an HF folder
  --tokenizer PATH    BPE vocabulary (default: next to the weights)
  --labelset S        'voc' (default), 'coco' or a label-set JSON file
  --no-overlay        do not write overlays
  --json              print per-image results as JSON
`;

export async function run(argv: string[]): Promise<number> {
  let gpu: Gpu | undefined;
  try {
    const args = parseArgs(argv, { values: ['--weights', '--tokenizer', '--labelset', '-o', '--out'], flags: ['--no-overlay', '--json', '-h', '--help'] });
    if (args.flags.has('-h') || args.flags.has('--help')) {
      process.stdout.write(USAGE);
      return 0;
    }
    const out = args.values.get('-o') ?? args.values.get('--out');
    if (out === undefined) throw new UsageError('-o OUT is required');
    const weights = requiredOption(args, '--weights');
    if (args.positional.length === 0) throw new UsageError('no images given');
    const labelSet = await loadLabelSet(args.values.get('--labelset') ?? 'voc');
    gpu = await Gpu.open();
    const tokenizer = args.values.get('--tokenizer');
    const model = await ClipModel.load(gpu, weights, tokenizer === undefined ? {} : { tokenizer });
    await mkdir(out, { recursive: true });
    return await eachImage('maskclip', args.positional, args.flags.has('--json'), async (path) => {
      const image = await readImage(path);
      const r = await maskClipLabels(model, image, labelSet);
      const base = join(out, basename(path, extname(path)));
      const map = { width: r.width, height: r.height, data: r.labels };
      if (!args.flags.has('--no-overlay')) await writeFileAtomic(`${base}.overlay.png`, encodePng(overlayLabels(image, map)));
      await writeFileAtomic(`${base}.png`, encodeLabelPng(map));
      const found = [...new Set(r.labels)].filter((v) => v > 0).sort((p, q) => p - q).map((v) => labelSet.classes[v - 1]!.name);
      return {
        record: { image: path, file: `${base}.png`, width: r.width, height: r.height, grid: r.grid, classes: found, timings: r.timings },
        line: `${path}: ${r.width}×${r.height}, grid ${r.grid.join('×')} → ${base}.png (${found.join(', ') || 'background only'}; ${r.timings.total!.toFixed(0)} ms)`,
      };
    });
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`seedmask maskclip: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof IoError || err instanceof LabelSetError) {
      process.stderr.write(`seedmask maskclip: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await gpu?.destroy();
  }
}
