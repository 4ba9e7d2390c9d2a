// The REFERENCE reading of certificate facts through @peculiar/asn1-schema + asn1-x509
// structures: slow (ms per certificate) and heavy to load, so it lives with the tests, which
// assert it and the product's fast reader (src/identity/facts.ts) give identical facts for every
// fixture (two independent decoders); bench/identity.ts times both.
import 'reflect-metadata';
import { createHash } from 'node:crypto';
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
import {
  ATTR_NAMES,
  bad,
  colonHex,
  decodeRawString,
  escapeDnValue,
  ia5Text,
  KEY_ALGS,
  nodeCert,
  SIG_ALGS,
  signedBy,
  STRING_TAGS,
  toDer,
} from '../../src/identity/cert-common.js';
import type { CertificateFacts, NameAttribute, SanEntry } from '../../src/identity/index.js';
import { ok, type Result } from '../../src/util/errors.js';

const CURVE_BITS: Readonly<Record<string, number>> = {
  'prime256v1': 256,
  'P-256': 256,
  'secp384r1': 384,
  'P-384': 384,
  'secp521r1': 521,
  'P-521': 521,
  'secp256k1': 256,
};

function hex(buf: ArrayBuffer | Uint8Array): string {
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
