// The flow space of one or more policies, cut into classes and walked class by class. A flow
// is (source, destination, destination port, name); each dimension is partitioned by the
// boundaries the policies use (addresses.ts, ports.ts, names.ts). The walk goes in the order
// evaluate() decides:
//   source x destination   prefilter candidates, the SI network outcome, the rules whose
//                          networks hold both addresses — equal results are one "sd class";
//   x port                 the prefilter decision, the rules left, the TSID setting — equal
//                          results are one "state";
//   x name group           SI URL/DNS, then the first rule whose name conditions hold.
// Every (state, name group) is a leaf with one outcome per policy: the verdict is the same for
// every flow in it. The name is also the destination address itself when nothing else names
// the server (TLS 1.3 without SNI, TSID off): that leaf is marked `viaAddress`.
import type { IpSet } from '../ip.js';
import { parseAddress } from '../ip.js';
import type { Policy } from '../types.js';
import { Interner, bitsOf, firstSetFrom, hasBit, lowMask } from './bitset.js';
import { toBig, type AddressAtoms } from './addresses.js';
import { Limits, Outcomes, PolicyView } from './model.js';
import type { PortAtoms } from './ports.js';
import type { Signatures } from './signatures.js';
import { partitionSpace } from './space.js';

/** A region the caller restricts the walk to (search): flows outside it are not visited. */
export interface Restriction {
  readonly src?: IpSet;
  readonly dst?: IpSet;
  /** Inclusive port ranges as pairs. */
  readonly ports?: Int32Array;
  /** A domain entry ('example.com', '*.example.com', 'host.example.com/'). */
  readonly name?: string;
}

export interface AnalysisOptions {
  readonly restrict?: Restriction;
  /** Bound on the classes walked (pairs, states, leaves); beyond it the analysis stops, incomplete. */
  readonly maxWork?: number;
  /**
   * Keep every rule a state's flows meet, decided or not (lint: which rules take a rule's flows,
   * and which would decide without it). By default a state keeps only what decides its names.
   */
  readonly keepAllRules?: boolean;
  /** Let names the URL database does not list have any category and reputation (lint, one policy). */
  readonly unlistedAnyCategory?: boolean;
}

export const DEFAULT_MAX_WORK = 300_000_000;

/** Visit one leaf; return true to stop the walk. `outcomes[i]` is policy i's outcome id. */
export type LeafVisitor = (state: number, sig: number, viaAddress: boolean, outcomes: Int32Array) => boolean | void;

/** How one policy decides the names of a state. */
interface Plan {
  /** The outcome when decided before names (prefilter, SI network), else -1. */
  decided: number;
  /** Rules with name conditions that come before the kept unconditional rules, ascending. */
  cond: number[];
  /** The unconditional rules left (the first only, unless keepAllRules), ascending. */
  uncond: number[];
  /** The outcome when no conditional rule takes the name: the first unconditional rule, or the default action. */
  fallback: number;
}

const newPlan = (): Plan => ({ decided: -1, cond: [], uncond: [], fallback: -1 });

interface FamilyPart {
  readonly family: 4 | 6;
  readonly src: AddressAtoms;
  readonly dst: AddressAtoms;
  /** sd class of (s, d) at s * dst.count + d; -1 outside the space or the restriction. */
  readonly sdOf: Int32Array;
  /** Name group of each destination atom's address text. */
  readonly ipSig: Int32Array;
}

/** Where one flow falls: its state and name group. */
export interface Location {
  readonly family: 4 | 6;
  readonly s: number;
  readonly d: number;
  readonly q: number;
  readonly state: number;
  readonly sig: number;
  readonly viaAddress: boolean;
}

export class Analysis {
  readonly views: PolicyView[];
  readonly outcomes = new Outcomes();
  readonly limits = new Limits();
  readonly sigs: Signatures;
  readonly ports: PortAtoms;
  readonly families: FamilyPart[] = [];
  /** Name groups holding DNS names (address-only groups excluded). */
  readonly nameSigs: number[] = [];
  private readonly nameSigSet = new Set<number>();
  /** Partition classes of the name dimension, before grouping. */
  readonly nameClasses: number;
  private readonly sdPolicy: Interner[];
  private readonly sdJoint: Interner;
  private readonly sdpPolicy: Interner[];
  private readonly sdpJoint: Interner;
  private readonly tsids: string[] = [];
  /** State of (sd class c, port atom q) at c * ports.count + q; -1 outside the restriction. */
  private sdpOf: Int32Array = new Int32Array(0);
  private readonly aBase: number[] = [];
  private readonly qBase: number[] = [];
  private readonly restrictWord: number;
  private readonly portRestrictBit: number;
  private readonly maxWork: number;
  private readonly keepAll: boolean;
  private work = 0;
  /** False when a bound stopped the walk. */
  bounded = true;

