// Certificate facts: everything identity resolution, status and the CLI need, read once from
// DER. Pure: no fs, no sockets, synchronous (the TSID probe and the passive path call it per
// new server connection, so it must not need an event-loop turn and must be cheap: a direct
// DER walk, see der.ts). Malformed input is a value (`identity/bad-certificate`), never a throw.
import { createHash } from 'node:crypto';
import { err, ok, peekwallError, type Result } from '../util/errors.js';
import { DerError, expect, oid, time, tlv, type Tlv } from './der.js';
import { ipv6GroupsText } from './ip-text.js';
import {
  ATTR_NAMES,
  KEY_ALGS,
  SIG_ALGS,
  STRING_TAGS,
  bad,
  colonHex,
  decodeRawString,
  escapeDnValue,
  ia5Text,
  nodeCert,
  pemBlocks,
  signedBy,
  toDer,
} from './cert-common.js';
import type { CertificateFacts, NameAttribute, SanEntry } from './types.js';

export { pemBlocks, nodeCert, signedBy } from './cert-common.js';

const CURVES: Readonly<Record<string, number>> = {
  '1.2.840.10045.3.1.7': 256, // P-256
  '1.3.132.0.34': 384, // P-384
  '1.3.132.0.35': 521, // P-521
  '1.3.132.0.10': 256, // secp256k1
};

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
function hexOf(b: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += HEX[b[i]];
  return s;
}

function stringValue(b: Uint8Array, t: Tlv): [string, string] {
  const c = b.subarray(t.start, t.end);
  switch (t.tag) {
    case 0x0c:
      return [Buffer.from(c).toString('utf8'), 'utf8'];
    case 0x16:
      return [ia5Text(Buffer.from(c).toString('latin1')), 'ia5'];
    default: {
      const st = STRING_TAGS[t.tag];
      if (st) return [decodeRawString(t.tag, c), st];
      return [`#${hexOf(b, t.head, t.end)}`, 'other'];
    }
  }
}

interface ReadName {
  readonly attrs: NameAttribute[];
  /** RDN index of each attribute (multi-valued RDNs share one). */
  readonly rdn: number[];
  readonly dn: string;
}

function readName(b: Uint8Array, name: Tlv): ReadName {
  const attrs: NameAttribute[] = [];
  const rdn: number[] = [];
  let p = name.start;
  let i = 0;
  while (p < name.end) {
    const set = expect(b, p, name.end, 0x31, 'RDN');
    let q = set.start;
    while (q < set.end) {
      const atv = expect(b, q, set.end, 0x30, 'attribute');
      const typeT = tlv(b, atv.start, atv.end, 'attribute type');
      const o = oid(b, typeT);
      const v = tlv(b, typeT.end, atv.end, 'attribute value');
      const [value, stringType] = stringValue(b, v);
      attrs.push({ type: ATTR_NAMES[o] ?? o, oid: o, value, stringType });
      rdn.push(i);
      q = atv.end;
    }
    p = set.end;
    i++;
  }
  // RFC 2253 as OpenSSL prints it: every attribute in reverse order, '+' inside one RDN.
  let dn = '';
  for (let j = attrs.length - 1; j >= 0; j--) {
    if (j < attrs.length - 1) dn += rdn[j] === rdn[j + 1] ? '+' : ',';
    dn += `${ATTR_NAMES[attrs[j].oid] ?? attrs[j].oid}=${escapeDnValue(attrs[j].value)}`;
  }
  return { attrs, rdn, dn };
}

function ipText(b: Uint8Array, t: Tlv): string {
  const n = t.end - t.start;
  if (n === 4) return `${b[t.start]}.${b[t.start + 1]}.${b[t.start + 2]}.${b[t.start + 3]}`;
  if (n !== 16) return hexOf(b, t.start, t.end);
  const g: number[] = [];
  for (let i = t.start; i < t.end; i += 2) g.push((b[i] << 8) | b[i + 1]);
  return ipv6GroupsText(g);
}

function readSans(b: Uint8Array, ext: Tlv): SanEntry[] {
  const seq = expect(b, ext.start, ext.end, 0x30, 'subjectAltName');
  const out: SanEntry[] = [];
  let p = seq.start;
  while (p < seq.end) {
    const g = tlv(b, p, seq.end, 'GeneralName');
    const latin = () => ia5Text(Buffer.from(b.subarray(g.start, g.end)).toString('latin1'));
    switch (g.tag) {
      case 0x82:
        out.push({ type: 'dns', value: latin() });
        break;
      case 0x87:
        out.push({ type: 'ip', value: ipText(b, g) });
        break;
      case 0x81:
        out.push({ type: 'email', value: latin() });
        break;
      case 0x86:
        out.push({ type: 'uri', value: latin() });
        break;
      case 0x88:
        out.push({ type: 'other', value: `RID:${oid(b, { ...g, tag: 0x06 })}` });
        break;
      case 0xa0: {
        const id = tlv(b, g.start, g.end, 'otherName type');
        out.push({ type: 'other', value: `othername:${oid(b, id)}` });
        break;
      }
      case 0xa4:
        out.push({ type: 'other', value: `DirName:${readName(b, expect(b, g.start, g.end, 0x30, 'directoryName')).dn}` });
        break;
      default:
        out.push({ type: 'other', value: '' });
    }
    p = g.end;
  }
  return out;
}

