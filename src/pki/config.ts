// certs/lab.yaml: the declarative description of the lab PKI. Parsed with `yaml` in its safe
// core schema (no custom tags, bounded aliases, unique keys), validated into plain data; every
// problem is a `pki/bad-config` error value with file:line:column.
import { LineCounter, parseDocument, isMap, isSeq, isScalar, visit, type Node } from 'yaml';
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

const ATTR_TYPES = new Set(['C', 'ST', 'L', 'O', 'OU', 'CN', 'emailAddress', 'serialNumber', 'DC']);
const NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const MAX_BYTES = 256 * 1024;

export function parseLabConfig(text: string, file = 'certs/lab.yaml'): Result<LabPkiConfig, PeekwallError[]> {
  const lc = new LineCounter();
  const errors: PeekwallError[] = [];
  const at = (n: Node | null | undefined, message: string) => {
    const pos = n?.range ? lc.linePos(n.range[0]) : undefined;
    errors.push(peekwallError('pki/bad-config', message, pos ? { file, line: pos.line, column: pos.col } : { file }));
  };
  if (text.length > MAX_BYTES) return err([peekwallError('pki/bad-config', `larger than ${MAX_BYTES} bytes`, { file })]);
  const doc = parseDocument(text, { lineCounter: lc, schema: 'core', uniqueKeys: true, prettyErrors: false, strict: true });
  for (const e of doc.errors) {
    const p = e.linePos?.[0];
    errors.push(peekwallError('pki/bad-config', e.message.split('\n')[0], p ? { file, line: p.line, column: p.col } : { file }));
  }
  if (errors.length) return err(errors);
  // No aliases: a config file this small never needs them, and they are how YAML bombs start.
  visit(doc, {
    Alias(_k, n) {
      at(n as unknown as Node, 'aliases (*name) are not allowed in lab.yaml');
      return visit.BREAK;
    },
  });
  if (errors.length) return err(errors);
  const root = doc.contents;
  if (!isMap(root)) return err([peekwallError('pki/bad-config', 'the top level must be a mapping', { file })]);
  const get = (m: Node, key: string): Node | null => (isMap(m) ? ((m.get(key, true) as Node | undefined) ?? null) : null);
  const str = (n: Node | null, what: string): string | null => {
    if (n === null) return null;
    if (isScalar(n) && (typeof n.value === 'string' || typeof n.value === 'number')) return String(n.value);
    at(n, `${what} must be a string`);
    return null;
  };
  const date = (n: Node | null, what: string): Date | null => {
    const s = str(n, what);
    if (s === null) return null;
    const d = new Date(s);
    if (Number.isNaN(d.getTime())) {
      at(n, `${what}: "${s}" is not an ISO date`);
      return null;
    }
    return d;
  };
  for (const pair of root.items) {
    const k = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!['label', 'epoch', 'certificates'].includes(k)) at(pair.key as Node, `unknown key "${k}" (expected label, epoch, certificates)`);
  }
  const label = str(get(root, 'label'), 'label') ?? 'LAB-ONLY';
  const epoch = date(get(root, 'epoch'), 'epoch');
  if (!epoch && !get(root, 'epoch')) at(root, 'epoch (an ISO date) is required');
  const list = get(root, 'certificates');
  const certs: CertSpec[] = [];
  const names = new Map<string, boolean>();
  if (!isSeq(list)) at(list ?? root, 'certificates must be a list');
  else {
    for (const item of list.items as Node[]) {
      if (!isMap(item)) {
        at(item, 'each certificate must be a mapping');
        continue;
      }
      for (const pair of item.items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : '';
        const known = ['name', 'ca', 'issuer', 'subject', 'sans', 'key', 'validityDays', 'notBefore', 'notAfter', 'expectExpired', 'description'];
        if (!known.includes(k)) at(pair.key as Node, `unknown key "${k}" in a certificate (expected ${known.join(', ')})`);
      }
      const name = str(get(item, 'name'), 'name');
      if (name === null || !NAME_RE.test(name)) {
        at(item, `name must match ${NAME_RE.source}`);
        continue;
      }
      if (names.has(name)) at(get(item, 'name'), `duplicate certificate name "${name}"`);
      const caN = get(item, 'ca');
      const ca = caN !== null && isScalar(caN) && caN.value === true;
      const issuer = str(get(item, 'issuer'), 'issuer') ?? 'self';
      if (issuer !== 'self' && names.get(issuer) !== true) at(get(item, 'issuer'), `issuer "${issuer}" must be a CA listed earlier (or "self")`);
      const subject: { type: string; value: string }[] = [];
      const subjN = get(item, 'subject');
      if (!isSeq(subjN)) at(subjN ?? item, `${name}: subject must be a list of single-key mappings, e.g. [{C: US}, {CN: host}]`);
      else {
        for (const a of subjN.items as Node[]) {
          if (!isMap(a) || a.items.length !== 1 || !isScalar(a.items[0].key)) {
            at(a, `${name}: each subject entry is one {TYPE: value}`);
            continue;
          }
          const type = String(a.items[0].key.value);
          const value = str(a.items[0].value as Node, `${name}: subject ${type}`);
          if (!ATTR_TYPES.has(type)) at(a, `${name}: unknown subject attribute "${type}" (known: ${[...ATTR_TYPES].join(', ')})`);
          else if (value !== null) subject.push({ type, value });
        }
      }
      const sans: { type: 'dns' | 'ip'; value: string }[] = [];
      const sansN = get(item, 'sans');
      if (sansN !== null) {
        if (!isSeq(sansN)) at(sansN, `${name}: sans must be a list of "dns:NAME" / "ip:ADDR"`);
        else {
          for (const s of sansN.items as Node[]) {
            const v = str(s, `${name}: san`);
            if (v === null) continue;
            const m = /^(dns|ip):(.+)$/.exec(v);
            if (!m) at(s, `${name}: SAN "${v}" must start with dns: or ip:`);
            else sans.push({ type: m[1] as 'dns' | 'ip', value: m[2] });
          }
        }
      }
      const keyS = str(get(item, 'key'), `${name}: key`) ?? 'rsa-2048';
      let key: KeySpec | null = null;
      if (keyS === 'rsa-2048' || keyS === 'rsa-3072' || keyS === 'rsa-4096') key = { type: 'rsa', bits: Number(keyS.slice(4)) as 2048 };
      else if (keyS === 'ec-p256') key = { type: 'ec', curve: 'P-256' };
      else if (keyS === 'ec-p384') key = { type: 'ec', curve: 'P-384' };
      else at(get(item, 'key'), `${name}: key must be rsa-2048, rsa-3072, rsa-4096, ec-p256 or ec-p384`);
      const vdN = get(item, 'validityDays');
      let validityDays = 365;
      if (vdN !== null) {
        if (isScalar(vdN) && Number.isInteger(vdN.value) && (vdN.value as number) > 0 && (vdN.value as number) <= 40_000) validityDays = vdN.value as number;
        else at(vdN, `${name}: validityDays must be a positive integer`);
      }
      const notBefore = date(get(item, 'notBefore'), `${name}: notBefore`);
      const notAfter = date(get(item, 'notAfter'), `${name}: notAfter`);
      if ((notBefore === null) !== (notAfter === null)) at(item, `${name}: give both notBefore and notAfter, or neither`);
      if (notBefore && notAfter && notAfter <= notBefore) at(get(item, 'notAfter'), `${name}: notAfter must be after notBefore`);
      const eeN = get(item, 'expectExpired');
      const expectExpired = eeN !== null && isScalar(eeN) && eeN.value === true;
      if (ca && sans.length) at(sansN, `${name}: a CA gets no SANs`);
      if (!subject.length && !sans.length) at(item, `${name}: needs a subject or SANs`);
      names.set(name, ca);
      if (key) {
        certs.push({
          name, ca, issuer, subject, sans, key, validityDays, notBefore, notAfter, expectExpired,
          description: str(get(item, 'description'), `${name}: description`) ?? '',
        });
      }
    }
  }
  if (errors.length) return err(errors);
  return ok({ label, epoch: epoch as Date, certificates: certs });
}
