// An FMC bundle as a peekwall policy tree: the access policy's name and default action, its
// Security Intelligence lists, its rules in FMC order, the objects they name, and what FMC
// does not hold (TSID, the SI lists' uploaded entries, the URL database) from the options or
// the bundle's `x-peekwall` key. The tree is the one the YAML reader makes, with positions in
// the bundle's JSON, so the policy compiler reads it like any policy: one set of compile
// steps, one set of semantics, and errors that point into the bundle.
import { peekwallError, type PeekwallError, type Result } from '../../util/errors.js';
import type { FilePos } from '../../policy/index.js';
import type { Pos, YNode } from '../../schema/index.js';
import { EXTRA_KEY, type Bundle, type FmcItem } from './bundle.js';
import { pathStep } from './json.js';
import { FmcObjects, Issues } from './objects.js';
import { mapRule, ruleOrder, UNSUPPORTED_MODES, type UnsupportedMode } from './rules.js';
import { field, fieldText, fromPlain, list, map, overlay, scalar, seq, text } from './tree.js';

/** What the bundle cannot say, from the command line (each wins over the bundle's x-peekwall). */
export interface FmcOptions {
  /** Folder of the SI lists' entries, one `<list name>.txt` per list (relative to the bundle's folder, or absolute). */
  readonly feeds?: string;
  /** The URL database file (relative to the bundle's folder, or absolute). */
  readonly urlDatabase?: string;
  readonly tsid?: { readonly enabled?: boolean; readonly profile?: string };
  readonly unsupported?: UnsupportedMode;
  /** The access policy to read when the bundle holds several. */
  readonly accessPolicy?: string;
  /** Settings laid over the bundle's (a regression suite's `settings:`). */
  readonly settings?: Readonly<Record<string, unknown>>;
}

export interface MappedPolicy {
  readonly tree: YNode;
  /** Comment lines per rule, in rule order (for the YAML import writes). */
  readonly ruleComments: readonly (readonly string[])[];
  /** Comment per written object, by `kind\0name`. */
  readonly objectOrigins: ReadonlyMap<string, string>;
  /** The choices made for what FMC does not say, one line each (import prints them). */
  readonly notes: readonly string[];
  readonly warnings: readonly PeekwallError[];
}

const EXTRA_KEYS = ['settings', 'feeds', 'urlDatabase', 'applications', 'accessPolicy', 'unsupported'];
const FMC_DEFAULT_ACTIONS: Readonly<Record<string, string>> = {
  BLOCK: 'Block all traffic',
  TRUST: 'Trust all traffic',
  PERMIT: 'Intrusion Prevention',
  // Network Discovery Only passes traffic without intrusion inspection: for a verdict it is an allow.
  NETWORK_DISCOVERY: 'Intrusion Prevention',
};
const SI_OBJECT_TYPES: Readonly<Record<'network' | 'url', ReadonlySet<string>>> = {
  network: new Set(['Host', 'Network', 'Range', 'NetworkGroup', 'FQDN']),
  url: new Set(['Url', 'UrlGroup']),
};

/** The access policy the bundle is about: the only one, or the one named. */
function choosePolicy(bundle: Bundle, name: string | undefined, issues: Issues, at: Pos): FmcItem | null {
  const acps = bundle.resources.get('accesspolicies') ?? [];
  if (name !== undefined) {
    const hit = acps.find((a) => fieldText(a.node, 'name') === name);
    if (!hit) issues.error('fmc/no-policy', `no access policy named '${name}' in accesspolicies (${acps.map((a) => `'${a.label}'`).join(', ') || 'none'})`, at);
    return hit ?? null;
  }
  if (acps.length === 1) return acps[0];
  if (acps.length === 0) issues.error('fmc/no-policy', 'the bundle holds no accesspolicies item: its default action and Security Intelligence are part of the policy', at);
  else issues.error('fmc/ambiguous-policy', `accesspolicies holds ${acps.length} policies (${acps.map((a) => `'${a.label}'`).join(', ')}): name one with x-peekwall.accessPolicy or --access-policy`, at);
  return null;
}

/** A list name as a file name inside the feeds folder: no way out of it. */
function feedFile(name: string): string {
  const safe = name.replace(/[/\\]/g, '_');
  return safe === '.' || safe === '..' ? `_${safe}.txt` : `${safe}.txt`;
}

function joinDir(dir: string, name: string): string {
  return dir === '' || dir === '.' ? name : `${dir.replace(/\/+$/, '')}/${name}`;
}

