// `peekwall search POLICY --action A [region]`: one witness flow in the region that the policy
// decides with that action, or the proof that there is none — the whole region walked class by
// class, every class decided otherwise ("can anything in Gambling be reached from CLIENTS with
// TSID on?").
import { overrideTsid } from '../compiled.js';
import { REPUTATION_LABELS } from '../domains.js';
import { evaluate } from '../evaluate.js';
import { IpSet, parseNetwork } from '../ip.js';
import type { Policy, VerdictAction } from '../types.js';
import { Analysis } from './engine.js';
import type { Outcome } from './model.js';
import { nameSourcesOf, witnessFlow, type FlowWitness } from './witness.js';

export interface SearchQuery {
  /** Verdict actions that count as found (e.g. every Block kind for 'block'). */
  readonly actions: readonly VerdictAction[];
  /** Only this deciding rule / SI list / 'Default Action' counts, when given. */
  readonly rule?: string;
  /** A host, CIDR or range (as a policy writes networks). */
  readonly src?: string;
  readonly dst?: string;
  readonly ports?: Int32Array;
  /** A domain entry: the name and names under it, 'x.com/' the name only, '*.x.com'. */
  readonly name?: string;
  /** The URL database category the name has (one of its categories). */
  readonly category?: string;
  /** The name's reputation level, 0 Unknown .. 5 Trusted. */
  readonly reputation?: number;
  /** Force TSID on or off (the policy's own setting otherwise). */
  readonly tsid?: boolean;
  readonly maxWork?: number;
}

export interface SearchResult {
  readonly found: boolean;
  /** The whole region was walked and nothing is outside the model: a "not found" is a proof. */
  readonly complete: boolean;
  readonly reasons: readonly string[];
  readonly witness?: FlowWitness & { readonly nameSources: readonly string[] };
  readonly verdict?: { readonly action: VerdictAction; readonly rule: string; readonly by: Outcome['by'] };
  /** Classes (state x name group) of the region with a wanted verdict, per deciding rule. */
  readonly matches: readonly { readonly action: VerdictAction; readonly rule: string; readonly classes: number }[];
  /** Classes of the region walked. */
  readonly classes: number;
  /** The witness evaluated with evaluate() gave the verdict reported. */
  readonly verified: boolean;
}

export const ACTION_WORDS: Readonly<Record<string, readonly VerdictAction[]>> = {
  allow: ['Allow'],
  trust: ['Trust'],
  block: ['Block', 'Block with reset', 'Interactive Block', 'Interactive Block with reset'],
  reset: ['Block with reset', 'Interactive Block with reset'],
};

/** 0..5 from a level number or label ('Questionable'), or null. */
export function reputationLevel(text: string): number | null {
  const n = Number(text);
  if (/^[0-5]$/.test(text)) return n;
  const i = REPUTATION_LABELS.findIndex((l) => l.toLowerCase() === text.trim().toLowerCase());
  return i >= 0 ? i : null;
}

function networkSet(text: string | undefined): IpSet | undefined {
  if (text === undefined) return undefined;
  const iv = parseNetwork(text);
  if (typeof iv === 'string') throw new Error(iv);
  return new IpSet([{ interval: iv, label: text }]);
}

/** Throws an Error with a message for a query that is no valid region (bad network, bad name pattern). */
export function searchPolicy(policy: Policy, q: SearchQuery): SearchResult {
  const p = q.tsid === undefined ? policy : overrideTsid(policy, { enabled: q.tsid });
  const a = new Analysis([p], { restrict: { src: networkSet(q.src), dst: networkSet(q.dst), ports: q.ports, name: q.name }, maxWork: q.maxWork });
  const wantName = (sig: number): boolean => {
    const info = a.sigs.info[sig];
    if (!info.inPattern) return false;
    const rec = info.recs[0];
    if (q.category !== undefined && !rec.categories.some((c) => c.toLowerCase() === q.category!.toLowerCase())) return false;
    return q.reputation === undefined || rec.reputation === q.reputation;
  };
  const byRule = new Map<number, number>();
  const hits: { state: number; sig: number; via: boolean }[] = [];
  let classes = 0;
  a.walk((state, sig, via, out) => {
    if (!wantName(sig)) return;
    classes++;
    const o = a.outcomes.list[out[0]];
    if (!q.actions.includes(o.action) || (q.rule !== undefined && o.rule !== q.rule)) return;
    byRule.set(out[0], (byRule.get(out[0]) ?? 0) + 1);
    hits.push({ state, sig, via });
  });
  const matches = [...byRule].map(([o, n]) => ({ action: a.outcomes.list[o].action, rule: a.outcomes.list[o].rule, classes: n })).sort((x, y) => y.classes - x.classes);
  const base = { complete: a.complete, reasons: a.limits.reasons, matches, classes };
  if (hits.length === 0) return { found: false, ...base, verified: true };
  // The broadest hit: the state with the most address x port share (IPv4 first), the broadest name.
  const cellsOf = a.cellsOf(new Set(hits.map((h) => h.state)));
  let best: { f: number; s: number; d: number; q: number; hit: (typeof hits)[number]; m: number } | null = null;
  for (const hit of hits) {
    const weight = hit.via ? 1 / 256 : a.sigs.info[hit.sig].weight;
    for (const [c, qa] of cellsOf.get(hit.state) ?? []) {
      const pairs = a.pairsOf(c);
      for (let o = 0; o < pairs.length; o += 3) {
        const fam = a.families[pairs[o]];
        const m = fam.src.share(pairs[o + 1]) * fam.dst.share(pairs[o + 2]) * a.ports.size(qa) * weight + (fam.family === 4 ? 1e6 : 0);
        if (best === null || m > best.m) best = { f: pairs[o], s: pairs[o + 1], d: pairs[o + 2], q: qa, hit, m };
      }
    }
  }
  const b = best!;
  const fam = a.families[b.f];
  const wf = witnessFlow(a, fam, b.s, b.d, b.q, b.hit.sig, b.hit.via);
  const v = evaluate(p, wf.flow, wf.identity, { trace: false });
  const o = a.outcomes.list[a.outcomeOf(b.hit.state, b.hit.sig, 0)];
  return {
    found: true,
    ...base,
    witness: { ...wf.witness, nameSources: nameSourcesOf(a.tsidOf(b.hit.state, 0), b.hit.via) },
    verdict: { action: o.action, rule: o.rule, by: o.by },
    verified: v.action === o.action && v.rule === o.rule,
  };
}
