// Exact rule reachability for lint: every flow of the space walked with every rule it meets.
// A rule is shadowed exactly when no flow reaches it (naming what takes its flows: earlier
// rules, SI lists, prefilter rules), redundant when removing it changes no flow's verdict
// (action and logging), and matches nothing when no flow meets all its conditions. Names the
// URL database does not list may have any category and reputation here (Talos knows more
// names than a local stand-in), so a category rule is never called dead for want of names.
import { asCompiled, type CompiledPolicy, type CompiledRule } from '../compiled.js';
import type { LintFinding, Policy, Verdict } from '../types.js';
import { Analysis } from './engine.js';
import type { Outcome } from './model.js';

export interface ExactLint {
  /** Findings per rule index (shadowed, redundant, matches nothing). */
  readonly byRule: ReadonlyMap<number, LintFinding>;
}

const LOG_BEGIN: Verdict['log'] = { beginning: true, end: false };
const LOG_END: Verdict['log'] = { beginning: false, end: true };

/** Bound on lint's walk: beyond it lint falls back to comparing rules pairwise, and says so. */
export const LINT_MAX_WORK = 50_000_000;

/** Exact findings, or why there are none (the model leaves something out, or the bound). */
export function exactRuleLint(policy: Policy, skip: ReadonlySet<number>, maxWork = LINT_MAX_WORK): ExactLint | { readonly skipped: string } {
  const p = asCompiled(policy);
  const a = new Analysis([p], { keepAllRules: true, unlistedAnyCategory: true, maxWork });
  if (a.limits.reasons.length > 0) return { skipped: a.limits.reasons[0] };
  const n = p.rules.length;
  const decides = new Uint8Array(n);
  const meets = new Uint8Array(n);
  const sameWithout = new Uint8Array(n).fill(1);
  const takers = new Map<number, Set<number>>();
  const successors = new Map<number, Set<number>>();
  const add = (m: Map<number, Set<number>>, r: number, o: number) => {
    let s = m.get(r);
    if (!s) m.set(r, (s = new Set()));
    s.add(o);
  };
  const v = a.views[0];
  const logOf = logs(p, a.outcomes.list);
  const walked = a.walkRules((_st, _sig, _via, before, rules) => {
    if (before >= 0) {
      for (const r of rules) {
        meets[r] = 1;
        add(takers, r, before);
      }
      return;
    }
    if (rules.length === 0) return;
    const d = rules[0];
    decides[d] = 1;
    meets[d] = 1;
    const next = rules.length > 1 ? v.ruleOutcome[rules[1]] : v.defaultOutcome;
    if (!sameVerdict(a.outcomes.list[v.ruleOutcome[d]], logOf(v.ruleOutcome[d]), a.outcomes.list[next], logOf(next))) sameWithout[d] = 0;
    else add(successors, d, next);
    for (let k = 1; k < rules.length; k++) {
      meets[rules[k]] = 1;
      add(takers, rules[k], v.ruleOutcome[d]);
    }
  });
  if (!walked) return { skipped: a.limits.reasons[0] ?? 'the exact analysis stopped at its bound' };
  const byRule = new Map<number, LintFinding>();
  const at = (r: CompiledRule) => ({ rule: r.name, file: r.file, line: r.line, column: r.column });
  const name = (o: number) => {
    const x = a.outcomes.list[o];
    return x.by === 'rule' ? `'${x.rule}' (${x.action})` : x.by === 'security-intelligence' ? `SI list '${x.rule}'` : x.by === 'prefilter' ? `prefilter rule '${x.rule}'` : `the default action (${x.action})`;
  };
  // In evaluation order: prefilter, SI, rules top-down, the default action.
  const ruleIndex = new Map(p.rules.map((r, i) => [r.name, i]));
  const order = (o: number) => {
    const x = a.outcomes.list[o];
    return x.by === 'prefilter' ? -2 : x.by === 'security-intelligence' ? -1 : x.by === 'rule' ? ruleIndex.get(x.rule)! : Infinity;
  };
  const names = (os: Iterable<number>) => {
    const all = [...os].sort((x, y) => order(x) - order(y)).map(name);
    return all.length <= 4 ? all.join(', ') : `${all.slice(0, 4).join(', ')} and ${all.length - 4} more`;
  };
  p.rules.forEach((r, i) => {
    if (!r.enabled || r.action === 'Monitor' || skip.has(i)) return;
    const own = v.ruleOutcome[i];
    if (!meets[i]) {
      byRule.set(i, { severity: 'warning', code: 'lint/matches-nothing', message: `rule '${r.name}' matches no flow: no source, destination, port and name meet all its conditions`, ...at(r) });
    } else if (!decides[i]) {
      const t = takers.get(i) ?? new Set<number>();
      const same = [...t].every((o) => sameVerdict(a.outcomes.list[own], logOf(own), a.outcomes.list[o], logOf(o)));
      byRule.set(
        i,
        same
          ? { severity: 'warning', code: 'lint/redundant-rule', message: `rule '${r.name}' is redundant: it decides no flow; ${names(t)} (same action ${r.action}) takes every flow it would`, ...at(r) }
          : { severity: 'error', code: 'lint/shadowed-rule', message: `rule '${r.name}' (${r.action}) is shadowed and can never match: its flows are taken by ${names(t)}`, ...at(r) },
      );
    } else if (sameWithout[i]) {
      byRule.set(i, { severity: 'warning', code: 'lint/redundant-rule', message: `rule '${r.name}' is redundant: without it every flow it decides gets the same action (${r.action}) and logging from ${names(successors.get(i) ?? [])}`, ...at(r) });
    }
  });
  return { byRule };
}

/** The logging each outcome asks for: a rule's own, SI and prefilter at the beginning, the default action's. */
function logs(p: CompiledPolicy, outcomes: readonly Outcome[]): (o: number) => Verdict['log'] {
  const byName = new Map(p.rules.map((r) => [r.name, r.log]));
  return (o) => {
    const x = outcomes[o];
    if (x.by === 'rule') return byName.get(x.rule) ?? LOG_BEGIN;
    if (x.by === 'default-action') return x.action === 'Block' ? LOG_BEGIN : LOG_END;
    return LOG_BEGIN;
  };
}

function sameVerdict(a: Outcome, la: Verdict['log'], b: Outcome, lb: Verdict['log']): boolean {
  return a.action === b.action && la.beginning === lb.beginning && la.end === lb.end;
}