/** The SI lists of the access policy's Security Intelligence: list files from the feeds folder, objects inline. */
function securityIntelligence(bundle: Bundle, acp: FmcItem, objects: FmcObjects, issues: Issues, feeds: string): { node: YNode | undefined; lists: number } {
  const all = bundle.resources.get('securityintelligencepolicies') ?? [];
  const ref = field(acp.node, 'securityIntelligence');
  const id = fieldText(ref, 'id');
  const si = (id !== undefined ? all.find((s) => fieldText(s.node, 'id') === id) : undefined) ?? (all.length === 1 ? all[0] : undefined);
  if (!si) return { node: undefined, lists: 0 };
  if (field(si.node, 'dnsPolicy') !== undefined && list(field(field(si.node, 'dnsPolicy'), 'items')).length > 0) {
    issues.warn('fmc/unsupported-dns-policy', `securityintelligencepolicies '${si.label}': the DNS policy is not read; DNS lists can be written as securityIntelligence.dns in YAML`, field(si.node, 'dnsPolicy')!.at);
  }
  const out: Record<'network' | 'url', YNode[]> = { network: [], url: [] };
  const names = new Set<string>();
  let count = 0;
  for (const [kind, key] of [['network', 'networks'], ['url', 'urls']] as const) {
    const settings = field(si.node, key);
    for (const [which, action] of [['allowlist', 'do-not-block'], ['blocklist', 'block']] as const) {
      list(field(settings, which)).forEach((r, i) => {
        const path = `${si.path}${pathStep(key)}${pathStep(which)}${pathStep(i)}`;
        const type = fieldText(r, 'type') ?? '';
        let name = fieldText(r, 'name') ?? fieldText(objects.byIdOf(fieldText(r, 'id'))?.node, 'name');
        if (name === undefined) {
          issues.error('fmc/unknown-object', `securityintelligencepolicies '${si.label}' ${path}: ${type || 'list'} id ${fieldText(r, 'id') ?? '?'} has no name and is not in the bundle`, r.at);
          return;
        }
        for (let k = 2; names.has(name); k++) name = `${fieldText(r, 'name') ?? name}-${k}`;
        names.add(name);
        const head: [string, YNode][] = [
          ['name', scalar(name, r.at)],
          ['action', scalar(action, r.at)],
        ];
        if (SI_OBJECT_TYPES[kind].has(type)) {
          const values: YNode[] = [];
          const why = objects.flatten(kind, r, { what: `securityintelligencepolicies '${si.label}'`, path }, values);
          if (why !== null) {
            issues.warn('fmc/unsupported-condition', `securityintelligencepolicies '${si.label}' ${path}: ${why} cannot be matched by peekwall; the list is left out`, r.at);
            return;
          }
          out[kind].push(map(r.at, [...head, ['entries', seq(values, r.at)]]));
        } else {
          // A list or feed FMC holds as an uploaded file (or Talos category): its entries are
          // not in the REST answer, so they come from the feeds folder.
          out[kind].push(map(r.at, [...head, ['feed', scalar(joinDir(feeds, feedFile(fieldText(r, 'name') ?? name)), r.at)]]));
        }
        count++;
      });
    }
  }
  const node = map(si.node.at, [
    ['network', out.network.length > 0 ? seq(out.network, si.node.at) : undefined],
    ['url', out.url.length > 0 ? seq(out.url, si.node.at) : undefined],
  ]);
  return { node: node.kind === 'map' && node.entries.length > 0 ? node : undefined, lists: count };
}

/** The x-peekwall map's keys, checked. */
function readExtra(extra: YNode | null, issues: Issues): Map<string, YNode> {
  const out = new Map<string, YNode>();
  if (extra?.kind !== 'map') return out;
  for (const e of extra.entries) {
    if (!EXTRA_KEYS.includes(e.key)) issues.error('fmc/schema', `unknown key '${e.key}' in ${EXTRA_KEY} (allowed: ${EXTRA_KEYS.join(', ')})`, e.keyAt);
    else out.set(e.key, e.value);
  }
  for (const k of ['feeds', 'urlDatabase', 'accessPolicy', 'unsupported']) {
    const v = out.get(k);
    if (v && text(v) === undefined) {
      issues.error('fmc/schema', `${EXTRA_KEY}.${k} must be a string`, v.at);
      out.delete(k);
    }
  }
  const u = out.get('unsupported');
  if (u && !(UNSUPPORTED_MODES as readonly string[]).includes(text(u)!)) {
    issues.error('fmc/schema', `${EXTRA_KEY}.unsupported must be ${UNSUPPORTED_MODES.join(' or ')}, not '${text(u)}'`, u.at);
    out.delete('unsupported');
  }
  const apps = out.get('applications');
  if (apps && apps.kind !== 'map') {
    issues.error('fmc/schema', `${EXTRA_KEY}.applications must map application names to domains`, apps.at);
    out.delete('applications');
  }
  return out;
}

