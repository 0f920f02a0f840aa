// The one error type of src/io. Whatever goes wrong with a file (it is missing, truncated, of an
// unsupported kind, or a write failed half-way), the message starts with the file's path so that a
// user running over thousands of images knows which one to look at. `problem` holds the rest.

/**
 * A file that could not be read, decoded or written. The message is `<file>: <problem>`;
 * `cause` holds the underlying error where there is one.
 */
export class IoError extends Error {
  /** Path of the file (or the name given for an in-memory buffer). */
  readonly file: string;
  /** What is wrong, without the file prefix. */
  readonly problem: string;

  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, options);
    this.name = 'IoError';
    this.file = file;
    this.problem = problem;
  }
}

/** The message of anything thrown, for wrapping third-party errors into an IoError. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A well-formed image seedmask does not decode (too large, an unsupported layout): not corruption. */
export class ImageRefusal extends Error {}

/** An image decoder could not be loaded (its WebAssembly missing or not compiling): no image is at fault. */
export class DecoderUnavailable extends Error {}
