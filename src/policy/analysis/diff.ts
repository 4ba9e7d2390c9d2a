// `peekwall diff OLD NEW`: every class of flows whose action or deciding rule differs between
// two policies, each as a product region (sources x destinations x ports x names) with a
// concrete witness flow, biggest first. Each witness is checked with the ordinary evaluator
// before it is reported. `complete` is true only when the whole space was walked and nothing
// in either policy is outside the model (the reasons say what is).
import { evaluate } from '../evaluate.js';
import type { Policy, VerdictAction } from '../types.js';
import type { FamilyPart } from './engine.js';
import { Analysis } from './engine.js';
import { addressList, addressSummary, portList, portSummary, type Range } from './format.js';
import type { Outcome } from './model.js';
import { describeFlow, nameSourcesOf, witnessFlow, type FlowWitness } from './witness.js';

export interface SideOutcome {
  readonly action: VerdictAction;
  readonly rule: string;
  readonly by: Outcome['by'];
  readonly category: string;
  readonly reputation: string;
}

export interface ChangeSpace {
  readonly family: 4 | 6;
  readonly src: readonly string[];
  readonly dst: readonly string[];
  readonly dport: readonly string[];
  /** Name classes of the region (a few described; `nameClasses` counts them all). */
  readonly names: readonly string[];
  readonly nameClasses: number;
  /** Where a name of the region can come from under each policy's TSID setting. */
  readonly nameSources: { readonly old: readonly string[]; readonly new: readonly string[] };
  /** Short texts for people: 'any IPv4 except ...', '80, 443'. */
  readonly summary: { readonly src: string; readonly dst: string; readonly dport: string };
  /** A rough measure of the region's breadth, for ordering: address and port shares x name breadth. */
  readonly measure: number;
}

export interface DiffChange {
  readonly witness: FlowWitness;
  readonly old: SideOutcome;
  readonly new: SideOutcome;
  readonly space: ChangeSpace;
  /** The witness evaluated with evaluate() under both policies gave these outcomes. */
  readonly verified: boolean;
}

export interface DiffReport {
  readonly complete: boolean;
  readonly reasons: readonly string[];
  readonly changes: readonly DiffChange[];
  readonly stats: {
    readonly addressClasses: number;
    readonly portClasses: number;
    readonly nameClasses: number;
    readonly nameGroups: number;
    readonly states: number;
    readonly leaves: number;
  };
}

export interface DiffOptions {
  readonly maxWork?: number;
}

interface Box {
  readonly f: number;
  readonly s: number;
  readonly d: number;
  readonly q: number;
}

const LIST_CAP = 256;

function capList(xs: string[]): string[] {
  return xs.length <= LIST_CAP ? xs : [...xs.slice(0, LIST_CAP), `... (${xs.length - LIST_CAP} more)`];
}

/** Boxes of one region as products: union over ports, then destinations, then sources. */
function products(boxes: readonly Box[]): { f: number; s: number[]; d: number[]; q: number[] }[] {
  const group = <T>(items: readonly T[], key: (x: T) => string) => {
    const m = new Map<string, T[]>();
    for (const x of items) {
      const k = key(x);
      const l = m.get(k);
      if (l) l.push(x);
      else m.set(k, [x]);
    }
    return [...m.values()];
  };
  const sorted = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b);
  const byPair = group(boxes, (b) => `${b.f}|${b.s}|${b.d}`).map((l) => ({ f: l[0].f, s: l[0].s, d: l[0].d, q: sorted(l.map((b) => b.q)) }));
  const byDst = group(byPair, (x) => `${x.f}|${x.s}|${x.q.join(',')}`).map((l) => ({ f: l[0].f, s: l[0].s, d: sorted(l.map((x) => x.d)), q: l[0].q }));
  return group(byDst, (x) => `${x.f}|${x.d.join(',')}|${x.q.join(',')}`).map((l) => ({ f: l[0].f, s: sorted(l.map((x) => x.s)), d: l[0].d, q: l[0].q }));
}

