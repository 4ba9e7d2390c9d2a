// The suite format (policies/tests/*.test.yaml), parsed and validated with file:line:column
// errors. Pure: text in, SuiteSpec or errors out (files are read by load.ts).
//
//   policy: ../smart-licensing.yaml      # relative to the suite file
//   settings:                            # optional: merged into the policy's `settings:`
//     tsid: { enabled: false }           #   (same keys and syntax as the policy file)
//   cases:
//     - name: FMC licensing call, no SNI, blocked by the toos.cisco.com SI entry
//       policy: ../smart-licensing-remedy-allow-toos.yaml   # optional: this case's own policy
//       flow:
//         src: 10.12.1.8                 # required
//         sport: 40722                   # default 40000 + case index
//         dst: 72.163.4.38               # required
//         dport: 443                     # default 443
//         sni: tools.cisco.com           # default: none (no SNI extension)
//         alpn: [h2, http/1.1]           # default: none
//         versions: [TLSv1.2]            # offered; default [TLSv1.2, TLSv1.3]; highest is negotiated
//         cert: certs/smart-licensing.crt.pem   # file (suite dir, then package root) or inline PEM
//         tsid: off                      # on|off: case override of the policy's TSID setting
//         profile: snort3-legacy         # snort3-legacy|snort3|technote
//         identity: { name: x, source: cert-san }  # recorded identity (generated suites)
//       expect:                          # only the stated fields are checked
//         action: Block                  # Allow, Trust, Block, Block with reset, Interactive Block...
//         rule: BLOCK_TOOS               # deciding rule, 'Default Action', or the SI list
//         url: https://toos.cisco.com    # (a bare host compares with the URL's host)
//         identitySource: cert-san       # sni|cert-san|cert-cn|cert-ou|passive-cn|ip
//         siCategory: Smart-Licensing-Block   # null: no SI list decided or monitored
//         urlCategory: Computers and Internet Info
//         urlReputation: Trusted         # label, or level 0-5
//         reason: URL Block
import { isIP } from 'node:net';
import type { IdentitySource, TsidProfile } from '../identity/index.js';
import { peekwallError, type PeekwallError, type Result } from '../util/errors.js';
import type { CaseCertificate, CaseExpect, CaseFlow, Located, SuiteCase, SuiteSpec, TlsVersionName } from './types.js';
import { entryOf, readYaml, toPlain, type Pos, type YamlLimits, type YNode } from '../schema/index.js';

export const MAX_CASES = 10_000;

const ACTIONS = [
  'Allow',
  'Trust',
  'Block',
  'Block with reset',
  'Interactive Block',
  'Interactive Block with reset',
  'Monitor',
  'Default Action',
];
const SOURCES: readonly IdentitySource[] = ['sni', 'cert-san', 'cert-cn', 'cert-ou', 'passive-cn', 'ip'];
const PROFILES: readonly TsidProfile[] = ['snort3-legacy', 'snort3', 'technote'];
const VERSIONS: Readonly<Record<string, TlsVersionName>> = {
  'tlsv1': 'TLSv1',
  'tlsv1.0': 'TLSv1',
  '1.0': 'TLSv1',
  'tlsv1.1': 'TLSv1.1',
  '1.1': 'TLSv1.1',
  'tlsv1.2': 'TLSv1.2',
  '1.2': 'TLSv1.2',
  'tlsv1.3': 'TLSv1.3',
  '1.3': 'TLSv1.3',
};
const DEFAULT_VERSIONS: readonly TlsVersionName[] = ['TLSv1.2', 'TLSv1.3'];
// RFC 1123 host names, as the wire layer accepts them for SNI (lower-cased, no trailing dot).
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)*$/;

type Map_ = Extract<YNode, { kind: 'map' }>;

