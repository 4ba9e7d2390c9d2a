// `peekwall diff OLD NEW`: every class of flows whose action or deciding rule differs between
// two policies. A class is a set of name groups and the address/port region where both
// policies decide them the same way, differently from each other: it carries a concrete
// witness flow (checked with the ordinary evaluator before it is reported), the region as
// exact products (sources x destinations x ports), biggest first. `complete` is true only when
// the whole space was walked and nothing in either policy is outside the model (the reasons
// say what is).
import { evaluate, tsidFor } from '../evaluate.js';
import type { Flow, FlowIdentity, Policy, VerdictAction } from '../types.js';
import type { FamilyPart } from './engine.js';
import { Analysis } from './engine.js';
import { portList, portSummary } from './format.js';
import type { Outcome } from './model.js';
import { AtomTexts, Regions, type Product } from './regions.js';
import { connectionWitness, describeFlow, nameSourcesOf, witnessFlow, type FlowWitness } from './witness.js';
import { combos, identityInput, sourceOf, walkCombo, type Combo, type Slot } from './tsid.js';
import { resolveIdentity } from '../../identity/index.js';

export interface SideOutcome {
  readonly action: VerdictAction;
  readonly rule: string;
  readonly by: Outcome['by'];
  /** What this policy's URL database says of the witness name. */
  readonly category: string;
  readonly reputation: string;
}

/** One product of a change's region: every source x every destination x every port. */
export interface SpaceProduct {
  readonly family: 4 | 6;
  readonly src: readonly string[];
  readonly dst: readonly string[];
  readonly dport: readonly string[];
  /** Short texts for people: 'any IPv4 except ...', '80, 443'. */
  readonly summary: { readonly src: string; readonly dst: string; readonly dport: string };
}

