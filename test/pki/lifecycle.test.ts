// certs init / check / renew on temporary copies of certs/ (the real one is never touched),
// including renewal failing half-way: a read-only target, and a disk failing mid-swap.
import t, { type Test } from 'tap';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certificatesFromPem, certificateStatus, trustStoreFromPem } from '../../src/identity/index.js';
import { checkLabPki, expiryMessage, initLabPki, LAB_CERTS_DIR, parseLabConfig, renewLabPki } from '../../src/pki/index.js';
import { runCli } from '../helpers/io.js';

function copyCerts(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-certs-'));
  t.teardown(() => {
    for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o644);
    rmSync(dir, { recursive: true, force: true });
  });
  // Only the set lab.yaml describes: certs/ also holds certificates made elsewhere (the
  // regression suites' browsing.*.pem), which check lists as extras and renew leaves alone.
  const c = parseLabConfig(readFileSync(join(LAB_CERTS_DIR, 'lab.yaml'), 'utf8'));
  if (!c.ok) throw new Error('certs/lab.yaml does not parse');
  const files = ['lab.yaml', ...c.value.certificates.flatMap((s) => [`${s.name}.crt.pem`, `${s.name}.key.pem`])];
  for (const f of files) cpSync(join(LAB_CERTS_DIR, f), join(dir, f));
  return dir;
}
const snapshot = (dir: string) => new Map(readdirSync(dir).filter((f) => f.endsWith('.pem')).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
const LAB_TREE = ['lab-ca', 'smart-licensing', 'smart-licensing-nocn', 'smart-licensing-ecdsa', 'expired'].flatMap((n) => [`${n}.crt.pem`, `${n}.key.pem`]);
const UNTRUSTED_TREE = ['untrusted-ca', 'untrusted-leaf'].flatMap((n) => [`${n}.crt.pem`, `${n}.key.pem`]);
const NOW = new Date('2027-03-01T00:00:00Z');

function verifiesAgainstCa(dir: string, leaf: string, now: Date): string {
  const trust = trustStoreFromPem(readFileSync(join(dir, 'lab-ca.crt.pem'), 'utf8'));
  const chain = certificatesFromPem(readFileSync(join(dir, `${leaf}.crt.pem`), 'utf8'));
  if (!trust.ok || !chain.ok) return 'unreadable';
  return certificateStatus({ chain: [chain.value[0]], trust: trust.value, name: 'tools.cisco.com', now }).status;
}

t.test('seed 002 wording', async (t) => {
  const now = new Date('2026-01-01T00:00:00Z');
  t.same(expiryMessage(new Date('2035-12-28T00:00:00Z'), now, 90), { status: 'ok', daysLeft: 3648, message: 'The certificate is valid for more than 90 days. It is valid for 3648 more days.' });
  t.same(expiryMessage(new Date('2026-01-31T12:00:00Z'), now, 90), { status: 'warning', daysLeft: 30, message: 'The certificate will expire within the next 90 days! It is ONLY valid for 30 more days.' });
  t.same(expiryMessage(new Date('2025-12-01T00:00:00Z'), now, 90), { status: 'expired', daysLeft: -31, message: 'The certificate has expired 31 days ago.' });
});

t.test('check: the shipped set, the expected-expired certificate, the warning window, a real expiry', async (t) => {
  const dir = copyCerts(t);
  const r = await checkLabPki(dir, { now: NOW });
  t.ok(r.ok);
  if (!r.ok) return;
  t.equal(r.value.problem, false, 'nothing unexpected');
  const byName = new Map(r.value.certificates.map((e) => [e.name, e]));
  t.equal(byName.get('expired')?.status, 'expected-expired');
  t.match(byName.get('expired')?.message, /has expired \d+ days ago\. \(Expected/);
  t.equal(byName.get('lab-ca')?.status, 'ok');
  t.match(byName.get('lab-ca')?.message, /^The certificate is valid for more than 90 days\. It is valid for \d+ more days\.$/);
  // Inside the warning window of the leaves (notAfter 2035-11-10), not yet of the CA (2036-01-01).
  const w = await checkLabPki(dir, { now: new Date('2035-10-01T00:00:00Z'), warnDays: 60 });
  t.ok(w.ok && w.value.certificates.find((e) => e.name === 'smart-licensing')?.status === 'warning');
  t.ok(w.ok && w.value.certificates.find((e) => e.name === 'lab-ca')?.status === 'ok');
  t.ok(w.ok && !w.value.problem);
  // The day after everything expired: a problem, exit 1.
  const cli = await runCli(['certs', 'check', '--dir', dir, '--now', '2036-01-02T00:00:00Z']);
  t.equal(cli.code, 1);
  t.match(cli.stdout, /ERROR\s+lab-ca\.crt\.pem/);
  t.match(cli.stdout, /The certificate has expired 1 days ago\. Renew it now/);
  t.match(cli.stdout, /EXPECTED expired\.crt\.pem/);
  const ok = await runCli(['certs', 'check', '--dir', dir, '--now', NOW.toISOString(), '--json']);
  t.equal(ok.code, 0);
  const j = JSON.parse(ok.stdout);
  t.equal(j.certificates.length, 8);
  t.equal(j.warnDays, 90);
  // A missing certificate is a problem too.
  rmSync(join(dir, 'smart-licensing.crt.pem'));
  const m = await runCli(['certs', 'check', '--dir', dir, '--now', NOW.toISOString()]);
  t.equal(m.code, 1);
  t.match(m.stdout, /smart-licensing\.crt\.pem is missing/);
  t.equal((await runCli(['certs', 'check', '--dir', dir, '--warn-days', 'soon'])).code, 2);
  t.equal((await runCli(['certs', 'check', '--dir', join(dir, 'nope')])).code, 2);
});

t.test('renew: new CA, every leaf re-issued, backups of the old files', async (t) => {
  const dir = copyCerts(t);
  const before = snapshot(dir);
  const cli = await runCli(['certs', 'renew', '--dir', dir, '--now', '2030-06-01T00:00:00Z', '--json']);
  t.equal(cli.code, 0, cli.stderr);
  const r = JSON.parse(cli.stdout);
  t.equal(r.renewed.length, 16);
  t.same(r.failed, []);
  for (const [f, old] of before) {
    t.equal(readFileSync(join(dir, `${f}.backup`), 'utf8'), old, `${f}.backup holds the old file`);
    t.not(readFileSync(join(dir, f), 'utf8'), old, `${f} replaced`);
  }
  const ca = certificatesFromPem(readFileSync(join(dir, 'lab-ca.crt.pem'), 'utf8'));
  t.ok(ca.ok && ca.value[0].notBefore.toISOString() === '2030-06-01T00:00:00.000Z');
  t.ok(ca.ok && ca.value[0].notAfter.getUTCFullYear() === 2040, '10 years from the renewal');
  for (const leaf of ['smart-licensing', 'smart-licensing-ecdsa', 'smart-licensing-nocn']) {
    t.equal(verifiesAgainstCa(dir, leaf, new Date('2031-01-01T00:00:00Z')), 'valid', `${leaf} chains to the new CA`);
  }
  const exp = certificatesFromPem(readFileSync(join(dir, 'expired.crt.pem'), 'utf8'));
  t.ok(exp.ok && exp.value[0].notAfter.toISOString() === '2021-01-01T00:00:00.000Z', 'the expired one keeps its fixed dates');
  t.notOk(readdirSync(dir).some((f) => f.startsWith('.renew-')), 'temp dir removed');
});

t.test('renew with a read-only target: reported, its tree untouched, the others renewed', async (t) => {
  const dir = copyCerts(t);
  const before = snapshot(dir);
  chmodSync(join(dir, 'smart-licensing.key.pem'), 0o444);
  const cli = await runCli(['certs', 'renew', '--dir', dir]);
  t.equal(cli.code, 1);
  t.match(cli.stderr, /could not write smart-licensing\.key\.pem: read-only/);
  t.match(cli.stderr, /kept the old lab-ca tree unchanged/);
  for (const f of LAB_TREE) {
    t.equal(readFileSync(join(dir, f), 'utf8'), before.get(f), `${f} unchanged`);
    t.notOk(existsSync(join(dir, `${f}.backup`)) && readFileSync(join(dir, `${f}.backup`), 'utf8') !== before.get(f), `${f}: no foreign backup`);
  }
  for (const f of UNTRUSTED_TREE) t.not(readFileSync(join(dir, f), 'utf8'), before.get(f), `${f} renewed`);
  t.equal(verifiesAgainstCa(dir, 'smart-licensing', NOW), 'valid', 'the old set is still usable');
});

t.test('renew failing half-way through a swap: rolled back from the backups', async (t) => {
  const dir = copyCerts(t);
  const before = snapshot(dir);
  let renames = 0;
  const r = await renewLabPki(dir, {
    now: NOW,
    fs: {
      copyFile: (a, b) => import('node:fs/promises').then((m) => m.copyFile(a, b)),
      // The 4th file of the lab-ca tree fails (after lab-ca.crt/.key and smart-licensing.crt are swapped).
      rename: async (a, b) => {
        renames++;
        if (renames === 4) throw Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' });
        await rename(a, b);
      },
    },
  });
  t.ok(r.ok);
  if (!r.ok) return;
  t.same(r.value.failed, [{ file: 'smart-licensing.key.pem', reason: 'could not be replaced: EIO: i/o error, rename' }]);
  t.same(r.value.heldTrees, ['lab-ca']);
  for (const f of LAB_TREE) t.equal(readFileSync(join(dir, f), 'utf8'), before.get(f), `${f} back to the old version`);
  for (const f of UNTRUSTED_TREE) t.not(readFileSync(join(dir, f), 'utf8'), before.get(f), `${f} renewed`);
  t.ok(r.value.renewed.includes('self-signed.crt.pem'));
});

t.test('renew with a directory in the way of a backup: nothing of that tree changes', async (t) => {
  const dir = copyCerts(t);
  const before = snapshot(dir);
  mkdirSync(join(dir, 'untrusted-leaf.crt.pem.backup'));
  const r = await renewLabPki(dir, { now: NOW });
  t.ok(r.ok);
  if (!r.ok) return;
  t.same(r.value.heldTrees, ['untrusted-ca']);
  t.match(r.value.failed[0].reason, /untrusted-leaf\.crt\.pem\.backup: a directory is in the way/);
  for (const f of UNTRUSTED_TREE) t.equal(readFileSync(join(dir, f), 'utf8'), before.get(f));
  for (const f of LAB_TREE) t.not(readFileSync(join(dir, f), 'utf8'), before.get(f));
  rmSync(join(dir, 'untrusted-leaf.crt.pem.backup'), { recursive: true });
});

t.test('init: a small config in an empty dir, refusal to overwrite, --force', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-init-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'lab.yaml'),
    `label: LAB-ONLY test\nepoch: 2026-01-01T00:00:00Z\ncertificates:\n` +
      `  - {name: ca, ca: true, subject: [{CN: Test CA}], key: ec-p256, validityDays: 3652}\n` +
      `  - {name: web, issuer: ca, subject: [{CN: web.example}], sans: [dns:web.example, ip:127.0.0.1], key: ec-p256, validityDays: 9999}\n`,
  );
  const r = await runCli(['certs', 'init', '--dir', dir]);
  t.equal(r.code, 0, r.stderr);
  t.same(readdirSync(dir).sort(), ['ca.crt.pem', 'ca.key.pem', 'lab.yaml', 'web.crt.pem', 'web.key.pem']);
  const web = certificatesFromPem(readFileSync(join(dir, 'web.crt.pem'), 'utf8'));
  t.ok(web.ok);
  if (web.ok) {
    t.same(web.value[0].sans, [{ type: 'dns', value: 'web.example' }, { type: 'ip', value: '127.0.0.1' }]);
    t.equal(web.value[0].notAfter.getTime(), web.value[1].notAfter.getTime(), 'a leaf never outlives its CA');
    t.match(readFileSync(join(dir, 'web.key.pem'), 'utf8'), /^# LAB-ONLY test\n/);
  }
  const again = await runCli(['certs', 'init', '--dir', dir]);
  t.equal(again.code, 2);
  t.match(again.stderr, /exists: use `peekwall certs renew`/);
  t.equal((await initLabPki(dir, { force: true })).ok, true);
});

