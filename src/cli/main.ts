import { EXIT_OK, EXIT_USAGE, handleThrown, type CliIo } from './command.js';
import { subcommands } from './registry.js';

const HEADER = `peekwall — inline TLS-inspecting proxy simulator (FMC/FTD TSID semantics)

Usage: peekwall <command> [options]    (peekwall <command> --help for details)

Commands:
`;

export function defaultIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    cwd: process.cwd(),
    env: process.env,
  };
}

/** Runs one CLI invocation and returns its exit code. Never calls process.exit. */
export async function main(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const cmds = subcommands;
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const width = Math.max(8, ...cmds.map((c) => c.name.length));
    const lines = cmds.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n');
    const text = `${HEADER}${lines}\n`;
    if (name === undefined) {
      io.stderr.write(text);
      return EXIT_USAGE;
    }
    io.stdout.write(text);
    return EXIT_OK;
  }
  if (name === '--version' || name === '-V') {
    const { readFileSync } = await import('node:fs');
    const { fromRoot } = await import('../util/paths.js');
    io.stdout.write(`${JSON.parse(readFileSync(fromRoot('package.json'), 'utf8')).version}\n`);
    return EXIT_OK;
  }
  const entry = cmds.find((c) => c.name === name);
  if (!entry) {
    io.stderr.write(`peekwall: unknown command '${name}' (see peekwall --help)\n`);
    return EXIT_USAGE;
  }
  const json = rest.includes('--json');
  try {
    const cmd = await entry.load();
    return await cmd.run(rest, io);
  } catch (e) {
    return handleThrown(e, io, json);
  }
}
