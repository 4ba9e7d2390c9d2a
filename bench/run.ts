// `npm run bench`: peekwall vs direct (vs HAProxy / nginx with --peers), every path in
// interleaved rounds, medians and ratios in ONE run — the machine is shared and noisy, so
// absolute numbers move between runs; ratios measured side by side are the figure of merit.
//
// Processes: this one is the load generator (autocannon + a bounded TLS connection loop);
// the origin, each peekwall configuration and each peer run in their own processes so the
// CPU seconds of each can be read from /proc. Everything listens on 127.0.0.1, ephemeral
// ports, and is stopped before exit (also on SIGINT and on the global watchdog).
//
// The rooms: headline/options.ts (command line), headline/paths.ts (the paths and ratios),
// headline/stack.ts (the processes measured), headline/rounds.ts (warm-up and rounds),
// headline/results.ts (the results file, medians, ratios), headline/report.ts (the tables).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processTree, sample, selfCpuS } from './lib/procstat.js';
import { benchDir, repoRoot } from './lib/root.js';
import type { Running } from './lib/servers.js';
import { round } from './lib/stats.js';
import { WRK_HOST, wrkVersion } from './lib/wrk.js';
import { parseArgs, type BenchOptions } from './headline/options.js';
import { PATHS, UNIT } from './headline/paths.js';
import { renderTable, updateReadme } from './headline/report.js';
import { computeRatios, machine, medianOf, RESULTS_SCHEMA, round3, type BenchResults } from './headline/results.js';
import { runRounds, warmUp } from './headline/rounds.js';
import { BIG_POLICY_START_MS, startStack, targetsFor, type Stack } from './headline/stack.js';

function strip(o: BenchOptions): Omit<BenchOptions, 'outDir' | 'cpuProfDir'> {
  const { outDir: _a, cpuProfDir: _b, ...rest } = o;
  return rest;
}

function queryStats(r: Running): Promise<Record<string, number> | null> {
  return r.query ? r.query() : Promise.resolve(null);
}

/** Peak RSS, CPU seconds and the proxies' own counters, per process role, at the end. */
async function perRole(stack: Stack): Promise<Pick<BenchResults, 'peakRssMiB' | 'cpuTotalS' | 'proxyStats'>> {
  const peakRssMiB: Record<string, number> = {};
  const cpuTotalS: Record<string, number> = {};
  const proxyStats: Record<string, Record<string, number> | null> = {};
  const roles: [string, Running][] = [['upstream', stack.upstream], ...[...stack.proxies].map(([k, v]): [string, Running] => [`peekwall-${k}`, v]), ...[...stack.proxiesB].map(([k, v]): [string, Running] => [`peekwall-b-${k}`, v]), ...[...stack.peers]];
  for (const [role, r] of roles) {
    const s = sample(r.tree ? processTree(r.pid) : [r.pid]);
    peakRssMiB[role] = s.peakRssMiB;
    cpuTotalS[role] = round3(s.cpuS);
    if (role.startsWith('peekwall')) proxyStats[role] = await queryStats(r).catch(() => null);
  }
  peakRssMiB.loadgen = round(process.resourceUsage().maxRSS / 1024, 1) ?? 0;
  cpuTotalS.loadgen = round3(selfCpuS());
  return { peakRssMiB, cpuTotalS, proxyStats };
}

export async function runBench(o: BenchOptions, argv: string[], log: (s: string) => void): Promise<{ results: BenchResults; file: string }> {
  const t0 = Date.now();
  const loadavgStart = loadavg().map((x) => round(x, 2) ?? 0);
  const notes: string[] = [];
  const work = mkdtempSync(join(tmpdir(), 'peekwall-bench-'));
  const started: Running[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(started.splice(0).reverse().map((r) => r.stop().catch(() => undefined)));
  };
  const onSignal = (): void => {
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let selected = PATHS.filter((p) => (o.paths ? o.paths.includes(p.id) : !p.optional) || (o.wrk && p.loadgen === 'wrk'));
  if (selected.some((p) => p.loadgen === 'wrk')) {
    const wv = wrkVersion();
    if (wv === null) {
      notes.push('path 1w skipped: wrk is not installed (Debian: apt-get install wrk)');
      selected = selected.filter((p) => p.loadgen !== 'wrk');
    } else notes.push(`path 1w load generator: ${wv}, 1 thread, SNI "${WRK_HOST}"`);
  }
  // Watchdog: every run is bounded, but a wedged child must not hold the machine forever.
  const plannedS = selected.length * 5 * (o.rounds * o.durationS + o.warmupS) + 120 + BIG_POLICY_START_MS / 1000;
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: watchdog: over ${Math.round(plannedS * 2)} s, stopping everything\n`);
    void stopAll().finally(() => process.exit(3));
  }, plannedS * 2000);
  watchdog.unref();

  try {
    const { stack, facts } = await startStack(o, selected, work, started, notes, log);
    await warmUp(selected, stack, facts.sniName, o);
    const runs = await runRounds(selected, stack, facts.sniName, o, log);

    const medians = selected.flatMap((path) => targetsFor(path, stack).map((target) => medianOf(runs, path.id, target)));
    const ratios = computeRatios(runs, o.rounds);
    const roles = await perRole(stack);
    for (const m of medians) {
      if (m.rate === 0 || m.rate === null) notes.push(`path ${m.path} via ${m.target}: no successful operations (errors ${m.errors})`);
    }
    notes.push('absolute rates are noisy (shared 2-core machine, load generator on the same cores); compare ratios');

    const results: BenchResults = {
      schema: RESULTS_SCHEMA,
      date: new Date().toISOString(),
      command: `node ${relative(repoRoot, join(benchDir, 'run.js'))} ${argv.join(' ')}`.trim(),
      machine: { ...machine(), loadavgStart },
      options: { ...strip(o), cpuProf: o.cpuProfDir !== null },
      upstream: facts.upstream,
      peers: facts.peers,
      proxyConfigs: facts.proxyConfigs,
      paths: selected.map((p) => ({ id: p.id, key: p.key, title: p.title, kind: p.kind, unit: UNIT[p.kind], targets: targetsFor(p, stack) })),
      runs,
      medians,
      ratios,
      ...roles,
      notes,
      wallS: 0,
    };
    await stopAll();
    results.wallS = round((Date.now() - t0) / 1000, 1) ?? 0;
    results.machine.loadavgEnd = loadavg().map((x) => round(x, 2) ?? 0);
    mkdirSync(o.outDir, { recursive: true });
    const file = join(o.outDir, `${results.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
    writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
    return { results, file };
  } finally {
    clearTimeout(watchdog);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await stopAll();
    rmSync(work, { recursive: true, force: true });
  }
}

async function cli(): Promise<number> {
  const argv = process.argv.slice(2);
  const o = parseArgs(argv);
  if (typeof o === 'string') {
    const help = argv.includes('--help') || argv.includes('-h');
    (help ? process.stdout : process.stderr).write(o + '\n');
    return help ? 0 : 2;
  }
  const { results, file } = await runBench(o, argv, (s) => process.stderr.write(s + '\n'));
  process.stdout.write(renderTable(results) + '\n');
  for (const n of results.notes) process.stdout.write(`note: ${n}\n`);
  process.stdout.write(`results: ${file}\n`);
  if (o.readme) updateReadme(join(repoRoot, 'bench', 'README.md'), results, file);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  cli().then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
