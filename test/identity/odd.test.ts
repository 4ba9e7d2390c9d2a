// Odd certificate shapes made by the OpenSSL CLI (test/identity/fixtures/README.md): Teletex
// and BMP strings, IA5 email in the subject, 500 mixed SANs, a multi-valued RDN.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { certificateFacts, certificateMatchesName, resolveIdentity, type SanEntry } from '../../src/identity/index.js';
import { fromRoot } from '../../src/util/paths.js';

const dir = fromRoot('test', 'identity', 'fixtures');
const load = (n: string) => {
  const r = certificateFacts(readFileSync(`${dir}/${n}.pem`, 'utf8'));
  if (!r.ok) throw new Error(r.error.message);
  return { f: r.value, gt: JSON.parse(readFileSync(`${dir}/${n}.json`, 'utf8')) };
};
const OPENSSL_TYPE: Record<string, string> = { PRINTABLESTRING: 'printable', T61STRING: 'teletex', BMPSTRING: 'bmp', IA5STRING: 'ia5', UTF8STRING: 'utf8' };
const ATTR: Record<string, string> = { countryName: 'C', organizationName: 'O', commonName: 'CN', emailAddress: 'emailAddress', organizationalUnitName: 'OU' };

/** How openssl's -ext subjectAltName prints one entry. */
function opensslSan(s: SanEntry): string {
  if (s.type === 'dns') return `DNS:${s.value}`;
  if (s.type === 'email') return `email:${s.value}`;
  if (s.type === 'uri') return `URI:${s.value}`;
  if (s.type === 'ip' && s.value.includes(':')) {
    const [l, r] = s.value.split('::');
    const left = l ? l.split(':') : [];
    const right = r !== undefined && r ? r.split(':') : [];
    const g = s.value.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
    return `IP Address:${g.map((x) => parseInt(x, 16).toString(16).toUpperCase()).join(':')}`;
  }
  return `IP Address:${s.value}`;
}

for (const name of ['odd-string-types', 'sans-500-mixed', 'multivalue-rdn']) {
  t.test(name, async (t) => {
    const { f, gt } = load(name);
    t.equal(f.subjectDn, gt.subject_rfc2253, 'RFC 2253 subject as openssl prints it (UTF-8)');
    t.equal(f.sans.map(opensslSan).join(', '), gt.san_text, 'SANs in order with types');
    t.equal(f.serial, gt.serial);
    t.equal(f.sha256, gt.sha256_fingerprint);
    t.same(
      f.subject.map((a) => [a.type, a.stringType]),
      gt.subject_string_types_der_order.map(([a, ty]: [string, string]) => [ATTR[a], OPENSSL_TYPE[ty]]),
      'string types in DER order',
    );
    t.ok(f.selfSigned);
  });
}

t.test('odd strings decode to the right text and still resolve', async (t) => {
  const { f } = load('odd-string-types');
  t.same(f.subject.map((a) => a.value), ['DE', 'Müller GmbH', 'Жук.example', 'admin@odd.example']);
  t.equal(f.cn, 'Жук.example');
  t.same([f.keyType, f.keySize, f.signatureAlgorithm], ['EC', 384, 'ecdsa-with-SHA256']);
  t.equal(resolveIdentity({ sni: null, certificate: f, tsid: { enabled: true, profile: 'snort3-legacy' }, dstIp: '192.0.2.1' }).name, 'жук.example');
  t.ok(certificateMatchesName(f, 'a.odd.example'));
  t.ok(certificateMatchesName(f, '10.1.2.3'));
  t.notOk(certificateMatchesName(f, 'admin@odd.example'), 'an email SAN is not a host name');
});

t.test('500 mixed SANs: order, counts, first DNS SAN', async (t) => {
  const { f } = load('sans-500-mixed');
  t.equal(f.sans.length, 500);
  const count = (ty: string) => f.sans.filter((s) => s.type === ty).length;
  t.same([count('dns'), count('ip'), count('email'), count('uri')], [100, 200, 100, 100]);
  t.same(f.ous, ['Ops']);
  t.equal(resolveIdentity({ sni: null, certificate: f, tsid: { enabled: true, profile: 'snort3-legacy' }, dstIp: '192.0.2.1' }).name, 'h000.many.example');
  t.ok(certificateMatchesName(f, '2001:db8::1f3'), 'an IPv6 SAN deep in the list');
  t.ok(certificateMatchesName(f, 'h495.many.example'));
});

t.test('multi-valued RDN: both attributes, DER order', async (t) => {
  const { f } = load('multivalue-rdn');
  t.equal(f.cn, 'multi.example');
  t.same(f.ous, ['Unit A']);
});
