// `peekwall lint FILE`: load errors (unknown objects, invalid entries, bad YAML) and rule
// analysis (shadowed / redundant rules, rules after a catch-all, object overlap, unused
// objects). Exit 1 when anything of severity error is found (an invalid file included),
// 0 when only warnings or nothing, 2 when the file cannot be read.
import { resolve } from 'node:path';
import { lintPolicy, type LintFinding } from '../policy/index.js';
import { loadPolicyFile } from '../sources/index.js';
import { formatError } from '../util/errors.js';
import { FMC_OPTION_SPECS, FMC_OPTIONS_USAGE, fmcOptions } from './fmc-options.js';
import { EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, parseCommandArgs, UsageError, writeJson, type CliIo, type Subcommand } from './command.js';

const usage = `Usage: peekwall lint FILE [--json] [FMC bundle options]

Check a policy: YAML and schema errors, unknown objects, invalid entries (feeds included),
shadowed and redundant rules, rules after a catch-all, overlapping objects, unused objects.
FILE may be an FMC bundle (a JSON file or folder): its own problems are reported too, among
them each condition a flow cannot show (fmc/unsupported-condition).

${FMC_OPTIONS_USAGE}

Exit status: 1 when errors are found, 0 otherwise (warnings only), 2 if FILE is unreadable.
`;

function where(f: LintFinding): string {
  if (f.file === undefined) return '';
  return `${f.file}${f.line !== undefined ? `:${f.line}:${f.column ?? 1}` : ''}: `;
}

const lint: Subcommand = {
  name: 'lint',
  summary: 'check a policy: errors, shadowed/redundant rules, object overlap',
  usage,
  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseCommandArgs(lint, argv, { json: { type: 'boolean' }, ...FMC_OPTION_SPECS }, io, true);
    if (!args) return EXIT_OK;
    const json = args.values.json === true;
    if (args.positionals.length !== 1) throw new UsageError('lint needs exactly one policy FILE');
    const file = args.positionals[0];
    const loaded = await loadPolicyFile(resolve(io.cwd, file), fmcOptions(args.values, io.cwd));
    let findings: LintFinding[];
    if (!loaded.ok) {
      if (loaded.error.length === 1 && (loaded.error[0].code === 'policy/unreadable' || loaded.error[0].code === 'fmc/unreadable')) {
        if (json) writeJson(io, { file, errors: loaded.error });
        else io.stderr.write(`peekwall: ${formatError(loaded.error[0])}\n`);
        return EXIT_USAGE;
      }
      findings = loaded.error.map((e) => ({ severity: 'error' as const, code: e.code, message: e.message, ...(e.file ? { file: e.file } : {}), ...(e.line ? { line: e.line, column: e.column } : {}) }));
    } else {
      findings = lintPolicy(loaded.value);
    }
    const errors = findings.filter((f) => f.severity === 'error').length;
    const warnings = findings.length - errors;
    if (json) {
      writeJson(io, { file, valid: loaded.ok, errors, warnings, findings });
    } else {
      for (const f of findings) io.stdout.write(`${where(f)}${f.severity}: ${f.message} [${f.code}]\n`);
      io.stdout.write(`${file}: ${errors} error(s), ${warnings} warning(s)\n`);
    }
    return errors > 0 ? EXIT_PROBLEM : EXIT_OK;
  },
};

export default lint;