t.test('init into a place it cannot write: pki/unwritable, exit 2, not a stack trace', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-init-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'lab.yaml'), `label: LAB-ONLY test\nepoch: 2026-01-01T00:00:00Z\ncertificates:\n  - {name: ca, ca: true, subject: [{CN: Test CA}], key: ec-p256, validityDays: 3652}\n`);
  // A directory where the temporary file goes: the write fails with EISDIR (root-proof,
  // unlike file modes).
  mkdirSync(join(dir, '.ca.crt.pem.tmp'));
  mkdirSync(join(dir, '.ca.key.pem.tmp'));
  const r = await runCli(['certs', 'init', '--dir', dir]);
  t.equal(r.code, 2);
  t.match(r.stderr, /cannot write into .*EISDIR.*\[pki\/unwritable\]/);
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

t.test('lab.yaml errors are values with file:line:column', async (t) => {
  const bad = (text: string) => {
    const r = parseLabConfig(text, 'lab.yaml');
    return r.ok ? [] : r.error.map((e) => `${e.line ?? '-'}:${e.message}`);
  };
  t.match(bad('label: x\nepoch: 2026-01-01\ncertificates:\n  - name: a\n    colour: red\n    subject: [{CN: a}]\n'), [/^5:unknown key "colour"/]);
  t.match(bad('epoch: 2026-01-01\ncertificates:\n  - {name: leaf, issuer: nobody, subject: [{CN: a}]}\n'), [/^3:issuer "nobody" must be a CA listed earlier/]);
  t.match(bad('epoch: 2026-01-01\nx: &a [1]\ny: *a\ncertificates: []\n'), [/aliases/]);
  t.match(bad('epoch: 2026-01-01\nepoch: 2027-01-01\ncertificates: []\n'), [/unique|duplicate/i]);
  t.match(bad('epoch: someday\ncertificates: []\n'), [/^1:epoch: "someday" is not an ISO date/]);
  t.match(bad('epoch: 2026-01-01\ncertificates:\n  - {name: a, subject: [{XX: a}], key: dsa}\n'), [/unknown subject attribute "XX"/, /key must be/]);
  t.match(bad('epoch: 2026-01-01\ncertificates:\n  - {name: a, subject: [{CN: a}], notBefore: 2020-01-01}\n'), [/give both notBefore and notAfter/]);
  t.match(bad('[1, 2'), [/./]);
  t.same(bad('epoch: 2026-01-01\ncertificates:\n  - {name: a, subject: [{CN: a}]}\n'), []);
});