export interface ChangeSpace {
  /** The region's products (all of them; a person reads the first few). */
  readonly products: readonly SpaceProduct[];
  /** Name classes of the class (a few described; `nameClasses` counts them all). */
  readonly names: readonly string[];
  readonly nameClasses: number;
  /** Where a name can come from under each policy's TSID setting. */
  readonly nameSources: { readonly old: readonly string[]; readonly new: readonly string[] };
  /** A rough measure of breadth, for ordering: address and port shares x name breadth. */
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

/** Where a concrete flow falls in a diff: each policy's outcome for it, and its reported change. */
export interface DiffProbe {
  /** Each policy's outcome (as the analysis computed it); null when the flow is outside the walked space. */
  outcomes(src: string, dst: string, dport: number, name: string | null): readonly [Outcome, Outcome] | null;
  /** The reported change holding the flow, or null when none does. */
  changeOf(src: string, dst: string, dport: number, name: string | null): DiffChange | null;
  /**
   * The same for one connection the two policies name each its own way (their TSID settings
   * differ): each policy's outcome for its name, and the change holding the connection, found
   * by the slots the names came from.
   */
  namedOutcomes(src: string, dst: string, dport: number, nameOld: string | null, nameNew: string | null): readonly [Outcome, Outcome] | null;
  changeOfNamed(src: string, dst: string, dport: number, nameOld: string | null, nameNew: string | null, slotOld: Slot, slotNew: Slot): DiffChange | null;
}

/** Ranges written out per address list of a product (the count says the rest). */
const LIST_CAP = 16;

interface Name {
  readonly sig: number;
  readonly via: boolean;
  /** Where the TSID settings differ: how each side takes its name (tsidCombos), and the new side's group. */
  readonly combo?: number;
  readonly sigNew?: number;
}

/** The ways the two sides name connections, over every TSID-differing state of a diff. */
interface TsidCombo {
  readonly old: string;
  readonly new: string;
  readonly combo: Combo;
}

interface Region {
  readonly o: number;
  readonly n: number;
  readonly states: number[];
  readonly names: Name[];
}

export function diffPolicies(oldPolicy: Policy, newPolicy: Policy, opts: DiffOptions = {}): DiffReport {
  return diffWithProbe(oldPolicy, newPolicy, opts).report;
}

/** Leaves whose outcomes differ, grouped: names with the same outcomes over the same states are one class. */
function changedRegions(a: Analysis, tsidCombos: TsidCombo[]): { regions: Region[]; leaves: number } {
  const byLeaf = new Map<number | string, { o: number; n: number; name: Name; states: number[] }>();
  const add = (k: number | string, o: number, n: number, name: Name, st: number) => {
    const l = byLeaf.get(k);
    if (l) l.states.push(st);
    else byLeaf.set(k, { o, n, name, states: [st] });
  };
  const comboIds = new Map<string, number>();
  const O = a.outcomes.list.length;
  let last = -1;
  let tsidState = false;
  let leaves = 0;
  a.walk((st, sig, via, out) => {
    leaves++;
    if (st !== last) {
      last = st;
      const to = a.tsidOf(st, 0);
      const tn = a.tsidOf(st, 1);
      tsidState = to !== null && tn !== null && to !== tn;
      // The TSID settings differ: one connection gets a name from each side's slot.
      if (tsidState) {
        const w = { nameSigs: a.nameSigs, ipSig: a.ipSigOf(st), decide: [a.deciderOf(st, 0), a.deciderOf(st, 1)] as const, multi: (g: number) => a.sigs.info[g].multi };
        for (const combo of combos(to!, tn!)) {
          const ck = `${to}|${tn}|${combo.a}|${combo.b}|${combo.same}|${combo.differ}`;
          let ci = comboIds.get(ck);
          if (ci === undefined) comboIds.set(ck, (ci = tsidCombos.push({ old: to!, new: tn!, combo }) - 1));
          const c = ci;
          walkCombo(w, combo, (oa, ob, sa, sb) => add(`t|${oa}|${ob}|${c}|${sa}|${sb}`, oa, ob, { sig: sa, via: combo.a === 'ip', combo: c, sigNew: sb }, st));
        }
      }
    }
    if (tsidState || out[0] === out[1]) return;
    add(((out[0] * O + out[1]) * a.sigs.count + sig) * 2 + (via ? 1 : 0), out[0], out[1], { sig, via }, st);
  });
  // States arrive ascending, so equal sets are equal arrays.
  const buckets = new Map<string, Region[]>();
  const regions: Region[] = [];
  for (const l of byLeaf.values()) {
    let h = 0;
    for (const st of l.states) h = Math.imul(h ^ st, 0x9e3779b1) ^ (h >>> 13);
    const k = `${l.o}|${l.n}|${l.states.length}|${h}`;
    const bucket = buckets.get(k) ?? [];
    const r = bucket.find((x) => x.states.every((st, i) => st === l.states[i]));
    if (r) r.names.push(l.name);
    else {
      const nr = { o: l.o, n: l.n, states: l.states, names: [l.name] };
      bucket.push(nr);
      regions.push(nr);
      buckets.set(k, bucket);
    }
  }
  return { regions, leaves };
}

/** The diff, and a probe that places concrete flows in it (for the cross-check test). */
export function diffWithProbe(oldPolicy: Policy, newPolicy: Policy, opts: DiffOptions = {}): { report: DiffReport; probe: DiffProbe } {
  const a = new Analysis([oldPolicy, newPolicy], { maxWork: opts.maxWork });
  // What decides flows outside evaluate(): a TSID probe that fails, an odd or malformed hello.
  const so = oldPolicy.settings;
  const sn = newPolicy.settings;
  const differs = (what: string, x: unknown, y: unknown) => {
    if (JSON.stringify(x) !== JSON.stringify(y)) a.limits.add(`${what} differs (${JSON.stringify(x)} -> ${JSON.stringify(y)}): the flows it decides (a failed TSID probe, an odd or malformed hello) are outside the model`);
  };
  differs('settings.failMode', so.failMode, sn.failMode);
  differs('settings.oddHellos', so.oddHellos, sn.oddHellos);
  differs('settings.tsid.sessionCheck', so.tsidSessionCheck, sn.tsidSessionCheck);
  const tsidCombos: TsidCombo[] = [];
  const { regions, leaves } = changedRegions(a, tsidCombos);
  const all = new Set<number>();
  for (const r of regions) for (const st of r.states) all.add(st);
  const cellsOf = a.cellsOf(all);
  const ctx = new ChangeContext(a, oldPolicy, newPolicy, cellsOf, tsidCombos);
  const changes: DiffChange[] = [];
  const byName = new Map<string, { c: DiffChange; states: Set<number> }[]>();
  for (const r of regions) {
    const c = ctx.change(r);
    changes.push(c);
    const states = new Set(r.states);
    for (const n of r.names) {
      const tc = n.combo !== undefined ? tsidCombos[n.combo].combo : null;
      const k = tc ? `t|${tc.a}|${tc.b}|${r.o}|${r.n}` : `${n.sig}|${n.via ? 1 : 0}`;
      const l = byName.get(k);
      if (l) l.push({ c, states });
      else byName.set(k, [{ c, states }]);
    }
  }
  // Grouped by (old, new) outcome, the broadest group first; in a group the broadest class first.
  const groupKey = (c: DiffChange) => `${c.old.action}\u0000${c.old.rule}\u0000${c.new.action}\u0000${c.new.rule}`;
  const totals = new Map<string, number>();
  for (const c of changes) totals.set(groupKey(c), (totals.get(groupKey(c)) ?? 0) + c.space.measure);
  changes.sort((x, y) => {
    const gx = groupKey(x);
    const gy = groupKey(y);
    if (gx !== gy) return totals.get(gy)! - totals.get(gx)! || (gx < gy ? -1 : 1);
    return y.space.measure - x.space.measure;
  });
  for (const c of changes) if (!c.verified) a.limits.add(`internal: the witness ${describeFlow(c.witness)} did not reproduce the change when evaluated`);
  const probe: DiffProbe = {
    outcomes(src, dst, dport, name) {
      const loc = a.locate(src, dst, dport, name);
      if (!loc) return null;
      return [a.outcomes.list[a.outcomeOf(loc.state, loc.sig, 0)], a.outcomes.list[a.outcomeOf(loc.state, loc.sig, 1)]];
    },
    changeOf(src, dst, dport, name) {
      const loc = a.locate(src, dst, dport, name);
      if (!loc) return null;
      for (const { c, states } of byName.get(`${loc.sig}|${loc.viaAddress ? 1 : 0}`) ?? []) if (states.has(loc.state)) return c;
      return null;
    },
    namedOutcomes(src, dst, dport, nameOld, nameNew) {
      const lo = a.locate(src, dst, dport, nameOld);
      const ln = a.locate(src, dst, dport, nameNew);
      if (!lo || !ln) return null;
      return [a.outcomes.list[a.outcomeOf(lo.state, lo.sig, 0)], a.outcomes.list[a.outcomeOf(ln.state, ln.sig, 1)]];
    },
    changeOfNamed(src, dst, dport, nameOld, nameNew, slotOld, slotNew) {
      const lo = a.locate(src, dst, dport, nameOld);
      const ln = a.locate(src, dst, dport, nameNew);
      if (!lo || !ln) return null;
      const to = a.tsidOf(lo.state, 0);
      const tn = a.tsidOf(lo.state, 1);
      // One TSID setting (or a side decided before names): the name that matters is the one
      // the side still deciding derives.
      if (to === null || tn === null || to === tn) return this.changeOf(src, dst, dport, to === null ? nameNew : nameOld);
      const o = a.outcomeOf(lo.state, lo.sig, 0);
      const n = a.outcomeOf(ln.state, ln.sig, 1);
      for (const { c, states } of byName.get(`t|${slotOld}|${slotNew}|${o}|${n}`) ?? []) if (states.has(lo.state)) return c;
      return null;
    },
  };
  const [f4, f6] = a.families;
  const report: DiffReport = {
    complete: a.complete,
    reasons: a.limits.reasons,
    changes,
    stats: {
      addressClasses: f4.src.count + f4.dst.count + f6.src.count + f6.dst.count,
      portClasses: a.ports.count,
      nameClasses: a.nameClasses,
      nameGroups: a.nameSigs.length,
      states: a.states,
      leaves,
    },
  };
  return { report, probe };
}

/** What every change of one diff shares: the analysis, cached texts and measures. */
class ChangeContext {
  private readonly regions: Regions;
  private readonly texts = new AtomTexts(LIST_CAP);
  /** Per sd class: its best (source, destination) pair and the sum of its pairs' shares. */
  private readonly classes = new Map<number, { f: number; s: number; d: number; best: number; total: number }>();

