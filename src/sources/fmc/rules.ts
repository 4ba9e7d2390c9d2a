// One FMC access rule as a peekwall rule: its action, networks, TCP ports, applications, URL
// objects and literals, URL categories with reputation, logging and enabled flag. What a flow
// cannot show (zones, users, SGTs, VLAN tags, time ranges, geolocation, application filters,
// ...) is reported once per rule and field, and the rule then never matches or matches
// without that condition, as the user chose. Inspection after the verdict (intrusion and file
// policies) changes no match and is only reported.
import { isBlockAction, REPUTATION_LABELS, type RuleAction } from '../../policy/index.js';
import type { YNode } from '../../schema/index.js';
import type { FmcItem } from './bundle.js';
import { pathStep } from './json.js';
import type { FmcObjects, Issues } from './objects.js';
import { entry, field, fieldBool, fieldText, list, map, nonEmpty, scalar, seq } from './tree.js';

export const FMC_ACTIONS: Readonly<Record<string, RuleAction>> = {
  ALLOW: 'Allow',
  TRUST: 'Trust',
  BLOCK: 'Block',
  BLOCK_RESET: 'Block with reset',
  MONITOR: 'Monitor',
  BLOCK_INTERACTIVE: 'Interactive Block',
  BLOCK_RESET_INTERACTIVE: 'Interactive Block with reset',
};

export type UnsupportedMode = 'never-match' | 'ignore-condition';
export const UNSUPPORTED_MODES: readonly UnsupportedMode[] = ['never-match', 'ignore-condition'];

/** Rule fields a flow through peekwall cannot show, and why. */
const UNSEEN: readonly (readonly [string, string])[] = [
  ['sourceZones', 'security zones are interfaces of the firewall, not part of a flow'],
  ['destinationZones', 'security zones are interfaces of the firewall, not part of a flow'],
  ['users', 'users come from an identity source (ISE, AD), not from the flow'],
  ['sourceSecurityGroupTags', 'Security Group Tags come from ISE/TrustSec, not from the flow'],
  ['destinationSecurityGroupTags', 'Security Group Tags come from ISE/TrustSec, not from the flow'],
  ['destSGTTypes', 'Security Group Tags come from ISE/TrustSec, not from the flow'],
  ['endPointDeviceTypes', 'endpoint device types come from ISE, not from the flow'],
  ['networkAccessDeviceIPs', 'network access devices come from ISE, not from the flow'],
  ['vlanTags', 'VLAN tags are on frames, not in a TCP flow'],
  ['timeRangeObjects', 'time ranges depend on the firewall clock, which peekwall does not simulate'],
  ['sourceDynamicObjects', 'dynamic objects are filled from outside the policy'],
  ['destinationDynamicObjects', 'dynamic objects are filled from outside the policy'],
  ['originalSourceNetworks', 'the original client address comes from an X-Forwarded-For header'],
  ['sourcePorts', 'peekwall does not match source ports'],
];

/**
 * FMC reputation values as a peekwall reputation (level and unknown). The direction (this level
 * and worse for block rules, this level and better for the others) is the policy compiler's.
 * The pre-7.x names (HIGH_RISK .. WELL_KNOWN) are read as levels 1-5 [inference: third-party
 * samples of pre-7.x FMC show them; no Cisco source lists their levels].
 */
const LEVELS: Readonly<Record<string, number>> = {
  UNTRUSTED: 1,
  QUESTIONABLE: 2,
  NEUTRAL: 3,
  FAVORABLE: 4,
  TRUSTED: 5,
  HIGH_RISK: 1,
  SUSPICIOUS_SITES: 2,
  BENIGN_SITES_WITH_SECURITY_RISKS: 3,
  BENIGN_SITES: 4,
  WELL_KNOWN: 5,
};
export const FMC_REPUTATIONS: readonly string[] = [
  'ANY_EXCEPT_UNKNOWN',
  'ANY_AND_UNKNOWN',
  ...['TRUSTED', 'FAVORABLE', 'NEUTRAL', 'QUESTIONABLE', 'UNTRUSTED'].flatMap((l) => [l, `${l}_AND_UNKNOWN`]),
];

/** Options the rules are read with. */
export interface RuleOptions {
  readonly unsupported: UnsupportedMode;
  /** Application names the bundle maps to domains (x-peekwall.applications). */
  readonly applications: ReadonlySet<string>;
}

export interface MappedRule {
  readonly node: YNode;
  /** Comment lines for the YAML written by import: the FMC id, and what was left out or why the rule never matches. */
  readonly comment: readonly string[];
  /** True when an unsupported condition made it never match (counted in the import summary). */
  readonly neverMatches: boolean;
}

interface Gap {
  readonly field: string;
  readonly why: string;
}

