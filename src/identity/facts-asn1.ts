// The REFERENCE reading of certificate facts through @peculiar/asn1-schema + asn1-x509
// structures, and the helpers both readers share. facts.ts holds the fast reader the product
// uses; tests assert both give identical facts for every fixture (two independent decoders).
import 'reflect-metadata';
import { createHash, X509Certificate as NodeX509 } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  id_ce_basicConstraints,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  id_ce_authorityKeyIdentifier,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  type Name,
} from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import { err, ok, peekwallError, type Result } from '../util/errors.js';
import type { CertificateFacts, NameAttribute, SanEntry } from './types.js';

// @peculiar/x509 does its hashing/verification through a WebCrypto provider; Node 20 has one
// built in. Setting it is idempotent and only affects that library's async helpers.
x509.cryptoProvider.set(globalThis.crypto);

export const ATTR_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'street',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.12': 'title',
  '2.5.4.42': 'GN',
  '2.5.4.43': 'initials',
  '2.5.4.46': 'dnQualifier',
  '2.5.4.65': 'pseudonym',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

export const SIG_ALGS: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.10': 'rsassaPss',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.2.840.113549.1.1.14': 'sha224WithRSAEncryption',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10045.4.3.1': 'ecdsa-with-SHA224',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.3.101.112': 'ED25519',
  '1.3.101.113': 'ED448',
};

export const KEY_ALGS: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.1': 'RSA',
  '1.2.840.113549.1.1.10': 'RSA-PSS',
  '1.2.840.10045.2.1': 'EC',
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
  '1.2.840.10040.4.1': 'DSA',
};

export const CURVE_BITS: Readonly<Record<string, number>> = {
  'prime256v1': 256,
  'P-256': 256,
  'secp384r1': 384,
  'P-384': 384,
  'secp521r1': 521,
  'P-521': 521,
  'secp256k1': 256,
};

// ASN.1 universal tags of the string types a Name attribute may carry (for values the schema
// keeps as raw ANY: numeric, visible, ...).
export const STRING_TAGS: Readonly<Record<number, string>> = {
  0x0c: 'utf8',
  0x12: 'numeric',
  0x13: 'printable',
  0x14: 'teletex',
  0x16: 'ia5',
  0x1a: 'visible',
  0x1c: 'universal',
  0x1e: 'bmp',
};

export function bad(reason: string) {
  return err(peekwallError('identity/bad-certificate', `not a readable X.509 certificate: ${reason}`));
}

export function hex(buf: ArrayBuffer | Uint8Array): string {
  return Buffer.from(buf instanceof Uint8Array ? buf : new Uint8Array(buf)).toString('hex');
}

/** Minimal DER TLV read for raw ANY values: returns [tag, content]. */
function readTlv(b: Uint8Array): [number, Uint8Array] | null {
  if (b.length < 2) return null;
  const tag = b[0];
  let len = b[1];
  let off = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || b.length < 2 + n) return null;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[2 + i];
    off = 2 + n;
  }
  if (off + len > b.length) return null;
  return [tag, b.subarray(off, off + len)];
}

export function decodeRawString(tag: number, c: Uint8Array): string {
  if (tag === 0x1e) {
    // BMPString: UTF-16BE
    let s = '';
    for (let i = 0; i + 1 < c.length; i += 2) s += String.fromCharCode((c[i] << 8) | c[i + 1]);
    return s;
  }
  if (tag === 0x1c) {
    let s = '';
    for (let i = 0; i + 3 < c.length; i += 4) s += String.fromCodePoint(((c[i] << 24) | (c[i + 1] << 16) | (c[i + 2] << 8) | c[i + 3]) >>> 0);
    return s;
  }
  if (tag === 0x0c) return Buffer.from(c).toString('utf8');
  return Buffer.from(c).toString('latin1');
}

function readName(name: Name): NameAttribute[] {
  const out: NameAttribute[] = [];
  for (const rdn of name) {
    for (const atv of rdn) {
      const v = atv.value;
      let value: string;
      let stringType: string;
      if (v.utf8String !== undefined) [value, stringType] = [v.utf8String, 'utf8'];
      else if (v.printableString !== undefined) [value, stringType] = [v.printableString, 'printable'];
      else if (v.bmpString !== undefined) [value, stringType] = [v.bmpString, 'bmp'];
      else if (v.teletexString !== undefined) [value, stringType] = [v.teletexString, 'teletex'];
      else if (v.universalString !== undefined) [value, stringType] = [v.universalString, 'universal'];
      else if (v.ia5String !== undefined) [value, stringType] = [ia5Text(v.ia5String), 'ia5'];
      else if (v.anyValue !== undefined) {
        const raw = new Uint8Array(v.anyValue);
        const tlv = readTlv(raw);
        const t = tlv ? STRING_TAGS[tlv[0]] : undefined;
        if (tlv && t) [value, stringType] = [decodeRawString(tlv[0], tlv[1]), t];
        else [value, stringType] = [`#${hex(raw)}`, 'other'];
      } else [value, stringType] = ['', 'other'];
      out.push({ type: ATTR_NAMES[atv.type] ?? atv.type, oid: atv.type, value, stringType });
    }
  }
  return out;
}

