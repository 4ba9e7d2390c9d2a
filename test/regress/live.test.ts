// --live against the real proxy on loopback, on identity shapes where a simulator could
// disagree with itself: TSID off under TLS 1.3 (no passive name), passive CN under TLS 1.2,
// the TechNote profile, a certificate without CN, a spoofed SNI, ALPN. Every live verdict
// must equal the offline one; cases that cannot be reproduced live say why and do not fail.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { fromRoot } from '../../src/util/paths.js';
import { runCli } from '../helpers/io.js';

const SL = fromRoot('certs', 'smart-licensing.crt.pem');
const NOCN = fromRoot('certs', 'smart-licensing-nocn.crt.pem');

const SUITE = `policy: ${fromRoot('policies', 'smart-licensing.yaml')}
cases:
  - name: TSID off, TLS 1.3 offered, no SNI -> no passive name, the IP
    flow: {src: 10.12.1.8, dst: 72.163.4.38, versions: [TLSv1.2, TLSv1.3], cert: ${SL}, tsid: off}
    expect: {identitySource: ip, rule: Default Action}
  - name: TSID off, TLS 1.2 -> passive CN
    flow: {src: 10.10.42.2, dst: 173.37.145.8, versions: [TLSv1.2], cert: ${SL}, tsid: off}
    expect: {identitySource: passive-cn, url: tools.cisco.com}
  - name: TechNote profile -> CN first
    flow: {src: 10.12.1.8, dst: 72.163.4.38, versions: [TLSv1.2], cert: ${SL}, profile: technote}
    expect: {identitySource: cert-cn, action: Allow, rule: ALLOW_FMC_ASA_SNT_CISCO}
  - name: TechNote profile, certificate without CN -> first SAN, toos
    flow: {src: 10.12.1.8, dst: 72.163.4.38, versions: [TLSv1.2], cert: ${NOCN}, profile: technote}
    expect: {identitySource: cert-san, url: https://toos.cisco.com, action: Block with reset}
  - name: SNI contradicted by the certificate under TSID -> certificate name wins
    flow: {src: 10.10.42.2, dst: 72.163.4.38, sni: www.example.com, alpn: [h2, http/1.1], versions: [TLSv1.3], cert: ${SL}}
    expect: {url: https://toos.cisco.com, action: Block with reset}
  - name: pinned identity (as generated from events) -> replayed with a certificate made for it
    flow: {src: 10.12.1.8, dst: 72.163.4.38, identity: {name: toos.cisco.com, source: cert-san}}
    expect: {action: Block with reset}
`;

t.test('live verdicts equal offline ones across identity shapes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-live-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'shapes.test.yaml'), SUITE);
  const r = await runCli(['test', '--live', '--json', 'shapes.test.yaml', '--events', 'live-events.jsonl'], { cwd: dir });
  const rep = JSON.parse(r.stdout);
  const cases = rep.suites[0].cases as { name: string; status: string; live?: { skipped?: string; diffs: unknown[]; actual: { identitySource: string } | null } }[];
  t.same(cases.filter((c) => c.status !== 'pass').map((c) => [c.name, c.status, c.live]), [], 'no failures');
  t.equal(r.code, 0);
  t.same(rep.counts, { total: 6, passed: 6, failed: 0, liveMismatch: 0, liveError: 0, liveSkipped: 0 });
  t.same(
    cases.map((c) => c.live?.actual?.identitySource ?? null),
    ['ip', 'passive-cn', 'cert-cn', 'cert-san', 'cert-san', 'cert-san'],
    'the proxy derived each identity the way the offline core did',
  );
});