/** A URL category condition as the policy format writes it. */
function category(c: YNode, action: RuleAction, issues: Issues, objects: FmcObjects, where: string): YNode | null {
  const cat = field(c, 'category');
  const name = fieldText(cat, 'name') ?? fieldText(objects.byIdOf(fieldText(cat, 'id'))?.node, 'name');
  if (name === undefined) {
    issues.error('fmc/unknown-object', `${where}.category: URL category ${fieldText(cat, 'id') ? `id ${fieldText(cat, 'id')} ` : ''}has no name and is not in urlcategories`, (cat ?? c).at);
    return null;
  }
  const repNode = field(c, 'reputation');
  const rep = fieldText(c, 'reputation') ?? 'ANY_AND_UNKNOWN';
  const at = (repNode ?? c).at;
  let label: string;
  let unknown = false;
  if (rep === 'ANY_AND_UNKNOWN') label = 'Any';
  else if (rep === 'ANY_EXCEPT_UNKNOWN') {
    // Every known level: the far end of the rule's own direction.
    label = isBlockAction(action) ? 'Trusted' : 'Untrusted';
  } else {
    const base = rep.endsWith('_AND_UNKNOWN') ? rep.slice(0, -'_AND_UNKNOWN'.length) : rep;
    const level = LEVELS[base];
    if (level === undefined) {
      issues.error('fmc/unknown-reputation', `${where}.reputation: '${rep}' is not an FMC reputation (${FMC_REPUTATIONS.join(', ')})`, at);
      return null;
    }
    label = REPUTATION_LABELS[level];
    unknown = base !== rep;
  }
  return map(c.at, [
    ['category', scalar(name, (cat ?? c).at)],
    ['reputation', scalar(label, at)],
    ['includeUnknown', unknown ? scalar(true, at) : undefined],
  ]);
}

