// certificateStatus over the openssl-made CA / intermediate / leaf fixtures, with an injected
// clock (never the wall clock). Trust stores read from disk: test/sources/trust.test.ts.
import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  certificateFacts,
  certificateStatus,
  trustStoreFromPem,
  type CertificateFacts,
  type TrustStore,
} from '../../src/identity/index.js';
import { fixturePath } from '../helpers/fixtures.js';

const pem = (n: string) => readFileSync(fixturePath('certs', `${n}.pem`), 'utf8');
function load(n: string): CertificateFacts {
  const r = certificateFacts(pem(n));
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}
function store(...names: string[]): TrustStore {
  const r = trustStoreFromPem(names.map(pem).join('\n'));
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

const root = load('ca-root');
const inter = load('ca-intermediate');
const leaf = load('leaf-signed-by-intermediate');
const selfSigned = load('cn-only');
const expired = load('expired');
// Inside every fixture's validity (leaf: 2026-11-23 .. 2029-02-25).
const NOW = new Date('2027-06-01T00:00:00Z');
const IP = '10.0.0.5';

t.test('a full chain to a trusted root is valid', async (t) => {
  const s = certificateStatus({ chain: [leaf, inter], trust: store('ca-root'), name: 'chained.example', ip: IP, now: NOW });
  t.equal(s.status, 'valid');
  t.equal(s.logLine, null);
  t.match(s.detail, /chain of 3/);
  t.equal(certificateStatus({ chain: [leaf, inter], trust: store('ca-root'), name: 'www.chained.example', now: NOW }).status, 'valid');
  // Trusting the intermediate directly anchors the path there.
  t.equal(certificateStatus({ chain: [leaf], trust: store('ca-intermediate'), now: NOW }).status, 'valid');
  // Extra, unrelated certificates in the chain are ignored; order of the rest does not matter.
  t.equal(certificateStatus({ chain: [leaf, selfSigned, inter, root], trust: store('ca-root'), now: NOW }).status, 'valid');
});

t.test('missing intermediate or unknown root: invalid-issuer', async (t) => {
  const s = certificateStatus({ chain: [leaf], trust: store('ca-root'), name: 'chained.example', ip: IP, now: NOW });
  t.equal(s.status, 'invalid-issuer');
  t.equal(s.depth, 0);
  t.equal(s.logLine, `Core server certificate verification failed for (chained.example). Action=Terminate Error=unable to get local issuer certificate server=chained.example(${IP}) depth=0`);
  const s2 = certificateStatus({ chain: [leaf, inter, root], trust: store('cn-only'), name: 'chained.example', ip: IP, now: NOW });
  t.equal(s2.status, 'invalid-issuer');
  t.equal(s2.depth, 2, 'the untrusted self-signed root at depth 2');
  t.match(s2.logLine, /Error=self signed certificate in certificate chain .*depth=2$/);
});

t.test('self-signed server certificate: the seed 004 line', async (t) => {
  const s = certificateStatus({ chain: [selfSigned], trust: store('ca-root'), name: 'cucm.example', ip: IP, now: NOW });
  t.equal(s.status, 'self-signed');
  t.equal(s.logLine, 'Core server certificate verification failed for (cucm.example). Action=Terminate Error=self signed certificate server=cucm.example(10.0.0.5) depth=0');
  // Explicitly trusted self-signed certificate: valid.
  t.equal(certificateStatus({ chain: [selfSigned], trust: store('cn-only'), now: NOW }).status, 'valid');
});

t.test('a tampered signature: invalid-signature', async (t) => {
  const der = new Uint8Array(leaf.der);
  der[der.length - 5] ^= 0x55; // inside the ECDSA signature value
  const f = certificateFacts(der);
  t.ok(f.ok, 'still parses');
  if (!f.ok) return;
  const s = certificateStatus({ chain: [f.value, inter], trust: store('ca-root'), name: 'chained.example', ip: IP, now: NOW });
  t.equal(s.status, 'invalid-signature');
  t.equal(s.depth, 0);
  t.match(s.logLine, /Error=certificate signature failure server=chained\.example\(10\.0\.0\.5\) depth=0/);
});

t.test('dates against the injected clock', async (t) => {
  const trust = store('ca-root');
  const before = certificateStatus({ chain: [leaf, inter], trust, now: new Date('2026-11-01T00:00:00Z'), ip: IP });
  t.equal(before.status, 'not-yet-valid');
  t.match(before.logLine, /Error=certificate is not yet valid server=10\.0\.0\.5\(10\.0\.0\.5\) depth=0/);
  const after = certificateStatus({ chain: [leaf, inter], trust, now: new Date('2030-01-01T00:00:00Z') });
  t.equal(after.status, 'expired');
  t.equal(after.depth, 0);
  // 2037: the intermediate has expired too; the leaf is reported first (depth 0).
  t.equal(certificateStatus({ chain: [leaf, inter], trust, now: new Date('2037-01-01T00:00:00Z') }).depth, 0);
  // Trusted expired certificate.
  const e = certificateStatus({ chain: [expired], trust: store('expired'), name: 'expired.example', ip: IP, now: NOW });
  t.equal(e.status, 'expired');
  t.match(e.detail, /2021-01-01/);
  t.equal(certificateStatus({ chain: [expired], trust: store('expired'), now: new Date('2020-06-01T00:00:00Z') }).status, 'valid');
  // Untrusted and expired: the trust problem is reported first, as OpenSSL does.
  t.equal(certificateStatus({ chain: [expired], trust: store('ca-root'), now: NOW }).status, 'self-signed');
});

t.test('name not in the certificate: server-mismatch and the SNI line', async (t) => {
  const s = certificateStatus({ chain: [leaf, inter], trust: store('ca-root'), name: '10.0.0.5', ip: IP, now: NOW });
  t.equal(s.status, 'server-mismatch');
  t.equal(s.logLine, 'SNI (10.0.0.5) not in certificate. Action=Terminate');
  t.equal(certificateStatus({ chain: [leaf, inter], trust: store('ca-root'), name: 'a.chained.example', now: NOW }).status, 'server-mismatch');
  // IP SANs compare as IPs.
  const ip = load('ip-sans-only');
  t.equal(certificateStatus({ chain: [ip], trust: store('ip-sans-only'), name: '2001:db8:0::1', now: NOW }).status, 'valid');
  // TLS clients ignore the CN when DNS SANs exist: the seed-shaped certificate does not cover tools.cisco.com.
  const seed = load('first-san-differs-from-cn-cisco-like');
  const trustSeed = store('first-san-differs-from-cn-cisco-like');
  t.equal(certificateStatus({ chain: [seed], trust: trustSeed, name: 'tools.cisco.com', now: NOW }).status, 'server-mismatch');
  t.equal(certificateStatus({ chain: [seed], trust: trustSeed, name: 'toos.cisco.com', now: NOW }).status, 'valid');
});

t.test('no certificate at all', async (t) => {
  const s = certificateStatus({ chain: [], trust: store('ca-root'), ip: IP, now: NOW });
  t.equal(s.status, 'invalid-issuer');
  t.match(s.logLine, /failed for \(10\.0\.0\.5\)/);
});