/** Modulus bits of an RSA SubjectPublicKey (BIT STRING content: 0x00, SEQ { n, e }). */
function rsaBits(b: Uint8Array, bits: Tlv): number | null {
  if (bits.end - bits.start < 2 || b[bits.start] !== 0) return null;
  const seq = expect(b, bits.start + 1, bits.end, 0x30, 'RSAPublicKey');
  const n = expect(b, seq.start, seq.end, 0x02, 'modulus');
  let i = n.start;
  while (i < n.end && b[i] === 0) i++;
  if (i === n.end) return 0;
  return (n.end - i - 1) * 8 + (32 - Math.clz32(b[i]));
}

function buildFacts(src: Uint8Array): CertificateFacts {
  const der = new Uint8Array(src); // own copy: callers may reuse their buffers
  const cert = expect(der, 0, der.length, 0x30, 'Certificate');
  if (cert.end !== der.length) throw new DerError(`${der.length - cert.end} bytes after the certificate`);
  const tbs = expect(der, cert.start, cert.end, 0x30, 'TBSCertificate');
  let p = tbs.start;
  let t = tlv(der, p, tbs.end, 'version or serial');
  if (t.tag === 0xa0) t = tlv(der, t.end, tbs.end, 'serial');
  if (t.tag !== 0x02) throw new DerError(`expected the serial number INTEGER at byte ${t.head}`);
  const serialT = t;
  const sigInner = expect(der, serialT.end, tbs.end, 0x30, 'signature algorithm');
  const issuerT = expect(der, sigInner.end, tbs.end, 0x30, 'issuer');
  const validity = expect(der, issuerT.end, tbs.end, 0x30, 'validity');
  const nbT = tlv(der, validity.start, validity.end, 'notBefore');
  const naT = tlv(der, nbT.end, validity.end, 'notAfter');
  const subjectT = expect(der, validity.end, tbs.end, 0x30, 'subject');
  const spki = expect(der, subjectT.end, tbs.end, 0x30, 'subjectPublicKeyInfo');
  const keyAlg = expect(der, spki.start, spki.end, 0x30, 'key algorithm');
  const keyOidT = tlv(der, keyAlg.start, keyAlg.end, 'key algorithm OID');
  const keyOid = oid(der, keyOidT);
  const keyBits = expect(der, keyAlg.end, spki.end, 0x03, 'subjectPublicKey');
  let sans: SanEntry[] = [];
  let ski: string | null = null;
  let aki: string | null = null;
  let isCa = false;
  p = spki.end;
  while (p < tbs.end) {
    t = tlv(der, p, tbs.end, 'optional TBS field');
    if (t.tag === 0xa3) {
      const exts = expect(der, t.start, t.end, 0x30, 'extensions');
      let q = exts.start;
      while (q < exts.end) {
        const ext = expect(der, q, exts.end, 0x30, 'extension');
        const idT = tlv(der, ext.start, ext.end, 'extension id');
        const id = oid(der, idT);
        let v = tlv(der, idT.end, ext.end, 'extension value');
        if (v.tag === 0x01) v = tlv(der, v.end, ext.end, 'extension value');
        if (v.tag !== 0x04) throw new DerError(`extension ${id}: value is not an OCTET STRING`);
        if (id === '2.5.29.17') sans = readSans(der, v);
        else if (id === '2.5.29.14') {
          const k = expect(der, v.start, v.end, 0x04, 'subjectKeyIdentifier');
          ski = hexOf(der, k.start, k.end);
        } else if (id === '2.5.29.35') {
          const s = expect(der, v.start, v.end, 0x30, 'authorityKeyIdentifier');
          if (s.start < s.end) {
            const k = tlv(der, s.start, s.end, 'keyIdentifier');
            if (k.tag === 0x80) aki = hexOf(der, k.start, k.end);
          }
        } else if (id === '2.5.29.19') {
          const s = expect(der, v.start, v.end, 0x30, 'basicConstraints');
          if (s.start < s.end) {
            const c = tlv(der, s.start, s.end, 'cA');
            isCa = c.tag === 0x01 && c.end > c.start && der[c.start] !== 0;
          }
        }
        q = ext.end;
      }
    }
    p = t.end;
  }
  const sigAlg = expect(der, tbs.end, cert.end, 0x30, 'signatureAlgorithm');
  const sigOid = oid(der, tlv(der, sigAlg.start, sigAlg.end, 'signature OID'));
  expect(der, sigAlg.end, cert.end, 0x03, 'signatureValue');

  const subject = readName(der, subjectT);
  const issuer = readName(der, issuerT);
  const cns: string[] = [];
  const ous: string[] = [];
  for (const a of subject.attrs) {
    if (a.oid === '2.5.4.3') cns.push(a.value);
    else if (a.oid === '2.5.4.11') ous.push(a.value);
  }
  let s0 = serialT.start;
  // DER keeps a leading 0x00 so a positive integer's top bit is clear; openssl omits it.
  if (serialT.end - s0 > 1 && der[s0] === 0 && der[s0 + 1] >= 0x80) s0++;
  let keySize: number | null = null;
  let keyType = KEY_ALGS[keyOid] ?? keyOid;
  if (keyOid === '1.2.840.113549.1.1.1' || keyOid === '1.2.840.113549.1.1.10') keySize = rsaBits(der, keyBits);
  else if (keyOid === '1.2.840.10045.2.1') {
    const params = keyOidT.end < keyAlg.end ? tlv(der, keyOidT.end, keyAlg.end, 'curve') : null;
    keySize = params && params.tag === 0x06 ? (CURVES[oid(der, params)] ?? null) : null;
  } else if (keyOid === '1.3.101.112') keySize = 256;
  else if (keyOid === '1.3.101.113') keySize = 456;
  if (keyType === keyOid) keyType = `OID ${keyOid}`;
  // openssl's notion: issued by itself (same name) and its own key verifies the signature.
  // Only self-issued certificates pay for the signature check.
  let selfSigned = false;
  if (subject.dn === issuer.dn && (ski === null || aki === null || ski === aki)) {
    const node = nodeCert(der);
    selfSigned = node !== null && signedBy(node, node);
  }
  return {
    der,
    subject: subject.attrs,
    subjectDn: subject.dn,
    issuer: issuer.attrs,
    issuerDn: issuer.dn,
    cn: cns.length ? cns[0] : null,
    cns,
    ous,
    sans,
    serial: hexOf(der, s0, serialT.end).toUpperCase(),
    notBefore: time(der, nbT),
    notAfter: time(der, naT),
    keyType,
    keySize,
    signatureAlgorithm: SIG_ALGS[sigOid] ?? sigOid,
    ski,
    aki,
    sha256: colonHex(createHash('sha256').update(der).digest()),
    selfSigned,
    isCa,
  };
}

