// `peekwall fmc pull`: an FMC bundle straight from a live FMC's REST API, written in the shape
// every policy-reading command (and import fmc) reads. The password comes from an environment
// variable, never the command line (where `ps` shows it), and no message prints it or a token.
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pullBundle, PULL_INPUT_ERRORS } from '../sources/index.js';
import { formatError, peekwallError, PeekwallFailure } from '../util/errors.js';
import { makeParentsSync, readBoundedFileSync } from '../util/files.js';
import { EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, handleThrown, parseCommandArgs, UsageError, type CliIo, type Subcommand } from './command.js';

const usage = `Usage: peekwall fmc pull --url https://FMC --user U --password-env VAR --policy NAME -o BUNDLE.json
                         [--domain NAME] [--ca FILE | --insecure]

Pull an access policy from a live FMC over its REST API and write it as an FMC bundle: the
policy, its rules, its Security Intelligence and every object kind peekwall reads (networks,
hosts, ranges, fqdns, networkgroups, urls, urlgroups, protocolportobjects, portobjectgroups,
siurllists, sinetworklists, urlcategories), each as FMC answered GET ...?expanded=true, page by
page (1000 items a page). A token comes from POST /api/fmc_platform/v1/auth/generatetoken and is
refreshed when it expires; HTTP 429 (FMC allows 120 requests a minute) is answered by waiting,
as Retry-After says, else with a doubling backoff. One progress line per resource on stderr.

Options:
  --url URL           https://HOST[:PORT] of the FMC
  --user U            an FMC user with REST API access
  --password-env VAR  the environment variable holding the password
  --policy NAME       the access policy's name
  -o, --out FILE      the bundle to write (written only when everything was pulled)
  --domain NAME       the domain (e.g. Global/Branch; default: the user's own)
  --ca FILE           PEM CA the FMC's certificate chains to (default: the system's CAs)
  --insecure          accept any certificate (a lab FMC's self-signed one)

The bundle holds what FMC's REST API holds: SI list entries, the URL database and TSID come
from --feeds, --urldb and --tsid where the bundle is read (see import fmc --help).

Exit status: 0 written; 2 bad input (options, wrong user or password, untrusted certificate,
no such policy or domain); 1 the FMC or the network failed (the HTTP status and endpoint said).
`;

const fmc: Subcommand = {
  name: 'fmc',
  summary: 'pull an access policy from a live FMC (REST API) as an FMC bundle',
  usage,
  async run(argv: string[], io: CliIo): Promise<number> {
    try {
      const args = parseCommandArgs(
        fmc,
        argv,
        {
          url: { type: 'string' },
          user: { type: 'string' },
          'password-env': { type: 'string' },
          policy: { type: 'string' },
          out: { type: 'string', short: 'o' },
          domain: { type: 'string' },
          ca: { type: 'string' },
          insecure: { type: 'boolean' },
        },
        io,
        true,
      );
      if (!args) return EXIT_OK;
      const v = args.values;
      const [verb, ...rest] = args.positionals;
      if (verb !== 'pull' || rest.length > 0) throw new UsageError(`fmc knows one command, pull: peekwall fmc pull --url https://FMC ...${verb && verb !== 'pull' ? ` (not '${verb}')` : ''}`);
      for (const k of ['url', 'user', 'password-env', 'policy', 'out'] as const) if (!v[k]) throw new UsageError(`fmc pull needs --${k === 'out' ? 'out (-o) BUNDLE.json' : k}`);
      if (v.ca !== undefined && v.insecure) throw new UsageError('--ca and --insecure exclude each other');
      const password = io.env[v['password-env']!];
      if (!password) throw new UsageError(`the environment variable ${v['password-env']} (--password-env) is not set or empty`);
      let ca: string | undefined;
      if (v.ca !== undefined) {
        const read = readBoundedFileSync(resolve(io.cwd, v.ca), 1024 * 1024);
        if (!read.ok) throw new PeekwallFailure(peekwallError('fmc/pull-ca', `cannot read the CA file (${read.failure.message})`, { file: v.ca }));
        if (!read.text.includes('-----BEGIN CERTIFICATE-----')) throw new PeekwallFailure(peekwallError('fmc/pull-ca', 'the CA file holds no PEM certificate', { file: v.ca }));
        ca = read.text;
      }
      const out = resolve(io.cwd, v.out!);
      const got = await pullBundle({
        url: v.url!,
        user: v.user!,
        password,
        policy: v.policy!,
        ...(v.domain !== undefined ? { domain: v.domain } : {}),
        ...(ca !== undefined ? { ca } : {}),
        insecure: v.insecure === true,
        progress: (line) => io.stderr.write(`peekwall: fmc pull: ${line}\n`),
      });
      if (!got.ok) {
        io.stderr.write(`peekwall: ${formatError(got.error)}\n`);
        return PULL_INPUT_ERRORS.has(got.error.code) ? EXIT_USAGE : EXIT_PROBLEM;
      }
      try {
        makeParentsSync(dirname(out));
        writeFileSync(out, `${JSON.stringify(got.value.bundle, null, 2)}\n`);
      } catch (e) {
        const n = e as NodeJS.ErrnoException;
        throw new PeekwallFailure(peekwallError('cli/unwritable', `cannot write: ${n.code ?? n.message}`, { file: v.out }));
      }
      const rules = got.value.counts.get('accessrules') ?? 0;
      io.stderr.write(`peekwall: wrote ${v.out}: ${rules} rule${rules === 1 ? '' : 's'}, ${got.value.requests} requests\n`);
      return EXIT_OK;
    } catch (e) {
      return handleThrown(e, io, false);
    }
  },
};

export default fmc;
