// The world report in headless Chromium: runs harness/accuracy.html (the same SeedPipeline on the
// same world images as `seedmask report`), scores its confusion matrices the way the Node report
// does and writes the same report.json and report.html.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STAGE_DESCRIPTIONS, WORLD_SEED, WORLD_TRAIN, readCiBand, ciColumn, worldReport, writeWorldReport } from '../../src/cli/report.js';
import { ConfusionMatrix, computeScores, type Scores } from '../../src/eval/confusion.js';
import type { ReportExample } from '../../src/eval/report.js';
import { CAM_SOURCE_NAMES, STAGES, type CamSourceName, type Stage } from '../../src/wsss/seeds.js';
import { runHarnessPage } from './browser.js';
import { buildHarness } from './build.js';

const ROOT = join(import.meta.dirname, '..', '..');

interface AccuracyPage {
  ok: boolean;
  error?: string;
  result?: {
    adapter: string;
    userAgent: string;
    images: number;
    seconds: number;
    classNames: string[];
    counts: Record<string, { counts: number[]; ignoredGtPixels: number; strayGtPixels: number; images: number }>;
    stageMs: Record<string, number>;
    examples: { id: string; labels: string[]; panels: { title: string; png: number[] }[] }[];
  };
}

export interface BrowserReport {
  browser: string;
  adapter: string;
  scores: Partial<Record<Stage | 'seeds', Scores>>;
}

/** Runs the world report in Chromium for the first `images` val images and writes it to `out`. */
export async function browserWorldReport(options: { images: number; examples: number; out: string; cam?: CamSourceName }): Promise<BrowserReport> {
  const pageDir = mkdtempSync(join(tmpdir(), 'seedmask-accuracy-'));
  let run;
  try {
    await buildHarness(pageDir, ['accuracy']);
    const query = `?seed=${WORLD_SEED}&first=${WORLD_TRAIN}&images=${options.images}&examples=${options.examples}&cam=${options.cam ?? CAM_SOURCE_NAMES[0]}`;
    run = await runHarnessPage<AccuracyPage>(pageDir, `accuracy.html${query}`, 3_600_000, { '/world-clip/': join(ROOT, 'weights', 'world-clip') });
  } finally {
    rmSync(pageDir, { recursive: true, force: true });
  }
  if (!run.result.ok) throw new Error(`accuracy page: ${run.result.error}`);
  const r = run.result.result!;
  const ids = Array.from({ length: r.images }, (_, i) => String(WORLD_TRAIN + i).padStart(6, '0'));
  const ci = ciColumn(await readCiBand(), ids, options.cam ?? CAM_SOURCE_NAMES[0]!);
  const scores: BrowserReport['scores'] = {};
  for (const [stage, c] of Object.entries(r.counts)) {
    const matrix = new ConfusionMatrix(r.classNames.length);
    matrix.counts.set(c.counts);
    matrix.ignoredGtPixels = c.ignoredGtPixels;
    matrix.strayGtPixels = c.strayGtPixels;
    matrix.images = c.images;
    scores[stage as Stage | 'seeds'] = computeScores(matrix);
  }
  const stages = [...STAGES, 'seeds' as const].filter((s) => scores[s]).map((s) => ({ name: s, description: STAGE_DESCRIPTIONS[s], scores: scores[s]!, ci: ci(s) }));
  const examples: ReportExample[] = r.examples.map((e) => ({ ...e, panels: e.panels.map((p) => ({ title: p.title, png: Uint8Array.from(p.png) })) }));
  const report = worldReport({
    facts: [
      ['dataset', `synthetic world, seed ${WORLD_SEED}, val split: ${r.images} images (generated in the page)`],
      ['CAM source', options.cam ?? CAM_SOURCE_NAMES[0]!],
      ['model', 'weights/world-clip (served to the page)'],
      ['adapter', r.adapter],
      ['runtime', `${run.browser} (${run.flags.join(' ')})`],
      ['run time', `${r.seconds.toFixed(1)} s`],
    ],
    classNames: r.classNames,
    stages,
    timings: r.stageMs,
    examples,
  });
  await writeWorldReport(options.out, report, { processed: r.images, stageMs: r.stageMs, scores, browser: run.browser });
  return { browser: run.browser, adapter: r.adapter, scores };
}
