// Shared by the io, eval, world and wsss tests: fixture paths and throwaway directories.

import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const IO_FIXTURES = join(ROOT, 'test', 'fixtures', 'io');

/** A fresh temporary directory; `cleanup` removes it. */
export function tempDir(prefix = 'seedmask-io-'): { dir: string; path: (...names: string[]) => string; files: () => string[]; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    path: (...names) => join(dir, ...names),
    files: () => readdirSync(dir).sort(),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
