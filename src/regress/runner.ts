// Running loaded suites: offline through the pure core, then (optionally) live, then counts and
// coverage. The live part is injected so this module stays free of sockets.
import { computeCoverage } from './coverage.js';
import type { LoadedSuite } from './load.js';
import { diffActual, runCase } from './run.js';
import type { ActualVerdict, CaseResult, PolicyCoverage, ResolvedCase, RunReport } from './types.js';

/** Runs one case live and answers the verdict the proxy logged, or an error text. */
export type LiveCaseRunner = (
  suite: LoadedSuite,
  c: ResolvedCase,
) => Promise<{ actual: ActualVerdict } | { error: string } | { skipped: string }>;

function runOffline(suites: readonly LoadedSuite[]): CaseResult[][] {
  return suites.map((s) =>
    s.cases.map((c) => {
      const t0 = performance.now();
      const r = runCase(c.compiled, s.spec.file, c);
      return { ...r, timeMs: performance.now() - t0 };
    }),
  );
}

export async function runSuites(suites: readonly LoadedSuite[], o: { live?: LiveCaseRunner } = {}): Promise<RunReport> {
  const startedAt = new Date().toISOString();
  const offline = runOffline(suites);
  const results: CaseResult[][] = [];
  for (let i = 0; i < suites.length; i++) {
    const s = suites[i];
    const out: CaseResult[] = [];
    for (let j = 0; j < s.cases.length; j++) {
      let r = offline[i][j];
      if (!o.live) {
        out.push(r);
        continue;
      }
      const t0 = performance.now();
      const l = await o.live(s, s.cases[j]);
      r = { ...r, timeMs: (r.timeMs ?? 0) + (performance.now() - t0) };
      if ('skipped' in l) {
        // Not reproducible live (e.g. a pinned identity): the offline result stands, said so.
        out.push({ ...r, live: { actual: null, diffs: [], skipped: l.skipped } });
        continue;
      }
      if ('error' in l) {
        out.push({ ...r, status: r.status === 'pass' ? 'live-error' : r.status, live: { actual: null, diffs: [], error: l.error } });
        continue;
      }
      const diffs = diffActual(r.actual, l.actual);
      // An expectation failure stays 'fail'; the live disagreement is still reported with it.
      const status = r.status !== 'pass' ? r.status : diffs.length > 0 ? 'live-mismatch' : 'pass';
      out.push({ ...r, status, live: { actual: l.actual, diffs } });
    }
    results.push(out);
  }
  return { ...buildReport(suites, results, Boolean(o.live)), startedAt };
}

function buildReport(suites: readonly LoadedSuite[], results: readonly (readonly CaseResult[])[], live: boolean): RunReport {
  const all = results.flat();
  // Coverage is per policy file: every case that ran under it, whichever suite it is in.
  const byPolicy = new Map<string, { policy: ResolvedCase['compiled']; results: CaseResult[] }>();
  suites.forEach((s, i) => {
    s.cases.forEach((c, j) => {
      const g = byPolicy.get(c.policyPath) ?? { policy: c.compiled, results: [] };
      g.results.push(results[i][j]);
      byPolicy.set(c.policyPath, g);
    });
  });
  const coverage: PolicyCoverage[] = [...byPolicy.values()].map((g) => computeCoverage(g.policy, g.results));
  return {
    suites: suites.map((s, i) => ({ file: s.spec.file, policy: s.spec.policy, cases: [...results[i]] })),
    counts: {
      total: all.length,
      passed: all.filter((r) => r.status === 'pass').length,
      failed: all.filter((r) => r.status === 'fail').length,
      liveMismatch: all.filter((r) => r.status === 'live-mismatch').length,
      liveError: all.filter((r) => r.status === 'live-error').length,
      liveSkipped: all.filter((r) => r.live?.skipped !== undefined).length,
    },
    coverage,
    live,
  };
}
