// Trust stores from disk (sources/trust.ts): a PEM bundle file, a CApath-like directory whose
// key files and other files are skipped, and the errors for missing or certificate-less ones.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certificateFacts, certificateStatus, type CertificateFacts } from '../../src/identity/index.js';
import { loadTrustStore } from '../../src/sources/index.js';
import { fixturePath } from '../helpers/fixtures.js';

const pem = (n: string) => readFileSync(fixturePath('certs', `${n}.pem`), 'utf8');
function load(n: string): CertificateFacts {
  const r = certificateFacts(pem(n));
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

const leaf = load('leaf-signed-by-intermediate');
// Inside every fixture's validity (leaf: 2026-11-23 .. 2029-02-25).
const NOW = new Date('2027-06-01T00:00:00Z');

t.test('trust stores: bundle file, directory, errors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-trust-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'root.pem'), `# lab only\n${pem('ca-root')}`);
  writeFileSync(join(dir, 'inter.crt'), pem('ca-intermediate'));
  writeFileSync(join(dir, 'some.key.pem'), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
  writeFileSync(join(dir, 'notes.txt'), 'not a certificate');
  const d = await loadTrustStore(dir);
  t.ok(d.ok);
  if (d.ok) {
    t.equal(d.value.certificates.length, 2);
    t.equal(certificateStatus({ chain: [leaf], trust: d.value, now: NOW }).status, 'valid', 'intermediate from the directory anchors');
  }
  const f = await loadTrustStore(join(dir, 'root.pem'));
  t.ok(f.ok);
  if (f.ok) t.equal(f.value.certificates.length, 1);
  const missing = await loadTrustStore(join(dir, 'nope.pem'));
  t.equal(missing.ok, false);
  if (!missing.ok) t.equal(missing.error.code, 'identity/bad-trust-store');
  const empty = await loadTrustStore(join(dir, 'notes.txt'));
  t.equal(empty.ok, false);
  const emptyDir = mkdtempSync(join(tmpdir(), 'peekwall-trust-empty-'));
  t.teardown(() => rmSync(emptyDir, { recursive: true, force: true }));
  t.equal((await loadTrustStore(emptyDir)).ok, false);
});
