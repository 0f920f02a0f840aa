#!/usr/bin/env node
// The `seedmask` command: the built CLI (dist/cli/main.js) runs in this very process, so signals
// sent to `seedmask` reach the program that holds the GPU. Exit codes: see `seedmask --help`.
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('seedmask: dist/cli/main.js is missing; run `npm run build` (npm install in the repository runs it)\n');
  process.exit(1);
}
await import(main.href);
