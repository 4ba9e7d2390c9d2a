// certificateFacts against every openssl-made fixture (ground truth from openssl / pyca, never
// from peekwall), plus malformed input.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { certificateFacts, certificatesFromPem } from '../../src/identity/index.js';
import { fixtureNames, fixturePath, readFixtureJson } from '../helpers/fixtures.js';

const STRING_TYPE: Record<string, string> = { UTF8STRING: 'utf8', PRINTABLESTRING: 'printable', BMPSTRING: 'bmp', T61STRING: 'teletex', IA5STRING: 'ia5' };

function sanText(s: { type: string; value: string }): string {
  if (s.type === 'dns') return `DNS:${s.value}`;
  if (s.type === 'ip') {
    // openssl prints IPv6 SANs expanded, upper-case, without zero compression.
    if (!s.value.includes(':')) return `IP Address:${s.value}`;
    const [l, r] = s.value.includes('::') ? s.value.split('::') : [s.value, ''];
    const left = l ? l.split(':') : [];
    const right = r ? r.split(':') : [];
    const groups = s.value.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
    return `IP Address:${groups.map((g) => parseInt(g, 16).toString(16).toUpperCase()).join(':')}`;
  }
  if (s.type === 'email') return `email:${s.value}`;
  if (s.type === 'uri') return `URI:${s.value}`;
  return s.value;
}

const names = fixtureNames('certs', '.pem');
t.ok(names.length >= 10, 'fixtures present');

for (const name of names) {
  t.test(name, async (t) => {
    const gt = readFixtureJson('certs', `${name}.json`);
    const pem = readFileSync(fixturePath('certs', `${name}.pem`), 'utf8');
    const r = certificateFacts(pem);
    if (!r.ok) {
      t.fail(r.error.message);
      return;
    }
    const f = r.value;
    t.equal(f.cn, gt.cn, 'cn (first in DER order)');
    t.same(f.cns, gt.cns, 'cns');
    t.equal(f.cns.length ? f.cns[f.cns.length - 1] : null, gt.cn_last_der_order, 'last CN');
    t.same(f.sans.map(sanText), gt.san, 'SANs in order with types');
    t.same(f.ous, gt.ou, 'OUs in order');
    t.equal(f.subjectDn, gt.subject_rfc2253, 'subject RFC 2253');
    t.equal(f.issuerDn, gt.issuer_rfc2253, 'issuer RFC 2253');
    t.equal(f.notBefore.toISOString().replace('.000Z', 'Z').replace('T', ' '), gt.notBefore_iso, 'notBefore');
    t.equal(f.notAfter.toISOString().replace('.000Z', 'Z').replace('T', ' '), gt.notAfter_iso, 'notAfter');
    t.equal(f.selfSigned, gt.self_signed, 'self-signed (signature verified)');
    t.equal(f.serial, gt.serial, 'serial');
    t.equal(f.sha256, gt.sha256_fingerprint, 'sha256 fingerprint');
    t.same(
      f.subject.map((a) => ({ attr: a.type, type: a.stringType, value: a.value })),
      gt.subject_attributes.map((a: any) => ({ attr: a.attr, type: STRING_TYPE[a.type] ?? a.type, value: a.value })),
      'subject attributes in DER order with ASN.1 string types',
    );
    const [alg, bits] = /^(\S+) (\d+) bit$/.exec(gt.public_key_algorithm)!.slice(1);
    t.equal(f.keyType, alg === 'rsaEncryption' ? 'RSA' : 'EC', 'key type');
    t.equal(f.keySize, Number(bits), 'key size');
    t.match(f.signatureAlgorithm, alg === 'rsaEncryption' ? /WithRSAEncryption$/ : /^ecdsa-with-SHA/, 'signature algorithm');
  });
}

t.test('SKI/AKI link the fixture chain', async (t) => {
  const get = (n: string) => {
    const r = certificateFacts(readFileSync(fixturePath('certs', `${n}.pem`), 'utf8'));
    if (!r.ok) throw new Error(r.error.message);
    return r.value;
  };
  const root = get('ca-root');
  const inter = get('ca-intermediate');
  const leaf = get('leaf-signed-by-intermediate');
  t.match(root.ski, /^[0-9a-f]{40}$/);
  t.equal(inter.aki, root.ski, 'intermediate AKI = root SKI');
  t.equal(leaf.aki, inter.ski, 'leaf AKI = intermediate SKI');
  t.not(leaf.ski, inter.ski);
  t.same([root.isCa, inter.isCa, leaf.isCa], [true, true, false], 'basicConstraints cA');
});

t.test('DER input and PEM bytes give the same facts', async (t) => {
  const pem = readFileSync(fixturePath('certs', 'ecdsa-p256.pem'));
  const a = certificateFacts(pem);
  const b64 = pem.toString('utf8').replace(/-----[A-Z ]+-----|\s/g, '');
  const b = certificateFacts(new Uint8Array(Buffer.from(b64, 'base64')));
  t.ok(a.ok && b.ok);
  if (a.ok && b.ok) t.equal(a.value.sha256, b.value.sha256);
});

t.test('a bundle gives every certificate in order', async (t) => {
  const text = ['leaf-signed-by-intermediate', 'ca-intermediate', 'ca-root']
    .map((n) => readFileSync(fixturePath('certs', `${n}.pem`), 'utf8'))
    .join('\n# a comment between blocks\n');
  const r = certificatesFromPem(text);
  t.ok(r.ok);
  if (r.ok) t.same(r.value.map((c) => c.cn), ['chained.example', 'Corpus Test Intermediate CA', 'Corpus Test Root CA']);
});

t.test('malformed input is an identity/bad-certificate value, never a throw', async (t) => {
  const good = new Uint8Array(
    Buffer.from(readFileSync(fixturePath('certs', 'cn-only.pem'), 'utf8').replace(/-----[A-Z ]+-----|\s/g, ''), 'base64'),
  );
  const cases: [string, Uint8Array | string][] = [
    ['empty bytes', new Uint8Array(0)],
    ['empty text', ''],
    ['text without PEM', 'hello world'],
    ['random bytes', new Uint8Array(Array.from({ length: 300 }, (_, i) => (i * 73 + 11) & 255))],
    ['truncated DER', good.subarray(0, good.length - 40)],
    ['truncated to header', good.subarray(0, 4)],
    ['PEM with garbage body', '-----BEGIN CERTIFICATE-----\nAAAA////\n-----END CERTIFICATE-----\n'],
    ['SEQUENCE of nothing', new Uint8Array([0x30, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])],
  ];
  // Flip single bytes through the structure: every result is ok or a typed error.
  for (let i = 0; i < good.length; i += 37) {
    const b = new Uint8Array(good);
    b[i] ^= 0xff;
    cases.push([`byte ${i} flipped`, b]);
  }
  for (const [label, input] of cases) {
    let r;
    try {
      r = certificateFacts(input);
    } catch (e) {
      t.fail(`${label}: threw ${(e as Error).message}`);
      continue;
    }
    if (!r.ok) {
      t.equal(r.error.code, 'identity/bad-certificate', label);
      t.ok(r.error.message.length > 30, `${label}: reason given`);
    }
  }
  const strict = ['empty bytes', 'empty text', 'text without PEM', 'random bytes', 'truncated DER', 'truncated to header', 'PEM with garbage body', 'SEQUENCE of nothing'];
  for (const [label, input] of cases.filter(([l]) => strict.includes(l))) {
    t.equal(certificateFacts(input).ok, false, `${label} rejected`);
  }
  const bundle = certificatesFromPem('no blocks here');
  t.equal(bundle.ok, false);
});
