// `peekwall diff OLD NEW`: every class of flows whose verdict (action or deciding rule) differs
// between two policies, each with a witness flow, biggest first, and whether the whole flow
// space was covered. Exit 0 no change, 1 changes found, 2 bad input.
import { resolve } from 'node:path';
import { diffPolicies, type DiffChange, type DiffReport, type Policy } from '../policy/index.js';
import { loadPolicyFile } from '../sources/index.js';
import { EXIT_OK, EXIT_PROBLEM, parseCommandArgs, reportErrors, UsageError, writeJson, type CliIo, type Subcommand } from './command.js';

const usage = `Usage: peekwall diff OLD NEW [--json] [--limit N]

Compare two policies (YAML or FMC bundles) over every flow: source and destination address,
destination port, the server name (or none) and the URL category and reputation the URL
database gives it. Each dimension is cut by the boundaries the two policies use, so the space
is finite and walked whole; every class of flows whose action or deciding rule (rule, SI list,
prefilter rule, default action) differs is printed with a witness flow, the broadest first.

Options:
  --json       {complete, reasons, total, changes: [{witness, old, new, space}]}
  --limit N    print at most N classes (default 20; with --json, all)

'complete: true' means the whole space was covered; otherwise the reasons say what the model
leaves out (path entries, legacy substring URL matching, TSID settings that differ, a bound).
Exit status: 0 no change, 1 changes found, 2 bad input.
`;

async function load(file: string, io: CliIo): Promise<Policy | number> {
  const r = await loadPolicyFile(resolve(io.cwd, file));
  return r.ok ? r.value : r.error.length > 0 ? reportErrors(io, r.error, false) : 2;
}

function outcomeText(o: DiffChange['old']): string {
  switch (o.by) {
    case 'security-intelligence':
      return `${o.action} (SI list ${o.rule})`;
    case 'prefilter':
      return `${o.action} (prefilter rule ${o.rule})`;
    case 'default-action':
      return `${o.action} (Default Action)`;
    default:
      return `${o.action} (rule ${o.rule})`;
  }
}

/** Address/port regions printed per class; --json has them all. */
const PRODUCTS_SHOWN = 4;

function printText(io: CliIo, oldFile: string, newFile: string, r: DiffReport, limit: number): void {
  const w = (s: string) => io.stdout.write(`${s}\n`);
  const n = r.changes.length;
  w(`peekwall diff ${oldFile} -> ${newFile}`);
  if (n === 0) w('no flow changes verdict');
  else w(`${n} class${n === 1 ? '' : 'es'} of flows change verdict${n > limit ? ` (the first ${limit} shown; --limit N)` : ''}, broadest first:`);
  let group = '';
  r.changes.slice(0, limit).forEach((c, i) => {
    const g = `${outcomeText(c.old)} -> ${outcomeText(c.new)}`;
    if (g !== group) {
      group = g;
      const count = r.changes.filter((x) => `${outcomeText(x.old)} -> ${outcomeText(x.new)}` === g).length;
      w('');
      w(`${g}: ${count} class${count === 1 ? '' : 'es'}`);
    }
    const sp = c.space;
    const wt = c.witness;
    const sources = sp.nameSources.old.join(', ') === sp.nameSources.new.join(', ') ? sp.nameSources.old.join(', ') : `old ${sp.nameSources.old.join(', ')}; new ${sp.nameSources.new.join(', ')}`;
    w(`  ${i + 1}. name ${sp.names.join(' | ')}`);
    const shown = sp.products.slice(0, PRODUCTS_SHOWN);
    for (const p of shown) w(`     src ${p.summary.src} · dst ${p.summary.dst} · port ${p.summary.dport}`);
    if (sp.products.length > shown.length) w(`     ... and ${sp.products.length - shown.length} more address/port regions (--json lists them)`);
    const dst = wt.dst.includes(':') ? `[${wt.dst}]` : wt.dst;
    if (wt.connection) {
      // The TSID settings differ: one connection, a name per policy.
      const z = wt.connection.certificate;
      const cert = `certificate CN ${z.cn ?? '-'}, SANs ${z.sans.join(' ') || '-'}, OU ${z.ou ?? '-'}`;
      w(`     e.g. ${wt.src} -> ${dst}:${wt.dport}, SNI ${wt.connection.sni ?? '-'}, ${cert}, ${wt.connection.tls}:`);
      w(`          old names it ${wt.name} (${wt.nameSource}), new ${wt.newName} (${wt.newNameSource})`);
    } else w(`     e.g. ${wt.src} -> ${dst}:${wt.dport}, name ${wt.name} (from ${sources}), ${wt.category}, reputation ${wt.reputation}`);
  });
  w('');
  const s = r.stats;
  if (r.complete) w(`complete: true — every flow was covered (${s.addressClasses} address classes, ${s.portClasses} port classes, ${s.nameClasses} name classes in ${s.nameGroups} groups, ${s.states} states)`);
  else {
    w('complete: false —');
    for (const reason of r.reasons) w(`  ${reason}`);
  }
}

const diff: Subcommand = {
  name: 'diff',
  summary: 'every class of flows two policies decide differently, with a witness flow each',
  usage,
  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseCommandArgs(diff, argv, { json: { type: 'boolean' }, limit: { type: 'string' } }, io, true);
    if (!args) return EXIT_OK;
    const json = args.values.json === true;
    if (args.positionals.length !== 2) throw new UsageError('diff needs two policies: OLD NEW');
    let limit = json ? Infinity : 20;
    if (args.values.limit !== undefined) {
      const t = args.values.limit as string;
      if (!/^\d{1,9}$/.test(t)) throw new UsageError(`--limit must be a number, not '${t}'`);
      limit = Number(t);
    }
    const [oldFile, newFile] = args.positionals;
    const oldP = await load(oldFile, io);
    if (typeof oldP === 'number') return oldP;
    const newP = await load(newFile, io);
    if (typeof newP === 'number') return newP;
    const r = diffPolicies(oldP, newP);
    if (json) {
      const changes = r.changes.slice(0, limit).map((c) => ({ witness: c.witness, old: c.old, new: c.new, space: c.space }));
      writeJson(io, { complete: r.complete, reasons: r.reasons, total: r.changes.length, changes, stats: r.stats });
    } else printText(io, oldFile, newFile, r, limit);
    return r.changes.length > 0 ? EXIT_PROBLEM : EXIT_OK;
  },
};

export default diff;
