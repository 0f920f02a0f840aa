// `seedmask eval --gt DIR --pred DIR --labelset voc|coco|FILE [--list FILE] [--void miss|exclude] [--json]`
// scores predicted label PNGs against ground truth with the VOC protocol (src/eval/confusion.ts):
// one confusion matrix over all images, GT 255 ignored, mIoU over the classes present in the GT.

import { IoError } from '../io/errors.js';
import { readSplitList } from '../io/voc.js';
import { computeScores, type VoidPredictionRule } from '../eval/confusion.js';
import { evaluateDirectory, formatScoreTable } from '../eval/evaluate.js';
import { LabelSetError, loadLabelSet, maskClassNames } from '../wsss/labelset.js';
import { parseArgs, requiredOption, UsageError } from './args.js';

const USAGE = `usage:
  seedmask eval --gt DIR --pred DIR --labelset voc|coco|FILE [options]
      --gt DIR          ground-truth label PNGs, <id>.png (e.g. VOC2012/SegmentationClass)
      --pred DIR        predicted label PNGs, <id>.png (values = class ids, 255 = void)
      --labelset S      'voc', 'coco' or a label-set JSON file (e.g. a world's labelset.json)
      --list FILE       ids to score, one per line (default: every .png in --pred)
      --void RULE       predicted 255: 'miss' (default; counts against the GT class) or 'exclude'
                        (those pixels are left out; see the coverage line)
      --json            machine-readable output (scores and the confusion matrix)
`;

export async function run(argv: string[]): Promise<number> {
  try {
    const args = parseArgs(argv, { values: ['--gt', '--pred', '--labelset', '--list', '--void'], flags: ['--json', '-h', '--help'] });
    if (args.flags.has('-h') || args.flags.has('--help')) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (args.positional.length > 0) throw new UsageError(`unexpected argument '${args.positional[0]}'`);
    const gtDir = requiredOption(args, '--gt');
    const predDir = requiredOption(args, '--pred');
    const labelSet = await loadLabelSet(requiredOption(args, '--labelset'));
    const voidRule = args.values.get('--void') ?? 'miss';
    if (voidRule !== 'miss' && voidRule !== 'exclude') throw new UsageError(`--void must be 'miss' or 'exclude', got '${voidRule}'`);
    const listPath = args.values.get('--list');
    const ids = listPath === undefined ? undefined : await readSplitList(listPath);

    const names = maskClassNames(labelSet);
    const { matrix, scores } = await evaluateDirectory({ gtDir, predDir, ids, numClasses: names.length, voidRule: voidRule as VoidPredictionRule });
    if (args.flags.has('--json')) {
      const n = matrix.numClasses;
      const rows = Array.from({ length: n }, (_, g) => Array.from({ length: n + 1 }, (_, p) => matrix.at(g, p)));
      const classes = scores.classes.map((c) => ({ name: names[c.id], ...c }));
      // NaN is not JSON; absent scores become null.
      const json = JSON.stringify({ labelSet: labelSet.name, ...scores, classes, confusion: { rows: 'ground truth', columns: [...names, 'void'], counts: rows } }, (_k, v) => (typeof v === 'number' && Number.isNaN(v) ? null : v), 2);
      process.stdout.write(`${json}\n`);
    } else {
      process.stdout.write(`label set '${labelSet.name}' (${names.length} classes with background), ${scores.images} images\n\n`);
      process.stdout.write(formatScoreTable(scores, names));
      if (voidRule === 'exclude' && scores.voidPredictions > 0) {
        const strict = computeScores(matrix, 'miss');
        process.stdout.write(`(with void predictions counted as misses the mIoU would be ${(100 * strict.miou).toFixed(2)})\n`);
      }
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`seedmask eval: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof IoError || err instanceof LabelSetError || err instanceof RangeError) {
      process.stderr.write(`seedmask eval: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
