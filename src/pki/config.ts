// certs/lab.yaml: the declarative description of the lab PKI. Its format and defaults are
// policies/schemas/lab-pki.schema.json, read by the one YAML reader (no aliases at all in this
// file); the checks a schema cannot make are here. Every problem is a `pki/bad-config` error
// value with file:line:column.
import { factsOf, formatSchema, inFileOrder, isMapping as isObject, locate, readFormat, type IssueWords, type Path } from '../schema/index.js';
import { peekwallError, type PeekwallError, type Result, ok, err } from '../util/errors.js';

export type KeySpec = { readonly type: 'rsa'; readonly bits: 2048 | 3072 | 4096 } | { readonly type: 'ec'; readonly curve: 'P-256' | 'P-384' };

export interface CertSpec {
  /** File stem: certs/<name>.crt.pem and certs/<name>.key.pem. */
  readonly name: string;
  readonly ca: boolean;
  /** 'self' or the name of a CA listed earlier. */
  readonly issuer: string;
  /** Subject attributes in DER order (first = outermost, C usually). */
  readonly subject: readonly { readonly type: string; readonly value: string }[];
  /** SANs in order, `dns:NAME` or `ip:ADDR`. */
  readonly sans: readonly { readonly type: 'dns' | 'ip'; readonly value: string }[];
  readonly key: KeySpec;
  /** Lifetime from the generation time (init: lab.yaml `epoch`; renew: now). */
  readonly validityDays: number;
  /** Fixed dates that win over validityDays (e.g. the intentionally expired certificate). */
  readonly notBefore: Date | null;
  readonly notAfter: Date | null;
  /** The certificate is expired on purpose: `certs check` reports it as expected, not an error. */
  readonly expectExpired: boolean;
  readonly description: string;
}

export interface LabPkiConfig {
  /** Text written as `# ` comment lines before every PEM block. */
  readonly label: string;
  /** notBefore of everything `certs init` makes (reproducible shape of the shipped set). */
  readonly epoch: Date;
  readonly certificates: readonly CertSpec[];
}

const SCHEMA = formatSchema('lab-pki');

/** The file as the schema leaves it: valid shapes, defaults filled in. */
interface RawCert {
  name: string;
  ca: boolean;
  issuer: string | number;
  subject: Record<string, string | number>[];
  sans?: string[];
  key: 'rsa-2048' | 'rsa-3072' | 'rsa-4096' | 'ec-p256' | 'ec-p384';
  validityDays: number;
  notBefore?: string | number;
  notAfter?: string | number;
  expectExpired: boolean;
  description: string | number;
}
interface RawConfig {
  label: string | number;
  epoch: string | number;
  certificates: RawCert[];
}

const KEYS: Readonly<Record<RawCert['key'], KeySpec>> = {
  'rsa-2048': { type: 'rsa', bits: 2048 },
  'rsa-3072': { type: 'rsa', bits: 3072 },
  'rsa-4096': { type: 'rsa', bits: 4096 },
  'ec-p256': { type: 'ec', curve: 'P-256' },
  'ec-p384': { type: 'ec', curve: 'P-384' },
};

/** The certificate an issue is in, by name, for the message's prefix (`smart-licensing: key must be ...`). */
function certNameAt(data: unknown, path: Path): string | null {
  if (path[0] !== 'certificates' || typeof path[1] !== 'number' || path.length < 3 || path[2] === 'name' || !isObject(data)) return null;
  const list = data.certificates;
  const c = Array.isArray(list) ? list[path[1]] : undefined;
  return isObject(c) && typeof c.name === 'string' ? c.name : null;
}

const words: IssueWords = (i, data) => {
  const f = factsOf(i);
  const code = 'pki/bad-config';
  if (i.keyword === 'additionalProperties') {
    const where = i.path.length > 1 ? ' in a certificate' : '';
    return { code, message: `unknown key "${i.key}"${where} (expected ${f.allowed.join(', ')})` };
  }
  if (i.path.length === 0) return { code, message: `the top level ${f.expected}` };
  const name = certNameAt(data, i.path);
  const prefix = name ? `${name}: ` : '';
  if (i.keyword === 'required') return { code, message: `${prefix}${i.key}${f.title ? ` (${f.title})` : ''} is required` };
  if (i.keyword === 'enum' && f.title) return { code, message: `${prefix}unknown ${f.title} "${i.key}" (known: ${f.allowed.join(', ')})` };
  const last = i.path[i.path.length - 1];
  const subject = f.title && typeof i.value !== 'object' ? `${f.title} "${String(i.value)}"` : typeof last === 'number' ? `${i.key}[${last}]` : i.key;
  return { code, message: `${prefix}${subject} ${f.expected ?? i.ajvMessage}` };
};