export function mapRule(item: FmcItem, objects: FmcObjects, issues: Issues, o: RuleOptions, ruleNo: number): MappedRule | null {
  const n = item.node;
  const name = fieldText(n, 'name');
  const where = (f: string) => `${item.path}${pathStep(f)}`;
  const label = `accessrules '${name ?? item.label}'`;
  if (name === undefined || name.trim() === '') {
    issues.error('fmc/schema', `accessrules ${item.path}: a rule needs a 'name'`, n.at);
    return null;
  }
  const actionText = fieldText(n, 'action') ?? '';
  const action = FMC_ACTIONS[actionText];
  if (!action) {
    issues.error('fmc/unknown-action', `${label} ${where('action')}: '${actionText}' is not an FMC rule action (${Object.keys(FMC_ACTIONS).join(', ')})`, (field(n, 'action') ?? n).at);
    return null;
  }
  const gaps: Gap[] = [];
  const comment: string[] = [];
  const meta = field(n, 'metadata');
  const section = fieldText(meta, 'section');
  const ruleIndex = fieldText(meta, 'ruleIndex');
  const cat = fieldText(meta, 'category');
  comment.push(
    `FMC AccessRule ${fieldText(n, 'id') ?? '(no id)'}${section ? `, ${section}` : ''}${ruleIndex ? ` rule ${ruleIndex}` : ` #${ruleNo}`}${cat && cat !== '--Undefined--' ? `, category ${cat}` : ''}`,
  );
  for (const [f, why] of UNSEEN) if (nonEmpty(field(n, f))) gaps.push({ field: f, why });

  const nets = (f: 'sourceNetworks' | 'destinationNetworks'): YNode | undefined => {
    const c = field(n, f);
    if (!nonEmpty(c)) return undefined;
    const got = objects.networkList(field(c, 'objects'), field(c, 'literals'), { what: label, path: where(f) });
    if (got.unsupported.length > 0) {
      gaps.push({ field: f, why: got.unsupported.join('; ') });
      return undefined;
    }
    return seq(got.items, c!.at);
  };
  const src = nets('sourceNetworks');
  const dst = nets('destinationNetworks');

  let notTcp: string | null = null;
  let ports: YNode | undefined;
  const pc = field(n, 'destinationPorts');
  if (nonEmpty(pc)) {
    const got = objects.portList(field(pc, 'objects'), field(pc, 'literals'), { what: label, path: where('destinationPorts') });
    if (got.items.length > 0) ports = seq(got.items, pc!.at);
    else if (got.notTcp.length > 0) notTcp = got.notTcp.join(', ');
    if (got.items.length > 0 && got.notTcp.length > 0) comment.push(`destinationPorts: left out what is not TCP (${got.notTcp.join(', ')}): peekwall sees TCP flows only`);
  }

  let apps: YNode | undefined;
  const ac = field(n, 'applications');
  if (nonEmpty(field(ac, 'applicationFilters')) || nonEmpty(field(ac, 'inlineApplicationFilters'))) {
    gaps.push({ field: 'applications', why: 'application filters (type, risk, business relevance, category, tag) need FTD\'s application detectors' });
  } else if (nonEmpty(field(ac, 'applications'))) {
    const items: YNode[] = [];
    const missing: string[] = [];
    for (const a of list(field(ac, 'applications'))) {
      const an = fieldText(a, 'name') ?? fieldText(a, 'id') ?? '?';
      if (o.applications.has(an)) items.push(scalar(an, a.at));
      else missing.push(an);
    }
    if (missing.length > 0) gaps.push({ field: 'applications', why: `application${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')} ha${missing.length > 1 ? 've' : 's'} no domains in x-peekwall.applications` });
    else apps = seq(items, ac!.at);
  }

  let urls: YNode | undefined;
  const uc = field(n, 'urls');
  if (nonEmpty(uc)) {
    const texts = objects.urlList(field(uc, 'objects'), undefined, { what: label, path: where('urls') });
    const literals = objects.urlList(undefined, field(uc, 'literals'), { what: label, path: where('urls') });
    const cats: YNode[] = [];
    list(field(uc, 'urlCategoriesWithReputation')).forEach((c, i) => {
      const got = category(c, action, issues, objects, `${label} ${where('urls')}.urlCategoriesWithReputation${pathStep(i)}`);
      if (got) cats.push(got);
    });
    urls = map(uc!.at, [
      ['objects', texts.length > 0 ? seq(texts, uc!.at) : undefined],
      ['literals', literals.length > 0 ? seq(literals, uc!.at) : undefined],
      ['categories', cats.length > 0 ? seq(cats, uc!.at) : undefined],
    ]);
    if (urls.kind === 'map' && urls.entries.length === 0) urls = undefined;
  }

  const inspection = ['ipsPolicy', 'filePolicy', 'safeSearch', 'youTube'].filter((f) => nonEmpty(field(n, f)));
  if (inspection.length > 0) {
    issues.warn(
      'fmc/unsupported-inspection',
      `${label} (${item.path}): ${inspection.join(', ')} ${inspection.length > 1 ? 'inspect' : 'inspects'} traffic the rule allows; peekwall judges the rule's match and action only`,
      (entry(n, inspection[0])?.keyAt ?? n.at),
    );
  }

  const fmcEnabled = fieldBool(n, 'enabled') ?? true;
  let enabled = fmcEnabled;
  if (!fmcEnabled) comment.push('disabled in FMC');
  const dropped = new Set<string>();
  for (const g of gaps) {
    const result = o.unsupported === 'never-match' ? 'the rule never matches (--unsupported never-match)' : 'the condition is left out (--unsupported ignore-condition)';
    issues.warn('fmc/unsupported-condition', `${label} (${item.path}): ${g.field}: ${g.why}; ${result}`, entry(n, g.field)?.keyAt ?? n.at);
    comment.push(`${g.field}: ${g.why}: ${o.unsupported === 'never-match' ? 'never matches' : 'condition left out'}`);
    dropped.add(g.field);
  }
  const neverMatches = gaps.length > 0 && o.unsupported === 'never-match';
  if (neverMatches) enabled = false;
  if (notTcp !== null) {
    // Real FMC semantics, not a gap: such a rule only matches UDP/ICMP/... traffic.
    issues.warn('fmc/not-tcp', `${label} (${item.path}): destinationPorts hold no TCP port (${notTcp}); the rule never matches a TLS flow`, entry(n, 'destinationPorts')?.keyAt ?? n.at);
    comment.push(`destinationPorts hold no TCP port (${notTcp}): never matches a TCP flow`);
    enabled = false;
  }
  const nameNode = field(n, 'name')!;
  const logEnd = fieldBool(n, 'logEnd') ?? false;
  const logBegin = fieldBool(n, 'logBegin') ?? false;
  const node = map(n.at, [
    ['name', scalar(name, nameNode.at)],
    ['action', scalar(action, field(n, 'action')!.at)],
    ['enabled', enabled ? undefined : scalar(false, (field(n, 'enabled') ?? n).at)],
    ['sourceNetworks', src],
    ['destinationNetworks', dst],
    ['destinationPorts', ports],
    ['applications', dropped.has('applications') ? undefined : apps],
    ['urls', urls],
    ['logging', map(n.at, [['beginning', scalar(logBegin, (field(n, 'logBegin') ?? n).at)], ['end', scalar(logEnd, (field(n, 'logEnd') ?? n).at)]])],
  ]);
  return { node, comment, neverMatches };
}

/** Rules in FMC's order: the Mandatory section, then Default, each by metadata.ruleIndex. */
export function ruleOrder(items: readonly FmcItem[]): FmcItem[] {
  const key = (it: FmcItem, i: number): [number, number, number] => {
    const meta = field(it.node, 'metadata');
    const section = (fieldText(meta, 'section') ?? 'Default').toLowerCase();
    const idx = Number(fieldText(meta, 'ruleIndex'));
    return [section === 'mandatory' ? 0 : 1, Number.isFinite(idx) ? idx : Number.MAX_SAFE_INTEGER, i];
  };
  const keyed = items.map((it, i) => ({ it, k: key(it, i) }));
  keyed.sort((a, b) => a.k[0] - b.k[0] || a.k[1] - b.k[1] || a.k[2] - b.k[2]);
  return keyed.map((x) => x.it);
}