// RFC 2253 §2.4 escaping, as `openssl -nameopt RFC2253,-esc_msb` prints it.
export function escapeDnValue(v: string): string {
  if (v.startsWith('#') && v.length > 1 && /^#[0-9a-f]+$/.test(v)) return v; // hex form of an unknown type
  let s = '';
  for (let i = 0; i < v.length; i++) {
    const ch = v[i];
    if (',+"\\<>;'.includes(ch) || (i === 0 && (ch === '#' || ch === ' ')) || (i === v.length - 1 && ch === ' ')) s += `\\${ch}`;
    else s += ch;
  }
  return s;
}

/** RFC 2253 rendering as OpenSSL's RFC2253 flag prints it: every attribute in reverse DER
 * order (also inside a multi-valued RDN), '+' between members of one RDN, ',' between RDNs. */
function renderDn(name: Name): string {
  const flat: { rdn: number; text: string }[] = [];
  for (let i = 0; i < name.length; i++) {
    for (const a of readName([name[i]] as unknown as Name)) flat.push({ rdn: i, text: `${ATTR_NAMES[a.oid] ?? a.oid}=${escapeDnValue(a.value)}` });
  }
  let out = '';
  for (let j = flat.length - 1; j >= 0; j--) {
    if (j < flat.length - 1) out += flat[j].rdn === flat[j + 1].rdn ? '+' : ',';
    out += flat[j].text;
  }
  return out;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** IA5String is ASCII, but certificates in the wild carry UTF-8 bytes there (OpenSSL writes
 * what it is given); the ASN.1 layer hands them over as Latin-1. Show them as UTF-8 text when
 * they are valid UTF-8, as OpenSSL's output reads on a UTF-8 terminal. */
export function ia5Text(s: string): string {
  let high = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) return s;
    if (c >= 0x80) high = true;
  }
  if (!high) return s;
  try {
    return UTF8.decode(Buffer.from(s, 'latin1'));
  } catch {
    return s;
  }
}

function readSans(ext: ArrayBuffer): SanEntry[] {
  const gns = AsnConvert.parse(ext, SubjectAlternativeName);
  const out: SanEntry[] = [];
  for (const g of gns) {
    if (g.dNSName !== undefined) out.push({ type: 'dns', value: ia5Text(g.dNSName) });
    else if (g.iPAddress !== undefined) out.push({ type: 'ip', value: g.iPAddress.toLowerCase() });
    else if (g.rfc822Name !== undefined) out.push({ type: 'email', value: ia5Text(g.rfc822Name) });
    else if (g.uniformResourceIdentifier !== undefined) out.push({ type: 'uri', value: ia5Text(g.uniformResourceIdentifier) });
    else if (g.registeredID !== undefined) out.push({ type: 'other', value: `RID:${g.registeredID}` });
    else if (g.otherName !== undefined) out.push({ type: 'other', value: `othername:${g.otherName.typeId}` });
    else if (g.directoryName !== undefined) out.push({ type: 'other', value: `DirName:${renderDn(g.directoryName)}` });
    else out.push({ type: 'other', value: '' });
  }
  return out;
}

/** The DER bytes of every CERTIFICATE block in a PEM text, in order. Text outside blocks
 * (comments such as the lab-only label) is ignored. */
/** The DER of each PEM block with this label, at most `max` of them (the caller's bound). */
export function pemBlocks(text: string, label = 'CERTIFICATE', max = Number.POSITIVE_INFINITY): Uint8Array[] {
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const out: Uint8Array[] = [];
  let at = 0;
  while (out.length < max) {
    const b = text.indexOf(begin, at);
    if (b < 0) break;
    const e = text.indexOf(end, b + begin.length);
    if (e < 0) break;
    const body = text.slice(b + begin.length, e).replace(/[\s]/g, '');
    out.push(new Uint8Array(Buffer.from(body, 'base64')));
    at = e + end.length;
  }
  return out;
}

export function toDer(input: Uint8Array | string): Result<Uint8Array> {
  if (typeof input === 'string') {
    const blocks = pemBlocks(input);
    if (blocks.length === 0) return bad('no "-----BEGIN CERTIFICATE-----" block in the text');
    return ok(blocks[0]);
  }
  // PEM passed as bytes (a file read without an encoding).
  if (input.length > 10 && input[0] !== 0x30) {
    const text = Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1');
    if (text.includes('-----BEGIN CERTIFICATE-----')) return toDer(text);
  }
  return ok(input);
}

