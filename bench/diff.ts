// `peekwall diff` speed and memory (issue 18): two generated policies written to a temp dir as
// a user has them (YAML, SI feeds, a URL database), then `peekwall diff OLD NEW --json` run in
// a child process as a user runs it: wall time and peak RSS of that process, and inside it the
// time to load both policies and the time of the analysis itself.
//
//   node dist/bench/diff.js [--rules N] [--si N] [--edits N] [--json] [--write-only DIR]
//
// Targets: 1,000 rules and 100,000 SI entries per policy <= 10 s and <= 1 GB; 50 rules <= 0.5 s.
// Without options it runs both sizes. Deterministic (seeded); the temp dir is removed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type Rng = () => number;

function rng(seed: number): Rng {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const int = (r: Rng, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

const CATEGORIES = ['Games', 'News', 'Malware Sites', 'Computers and Internet', 'Business and Economy', 'Adult', 'Gambling', 'Social Networking', 'Streaming Media'];
const REPUTATIONS = ['Untrusted', 'Questionable', 'Neutral', 'Favorable', 'Trusted'];
const TLDS = ['com', 'net', 'org', 'io', 'info', 'de', 'xyz'];

function cidr(r: Rng, lengths: readonly number[]): string {
  if (r() < 0.05) return `2001:db8:${int(r, 0, 0xffff).toString(16)}::/${pick(r, [48, 64])}`;
  return `${int(r, 1, 223)}.${int(r, 0, 255)}.${int(r, 0, 255)}.${int(r, 0, 255)}/${pick(r, lengths)}`;
}

function domain(r: Rng, i: number): string {
  const label = ((i * 2654435761) >>> 0).toString(36);
  return r() < 0.2 ? `cdn${i % 13}.${label}.${pick(r, TLDS)}` : `${label}.${pick(r, TLDS)}`;
}

interface Shape {
  readonly rules: number;
  readonly si: number;
  readonly edits: number;
}

/** Two policies and their feeds in `dir`: NEW is OLD with `edits` rule edits and 1% of the SI entries changed. */
function writePair(dir: string, o: Shape): { old: string; new: string } {
  const r = rng(18);
  const nets = Array.from({ length: Math.max(20, Math.floor(o.rules / 5)) }, () => Array.from({ length: int(r, 1, 3) }, () => cidr(r, [8, 16, 20, 24, 28, 32])));
  const urls = Array.from({ length: Math.max(10, Math.floor(o.rules / 20)) }, (_, i) => Array.from({ length: int(r, 1, 5) }, (_, k) => domain(r, 1_000_000 + i * 10 + k)));
  const siNet = Math.floor(o.si * 0.3);
  const siUrl = o.si - siNet;
  const netFeed = Array.from({ length: siNet }, () => cidr(r, [24, 28, 32, 32]));
  const urlFeed = Array.from({ length: siUrl }, (_, i) => domain(r, i));
  const urlDb = Array.from({ length: Math.min(20_000, siUrl) }, (_, i) => `${domain(r, 2_000_000 + i)},${int(r, 0, 5)},${pick(r, CATEGORIES)}`);
  const rule = (name: string): string[] => {
    const lines = [`  - name: ${name}`, `    action: ${pick(r, ['Allow', 'Allow', 'Allow', 'Trust', 'Block', 'Block with reset', 'Monitor'])}`];
    let conds = 0;
    if (r() < 0.7) (lines.push(`    sourceNetworks: [NET_${int(r, 0, nets.length - 1)}]`), conds++);
    if (r() < 0.6) (lines.push(`    destinationNetworks: [NET_${int(r, 0, nets.length - 1)}]`), conds++);
    if (r() < 0.5) (lines.push(`    destinationPorts: [${pick(r, ['443', '80, 443', '8080', '22', '1-1024', '8443'])}]`), conds++);
    if (r() < 0.1) (lines.push(`    applications: [APP_${int(r, 0, 4)}]`), conds++);
    if (r() < 0.4) {
      lines.push('    urls:');
      if (r() < 0.6) lines.push(`      objects: [URL_${int(r, 0, urls.length - 1)}]`);
      else lines.push(`      categories: [{category: ${pick(r, CATEGORIES)}, reputation: ${pick(r, REPUTATIONS)}}]`);
      conds++;
    }
    if (conds === 0) lines.push(`    sourceNetworks: [NET_${int(r, 0, nets.length - 1)}]`);
    return lines;
  };
  const rulesOld = Array.from({ length: o.rules }, (_, i) => rule(`R${i}`));
  const rulesNew = rulesOld.map((x) => [...x]);
  for (let e = 0; e < o.edits; e++) {
    const i = int(r, 0, rulesNew.length - 1);
    const x = r();
    if (x < 0.4) rulesNew[i][1] = `    action: ${pick(r, ['Allow', 'Trust', 'Block', 'Block with reset'])}`;
    else if (x < 0.6) rulesNew.splice(i, 1);
    else if (x < 0.8) rulesNew.splice(i, 0, rule(`N${e}`));
    else if (i + 1 < rulesNew.length) [rulesNew[i], rulesNew[i + 1]] = [rulesNew[i + 1], rulesNew[i]];
  }
  const changed = Math.max(1, Math.floor(o.si / 100));
  const netFeedNew = [...netFeed.slice(Math.floor(changed * 0.3)), ...Array.from({ length: Math.floor(changed * 0.3) }, () => cidr(r, [24, 32]))];
  const urlFeedNew = [...urlFeed.slice(changed - Math.floor(changed * 0.3)), ...Array.from({ length: changed - Math.floor(changed * 0.3) }, (_, i) => domain(r, 3_000_000 + i))];
  const policy = (name: string, rules: string[][], netF: string, urlF: string) =>
    [
      `name: ${name}`,
      'settings: {tsid: {enabled: true, profile: snort3-legacy}}',
      'objects:',
      '  networks:',
      ...nets.map((n, i) => `    NET_${i}: [${n.join(', ')}]`),
      '  ports: {WEB: [80, 443]}',
      '  urls:',
      ...urls.map((u, i) => `    URL_${i}: [${u.join(', ')}]`),
      '  applications:',
      ...Array.from({ length: 5 }, (_, i) => `    APP_${i}: [${domain(rng(i), 5_000_000 + i)}]`),
      'urlDatabase: urldb.csv',
      'securityIntelligence:',
      '  network:',
      `    - {name: SI-NET-BLOCK, action: block, feed: ${netF}}`,
      `    - {name: SI-NET-ALLOW, action: do-not-block, entries: [${netFeed.slice(0, 20).join(', ')}]}`,
      '  url:',
      `    - {name: SI-URL-BLOCK, action: block, feed: ${urlF}}`,
      `    - {name: SI-URL-ALLOW, action: do-not-block, entries: [${urlFeed.slice(0, 20).join(', ')}]}`,
      'rules:',
      ...rules.flat(),
      'defaultAction: Block all traffic',
      '',
    ].join('\n');
  writeFileSync(join(dir, 'net-old.txt'), netFeed.join('\n'));
  writeFileSync(join(dir, 'net-new.txt'), netFeedNew.join('\n'));
  writeFileSync(join(dir, 'url-old.txt'), urlFeed.join('\n'));
  writeFileSync(join(dir, 'url-new.txt'), urlFeedNew.join('\n'));
  writeFileSync(join(dir, 'urldb.csv'), urlDb.join('\n'));
  writeFileSync(join(dir, 'old.yaml'), policy('bench-old', rulesOld, 'net-old.txt', 'url-old.txt'));
  writeFileSync(join(dir, 'new.yaml'), policy('bench-new', rulesNew, 'net-new.txt', 'url-new.txt'));
  return { old: join(dir, 'old.yaml'), new: join(dir, 'new.yaml') };
}

interface Phases {
  readonly loadS: number;
  readonly diffS: number;
  readonly peakRssMiB: number;
  readonly changes: number;
  readonly complete: boolean;
  readonly stats: unknown;
}

interface CliRun {
  readonly wallS: number;
  /** CPU seconds of the process (user + system): steadier than wall time on a shared box. */
  readonly cpuS: number;
  readonly peakRssMiB: number;
  readonly exit: number;
  readonly outputBytes: number;
}

interface Figures {
  readonly rules: number;
  readonly siEntries: number;
  /** `peekwall diff OLD NEW` (text, the first 20 classes) as a user runs it. */
  readonly text: CliRun;
  /** `peekwall diff OLD NEW --json` (every class). */
  readonly json: CliRun;
  /** Inside one process: loading both policies, then the analysis (without printing). */
  readonly phases: Phases;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const src = pathToFileURL(join(here, '..', 'src')).href;

function child(script: string): string {
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', maxBuffer: 1 << 26 });
}

/** The CLI in its own process, stdout counted and dropped: wall time and peak RSS. */
function runCli(args: string[]): CliRun {
  const script = `
    const { main } = await import('${src}/cli/main.js');
    const { Writable, Readable } = await import('node:stream');
    let bytes = 0;
    const sink = new Writable({ write(c, _e, cb) { bytes += c.length; cb(); } });
    const exit = await main(${JSON.stringify(args)}, { stdout: sink, stderr: process.stderr, stdin: Readable.from([]), cwd: process.cwd(), env: process.env });
    const u = process.resourceUsage();
    process.stdout.write(JSON.stringify({ exit, outputBytes: bytes, cpuS: (u.userCPUTime + u.systemCPUTime) / 1e6, peakRssMiB: u.maxRSS / 1024 }));
  `;
  const start = performance.now();
  const out = JSON.parse(child(script));
  return { wallS: (performance.now() - start) / 1000, ...out };
}

function runPhases(old: string, neu: string): Phases {
  const script = `
    const t0 = performance.now();
    const { loadPolicyFile } = await import('${src}/sources/index.js');
    const { diffPolicies } = await import('${src}/policy/index.js');
    const a = await loadPolicyFile(${JSON.stringify(old)});
    const b = await loadPolicyFile(${JSON.stringify(neu)});
    if (!a.ok || !b.ok) throw new Error(JSON.stringify((a.error ?? b.error).slice(0, 3)));
    const t1 = performance.now();
    const r = diffPolicies(a.value, b.value);
    const t2 = performance.now();
    process.stdout.write(JSON.stringify({ loadS: (t1 - t0) / 1000, diffS: (t2 - t1) / 1000, peakRssMiB: process.resourceUsage().maxRSS / 1024, changes: r.changes.length, complete: r.complete, stats: r.stats }));
  `;
  return JSON.parse(child(script));
}

function main(): void {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  const num = (flag: string): number | null => {
    const i = argv.indexOf(flag);
    return i >= 0 ? Number(argv[i + 1]) : null;
  };
  const shapes: Shape[] = num('--rules') !== null
    ? [{ rules: num('--rules')!, si: num('--si') ?? 100_000, edits: num('--edits') ?? 20 }]
    : [{ rules: 50, si: 100, edits: 5 }, { rules: 1000, si: 100_000, edits: 20 }];
  const keep = argv.indexOf('--write-only');
  if (keep >= 0) {
    // For profiling: write the pair of the first shape into a folder and stop.
    const files = writePair(argv[keep + 1], shapes[shapes.length - 1]);
    process.stdout.write(`${files.old}\n${files.new}\n`);
    return;
  }
  const results: Figures[] = [];
  for (const shape of shapes) {
    const dir = mkdtempSync(join(tmpdir(), 'peekwall-bench-diff-'));
    try {
      const files = writePair(dir, shape);
      results.push({
        rules: shape.rules,
        siEntries: shape.si,
        text: runCli(['diff', files.old, files.new]),
        json: runCli(['diff', files.old, files.new, '--json']),
        phases: runPhases(files.old, files.new),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  if (json) {
    process.stdout.write(`${JSON.stringify({ loadavg: loadavg(), results }, null, 2)}\n`);
    return;
  }
  for (const f of results) {
    const p = f.phases;
    const cli = (r: CliRun) => `${r.wallS.toFixed(2)} s wall, ${r.cpuS.toFixed(2)} s CPU, peak RSS ${r.peakRssMiB.toFixed(0)} MiB, ${(r.outputBytes / 1e3).toFixed(0)} kB out`;
    process.stdout.write(`${f.rules} rules, ${f.siEntries} SI entries per policy: ${p.changes} changed classes, complete ${p.complete}\n`);
    process.stdout.write(`  peekwall diff OLD NEW          ${cli(f.text)}\n`);
    process.stdout.write(`  peekwall diff OLD NEW --json   ${cli(f.json)}\n`);
    process.stdout.write(`  in one process: load both ${p.loadS.toFixed(2)} s, analysis ${p.diffS.toFixed(2)} s, peak RSS ${p.peakRssMiB.toFixed(0)} MiB\n`);
  }
  process.stdout.write(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
}

main();
