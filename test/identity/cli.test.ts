// `peekwall cert FILE`: facts at the top level, identity per profile (TSID on / off), status.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/io.js';
import { fixturePath, readFixtureJson } from '../helpers/fixtures.js';

const seedPem = fixturePath('certs', 'first-san-differs-from-cn-cisco-like.pem');
const NOW = '2027-06-01T00:00:00Z';

t.test('JSON: facts at the top level and the identity of every profile', async (t) => {
  const r = await runCli(['cert', seedPem, '--json']);
  t.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  const gt = readFixtureJson('certs', 'first-san-differs-from-cn-cisco-like.json');
  t.equal(j.cn, gt.cn);
  t.same(j.cns, gt.cns);
  t.same(j.ous, []);
  t.same(j.sans.map((s: { value: string }) => s.value), gt.san_dns);
  t.equal(j.sha256, gt.sha256_fingerprint);
  t.equal(j.serial, gt.serial);
  t.equal(j.notAfter, '2036-11-20T12:15:21.000Z');
  t.same(j.identity, {
    'snort3-legacy': { tsidOn: { name: 'toos.cisco.com', source: 'cert-san' }, tsidOff: { name: 'tools.cisco.com', source: 'passive-cn' } },
    snort3: { tsidOn: { name: 'tools.cisco.com', source: 'cert-cn' }, tsidOff: { name: 'tools.cisco.com', source: 'passive-cn' } },
    technote: { tsidOn: { name: 'tools.cisco.com', source: 'cert-cn' }, tsidOff: { name: 'tools.cisco.com', source: 'passive-cn' } },
  });
  t.notOk('status' in j, 'no status without --trust');
});

t.test('no-CN certificate and the IP fallback', async (t) => {
  const r = await runCli(['cert', fixturePath('certs', 'ou-only-no-cn-no-san.pem'), '--json', '--ip', '72.163.4.38']);
  const j = JSON.parse(r.stdout);
  t.equal(j.cn, null);
  t.same(j.identity.technote.tsidOn, { name: j.ous[0], source: 'cert-ou' });
  t.same(j.identity['snort3-legacy'].tsidOn, { name: '72.163.4.38', source: 'ip' });
  t.same(j.identity.snort3.tsidOff, { name: '72.163.4.38', source: 'ip' });
});

t.test('--name shows spoofing; --trust gives the status and exit 1 when not valid', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-cert-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const chainFile = join(dir, 'chain.pem');
  writeFileSync(chainFile, readFileSync(fixturePath('certs', 'leaf-signed-by-intermediate.pem'), 'utf8') + readFileSync(fixturePath('certs', 'ca-intermediate.pem'), 'utf8'));
  const ok = await runCli(['cert', chainFile, '--json', '--trust', fixturePath('certs', 'ca-root.pem'), '--name', 'www.chained.example', '--now', NOW]);
  t.equal(ok.code, 0, ok.stderr);
  const j = JSON.parse(ok.stdout);
  t.equal(j.chainLength, 2);
  t.equal(j.status.status, 'valid');
  t.same(j.identity.snort3.withSni, { name: 'www.chained.example', source: 'sni' });
  const self = await runCli(['cert', seedPem, '--trust', fixturePath('certs', 'ca-root.pem'), '--name', 'tools.cisco.com', '--ip', '72.163.4.38', '--now', NOW]);
  t.equal(self.code, 1);
  t.match(self.stdout, /status\s+self-signed/);
  t.match(self.stdout, /Core server certificate verification failed for \(tools\.cisco\.com\)\. Action=Terminate Error=self signed certificate server=tools\.cisco\.com\(72\.163\.4\.38\) depth=0/);
  const spoof = await runCli(['cert', seedPem, '--json', '--name', 'allowed.example.com']);
  t.same(spoof.code, 0);
  t.same(JSON.parse(spoof.stdout).identity['snort3-legacy'].withSni, { name: 'toos.cisco.com', source: 'cert-san', spoofedSni: 'allowed.example.com' });
});

t.test('DER on stdin, and bad input', async (t) => {
  const der = Buffer.from(readFileSync(seedPem, 'utf8').replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
  const r = await runCli(['cert', '-', '--json'], { stdin: der });
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).cn, 'tools.cisco.com');
  const bad = await runCli(['cert', '-', '--json'], { stdin: Buffer.from('not a certificate at all, really') });
  t.equal(bad.code, 2);
  t.equal(JSON.parse(bad.stdout).error, 'identity/bad-certificate');
  const missing = await runCli(['cert', '/nonexistent/x.pem']);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /\/nonexistent\/x\.pem: cannot read: ENOENT/);
  t.equal((await runCli(['cert'])).code, 2);
  t.equal((await runCli(['cert', seedPem, '--trust', '/nonexistent'])).code, 2);
  t.equal((await runCli(['cert', seedPem, '--now', 'yesterday'])).code, 2);
});
