import { type ParseArgsConfig, parseArgs } from 'node:util';

// What every command of the CLI is: a name, its own usage, and a run over parsed options. Options are
// parsed strictly: an unknown option or a missing value is a usage error (exit 2), never ignored.

/** Where a command writes. */
export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** The parsed command line of one command. */
export interface Parsed {
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
  readonly positionals: readonly string[];
}

/** One command of the CLI. */
export interface Command {
  readonly name: string;
  /** Its own usage, printed by `enginepool COMMAND --help` and after a usage error. */
  readonly usage: string;
  readonly options: NonNullable<ParseArgsConfig['options']>;
  /** How many positional arguments it takes. */
  readonly positionals?: { readonly min: number; readonly max: number };
  readonly run: (parsed: Parsed, io: Io) => Promise<number>;
}

/** A command line a command cannot take. */
export class UsageError extends Error {}

/** Parses a command's arguments strictly; throws {@link UsageError}. */
export function parseCommand(command: Command, args: string[]): Parsed {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options: command.options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]);
  }
  const { min, max } = command.positionals ?? { min: 0, max: 0 };
  const count = parsed.positionals.length;
  if (count > max) throw new UsageError(`unexpected argument "${parsed.positionals[max]}"`);
  if (count < min) throw new UsageError('missing argument');
  return parsed;
}

/** `-o table|json`, the output option of the commands that print a report. */
export const outputOption = { output: { type: 'string', short: 'o' } } as const;

/** The value of `-o`; throws {@link UsageError} for anything but table or json. */
export function outputFormat(parsed: Parsed): 'table' | 'json' {
  const output = parsed.values.output ?? 'table';
  if (output !== 'table' && output !== 'json')
    throw new UsageError(`-o expects "table" or "json", got "${output}"`);
  return output;
}

/** A required string option; throws {@link UsageError} when absent. */
export function required(parsed: Parsed, name: string): string {
  const value = parsed.values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

/** An optional string option. */
export function optional(parsed: Parsed, name: string): string | undefined {
  const value = parsed.values[name];
  return typeof value === 'string' ? value : undefined;
}
