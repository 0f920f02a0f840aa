// The world report in Chromium (harness/accuracy.html) against `seedmask report` in Node on the
// same 2 val images, with each CAM source: every stage's mIoU is the same (the seeds are
// bit-identical on SwiftShader), and both write report.json and report.html.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { browserWorldReport } from '../../harness/lib/accuracy.js';
import { run as report } from '../../src/cli/report.js';
import { CAM_SOURCE_NAMES } from '../../src/wsss/seeds.js';
import { captureStdio } from '../helpers/stdio.js';

let dir: string;
/** The 'cam' stage's mIoU per CAM source, to see that the sources differ. */
const camMiou = new Map<string, number>();
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('world report in the browser', () => {
  const io = captureStdio();

  it.each(CAM_SOURCE_NAMES)('reproduces the Node report’s per-stage mIoU (CAM source %s)', async (cam) => {
    dir ??= await mkdtemp(join(tmpdir(), 'seedmask-accuracy-'));
    expect(await report(['--images', '2', '--examples', '1', '--cam', cam, '--out', join(dir, cam, 'node')]), io.stderr).toBe(0);
    const node = JSON.parse(readFileSync(join(dir, cam, 'node', 'report.json'), 'utf8')) as { stages: { name: string; scores: { miou: number } }[] };
    const browser = await browserWorldReport({ images: 2, examples: 1, out: join(dir, cam, 'browser'), cam });
    expect(existsSync(join(dir, cam, 'browser', 'report.html'))).toBe(true);
    const written = JSON.parse(readFileSync(join(dir, cam, 'browser', 'report.json'), 'utf8')) as { stages: { name: string }[] };
    expect(written.stages.map((s) => s.name)).toEqual(node.stages.map((s) => s.name));
    expect(node.stages.length).toBe(6);
    for (const s of node.stages) {
      const b = browser.scores[s.name as keyof typeof browser.scores]!;
      expect(Math.abs(b.miou - s.scores.miou), s.name).toBeLessThanOrEqual(1e-4);
    }
    // Both reports say which source made them, and the sources give different CAMs.
    for (const side of ['node', 'browser']) {
      const facts = (JSON.parse(readFileSync(join(dir, cam, side, 'report.json'), 'utf8')) as { facts: [string, string][] }).facts;
      expect(facts, side).toContainEqual(['CAM source', cam]);
    }
    camMiou.set(cam, node.stages.find((s) => s.name === 'cam')!.scores.miou);
    if (camMiou.size === CAM_SOURCE_NAMES.length) expect(new Set(camMiou.values()).size).toBe(CAM_SOURCE_NAMES.length);
  });
});
