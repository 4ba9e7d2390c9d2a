// One policy as the analysis reads it: where its rules, prefilter rules and Security
// Intelligence lists sit in the bit sets of each dimension, what each of them decides, and the
// "name signature" of a server name — everything evaluate() derives from the name (the SI
// URL/DNS outcome, the URL database record, the application, which rules' URL and application
// conditions hold). The signature is computed by the same matchers evaluate() uses, on a
// concrete witness name of each class.
import { asCompiled, type CompiledPolicy, type CompiledRule } from '../compiled.js';
import { lowerHost, type DomainSet, type UrlDbRecord } from '../domains.js';
import { DomainSet as DomainSetClass } from '../domains.js';
import type { Policy, VerdictAction } from '../types.js';
import { setBit, wordsFor } from './bitset.js';
import { domainPattern, endingPattern, type NamePattern } from './names.js';

/** What decides a flow: the action and the rule, SI list, prefilter rule or default action. */
export interface Outcome {
  readonly action: VerdictAction;
  readonly rule: string;
  readonly by: 'prefilter' | 'security-intelligence' | 'rule' | 'default-action';
}

/** Outcomes of every policy of one analysis, one id per distinct (action, rule). */
export class Outcomes {
  readonly list: Outcome[] = [];
  private readonly ids = new Map<string, number>();
  id(o: Outcome): number {
    const k = `${o.action}\u0000${o.rule}`;
    let id = this.ids.get(k);
    if (id === undefined) {
      id = this.list.length;
      this.list.push(o);
      this.ids.set(k, id);
    }
    return id;
  }
}

/** Why the analysis does not cover every flow (printed with complete: false). */
export class Limits {
  readonly reasons: string[] = [];
  add(reason: string): void {
    if (!this.reasons.includes(reason)) this.reasons.push(reason);
  }
}

function defaultVerdict(p: CompiledPolicy): VerdictAction {
  return p.defaultAction === 'Block all traffic' ? 'Block' : p.defaultAction === 'Trust all traffic' ? 'Trust' : 'Allow';
}

function isCanonicalOctet(l: string): boolean {
  return /^(0|[1-9]\d{0,2})$/.test(l) && Number(l) <= 255;
}

export class PolicyView {
  readonly p: CompiledPolicy;
  /** Words per section: prefilter rules, SI lists, rules. */
  readonly pW: number;
  readonly lW: number;
  readonly rW: number;
  /** Deciding rules (enabled, not Monitor), rules with a TSID override, deciding rules without name conditions. */
  readonly decMask: Uint32Array;
  readonly tsidMask: Uint32Array;
  readonly uncondMask: Uint32Array;
  /** Deciding rules with a URL or application condition. */
  readonly condMask: Uint32Array;
  readonly noUrlMask: Uint32Array;
  readonly blockLists: Uint32Array;
  readonly dnbLists: Uint32Array;
  readonly ruleOutcome: Int32Array;
  /** Per prefilter rule: its outcome, -1 for Analyze. */
  readonly prefilterOutcome: Int32Array;
  readonly listOutcome: Int32Array;
  readonly defaultOutcome: number;
  private readonly ruleHosts = new DomainSetClass();
  private readonly substringRules: { readonly rule: number; readonly subs: readonly string[] }[] = [];
  private readonly recIds = new Map<UrlDbRecord, number>();
  private readonly catMasks = new Map<UrlDbRecord, Uint32Array>();
  private readonly appMasks = new Map<number, Uint32Array>();

