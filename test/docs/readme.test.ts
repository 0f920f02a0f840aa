// README's figures from committed results files are those files' values (scripts/check-readme.mjs,
// also `npm run check:readme`), and the check notices a figure that drifts from its file.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without declarations
import { CHECKS, checkReadme } from '../../scripts/check-readme.mjs';
import { ROOT } from '../weights/helpers.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const check = checkReadme as (text?: string) => string[];

describe('README figures', () => {
  it('every figure quoted from bench/results matches its file, and every named results file exists', () => {
    expect((CHECKS as unknown[]).length).toBeGreaterThan(15);
    expect(check(readme)).toEqual([]);
  });

  it('a changed table figure, a changed sentence figure and a missing results file are each reported', () => {
    const row = readme.split('\n').find((l) => l.startsWith('| crf |'))!;
    const cells = row.split('|');
    cells[3] = ` ${(Number(cells[3]) + 0.5).toFixed(2)} `;
    expect(check(readme.replace(row, cells.join('|'))).join('\n')).toMatch(/README row '\| crf \|': column 2 is '\d+\.\d+', bench\/results\/world-report-gradcam/);
    expect(check(readme.replace(/3,233(\s+)loads/, '3,234$1loads')).join('\n')).toMatch(/figure 1 is '3,234', .*gives '3,233'/);
    expect(check(`${readme}\nsee bench/results/nothing-here.json\n`)).toContain('README names bench/results/nothing-here.json, which does not exist');
    // A second row with the same first cell would leave one of them unchecked.
    expect(check(readme.replace(row, `${row}\n${row}`)).join('\n')).toMatch(/2 README table rows start with '\| crf \|'/);
  });
});
