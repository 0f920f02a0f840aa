// `npx tsx harness/smoke-driver.ts`: build the harness and run its smoke page in headless Chromium.
import { join } from 'node:path';
import { build } from 'vite';
import { runHarnessPage } from './lib/browser.js';

const outDir = join(import.meta.dirname, '..', 'dist', 'harness');
await build({ configFile: join(import.meta.dirname, '..', 'vite.config.ts'), logLevel: 'warn', build: { outDir } });
console.log(JSON.stringify(await runHarnessPage(outDir), null, 2));