/**
 * What the schema cannot say: dates are dates, names are unique, issuers are CAs listed
 * earlier, fixed dates come in pairs and in order, a CA has no SANs, a certificate names
 * something. Run beside the schema's errors, on data of any shape.
 */
function semanticErrors(data: unknown, bad: (path: Path, message: string) => void): void {
  if (!isObject(data)) return;
  const date = (v: unknown, path: Path, what: string): Date | null => {
    if (typeof v !== 'string' && typeof v !== 'number') return null;
    const d = new Date(v);
    if (Number.isNaN(d.getTime())) bad(path, `${what}: "${v}" is not an ISO date`);
    return Number.isNaN(d.getTime()) ? null : d;
  };
  date(data.epoch, ['epoch'], 'epoch');
  const cas = new Map<string, boolean>();
  (Array.isArray(data.certificates) ? data.certificates : []).forEach((c: unknown, i) => {
    if (!isObject(c) || typeof c.name !== 'string') return;
    const at = (...rest: string[]): Path => ['certificates', i, ...rest];
    const name = c.name;
    if (cas.has(name)) bad(at('name'), `duplicate certificate name "${name}"`);
    const issuer = String(c.issuer ?? 'self');
    if (issuer !== 'self' && cas.get(issuer) !== true) bad(at('issuer'), `issuer "${issuer}" must be a CA listed earlier (or "self")`);
    const notBefore = date(c.notBefore, at('notBefore'), `${name}: notBefore`);
    const notAfter = date(c.notAfter, at('notAfter'), `${name}: notAfter`);
    if ((c.notBefore === undefined) !== (c.notAfter === undefined)) bad(at(), `${name}: give both notBefore and notAfter, or neither`);
    if (notBefore && notAfter && notAfter <= notBefore) bad(at('notAfter'), `${name}: notAfter must be after notBefore`);
    const sans = Array.isArray(c.sans) ? c.sans.length : 0;
    if (c.ca === true && sans > 0) bad(at('sans'), `${name}: a CA gets no SANs`);
    if (Array.isArray(c.subject) && c.subject.length === 0 && sans === 0) bad(at(), `${name}: needs a subject or SANs`);
    cas.set(name, c.ca === true);
  });
}

const sanOf = (s: string): CertSpec['sans'][number] => {
  const colon = s.indexOf(':');
  return { type: s.slice(0, colon) as 'dns' | 'ip', value: s.slice(colon + 1) };
};

export function parseLabConfig(text: string, file = 'certs/lab.yaml'): Result<LabPkiConfig, PeekwallError[]> {
  const r = readFormat(text, file, 'pki', SCHEMA, words);
  if (!r.ok) return r;
  const errors = [...r.errors];
  semanticErrors(r.data, (path, message) => errors.push(peekwallError('pki/bad-config', message, { file, ...locate(r.tree, path).at })));
  if (errors.length) return err(inFileOrder(errors));
  const c = r.data as RawConfig;
  const certificates = c.certificates.map(
    (x): CertSpec => ({
      name: x.name,
      ca: x.ca,
      issuer: String(x.issuer),
      subject: x.subject.map((a) => {
        const [type, value] = Object.entries(a)[0];
        return { type, value: String(value) };
      }),
      sans: (x.sans ?? []).map(sanOf),
      key: KEYS[x.key],
      validityDays: x.validityDays,
      notBefore: x.notBefore === undefined ? null : new Date(x.notBefore),
      notAfter: x.notAfter === undefined ? null : new Date(x.notAfter),
      expectExpired: x.expectExpired,
      description: String(x.description),
    }),
  );
  return ok({ label: String(c.label), epoch: new Date(c.epoch), certificates });
}
