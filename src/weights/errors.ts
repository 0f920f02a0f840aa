// The one error type of the weight importer. Every problem with a weight file, whether the
// container is corrupt, the pickle names a forbidden global, or a CLIP key is missing, surfaces as a
// WeightFileError whose message starts with the file name, so a user juggling several downloads
// always knows which one is bad. `key` names the tensor when one tensor is to blame.

export class WeightFileError extends Error {
  /** File path or Blob/File name as given to the loader. */
  readonly file: string;
  /** The problem, without the file prefix. */
  readonly problem: string;
  /** Tensor key, when a single tensor is to blame. */
  readonly key: string | undefined;

  constructor(file: string, problem: string, key?: string) {
    super(`${file}: ${key !== undefined ? `tensor '${key}': ` : ''}${problem}`);
    this.name = 'WeightFileError';
    this.file = file;
    this.problem = problem;
    this.key = key;
  }
}

/** Lists at most `max` items, then says how many more there were (keeps error messages readable). */
export function listSome(items: readonly string[], max = 20): string {
  const shown = items.slice(0, max).join(', ');
  return items.length > max ? `${shown}, … (${items.length - max} more)` : shown;
}
