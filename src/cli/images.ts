// The per-image loop of the commands that take image paths (seeds, maskclip): each image in turn,
// a bad file reported and skipped, and either a line per image or one JSON array at the end.
import { IoError } from '../io/errors.js';

/** What one image gave: the JSON record and the line printed without --json. */
export interface ImageOutcome {
  record: unknown;
  line: string;
}

/** Runs `job` on every path; returns the exit code (1 when any image could not be read). */
export async function eachImage(command: string, paths: readonly string[], json: boolean, job: (path: string) => Promise<ImageOutcome>): Promise<number> {
  const records: unknown[] = [];
  let failed = 0;
  for (const path of paths) {
    try {
      const { record, line } = await job(path);
      if (json) records.push(record);
      else process.stdout.write(`${line}\n`);
    } catch (err) {
      if (!(err instanceof IoError)) throw err;
      failed++;
      process.stderr.write(`seedmask ${command}: ${err.message}\n`);
    }
  }
  if (json) process.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
  return failed > 0 ? 1 : 0;
}