export function diffPolicies(oldPolicy: Policy, newPolicy: Policy, opts: DiffOptions = {}): DiffReport {
  const a = new Analysis([oldPolicy, newPolicy], { maxWork: opts.maxWork });
  // (old outcome, new outcome, name group, via address) -> states
  const leaves = new Map<string, { o: number; n: number; sig: number; via: boolean; states: number[] }>();
  let lastState = -1;
  let leafCount = 0;
  a.walk((st, sig, via, out) => {
    leafCount++;
    if (st !== lastState) {
      lastState = st;
      const to = a.tsidOf(st, 0);
      const tn = a.tsidOf(st, 1);
      if (to !== null && tn !== null && to !== tn) {
        a.limits.add(`the TSID setting differs (old ${to}, new ${tn}) for some flows: one connection may be named differently by the two policies, and the model compares flows by the name each derives alike`);
      }
    }
    if (out[0] === out[1]) return;
    const k = `${out[0]}|${out[1]}|${sig}|${via ? 1 : 0}`;
    const l = leaves.get(k);
    if (l) l.states.push(st);
    else leaves.set(k, { o: out[0], n: out[1], sig, via, states: [st] });
  });
  // Names with the same outcomes over the same states are one region.
  const regions = new Map<string, { o: number; n: number; states: number[]; names: { sig: number; via: boolean }[] }>();
  for (const l of leaves.values()) {
    const k = `${l.o}|${l.n}|${l.states.join(',')}`;
    const r = regions.get(k);
    if (r) r.names.push({ sig: l.sig, via: l.via });
    else regions.set(k, { o: l.o, n: l.n, states: l.states, names: [{ sig: l.sig, via: l.via }] });
  }
  const all = new Set<number>();
  for (const r of regions.values()) for (const s of r.states) all.add(s);
  const byState = new Map<number, Box[]>();
  a.boxes(all, (f, s, d, q, st) => {
    const fi = a.families.indexOf(f);
    let l = byState.get(st);
    if (!l) byState.set(st, (l = []));
    l.push({ f: fi, s, d, q });
  });
  const changes: DiffChange[] = [];
  for (const r of regions.values()) {
    const boxes = r.states.flatMap((st) => byState.get(st) ?? []);
    for (const p of products(boxes)) changes.push(change(a, oldPolicy, newPolicy, r, p, r.states[0]));
  }
  // Grouped by (old, new) outcome, the broadest group first; in a group the broadest class
  // first, IPv4 before IPv6 when equal.
  const groupKey = (c: DiffChange) => `${c.old.action}\u0000${c.old.rule}\u0000${c.new.action}\u0000${c.new.rule}`;
  const totals = new Map<string, number>();
  for (const c of changes) totals.set(groupKey(c), (totals.get(groupKey(c)) ?? 0) + c.space.measure);
  changes.sort((x, y) => {
    const gx = groupKey(x);
    const gy = groupKey(y);
    if (gx !== gy) return totals.get(gy)! - totals.get(gx)! || (gx < gy ? -1 : 1);
    return y.space.measure - x.space.measure || x.space.family - y.space.family;
  });
  for (const c of changes) if (!c.verified) a.limits.add(`internal: the witness ${describeFlow(c.witness)} did not reproduce the change when evaluated`);
  const f4 = a.families[0];
  const f6 = a.families[1];
  return {
    complete: a.complete,
    reasons: a.limits.reasons,
    changes,
    stats: {
      addressClasses: f4.src.count + f4.dst.count + f6.src.count + f6.dst.count,
      portClasses: a.ports.count,
      nameClasses: a.nameClasses,
      nameGroups: a.nameSigs.length,
      states: a.states,
      leaves: leafCount,
    },
  };
}

function change(
  a: Analysis,
  oldPolicy: Policy,
  newPolicy: Policy,
  r: { o: number; n: number; names: { sig: number; via: boolean }[] },
  p: { f: number; s: number[]; d: number[]; q: number[] },
  state: number,
): DiffChange {
  const fam: FamilyPart = a.families[p.f];
  const biggest = (xs: number[], size: (x: number) => number) => xs.reduce((b, x) => (size(x) > size(b) ? x : b), xs[0]);
  const s = biggest(p.s, (x) => fam.src.size(x));
  const d = biggest(p.d, (x) => fam.dst.size(x));
  const q = biggest(p.q, (x) => a.ports.size(x));
  const weightOf = (n: { sig: number; via: boolean }) => (n.via ? 1 / 256 : a.sigs.info[n.sig].weight);
  const name = r.names.reduce((b, n) => (weightOf(n) > weightOf(b) ? n : b), r.names[0]);
  const wf = witnessFlow(a, fam, s, d, q, name.sig, name.via);
  const vOld = evaluate(oldPolicy, wf.flow, wf.identity, { trace: false });
  const vNew = evaluate(newPolicy, wf.flow, wf.identity, { trace: false });
  const oo = a.outcomes.list[r.o];
  const on = a.outcomes.list[r.n];
  const verified = vOld.action === oo.action && vOld.rule === oo.rule && vNew.action === on.action && vNew.rule === on.rule;
  const srcRanges: Range[] = p.s.flatMap((x) => fam.src.segments(x));
  const dstRanges: Range[] = p.d.flatMap((x) => fam.dst.segments(x));
  const portRanges = p.q.flatMap((x) => a.ports.segments(x));
  const share = (atoms: number[], part: (x: number) => number) => atoms.reduce((n, x) => n + part(x), 0);
  const nameWeight = r.names.reduce((n, x) => n + weightOf(x), 0);
  const measure = share(p.s, (x) => fam.src.share(x)) * share(p.d, (x) => fam.dst.share(x)) * (share(p.q, (x) => a.ports.size(x)) / 65535) * nameWeight;
  const described = [...r.names].sort((x, y) => weightOf(y) - weightOf(x));
  const names = described.slice(0, 6).map((n) => {
    if (n.via) return 'no name known: the destination address stands in';
    const info = a.sigs.info[n.sig];
    const more = info.classes - info.samples.length;
    return info.samples.map((c) => c.description).join('; ') + (more > 0 ? `; ... (${more} more name classes)` : '');
  });
  if (described.length > 6) names.push(`... (${described.length - 6} more name groups)`);
  const nameClasses = r.names.reduce((n, x) => n + (x.via ? 1 : a.sigs.info[x.sig].classes), 0);
  return {
    witness: wf.witness,
    old: { action: oo.action, rule: oo.rule, by: oo.by, category: vOld.urlCategory, reputation: `${vOld.urlReputation.level} ${vOld.urlReputation.label}` },
    new: { action: on.action, rule: on.rule, by: on.by, category: vNew.urlCategory, reputation: `${vNew.urlReputation.level} ${vNew.urlReputation.label}` },
    space: {
      family: fam.family,
      src: capList(addressList(fam.family, srcRanges)),
      dst: capList(addressList(fam.family, dstRanges)),
      dport: capList(portList(portRanges)),
      names,
      nameClasses,
      nameSources: { old: nameSourcesOf(a.tsidOf(state, 0), name.via), new: nameSourcesOf(a.tsidOf(state, 1), name.via) },
      summary: { src: addressSummary(fam.family, srcRanges), dst: addressSummary(fam.family, dstRanges), dport: portSummary(portRanges) },
      measure,
    },
    verified,
  };
}
