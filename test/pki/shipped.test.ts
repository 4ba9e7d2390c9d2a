// The committed lab PKI in certs/: names, shape (DOMAIN.md §1), lab-only labels, chains,
// dates far from any CI run, and Node's TLS accepting every served certificate + key.
import t, { type Test } from 'tap';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import {
  certificatesFromPem,
  certificateStatus,
  resolveIdentity,
  trustStoreFromPem,
  type CertificateFacts,
} from '../../src/identity/index.js';
import { labCertPath, parseLabConfig, LAB_CERTS_DIR } from '../../src/pki/index.js';

const NAMES = ['lab-ca', 'untrusted-ca', 'smart-licensing', 'smart-licensing-nocn', 'smart-licensing-ecdsa', 'self-signed', 'expired', 'untrusted-leaf'];
const LICENSING_SANS = [
  'toos.cisco.com', 'tools1.cisco.com', 'tools2.cisco.com', 'tools3.cisco.com', 'tools1-ss2.cisco.com',
  'tools2-ss1.cisco.com', 'tools3-ss1.cisco.com', 'tools4-ss1.cisco.com', 'tools5-ss1.cisco.com', 'tools6-ss1.cisco.com',
  'tools7-ss1.cisco.com', 'tools8-ss1.cisco.com', 'tools9-ss1.cisco.com', 'tools10-ss1.cisco.com',
];
const read = (name: string, kind: 'crt' | 'key') => readFileSync(labCertPath(name, kind), 'utf8');
function chain(name: string): CertificateFacts[] {
  const r = certificatesFromPem(read(name, 'crt'));
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}
const trustLab = (() => {
  const r = trustStoreFromPem(read('lab-ca', 'crt'));
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
})();
// Fixed instants, never the wall clock: the shipped set must be valid for the next ~9 years.
const SOON = new Date('2026-12-01T00:00:00Z');
const LATE = new Date('2035-06-01T00:00:00Z');

t.test('lab.yaml lists exactly the agreed names', async (t) => {
  const c = parseLabConfig(readFileSync(`${LAB_CERTS_DIR}/lab.yaml`, 'utf8'));
  t.ok(c.ok);
  if (c.ok) t.same(c.value.certificates.map((s) => s.name), NAMES);
});

t.test('every file is labelled LAB-ONLY before each PEM block, keys match certificates', async (t) => {
  for (const n of NAMES) {
    for (const kind of ['crt', 'key'] as const) {
      const text = read(n, kind);
      const lines = text.split('\n');
      lines.forEach((l, i) => {
        if (l.startsWith('-----BEGIN')) t.ok(lines.slice(Math.max(0, i - 3), i).some((x) => x.startsWith('# LAB-ONLY')), `${n}.${kind}: label before line ${i + 1}`);
      });
    }
    const pub = createPublicKey(createPrivateKey(read(n, 'key'))).export({ type: 'spki', format: 'der' });
    const cert = new X509Certificate(read(n, 'crt'));
    t.ok(cert.publicKey.export({ type: 'spki', format: 'der' }).equals(pub), `${n}: key belongs to the certificate`);
  }
});

t.test('the Smart Licensing certificate per DOMAIN.md §1', async (t) => {
  const [leaf, ca] = chain('smart-licensing');
  t.same(
    leaf.subject.map((a) => [a.type, a.value, a.stringType]),
    [['C', 'US', 'printable'], ['ST', 'CA', 'utf8'], ['L', 'San Jose', 'utf8'], ['O', 'Cisco Systems, Inc.', 'utf8'], ['CN', 'tools.cisco.com', 'utf8']],
  );
  t.equal(leaf.subjectDn, 'CN=tools.cisco.com,O=Cisco Systems\\, Inc.,L=San Jose,ST=CA,C=US');
  t.same(leaf.sans.slice(0, LICENSING_SANS.length).map((s) => s.value), LICENSING_SANS, 'SANs in the field order, toos first');
  t.same(leaf.sans.slice(LICENSING_SANS.length).map((s) => s.value), ['tools.cisco.com'], 'tools.cisco.com appended last for the clients\' host check');
  t.ok(leaf.sans.every((s) => s.type === 'dns'));
  t.same([leaf.keyType, leaf.keySize, leaf.signatureAlgorithm], ['RSA', 2048, 'sha256WithRSAEncryption']);
  t.equal(ca.cn, 'peekwall LAB-ONLY Root CA', 'the chain file carries the issuer');
  const ecdsa = chain('smart-licensing-ecdsa')[0];
  t.same([ecdsa.keyType, ecdsa.keySize], ['EC', 256]);
  t.same(ecdsa.sans, leaf.sans);
  const nocn = chain('smart-licensing-nocn')[0];
  t.equal(nocn.cn, null);
  t.same(nocn.sans, leaf.sans);
  // The identities the field case needs.
  const id = (c: CertificateFacts, profile: 'snort3-legacy' | 'snort3' | 'technote') =>
    resolveIdentity({ sni: null, certificate: c, tsid: { enabled: true, profile }, dstIp: '72.163.4.38' });
  t.equal(id(leaf, 'snort3-legacy').name, 'toos.cisco.com');
  t.equal(id(leaf, 'snort3').name, 'tools.cisco.com');
  t.equal(id(nocn, 'technote').name, 'toos.cisco.com');
  t.equal(resolveIdentity({ sni: null, passiveCertificate: leaf, tsid: { enabled: false, profile: 'snort3-legacy' }, dstIp: '72.163.4.38' }).name, 'tools.cisco.com');
});

