// `peekwall test` end to end (in process, real files): failing suites fail with the right diff
// and exit code, invalid suites exit 2 with file:line:column, reporters, --junit, coverage
// thresholds, TSID on/off/TLS 1.3 identity derivation through the real core.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { fixturePath } from '../helpers/fixtures.js';
import { fromRoot } from '../../src/util/paths.js';
import { runCli } from '../helpers/io.js';
import { parseXml } from './xml.js';

// The field case's certificate shape (CN tools.cisco.com, first SAN toos.cisco.com), made by
// OpenSSL, not by peekwall.
const CISCO_LIKE = fixturePath('certs', 'first-san-differs-from-cn-cisco-like.pem');

const POLICY = `
name: small
settings: {tsid: {enabled: true, profile: snort3-legacy}}
securityIntelligence:
  url:
    - {name: Lookalikes, action: block, entries: [toos.cisco.com]}
    - {name: Unused-List, action: block, entries: [never.example]}
rules:
  - {name: ALLOW_TOOLS, action: Allow, urls: {literals: [tools.cisco.com]}}
  - {name: NEVER_REACHED, action: Block, destinationPorts: [9999]}
  - {name: ALLOW_WEB, action: Allow, destinationPorts: [443]}
defaultAction: Block all traffic
`;

function workspace(t: Test, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-regress-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const PASSING = `policy: small.yaml
cases:
  - name: no SNI, TSID on -> first SAN, SI block
    flow: {src: 10.12.1.8, dst: 72.163.4.38, versions: [TLSv1.2], cert: ${CISCO_LIKE}}
    expect: {action: Block with reset, rule: Lookalikes, url: https://toos.cisco.com, identitySource: cert-san, siCategory: Lookalikes, reason: URL Block}
  - name: no SNI, TSID off, TLS 1.2 -> passive CN allowed
    flow: {src: 10.12.1.8, dst: 72.163.4.38, versions: [TLSv1.2], cert: ${CISCO_LIKE}, tsid: off}
    expect: {action: Allow, rule: ALLOW_TOOLS, url: tools.cisco.com, identitySource: passive-cn, siCategory: null}
  - name: no SNI, TSID off, TLS 1.3 -> no name, the IP
    flow: {src: 10.12.1.8, dst: 72.163.4.38, versions: [TLSv1.2, TLSv1.3], cert: ${CISCO_LIKE}, tsid: off}
    expect: {action: Allow, rule: ALLOW_WEB, identitySource: ip}
  - name: technote profile -> CN first
    flow: {src: 10.12.1.8, dst: 72.163.4.38, versions: [TLSv1.2], cert: ${CISCO_LIKE}, profile: technote}
    expect: {action: Allow, rule: ALLOW_TOOLS, identitySource: cert-cn}
  - name: browsing with SNI
    flow: {src: 10.10.42.2, dst: 93.184.216.34, sni: www.example.com}
    expect: {action: Allow, rule: ALLOW_WEB, url: https://www.example.com, identitySource: sni}
`;

const FAILING = `policy: small.yaml
cases:
  - name: passes
    flow: {src: 10.10.42.2, dst: 93.184.216.34, sni: www.example.com}
    expect: {action: Allow}
  - name: expects the field case to be allowed
    flow: {src: 10.12.1.8, dst: 72.163.4.38, versions: [TLSv1.2], cert: ${CISCO_LIKE}}
    expect: {action: Allow, url: https://tools.cisco.com, identitySource: cert-san}
`;

t.test('a passing suite exits 0 and says so per case', async (t) => {
  const dir = workspace(t, { 'small.yaml': POLICY, 'ok.test.yaml': PASSING });
  const r = await runCli(['test', 'ok.test.yaml'], { cwd: dir });
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.equal((r.stdout.match(/^ {2}ok {3}/gm) ?? []).length, 5);
  t.match(r.stdout, /5 cases: 5 passed, 0 failed/);
});

t.test('a suite that must fail does fail, with the diff, the place and exit 1', async (t) => {
  const dir = workspace(t, { 'small.yaml': POLICY, 'bad.test.yaml': FAILING });
  const r = await runCli(['test', 'bad.test.yaml'], { cwd: dir });
  t.equal(r.code, 1);
  t.match(r.stdout, /ok {3}passes/);
  t.match(r.stdout, /FAIL expects the field case to be allowed {2}\[bad\.test\.yaml:6:5\]/);
  t.match(r.stdout, /action\s+expected Allow\n\s+actual\s+Block with reset/);
  t.match(r.stdout, /url\s+expected https:\/\/tools\.cisco\.com\n\s+actual\s+https:\/\/toos\.cisco\.com/);
  t.notMatch(r.stdout, /identitySource\s+expected/, 'a matching stated field is not a diff');
  t.match(r.stdout, /Security Intelligence/, 'the trace explains the failure');
  t.match(r.stdout, /2 cases: 1 passed, 1 failed/);

  const json = await runCli(['test', 'bad.test.yaml', '--json'], { cwd: dir });
  t.equal(json.code, 1);
  const rep = JSON.parse(json.stdout);
  t.same(rep.counts, { total: 2, passed: 1, failed: 1, liveMismatch: 0, liveError: 0, liveSkipped: 0 });
  t.same(rep.suites[0].cases[1].diffs, [
    { field: 'action', expected: 'Allow', actual: 'Block with reset' },
    { field: 'url', expected: 'https://tools.cisco.com', actual: 'https://toos.cisco.com' },
  ]);

  const tap = await runCli(['test', 'bad.test.yaml', '--reporter', 'tap'], { cwd: dir });
  t.equal(tap.code, 1);
  t.match(tap.stdout, /^ok 1 - bad\.test\.yaml › passes$/m);
  t.match(tap.stdout, /^not ok 2 - bad\.test\.yaml › expects the field case to be allowed$/m);
});

t.test('--junit FILE writes well-formed JUnit XML next to any reporter', async (t) => {
  const dir = workspace(t, { 'small.yaml': POLICY, 'bad.test.yaml': FAILING, 'ok.test.yaml': PASSING });
  const r = await runCli(['test', 'ok.test.yaml', 'bad.test.yaml', '--junit', 'out/junit.xml', '--reporter', 'tap'], { cwd: dir });
  t.equal(r.code, 1);
  const root = parseXml(readFileSync(join(dir, 'out', 'junit.xml'), 'utf8'));
  t.equal(root.name, 'testsuites');
  t.equal(root.attrs.tests, '7');
  t.equal(root.attrs.failures, '1');
  t.same(root.children.map((s) => [s.attrs.name, s.attrs.tests, s.attrs.failures]), [
    ['ok.test.yaml', '5', '0'],
    ['bad.test.yaml', '2', '1'],
  ]);
  const failed = root.children[1].children.filter((c) => c.name === 'testcase' && c.children.some((f) => f.name === 'failure'));
  t.same(failed.map((c) => c.attrs.name), ['expects the field case to be allowed']);
});

t.test('--junit / --out where nothing can be written: regress/unwritable, exit 2, no stack trace', async (t) => {
  const dir = workspace(t, { 'small.yaml': POLICY, 'ok.test.yaml': PASSING, 'a-file': 'x', 'events.jsonl': '' });
  const junit = await runCli(['test', 'ok.test.yaml', '--junit', 'a-file/junit.xml'], { cwd: dir });
  t.equal(junit.code, 2);
  t.match(junit.stderr, /a-file\/junit\.xml: cannot write: ENOTDIR .*\[regress\/unwritable\]/);
  t.match(junit.stdout, /ok\.test\.yaml/, 'the report itself was still printed');
  const out = await runCli(['test', '--from-events', 'events.jsonl', '--policy', 'small.yaml', '--out', 'a-file/sub/gen.test.yaml'], { cwd: dir });
  t.equal(out.code, 2);
  t.match(out.stderr, /\[regress\/unwritable\]/);
  t.notMatch(`${junit.stderr}${out.stderr}`, /\n\s+at /, 'no stack trace');
});

t.test('invalid suites and policies exit 2 with file:line:column', async (t) => {
  const dir = workspace(t, {
    'small.yaml': POLICY,
    'broken-policy.yaml': 'rules:\n  - {name: X, action: Permit}\n',
    'invalid.test.yaml': 'policy: small.yaml\ncases:\n  - name: x\n    flow: {src: 10.0.0.999, dst: 10.0.0.2}\n    expect: {action: Allow}\n',
    'badpolicy.test.yaml': 'policy: broken-policy.yaml\ncases:\n  - name: x\n    flow: {src: 10.0.0.1, dst: 10.0.0.2}\n    expect: {action: Allow}\n',
    'nocert.test.yaml': 'policy: small.yaml\ncases:\n  - name: x\n    flow: {src: 10.0.0.1, dst: 10.0.0.2, cert: missing.crt.pem}\n    expect: {action: Allow}\n',
  });
  const a = await runCli(['test', 'invalid.test.yaml'], { cwd: dir });
  t.equal(a.code, 2);
  t.match(a.stderr, /^peekwall: invalid\.test\.yaml:4:17: src '10\.0\.0\.999' is not an IP address \[suite\/bad-address\]$/m);
  const b = await runCli(['test', 'badpolicy.test.yaml'], { cwd: dir });
  t.equal(b.code, 2);
  t.match(b.stderr, /badpolicy\.test\.yaml:1:9: policy broken-policy\.yaml does not load/);
  t.match(b.stderr, /broken-policy\.yaml:2:\d+: .*Permit/);
  const c = await runCli(['test', 'nocert.test.yaml'], { cwd: dir });
  t.equal(c.code, 2);
  t.match(c.stderr, /nocert\.test\.yaml:3:5: .*missing\.crt\.pem.*\[suite\/cert-unreadable\]/);
  const d = await runCli(['test', 'nope.test.yaml'], { cwd: dir });
  t.equal(d.code, 2);
  t.match(d.stderr, /\[suite\/unreadable\]/);
  const e = await runCli(['test', 'invalid.test.yaml', '--reporter', 'xml'], { cwd: dir });
  t.equal(e.code, 2);
  const f = await runCli(['test', 'invalid.test.yaml', '--events', 'x.jsonl'], { cwd: dir });
  t.equal(f.code, 2);
  t.match(f.stderr, /--events FILE records the live run: add --live/);
});

t.test('coverage: unreached rules and unhit lists, --min-coverage', async (t) => {
  const dir = workspace(t, { 'small.yaml': POLICY, 'ok.test.yaml': PASSING });
  const r = await runCli(['test', 'ok.test.yaml'], { cwd: dir });
  // Rules: ALLOW_TOOLS, ALLOW_WEB reached of 3; lists: Lookalikes hit of 2 -> 3/5 = 60%.
  t.match(r.stdout, /coverage .*small\.yaml: 60% — rules 2\/3, SI lists 1\/2/);
  t.match(r.stdout, /rules no case reached: NEVER_REACHED/);
  t.match(r.stdout, /SI lists no case hit: Unused-List/);
  const low = await runCli(['test', 'ok.test.yaml', '--min-coverage', '60'], { cwd: dir });
  t.equal(low.code, 0);
  const high = await runCli(['test', 'ok.test.yaml', '--min-coverage', '61'], { cwd: dir });
  t.equal(high.code, 1);
  t.match(high.stderr, /coverage of .*small\.yaml is 60%, below the required 61%/);
  const bad = await runCli(['test', 'ok.test.yaml', '--min-coverage', 'lots'], { cwd: dir });
  t.equal(bad.code, 2);
});

t.test('suite settings override the policy settings (same keys as the policy file)', async (t) => {
  const dir = workspace(t, {
    'small.yaml': POLICY,
    'off.test.yaml': `policy: small.yaml\nsettings: {tsid: {enabled: false}}\ncases:\n  - name: TSID off from the suite\n    flow: {src: 10.12.1.8, dst: 72.163.4.38, versions: [TLSv1.2], cert: ${CISCO_LIKE}}\n    expect: {action: Allow, url: https://tools.cisco.com, identitySource: passive-cn}\n`,
    'badsettings.test.yaml': 'policy: small.yaml\nsettings: {tsid: {enabled: sometimes}}\ncases:\n  - name: x\n    flow: {src: 10.0.0.1, dst: 10.0.0.2}\n    expect: {action: Allow}\n',
  });
  const r = await runCli(['test', 'off.test.yaml'], { cwd: dir });
  t.equal(r.code, 0, r.stdout);
  const b = await runCli(['test', 'badsettings.test.yaml'], { cwd: dir });
  t.equal(b.code, 2);
  t.match(b.stderr, /badsettings\.test\.yaml:2:1: the suite's settings make policy small\.yaml invalid/);
});

t.test('a FIFO or a directory given as a suite is refused, not read', async (t) => {
  const dir = workspace(t, { 'small.yaml': POLICY });
  const { execFileSync } = await import('node:child_process');
  execFileSync('mkfifo', [join(dir, 'fifo.test.yaml')]);
  const r = await runCli(['test', 'fifo.test.yaml', '.'], { cwd: dir });
  t.equal(r.code, 2);
  t.match(r.stderr, /fifo\.test\.yaml is not a regular file \[suite\/unreadable\]/);
  t.match(r.stderr, /is not a regular file/);
  writeFileSync(join(dir, 'dev.test.yaml'), 'policy: /dev/zero\ncases:\n  - {name: x, flow: {src: 10.0.0.1, dst: 10.0.0.2}, expect: {action: Allow}}\n');
  const d = await runCli(['test', 'dev.test.yaml'], { cwd: dir });
  t.equal(d.code, 2);
  t.match(d.stderr, /policy \/dev\/zero is not a regular file \[suite\/policy-unreadable\]/);
});

t.test('an inline PEM certificate works like a file; a broken one is a positioned error', async (t) => {
  const pem = readFileSync(CISCO_LIKE, 'utf8').trim().split('\n').map((l) => `        ${l}`).join('\n');
  const dir = workspace(t, {
    'small.yaml': POLICY,
    'inline.test.yaml': `policy: small.yaml\ncases:\n  - name: inline\n    flow:\n      src: 10.12.1.8\n      dst: 72.163.4.38\n      cert: |\n${pem}\n    expect: {url: https://toos.cisco.com, identitySource: cert-san}\n`,
    'broken.test.yaml': 'policy: small.yaml\ncases:\n  - name: broken\n    flow:\n      src: 10.12.1.8\n      dst: 72.163.4.38\n      cert: "-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n"\n    expect: {action: Allow}\n',
  });
  const r = await runCli(['test', 'inline.test.yaml'], { cwd: dir });
  t.equal(r.code, 0, r.stdout + r.stderr);
  const b = await runCli(['test', 'broken.test.yaml'], { cwd: dir });
  t.equal(b.code, 2);
  t.match(b.stderr, /broken\.test\.yaml:3:5: case 'broken': inline certificate: .* \[suite\/bad-cert\]/);
});

// The JUnit file against the strict JUnit XSD (test/fixtures/junit/junit.xsd) with a real
// validator, Debian's xmllint; skipped where it is missing (.ci/run installs libxml2-utils).
const XMLLINT = ['/usr/bin/xmllint', '/bin/xmllint'].find((p) => existsSync(p)) ?? null;
const xsdValid = (file: string) => spawnSync(XMLLINT!, ['--noout', '--schema', fromRoot('test', 'fixtures', 'junit', 'junit.xsd'), file], { encoding: 'utf8' });

t.test('the JUnit file validates against the JUnit XSD: time on every suite and case, no unknown attributes', { skip: XMLLINT ? false : 'xmllint is not installed (apt-get install libxml2-utils)' }, async (t) => {
  const dir = workspace(t, { 'small.yaml': POLICY, 'bad.test.yaml': FAILING, 'ok.test.yaml': PASSING });
  const r = await runCli(['test', 'ok.test.yaml', 'bad.test.yaml', '--junit', 'junit.xml'], { cwd: dir });
  t.equal(r.code, 1);
  const v = xsdValid(join(dir, 'junit.xml'));
  t.equal(v.status, 0, `xmllint: ${v.stderr}`);
  const root = parseXml(readFileSync(join(dir, 'junit.xml'), 'utf8'));
  for (const s of root.children) {
    t.match(s.attrs.time, /^\d+\.\d{3}$/, `suite ${s.attrs.name}: time`);
    for (const c of s.children.filter((x) => x.name === 'testcase')) t.match(c.attrs.time, /^\d+\.\d{3}$/, `${c.attrs.name}: time`);
  }
});

t.test('an invalid suite still writes a JUnit file: one error testcase saying why, valid against the XSD', { skip: XMLLINT ? false : 'xmllint is not installed' }, async (t) => {
  const dir = workspace(t, { 'small.yaml': POLICY, 'broken.test.yaml': 'policy: small.yaml\ncases:\n  - name: no flow\n    expect: {action: Allow}\n' });
  const r = await runCli(['test', 'broken.test.yaml', '--junit', 'junit.xml'], { cwd: dir });
  t.equal(r.code, 2);
  t.ok(existsSync(join(dir, 'junit.xml')), 'written');
  const v = xsdValid(join(dir, 'junit.xml'));
  t.equal(v.status, 0, `xmllint: ${v.stderr}`);
  const root = parseXml(readFileSync(join(dir, 'junit.xml'), 'utf8'));
  t.equal(root.attrs.errors, '1');
  t.equal(root.children.length, 1);
  const cases = root.children[0].children.filter((c) => c.name === 'testcase');
  t.equal(cases.length, 1);
  t.equal(cases[0].children[0].name, 'error');
  t.equal(cases[0].children[0].attrs.type, 'invalid-suite');
  t.match(cases[0].children[0].text, /broken\.test\.yaml:\d+/, 'says where and why');
});
