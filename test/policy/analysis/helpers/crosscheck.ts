// The honesty check of `peekwall diff` (issue 18): pairs of generated policies (hundreds of
// rules, SI lists, URL objects, categories, applications, prefilter rules; a seeded PRNG), a
// second policy made by editing the first, and random flows drawn from the boundaries both
// use, each evaluated with the ordinary evaluator. For every flow: the analysis must place it,
// must give it the outcome evaluate() gives under each policy, and when the two verdicts differ
// the flow must lie in a reported change. Every reported witness must reproduce its change.
// Shared by test/policy/analysis/crosscheck.test.ts (CI size) and bench/diff-crosscheck.ts.
import { resolveIdentity, type CertificateFacts } from '../../../../src/identity/index.js';
import { evaluate, parsePolicy, tsidFor, type Flow, type Policy } from '../../../../src/policy/index.js';
import { diffWithProbe } from '../../../../src/policy/analysis/diff.js';
import type { Slot } from '../../../../src/policy/analysis/tsid.js';

export type Rng = () => number;

export function rng(seed: number): Rng {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const int = (r: Rng, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const some = <T>(r: Rng, xs: readonly T[], lo: number, hi: number): T[] => Array.from({ length: int(r, lo, hi) }, () => pick(r, xs));

const LABELS = ['a', 'b', 'shop', 'mail', 'cdn', 'login', 'example', 'test', 'cisco', 'tools', 'toos', 'api', 'www'];
const TLDS = ['com', 'net', 'org', 'io'];
const CATEGORIES = ['Games', 'News', 'Malware Sites', 'Computers and Internet', 'Business and Economy', 'Adult', 'Gambling'];
const REPUTATIONS = ['Untrusted', 'Questionable', 'Neutral', 'Favorable', 'Trusted', 1, 3, 5, 'Any', 'Unknown'];
const ACTIONS = ['Allow', 'Allow', 'Trust', 'Monitor', 'Block', 'Block with reset', 'Interactive Block', 'Interactive Block with reset'];

function v4(r: Rng): string {
  const first = pick(r, [10, 10, 172, 192, 198, 203, int(r, 1, 223)]);
  return `${first}.${int(r, 0, 3)}.${int(r, 0, 255)}.${int(r, 0, 255)}`;
}

function network(r: Rng, lengths: readonly number[] = [8, 12, 16, 20, 24, 24, 28, 32, 32]): string {
  const x = r();
  if (x < 0.12) return `2001:db8:${int(r, 0, 3).toString(16)}::/${pick(r, [48, 56, 64, 128])}`;
  if (x < 0.2) {
    const a = v4(r);
    const parts = a.split('.').map(Number);
    return `${a}-${parts.slice(0, 3).join('.')}.${Math.min(255, parts[3] + int(r, 0, 40))}`;
  }
  return `${v4(r)}/${pick(r, lengths)}`;
}

// Names every part of a policy shares, nested, so lists and rules overlap the way real ones do.
const COMMON = ['example.com', 'a.example.com', 'cdn.a.example.com', 'cisco.com', 'tools.cisco.com', 'toos.cisco.com', 'shop.io', 'a.shop.io', 'net'];

function host(r: Rng): string {
  if (r() < 0.3) return pick(r, COMMON);
  return [...some(r, LABELS, 1, 3), pick(r, TLDS)].join('.');
}

/** An SI / URL-object / application entry: a domain, an exact name, a wildcard. */
function domainEntry(r: Rng): string {
  const x = r();
  const h = host(r);
  if (x < 0.1) return `${h}/`;
  if (x < 0.18) return `*.${h}`;
  return h;
}

function ports(r: Rng): string[] {
  return some(r, ['80', '443', '8080', '8443', '22', '1-1024', '8000-8100', '443-444', '53'], 1, 2);
}

interface Spec {
  settings: Record<string, unknown>;
  objects: Record<string, unknown>;
  urlDatabase: string;
  securityIntelligence: Record<string, unknown[]>;
  prefilter: Record<string, unknown>[];
  rules: Record<string, unknown>[];
  defaultAction: string;
}

function rule(r: Rng, name: string, apps: string[]): Record<string, unknown> {
  const o: Record<string, unknown> = { name, action: pick(r, ACTIONS) };
  if (r() < 0.6) o.sourceNetworks = some(r, [network(r), network(r), 'NET_A', 'NET_B'], 1, 2);
  if (r() < 0.5) o.destinationNetworks = some(r, [network(r), network(r), 'NET_B'], 1, 2);
  if (r() < 0.5) o.destinationPorts = ports(r);
  if (r() < 0.15) o.applications = some(r, apps, 1, 2);
  if (r() < 0.45) {
    const urls: Record<string, unknown> = {};
    if (r() < 0.7) urls.literals = some(r, [domainEntry(r), domainEntry(r), `${pick(r, ['ample.com', 'op.com', '.example.org'])}/`], 1, 3);
    if (r() < 0.3) urls.objects = ['URLS_A'];
    if (r() < 0.5) urls.categories = some(r, CATEGORIES, 1, 2).map((category) => ({ category: r() < 0.1 ? 'Any' : category, reputation: pick(r, REPUTATIONS), ...(r() < 0.3 ? { includeUnknown: true } : {}) }));
    if (Object.keys(urls).length > 0) o.urls = urls;
  }
  // A rule without conditions would end the policy: every rule after it is dead.
  if (Object.keys(o).length === 2) o.sourceNetworks = [network(r)];
  if (r() < 0.05) o.enabled = false;
  return o;
}

export function generatePolicy(r: Rng, rules: number): { spec: Spec; files: Record<string, string> } {
  const apps = ['AppOne', 'AppTwo', 'AppThree'];
  const db = Array.from({ length: 40 }, () => `${host(r)},${int(r, 0, 5)},${some(r, CATEGORIES, 1, 2).join('|')}`);
  const siList = (kind: string, n: number, entry: () => string) =>
    // Two block lists at least, so a name on both shows which one SI names.
    Array.from({ length: n }, (_, i) => ({ name: `${kind}-${i}`, action: i < 2 ? 'block' : pick(r, ['block', 'do-not-block', 'do-not-block', 'monitor']), entries: Array.from({ length: int(r, 3, 40) }, entry) }));
  const spec: Spec = {
    settings: { tsid: { enabled: true, profile: 'snort3-legacy' } },
    objects: {
      networks: { NET_A: some(r, [network(r), network(r)], 1, 3), NET_B: [network(r)] },
      urls: { URLS_A: some(r, [domainEntry(r), domainEntry(r)], 1, 4) },
      applications: Object.fromEntries(apps.map((a) => [a, some(r, [host(r), host(r)], 1, 2)])),
    },
    urlDatabase: 'urldb.csv',
    securityIntelligence: {
      network: siList('net', int(r, 2, 4), () => network(r, [16, 24, 28, 32])),
      url: siList('url', int(r, 2, 4), () => domainEntry(r)),
      dns: siList('dns', int(r, 0, 2), () => domainEntry(r)),
    },
    prefilter: Array.from({ length: int(r, 0, 3) }, (_, i) => ({ name: `PF${i}`, action: pick(r, ['Fastpath', 'Block', 'Analyze']), sourceNetworks: [network(r)], ...(r() < 0.5 ? { destinationPorts: ports(r) } : {}) })),
    rules: Array.from({ length: rules }, (_, i) => rule(r, `R${i}`, apps)),
    defaultAction: pick(r, ['Block all traffic', 'Trust all traffic', 'Intrusion Prevention']),
  };
  return { spec, files: { 'urldb.csv': db.join('\n') } };
}

/** A second policy: the first with `edits` random edits (actions, order, conditions, SI entries, the default). */
export function editPolicy(r: Rng, base: Spec, edits: number): Spec {
  const s: Spec = JSON.parse(JSON.stringify(base));
  const apps = Object.keys(s.objects.applications as object);
  let next = s.rules.length;
  for (let e = 0; e < edits; e++) {
    const x = r();
    const i = int(r, 0, s.rules.length - 1);
    if (x < 0.25) s.rules[i].action = pick(r, ACTIONS);
    else if (x < 0.35) s.rules.splice(i, 1);
    else if (x < 0.45) s.rules.splice(i, 0, rule(r, `N${next++}`, apps));
    else if (x < 0.55 && i + 1 < s.rules.length) [s.rules[i], s.rules[i + 1]] = [s.rules[i + 1], s.rules[i]];
    else if (x < 0.65) s.rules[i] = { ...rule(r, s.rules[i].name as string, apps) };
    else if (x < 0.85) {
      const kind = pick(r, ['network', 'url', 'dns'] as const);
      const lists = s.securityIntelligence[kind] as { entries: string[]; action: string }[];
      if (lists.length === 0) continue;
      const l = pick(r, lists);
      if (r() < 0.5) l.entries.push(kind === 'network' ? network(r, [16, 24, 28, 32]) : domainEntry(r));
      else if (r() < 0.3) l.action = pick(r, ['block', 'do-not-block', 'monitor']);
      else l.entries.splice(int(r, 0, l.entries.length - 1), 1);
      if (l.entries.length === 0) l.entries.push(kind === 'network' ? network(r) : domainEntry(r));
    } else if (x < 0.95) s.rules[i].enabled = s.rules[i].enabled === false;
    else s.defaultAction = pick(r, ['Block all traffic', 'Trust all traffic', 'Intrusion Prevention']);
  }
  return s;
}

export function compileSpec(spec: Spec, files: Record<string, string>, file: string): Policy {
  const got = parsePolicy(JSON.stringify(spec, null, 1), {
    file,
    baseDir: '/virtual',
    readFile: (p) => {
      const k = p.replace(/^\/virtual\//, '');
      if (!(k in files)) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
      return files[k];
    },
  });
  if (!got.ok) throw new Error(`generated policy did not compile: ${got.error.slice(0, 3).map((e) => `${e.line}:${e.column} ${e.message}`).join('; ')}`);
  return got.value;
}

/** Points on both sides of every boundary the specs name, and some anywhere. */
function boundaryFlows(r: Rng, specs: Spec[], count: number): { src: string; dst: string; dport: number; name: string | null }[] {
  const text = JSON.stringify(specs);
  const v4s = new Set<number>();
  const v6s = new Set<bigint>();
  for (const m of text.matchAll(/(\d+)\.(\d+)\.(\d+)\.(\d+)(?:\/(\d+))?/g)) {
    const a = ((Number(m[1]) * 256 + Number(m[2])) * 256 + Number(m[3])) * 256 + Number(m[4]);
    const len = m[5] === undefined ? 32 : Number(m[5]);
    const size = 2 ** (32 - len);
    const start = Math.floor(a / size) * size;
    for (const p of [start - 1, start, start + 1, start + size - 1, start + size]) if (p >= 0 && p <= 0xffffffff) v4s.add(p);
  }
  for (const m of text.matchAll(/2001:db8:([0-9a-f]+)::\/(\d+)/g)) {
    const base = (0x20010db8n << 96n) | (BigInt(parseInt(m[1], 16)) << 80n);
    const size = 1n << BigInt(128 - Number(m[2]));
    for (const p of [base - 1n, base, base + 1n, base + size - 1n, base + size]) v6s.add(p);
  }
  const a4 = [...v4s];
  const a6 = [...v6s];
  const t4 = (n: number) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  const t6 = (n: bigint) => {
    const g: string[] = [];
    for (let k = 7; k >= 0; k--) g.push(((n >> BigInt(16 * k)) & 0xffffn).toString(16));
    return g.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
  };
  const addr = (fam: 4 | 6) => (fam === 4 ? (r() < 0.85 ? t4(pick(r, a4)) : t4(int(r, 0, 0xffffffff))) : t6(a6.length > 0 && r() < 0.85 ? pick(r, a6) : (0x20010db8n << 96n) | BigInt(int(r, 0, 1e9))));
  const portPool = [1, 21, 22, 23, 52, 53, 54, 79, 80, 81, 442, 443, 444, 445, 1024, 1025, 7999, 8000, 8080, 8100, 8101, 8443, 65535];
  const hosts = [...text.matchAll(/"((?:\*\.)?[a-z0-9.-]+\.(?:com|net|org|io)\/?)"/g)].map((m) => m[1]).concat(COMMON);
  const name = (): string | null => {
    const x = r();
    if (x < 0.06) return null;
    if (x < 0.15 || hosts.length === 0) return host(r);
    let h = pick(r, hosts).replace(/\/$/, '').replace(/^\*/, pick(r, LABELS));
    const y = r();
    if (y < 0.3) h = `${pick(r, LABELS)}.${h}`;
    else if (y < 0.4) h = h.slice(h.indexOf('.') + 1);
    else if (y < 0.5) h = `x${h}`;
    else if (y < 0.55) h = h.toUpperCase();
    // Names are DNS names: no empty label (an ending entry '.example.org/' gives '.example.org').
    // The wire reader refuses such an SNI; a certificate could carry one, and there the
    // evaluator's matchers read it two ways (the wildcard walk drops the empty label, the suffix
    // table keeps it) — outside the model, as the README says.
    return h.startsWith('.') ? `x${h}` : h;
  };
  return Array.from({ length: count }, () => {
    const fam = r() < 0.15 ? 6 : 4;
    return { src: addr(fam), dst: addr(fam), dport: r() < 0.9 ? pick(r, portPool) : int(r, 1, 65535), name: name() };
  });
}

export interface CrossCheckResult {
  readonly flows: number;
  readonly differing: number;
  readonly changes: number;
  readonly problems: string[];
  readonly complete: boolean;
  readonly reasons: readonly string[];
}

/** One generated pair, `flows` random flows through evaluate() and the diff's probe. */
export function crossCheck(seed: number, rules: number, edits: number, flows: number): CrossCheckResult {
  const r = rng(seed);
  const { spec, files } = generatePolicy(r, rules);
  const edited = editPolicy(r, spec, edits);
  const oldP = compileSpec(spec, files, 'old.yaml');
  const newP = compileSpec(edited, files, 'new.yaml');
  const { report, probe } = diffWithProbe(oldP, newP);
  const problems: string[] = [];
  const note = (m: string) => problems.length < 20 && problems.push(m);
  for (const c of report.changes) {
    const w = c.witness;
    const f: Flow = { srcIp: w.src, srcPort: 40000, dstIp: w.dst, dstPort: w.dport, protocol: 'tcp', scheme: 'https', sni: null };
    const id = { name: w.name, source: w.nameSource };
    const a = evaluate(oldP, f, id, { trace: false });
    const b = evaluate(newP, f, id, { trace: false });
    if (a.action === b.action && a.rule === b.rule) note(`witness ${JSON.stringify(w)} does not differ`);
    if (a.rule !== c.old.rule || b.rule !== c.new.rule) note(`witness ${JSON.stringify(w)}: evaluate says ${a.rule} -> ${b.rule}, the diff ${c.old.rule} -> ${c.new.rule}`);
  }
  let differing = 0;
  for (const fl of boundaryFlows(r, [spec, edited], flows)) {
    const f: Flow = { srcIp: fl.src, srcPort: 40000, dstIp: fl.dst, dstPort: fl.dport, protocol: 'tcp', scheme: 'https', sni: fl.name };
    const id = fl.name === null ? { name: fl.dst, source: 'ip' as const } : { name: fl.name, source: 'sni' as const };
    const a = evaluate(oldP, f, id, { trace: false });
    const b = evaluate(newP, f, id, { trace: false });
    const got = probe.outcomes(fl.src, fl.dst, fl.dport, fl.name);
    const where = `${fl.src} -> ${fl.dst}:${fl.dport} ${fl.name ?? '(address)'}`;
    if (got === null) {
      note(`${where}: the analysis does not place the flow`);
      continue;
    }
    if (got[0].action !== a.action || got[0].rule !== a.rule) note(`${where}: old policy gives ${a.action}/${a.rule}, the analysis ${got[0].action}/${got[0].rule}`);
    if (got[1].action !== b.action || got[1].rule !== b.rule) note(`${where}: new policy gives ${b.action}/${b.rule}, the analysis ${got[1].action}/${got[1].rule}`);
    if (a.action !== b.action || a.rule !== b.rule) {
      differing++;
      const c = probe.changeOf(fl.src, fl.dst, fl.dport, fl.name);
      if (c === null) note(`${where}: verdicts differ (${a.rule} -> ${b.rule}) but no reported change holds the flow`);
      else if (c.old.rule !== a.rule || c.new.rule !== b.rule) note(`${where}: in a change ${c.old.rule} -> ${c.new.rule}, evaluate says ${a.rule} -> ${b.rule}`);
    }
  }
  return { flows, differing, changes: report.changes.length, problems, complete: report.complete, reasons: report.reasons };
}

const SLOT_OF: Record<string, Slot> = { sni: 'sni', 'cert-cn': 'cn', 'passive-cn': 'cn', 'cert-san': 'san', 'cert-ou': 'ou', ip: 'ip' };

function facts(cn: string | null, sans: string[], ou: string | null): CertificateFacts {
  return {
    der: new Uint8Array(0), subject: [], subjectDn: '', issuer: [], issuerDn: '', cn, cns: cn === null ? [] : [cn], ous: ou === null ? [] : [ou],
    sans: sans.map((value) => ({ type: 'dns' as const, value })), serial: '', notBefore: new Date(0), notAfter: new Date(0), keyType: '', keySize: null,
    signatureAlgorithm: '', ski: null, aki: null, sha256: '', selfSigned: false, isCa: false,
  };
}

/**
 * The same check where the two policies' TSID settings differ: each flow is a connection (an
 * SNI or none, a certificate with or without CN, SANs, OU, TLS 1.2 or 1.3) that each policy
 * names through identity's own resolveIdentity, then judges with evaluate().
 */
export function crossCheckTsid(seed: number, rules: number, edits: number, flows: number): CrossCheckResult {
  const r = rng(seed);
  const { spec, files } = generatePolicy(r, rules);
  const edited = editPolicy(r, spec, edits);
  edited.settings = { tsid: pick(r, [{ enabled: false }, { enabled: true, profile: 'technote' }, { enabled: true, profile: 'snort3' }]) };
  const oldP = compileSpec(spec, files, 'old.yaml');
  const newP = compileSpec(edited, files, 'new.yaml');
  const { report, probe } = diffWithProbe(oldP, newP);
  const problems: string[] = [];
  const note = (m: string) => problems.length < 20 && problems.push(m);
  const judge = (p: Policy, flow: Flow, conn: { sni: string | null; cert: CertificateFacts; tls13: boolean }) => {
    const tsid = tsidFor(p, flow);
    const id = resolveIdentity({ sni: conn.sni, tsid, dstIp: flow.dstIp, ...(tsid.enabled ? { certificate: conn.cert } : !conn.tls13 ? { passiveCertificate: conn.cert } : {}) });
    return { id, v: evaluate(p, flow, { name: id.name, source: id.source }, { trace: false }) };
  };
  for (const c of report.changes) {
    const w = c.witness;
    if (!w.connection) continue;
    const flow: Flow = { srcIp: w.src, srcPort: 40000, dstIp: w.dst, dstPort: w.dport, protocol: 'tcp', scheme: 'https', sni: w.connection.sni };
    const z = w.connection.certificate;
    const conn = { sni: w.connection.sni, cert: facts(z.cn, [...z.sans], z.ou), tls13: w.connection.tls === 'TLSv1.3' };
    const a = judge(oldP, flow, conn).v;
    const b = judge(newP, flow, conn).v;
    if (a.rule !== c.old.rule || b.rule !== c.new.rule) note(`witness ${JSON.stringify(w)}: evaluate says ${a.rule} -> ${b.rule}, the diff ${c.old.rule} -> ${c.new.rule}`);
  }
  let differing = 0;
  for (const fl of boundaryFlows(r, [spec, edited], flows)) {
    const any = () => fl.name ?? host(r);
    const cn = r() < 0.6 ? any() : null;
    const sans = r() < 0.6 ? [host(r)] : [];
    const ou = r() < 0.3 ? host(r) : null;
    let sni = r() < 0.7 ? fl.name : null;
    // Half the SNIs are the certificate's own names (not spoofed), half whatever came.
    if (sni !== null && r() < 0.5) {
      if (sans.length > 0) sans.push(sni);
      else if (cn !== null) sni = cn;
    }
    const conn = { sni, cert: facts(cn, sans, ou), tls13: r() < 0.3 };
    const flow: Flow = { srcIp: fl.src, srcPort: 40000, dstIp: fl.dst, dstPort: fl.dport, protocol: 'tcp', scheme: 'https', sni };
    const a = judge(oldP, flow, conn);
    const b = judge(newP, flow, conn);
    const nameOf = (id: { name: string; source: string }) => (id.source === 'ip' ? null : id.name);
    const where = `${fl.src} -> ${fl.dst}:${fl.dport} sni ${sni} cn ${cn} sans ${sans.join(' ')} ou ${ou} ${conn.tls13 ? 'TLS1.3' : 'TLS1.2'}`;
    const got = probe.namedOutcomes(fl.src, fl.dst, fl.dport, nameOf(a.id), nameOf(b.id));
    if (got === null) {
      note(`${where}: the analysis does not place the flow`);
      continue;
    }
    if (got[0].rule !== a.v.rule || got[1].rule !== b.v.rule) note(`${where}: evaluate gives ${a.v.rule} -> ${b.v.rule}, the analysis ${got[0].rule} -> ${got[1].rule}`);
    if (a.v.action !== b.v.action || a.v.rule !== b.v.rule) {
      differing++;
      const c = probe.changeOfNamed(fl.src, fl.dst, fl.dport, nameOf(a.id), nameOf(b.id), SLOT_OF[a.id.source], SLOT_OF[b.id.source]);
      if (c === null) note(`${where}: named ${a.id.name} (${a.id.source}) / ${b.id.name} (${b.id.source}), verdicts differ (${a.v.rule} -> ${b.v.rule}) but no reported change holds it`);
    }
  }
  return { flows, differing, changes: report.changes.length, problems, complete: report.complete, reasons: report.reasons };
}
