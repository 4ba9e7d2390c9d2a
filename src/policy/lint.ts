// Rule analysis (FMC "rule conflicts") and hygiene checks over a compiled policy.
import { asCompiled, type CompiledRule } from './load.js';
import type { LintFinding, Policy } from './types.js';

export function lintPolicy(policy: Policy): LintFinding[] {
  const p = asCompiled(policy);
  const out: LintFinding[] = [];
  const at = (r: CompiledRule) => ({ rule: r.name, file: r.file, line: r.line, column: r.column });
  for (const r of p.rules) if (!r.enabled) out.push({ severity: 'warning', code: 'lint/disabled-rule', message: `rule '${r.name}' is disabled`, ...at(r) });
  return out;
}
