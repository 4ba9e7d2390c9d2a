// Summarise a V8 .cpuprofile (from `node dist/bench/run.js --cpu-prof DIR`): where the busy
// time goes, with start-up (module loading) and idle time set apart so that what is left is
// the per-connection work. Prints self time and inclusive time per function.
//   node dist/bench/profile-top.js FILE.cpuprofile [--top N] [--match REGEX] [--from-ms T]
// --match lists the heaviest call chains through functions matching REGEX; --from-ms drops
// samples from the first T ms of the profile (e.g. a 1M-entry policy load before traffic).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const STARTUP = /Module\._load|loadESM|ModuleJob|compileSourceTextModule|runEntryPointWithESMLoader|run_main_module/;

export interface ProfileSummary {
  busyMs: number;
  startupMs: number;
  idleMs: number;
  self: [string, number][];
  inclusive: [string, number][];
  chains: [string, number][];
}

export function summarise(p: CpuProfile, match: RegExp | null, depth = 8, fromMs = 0): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  let elapsedUs = 0;
  for (let i = 0; i < p.samples.length; i++) {
    elapsedUs += p.timeDeltas[i] ?? 0;
    if (elapsedUs < fromMs * 1000) continue;
    selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const name = (n: ProfileNode): string => {
    const file = n.callFrame.url.split('/').slice(-2).join('/');
    return `${n.callFrame.functionName || '(anonymous)'} ${file}:${n.callFrame.lineNumber + 1}`;
  };
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  const chains = new Map<string, number>();
  let busy = 0;
  let startup = 0;
  let idle = 0;
  for (const n of p.nodes) {
    const us = selfUs.get(n.id) ?? 0;
    if (us === 0) continue;
    const chain: string[] = [];
    for (let cur: number | undefined = n.id, guard = 0; cur !== undefined && guard < 10_000; cur = parent.get(cur), guard++) {
      const node = byId.get(cur);
      if (node) chain.push(name(node));
    }
    if (chain[0].startsWith('(idle)')) {
      idle += us;
      continue;
    }
    if (chain.some((c) => STARTUP.test(c))) {
      startup += us;
      continue;
    }
    busy += us;
    self.set(chain[0], (self.get(chain[0]) ?? 0) + us);
    for (const c of new Set(chain)) incl.set(c, (incl.get(c) ?? 0) + us);
    if (match && chain.some((c) => match.test(c))) {
      const k = chain.slice(0, depth).join(' < ');
      chains.set(k, (chains.get(k) ?? 0) + us);
    }
  }
  const top = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / 1000]);
  return { busyMs: busy / 1000, startupMs: startup / 1000, idleMs: idle / 1000, self: top(self), inclusive: top(incl), chains: top(chains) };
}

function main(): number {
  const args = process.argv.slice(2);
  const file = args.find((a, i) => !a.startsWith('--') && (i === 0 || !['--top', '--match', '--from-ms'].includes(args[i - 1])));
  if (!file) {
    process.stderr.write('usage: node dist/bench/profile-top.js FILE.cpuprofile [--top N] [--match REGEX]\n');
    return 2;
  }
  const ti = args.indexOf('--top');
  const top = ti >= 0 ? Number(args[ti + 1]) || 30 : 30;
  const mi = args.indexOf('--match');
  const match = mi >= 0 && args[mi + 1] ? new RegExp(args[mi + 1]) : null;
  const fi = args.indexOf('--from-ms');
  const fromMs = fi >= 0 ? Number(args[fi + 1]) || 0 : 0;
  const s = summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, match, 8, fromMs);
  const pct = (v: number): string => `${((100 * v) / (s.busyMs || 1)).toFixed(1).padStart(5)}%`;
  const out: string[] = [`busy ${s.busyMs.toFixed(0)} ms (start-up ${s.startupMs.toFixed(0)} ms and idle ${s.idleMs.toFixed(0)} ms excluded)`, '--- self'];
  for (const [k, v] of s.self.slice(0, top)) out.push(`${v.toFixed(1).padStart(9)} ms ${pct(v)}  ${k}`);
  out.push('--- inclusive');
  for (const [k, v] of s.inclusive.slice(0, top)) out.push(`${v.toFixed(1).padStart(9)} ms ${pct(v)}  ${k}`);
  if (match) {
    out.push(`--- chains through /${match.source}/`);
    for (const [k, v] of s.chains.slice(0, top)) out.push(`${v.toFixed(1).padStart(9)} ms ${pct(v)}  ${k}`);
  }
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exit(main());