t.test('the live run\'s real proxy events pin a suite and feed impact analysis', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-live-events-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'shapes.test.yaml'), SUITE);
  const live = await runCli(['test', '--live', 'shapes.test.yaml', '--events', 'ev.jsonl'], { cwd: dir });
  t.equal(live.code, 0);
  const lines = readFileSync(join(dir, 'ev.jsonl'), 'utf8').trim().split('\n');
  t.equal(lines.length, 6, 'one event per case, the pinned one included');
  t.ok(lines.every((l) => JSON.parse(l).mapped), 'events carry the real loopback addresses behind the seed ones');

  const policy = fromRoot('policies', 'smart-licensing.yaml');
  const gen = await runCli(['test', '--from-events', 'ev.jsonl', '--policy', policy, '--out', 'pinned.test.yaml'], { cwd: dir });
  t.equal(gen.code, 0, gen.stderr);
  const pinned = await runCli(['test', 'pinned.test.yaml', '--json'], { cwd: dir });
  t.equal(pinned.code, 0, pinned.stdout);
  t.equal(JSON.parse(pinned.stdout).counts.passed, 6, 'the recorded verdicts replay offline');

  const remedy = fromRoot('policies', 'smart-licensing-remedy-allow-toos.yaml');
  const cmp = await runCli(['test', '--compare', policy, remedy, '--from-events', 'ev.jsonl', '--json'], { cwd: dir });
  t.equal(cmp.code, 1);
  const changes = JSON.parse(cmp.stdout).changes as { origin: string; before: { action: string; url: string }; after: { action: string } }[];
  // Exactly the flows TSID named toos.cisco.com (no-CN certificate, contradicted SNI, and the
  // pinned first-SAN case).
  t.same(changes.map((c) => c.origin), ['ev.jsonl event 4', 'ev.jsonl event 5', 'ev.jsonl event 6']);
  t.ok(changes.every((c) => c.before.url === 'https://toos.cisco.com' && c.before.action === 'Block with reset' && c.after.action === 'Allow'));
});

// Suites made by --from-events pin identities (the event names the server, it carries no
// certificate). Live, each is replayed with a certificate shaped so that the recorded source
// is the only one the proxy can derive.
const PINNED = `policy: ${fromRoot('policies', 'smart-licensing.yaml')}
cases:
  - name: sni
    flow: {src: 10.12.1.8, dst: 72.163.4.38, sni: tools.cisco.com, identity: {name: tools.cisco.com, source: sni}}
    expect: {identitySource: sni}
  - name: cert-cn
    flow: {src: 10.12.1.8, dst: 72.163.4.38, identity: {name: tools.cisco.com, source: cert-cn}}
    expect: {identitySource: cert-cn}
  - name: cert-san
    flow: {src: 10.10.42.2, dst: 72.163.4.38, identity: {name: toos.cisco.com, source: cert-san}}
    expect: {identitySource: cert-san, url: https://toos.cisco.com}
  - name: cert-ou
    flow: {src: 10.12.1.8, dst: 173.37.145.8, identity: {name: smart-licensing.cisco.com, source: cert-ou}}
    expect: {identitySource: cert-ou}
  - name: passive-cn
    flow: {src: 10.12.1.8, dst: 72.163.4.38, versions: [TLSv1.2], identity: {name: tools.cisco.com, source: passive-cn}}
    expect: {identitySource: passive-cn}
  - name: ip
    flow: {src: 10.12.1.8, dst: 72.163.4.38, versions: [TLSv1.3], identity: {name: 72.163.4.38, source: ip}}
    expect: {identitySource: ip}
  - name: an SNI identity whose SNI the flow does not carry cannot be replayed
    flow: {src: 10.12.1.8, dst: 72.163.4.38, sni: other.example, identity: {name: tools.cisco.com, source: sni}}
    expect: {identitySource: sni}
`;

t.test('pinned identities of every source replay live with a certificate made for them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-live-pinned-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'pinned.test.yaml'), PINNED);
  const r = await runCli(['test', '--live', '--json', 'pinned.test.yaml'], { cwd: dir });
  const rep = JSON.parse(r.stdout);
  const cases = rep.suites[0].cases as { name: string; status: string; live?: { skipped?: string; actual: { identitySource: string; identity: string | null } | null } }[];
  t.same(rep.counts, { total: 7, passed: 7, failed: 0, liveMismatch: 0, liveError: 0, liveSkipped: 1 }, JSON.stringify(cases.map((c) => [c.name, c.status, c.live])));
  t.same(
    cases.slice(0, 6).map((c) => [c.live?.actual?.identitySource, c.live?.actual?.identity]),
    [
      ['sni', 'tools.cisco.com'],
      ['cert-cn', 'tools.cisco.com'],
      ['cert-san', 'toos.cisco.com'],
      ['cert-ou', 'smart-licensing.cisco.com'],
      ['passive-cn', 'tools.cisco.com'],
      ['ip', '72.163.4.38'],
    ],
    'the proxy derived the recorded identity from the presented certificate',
  );
  t.match(cases[6].live?.skipped ?? '', /came from an SNI, but the flow's SNI is 'other\.example'/);
  t.equal(r.code, 0);
});
