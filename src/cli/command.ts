// The contract every subcommand module under src/cli/ implements. Subcommands are thin:
// they parse arguments, call the core or the shell, and print. Exit codes are uniform:
//   0 success, 1 ran and found a problem (a block, a failed case, an expired cert),
//   2 bad input or usage (unreadable file, invalid policy, unknown flag).
import type { Writable } from 'node:stream';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { formatError, PeekwallFailure, type PeekwallError } from '../util/errors.js';

export const EXIT_OK = 0;
export const EXIT_PROBLEM = 1;
export const EXIT_USAGE = 2;

export interface CliIo {
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** Standard input, for `-` file arguments. */
  readonly stdin: NodeJS.ReadableStream;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
}

export interface Subcommand {
  readonly name: string;
  /** One line for `peekwall --help`. */
  readonly summary: string;
  /** Full text for `peekwall NAME --help`. */
  readonly usage: string;
  run(argv: string[], io: CliIo): Promise<number>;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * parseArgs with `--help` built in and errors turned into UsageError (exit 2).
 * Returns null when help was printed.
 */
export function parseCommandArgs<O extends Options>(
  cmd: Pick<Subcommand, 'usage'>,
  argv: string[],
  options: O,
  io: CliIo,
  allowPositionals = true,
) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals,
      strict: true,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if ((parsed.values as Record<string, unknown>).help) {
    io.stdout.write(cmd.usage.endsWith('\n') ? cmd.usage : `${cmd.usage}\n`);
    return null;
  }
  return parsed;
}

/** Print errors (file:line:column: message [code]) to stderr, or as JSON to stdout. */
export function reportErrors(io: CliIo, errors: readonly PeekwallError[], json: boolean): number {
  if (json) {
    const first = errors[0];
    io.stdout.write(
      `${JSON.stringify({ error: first?.code, message: first?.message, errors })}\n`,
    );
  } else {
    for (const e of errors) io.stderr.write(`peekwall: ${formatError(e)}\n`);
  }
  return EXIT_USAGE;
}

/** Shared handling of what a subcommand throws: usage errors and typed failures exit 2. */
export function handleThrown(e: unknown, io: CliIo, json: boolean): number {
  if (e instanceof UsageError) {
    io.stderr.write(`peekwall: ${e.message}\n`);
    return EXIT_USAGE;
  }
  if (e instanceof PeekwallFailure) return reportErrors(io, e.errors, json);
  throw e;
}

export function writeJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