  constructor(policy: Policy, outcomes: Outcomes) {
    const p = asCompiled(policy);
    this.p = p;
    this.pW = wordsFor(p.prefilter.length);
    this.lW = wordsFor(p.siLists.length);
    this.rW = wordsFor(p.rules.length);
    const mask = () => new Uint32Array(this.rW);
    this.decMask = mask();
    this.tsidMask = mask();
    this.uncondMask = mask();
    this.condMask = mask();
    this.noUrlMask = mask();
    this.ruleOutcome = new Int32Array(p.rules.length).fill(-1);
    p.rules.forEach((r, i) => {
      if (!r.enabled) return;
      if (r.tsid !== null) setBit(this.tsidMask, i);
      if (r.action === 'Monitor') return;
      setBit(this.decMask, i);
      setBit(r.url === null && r.apps === null ? this.uncondMask : this.condMask, i);
      if (r.url === null) setBit(this.noUrlMask, i);
      this.ruleOutcome[i] = outcomes.id({ action: r.action as VerdictAction, rule: r.name, by: 'rule' });
      if (r.url?.hosts) r.url.hosts.forEachEntry((e) => this.ruleHosts.add(e, i));
      if (r.url && r.url.substrings.length > 0) this.substringRules.push({ rule: i, subs: r.url.substrings });
    });
    this.prefilterOutcome = Int32Array.from(p.prefilter, (pf) =>
      pf.action === 'Analyze' ? -1 : outcomes.id({ action: pf.action === 'Fastpath' ? 'Trust' : 'Block', rule: pf.name, by: 'prefilter' }),
    );
    this.blockLists = new Uint32Array(this.lW);
    this.dnbLists = new Uint32Array(this.lW);
    this.listOutcome = Int32Array.from(p.siLists, (l) => outcomes.id({ action: 'Block with reset', rule: l.name, by: 'security-intelligence' }));
    p.siLists.forEach((l, i) => {
      if (l.action === 'block') setBit(this.blockLists, i);
      else if (l.action === 'do-not-block') setBit(this.dnbLists, i);
    });
    this.defaultOutcome = outcomes.id({ action: defaultVerdict(p), rule: 'Default Action', by: 'default-action' });
  }

  /** The TSID setting of a flow whose first matching TSID-override rule is `rule` (-1: none). */
  tsidOf(rule: number): string {
    const base = this.p.settings.tsid;
    const t = rule >= 0 && !this.p.tsidForced ? { ...base, ...this.p.rules[rule].tsid } : base;
    return t.enabled ? `on/${t.profile}` : 'off';
  }

  /**
   * The name patterns this policy's lookups use, and notes on what the model leaves out. Path
   * entries match plain HTTP requests only (a TLS flow has no path).
   */
  patterns(out: Map<string, NamePattern>, limits: Limits): void {
    const p = this.p;
    const add = (pt: NamePattern) => out.set(`${pt.exact ? '=' : ''}${pt.partialEnd ?? ''}|${pt.labels.join('.')}`, pt);
    const fromSet = (set: DomainSet, what: string) =>
      set.forEachEntry((e) => {
        if (e.path !== null) limits.add(`${what} entry '${e.host}${e.path}' has a path: it matches plain HTTP requests (explicit listener), which the model of TLS flows leaves out`);
        else add(domainPattern(e.host, e.exact));
      });
    fromSet(p.siUrl, 'Security Intelligence URL');
    fromSet(p.siDns, 'Security Intelligence DNS');
    fromSet(p.apps, 'application');
    fromSet(this.ruleHosts, 'URL condition');
    p.urlDb.forEachDomain((d) => add(domainPattern(d, false)));
    for (const { subs } of this.substringRules) {
      for (const s of subs) {
        const slash = s.indexOf('/');
        if (slash < 0 || p.settings.urlMatching === 'legacy-substring') {
          if (slash !== s.length - 1) {
            limits.add(`urlMatching legacy-substring: entry '${s}' matches anywhere inside a name, which the model does not partition`);
            continue;
          }
        }
        if (slash !== s.length - 1) {
          limits.add(`URL entry '${s}' has a path: it matches plain HTTP requests (explicit listener), which the model of TLS flows leaves out`);
          continue;
        }
        if (s.includes('*')) limits.add(`URL entry '${s}' holds a literal '*', which the model reads as a wildcard label`);
        const pt = endingPattern(s.slice(0, -1));
        if (pt) add(pt);
      }
    }
  }

  /** Categories the rules' URL conditions name ('Any' aside). */
  ruleCategories(): string[] {
    const out = new Set<string>();
    for (const r of this.p.rules) for (const c of r.url?.categories ?? []) if (c.category !== 'Any') out.add(c.category);
    return [...out];
  }

  private recId(rec: UrlDbRecord): number {
    let id = this.recIds.get(rec);
    if (id === undefined) this.recIds.set(rec, (id = this.recIds.size));
    return id;
  }

  private catMask(rec: UrlDbRecord): Uint32Array {
    let m = this.catMasks.get(rec);
    if (m) return m;
    m = new Uint32Array(this.rW);
    this.p.rules.forEach((r, i) => {
      for (const c of r.url?.categories ?? []) {
        if ((c.levels & (1 << rec.reputation)) !== 0 && (c.category === 'Any' || rec.categories.includes(c.category))) setBit(m!, i);
      }
    });
    this.catMasks.set(rec, m);
    return m;
  }

  private appMask(app: number): Uint32Array {
    let m = this.appMasks.get(app);
    if (m) return m;
    m = new Uint32Array(this.rW);
    this.p.rules.forEach((r: CompiledRule, i) => {
      if (r.apps === null || r.apps.has(app)) setBit(m!, i);
    });
    this.appMasks.set(app, m);
    return m;
  }

