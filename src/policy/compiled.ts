// The compiled policy model: what compile() builds and evaluate(), lint() and the snapshot
// code read. Every matcher is built once at load time (IpSet, DomainSet, port ranges, the
// rule index) so that evaluation only looks things up. Immutable: a reload builds a new one.
import type { TsidSetting } from '../identity/index.js';
import type { PeekwallError } from '../util/errors.js';
import type { DomainSet, UrlDatabase } from './domains.js';
import type { IpSet } from './ip.js';
import type { RuleIndex } from './ruleindex.js';
import type { DefaultAction, Policy, PolicyRuleInfo, PolicySettings, SiListInfo } from './types.js';
import type { Pos } from '../schema/index.js';

export const PREFILTER_ACTIONS = ['Fastpath', 'Block', 'Analyze'] as const;
export type PrefilterAction = (typeof PREFILTER_ACTIONS)[number];

/** One URL category condition, reputation as a set of levels 0..5 (bit i = level i). */
export interface CategoryCondition {
  readonly category: string; // 'Any' matches every category
  readonly levels: number; // bitmask
  readonly text: string;
}

export interface UrlCondition {
  /** Entries without '/' (current mode): label-aligned host match. */
  readonly hosts: DomainSet | null;
  /** The same entries as parsed host patterns (lower-case, no scheme/port/trailing dot), for lint. */
  readonly hostEntries: readonly string[];
  /** Entries with '/' (current mode), or every entry (legacy mode): substrings of host+path. */
  readonly substrings: readonly string[];
  readonly categories: readonly CategoryCondition[];
  readonly text: string;
}

export interface CompiledRule extends PolicyRuleInfo {
  readonly index: number;
  readonly src: IpSet | null;
  readonly dst: IpSet | null;
  readonly srcText: string;
  readonly dstText: string;
  /** Inclusive port ranges as pairs; null = any. */
  readonly ports: Int32Array | null;
  readonly portsText: string;
  /** Application ids; null = any. */
  readonly apps: ReadonlySet<number> | null;
  readonly appsText: string;
  readonly url: UrlCondition | null;
  readonly log: { readonly beginning: boolean; readonly end: boolean };
  readonly tsid: Partial<TsidSetting> | null;
  /** Object names referenced (for lint). */
  readonly refs: readonly string[];
  /** [name], frozen: Verdict.rulesMatched when this rule decides alone (no allocation). */
  readonly selfList: readonly string[];
}

export interface CompiledPrefilterRule {
  readonly name: string;
  readonly action: PrefilterAction;
  readonly src: IpSet | null;
  readonly dst: IpSet | null;
  readonly ports: Int32Array | null;
  readonly refs: readonly string[];
}

export interface CompiledSiList extends SiListInfo {
  readonly index: number;
  readonly ips: IpSet | null;
}

/** The object table as declared (for lint: unused and overlapping objects). */
export interface ObjectInfo {
  readonly kind: 'network' | 'port' | 'url' | 'application';
  readonly name: string;
  readonly at: Pos;
  readonly file: string;
  readonly values: readonly string[];
  readonly ips?: IpSet;
}

export class CompiledPolicy implements Policy {
  constructor(
    readonly name: string,
    readonly file: string,
    readonly settings: PolicySettings,
    readonly defaultAction: DefaultAction,
    readonly rules: readonly CompiledRule[],
    readonly siLists: readonly CompiledSiList[],
    readonly prefilter: readonly CompiledPrefilterRule[],
    readonly siUrl: DomainSet,
    readonly siDns: DomainSet,
    readonly urlDb: UrlDatabase,
    readonly appNames: readonly string[],
    readonly apps: DomainSet,
    readonly objects: readonly ObjectInfo[],
    readonly index: RuleIndex,
    /** Set by overrideTsid (CLI --tsid): wins over rule-level lab overrides. */
    readonly tsidForced: boolean,
    readonly warnings: readonly PeekwallError[],
  ) {}

  with(o: { settings?: PolicySettings; tsidForced?: boolean }): CompiledPolicy {
    return new CompiledPolicy(
      this.name, this.file, o.settings ?? this.settings, this.defaultAction, this.rules, this.siLists,
      this.prefilter, this.siUrl, this.siDns, this.urlDb, this.appNames, this.apps, this.objects,
      this.index, o.tsidForced ?? this.tsidForced, this.warnings,
    );
  }
}

/** A copy of the policy with TSID forced (CLI `--tsid on|off`, `--profile`): wins over rule overrides. */
export function overrideTsid(policy: Policy, tsid: Partial<TsidSetting>): Policy {
  const p = asCompiled(policy);
  return p.with({ settings: { ...p.settings, tsid: { ...p.settings.tsid, ...tsid } }, tsidForced: true });
}

export function asCompiled(policy: Policy): CompiledPolicy {
  if (!(policy instanceof CompiledPolicy)) throw new TypeError('policy was not created by parsePolicy/loadPolicyFile');
  return policy;
}
