// The lab's other stories (seeds 002-004, explicit proxy, TLS 1.3), each run in process.
import t, { type Test } from 'tap';
import { everyOk } from '../helpers/every.js';
import { runCli } from '../helpers/io.js';

interface Run {
  scenario: string;
  ok: boolean;
  acts: {
    title: string;
    events: { url: string | null; action: string; identitySource?: string; dstIp: string; tlsVersion?: string }[];
    clients: { device: string; ok: boolean; output: string }[];
    checks: { what: string; ok: boolean }[];
    ok: boolean;
  }[];
}

async function scenario(t: Test, name: string): Promise<Run> {
  const r = await runCli(['lab', '--scenario', name, '--json']);
  const run = JSON.parse(r.stdout) as Run;
  t.equal(r.code, run.ok ? 0 : 1, 'exit code follows the verdict');
  for (const a of run.acts) for (const c of a.checks) t.ok(c.ok, `${name} / ${a.title}: ${c.what}`);
  t.equal(run.ok, true, `${name}: every act as expected`);
  return run;
}

t.test('--scenario list names every story', async (t) => {
  const r = await runCli(['lab', '--scenario', 'list']);
  t.equal(r.code, 0);
  for (const n of ['toos', 'explicit-proxy', 'expired-ca', 'clock-skew', 'untrusted-chain', 'tls13', 'dns', 'expiry', 'profiles']) t.match(r.stdout, new RegExp(`\\b${n}\\b`));
});

t.test('an unknown scenario is a usage error', async (t) => {
  const r = await runCli(['lab', '--scenario', 'nope']);
  t.equal(r.code, 2);
  t.match(r.stderr, /unknown scenario 'nope'/);
});

t.test('explicit proxy: CONNECT first, the TLS inside still has no SNI', async (t) => {
  const run = await scenario(t, 'explicit-proxy');
  const [blocked, remedied] = run.acts;
  everyOk(t, blocked.events, (e) => e.url === 'https://toos.cisco.com', 'blocked: every event names https://toos.cisco.com');
  everyOk(t, blocked.clients, (c) => !c.ok && /CH-LIB-ERROR/.test(c.output), 'blocked: every client fails with CH-LIB-ERROR');
  everyOk(t, remedied.clients, (c) => c.ok && /via 192\.0\.2\.10:80 \(proxy\)/.test(c.output), 'remedied: every client succeeds via the proxy');
});

t.test('expired lab CA (seed 002): err code 60 while the firewall allows', async (t) => {
  const run = await scenario(t, 'expired-ca');
  const [today, later] = run.acts;
  everyOk(t, today.clients, (c) => c.ok, 'today: every client succeeds');
  everyOk(t, later.events, (e) => e.action === 'Allow', 'later: the firewall allows every flow');
  everyOk(t, later.clients, (c) => /err code 60, err string "SSL peer certificate or SSH remote key was not OK"/.test(c.output), 'later: every client fails with err code 60');
});

t.test('clock skew (seed 003): err code 60 until the clock is fixed', async (t) => {
  const run = await scenario(t, 'clock-skew');
  everyOk(t, run.acts[0].clients, (c) => /err code 60/.test(c.output) && /not yet valid/.test(c.output), 'skewed clock: every client fails with err code 60, not yet valid');
  everyOk(t, run.acts[1].clients, (c) => c.ok, 'clock fixed: every client succeeds');
});

t.test('untrusted chain (seed 004): err code 60', async (t) => {
  const run = await scenario(t, 'untrusted-chain');
  everyOk(t, run.acts[0].clients, (c) => /err code 60/.test(c.output), 'untrusted chain: every client fails with err code 60');
});

t.test('TLS 1.3 with TSID off: no name at all, the URL is the IP', async (t) => {
  const run = await scenario(t, 'tls13');
  const off = run.acts[0];
  t.ok(off.events.length >= 3);
  everyOk(t, off.events, (e) => e.url === `https://${e.dstIp}` && e.identitySource === 'ip', 'TSID off: every URL is the IP');
  everyOk(t, run.acts[1].events, (e) => e.url === 'https://toos.cisco.com', 'TSID on: every URL is https://toos.cisco.com');
});

t.test('DNS failure (seed 003): err code 6, nothing reaches the firewall', async (t) => {
  const run = await scenario(t, 'dns');
  t.equal(run.acts[0].events.length, 0);
  everyOk(t, run.acts[0].clients, (c) => /err code 6, err string "Couldn't resolve host name"/.test(c.output), 'DNS failure: every client fails with err code 6');
});

t.test('expiry: 90 days of silent blocks -> Authorization Expired; the remedy restores it', async (t) => {
  const run = await scenario(t, 'expiry');
  t.match(run.acts[0].clients[0].output, /CH-LIB-ERROR/);
  everyOk(t, run.acts[1].clients, (c) => /AUTHORIZED/.test(c.output), 'remedy: every client is AUTHORIZED');
});

t.test('TSID profiles: first SAN (legacy), CN (snort3, technote), first SAN again without a CN', async (t) => {
  const run = await scenario(t, 'profiles');
  t.same(
    run.acts.map((a) => [...new Set(a.events.map((e) => `${e.url} ${e.identitySource}`))]),
    [['https://toos.cisco.com cert-san'], ['https://tools.cisco.com cert-cn'], ['https://tools.cisco.com cert-cn'], ['https://toos.cisco.com cert-san']],
  );
  t.ok(run.acts.length === 4 && run.acts.every((a) => a.clients.length > 0 && a.events.length > 0), 'four acts, each with clients and events');
  t.same(run.acts.map((a) => a.clients.every((c) => c.ok)), [false, true, true, false]);
});
