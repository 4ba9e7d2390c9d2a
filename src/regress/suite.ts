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
import { factsOf, formatSchema, inFileOrder, isMapping as isObject, locate, readFormat, type IssueWords, type Path, type Pos, type YamlLimits } from '../schema/index.js';
import { peekwallError, type PeekwallError, type Result } from '../util/errors.js';
import type { CaseCertificate, CaseExpect, CaseFlow, Located, SuiteCase, SuiteSpec, TlsVersionName } from './types.js';

const SCHEMA = formatSchema('suite');

const ACTIONS = ['Allow', 'Trust', 'Block', 'Block with reset', 'Interactive Block', 'Interactive Block with reset', 'Monitor', 'Default Action'];
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
// RFC 1123 host names, as the wire layer accepts them for SNI (lower-cased, no trailing dot).
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)*$/;

type Obj = Record<string, unknown>;
const isText = (v: unknown): v is string | number => typeof v === 'string' || typeof v === 'number';

/** What a mapping is called in messages: 'the suite', 'case 3', 'flow', 'flow identity', 'expect'. */
function whatIs(path: Path, title: unknown): string {
  if (path.length === 0) return 'the suite';
  const last = path[path.length - 1];
  return title === 'case' && typeof last === 'number' ? `case ${last + 1}` : String(title ?? path.join('.'));
}

const words: IssueWords = (i) => {
  const f = factsOf(i);
  const mapPath = i.path.slice(0, -1);
  switch (i.keyword) {
    case 'additionalProperties':
      return { code: 'suite/unknown-key', message: `unknown key '${i.key}' in ${whatIs(mapPath, i.parent?.title)} (allowed: ${f.allowed.join(', ')})` };
    case 'required':
      return { code: 'suite/missing', message: `${whatIs(mapPath, i.parent?.title)} needs '${i.key}'${i.key === 'expect' ? ' (state at least one field)' : ''}` };
    case 'minProperties':
      return { code: 'suite/empty-expect', message: `${whatIs(i.path.slice(0, -1), 'case')}: 'expect' states no field, so it would check nothing` };
    case 'maxItems':
      return { code: 'suite/too-many-cases', message: `${(i.value as unknown[]).length} cases, more than the ${i.params.limit} allowed` };
    case 'maxLength':
      return { code: 'suite/too-long', message: `'${i.key}' is longer than 64 KiB` };
    case 'enum':
      return { code: f.code ?? 'suite/type', message: `unknown ${f.title} '${String(i.value)}' (${f.allowed.filter((a) => a !== 'null').join(', ')})` };
  }
  if (f.expected) return { code: f.code ?? 'suite/type', message: `'${i.key}' ${f.expected}` };
  if (i.keyword === 'type' && i.schema.type === 'object') {
    return { code: 'suite/type', message: `${whatIs(i.path, i.schema.title)} must be a mapping` };
  }
  return { code: f.code ?? 'suite/type', message: `'${i.key}' ${i.ajvMessage}` };
};

