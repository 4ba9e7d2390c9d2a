// The honesty check of `peekwall diff` at full size (issue 18): 10 generated policy pairs, 100,000
// random flows each drawn from their boundaries — 1,000,000 flows evaluated with evaluate()
// under both policies, each placed by the analysis and checked — then 4 pairs whose TSID
// settings differ, 50,000 connections each named by resolveIdentity under both policies
// (test/policy/analysis/crosscheck.test.ts runs the same checks at CI size).
//
//   node dist/bench/diff-crosscheck.js [--pairs N] [--flows N] [--tsid-pairs N] [--connections N] [--json]
//
// Exit 1 when any flow or witness disagrees.
import { loadavg } from 'node:os';
import { crossCheck, crossCheckTsid } from '../test/policy/analysis/helpers/crosscheck.js';

function main(): number {
  const argv = process.argv.slice(2);
  const num = (flag: string, dflt: number): number => {
    const i = argv.indexOf(flag);
    return i >= 0 ? Number(argv[i + 1]) : dflt;
  };
  const pairs = num('--pairs', 10);
  const flows = num('--flows', 100_000);
  const tsidPairs = num('--tsid-pairs', 4);
  const connections = num('--connections', 50_000);
  const start = performance.now();
  const rows = [];
  let total = 0;
  let problems = 0;
  const runs = [
    ...Array.from({ length: pairs }, (_, i) => ({ seed: i + 1, tsid: false, flows })),
    ...Array.from({ length: tsidPairs }, (_, i) => ({ seed: 101 + i, tsid: true, flows: connections })),
  ];
  for (const { seed, tsid, flows: n } of runs) {
    const rules = (tsid ? 200 : 300) + 50 * (seed % 5);
    const edits = 20 + 5 * (seed % 4);
    const t0 = performance.now();
    const r = (tsid ? crossCheckTsid : crossCheck)(seed, rules, edits, n);
    total += r.flows;
    problems += r.problems.length;
    rows.push({ seed, tsid, rules, edits, flows: r.flows, differing: r.differing, changes: r.changes, complete: r.complete, problems: r.problems, seconds: (performance.now() - t0) / 1000 });
  }
  const seconds = (performance.now() - start) / 1000;
  if (argv.includes('--json')) process.stdout.write(`${JSON.stringify({ total, problems, seconds, loadavg: loadavg(), rows }, null, 2)}\n`);
  else {
    for (const r of rows) process.stdout.write(`seed ${r.seed}: ${r.rules} rules, ${r.edits} edits, ${r.flows} ${r.tsid ? 'connections (TSID settings differ)' : 'flows'}, ${r.differing} differ, ${r.changes} changed classes, complete ${r.complete}, ${r.problems.length} problems, ${r.seconds.toFixed(1)} s\n`);
    for (const r of rows) for (const p of r.problems) process.stdout.write(`  seed ${r.seed}: ${p}\n`);
    process.stdout.write(`${total} flows and connections, ${problems} problems, ${seconds.toFixed(1)} s (load average ${loadavg().map((x) => x.toFixed(2)).join(' ')})\n`);
  }
  return problems === 0 ? 0 : 1;
}

process.exitCode = main();
