// In-memory CliIo for driving subcommands from tests without spawning a process.
import { PassThrough, Readable } from 'node:stream';
import type { CliIo } from '../../src/cli/command.js';
import { main } from '../../src/cli/main.js';
import { repoRoot } from '../../src/util/paths.js';

export interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(argv: string[], opts: { stdin?: Buffer | string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Captured> {
  const out = new PassThrough();
  const errs = new PassThrough();
  const chunksOut: Buffer[] = [];
  const chunksErr: Buffer[] = [];
  out.on('data', (c: Buffer) => chunksOut.push(c));
  errs.on('data', (c: Buffer) => chunksErr.push(c));
  const io: CliIo = {
    stdout: out,
    stderr: errs,
    stdin: Readable.from(opts.stdin === undefined ? [] : [Buffer.from(opts.stdin)]),
    cwd: opts.cwd ?? repoRoot,
    env: opts.env ?? process.env,
  };
  const code = await main(argv, io);
  return { code, stdout: Buffer.concat(chunksOut).toString('utf8'), stderr: Buffer.concat(chunksErr).toString('utf8') };
}
