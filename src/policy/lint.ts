// Rule analysis (FMC "rule conflicts") and hygiene checks over a compiled policy. Loading
// already rejects unknown objects and invalid entries (errors with file:line:column); lint
// adds what a valid policy can still get wrong:
//   shadowed rule    no flow can reach it: earlier rules, SI lists or prefilter rules with
//                    another verdict take all its flows (error);
//   redundant rule   removing it changes no flow's verdict (action and logging) (warning);
//   matches nothing  no flow meets all its conditions (warning);
//                    all three exact (analysis/shadow.ts: the whole flow space walked); past
//                    the analysis's bound, or with what its model leaves out, an earlier rule
//                    that covers a later one alone is found by pairwise comparison, and lint
//                    says it fell back;
//   after catch-all  every rule below an enabled rule without conditions (error);
//   object overlap   two entries of one condition share addresses (warning, from loading);
//   unused objects, disabled rules, empty SI lists, Interactive Block on HTTPS-only rules.
import type { DomainSet } from './domains.js';
import { asCompiled, type CompiledRule } from './compiled.js';
import { exactRuleLint } from './analysis/shadow.js';
import type { LintFinding, Policy } from './types.js';

function netsCover(a: CompiledRule['src'], b: CompiledRule['src']): boolean {
  if (a === null) return true;
  if (b === null) return false;
  return a.covers(b);
}

function portsCover(a: Int32Array | null, b: Int32Array | null): boolean {
  if (a === null) return true;
  if (b === null) return false;
  for (let j = 0; j < b.length; j += 2) {
    let ok = false;
    for (let i = 0; i < a.length; i += 2) if (a[i] <= b[j] && a[i + 1] >= b[j + 1]) ok = true;
    if (!ok) return false;
  }
  return true;
}

function appsCover(a: ReadonlySet<number> | null, b: ReadonlySet<number> | null): boolean {
  if (a === null) return true;
  if (b === null) return false;
  for (const x of b) if (!a.has(x)) return false;
  return true;
}

/**
 * URL conditions are compared conservatively: `a` covers `b` when `a` has none, or when
 * every host entry of `b` is matched by `a`'s host entries and `b` has no substring or
 * category parts that `a` lacks. Anything undecidable counts as "not covered" (no false
 * shadow reports).
 */
function urlCover(a: CompiledRule['url'], b: CompiledRule['url']): boolean {
  if (a === null) return true;
  if (b === null) return false;
  for (const s of b.substrings) if (!a.substrings.includes(s)) return false;
  for (const c of b.categories) if (!a.categories.some((x) => (x.category === c.category || x.category === 'Any') && (x.levels & c.levels) === c.levels)) return false;
  for (const h of b.hostEntries) {
    if (h.includes('*')) return false;
    if (!a.hosts || (a.hosts as DomainSet).first(h, null) === null) return false;
  }
  return true;
}

function isCatchAll(r: CompiledRule): boolean {
  return r.src === null && r.dst === null && r.ports === null && r.apps === null && r.url === null;
}

export function lintPolicy(policy: Policy): LintFinding[] {
  const p = asCompiled(policy);
  const out: LintFinding[] = [];
  const at = (r: CompiledRule) => ({ rule: r.name, file: r.file, line: r.line, column: r.column });
  for (const w of p.warnings) {
    out.push({ severity: 'warning', code: w.code, message: w.message, ...(w.file ? { file: w.file } : {}), ...(w.line ? { line: w.line, column: w.column } : {}) });
  }
  const enabled = p.rules.filter((r) => r.enabled);
  for (const r of p.rules) if (!r.enabled) out.push({ severity: 'warning', code: 'lint/disabled-rule', message: `rule '${r.name}' is disabled`, ...at(r) });

  // Rules after a catch-all are reported as such; the exact analysis speaks for the others.
  const afterCatchAll = new Set<number>();
  let seenCatchAll = false;
  for (const r of enabled) {
    if (seenCatchAll) afterCatchAll.add(r.index);
    if (isCatchAll(r) && r.action !== 'Monitor') seenCatchAll = true;
  }
  const exact = exactRuleLint(p, afterCatchAll);
  if ('skipped' in exact) {
    out.push({ severity: 'warning', code: 'lint/pairwise-only', message: `shadowed and redundant rules are found by comparing rules pairwise only: the exact analysis was skipped (${exact.skipped})` });
  }
  let catchAll: CompiledRule | null = null;
  for (let j = 0; j < enabled.length; j++) {
    const b = enabled[j];
    if (catchAll) {
      out.push({ severity: 'error', code: 'lint/after-catch-all', message: `rule '${b.name}' comes after catch-all rule '${catchAll.name}' (no conditions, action ${catchAll.action}) and can never match`, ...at(b) });
      continue;
    }
    const found = 'byRule' in exact ? exact.byRule.get(b.index) : undefined;
    if (found) out.push(found);
    // Monitor rules decide nothing, so the exact analysis leaves them to the pairwise check.
    for (let i = 0; i < j && ('skipped' in exact || b.action === 'Monitor'); i++) {
      const a = enabled[i];
      // Monitor rules never stop evaluation, so they shadow nothing.
      if (a.action === 'Monitor') continue;
      if (!netsCover(a.src, b.src) || !netsCover(a.dst, b.dst) || !portsCover(a.ports, b.ports) || !appsCover(a.apps, b.apps)) continue;
      if (!urlCover(a.url, b.url)) continue;
      if (a.action === b.action) {
        out.push({ severity: 'warning', code: 'lint/redundant-rule', message: `rule '${b.name}' is redundant: earlier rule '${a.name}' (same action ${a.action}) matches every flow it would`, ...at(b) });
      } else {
        out.push({ severity: 'error', code: 'lint/shadowed-rule', message: `rule '${b.name}' (${b.action}) is shadowed by earlier rule '${a.name}' (${a.action}) and can never match`, ...at(b) });
      }
      break;
    }
    if (isCatchAll(b) && b.action !== 'Monitor') catchAll = b;
    if ((b.action === 'Interactive Block' || b.action === 'Interactive Block with reset') && b.ports !== null) {
      let httpPort = false;
      for (let i = 0; i < b.ports.length; i += 2) if (b.ports[i] <= 80 && b.ports[i + 1] >= 80) httpPort = true;
      if (!httpPort) out.push({ severity: 'warning', code: 'lint/interactive-https', message: `rule '${b.name}': Interactive Block shows a page only to plain HTTP; on these ports it acts as ${b.action === 'Interactive Block' ? 'Block' : 'Block with reset'}`, ...at(b) });
    }
  }

  // Objects nobody uses (groups count their members as used).
  const used = new Set<string>();
  for (const r of [...p.rules, ...p.prefilter]) for (const n of r.refs) used.add(n);
  const byName = new Map(p.objects.map((o) => [`${o.kind}:${o.name}`, o]));
  for (const o of p.objects) {
    if (!used.has(o.name)) continue;
    for (const v of o.values) if (byName.has(`${o.kind}:${v}`)) used.add(v);
  }
  for (const o of p.objects) {
    if (o.kind === 'application') continue; // applications also name the Web Application column
    if (!used.has(o.name)) out.push({ severity: 'warning', code: 'lint/unused-object', message: `${o.kind} object '${o.name}' is not used by any rule`, file: o.file, line: o.at.line, column: o.at.column });
  }
  for (const l of p.siLists) {
    if (l.entries === 0) out.push({ severity: 'warning', code: 'lint/empty-si-list', message: `Security Intelligence ${l.kind} list '${l.name}' has no entries` });
  }
  return out;
}
