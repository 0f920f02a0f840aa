// `npx tsx harness/smoke-driver.ts`: build the harness and run its smoke page in headless Chromium.
import { join } from 'node:path';
import { runHarnessPage } from './lib/browser.js';
import { buildHarness } from './lib/build.js';

const root = join(import.meta.dirname, '..');
const outDir = join(root, 'dist', 'harness');
await buildHarness(outDir, ['smoke']);
console.log(JSON.stringify(await runHarnessPage(outDir, '', 120_000, { '/weights/tiny/': join(root, 'test', 'fixtures', 'weights', 'tiny') }), null, 2));
