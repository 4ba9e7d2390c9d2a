// A peekwall policy written as an FMC bundle, in the shapes FMC's REST API returns with
// ?expanded=true, so a remedy tested in peekwall can be applied to FMC: named objects become
// hosts, networks, ranges, network groups, protocol-port objects, port groups, URL objects and
// URL groups; rules keep their order as metadata.ruleIndex; Security Intelligence lists become
// SI list objects whose entries go to one `<list name>.txt` each (FMC takes them as uploaded
// files). What FMC cannot hold (TSID and the other settings, the URL database, application
// domains) goes under `x-peekwall`; what neither can (prefilter rules, DNS and monitor-only SI
// lists, a rule's lab TSID override) is reported, not written. Pure: plain data in, plain out.
import { createHash } from 'node:crypto';
import { peekwallError, type PeekwallError } from '../../util/errors.js';
import { EXTRA_KEY } from './bundle.js';
import { FMC_ACTIONS } from './rules.js';

type Plain = Record<string, unknown>;
const DOMAIN = 'e276abec-e0f2-11e3-8169-6d9ed49b625f';
const BASE = `/api/fmc_config/v1/domain/${DOMAIN}`;
const REPUTATIONS = ['Unknown', 'Untrusted', 'Questionable', 'Neutral', 'Favorable', 'Trusted'];
const DEFAULT_ACTIONS: Readonly<Record<string, string>> = { 'Block all traffic': 'BLOCK', 'Trust all traffic': 'TRUST', 'Intrusion Prevention': 'PERMIT' };
const ACTIONS = Object.fromEntries(Object.entries(FMC_ACTIONS).map(([fmc, ours]) => [ours, fmc]));
const EMPTY_CONDITIONS = ['sourceZones', 'destinationZones', 'sourcePorts', 'users', 'vlanTags', 'sourceDynamicObjects', 'destinationDynamicObjects'];

export interface ExportOptions {
  /** The feeds folder as the bundle names it (relative to the bundle's folder). */
  readonly feeds: string;
  /** A feed or URL database path of the policy (relative to its folder) as the bundle names it. */
  readonly rebase: (name: string) => string;
  /** The text of a feed the policy names (relative to its folder). */
  readonly readFeed: (name: string) => string;
}

export interface ExportedBundle {
  readonly bundle: Plain;
  /** SI list files to write into the feeds folder: file name -> text. */
  readonly feeds: ReadonlyMap<string, string>;
  readonly warnings: readonly PeekwallError[];
}