export function mapBundle(bundle: Bundle, file: string, o: FmcOptions = {}): Result<MappedPolicy, PeekwallError[]> {
  const issues = new Issues();
  const top: FilePos = { file, line: 1, column: 1 };
  const x = readExtra(bundle.extra, issues);
  const acp = choosePolicy(bundle, o.accessPolicy ?? text(x.get('accessPolicy')), issues, bundle.extra?.at ?? top);
  if (!acp) return { ok: false, error: issues.errors };
  const acpId = fieldText(acp.node, 'id');
  const notes: string[] = [];
  const objects = new FmcObjects(bundle, issues);
  const unsupported: UnsupportedMode = o.unsupported ?? (text(x.get('unsupported')) as UnsupportedMode | undefined) ?? 'never-match';
  const appsNode = x.get('applications');
  const applications = new Set(appsNode?.kind === 'map' ? appsNode.entries.map((e) => e.key) : []);

  // Rules of this policy only, in FMC's order.
  const rules = ruleOrder((bundle.resources.get('accessrules') ?? []).filter((r) => {
    const owner = fieldText(field(field(r.node, 'metadata'), 'accessPolicy'), 'id');
    return owner === undefined || acpId === undefined || owner === acpId;
  }));
  const ruleNodes: YNode[] = [];
  const ruleComments: string[][] = [];
  let never = 0;
  rules.forEach((r, i) => {
    const m = mapRule(r, objects, issues, { unsupported, applications }, i + 1);
    if (!m) return;
    ruleNodes.push(m.node);
    ruleComments.push([...m.comment]);
    if (m.neverMatches) never++;
  });

  const da = field(field(acp.node, 'defaultAction'), 'action');
  const daText = text(da) ?? '';
  const defaultAction = FMC_DEFAULT_ACTIONS[daText];
  if (!defaultAction) {
    const why = daText === 'INHERIT_FROM_PARENT' ? 'inherits from a parent policy, which the bundle does not hold' : `is not an FMC default action (${Object.keys(FMC_DEFAULT_ACTIONS).join(', ')})`;
    issues.error('fmc/unknown-action', `accesspolicies '${acp.label}' ${acp.path}.defaultAction.action: '${daText}' ${why}`, (da ?? acp.node).at);
  }

  const feeds = o.feeds ?? text(x.get('feeds')) ?? '.';
  const si = securityIntelligence(bundle, acp, objects, issues, feeds);
  const urlDb = o.urlDatabase ?? text(x.get('urlDatabase'));
  const urlDbNode = urlDb !== undefined ? scalar(urlDb, (o.urlDatabase !== undefined ? top : x.get('urlDatabase')!.at)) : undefined;

  // Settings: the bundle's x-peekwall.settings, then the command line's TSID, then a suite's overrides.
  let settings = x.get('settings');
  const tsidPlain: Record<string, unknown> = {};
  if (o.tsid?.enabled !== undefined) tsidPlain.enabled = o.tsid.enabled;
  if (o.tsid?.profile !== undefined) tsidPlain.profile = o.tsid.profile;
  if (Object.keys(tsidPlain).length > 0) settings = overlay(settings, fromPlain({ tsid: tsidPlain }, top));
  if (o.settings && Object.keys(o.settings).length > 0) settings = overlay(settings, fromPlain(o.settings, settings?.at ?? top));
  const tsidNode = field(settings, 'tsid');
  const tsidSource = Object.keys(tsidPlain).length > 0 ? 'from the command line' : tsidNode ? `from ${EXTRA_KEY}.settings.tsid` : "peekwall's default: FMC's REST API does not carry TSID (--tsid, or x-peekwall.settings.tsid)";
  const en = field(tsidNode, 'enabled');
  const fromWhere = (cli: unknown, key: string) => (cli !== undefined ? 'the command line' : `${EXTRA_KEY}.${key}`);
  notes.push(
    `TSID: ${en?.kind === 'scalar' && en.value === false ? 'off' : 'on'}, profile ${text(field(tsidNode, 'profile')) ?? 'snort3-legacy'}, ${tsidSource}`,
    `unsupported conditions: ${unsupported}, from ${o.unsupported !== undefined ? 'the command line' : x.has('unsupported') ? `${EXTRA_KEY}.unsupported` : 'the default'}${never > 0 ? ` (${never} rule${never > 1 ? 's never match' : ' never matches'})` : ''}`,
    `Security Intelligence: ${si.lists} list${si.lists === 1 ? '' : 's'}${si.lists > 0 ? `; uploaded lists' entries from ${o.feeds !== undefined || x.has('feeds') ? `the folder ${fromWhere(o.feeds, 'feeds')} names` : "the bundle's folder"}, one <list name>.txt each` : ''}`,
    `URL database: ${urlDb !== undefined ? `from ${fromWhere(o.urlDatabase, 'urlDatabase')}` : 'none (every URL is Uncategorized, reputation Unknown)'}`,
  );

  const at = acp.node.at;
  const tree = map(top, [
    ['name', scalar(fieldText(acp.node, 'name') ?? acp.label, field(acp.node, 'name')?.at ?? at)],
    ['description', scalar(`FMC access policy ${acp.label}${acpId ? ` (${acpId})` : ''}`, at)],
    ['settings', settings],
    ['objects', objects.section(at, appsNode)],
    ['urlDatabase', urlDbNode],
    ['securityIntelligence', si.node],
    ['rules', seq(ruleNodes, at)],
    ['defaultAction', defaultAction ? scalar(defaultAction, da?.at ?? at) : undefined],
  ]);
  if (issues.errors.length > 0) return { ok: false, error: issues.errors };
  return { ok: true, value: { tree, ruleComments, objectOrigins: objects.origin, notes, warnings: issues.warnings } };
}

/** An error at the top of a bundle file. */
export function bundleError(code: string, message: string, file: string): PeekwallError {
  return peekwallError(code, message, { file, line: 1, column: 1 });
}