t.test('CA: 10 years, a CA; statuses of the variants at fixed instants', async (t) => {
  const ca = chain('lab-ca')[0];
  t.ok(ca.isCa && ca.selfSigned);
  t.equal(ca.notAfter.getUTCFullYear() - ca.notBefore.getUTCFullYear(), 10);
  t.ok(ca.notAfter > LATE);
  for (const n of ['smart-licensing', 'smart-licensing-nocn', 'smart-licensing-ecdsa']) {
    for (const now of [SOON, LATE]) {
      t.equal(certificateStatus({ chain: chain(n), trust: trustLab, name: 'tools.cisco.com', now }).status, 'valid', `${n} at ${now.toISOString()}`);
    }
    t.equal(certificateStatus({ chain: chain(n), trust: trustLab, name: 'toos.cisco.com', now: SOON }).status, 'valid');
  }
  const e = chain('expired');
  t.equal(e[0].notAfter.toISOString(), '2021-01-01T00:00:00.000Z');
  t.equal(certificateStatus({ chain: e, trust: trustLab, now: SOON }).status, 'expired');
  t.equal(certificateStatus({ chain: chain('self-signed'), trust: trustLab, name: 'tools.cisco.com', ip: '72.163.4.38', now: SOON }).logLine,
    'Core server certificate verification failed for (tools.cisco.com). Action=Terminate Error=self signed certificate server=tools.cisco.com(72.163.4.38) depth=0');
  const u = certificateStatus({ chain: chain('untrusted-leaf'), trust: trustLab, now: SOON });
  t.equal(u.status, 'invalid-issuer');
  t.equal(u.depth, 1, 'the untrusted CA is in the served chain');
  t.equal(certificateStatus({ chain: [chain('untrusted-leaf')[0]], trust: trustLab, now: SOON }).depth, 0);
});

function serveAndConnect(t: Test, name: string): Promise<{ authorized: boolean; error?: string; subjectCn?: string }> {
  return new Promise((resolveP, reject) => {
    const server = tls.createServer({ cert: read(name, 'crt'), key: read(name, 'key') }, (s) => s.end('ok'));
    t.teardown(() => new Promise<void>((r) => server.close(() => r())));
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      // As the lab's devices do: no SNI, trust only the lab CA, check the licensing host name.
      const c = tls.connect({
        host: '127.0.0.1',
        port,
        servername: '',
        ca: read('lab-ca', 'crt'),
        checkServerIdentity: (_h, cert) => tls.checkServerIdentity('tools.cisco.com', cert),
      });
      c.on('secureConnect', () => {
        const cn = c.getPeerCertificate().subject?.CN;
        resolveP({ authorized: c.authorized, subjectCn: Array.isArray(cn) ? cn[0] : cn });
        c.end();
      });
      c.on('error', (e) => resolveP({ authorized: false, error: (e as NodeJS.ErrnoException).code ?? e.message }));
      c.on('close', () => c.destroy());
    });
  });
}

t.test('Node TLS accepts the served certificates against lab-ca, and refuses the bad ones', async (t) => {
  for (const n of ['smart-licensing', 'smart-licensing-ecdsa', 'smart-licensing-nocn']) {
    const r = await serveAndConnect(t, n);
    t.same(r, { authorized: true, subjectCn: n === 'smart-licensing-nocn' ? undefined : 'tools.cisco.com' }, n);
  }
  t.equal((await serveAndConnect(t, 'self-signed')).error, 'DEPTH_ZERO_SELF_SIGNED_CERT');
  t.equal((await serveAndConnect(t, 'expired')).error, 'CERT_HAS_EXPIRED');
  t.equal((await serveAndConnect(t, 'untrusted-leaf')).error, 'SELF_SIGNED_CERT_IN_CHAIN');
});
