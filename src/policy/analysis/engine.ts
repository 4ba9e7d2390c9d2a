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
import { DomainSet, parseDomainEntry } from '../domains.js';
import type { IpSet } from '../ip.js';
import { parseAddress } from '../ip.js';
import type { Policy } from '../types.js';
import { Interner, bitsOf, firstBit, hasBit } from './bitset.js';
import { partitionAddresses, toBig, type AddressAtoms, type AddressTrack } from './addresses.js';
import { addressNames, Limits, Outcomes, PolicyView } from './model.js';
import { domainPattern, partitionNames, type NamePattern } from './names.js';
import { partitionPorts, type PortAtoms, type PortTrack } from './ports.js';
import { Signatures } from './signatures.js';

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
}

export const DEFAULT_MAX_WORK = 300_000_000;

/** Visit one leaf; return true to stop the walk. `outcomes[i]` is policy i's outcome id. */
export type LeafVisitor = (state: number, sig: number, viaAddress: boolean, outcomes: Int32Array) => boolean | void;

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
  private work = 0;
  /** False when a bound stopped the walk. */
  bounded = true;

  constructor(policies: readonly Policy[], opts: AnalysisOptions = {}) {
    this.maxWork = opts.maxWork ?? DEFAULT_MAX_WORK;
    const r = opts.restrict ?? {};
    this.views = policies.map((p) => new PolicyView(p, this.outcomes));
    let aw = 0;
    let qw = 0;
    for (const v of this.views) {
      this.aBase.push(aw);
      this.qBase.push(qw);
      aw += v.pW + v.lW + v.rW;
      qw += v.pW + v.rW;
    }
    this.restrictWord = aw;
    const aWidth = aw + 1;
    const qWidth = qw + 1;
    const restrictBit = aw * 32;

    // Names first: the destination partition needs the addresses some name entry spells.
    const patterns = new Map<string, NamePattern>();
    for (const v of this.views) v.patterns(patterns, this.limits);
    let namePattern: ((host: string) => boolean) | null = null;
    if (r.name !== undefined) {
      const e = parseDomainEntry(r.name);
      if (typeof e === 'string') throw new Error(e);
      const set = new DomainSet();
      set.add(e, 0);
      namePattern = (h) => set.first(h, null) !== null;
      patterns.set(`restrict|${r.name}`, domainPattern(e.host, e.exact));
    }
    const singles = new Set<bigint>();
    addressNames(patterns.values(), this.limits, singles);
    this.sigs = new Signatures(this.views, namePattern);
    const part = partitionNames([...patterns.values()], (c) => {
      const id = this.sigs.add(c);
      if (!this.nameSigSet.has(id)) {
        this.nameSigSet.add(id);
        this.nameSigs.push(id);
      }
    });
    this.nameClasses = part.classes;
    if (part.unwitnessed > 0) this.limits.add(`${part.unwitnessed} name class(es) have no witness name within the search bound`);

    const tracks = (side: 'src' | 'dst'): AddressTrack[] => {
      const out: AddressTrack[] = [];
      this.views.forEach((v, i) => {
        const b = this.aBase[i] * 32;
        v.p.prefilter.forEach((pf, k) => out.push({ set: pf[side], bit: b + k }));
        v.p.siLists.forEach((l, k) => l.ips && out.push({ set: l.ips, bit: b + v.pW * 32 + k }));
        v.p.rules.forEach((rule, k) => rule.enabled && out.push({ set: rule[side], bit: b + (v.pW + v.lW) * 32 + k }));
      });
      out.push({ set: r[side] ?? null, bit: restrictBit });
      return out;
    };
    const portTracks: PortTrack[] = [];
    this.views.forEach((v, i) => {
      const b = this.qBase[i] * 32;
      v.p.prefilter.forEach((pf, k) => portTracks.push({ ranges: pf.ports, bit: b + k }));
      v.p.rules.forEach((rule, k) => rule.enabled && portTracks.push({ ranges: rule.ports, bit: b + v.pW * 32 + k }));
    });
    this.portRestrictBit = qw * 32;
    portTracks.push({ ranges: r.ports ?? null, bit: this.portRestrictBit });
    this.ports = partitionPorts(qWidth, portTracks);

    this.sdPolicy = this.views.map((v) => new Interner(v.pW + 1 + v.rW));
    this.sdpPolicy = this.views.map((v) => new Interner(2 + v.rW));
    this.sdJoint = new Interner(this.views.length + 1);
    this.sdpJoint = new Interner(this.views.length + 1);
    const srcT = tracks('src');
    const dstT = tracks('dst');
    for (const family of [4, 6] as const) {
      const src = partitionAddresses(family, aWidth, srcT);
      const dst = partitionAddresses(family, aWidth, dstT, family === 4 ? [...singles] : []);
      const ipSig = new Int32Array(dst.count).fill(-1);
      for (let d = 0; d < dst.count; d++) if (dst.inSpace(d)) ipSig[d] = this.sigs.addressGroup(dst.witnessText(d));
      this.families.push({ family, src, dst, sdOf: new Int32Array(0), ipSig });
    }
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
    const sbufs = this.views.map((v) => new Uint32Array(2 + v.rW));
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
    for (let w = 0; w < v.rW; w++) buf[v.pW + 1 + w] = si >= 0 ? 0 : sb[rr + w] & db[rr + w];
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
    if (decided >= 0) {
      buf[0] = decided + 1;
      return this.sdpPolicy[i].intern(buf);
    }
    let tsidRule = -1;
    for (let w = 0; w < v.rW; w++) {
      const x = w0[v.pW + 1 + w] & qb[q + v.pW + w];
      if (tsidRule < 0 && (x & v.tsidMask[w]) !== 0) {
        const t = x & v.tsidMask[w];
        tsidRule = w * 32 + (31 - Math.clz32(t & -t));
      }
      buf[2 + w] = x & v.decMask[w];
    }
    const t = v.tsidOf(tsidRule);
    let ti = this.tsids.indexOf(t);
    if (ti < 0) ti = this.tsids.push(t) - 1;
    buf[1] = ti + 1;
    return this.sdpPolicy[i].intern(buf);
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
    const plans = this.views.map(() => ({ decided: -1, cond: [] as number[], fallback: -1 }));
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

  private plan(i: number, sdp: number, into: { decided: number; cond: number[]; fallback: number }): void {
    const v = this.views[i];
    const w = this.sdpPolicy[i].words(sdp);
    into.decided = w[0] - 1;
    into.cond = [];
    if (into.decided >= 0) return;
    const rdec = w.subarray(2);
    const un = new Uint32Array(v.rW);
    const co = new Uint32Array(v.rW);
    for (let x = 0; x < v.rW; x++) {
      un[x] = rdec[x] & v.uncondMask[x];
      co[x] = rdec[x] & v.condMask[x];
    }
    const f0 = firstBit(un);
    into.fallback = f0 >= 0 ? v.ruleOutcome[f0] : v.defaultOutcome;
    into.cond = bitsOf(co).filter((r) => f0 < 0 || r < f0);
  }

  private decide(i: number, plan: { decided: number; cond: number[]; fallback: number }, sig: number): number {
    if (plan.decided >= 0) return plan.decided;
    const part = this.sigs.part(sig, i);
    if (part[0] !== 0) return part[0] - 1;
    const v = this.views[i];
    for (const r of plan.cond) if (hasBit(part, 3 * 32 + r)) return v.ruleOutcome[r];
    return plan.fallback;
  }

  /** The outcome policy i gives a leaf (what walk() reports for it). */
  outcomeOf(state: number, sig: number, i: number): number {
    const plan = { decided: -1, cond: [] as number[], fallback: -1 };
    this.plan(i, this.sdpJoint.words(state)[i], plan);
    return this.decide(i, plan, sig);
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

  /** Every (family, source atom, destination atom, port atom) box of the given states. */
  boxes(states: ReadonlySet<number>, visit: (f: FamilyPart, s: number, d: number, q: number, state: number) => void): void {
    if (!this.build()) return;
    const Q = this.ports.count;
    const byClass = new Map<number, [number, number][]>();
    for (let c = 0; c < this.sdJoint.size; c++) {
      for (let q = 0; q < Q; q++) {
        const st = this.sdpOf[c * Q + q];
        if (st >= 0 && states.has(st)) {
          let l = byClass.get(c);
          if (!l) byClass.set(c, (l = []));
          l.push([q, st]);
        }
      }
    }
    if (byClass.size === 0) return;
    for (const f of this.families) {
      const D = f.dst.count;
      for (let x = 0; x < f.sdOf.length; x++) {
        const l = byClass.get(f.sdOf[x]);
        if (l) for (const [q, st] of l) visit(f, Math.floor(x / D), x % D, q, st);
      }
    }
  }
}

export type { FamilyPart };