class Checker {
  readonly errors: PeekwallError[] = [];
  constructor(readonly file: string) {}
  fail(at: Pos, code: string, message: string): null {
    this.errors.push(peekwallError(code, message, { file: this.file, line: at.line, column: at.column }));
    return null;
  }
  map(n: YNode, what: string, allowed: readonly string[]): Map_ | null {
    if (n.kind !== 'map') return this.fail(n.at, 'suite/type', `${what} must be a mapping`);
    for (const { key: k, keyAt } of n.entries) {
      if (!allowed.includes(k)) {
        this.fail(keyAt, 'suite/unknown-key', `unknown key '${k}' in ${what} (allowed: ${allowed.join(', ')})`);
      }
    }
    return n;
  }
  str(m: Map_, key: string, what: string, required: boolean): string | null | undefined {
    const e = entryOf(m, key);
    if (!e) {
      if (required) this.fail(m.at, 'suite/missing', `${what} needs '${key}'`);
      return undefined;
    }
    const v = e.value;
    if (v.kind !== 'scalar' || v.value === null || typeof v.value === 'boolean') {
      if (v.kind === 'scalar' && v.value === null) return null;
      return this.fail(v.at, 'suite/type', `'${key}' must be text`);
    }
    const s = String(v.value);
    if (s.length > 64 * 1024) return this.fail(v.at, 'suite/too-long', `'${key}' is longer than 64 KiB`);
    return s;
  }
  at(m: Map_, key: string): Located {
    return { file: this.file, ...(entryOf(m, key)?.value.at ?? m.at) };
  }
}

function parsePort(c: Checker, m: Map_, key: string, dflt: number): number {
  const e = entryOf(m, key);
  if (!e) return dflt;
  const v = e.value;
  if (v.kind === 'scalar' && typeof v.value === 'number' && Number.isInteger(v.value) && v.value >= 1 && v.value <= 65535) return v.value;
  c.fail(v.at, 'suite/bad-port', `'${key}' must be a port number 1-65535`);
  return dflt;
}

function parseList(c: Checker, m: Map_, key: string): { items: string[]; at: Pos }[] | null {
  const e = entryOf(m, key);
  if (!e) return null;
  const v = e.value;
  const raw = v.kind === 'seq' ? v.items : [v];
  const out: { items: string[]; at: Pos }[] = [];
  for (const item of raw) {
    if (item.kind !== 'scalar' || item.value === null || typeof item.value === 'boolean') {
      c.fail(item.at, 'suite/type', `'${key}' must be a list of text values`);
      continue;
    }
    out.push({ items: [String(item.value)], at: item.at });
  }
  return out;
}

