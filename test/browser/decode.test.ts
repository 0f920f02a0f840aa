// The decoding goldens in headless Chromium: seedmask's decoder (bundled by vite, WebAssembly
// fetched as an asset) gives PIL's pixels exactly, as in Node. The browser's own decoder is
// compared too and its agreement recorded, not required (docs/decoding.md).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runHarnessPage } from '../../harness/lib/browser.js';
import { buildHarness } from '../../harness/lib/build.js';
import { DECODE_FIXTURES, type DecodeManifest } from '../io/decode-fixtures.js';

type Outcome = { pixels: number; maxDiff: number } | { error: string };
interface DecodePage {
  ok: boolean;
  error?: string;
  result?: { goldens: { file: string; pixels: number; seedmask: Outcome; browser: Outcome }[] };
}

describe('decoding in Chromium', () => {
  it('every golden file decodes to PIL’s pixels, 100 % equal', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'seedmask-decode-'));
    let run;
    try {
      await buildHarness(outDir, ['decode']);
      run = await runHarnessPage<DecodePage>(outDir, 'decode.html', 60_000, { '/decode/': DECODE_FIXTURES });
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
    expect(run.result.error).toBeUndefined();
    const rows = run.result.result!.goldens;
    const manifest = JSON.parse(readFileSync(join(DECODE_FIXTURES, 'manifest.json'), 'utf8')) as DecodeManifest;
    expect(rows.map((r) => r.file)).toEqual(manifest.files.map((f) => f.file));
    for (const row of rows) expect(row.seedmask, row.file).toEqual({ pixels: 0, maxDiff: 0 });
    // The browser's decoder, for the record (docs/decoding.md quotes this line).
    const summary = rows.map((r) => `${r.file}: ${'error' in r.browser ? `error ${r.browser.error}` : `${((100 * (r.pixels - r.browser.pixels)) / r.pixels).toFixed(1)} % equal, max ${r.browser.maxDiff}`}`);
    console.log(`createImageBitmap vs PIL (${run.browser}):\n  ${summary.join('\n  ')}`);
  });
});
