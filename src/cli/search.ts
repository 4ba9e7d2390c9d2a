// `peekwall search POLICY --action A [region]`: one flow of the region the policy decides with
// that action, or the proof that there is none. Exit 1 when a flow is found, 0 when none is,
// 2 on bad input.
import { resolve } from 'node:path';
import { ACTION_WORDS, parseDomainEntry, parseNetwork, reputationLevel, searchPolicy, type SearchQuery, type VerdictAction } from '../policy/index.js';
import { loadPolicyFile } from '../sources/index.js';
import { EXIT_OK, EXIT_PROBLEM, parseCommandArgs, reportErrors, UsageError, writeJson, type CliIo, type Subcommand } from './command.js';

const usage = `Usage: peekwall search POLICY --action A [options]

Find one flow in a region that POLICY decides with action A, or prove there is none: the
region is cut into classes by the boundaries the policy uses and walked whole.

  --action A         allow | trust | block (any Block kind) | reset | an FMC action name
                     ('Block with reset')
  --rule NAME        only flows this rule, SI list or 'Default Action' decides
  --src CIDR         client addresses (default any)
  --dst CIDR         server addresses (default any)
  --dport P          server port or range P-Q (default any)
  --name PATTERN     server name: example.com (and names under it), host.example.com/
                     (that name only), *.example.com
  --category C       URL category of the name (as the policy's URL database says)
  --reputation R     reputation of the name: 0-5 or Unknown, Untrusted, Questionable,
                     Neutral, Favorable, Trusted
  --tsid on|off      override the policy's TSID setting (which sources can name a server)
  --json             {found, complete, reasons, witness, verdict, matches, classes}

Exit status: 1 a flow was found, 0 there is none (a proof when complete), 2 bad input.
`;

function actionsOf(text: string): readonly VerdictAction[] {
  const w = ACTION_WORDS[text.toLowerCase()];
  if (w) return w;
  const exact = Object.values(ACTION_WORDS).flat().find((a) => a.toLowerCase() === text.toLowerCase());
  if (exact) return [exact];
  throw new UsageError(`--action must be allow, trust, block, reset or an FMC action name, not '${text}'`);
}

function ports(text: string): Int32Array {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  const lo = m ? Number(m[1]) : NaN;
  const hi = m && m[2] !== undefined ? Number(m[2]) : lo;
  if (!m || lo < 1 || hi > 65535 || lo > hi) throw new UsageError(`--dport must be a port 1-65535 or a range P-Q, not '${text}'`);
  return Int32Array.of(lo, hi);
}

function network(text: string, what: string): string {
  const iv = parseNetwork(text);
  if (typeof iv === 'string') throw new UsageError(`${what}: ${iv}`);
  return text;
}

function namePattern(text: string): string {
  const e = parseDomainEntry(text);
  if (typeof e === 'string') throw new UsageError(`--name: ${e}`);
  if (e.path !== null) throw new UsageError(`--name: '${text}' has a path; a TLS flow's name has none`);
  return text;
}

const search: Subcommand = {
  name: 'search',
  summary: 'one flow a policy decides with an action in a region, or the proof there is none',
  usage,
  async run(argv: string[], io: CliIo): Promise<number> {
    const opts = {
      action: { type: 'string' },
      rule: { type: 'string' },
      src: { type: 'string' },
      dst: { type: 'string' },
      dport: { type: 'string' },
      name: { type: 'string' },
      category: { type: 'string' },
      reputation: { type: 'string' },
      tsid: { type: 'string' },
      json: { type: 'boolean' },
    } as const;
    const args = parseCommandArgs(search, argv, opts, io, true);
    if (!args) return EXIT_OK;
    const v = args.values;
    if (args.positionals.length !== 1) throw new UsageError('search needs exactly one POLICY');
    if (v.action === undefined && v.rule === undefined) throw new UsageError('search needs --action (or --rule)');
    if (v.tsid !== undefined && v.tsid !== 'on' && v.tsid !== 'off') throw new UsageError(`--tsid must be on or off, not '${v.tsid}'`);
    let reputation: number | undefined;
    if (v.reputation !== undefined) {
      const r = reputationLevel(v.reputation);
      if (r === null) throw new UsageError(`--reputation must be 0-5 or a level name, not '${v.reputation}'`);
      reputation = r;
    }
    const q: SearchQuery = {
      actions: v.action !== undefined ? actionsOf(v.action) : Object.values(ACTION_WORDS).flat(),
      ...(v.rule !== undefined ? { rule: v.rule } : {}),
      ...(v.src !== undefined ? { src: network(v.src, '--src') } : {}),
      ...(v.dst !== undefined ? { dst: network(v.dst, '--dst') } : {}),
      ...(v.dport !== undefined ? { ports: ports(v.dport) } : {}),
      ...(v.name !== undefined ? { name: namePattern(v.name) } : {}),
      ...(v.category !== undefined ? { category: v.category } : {}),
      ...(reputation !== undefined ? { reputation } : {}),
      ...(v.tsid !== undefined ? { tsid: v.tsid === 'on' } : {}),
    };
    const file = args.positionals[0];
    const loaded = await loadPolicyFile(resolve(io.cwd, file));
    if (!loaded.ok) return reportErrors(io, loaded.error, v.json === true);
    const r = searchPolicy(loaded.value, q);
    if (v.json) {
      writeJson(io, r);
      return r.found ? EXIT_PROBLEM : EXIT_OK;
    }
    const w = (s: string) => io.stdout.write(`${s}\n`);
    const what = v.rule !== undefined ? `decided by ${v.rule}` : `decided ${v.action}`;
    if (r.found && r.witness && r.verdict) {
      const x = r.witness;
      const dst = x.dst.includes(':') ? `[${x.dst}]` : x.dst;
      w(`found: ${x.src} -> ${dst}:${x.dport}, name ${x.name} (from ${x.nameSources.join(', ')}), ${x.category}, reputation ${x.reputation}`);
      w(`  ${r.verdict.action} by ${r.verdict.rule}`);
      w(`  ${r.matches.reduce((n, m) => n + m.classes, 0)} of ${r.classes} classes of the region are ${what}: ${r.matches.map((m) => `${m.rule} (${m.action}, ${m.classes})`).join(', ')}`);
    } else if (r.complete && r.classes === 0) {
      w('none: the region holds no flow at all (no address, port or name matches every option given; complete: true)');
    } else if (r.complete) {
      w(`none: no flow of the region is ${what} — every one of its ${r.classes} classes was walked (complete: true)`);
    } else {
      w(`none found among the ${r.classes} classes walked, but the walk is not a proof (complete: false):`);
    }
    if (!r.complete) for (const reason of r.reasons) w(`  ${reason}`);
    return r.found ? EXIT_PROBLEM : EXIT_OK;
  },
};

export default search;
