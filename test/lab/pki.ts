// Throwaway lab PKI for tests (ECDSA P-256: fast). Made fresh per test file so tests do not
// depend on certs/ being present; the lab runner uses the shipped certs/.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as never);
type KeyPair = webcrypto.CryptoKeyPair;
const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

export interface TestPki {
  caPem: string;
  certPem: string;
  keyPem: string;
  /** A second CA nobody trusts, and a leaf it signed (seed 004: untrusted chain). */
  untrustedCaPem: string;
  untrustedCertPem: string;
  untrustedKeyPem: string;
  leafNotBefore: Date;
  leafNotAfter: Date;
}

async function keyPem(k: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', k);
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}

async function ca(name: string, notBefore: Date, notAfter: Date) {
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as KeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name,
    notBefore,
    notAfter,
    keys: keys as never,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
    ],
  });
  return { cert, keys };
}

async function leaf(issuer: { cert: x509.X509Certificate; keys: KeyPair }, notBefore: Date, notAfter: Date) {
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as KeyPair;
  const names = ['toos.cisco.com', 'tools1.cisco.com', 'tools2.cisco.com', 'tools.cisco.com'];
  const cert = await x509.X509CertificateGenerator.create({
    subject: 'C=US, ST=CA, L=San Jose, O=Cisco Systems\\, Inc. (LAB TEST), CN=tools.cisco.com',
    issuer: issuer.cert.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey as never,
    signingKey: issuer.keys.privateKey as never,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: 'dns' as const, value }))),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.cert, false),
    ],
  });
  return { cert, keys };
}

export async function makeTestPki(o: { now?: Date } = {}): Promise<TestPki> {
  const now = o.now ?? new Date();
  const caNb = new Date(now.getTime() - 10 * DAY);
  const caNa = new Date(now.getTime() + 3650 * DAY);
  const leafNotBefore = new Date(now.getTime() - DAY);
  const leafNotAfter = new Date(now.getTime() + 730 * DAY);
  const c = await ca('CN=peekwall LAB TEST CA', caNb, caNa);
  const l = await leaf(c, leafNotBefore, leafNotAfter);
  const u = await ca('CN=peekwall UNTRUSTED TEST CA', caNb, caNa);
  const ul = await leaf(u, leafNotBefore, leafNotAfter);
  return {
    caPem: c.cert.toString('pem'),
    certPem: `${l.cert.toString('pem')}\n${c.cert.toString('pem')}\n`,
    keyPem: await keyPem(l.keys.privateKey),
    untrustedCaPem: u.cert.toString('pem'),
    untrustedCertPem: `${ul.cert.toString('pem')}\n${u.cert.toString('pem')}\n`,
    untrustedKeyPem: await keyPem(ul.keys.privateKey),
    leafNotBefore,
    leafNotAfter,
  };
}