  constructor(
    private readonly a: Analysis,
    private readonly oldPolicy: Policy,
    private readonly newPolicy: Policy,
    private readonly cellsOf: Map<number, [number, number][]>,
    private readonly tsidCombos: readonly TsidCombo[],
  ) {
    this.regions = new Regions(a);
    this.regions.addStates(cellsOf);
  }

  private sdClass(c: number): { f: number; s: number; d: number; best: number; total: number } {
    let got = this.classes.get(c);
    if (got) return got;
    const t = this.a.pairsOf(c);
    got = { f: t[0], s: t[1], d: t[2], best: -1, total: 0 };
    for (let o = 0; o < t.length; o += 3) {
      const fam = this.a.families[t[o]];
      const m = fam.src.share(t[o + 1]) * fam.dst.share(t[o + 2]);
      got.total += m;
      if (m > got.best) Object.assign(got, { f: t[o], s: t[o + 1], d: t[o + 2], best: m });
    }
    this.classes.set(c, got);
    return got;
  }

  private weightOf(n: Name): number {
    return n.via ? 1 / 256 : this.a.sigs.info[n.sig].weight;
  }

  change(r: Region): DiffChange {
    const a = this.a;
    // The witness: the broadest pair of the broadest cell (IPv4 when there is one, the
    // family people read first), the broadest name group.
    let measure = 0;
    let best = this.cellsOf.get(r.states[0])![0];
    let bestM = -1;
    for (const st of r.states) for (const cell of this.cellsOf.get(st)!) {
      const sd = this.sdClass(cell[0]);
      const m = sd.total * (a.ports.size(cell[1]) / 65535);
      measure += m;
      const rank = a.families[sd.f].family === 4 ? m + 2 : m;
      if (rank > bestM) [best, bestM] = [cell, rank];
    }
    const names = [...r.names].sort((x, y) => this.weightOf(y) - this.weightOf(x));
    measure *= names.reduce((n, x) => n + this.weightOf(x), 0);
    const sd = this.sdClass(best[0]);
    const fam: FamilyPart = a.families[sd.f];
    const state = a.stateOf(best[0], best[1]);
    const first = names[0];
    const tc = first.combo !== undefined ? this.tsidCombos[first.combo] : null;
    let wf: { witness: FlowWitness; flow: Flow; identity: FlowIdentity; identityNew?: FlowIdentity };
    if (tc) {
      // Where the TSID settings differ, each policy names the witness connection its own way.
      const w = connectionWitness(a, fam, sd.s, sd.d, best[1], tc.combo, first.sig, first.sigNew!);
      const flow: Flow = { srcIp: w.src, srcPort: 40000, dstIp: w.dst, dstPort: w.dport, protocol: 'tcp', scheme: 'https', sni: w.conn.sni };
      const [io, inew] = [this.oldPolicy, this.newPolicy].map((p) => resolveIdentity(identityInput(w.conn, tsidFor(p, flow), w.dst)));
      wf = {
        witness: { src: w.src, dst: w.dst, dport: w.dport, name: io.name, nameSource: io.source, category: '', reputation: '', newName: inew.name, newNameSource: inew.source, connection: w.conn },
        flow,
        identity: { name: io.name, source: io.source },
        identityNew: { name: inew.name, source: inew.source },
      };
    } else wf = witnessFlow(a, fam, sd.s, sd.d, best[1], first.sig, first.via);
    const vOld = evaluate(this.oldPolicy, wf.flow, wf.identity, { trace: false });
    const vNew = evaluate(this.newPolicy, wf.flow, wf.identityNew ?? wf.identity, { trace: false });
    if (tc) wf.witness = { ...wf.witness, category: vOld.urlCategory, reputation: `${vOld.urlReputation.level} ${vOld.urlReputation.label}` };
    const oo = a.outcomes.list[r.o];
    const on = a.outcomes.list[r.n];
    let products: SpaceProduct[] | null = null;
    const self = this;
    return {
      witness: wf.witness,
      old: { action: oo.action, rule: oo.rule, by: oo.by, category: vOld.urlCategory, reputation: `${vOld.urlReputation.level} ${vOld.urlReputation.label}` },
      new: { action: on.action, rule: on.rule, by: on.by, category: vNew.urlCategory, reputation: `${vNew.urlReputation.level} ${vNew.urlReputation.label}` },
      space: {
        // Products and their texts are made when read (printing, JSON): a big diff has
        // thousands of classes and a reader sees the first few.
        get products(): SpaceProduct[] {
          return (products ??= self.products(r.states));
        },
        names: this.nameTexts(names),
        nameClasses: r.names.reduce((n, x) => n + (x.via ? 1 : a.sigs.info[x.sig].classes), 0),
        nameSources: tc
          ? { old: [sourceOf(tc.combo.a, tc.old)], new: [sourceOf(tc.combo.b, tc.new)] }
          : { old: nameSourcesOf(a.tsidOf(state, 0), first.via), new: nameSourcesOf(a.tsidOf(state, 1), first.via) },
        measure,
      },
      verified: vOld.action === oo.action && vOld.rule === oo.rule && vNew.action === on.action && vNew.rule === on.rule,
    };
  }

