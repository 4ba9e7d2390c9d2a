// `peekwall import fmc BUNDLE -o POLICY.yaml`: an FMC bundle written as the equivalent YAML
// policy, for people who keep YAML. The YAML is the very tree the bundle compiles from, with
// a comment per rule naming its FMC id; the choices made for what FMC does not say are printed
// and written at the top of the file.
import { writeFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { policyYaml, readFmcPolicy } from '../sources/index.js';
import { formatError, peekwallError, PeekwallFailure } from '../util/errors.js';
import { makeParentsSync } from '../util/files.js';
import { fromRoot } from '../util/paths.js';
import { EXIT_OK, handleThrown, parseCommandArgs, reportErrors, UsageError, type CliIo, type Subcommand } from './command.js';
import { FMC_OPTION_SPECS, FMC_OPTIONS_USAGE, fmcOptions } from './fmc-options.js';

const PROFILES = ['snort3-legacy', 'snort3', 'technote'];

const usage = `Usage: peekwall import fmc BUNDLE -o POLICY.yaml [options]

Write an FMC access policy bundle as the equivalent peekwall YAML policy. BUNDLE is one JSON
file keyed by FMC REST resource names (accesspolicies, accessrules,
securityintelligencepolicies, networks, hosts, ranges, fqdns, networkgroups, urls, urlgroups,
protocolportobjects, portobjectgroups, siurllists, sinetworklists, urlcategories), each the
answer FMC gave to GET ...?expanded=true ({links, items, paging}) or its items list; or a folder
of <resource>.json files (further pages as <resource>.page-N.json). Every command that reads a
policy reads a bundle too; import is for keeping the policy as YAML.

Each rule gets a comment naming its FMC id; conditions a flow cannot show are reported
(fmc/unsupported-condition) and written as a comment.

Options:
  -o, --out FILE    the YAML policy to write ('-' for standard output)
  --tsid on|off     TSID for the policy (FMC's REST API does not carry it; default: the
                    bundle's x-peekwall.settings.tsid, else on)
  --profile P       TSID name order: snort3-legacy | snort3 | technote
${FMC_OPTIONS_USAGE}

Exit status: 0 written, 2 bad input (unreadable or invalid bundle, bad options).
`;

const imp: Subcommand = {
  name: 'import',
  summary: 'write an FMC access policy bundle (REST API JSON) as the equivalent YAML policy',
  usage,
  async run(argv: string[], io: CliIo): Promise<number> {
    try {
      const args = parseCommandArgs(imp, argv, { out: { type: 'string', short: 'o' }, tsid: { type: 'string' }, profile: { type: 'string' }, ...FMC_OPTION_SPECS }, io, true);
      if (!args) return EXIT_OK;
      const v = args.values;
      const [kind, bundle, ...rest] = args.positionals;
      if (kind !== 'fmc') throw new UsageError(`import knows one source, fmc: peekwall import fmc BUNDLE -o POLICY.yaml${kind ? ` (not '${kind}')` : ''}`);
      if (!bundle || rest.length > 0) throw new UsageError('import fmc needs exactly one BUNDLE (a JSON file or a folder)');
      if (!v.out) throw new UsageError('import fmc needs -o POLICY.yaml (or -o - for standard output)');
      if (v.tsid !== undefined && v.tsid !== 'on' && v.tsid !== 'off') throw new UsageError(`--tsid must be on or off, not '${v.tsid}'`);
      if (v.profile !== undefined && !PROFILES.includes(v.profile)) throw new UsageError(`--profile must be one of ${PROFILES.join(', ')}, not '${v.profile}'`);
      const tsid = { ...(v.tsid !== undefined ? { enabled: v.tsid === 'on' } : {}), ...(v.profile !== undefined ? { profile: v.profile } : {}) };
      const options = { ...fmcOptions(v, io.cwd), ...(Object.keys(tsid).length > 0 ? { tsid } : {}) };
      const path = resolve(io.cwd, bundle);
      const got = readFmcPolicy(path, options);
      if (!got.ok) return reportErrors(io, got.error, false);
      const { mapped, baseDir } = got.value;
      const toStdout = v.out === '-';
      const out = toStdout ? null : resolve(io.cwd, v.out);
      const outDir = out ? dirname(out) : io.cwd;
      const rebase = (name: string) => {
        const abs = isAbsolute(name) ? name : resolve(baseDir, name);
        return relative(outDir, abs) || '.';
      };
      const text = policyYaml(mapped, { source: bundle, rebase, schema: relative(outDir, fromRoot('policies', 'schemas', 'policy.schema.json')) });
      for (const w of mapped.warnings) io.stderr.write(`peekwall: ${formatError(w)}\n`);
      for (const n of mapped.notes) io.stderr.write(`peekwall: ${n}\n`);
      if (!out) {
        io.stdout.write(text);
        return EXIT_OK;
      }
      try {
        makeParentsSync(outDir);
        writeFileSync(out, text);
      } catch (e) {
        const n = e as NodeJS.ErrnoException;
        throw new PeekwallFailure(peekwallError('cli/unwritable', `cannot write: ${n.code ?? n.message}`, { file: v.out }));
      }
      const rules = mapped.ruleComments.length;
      io.stderr.write(`peekwall: wrote ${v.out}: ${rules} rule${rules === 1 ? '' : 's'}, ${mapped.warnings.length} warning${mapped.warnings.length === 1 ? '' : 's'}\n`);
      return EXIT_OK;
    } catch (e) {
      return handleThrown(e, io, false);
    }
  },
};

export default imp;
