// vitest global setup: builds dist/ once per test run, so that tests which start the `seedmask`
// command (bin/seedmask.mjs runs dist/cli/main.js) run the current source.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export default function setup(): void {
  execFileSync(process.execPath, [join(import.meta.dirname, '..', '..', 'scripts', 'build.mjs')], { stdio: 'pipe' });
}