/** A stable FMC-style id for a name: the same policy exports the same ids. */
function fmcId(kind: string, name: string): string {
  const h = createHash('sha1').update(`${kind}\0${name}`).digest('hex').toUpperCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-0ed3-0000-${h.slice(20, 32)}`;
}

const listOf = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]);
const texts = (v: unknown): string[] => listOf(v).map((x) => String(x).trim());

function page(items: Plain[], path: string): Plain {
  return {
    links: { self: `${BASE}/${path}?offset=0&limit=${Math.max(25, items.length)}&expanded=true` },
    items,
    paging: { offset: 0, limit: Math.max(25, items.length), count: items.length, pages: 1 },
  };
}

function networkType(value: string): string {
  return value.includes('/') ? 'Network' : value.includes('-') ? 'Range' : 'Host';
}

export function exportBundle(policy: Plain, file: string, o: ExportOptions): ExportedBundle {
  const warnings: PeekwallError[] = [];
  const warn = (message: string) => warnings.push(peekwallError('fmc/export-unsupported', message, { file }));
  const name = typeof policy.name === 'string' ? policy.name : 'peekwall';
  const objects = (policy.objects ?? {}) as Plain;
  const tables = {
    networks: (objects.networks ?? {}) as Plain,
    ports: (objects.ports ?? {}) as Plain,
    urls: (objects.urls ?? {}) as Plain,
  };
  const out: Record<string, Plain[]> = {
    hosts: [], networks: [], ranges: [], networkgroups: [], protocolportobjects: [], portobjectgroups: [], urls: [], urlgroups: [], urlcategories: [], sinetworklists: [], siurllists: [],
  };
  const refs = new Map<string, Plain>();

  // Objects: each declared one once, groups naming their members by reference.
  const netRef = (n: string): Plain => refs.get(`network\0${n}`)!;
  for (const [n, v] of Object.entries(tables.networks)) {
    const vals = texts(v);
    const obj: Plain = { id: fmcId('network', n), name: n };
    if (vals.length === 1 && !(vals[0] in tables.networks) && vals[0] !== 'any') {
      obj.type = networkType(vals[0]);
      obj.value = vals[0];
      out[obj.type === 'Host' ? 'hosts' : obj.type === 'Network' ? 'networks' : 'ranges'].push(obj);
    } else {
      obj.type = 'NetworkGroup';
      out.networkgroups.push(obj);
    }
    obj.overridable = false;
    obj.description = ' ';
    refs.set(`network\0${n}`, { type: obj.type, id: obj.id, name: n });
  }
  const literal = (v: string): Plain[] => (v === 'any' ? [{ type: 'Network', value: '0.0.0.0/0' }, { type: 'Network', value: '::/0' }] : [{ type: networkType(v), value: v }]);
  for (const g of out.networkgroups) {
    const vals = texts(tables.networks[g.name as string]);
    g.objects = vals.filter((x) => x in tables.networks).map(netRef);
    g.literals = vals.filter((x) => !(x in tables.networks)).flatMap(literal);
  }
  const tcp = (port: string): Plain => {
    const key = `port\0TCP_${port}`;
    if (!refs.has(key)) {
      const obj: Plain = { id: fmcId('port', `TCP_${port}`), name: port === 'any' ? 'TCP' : `TCP_${port}`, type: 'ProtocolPortObject', protocol: 'TCP', ...(port === 'any' ? {} : { port }), overridable: false, description: ' ' };
      out.protocolportobjects.push(obj);
      refs.set(key, { type: obj.type, id: obj.id, name: obj.name });
    }
    return refs.get(key)!;
  };
  for (const [n, v] of Object.entries(tables.ports)) {
    const vals = texts(v);
    if (vals.length === 1 && !(vals[0] in tables.ports)) {
      const obj: Plain = { id: fmcId('port', n), name: n, type: 'ProtocolPortObject', protocol: 'TCP', ...(vals[0] === 'any' ? {} : { port: vals[0] }), overridable: false, description: ' ' };
      out.protocolportobjects.push(obj);
      refs.set(`port\0${n}`, { type: obj.type, id: obj.id, name: n });
    } else {
      const obj: Plain = { id: fmcId('port', n), name: n, type: 'PortObjectGroup', overridable: false, description: ' ' };
      out.portobjectgroups.push(obj);
      refs.set(`port\0${n}`, { type: obj.type, id: obj.id, name: n });
    }
  }
  for (const g of out.portobjectgroups) {
    // FMC port groups hold objects only: a literal member becomes a TCP_<port> object.
    g.objects = texts(tables.ports[g.name as string]).map((x) => (x in tables.ports ? refs.get(`port\0${x}`)! : tcp(x)));
  }
  for (const [n, v] of Object.entries(tables.urls)) {
    const vals = texts(v);
    const obj: Plain = { id: fmcId('url', n), name: n, overridable: false, description: ' ' };
    if (vals.length === 1 && !(vals[0] in tables.urls)) {
      obj.type = 'Url';
      obj.url = vals[0];
      out.urls.push(obj);
    } else {
      obj.type = 'UrlGroup';
      obj.objects = vals.filter((x) => x in tables.urls).map((x) => refs.get(`url\0${x}`) ?? { type: 'Url', id: fmcId('url', x), name: x });
      obj.literals = vals.filter((x) => !(x in tables.urls)).map((u) => ({ type: 'Url', url: u }));
      out.urlgroups.push(obj);
    }
    refs.set(`url\0${n}`, { type: obj.type, id: obj.id, name: n });
  }
  // URL groups may name groups declared after them: fix the member types now all are known.
  for (const g of out.urlgroups) g.objects = (g.objects as Plain[]).map((m) => refs.get(`url\0${m.name as string}`) ?? m);

  const categories = new Map<string, Plain>();
  const category = (c: string): Plain => {
    if (!categories.has(c)) categories.set(c, { name: c, id: fmcId('urlcategory', c), type: 'URLCategory' });
    return categories.get(c)!;
  };
  const acpId = fmcId('accesspolicy', name);
  const siId = fmcId('securityintelligencepolicy', name);

  const rules = listOf(policy.rules).map((r0, i) => {
    const r = r0 as Plain;
    const rname = String(r.name);
    const log = (r.logging ?? {}) as Plain;
    const conds = (key: 'sourceNetworks' | 'destinationNetworks'): Plain => {
      const vals = texts(r[key]);
      if (vals.length === 0 || vals.includes('any')) return {};
      const objs = vals.filter((x) => x in tables.networks).map(netRef);
      const lits = vals.filter((x) => !(x in tables.networks)).flatMap(literal);
      return { ...(objs.length ? { objects: objs } : {}), ...(lits.length ? { literals: lits } : {}) };
    };
    const portVals = texts(r.destinationPorts);
    const ports: Plain =
      portVals.length === 0 || portVals.includes('any')
        ? {}
        : {
            ...(portVals.some((x) => x in tables.ports) ? { objects: portVals.filter((x) => x in tables.ports).map((x) => refs.get(`port\0${x}`)!) } : {}),
            ...(portVals.some((x) => !(x in tables.ports)) ? { literals: portVals.filter((x) => !(x in tables.ports)).map((p) => ({ type: 'PortLiteral', protocol: '6', port: p })) } : {}),
          };
    const apps = texts(r.applications).filter((a) => a !== 'any');
    const u = (r.urls ?? {}) as Plain;
    const urlObjs = texts(u.objects).map((x) => refs.get(`url\0${x}`) ?? { type: 'Url', id: fmcId('url', x), name: x });
    const urlLits = texts(u.literals).map((x) => ({ type: 'Url', url: x }));
    const cats: Plain[] = [];
    for (const c0 of listOf(u.categories)) {
      const c = c0 as Plain;
      const rep = c.reputation ?? 'Any';
      const level = typeof rep === 'number' ? rep : REPUTATIONS.indexOf(String(rep));
      let fmcRep: string;
      if (rep === 'Any') fmcRep = 'ANY_AND_UNKNOWN';
      else if (level >= 1 && level <= 5) fmcRep = `${REPUTATIONS[level].toUpperCase()}${c.includeUnknown === true ? '_AND_UNKNOWN' : ''}`;
      else {
        warn(`rule '${rname}': category '${String(c.category)}' with reputation '${String(rep)}' (unknown reputation only) has no FMC reputation value; left out`);
        continue;
      }
      cats.push({ type: 'UrlCategoryAndReputation', reputation: fmcRep, category: category(String(c.category)) });
    }
    if (r.tsid !== undefined) warn(`rule '${rname}': its TSID override is a peekwall lab convenience (FMC sets TSID per policy); left out`);
    const beginning = log.beginning === true;
    const end = log.end === true;
    const rule: Plain = {
      metadata: { ruleIndex: i + 1, section: 'Default', category: '--Undefined--', accessPolicy: { name, id: acpId, type: 'AccessPolicy' } },
      links: { self: `${BASE}/policy/accesspolicies/${acpId}/accessrules/${fmcId('accessrule', rname)}` },
      id: fmcId('accessrule', rname),
      name: rname,
      type: 'AccessRule',
      action: ACTIONS[String(r.action)],
      enabled: r.enabled !== false,
      sourceNetworks: conds('sourceNetworks'),
      destinationNetworks: conds('destinationNetworks'),
      destinationPorts: ports,
      applications: apps.length > 0 ? { applications: apps.map((a) => ({ type: 'Application', id: fmcId('application', a), name: a })) } : {},
      urls: { ...(urlObjs.length ? { objects: urlObjs } : {}), ...(urlLits.length ? { literals: urlLits } : {}), ...(cats.length ? { urlCategoriesWithReputation: cats } : {}) },
      logBegin: beginning,
      logEnd: end,
      sendEventsToFMC: beginning || end,
      enableSyslog: false,
      logFiles: false,
    };
    for (const k of EMPTY_CONDITIONS) rule[k] = {};
    return rule;
  });

  // Security Intelligence: one SI list object per list, its entries in <name>.txt.
  const feeds = new Map<string, string>();
  const si: Record<'networks' | 'urls', { blocklist: Plain[]; allowlist: Plain[] }> = { networks: { blocklist: [], allowlist: [] }, urls: { blocklist: [], allowlist: [] } };
  const siPolicy = (policy.securityIntelligence ?? {}) as Plain;
  for (const [kind, key, type, resource] of [['network', 'networks', 'SINetworkList', 'sinetworklists'], ['url', 'urls', 'SIURLList', 'siurllists']] as const) {
    for (const l0 of listOf(siPolicy[kind])) {
      const l = l0 as Plain;
      const lname = String(l.name);
      if (l.action === 'monitor') {
        warn(`Security Intelligence ${kind} list '${lname}' is monitor-only, which the REST shapes peekwall knows cannot say; left out`);
        continue;
      }
      const lines = texts(l.entries);
      let text = lines.length > 0 ? `${lines.join('\n')}\n` : '';
      if (typeof l.feed === 'string') text += o.readFeed(l.feed);
      feeds.set(`${lname.replace(/[/\\]/g, '_')}.txt`, text);
      const obj: Plain = { id: fmcId(resource, lname), name: lname, type };
      out[resource].push(obj);
      si[key][l.action === 'do-not-block' ? 'allowlist' : 'blocklist'].push({ type, id: obj.id, name: lname });
    }
  }
  if (listOf(siPolicy.dns).length > 0) warn('Security Intelligence DNS lists belong to an FMC DNS policy, which the bundle does not carry; left out');
  if (listOf(policy.prefilter).length > 0) warn('prefilter rules belong to an FMC prefilter policy, which the bundle does not carry; left out');
  out.urlcategories = [...categories.values()];

  const da = DEFAULT_ACTIONS[String(policy.defaultAction ?? 'Block all traffic')] ?? 'BLOCK';
  const acp: Plain = {
    id: acpId,
    name,
    type: 'AccessPolicy',
    description: typeof policy.description === 'string' ? policy.description : ' ',
    defaultAction: { action: da, type: 'AccessPolicyDefaultAction', id: fmcId('defaultaction', name), logBegin: da === 'BLOCK', logEnd: false, sendEventsToFMC: da === 'BLOCK' },
    securityIntelligence: { id: siId, type: 'SecurityIntelligencePolicy' },
    rules: { refType: 'list', type: 'AccessRule', links: { self: `${BASE}/policy/accesspolicies/${acpId}/accessrules` } },
  };
  const extra: Plain = {};
  if (policy.settings !== undefined) extra.settings = policy.settings;
  if (typeof policy.urlDatabase === 'string') extra.urlDatabase = o.rebase(policy.urlDatabase);
  if (feeds.size > 0) extra.feeds = o.feeds;
  if (objects.applications !== undefined) {
    extra.applications = Object.fromEntries(Object.entries(objects.applications as Plain).map(([k, v]) => [k, texts(v)]));
  }
  const bundle: Plain = {
    accesspolicies: page([acp], 'policy/accesspolicies'),
    accessrules: page(rules, `policy/accesspolicies/${acpId}/accessrules`),
    securityintelligencepolicies: page([{ id: siId, name, type: 'SecurityIntelligencePolicy', networks: si.networks, urls: si.urls }], `policy/accesspolicies/${acpId}/securityintelligencepolicies`),
  };
  const paths: Record<string, string> = {
    hosts: 'object/hosts', networks: 'object/networks', ranges: 'object/ranges', networkgroups: 'object/networkgroups',
    protocolportobjects: 'object/protocolportobjects', portobjectgroups: 'object/portobjectgroups', urls: 'object/urls', urlgroups: 'object/urlgroups',
    urlcategories: 'object/urlcategories', sinetworklists: 'object/sinetworklists', siurllists: 'object/siurllists',
  };
  for (const [k, items] of Object.entries(out)) if (items.length > 0) bundle[k] = page(items, paths[k]);
  if (Object.keys(extra).length > 0) bundle[EXTRA_KEY] = extra;
  return { bundle, feeds, warnings };
}