  constructor(policies: readonly Policy[], opts: AnalysisOptions = {}) {
    this.maxWork = opts.maxWork ?? DEFAULT_MAX_WORK;
    this.keepAll = opts.keepAllRules === true;
    this.views = policies.map((p) => new PolicyView(p, this.outcomes));
    const sp = partitionSpace(this.views, this.limits, opts.restrict ?? {}, opts.unlistedAnyCategory === true);
    this.sigs = sp.sigs;
    this.ports = sp.ports;
    this.nameClasses = sp.nameClasses;
    this.restrictWord = sp.restrictWord;
    this.portRestrictBit = sp.portRestrictBit;
    this.aBase.push(...sp.aBase);
    this.qBase.push(...sp.qBase);
    this.nameSigs.push(...sp.nameSigs);
    for (const g of sp.nameSigs) this.nameSigSet.add(g);
    for (const f of sp.families) this.families.push({ ...f, sdOf: new Int32Array(0) });
    this.sdPolicy = this.views.map((v) => new Interner(v.pW + 1 + v.rW));
    this.sdpPolicy = this.views.map((v) => new Interner(this.sdpHead + v.rW));
    this.sdJoint = new Interner(this.views.length + 1);
    this.sdpJoint = new Interner(this.views.length + 1);
  }

  get complete(): boolean {
    return this.bounded && this.limits.reasons.length === 0;
  }

  private spend(n: number, what: string): boolean {
    this.work += n;
    if (this.work <= this.maxWork) return true;
    this.bounded = false;
    this.limits.add(`the analysis stopped at its bound of ${this.maxWork.toLocaleString('en-US')} classes (${what})`);
    return false;
  }

  private inRestriction(bits: Uint32Array): boolean {
    return hasBit(bits, this.restrictWord * 32);
  }

  /** Cut the space into states: source x destination, then x port. False when the bound stopped it. */
  private build(): boolean {
    if (this.sdpOf.length > 0 || !this.bounded) return this.bounded;
    const k = this.views.length;
    const joint = new Uint32Array(k + 1);
    const bufs = this.views.map((v) => new Uint32Array(v.pW + 1 + v.rW));
    for (let fi = 0; fi < this.families.length; fi++) {
      const f = this.families[fi];
      const S = f.src.count;
      const D = f.dst.count;
      if (!this.spend(S * D, 'source x destination address classes')) return false;
      const sdOf = new Int32Array(S * D).fill(-1);
      for (let s = 0; s < S; s++) {
        const sb = f.src.bits(s);
        if (!f.src.inSpace(s) || !this.inRestriction(sb)) continue;
        for (let d = 0; d < D; d++) {
          const db = f.dst.bits(d);
          if (!f.dst.inSpace(d) || !this.inRestriction(db)) continue;
          for (let i = 0; i < k; i++) joint[i] = this.sdState(i, sb, db, bufs[i]);
          joint[k] = f.ipSig[d];
          sdOf[s * D + d] = this.sdJoint.intern(joint);
        }
      }
      (this.families[fi] as { sdOf: Int32Array }).sdOf = sdOf;
    }
    const C = this.sdJoint.size;
    const Q = this.ports.count;
    if (!this.spend(C * Q, 'address classes x port classes')) return false;
    this.sdpOf = new Int32Array(C * Q).fill(-1);
    const sbufs = this.views.map((v) => new Uint32Array(this.sdpHead + v.rW));
    for (let c = 0; c < C; c++) {
      const jw = this.sdJoint.words(c).slice();
      for (let q = 0; q < Q; q++) {
        const qb = this.ports.bits(q);
        if (!this.inRestrictionPort(qb)) continue;
        for (let i = 0; i < k; i++) joint[i] = this.sdpState(i, jw[i], qb, sbufs[i]);
        joint[k] = jw[k];
        this.sdpOf[c * Q + q] = this.sdpJoint.intern(joint);
      }
    }
    return true;
  }

  private inRestrictionPort(qb: Uint32Array): boolean {
    return hasBit(qb, this.portRestrictBit);
  }