export function colonHex(buf: Buffer): string {
  const h = buf.toString('hex').toUpperCase();
  let s = '';
  for (let i = 0; i < h.length; i += 2) s += (i ? ':' : '') + h.slice(i, i + 2);
  return s;
}

/** Verify `cert`'s signature with `issuer`'s public key (both Node X509 objects). */
export function signedBy(cert: NodeX509, issuer: NodeX509): boolean {
  try {
    return cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** Node's parser, for signature checks; null when Node cannot read the certificate. */
export function nodeCert(der: Uint8Array): NodeX509 | null {
  try {
    return new NodeX509(Buffer.from(der.buffer, der.byteOffset, der.byteLength));
  } catch {
    return null;
  }
}

/** Reference reader (asn1-schema): slow (ms), used by tests to cross-check facts.ts. */
export function certificateFactsAsn1(input: Uint8Array | string): Result<CertificateFacts> {
  const d = toDer(input);
  if (!d.ok) return d;
  const der = d.value;
  if (der.length < 16 || der[0] !== 0x30) return bad('the data does not start with a DER SEQUENCE');
  let cert: Certificate;
  try {
    cert = AsnConvert.parse(der, Certificate);
  } catch (e) {
    return bad(`ASN.1 decoding failed (${(e as Error).message})`);
  }
  try {
    return ok(buildFacts(der, cert));
  } catch (e) {
    return bad((e as Error).message);
  }
}

function buildFacts(derIn: Uint8Array, cert: Certificate): CertificateFacts {
  const der = new Uint8Array(derIn); // own copy: callers may reuse their buffers
  const tbs = cert.tbsCertificate;
  const subject = readName(tbs.subject);
  const issuer = readName(tbs.issuer);
  const cns: string[] = [];
  const ous: string[] = [];
  for (const a of subject) {
    if (a.oid === '2.5.4.3') cns.push(a.value);
    else if (a.oid === '2.5.4.11') ous.push(a.value);
  }
  let sans: SanEntry[] = [];
  let ski: string | null = null;
  let aki: string | null = null;
  let isCa = false;
  for (const ext of tbs.extensions ?? []) {
    const v = ext.extnValue.buffer;
    if (ext.extnID === id_ce_subjectAltName) sans = readSans(v);
    else if (ext.extnID === id_ce_subjectKeyIdentifier) ski = hex(AsnConvert.parse(v, SubjectKeyIdentifier).buffer);
    else if (ext.extnID === id_ce_basicConstraints) isCa = AsnConvert.parse(v, BasicConstraints).cA === true;
    else if (ext.extnID === id_ce_authorityKeyIdentifier) {
      const k = AsnConvert.parse(v, AuthorityKeyIdentifier).keyIdentifier;
      if (k) aki = hex(k.buffer);
    }
  }
  let serialBytes = new Uint8Array(tbs.serialNumber);
  // DER keeps a leading 0x00 so a positive integer's top bit is clear; openssl omits it.
  if (serialBytes.length > 1 && serialBytes[0] === 0 && serialBytes[1] >= 0x80) serialBytes = serialBytes.subarray(1);
  const spkiAlg = tbs.subjectPublicKeyInfo.algorithm.algorithm;
  let keyType = KEY_ALGS[spkiAlg] ?? spkiAlg;
  let keySize: number | null = null;
  const node = nodeCert(der);
  if (node) {
    const k = node.publicKey;
    const det = k.asymmetricKeyDetails;
    if (det?.modulusLength) keySize = det.modulusLength;
    else if (det?.namedCurve) keySize = CURVE_BITS[det.namedCurve] ?? null;
    else if (k.asymmetricKeyType === 'ed25519') keySize = 256;
    else if (k.asymmetricKeyType === 'ed448') keySize = 456;
  }
  const sigOid = cert.signatureAlgorithm.algorithm;
  const subjectDn = renderDn(tbs.subject);
  const issuerDn = renderDn(tbs.issuer);
  // openssl's notion: issued by itself (same name) and its own key verifies the signature.
  const selfSigned = node !== null && subjectDn === issuerDn && (ski === null || aki === null || ski === aki) && signedBy(node, node);
  if (keyType === spkiAlg && node?.publicKey.asymmetricKeyType) keyType = node.publicKey.asymmetricKeyType.toUpperCase();
  return {
    der,
    subject,
    subjectDn,
    issuer,
    issuerDn,
    cn: cns.length ? cns[0] : null,
    cns,
    ous,
    sans,
    serial: hex(serialBytes).toUpperCase(),
    notBefore: tbs.validity.notBefore.getTime(),
    notAfter: tbs.validity.notAfter.getTime(),
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
