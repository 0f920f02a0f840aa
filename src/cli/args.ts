// A small option parser for the world and eval commands: `--name value` options, `--flag`
// switches and positional arguments; anything else is a usage error (exit code 2).

export class UsageError extends Error {}

export interface ParsedArgs {
  positional: string[];
  values: Map<string, string>;
  flags: Set<string>;
}

export function parseArgs(argv: readonly string[], spec: { values: readonly string[]; flags: readonly string[] }): ParsedArgs {
  const args: ParsedArgs = { positional: [], values: new Map(), flags: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    // Accept --name=value as well as --name value.
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (spec.values.includes(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UsageError(`${name} needs a value`);
      args.values.set(name, value);
    } else if (spec.flags.includes(name) && eq < 0) args.flags.add(name);
    else if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option ${arg}`);
    else args.positional.push(arg);
  }
  return args;
}

/** A non-negative integer option, or `fallback` when absent. */
export function integerOption(args: ParsedArgs, name: string, fallback: number): number {
  const text = args.values.get(name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) throw new UsageError(`${name} must be a non-negative integer, got '${text}'`);
  return Number.parseInt(text, 10);
}

export function requiredOption(args: ParsedArgs, name: string): string {
  const value = args.values.get(name);
  if (value === undefined) throw new UsageError(`${name} is required`);
  return value;
}

/** A finite number option, or undefined when absent. */
export function numberOption(args: ParsedArgs, name: string): number | undefined {
  const text = args.values.get(name);
  if (text === undefined) return undefined;
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v)) throw new UsageError(`${name} must be a number, got '${text}'`);
  return v;
}

/** A comma-separated list of positive numbers (integers when `integer`), e.g. `--widths 16,32,64`. */
export function positiveList(text: string, name: string, integer = false): number[] {
  const values = text.split(',').map((s) => s.trim()).map((s) => (s === '' ? Number.NaN : Number(s)));
  if (values.some((v) => !(v > 0) || !Number.isFinite(v) || (integer && !Number.isInteger(v)))) {
    throw new UsageError(`${name} must be a comma-separated list of positive ${integer ? 'integers' : 'numbers'}, got '${text}'`);
  }
  return values;
}