/** The semantic checks of one case's flow (addresses, SNI, ALPN, versions); its value when all hold. */
function readFlow(f: Obj, index: number, fail: (path: Path, code: string, message: string) => void, at: (k: string) => Path): CaseFlow | null {
  const errorsBefore = { n: 0 };
  const bad = (path: Path, code: string, message: string) => {
    errorsBefore.n++;
    fail(path, code, message);
  };
  for (const k of ['src', 'dst'] as const) {
    if (isText(f[k]) && isIP(String(f[k])) === 0) bad(at(k), 'suite/bad-address', `${k} '${f[k]}' is not an IP address`);
  }
  let sni: string | null = null;
  if (isText(f.sni)) {
    const s = String(f.sni).toLowerCase().replace(/\.$/, '');
    if (!HOSTNAME.test(s) || isIP(s) !== 0) bad(at('sni'), 'suite/bad-sni', `sni '${f.sni}' is not a host name (an SNI never carries an IP address)`);
    else sni = s;
  }
  const list = (k: string): { text: string; path: Path }[] =>
    Array.isArray(f[k]) ? (f[k] as unknown[]).flatMap((v, j) => (isText(v) ? [{ text: String(v), path: [...at(k), j] }] : [])) : isText(f[k]) ? [{ text: String(f[k]), path: at(k) }] : [];
  const alpn: string[] = [];
  for (const a of list('alpn')) {
    if (a.text.length === 0 || a.text.length > 255) bad(a.path, 'suite/bad-alpn', `ALPN protocol '${a.text}' must be 1-255 bytes`);
    else alpn.push(a.text);
  }
  const versions: TlsVersionName[] = [];
  for (const v of list('versions')) {
    const name = VERSIONS[v.text.toLowerCase()];
    if (!name) bad(v.path, 'suite/bad-version', `unknown TLS version '${v.text}' (TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)`);
    else if (!versions.includes(name)) versions.push(name);
  }
  if (Array.isArray(f.versions) && f.versions.length === 0) bad(at('versions'), 'suite/bad-version', 'versions must list at least one TLS version');
  if (errorsBefore.n > 0 || !isText(f.src) || !isText(f.dst)) return null;

  const cert: CaseCertificate | undefined = isText(f.cert) ? (String(f.cert).includes('-----BEGIN') ? { kind: 'inline', pem: String(f.cert) } : { kind: 'file', ref: String(f.cert) }) : undefined;
  // YAML 1.2 reads `on`/`off` as text; the schema let through booleans and on/off/true/false in any case.
  const tsid = f.tsid === undefined ? undefined : ['on', 'true'].includes(String(f.tsid).toLowerCase());
  const id = isObject(f.identity) && isText(f.identity.name) && typeof f.identity.source === 'string' ? { name: String(f.identity.name).toLowerCase(), source: f.identity.source as IdentitySource } : undefined;
  return {
    src: String(f.src),
    sport: typeof f.sport === 'number' ? f.sport : 40000 + (index % 20000),
    dst: String(f.dst),
    dport: f.dport as number,
    sni,
    alpn,
    versions,
    ...(cert ? { cert } : {}),
    ...(tsid !== undefined ? { tsid } : {}),
    ...(typeof f.profile === 'string' ? { profile: f.profile as TsidProfile } : {}),
    ...(id ? { identity: id } : {}),
  };
}

function readExpect(e: Obj, fail: (path: Path, code: string, message: string) => void, at: (k: string) => Path): CaseExpect | null {
  const out: { -readonly [K in keyof CaseExpect]: CaseExpect[K] } = {};
  if (isText(e.action)) {
    const lc = String(e.action).toLowerCase();
    const a = ACTIONS.find((x) => x.toLowerCase() === lc);
    if (!a) {
      fail(at('action'), 'suite/bad-action', `unknown action '${e.action}' (${ACTIONS.join(', ')})`);
      return null;
    }
    out.action = a;
  }
  for (const k of ['rule', 'url', 'urlCategory', 'urlReputation', 'reason'] as const) if (isText(e[k])) out[k] = String(e[k]);
  if (e.reason === null) out.reason = '';
  if (e.siCategory !== undefined) out.siCategory = isText(e.siCategory) ? String(e.siCategory) : null;
  if (typeof e.identitySource === 'string') out.identitySource = e.identitySource as IdentitySource;
  return out;
}

/** Parse and validate a suite's text. Pure. */
export function parseSuite(text: string, file: string, limits?: Partial<YamlLimits>): Result<SuiteSpec, PeekwallError[]> {
  const r = readFormat(text, file, 'suite', SCHEMA, words, limits);
  if (!r.ok) return r;
  const errors = [...r.errors];
  const loc = (path: Path): Located => ({ file, ...locate(r.tree, path).at });
  const fail = (path: Path, code: string, message: string) => errors.push(peekwallError(code, message, loc(path)));
  const root = isObject(r.data) ? r.data : {};
  const cases: SuiteCase[] = [];
  const names = new Map<string, Pos>();
  (Array.isArray(root.cases) ? root.cases : []).forEach((c: unknown, i: number) => {
    if (!isObject(c)) return;
    const base = ['cases', i];
    const flow = isObject(c.flow) ? readFlow(c.flow, i, fail, (k) => [...base, 'flow', k]) : null;
    const expect = isObject(c.expect) ? readExpect(c.expect, fail, (k) => [...base, 'expect', k]) : null;
    if (!isText(c.name)) return;
    const name = String(c.name);
    const prev = names.get(name);
    if (prev) fail([...base, 'name'], 'suite/duplicate-case', `case name '${name}' is already used at line ${prev.line}`);
    else names.set(name, locate(r.tree, [...base, 'name']).at);
    if (flow && expect) cases.push({ name, at: loc(base), ...(isText(c.policy) ? { policy: String(c.policy) } : {}), flow, expect });
  });
  if (errors.length > 0) return { ok: false, error: inFileOrder(errors) };
  return {
    ok: true,
    value: {
      file,
      policy: String(root.policy),
      policyAt: loc(['policy']),
      settings: isObject(root.settings) ? root.settings : null,
      settingsAt: isObject(root.settings) ? { file, ...(locate(r.tree, ['settings']).keyAt as Pos) } : null,
      cases,
    },
  };
}
