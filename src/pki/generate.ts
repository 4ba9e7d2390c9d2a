// Generate the lab PKI in memory with @peculiar/x509 over Node's WebCrypto: keys, CA and leaf
// certificates, as the exact file contents to write. No fs here (files.ts does the I/O).
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AttributeTypeAndValue, AttributeValue, Name as AsnName, RelativeDistinguishedName } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import type { CertSpec, KeySpec, LabPkiConfig } from './config.js';

type KeyPair = webcrypto.CryptoKeyPair;
const crypto = webcrypto;
x509.cryptoProvider.set(crypto as never);

const DAY = 86_400_000;

const OIDS: Readonly<Record<string, string>> = {
  C: '2.5.4.6', ST: '2.5.4.8', L: '2.5.4.7', O: '2.5.4.10', OU: '2.5.4.11', CN: '2.5.4.3',
  emailAddress: '1.2.840.113549.1.9.1', serialNumber: '2.5.4.5', DC: '0.9.2342.19200300.100.1.25',
};

/** Subject in the given order; C and serialNumber as PrintableString, email/DC as IA5String,
 * everything else UTF8String (what OpenSSL's defaults produce). */
export function encodeName(attrs: readonly { type: string; value: string }[]): x509.Name {
  const rdns = attrs.map((a) => {
    const v =
      a.type === 'C' || a.type === 'serialNumber'
        ? new AttributeValue({ printableString: a.value })
        : a.type === 'emailAddress' || a.type === 'DC'
          ? new AttributeValue({ ia5String: a.value })
          : new AttributeValue({ utf8String: a.value });
    return new RelativeDistinguishedName([new AttributeTypeAndValue({ type: OIDS[a.type], value: v })]);
  });
  return new x509.Name(AsnConvert.serialize(new AsnName(rdns)));
}

function keyAlgorithm(k: KeySpec): webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams {
  return k.type === 'rsa'
    ? { name: 'RSASSA-PKCS1-v1_5', modulusLength: k.bits, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }
    : { name: 'ECDSA', namedCurve: k.curve };
}

function signingAlgorithm(k: KeySpec): webcrypto.RsaHashedImportParams | webcrypto.EcdsaParams {
  return k.type === 'rsa' ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } : { name: 'ECDSA', hash: k.curve === 'P-384' ? 'SHA-384' : 'SHA-256' };
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** The LAB-ONLY comment lines written before every PEM block. */
export function labelLines(label: string, what: string): string {
  return `${label.split('\n').map((l) => `# ${l}`).join('\n')}\n# ${what}\n`;
}

function serial(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] &= 0x7f; // positive
  b[0] |= 0x10; // and no leading zero byte, so every tool prints 32 hex digits
  return Buffer.from(b).toString('hex');
}

interface Issued {
  readonly spec: CertSpec;
  readonly cert: x509.X509Certificate;
  readonly keys: KeyPair;
}

/** The contents of every file of the set: `<name>.crt.pem` (leaf, then its issuer when it has
 * one, a full chain like a server serves it) and `<name>.key.pem` (PKCS#8). */
export interface GeneratedSet {
  readonly files: ReadonlyMap<string, string>;
  readonly certificates: readonly { readonly name: string; readonly notBefore: Date; readonly notAfter: Date }[];
}

/**
 * Generate every certificate of the config. `now` is the generation time: each certificate is
 * valid from `now` for its validityDays unless lab.yaml gives fixed dates; a leaf never
 * outlives its issuer.
 */
export async function generateLabPki(config: LabPkiConfig, now: Date): Promise<GeneratedSet> {
  const issued = new Map<string, Issued>();
  const files = new Map<string, string>();
  const certificates: { name: string; notBefore: Date; notAfter: Date }[] = [];
  for (const spec of config.certificates) {
    const keys = (await crypto.subtle.generateKey(keyAlgorithm(spec.key), true, ['sign', 'verify'])) as KeyPair;
    const parent = spec.issuer === 'self' ? null : (issued.get(spec.issuer) as Issued);
    let notBefore = spec.notBefore ?? now;
    let notAfter = spec.notAfter ?? new Date(notBefore.getTime() + spec.validityDays * DAY);
    if (!spec.notAfter && parent && notAfter > parent.cert.notAfter) notAfter = parent.cert.notAfter;
    if (!spec.notBefore && parent && notBefore < parent.cert.notBefore) notBefore = parent.cert.notBefore;
    const subject = encodeName(spec.subject);
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(spec.ca, undefined, true),
      new x509.KeyUsagesExtension(
        spec.ca
          ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature
          : spec.key.type === 'rsa'
            ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
            : x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never, false, crypto as never),
    ];
    if (!spec.ca) extensions.push(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false));
    if (spec.sans.length) extensions.push(new x509.SubjectAlternativeNameExtension(spec.sans.map((s) => ({ type: s.type, value: s.value })), false));
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create((parent ? parent.keys.publicKey : keys.publicKey) as never, false, crypto as never));
    const signer = parent ?? { spec, keys };
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: serial(),
        subject,
        issuer: parent ? parent.cert.subjectName : subject,
        notBefore,
        notAfter,
        publicKey: keys.publicKey as never,
        signingKey: signer.keys.privateKey as never,
        signingAlgorithm: signingAlgorithm(signer.spec.key) as never,
        extensions,
      },
      crypto as never,
    );
    issued.set(spec.name, { spec, cert, keys });
    certificates.push({ name: spec.name, notBefore, notAfter });
    const what = spec.description || spec.name;
    let crt = `${labelLines(config.label, `${spec.name}: ${what}`)}${cert.toString('pem')}\n`;
    if (parent) crt += `${labelLines(config.label, `issuer of ${spec.name}: ${parent.spec.name}`)}${parent.cert.toString('pem')}\n`;
    files.set(`${spec.name}.crt.pem`, crt);
    const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
    files.set(`${spec.name}.key.pem`, `${labelLines(config.label, `private key of ${spec.name}: PUBLIC, for the lab only`)}${pem('PRIVATE KEY', pkcs8)}`);
  }
  return { files, certificates };
}
