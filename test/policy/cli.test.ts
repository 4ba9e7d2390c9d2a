// `peekwall trace` and `peekwall lint` on the shipped policies: the seed's flows
// (10.12.1.8:40722 -> 72.163.4.38:443, no SNI, the seed-shaped certificate) with TSID on/off,
// and both remediations.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { everyOk } from '../helpers/every.js';
import { runCli } from '../helpers/io.js';

const SEED_CERT = 'test/fixtures/shared/certs/first-san-differs-from-cn-cisco-like.pem';
const LAB_CERT = 'certs/smart-licensing.crt.pem';
const BASE = 'policies/smart-licensing.yaml';
const REMEDY_TOOS = 'policies/smart-licensing-remedy-allow-toos.yaml';
const REMEDY_CATEGORY = 'policies/smart-licensing-remedy-category.yaml';

interface TraceJson {
  action: string;
  rule: string;
  reason: string;
  url: string;
  application?: string;
  siCategory?: string;
  identity: { name: string; source: string };
  tsid: { enabled: boolean; profile: string };
}

async function traceJson(policy: string, src: string, dst: string, sport: number, extra: string[] = []): Promise<TraceJson> {
  const r = await runCli(['trace', '--policy', policy, '--src', src, '--sport', String(sport), '--dst', dst, '--dport', '443', '--cert', SEED_CERT, '--json', ...extra]);
  if (r.code !== 0) throw new Error(`trace exited ${r.code}: ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as TraceJson;
}

t.test('seed flow, TSID on (policy default): https://toos.cisco.com is blocked by the look-alike SI feed', async (t) => {
  const r = await runCli(['trace', '--policy', BASE, '--src', '10.12.1.8', '--sport', '40722', '--dst', '72.163.4.38', '--dport', '443', '--cert', SEED_CERT]);
  t.equal(r.code, 0, 'evaluated: exit 0 whatever the verdict');
  const ftdLines = r.stdout.split('\n').filter((l) => l.startsWith('10.'));
  everyOk(t, ftdLines, (l) => l.startsWith('10.12.1.8 40722 -> 72.163.4.38 443 6 AS=0 ID=0 GR=1-1 '), 'FTD trace line shape');
  t.match(r.stdout, /GR=1-1 URL: url toos\.cisco\.com,/);
  t.match(r.stdout, /GR=1-1 Identity: server name 'toos\.cisco\.com' from cert-san/);
  t.match(r.stdout, /GR=1-1 Firewall: SI URL block, list 'Lookalike-Domains', entry 'toos\.cisco\.com', reset/);
  t.match(r.stdout, /Result: Block with reset \(URL Block\) by 'Lookalike-Domains'/);
  t.match(r.stdout, /URL: https:\/\/toos\.cisco\.com \[name from cert-san\]/);
  const j = await traceJson(BASE, '10.12.1.8', '72.163.4.38', 40722, ['--tsid', 'on']);
  t.match(j, { action: 'Block with reset', reason: 'URL Block', url: 'https://toos.cisco.com', siCategory: 'Lookalike-Domains', application: 'Cisco' });
  t.same(j.tsid, { enabled: true, profile: 'snort3-legacy' });
});

t.test('seed flows, TSID off: https://tools.cisco.com allowed by the seed rules', async (t) => {
  const fmc = await traceJson(BASE, '10.12.1.8', '72.163.4.38', 40722, ['--tsid', 'off']);
  t.match(fmc, { action: 'Allow', rule: 'ALLOW_FMC_ASA_SNT_CISCO', url: 'https://tools.cisco.com', identity: { source: 'passive-cn' } });
  for (const [src, dst, sport] of [
    ['10.10.42.2', '72.163.4.38', 51591],
    ['10.10.42.2', '173.37.145.8', 45203],
    ['10.10.81.2', '72.163.4.38', 24555],
  ] as const) {
    const v = await traceJson(BASE, src, dst, sport, ['--tsid', 'off']);
    t.match(v, { action: 'Allow', rule: 'ALLOW_ALL_CLIENTS_80_443', url: 'https://tools.cisco.com' }, `${src} -> ${dst}`);
  }
  const text = await runCli(['trace', '--policy', BASE, '--src', '10.12.1.8', '--dst', '72.163.4.38', '--cert', SEED_CERT, '--tsid', 'off']);
  t.match(text.stdout, /Firewall: pending rule-matching, 'ALLOW_FMC_ASA_SNT_CISCO', pending URL/);
  t.match(text.stdout, /Firewall: allow rule, 'ALLOW_FMC_ASA_SNT_CISCO', allow/);
});

t.test('TSID on, clients 10.10.x: blocked as well (the SI feed comes before every rule)', async (t) => {
  for (const src of ['10.10.42.2', '10.10.81.2']) {
    const v = await traceJson(BASE, src, '173.37.145.8', 45544, ['--tsid', 'on']);
    t.match(v, { action: 'Block with reset', rule: 'Lookalike-Domains', url: 'https://toos.cisco.com' }, src);
  }
});

t.test('--profile technote names the seed certificate by its CN: allowed with TSID on', async (t) => {
  const v = await traceJson(BASE, '10.12.1.8', '72.163.4.38', 40722, ['--profile', 'technote']);
  t.match(v, { action: 'Allow', rule: 'ALLOW_FMC_ASA_SNT_CISCO', url: 'https://tools.cisco.com', identity: { source: 'cert-cn' } });
});

t.test('both remediations: https://toos.cisco.com allowed by ALLOW_FMC_ASA_SNT_CISCO with TSID on', async (t) => {
  for (const policy of [REMEDY_TOOS, REMEDY_CATEGORY]) {
    const v = await traceJson(policy, '10.12.1.8', '72.163.4.38', 40722, ['--tsid', 'on']);
    t.match(v, { action: 'Allow', rule: 'ALLOW_FMC_ASA_SNT_CISCO', url: 'https://toos.cisco.com', identity: { source: 'cert-san' } }, policy);
    const off = await traceJson(policy, '10.12.1.8', '173.37.145.8', 46324, ['--tsid', 'off']);
    t.match(off, { action: 'Allow', rule: 'ALLOW_FMC_ASA_SNT_CISCO', url: 'https://tools.cisco.com' }, `${policy} TSID off`);
    const client = await traceJson(policy, '10.10.81.2', '72.163.4.38', 40655, ['--tsid', 'on']);
    t.match(client, { action: 'Allow', rule: 'ALLOW_ALL_CLIENTS_80_443' }, `${policy} client`);
  }
});

t.test('the lab certificate gives the same verdicts as the seed-shaped one', async (t) => {
  const on = await runCli(['trace', '--policy', BASE, '--src', '10.12.1.8', '--dst', '72.163.4.38', '--cert', LAB_CERT, '--json']);
  t.equal(on.code, 0, on.stderr);
  t.match(JSON.parse(on.stdout), { action: 'Block with reset', url: 'https://toos.cisco.com' });
  const off = await runCli(['trace', '--policy', BASE, '--src', '10.12.1.8', '--dst', '72.163.4.38', '--cert', LAB_CERT, '--tsid', 'off', '--json']);
  t.match(JSON.parse(off.stdout), { action: 'Allow', rule: 'ALLOW_FMC_ASA_SNT_CISCO', url: 'https://tools.cisco.com' });
});

t.test('SNI and no certificate', async (t) => {
  const sni = await traceJson(BASE, '10.12.1.8', '72.163.4.38', 40722, ['--sni', 'tools.cisco.com']);
  t.match(sni, { action: 'Allow', rule: 'ALLOW_FMC_ASA_SNT_CISCO', identity: { name: 'tools.cisco.com' } });
  const r = await runCli(['trace', '--policy', BASE, '--src', '10.12.1.8', '--dst', '72.163.4.38', '--json']);
  t.equal(r.code, 0);
  const v = JSON.parse(r.stdout) as TraceJson;
  t.equal(v.identity.source, 'ip');
  t.equal(v.action, 'Block', 'only an IP: the URL rule cannot match, default action blocks');
  t.equal(v.rule, 'Default Action');
});

t.test('bad input exits 2 with a specific message', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-policy-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'rules:\n  - name: R\n    action: Allow\n    sourceNetworks: [NOPE]\n');
  const r1 = await runCli(['trace', '--policy', bad, '--src', '10.0.0.1', '--dst', '10.0.0.2']);
  t.equal(r1.code, 2);
  t.match(r1.stderr, /bad\.yaml:4:22: unknown network object 'NOPE'/);
  const r2 = await runCli(['trace', '--policy', BASE, '--src', '10.0.0.300', '--dst', '10.0.0.2']);
  t.equal(r2.code, 2);
  t.match(r2.stderr, /--src must be an IPv4 or IPv6 address, not '10\.0\.0\.300'/);
  const r3 = await runCli(['trace', '--policy', BASE, '--src', '10.0.0.1', '--dst', '10.0.0.2', '--tsid', 'maybe']);
  t.equal(r3.code, 2);
  const r4 = await runCli(['trace', '--policy', BASE, '--src', '10.0.0.1', '--dst', '10.0.0.2', '--cert', join(dir, 'missing.pem')]);
  t.equal(r4.code, 2);
  t.match(r4.stderr, /cannot read certificate \(ENOENT/);
  // A device as --cert is refused, not read forever.
  const r5 = await runCli(['trace', '--policy', BASE, '--src', '10.0.0.1', '--dst', '10.0.0.2', '--cert', '/dev/zero']);
  t.equal(r5.code, 2);
  t.match(r5.stderr, /cannot read certificate \(not a regular file/);
  const r6 = await runCli(['trace', '--policy', BASE, '--src', '10.0.0.1']);
  t.equal(r6.code, 2);
  t.match(r6.stderr, /trace needs --dst IP/, 'a missing flag is called missing, not malformed');
  // An SNI no usable ClientHello carries: the wire reader's own check, words and anomaly code.
  for (const [bad, why, code] of [
    ['bad_..name', /empty label/, 'wire/sni-bad-syntax'],
    ['tóols.cisco.com', /not a host-name character/, 'wire/sni-not-ascii'],
    [`${'a'.repeat(64)}.example`, /label longer than 63/, 'wire/sni-bad-syntax'],
  ] as const) {
    const r = await runCli(['trace', '--policy', BASE, '--src', '10.0.0.1', '--dst', '10.0.0.2', '--sni', bad]);
    t.equal(r.code, 2, `--sni ${bad}`);
    t.match(r.stderr, why);
    t.match(r.stderr, `flagged ${code}`);
  }
  const ok = await traceJson(BASE, '10.12.1.8', '72.163.4.38', 40722, ['--sni', 'Tools.Cisco.COM.']);
  t.equal(ok.identity.name, 'tools.cisco.com', 'case and the root dot are normalised as on the wire');
});

t.test('peekwall lint: shipped policies clean (0), errors (1), unreadable (2)', async (t) => {
  for (const p of [BASE, REMEDY_TOOS, REMEDY_CATEGORY]) {
    const r = await runCli(['lint', p]);
    t.equal(r.code, 0, p);
    t.match(r.stdout, /0 error\(s\), 0 warning\(s\)/);
  }
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-policy-lint-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const shadow = join(dir, 'shadow.yaml');
  writeFileSync(shadow, 'rules:\n  - {name: ANY, action: Allow}\n  - {name: LATE, action: Block, destinationPorts: [22]}\n');
  const r = await runCli(['lint', shadow]);
  t.equal(r.code, 1);
  t.match(r.stdout, /shadow\.yaml:3:5: error: rule 'LATE' comes after catch-all rule 'ANY'/);
  const j = await runCli(['lint', shadow, '--json']);
  t.match(JSON.parse(j.stdout), { valid: true, errors: 1, findings: [{ code: 'lint/after-catch-all', rule: 'LATE' }] });
  const invalid = join(dir, 'invalid.yaml');
  writeFileSync(invalid, 'rules:\n  - {name: R, action: Allow, sourceNetworks: [10.0.0.0/40]}\n');
  const ri = await runCli(['lint', invalid]);
  t.equal(ri.code, 1);
  t.match(ri.stdout, /invalid\.yaml:2:47: error: '10\.0\.0\.0\/40' is not a valid CIDR/);
  t.equal((await runCli(['lint', join(dir, 'nope.yaml')])).code, 2);
});