function parseFlow(c: Checker, n: YNode, index: number): CaseFlow | null {
  const m = c.map(n, 'flow', ['src', 'sport', 'dst', 'dport', 'sni', 'alpn', 'versions', 'cert', 'tsid', 'profile', 'identity']);
  if (!m) return null;
  const src = c.str(m, 'src', 'flow', true);
  const dst = c.str(m, 'dst', 'flow', true);
  if (typeof src === 'string' && isIP(src) === 0) c.fail(c.at(m, 'src'), 'suite/bad-address', `src '${src}' is not an IP address`);
  if (typeof dst === 'string' && isIP(dst) === 0) c.fail(c.at(m, 'dst'), 'suite/bad-address', `dst '${dst}' is not an IP address`);
  const sport = parsePort(c, m, 'sport', 40000 + (index % 20000));
  const dport = parsePort(c, m, 'dport', 443);

  let sni: string | null = null;
  const rawSni = c.str(m, 'sni', 'flow', false);
  if (typeof rawSni === 'string') {
    const s = rawSni.toLowerCase().replace(/\.$/, '');
    if (!HOSTNAME.test(s) || isIP(s) !== 0) c.fail(c.at(m, 'sni'), 'suite/bad-sni', `sni '${rawSni}' is not a host name (an SNI never carries an IP address)`);
    else sni = s;
  }

  const alpn: string[] = [];
  for (const a of parseList(c, m, 'alpn') ?? []) {
    const s = a.items[0];
    if (s.length === 0 || s.length > 255) c.fail(a.at, 'suite/bad-alpn', `ALPN protocol '${s}' must be 1-255 bytes`);
    else alpn.push(s);
  }

  let versions: TlsVersionName[] = [...DEFAULT_VERSIONS];
  const rawVersions = parseList(c, m, 'versions');
  if (rawVersions) {
    versions = [];
    for (const v of rawVersions) {
      const name = VERSIONS[v.items[0].toLowerCase()];
      if (!name) c.fail(v.at, 'suite/bad-version', `unknown TLS version '${v.items[0]}' (TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)`);
      else if (!versions.includes(name)) versions.push(name);
    }
    if (rawVersions.length === 0) c.fail(c.at(m, 'versions'), 'suite/bad-version', 'versions must list at least one TLS version');
  }

  let cert: CaseCertificate | undefined;
  const rawCert = c.str(m, 'cert', 'flow', false);
  if (typeof rawCert === 'string') {
    cert = rawCert.includes('-----BEGIN') ? { kind: 'inline', pem: rawCert } : { kind: 'file', ref: rawCert };
  }

  let tsid: boolean | undefined;
  const t = entryOf(m, 'tsid');
  if (t) {
    const v = t.value;
    // YAML 1.2 (the yaml package's default) reads `on`/`off` as text; accept booleans too.
    const s = v.kind === 'scalar' ? String(v.value).toLowerCase() : '';
    if (s === 'on' || s === 'true') tsid = true;
    else if (s === 'off' || s === 'false') tsid = false;
    else c.fail(v.at, 'suite/bad-tsid', "tsid must be 'on' or 'off'");
  }
  let profile: TsidProfile | undefined;
  const rawProfile = c.str(m, 'profile', 'flow', false);
  if (typeof rawProfile === 'string') {
    if ((PROFILES as readonly string[]).includes(rawProfile)) profile = rawProfile as TsidProfile;
    else c.fail(c.at(m, 'profile'), 'suite/bad-profile', `unknown TSID profile '${rawProfile}' (${PROFILES.join(', ')})`);
  }

  let identity: CaseFlow['identity'];
  const idEntry = entryOf(m, 'identity');
  if (idEntry) {
    const im = c.map(idEntry.value, 'flow identity', ['name', 'source']);
    if (im) {
      const name = c.str(im, 'name', 'flow identity', true);
      const source = c.str(im, 'source', 'flow identity', true);
      if (typeof source === 'string' && !(SOURCES as readonly string[]).includes(source)) {
        c.fail(c.at(im, 'source'), 'suite/bad-source', `unknown identity source '${source}' (${SOURCES.join(', ')})`);
      } else if (typeof name === 'string' && typeof source === 'string') {
        identity = { name: name.toLowerCase(), source: source as IdentitySource };
      }
    }
  }
  if (typeof src !== 'string' || typeof dst !== 'string') return null;
  return {
    src,
    sport,
    dst,
    dport,
    sni,
    alpn,
    versions,
    ...(cert ? { cert } : {}),
    ...(tsid !== undefined ? { tsid } : {}),
    ...(profile ? { profile } : {}),
    ...(identity ? { identity } : {}),
  };
}

function canonicalAction(s: string): string | null {
  const lc = s.toLowerCase();
  return ACTIONS.find((a) => a.toLowerCase() === lc) ?? null;
}

function parseExpect(c: Checker, n: YNode): CaseExpect | null {
  const m = c.map(n, 'expect', ['action', 'rule', 'url', 'identitySource', 'siCategory', 'urlCategory', 'urlReputation', 'reason']);
  if (!m) return null;
  const e: { -readonly [K in keyof CaseExpect]: CaseExpect[K] } = {};
  const action = c.str(m, 'action', 'expect', false);
  if (typeof action === 'string') {
    const a = canonicalAction(action);
    if (a) e.action = a;
    else c.fail(c.at(m, 'action'), 'suite/bad-action', `unknown action '${action}' (${ACTIONS.join(', ')})`);
  }
  for (const k of ['rule', 'url', 'urlCategory', 'reason'] as const) {
    const v = c.str(m, k, 'expect', false);
    if (typeof v === 'string') e[k] = v;
    else if (v === null && k === 'reason') e[k] = '';
  }
  const rep = c.str(m, 'urlReputation', 'expect', false);
  if (typeof rep === 'string') e.urlReputation = rep;
  const si = c.str(m, 'siCategory', 'expect', false);
  if (si !== undefined) e.siCategory = si;
  const src = c.str(m, 'identitySource', 'expect', false);
  if (typeof src === 'string') {
    if ((SOURCES as readonly string[]).includes(src)) e.identitySource = src as IdentitySource;
    else c.fail(c.at(m, 'identitySource'), 'suite/bad-source', `unknown identity source '${src}' (${SOURCES.join(', ')})`);
  }
  return e;
}

