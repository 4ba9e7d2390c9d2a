// `peekwall export fmc POLICY.yaml -o BUNDLE.json`: a YAML policy as an FMC bundle in the shapes
// FMC's REST API returns, so a remedy tested in peekwall can be applied to FMC; the SI lists'
// entries go beside it, one <list name>.txt each (FMC takes them as uploaded files). Reading the
// bundle back (any command, or import fmc) gives the same verdicts.
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { exportBundle, loadPolicyFile, mayBeFmcBundle, readFeed } from '../sources/index.js';
import { readYaml, toPlain, limitsOf } from '../schema/index.js';
import { formatError, peekwallError, PeekwallFailure } from '../util/errors.js';
import { makeParentsSync, readBoundedFileSync } from '../util/files.js';
import { EXIT_OK, handleThrown, parseCommandArgs, reportErrors, UsageError, type CliIo, type Subcommand } from './command.js';

const usage = `Usage: peekwall export fmc POLICY.yaml -o BUNDLE.json [--feeds DIR]

Write a peekwall YAML policy as an FMC bundle: one JSON file keyed by FMC REST resource names
(accesspolicies, accessrules, securityintelligencepolicies, hosts, networks, ranges,
networkgroups, protocolportobjects, portobjectgroups, urls, urlgroups, urlcategories,
sinetworklists, siurllists), each in the paged shape FMC returns with ?expanded=true. What FMC
does not hold (TSID and the other settings, the URL database, application domains) goes under
x-peekwall; what neither can hold (prefilter rules, DNS and monitor-only SI lists, a rule's lab
TSID override) is reported and left out.

Options:
  -o, --out FILE    the bundle to write
  --feeds DIR       where each Security Intelligence list's entries go, as <list name>.txt
                    (default: BUNDLE's name without .json, plus .feeds, beside it)

Exit status: 0 written, 2 bad input (unreadable or invalid policy, bad options).
`;

const exp: Subcommand = {
  name: 'export',
  summary: 'write a YAML policy as an FMC access policy bundle (REST API JSON)',
  usage,
  async run(argv: string[], io: CliIo): Promise<number> {
    try {
      const args = parseCommandArgs(exp, argv, { out: { type: 'string', short: 'o' }, feeds: { type: 'string' } }, io, true);
      if (!args) return EXIT_OK;
      const [kind, file, ...rest] = args.positionals;
      if (kind !== 'fmc') throw new UsageError(`export knows one target, fmc: peekwall export fmc POLICY.yaml -o BUNDLE.json${kind ? ` (not '${kind}')` : ''}`);
      if (!file || rest.length > 0) throw new UsageError('export fmc needs exactly one POLICY.yaml');
      if (!args.values.out) throw new UsageError('export fmc needs -o BUNDLE.json');
      const policyPath = resolve(io.cwd, file);
      if (mayBeFmcBundle(policyPath) === 'folder' || mayBeFmcBundle(policyPath) === 'file') throw new UsageError(`${file} is already an FMC bundle`);
      // The policy must load as it is: an invalid one is refused with its own errors.
      const loaded = await loadPolicyFile(policyPath);
      if (!loaded.ok) return reportErrors(io, loaded.error, false);
      const read = readBoundedFileSync(policyPath, limitsOf('policy').maxBytes);
      if (!read.ok) return reportErrors(io, [peekwallError('policy/unreadable', `cannot read policy file (${read.failure.message})`, { file })], false);
      const tree = readYaml(read.text, file, 'policy');
      if (!tree.ok) return reportErrors(io, tree.error, false);
      const out = resolve(io.cwd, args.values.out);
      const outDir = dirname(out);
      const feedsDir = args.values.feeds !== undefined ? resolve(io.cwd, args.values.feeds) : join(outDir, `${basename(out).replace(/\.json$/i, '')}.feeds`);
      const policyDir = dirname(policyPath);
      const e = exportBundle(toPlain(tree.value) as Record<string, unknown>, file, {
        feeds: relative(outDir, feedsDir) || '.',
        rebase: (name) => relative(outDir, isAbsolute(name) ? name : resolve(policyDir, name)) || '.',
        readFeed: (name) => readFeed(isAbsolute(name) ? name : resolve(policyDir, name)),
      });
      for (const w of e.warnings) io.stderr.write(`peekwall: ${formatError(w)}\n`);
      try {
        makeParentsSync(outDir);
        writeFileSync(out, `${JSON.stringify(e.bundle, null, 2)}\n`);
        if (e.feeds.size > 0) mkdirSync(feedsDir, { recursive: true });
        for (const [name, text] of e.feeds) writeFileSync(join(feedsDir, name), text);
      } catch (err) {
        const n = err as NodeJS.ErrnoException;
        throw new PeekwallFailure(peekwallError('cli/unwritable', `cannot write: ${n.code ?? n.message}`, { file: args.values.out }));
      }
      const rules = (e.bundle.accessrules as { items: unknown[] }).items.length;
      io.stderr.write(`peekwall: wrote ${args.values.out}: ${rules} rule${rules === 1 ? '' : 's'}${e.feeds.size > 0 ? `, ${e.feeds.size} SI list file${e.feeds.size === 1 ? '' : 's'} in ${relative(io.cwd, feedsDir) || '.'}` : ''}, ${e.warnings.length} warning${e.warnings.length === 1 ? '' : 's'}\n`);
      return EXIT_OK;
    } catch (e) {
      return handleThrown(e, io, false);
    }
  },
};

export default exp;