/** Every fact peekwall uses, from one DER or PEM certificate (the first block of a PEM). */
export function certificateFacts(input: Uint8Array | string): Result<CertificateFacts> {
  const d = toDer(input);
  if (!d.ok) return d;
  const der = d.value;
  if (der.length < 16 || der[0] !== 0x30) return bad('the data does not start with a DER SEQUENCE');
  try {
    return ok(buildFacts(der));
  } catch (e) {
    if (e instanceof DerError) return bad(e.message);
    return bad(`unexpected structure (${(e as Error).message})`);
  }
}

/** Every certificate of a PEM bundle or chain, in file order. An empty bundle is an error. */
/**
 * Certificates one PEM bundle or trust store may hold. A system CA bundle holds ~150; parsing
 * (with a signature check for self-issued roots) costs ~1.4 ms each, so 20,000 would stall a
 * start-up for ~28 s (docs/RELIABILITY.md §2): refuse rather than stall.
 */
export const MAX_BUNDLE_CERTIFICATES = 2_000;

export function certificatesFromPem(text: string): Result<CertificateFacts[]> {
  const blocks = pemBlocks(text, 'CERTIFICATE', MAX_BUNDLE_CERTIFICATES + 1);
  if (blocks.length === 0) return bad('no "-----BEGIN CERTIFICATE-----" block in the text');
  if (blocks.length > MAX_BUNDLE_CERTIFICATES) {
    return err(peekwallError('identity/too-many-certificates', `more than ${MAX_BUNDLE_CERTIFICATES} certificates in one bundle`));
  }
  const out: CertificateFacts[] = [];
  for (let i = 0; i < blocks.length; i++) {
    const f = certificateFacts(blocks[i]);
    if (!f.ok) return err(peekwallError(f.error.code, `certificate #${i + 1} of the bundle: ${f.error.message}`));
    out.push(f.value);
  }
  return ok(out);
}