  /** The application evaluate() names for a host: the lowest id among matching entries. */
  appOf(host: string): number {
    if (this.p.appNames.length === 0) return -1;
    let best = -1;
    this.p.apps.forEach(host, null, (ids) => {
      if (best < 0 || ids[0] < best) best = ids[0];
    });
    return best;
  }

  /** The SI URL/DNS outcome for a host (a TLS flow: no path), or -1 when SI lets it on. */
  siNameOutcome(host: string): number {
    for (const set of [this.p.siUrl, this.p.siDns]) {
      if (set.size === 0) continue;
      let block = -1;
      let dnb = false;
      set.forEach(host, null, (ids) => {
        for (const id of ids) {
          const a = this.p.siLists[id].action;
          if (a === 'block' && block < 0) block = id;
          else if (a === 'do-not-block') dnb = true;
        }
      });
      if (block >= 0 && !dnb) return this.listOutcome[block];
    }
    return -1;
  }

  /** Words of this policy's signature: [si outcome + 1, record id, app + 1, condition bits (rW)]. */
  get sigWidth(): number {
    return 3 + this.rW;
  }

  /**
   * Write the signature of `name` at out[o..]; returns the URL database record. `assumed`
   * stands for the record of a name the database does not list (lint: Talos may know it).
   */
  signature(name: string, out: Uint32Array, o: number, assumed?: UrlDbRecord): UrlDbRecord {
    const host = lowerHost(name);
    const rec = assumed ?? this.p.urlDb.lookup(host);
    const app = this.appOf(host);
    out[o] = this.siNameOutcome(host) + 1;
    out[o + 1] = this.recId(rec);
    out[o + 2] = app + 1;
    const m = out.subarray(o + 3, o + 3 + this.rW);
    m.set(this.catMask(rec));
    this.ruleHosts.forEach(host, null, (ids) => {
      for (const id of ids) setBit(m, id);
    });
    if (this.substringRules.length > 0) {
      const subject = `${host}/`;
      for (const { rule, subs } of this.substringRules) if (subs.some((s) => subject.includes(s))) setBit(m, rule);
    }
    const apps = this.appMask(app);
    for (let w = 0; w < this.rW; w++) m[w] = (m[w] | this.noUrlMask[w]) & apps[w] & this.condMask[w];
    return rec;
  }

  /**
   * What a signature takes from the name besides its URL database record: SI outcome + 1,
   * application + 1, and the rules whose host or substring entries match (out[o..o+2+rW)).
   * Equal facts mean equal signatures under any record.
   */
  nameFacts(name: string, out: Uint32Array, o: number): void {
    const host = lowerHost(name);
    out[o] = this.siNameOutcome(host) + 1;
    out[o + 1] = this.appOf(host) + 1;
    const m = out.subarray(o + 2, o + 2 + this.rW);
    m.fill(0);
    this.ruleHosts.forEach(host, null, (ids) => {
      for (const id of ids) setBit(m, id);
    });
    const subject = `${host}/`;
    for (const { rule, subs } of this.substringRules) if (subs.some((s) => subject.includes(s))) setBit(m, rule);
  }
}

/**
 * Addresses whose text a name entry matches exactly (the destination address is the name
 * when nothing else names the server), and a note when an entry matches address texts in a
 * pattern the address classes cannot follow ('4' matches every a.b.c.4).
 */
export function addressNames(patterns: Iterable<NamePattern>, limits: Limits, out: Set<bigint>): void {
  for (const pt of patterns) {
    if (pt.partialEnd !== null) {
      const text = [pt.partialEnd, ...[...pt.labels].reverse()].join('.');
      if (/^[0-9a-f:.]*$/.test(text)) limits.add(`URL entry '${text}/' can match the text of destination addresses (used as the name when none is known)`);
      continue;
    }
    if (!pt.labels.every((l) => l === '*' || /^\d+$/.test(l)) || pt.labels.every((l) => l === '*') || pt.labels.length > 4) continue;
    if (pt.labels.length === 4 && pt.labels.every(isCanonicalOctet)) {
      const [d, c, b, a] = pt.labels.map(Number);
      out.add(BigInt(((a * 256 + b) * 256 + c) * 256 + d));
    } else limits.add(`entry '${[...pt.labels].reverse().join('.')}' matches the text of many destination addresses (used as the name when none is known), which the address classes do not follow`);
  }
}