  /** Policy i's view of a source and destination atom: prefilter candidates, SI network outcome, rules. */
  private sdState(i: number, sb: Uint32Array, db: Uint32Array, buf: Uint32Array): number {
    const v = this.views[i];
    const a = this.aBase[i];
    for (let w = 0; w < v.pW; w++) buf[w] = sb[a + w] & db[a + w];
    let block = -1;
    let dnb = 0;
    const l = a + v.pW;
    for (let w = 0; w < v.lW; w++) {
      const x = sb[l + w] | db[l + w];
      const blk = x & v.blockLists[w];
      if (blk !== 0 && block < 0) block = w * 32 + (31 - Math.clz32(blk & -blk));
      dnb |= x & v.dnbLists[w];
    }
    const si = block >= 0 && dnb === 0 ? block : -1;
    buf[v.pW] = si + 1;
    const rr = l + v.lW;
    const drop = si >= 0 && !this.keepAll;
    for (let w = 0; w < v.rW; w++) buf[v.pW + 1 + w] = drop ? 0 : sb[rr + w] & db[rr + w];
    return this.sdPolicy[i].intern(buf);
  }

  /** Policy i's state once the port is known: decided (prefilter, SI network) or the rules left and TSID. */
  private sdpState(i: number, sd: number, qb: Uint32Array, buf: Uint32Array): number {
    const v = this.views[i];
    const w0 = this.sdPolicy[i].words(sd);
    const q = this.qBase[i];
    buf.fill(0);
    let decided = -1;
    for (let w = 0; w < v.pW; w++) {
      const x = w0[w] & qb[q + w];
      if (x !== 0) {
        const f = w * 32 + (31 - Math.clz32(x & -x));
        decided = v.prefilterOutcome[f];
        break;
      }
    }
    const si = w0[v.pW] - 1;
    if (decided < 0 && si >= 0) decided = v.listOutcome[si];
    buf[0] = decided + 1;
    if (decided >= 0 && !this.keepAll) return this.sdpPolicy[i].intern(buf);
    let tsidRule = -1;
    const left = this.scratch(v.rW);
    for (let w = 0; w < v.rW; w++) {
      const x = w0[v.pW + 1 + w] & qb[q + v.pW + w];
      if (tsidRule < 0 && (x & v.tsidMask[w]) !== 0) {
        const t = x & v.tsidMask[w];
        tsidRule = w * 32 + (31 - Math.clz32(t & -t));
      }
      left[w] = x & v.decMask[w];
    }
    const t = v.tsidOf(tsidRule);
    let ti = this.tsids.indexOf(t);
    if (ti < 0) ti = this.tsids.push(t) - 1;
    buf[1] = ti + 1;
    if (this.keepAll) {
      buf.set(left.subarray(0, v.rW), 2);
      return this.sdpPolicy[i].intern(buf);
    }
    // Names pick among the rules left: the conditional ones (URL, application) up to the first
    // rule without such conditions, which takes every name the earlier ones leave. Only that
    // much is kept, so rule sets that differ beyond it are one state.
    const f0 = firstSetFrom(left, v.uncondMask, 0);
    buf[2] = f0 + 1;
    const last = f0 >= 0 ? f0 : v.rW * 32;
    for (let w = 0; w < v.rW; w++) buf[3 + w] = left[w] & v.condMask[w] & lowMask(w, last);
    return this.sdpPolicy[i].intern(buf);
  }

  /** Words before the rule bits in a state: decided, TSID, and the first unconditional rule unless all are kept. */
  private get sdpHead(): number {
    return this.keepAll ? 2 : 3;
  }

  private readonly sigTables: { si: Int32Array; match: Uint32Array; rW: number }[] = [];
  private scratchBuf = new Uint32Array(0);
  private scratch(n: number): Uint32Array {
    if (this.scratchBuf.length < n) this.scratchBuf = new Uint32Array(n);
    return this.scratchBuf;
  }

  /** The TSID setting ('off' or 'on/<profile>') policy i applies in a state; null when decided before names. */
  tsidOf(state: number, i: number): string | null {
    const w = this.sdpPolicy[i].words(this.sdpJoint.words(state)[i]);
    return w[0] !== 0 ? null : this.tsids[w[1] - 1];
  }

  get states(): number {
    return this.sdpJoint.size;
  }

