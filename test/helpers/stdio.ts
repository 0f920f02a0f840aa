// Captures what a CLI command writes to stdout and stderr during each test of the calling suite.
import { afterEach, beforeEach, vi } from 'vitest';

export interface CapturedStdio {
  stdout: string;
  stderr: string;
}

/** Call at suite level; the returned object holds the current test's output (assignable, to reset). */
export function captureStdio(): CapturedStdio {
  const io: CapturedStdio = { stdout: '', stderr: '' };
  beforeEach(() => {
    io.stdout = '';
    io.stderr = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      io.stdout += String(chunk);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      io.stderr += String(chunk);
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());
  return io;
}
