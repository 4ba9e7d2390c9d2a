// Rule coverage: like code coverage, for a policy. A rule is reached when it decided a case or
// monitored it on the way (Verdict.rulesMatched); an SI list is hit when it matched a case,
// whatever its action (Verdict.siMatched). Disabled rules cannot be reached by any flow, so
// they are listed apart and not counted against the suite.
import type { Policy } from '../policy/index.js';
import type { PolicyCoverage } from './types.js';

export function computeCoverage(
  policy: Pick<Policy, 'file' | 'rules' | 'siLists'>,
  results: Iterable<{ readonly rulesMatched: readonly string[]; readonly siMatched: readonly string[] }>,
): PolicyCoverage {
  const reachedSet = new Set<string>();
  const hitSet = new Set<string>();
  for (const r of results) {
    for (const n of r.rulesMatched) reachedSet.add(n);
    for (const n of r.siMatched) hitSet.add(n);
  }
  const enabled = policy.rules.filter((r) => r.enabled);
  const reached = enabled.filter((r) => reachedSet.has(r.name)).map((r) => r.name);
  const unreached = enabled.filter((r) => !reachedSet.has(r.name)).map((r) => r.name);
  const hit = policy.siLists.filter((l) => hitSet.has(l.name)).map((l) => l.name);
  const unhit = policy.siLists.filter((l) => !hitSet.has(l.name)).map((l) => l.name);
  const total = enabled.length + policy.siLists.length;
  const percent = total === 0 ? 100 : ((reached.length + hit.length) * 100) / total;
  return {
    policy: policy.file,
    rules: { total: enabled.length, reached, unreached },
    siLists: { total: policy.siLists.length, hit, unhit },
    disabledRules: policy.rules.filter((r) => !r.enabled).map((r) => r.name),
    percent: Math.round(percent * 10) / 10,
  };
}
