// Build harness pages with vite (the repository's vite.config.ts; shaders and the JPEG decoder
// come in through src/browser.ts) into `outDir`, only the pages asked for: the smoke page alone builds in a
// second or two, the benchmark page also bundles tfjs.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { build } from 'vite';

export const HARNESS_PAGES = { smoke: 'index.html', bench: 'bench.html', decode: 'decode.html', accuracy: 'accuracy.html', soak: 'soak.html' } as const;
export type HarnessPage = keyof typeof HARNESS_PAGES;

const ROOT = join(import.meta.dirname, '..', '..');

export async function buildHarness(outDir: string, pages: HarnessPage[], logLevel: 'error' | 'warn' | 'info' = 'error'): Promise<void> {
  // The browser entry (src/browser.ts) imports the shader sources and the JPEG decoder generated from the repository's files.
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), '--assets-only'], { stdio: 'pipe' });
  const input = Object.fromEntries(pages.map((p) => [p, join(ROOT, 'harness', HARNESS_PAGES[p])]));
  await build({ configFile: join(ROOT, 'vite.config.ts'), logLevel, build: { outDir, emptyOutDir: true, rollupOptions: { input } } });
}
