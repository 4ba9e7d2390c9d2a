// `peekwall certs init|check|renew`: the lab PKI in certs/ (LAB-ONLY: its keys are public).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkLabPki, initLabPki, LAB_CERTS_DIR, renewLabPki, type CheckEntry } from '../pki/index.js';
import { PeekwallFailure } from '../util/errors.js';
import { EXIT_OK, EXIT_PROBLEM, handleThrown, parseCommandArgs, UsageError, writeJson, type CliIo, type Subcommand } from './command.js';

const usage = `Usage: peekwall certs init  [--dir certs] [--now ISO] [--force] [--json]
       peekwall certs check [--dir certs] [--warn-days 90] [--now ISO] [--json]
       peekwall certs renew [--dir certs] [--now ISO] [--json]

--dir defaults to ./certs when it holds a lab.yaml, else the certs/ shipped with peekwall.

The LAB-ONLY PKI (certs/, described by certs/lab.yaml): a lab root CA and the leaf
certificates the lab presents. Its private keys are public: never trust it outside the lab.

  init   generate every certificate and key lab.yaml lists, valid from lab.yaml's epoch
         (or --now); refuses to overwrite existing files without --force.
  check  days left and status of every certificate (seed 002's wording): a warning inside
         --warn-days, an error once expired. Certificates lab.yaml marks expectExpired
         (the shipped 'expired' one) are reported as expected-expired, not as errors.
         Exit 1 if any certificate is expired (unexpectedly), missing or not yet valid.
  renew  regenerate the CA(s) and re-issue every leaf from --now (default: now). Old files
         are copied to *.backup first; the new set is built in a temp directory and swapped
         in per trust tree, all or nothing: a file that cannot be written is reported and
         its whole tree keeps the old, still consistent, files. Exit 1 if anything failed.
`;

function parseNow(s: unknown): Date | undefined {
  if (s === undefined) return undefined;
  const d = new Date(String(s));
  if (Number.isNaN(d.getTime())) throw new UsageError(`--now: "${String(s)}" is not an ISO date`);
  return d;
}

function checkLine(e: CheckEntry): string {
  const tag = { ok: 'OK', warning: 'WARNING', expired: 'ERROR', 'expected-expired': 'EXPECTED', 'not-yet-valid': 'ERROR', missing: 'ERROR', unreadable: 'ERROR' }[e.status];
  const until = e.notAfter ? ` (notAfter ${e.notAfter})` : '';
  return `${tag.padEnd(8)} ${e.file}${until}\n         ${e.message}\n`;
}

const certs: Subcommand = {
  name: 'certs',
  summary: 'lab PKI (LAB-ONLY): init, check expiry, renew with backups',
  usage,
  async run(argv: string[], io: CliIo): Promise<number> {
    let json = argv.includes('--json');
    try {
      const args = parseCommandArgs(
        certs,
        argv,
        {
          dir: { type: 'string' },
          'warn-days': { type: 'string' },
          now: { type: 'string' },
          force: { type: 'boolean' },
          json: { type: 'boolean' },
        },
        io,
        true,
      );
      if (!args) return EXIT_OK;
      json = args.values.json === true;
      const [action, ...extra] = args.positionals;
      if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"`);
      // Default: ./certs when it holds a lab.yaml, else the lab PKI shipped with peekwall.
      const given = args.values.dir as string | undefined;
      const dir = given !== undefined ? resolve(io.cwd, given) : existsSync(resolve(io.cwd, 'certs', 'lab.yaml')) ? resolve(io.cwd, 'certs') : LAB_CERTS_DIR;
      const now = parseNow(args.values.now);
      if (action === 'init') {
        const r = await initLabPki(dir, { ...(now ? { now } : {}), force: args.values.force === true });
        if (!r.ok) throw new PeekwallFailure(r.error);
        if (json) writeJson(io, { dir, written: r.value.written });
        else io.stdout.write(`LAB-ONLY PKI written to ${dir}:\n${r.value.written.map((f) => `  ${f}\n`).join('')}`);
        return EXIT_OK;
      }
      if (action === 'check') {
        const wd = args.values['warn-days'];
        const warnDays = wd === undefined ? 90 : Number(wd);
        if (!Number.isInteger(warnDays) || warnDays < 0) throw new UsageError(`--warn-days: "${String(wd)}" is not a whole number of days`);
        const r = await checkLabPki(dir, { ...(now ? { now } : {}), warnDays });
        if (!r.ok) throw new PeekwallFailure(r.error);
        if (json) writeJson(io, { dir, ...r.value });
        else {
          io.stdout.write(`Lab PKI ${dir} at ${r.value.now} (warning window ${warnDays} days):\n`);
          for (const e of r.value.certificates) io.stdout.write(checkLine(e));
        }
        return r.value.problem ? EXIT_PROBLEM : EXIT_OK;
      }
      if (action === 'renew') {
        const r = await renewLabPki(dir, now ? { now } : {});
        if (!r.ok) throw new PeekwallFailure(r.error);
        const v = r.value;
        if (json) writeJson(io, { dir, ...v });
        else {
          for (const f of v.renewed) io.stdout.write(`renewed  ${f}\n`);
          for (const f of v.failed) io.stderr.write(`peekwall: could not write ${f.file}: ${f.reason}\n`);
          for (const t of v.heldTrees) io.stderr.write(`peekwall: kept the old ${t} tree unchanged (no half-renewed set)\n`);
          if (v.backups.length) io.stdout.write(`backups: ${v.backups.join(', ')}\n`);
        }
        return v.failed.length ? EXIT_PROBLEM : EXIT_OK;
      }
      throw new UsageError(action ? `unknown certs action "${action}" (init, check, renew)` : 'certs needs an action: init, check or renew');
    } catch (e) {
      return handleThrown(e, io, json);
    }
  },
};

export default certs;
