// What reading a certificate needs besides walking its DER: the OID and string-type tables,
// string decoding and RFC 2253 escaping as OpenSSL prints them, PEM to DER, and Node's parser
// for signature checks. facts.ts (the product's reader) and the reference reader the tests
// cross-check it against (test/helpers/facts-asn1.ts) share these, so a difference between
// the two readers is a difference in decoding, not in naming.
import { X509Certificate as NodeX509 } from 'node:crypto';
import { err, ok, peekwallError, type Result } from '../util/errors.js';

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

/** The DER of each PEM block with this label, in order, at most `max` of them (the caller's
 * bound). Text outside blocks (comments such as the lab-only label) is ignored. */
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