  /**
   * Walk every leaf. Returns false when a bound stopped it before the end (the analysis is
   * then incomplete, and says so in limits).
   */
  walk(visit: LeafVisitor): boolean {
    if (!this.build()) return false;
    const k = this.views.length;
    const N = this.nameSigs.length;
    if (!this.spend(this.states * (N + 1), 'states x name groups')) return false;
    const out = new Int32Array(k);
    const plans = this.views.map(newPlan);
    for (let st = 0; st < this.states; st++) {
      const jw = this.sdpJoint.words(st);
      for (let i = 0; i < k; i++) this.plan(i, jw[i], plans[i]);
      const ipSig = jw[k];
      for (let n = 0; n <= N; n++) {
        const sig = n < N ? this.nameSigs[n] : ipSig;
        for (let i = 0; i < k; i++) out[i] = this.decide(i, plans[i], sig);
        if (visit(st, sig, n === N, out) === true) return true;
      }
    }
    return true;
  }

  private plan(i: number, sdp: number, into: Plan): void {
    const v = this.views[i];
    const w = this.sdpPolicy[i].words(sdp);
    into.decided = w[0] - 1;
    into.cond = [];
    into.uncond = [];
    if (this.keepAll) {
      const left = w.subarray(2, 2 + v.rW);
      const un = new Uint32Array(v.rW);
      const co = new Uint32Array(v.rW);
      for (let x = 0; x < v.rW; x++) {
        un[x] = left[x] & v.uncondMask[x];
        co[x] = left[x] & v.condMask[x];
      }
      into.uncond = bitsOf(un);
      into.cond = bitsOf(co);
    } else if (into.decided < 0) {
      if (w[2] !== 0) into.uncond.push(w[2] - 1);
      into.cond = bitsOf(w, 3, 3 + v.rW);
    }
    into.fallback = into.uncond.length > 0 ? v.ruleOutcome[into.uncond[0]] : v.defaultOutcome;
  }

  /** Per policy: each name group's SI outcome (-1: none) and which conditional rules it meets. */
  private sigTable(i: number): { si: Int32Array; match: Uint32Array; rW: number } {
    const got = this.sigTables[i];
    if (got && got.si.length === this.sigs.count) return got;
    const rW = this.views[i].rW;
    const n = this.sigs.count;
    const si = new Int32Array(n);
    const match = new Uint32Array(n * rW);
    for (let g = 0; g < n; g++) {
      const part = this.sigs.part(g, i);
      si[g] = part[0] - 1;
      match.set(part.subarray(3, 3 + rW), g * rW);
    }
    return (this.sigTables[i] = { si, match, rW });
  }

  /** The first rule deciding among the plan's for a name group, or -1 (then the fallback). */
  private matchesRule(i: number, sig: number, r: number): boolean {
    const t = this.sigTable(i);
    const bit = sig * t.rW * 32 + r;
    return ((t.match[bit >>> 5] >>> (bit & 31)) & 1) === 1;
  }

  /** The first conditional rule before the first unconditional one that takes a name group, or -1. */
  private firstRule(i: number, plan: Plan, sig: number): number {
    const stop = plan.uncond.length > 0 ? plan.uncond[0] : Infinity;
    for (const r of plan.cond) {
      if (r > stop) break;
      if (this.matchesRule(i, sig, r)) return r;
    }
    return -1;
  }

  /**
   * Walk every leaf of policy 0 with every deciding rule its flows meet, for lint (built with
   * keepAllRules): `before` is the prefilter or SI outcome that decides ahead of the rules (-1:
   * none), `rules` the rules whose conditions hold, ascending. False when the bound stopped it.
   */
  walkRules(visit: (state: number, sig: number, viaAddress: boolean, before: number, rules: readonly number[]) => void): boolean {
    if (!this.keepAll) throw new Error('walkRules needs keepAllRules');
    if (!this.build()) return false;
    const N = this.nameSigs.length;
    const plan = newPlan();
    for (let st = 0; st < this.states; st++) {
      this.plan(0, this.sdpJoint.words(st)[0], plan);
      if (!this.spend((N + 1) * (plan.uncond.length + plan.cond.length + 1), 'states x name groups x rules')) return false;
      const ipSig = this.sdpJoint.words(st)[1];
      const si = this.sigTable(0).si;
      for (let n = 0; n <= N; n++) {
        const sig = n < N ? this.nameSigs[n] : ipSig;
        const rules: number[] = [];
        let u = 0;
        for (const r of plan.cond) {
          if (!this.matchesRule(0, sig, r)) continue;
          while (u < plan.uncond.length && plan.uncond[u] < r) rules.push(plan.uncond[u++]);
          rules.push(r);
        }
        while (u < plan.uncond.length) rules.push(plan.uncond[u++]);
        visit(st, sig, n === N, plan.decided >= 0 ? plan.decided : si[sig], rules);
      }
    }
    return true;
  }

