// `npm run report:browser [-- --images N --examples K --out DIR --compare report.json]`: the world
// report (`npm start`) in headless Chromium, written as out/report-browser/report.{json,html}.
// --compare prints each stage's mIoU next to a Node report.json of the same images.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { numberFlag, parseFlags, runMain } from '../bench/lib/driver.js';
import { browserWorldReport } from './lib/accuracy.js';

const USAGE = `usage: npm run report:browser -- [--images N] [--examples K] [--out DIR] [--compare REPORT.json]
  --images N      world val images (1..60)                 [60]
  --examples K    example panels in the report             [6]
  --out DIR       where report.json and report.html go     [out/report-browser]
  --compare FILE  a Node report.json of the same images: per-stage mIoU side by side`;

runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { images: { type: 'string' }, examples: { type: 'string' }, out: { type: 'string' }, compare: { type: 'string' } }, USAGE);
  const images = numberFlag('images', flags.images, 1) ?? 60;
  if (images > 60) throw new Error(`--images must be 1..60, got ${images}`);
  const out = flags.out ?? join(import.meta.dirname, '..', 'out', 'report-browser');
  const report = await browserWorldReport({ images, examples: numberFlag('examples', flags.examples, 0) ?? 6, out });
  if (flags.compare) {
    const node = JSON.parse(readFileSync(flags.compare, 'utf8')) as { stages: { name: string; scores: { miou: number } }[] };
    console.log(`\nstage    Chromium   Node      difference (mIoU %)`);
    let worst = 0;
    for (const s of node.stages) {
      const b = report.scores[s.name as keyof typeof report.scores];
      const d = b ? 100 * (b.miou - s.scores.miou) : NaN;
      worst = Math.max(worst, Math.abs(d));
      console.log(`${s.name.padEnd(8)} ${b ? (100 * b.miou).toFixed(4).padStart(8) : '—'.padStart(8)}  ${(100 * s.scores.miou).toFixed(4).padStart(8)}  ${d.toFixed(4)}`);
    }
    return worst <= 0.01 ? 0 : 1;
  }
  return 0;
});