  private nameTexts(names: readonly Name[]): string[] {
    const group = (sig: number, via: boolean, short = false) => {
      if (via) return short ? 'the destination address' : 'no name known: the destination address stands in';
      const info = this.a.sigs.info[sig];
      const shown = short ? info.samples.slice(0, 1) : info.samples;
      const more = info.classes - shown.length;
      return shown.map((c) => c.description).join('; ') + (more > 0 ? `; ... (${more} more name classes)` : '');
    };
    const max = names.some((n) => n.combo !== undefined) ? 3 : 6;
    const out = names.slice(0, max).map((n) => {
      if (n.combo === undefined) return group(n.sig, n.via);
      const c = this.tsidCombos[n.combo];
      const from = (slot: Slot, tsid: string) => (slot === 'ip' ? 'no name' : sourceOf(slot, tsid));
      const [fo, fn] = [from(c.combo.a, c.old), from(c.combo.b, c.new)];
      if (c.combo.same) return `${group(n.sig, n.via, true)} (old from ${fo}, new from ${fn})`;
      return `old from ${fo}: ${group(n.sig, c.combo.a === 'ip', true)}; new from ${fn}: ${group(n.sigNew!, c.combo.b === 'ip', true)}`;
    });
    if (names.length > max) out.push(`... (${names.length - max} more name groups)`);
    return out;
  }

  private products(states: readonly number[]): SpaceProduct[] {
    const a = this.a;
    const share = (p: Product) => {
      const fam = a.families[p.f];
      const sum = (xs: readonly number[], f: (x: number) => number) => xs.reduce((n, x) => n + f(x), 0);
      return sum(p.s, (x) => fam.src.share(x)) * sum(p.d, (x) => fam.dst.share(x)) * sum(p.q, (x) => a.ports.size(x));
    };
    return this.regions
      .products(states)
      .map((p) => ({ p, m: share(p) }))
      .sort((x, y) => a.families[x.p.f].family - a.families[y.p.f].family || y.m - x.m)
      .map(({ p }) => {
        const fam = a.families[p.f];
        const texts = this.texts;
        const ports = p.q.flatMap((x) => a.ports.segments(x));
        return {
          family: fam.family,
          get src() {
            return texts.list(fam, 'src', p.s);
          },
          get dst() {
            return texts.list(fam, 'dst', p.d);
          },
          dport: portList(ports),
          summary: {
            get src() {
              return texts.summary(fam, 'src', p.s);
            },
            get dst() {
              return texts.summary(fam, 'dst', p.d);
            },
            dport: portSummary(ports),
          },
        };
      });
  }
}