  private decide(i: number, plan: Plan, sig: number): number {
    if (plan.decided >= 0) return plan.decided;
    const t = this.sigTable(i);
    if (t.si[sig] >= 0) return t.si[sig];
    const r = this.firstRule(i, plan, sig);
    return r >= 0 ? this.views[i].ruleOutcome[r] : plan.fallback;
  }

  /** The outcome policy i gives a leaf (what walk() reports for it). */
  outcomeOf(state: number, sig: number, i: number): number {
    return this.deciderOf(state, i)(sig);
  }

  /** Policy i's outcome for each name group of a state (the state read once). */
  deciderOf(state: number, i: number): (sig: number) => number {
    const plan = newPlan();
    this.plan(i, this.sdpJoint.words(state)[i], plan);
    return (sig) => this.decide(i, plan, sig);
  }

  /** The name group of a state's destination address used as the name. */
  ipSigOf(state: number): number {
    return this.sdpJoint.words(state)[this.views.length];
  }

  /**
   * Where a concrete flow falls; `name` null means the destination address is the name. Null
   * when the flow is outside the walked space (restriction, bound) or its name's group was
   * never met by the partition (which would be a bug the cross-check test looks for).
   */
  locate(src: string, dst: string, dport: number, name: string | null): Location | null {
    if (!this.build()) return null;
    const a = parseAddress(src);
    const b = parseAddress(dst);
    if (!a || !b || a.family !== b.family) return null;
    const f = this.families.find((x) => x.family === a.family)!;
    const s = f.src.locate(toBig(a));
    const d = f.dst.locate(toBig(b));
    const c = f.sdOf[s * f.dst.count + d];
    const q = this.ports.locate(dport);
    if (c < 0 || q < 0) return null;
    const state = this.sdpOf[c * this.ports.count + q];
    if (state < 0) return null;
    const sig = name === null ? f.ipSig[d] : this.sigs.classify(name);
    if (sig < 0 || (name !== null && !this.nameSigSet.has(sig))) return null;
    return { family: f.family, s, d, q, state, sig, viaAddress: name === null };
  }

  /** The state of a cell (sd class c, port atom q), -1 outside the walked space. */
  stateOf(c: number, q: number): number {
    return this.build() ? this.sdpOf[c * this.ports.count + q] : -1;
  }

  /** The (sd class, port atom) cells of each of the given states. */
  cellsOf(states: ReadonlySet<number>): Map<number, [number, number][]> {
    const out = new Map<number, [number, number][]>();
    if (!this.build()) return out;
    const Q = this.ports.count;
    for (let x = 0; x < this.sdpOf.length; x++) {
      const st = this.sdpOf[x];
      if (st < 0 || !states.has(st)) continue;
      let l = out.get(st);
      if (!l) out.set(st, (l = []));
      l.push([Math.floor(x / Q), x % Q]);
    }
    return out;
  }

  private pairIndex: { start: Int32Array; items: Int32Array } | null = null;

  /** The (family index, source atom, destination atom) pairs of an sd class, as triples. */
  pairsOf(c: number): Int32Array {
    if (this.pairIndex === null) {
      const C = this.sdJoint.size;
      const start = new Int32Array(C + 1);
      for (const f of this.families) for (const x of f.sdOf) if (x >= 0) start[x + 1]++;
      for (let k = 0; k < C; k++) start[k + 1] += start[k];
      const items = new Int32Array(start[C] * 3);
      const at = start.slice(0, C);
      this.families.forEach((f, fi) => {
        const D = f.dst.count;
        for (let x = 0; x < f.sdOf.length; x++) {
          const c = f.sdOf[x];
          if (c < 0) continue;
          const o = at[c]++ * 3;
          items[o] = fi;
          items[o + 1] = Math.floor(x / D);
          items[o + 2] = x % D;
        }
      });
      this.pairIndex = { start, items };
    }
    const { start, items } = this.pairIndex;
    return items.subarray(start[c] * 3, start[c + 1] * 3);
  }
}

export type { FamilyPart };