/** Parse and validate a suite's text. Pure. */
export function parseSuite(text: string, file: string, limits?: Partial<YamlLimits>): Result<SuiteSpec, PeekwallError[]> {
  const y = readYaml(text, file, 'suite', limits);
  if (!y.ok) return y;
  if (y.errors.length > 0) return { ok: false, error: y.errors };
  const c = new Checker(file);
  const root = c.map(y.value, 'the suite', ['policy', 'settings', 'cases']);
  if (!root) return { ok: false, error: c.errors };
  const policy = c.str(root, 'policy', 'the suite', true);
  if (policy === null) c.fail(c.at(root, 'policy'), 'suite/type', "'policy' must be a file path");

  let settings: Record<string, unknown> | null = null;
  let settingsAt: Located | null = null;
  const s = entryOf(root, 'settings');
  if (s) {
    settingsAt = { file, ...s.keyAt };
    if (s.value.kind !== 'map') c.fail(s.value.at, 'suite/type', "'settings' must be a mapping (the policy file's settings keys)");
    else settings = toPlain(s.value) as Record<string, unknown>;
  }

  const cases: SuiteCase[] = [];
  const ce = entryOf(root, 'cases');
  if (!ce) c.fail(root.at, 'suite/missing', "the suite needs 'cases'");
  else if (ce.value.kind !== 'seq') c.fail(ce.value.at, 'suite/type', "'cases' must be a list");
  else {
    if (ce.value.items.length > MAX_CASES) {
      c.fail(ce.value.at, 'suite/too-many-cases', `${ce.value.items.length} cases, more than the ${MAX_CASES} allowed`);
    }
    const names = new Map<string, Located>();
    ce.value.items.slice(0, MAX_CASES).forEach((item, i) => {
      const m = c.map(item, `case ${i + 1}`, ['name', 'policy', 'flow', 'expect']);
      if (!m) return;
      const name = c.str(m, 'name', `case ${i + 1}`, true);
      const casePolicy = c.str(m, 'policy', `case ${i + 1}`, false);
      if (casePolicy === null) c.fail(c.at(m, 'policy'), 'suite/type', "'policy' must be a file path");
      const fe = entryOf(m, 'flow');
      const ee = entryOf(m, 'expect');
      if (!fe) c.fail(m.at, 'suite/missing', `case ${i + 1} needs 'flow'`);
      if (!ee) c.fail(m.at, 'suite/missing', `case ${i + 1} needs 'expect' (state at least one field)`);
      const flow = fe ? parseFlow(c, fe.value, i) : null;
      const expect = ee ? parseExpect(c, ee.value) : null;
      if (ee && ee.value.kind === 'map' && ee.value.entries.length === 0) {
        c.fail(ee.value.at, 'suite/empty-expect', `case ${i + 1}: 'expect' states no field, so it would check nothing`);
      }
      if (typeof name === 'string') {
        const prev = names.get(name);
        if (prev) c.fail(c.at(m, 'name'), 'suite/duplicate-case', `case name '${name}' is already used at line ${prev.line}`);
        else names.set(name, c.at(m, 'name'));
      }
      if (typeof name === 'string' && flow && expect) {
        cases.push({ name, at: { file, ...m.at }, ...(typeof casePolicy === 'string' ? { policy: casePolicy } : {}), flow, expect });
      }
    });
  }
  if (c.errors.length > 0) return { ok: false, error: c.errors };
  return {
    ok: true,
    value: { file, policy: policy as string, policyAt: c.at(root, 'policy'), settings, settingsAt, cases },
  };
}
