// --capture: the proxy records what it inspected (and its TSID probes) as pcapng. tshark must
// read every capture back with TLS dissected — the SNI and the certificate's names as the
// events say — and peekwall's own replay of the capture must give the events the proxy logged.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionEvent } from '../../src/events/index.js';
import { CaptureWalk, Replay, type FlowResult } from '../../src/capture/index.js';
import type { Policy } from '../../src/policy/index.js';
import { CaptureFile, startProxy } from '../../src/proxy/index.js';
import { EventSink, makeCert, policyFrom, rawExchange, startOrigin, tlsRoundTrip, type TestCert } from './lib/net.js';
import { hasTool, verdictOf } from '../helpers/capture.js';

const tshark = hasTool('tshark');

const policyYaml = (tsid: boolean) => `
name: capture
settings:
  tsid: { enabled: ${tsid} }
  timeouts: { peekMs: 3000, probeMs: 3000, connectMs: 2000, idleMs: 10000 }
rules:
  - name: BLOCK_BAD
    action: Block
    urls: { literals: [bad.example] }
  - name: BLOCK_TOOS
    action: Block with reset
    urls: { literals: [toos.cisco.com] }
  - name: ALLOW_ALL
    action: Allow
defaultAction: Block all traffic
`;

let cert: TestCert;
let dir: string;
t.before(async () => {
  cert = await makeCert({ cn: 'tools.cisco.com', sans: ['toos.cisco.com', 'tools.cisco.com'] });
  dir = mkdtempSync(join(tmpdir(), 'peekwall-capture-'));
});
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** Run clients through a proxy that captures; the events in the order they came, and the file. */
async function captured(t: Tap, name: string, policy: Policy, clients: ((port: number) => Promise<unknown>)[]): Promise<{ file: string; events: ConnectionEvent[] }> {
  const origin = await startOrigin(cert, { maxVersion: 'TLSv1.2' });
  t.teardown(() => origin.close());
  const file = join(dir, `${name}.pcapng`);
  const capture = new CaptureFile(file, 4 * 1024 * 1024);
  const sink = new EventSink();
  const proxy = await startProxy({
    policy,
    listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: origin.port }, flowPort: 443 }],
    onEvent: sink.onEvent,
    capture,
  });
  t.teardown(() => proxy.close());
  const events: ConnectionEvent[] = [];
  for (const c of clients) {
    await c(proxy.listeners[0].port);
    events.push(await sink.next());
  }
  await proxy.close();
  capture.flush();
  return { file, events };
}

function replay(file: string, policy: Policy): FlowResult[] {
  const out: FlowResult[] = [];
  const run = new Replay({ policy }, (r) => out.push(r));
  const walk = new CaptureWalk(run.open);
  walk.push(readFileSync(file));
  walk.end();
  return out;
}


interface Packet {
  iface: string;
  stream: string;
  sni: string;
  names: string;
  comment: string;
}

function tsharkPackets(file: string): Packet[] {
  const out = execFileSync(
    'tshark',
    ['-r', file, '-o', 'tls.desegment_ssl_records:TRUE', '-d', 'tcp.port==443,tls', '-T', 'fields', '-E', 'separator=|', '-e', 'frame.interface_name', '-e', 'tcp.stream', '-e', 'tls.handshake.extensions_server_name', '-e', 'x509sat.printableString', '-e', 'x509sat.uTF8String', '-e', 'x509ce.dNSName', '-e', 'frame.comment'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  ).toString('utf8');
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [iface, stream, sni, printable, utf8, dns, comment] = l.split('|');
      return { iface, stream, sni, names: [printable, utf8, dns].filter((x) => x !== '').join(','), comment };
    });
}

t.test('TSID off: spliced, passive and blocked flows — tshark sees SNI and certificate, replay gives the same events', async (t) => {
  const policy = policyFrom(policyYaml(false));
  const { file, events } = await captured(t, 'tsid-off', policy, [
    (p) => tlsRoundTrip(p, { servername: 'good.example', maxVersion: 'TLSv1.2' }),
    (p) => tlsRoundTrip(p, { servername: '', maxVersion: 'TLSv1.2' }),
    (p) => tlsRoundTrip(p, { servername: 'bad.example', maxVersion: 'TLSv1.2' }),
  ]);
  t.same(
    events.map((e) => [e.action, e.accessControlRule, e.identitySource]),
    [
      ['Allow', 'ALLOW_ALL', 'sni'],
      ['Allow', 'ALLOW_ALL', 'passive-cn'],
      ['Block', 'BLOCK_BAD', 'sni'],
    ],
    'the proxy decided as the policy says (TSID off, no SNI: the passive CN tools.cisco.com)',
  );
  const replayed = replay(file, policy);
  t.equal(replayed.length, 3, 'three flows in the capture');
  t.ok(replayed.every((r) => r.evaluated), 'every flow replays');
  t.same(
    replayed.map((r) => verdictOf(r.event as ConnectionEvent)).sort((a, b) => a.srcPort - b.srcPort),
    events.map(verdictOf).sort((a, b) => a.srcPort - b.srcPort),
    'replay of the capture: the events the proxy logged',
  );

  if (!tshark) return t.pass("tshark not installed (.ci/run installs it): its reading is not checked here");
  const pk = tsharkPackets(file);
  const firsts = pk.filter((p) => p.comment !== '');
  t.equal(firsts.length, 3, 'one comment per flow, on its first packet');
  for (const e of events) {
    const c = firsts.find((p) => p.comment.includes(`url ${e.url}`) && p.comment.startsWith(`peekwall: ${e.action};`));
    t.ok(c, `a comment with the verdict, rule and identity source of ${e.url}`);
    t.match(c?.comment, `rule ${e.accessControlRule}; identity source ${e.identitySource}`);
    const hello = pk.find((p) => p.stream === c?.stream && p.sni !== '');
    t.equal(hello?.sni ?? '', e.sni ?? '', `tshark reads the SNI of ${e.url}`);
  }
  const certs = pk.filter((p) => p.names !== '');
  t.equal(certs.length, 2, 'the allowed and the passive flow carry the server certificate (the blocked one never reached the server)');
  for (const c of certs) t.match(c.names, /tools\.cisco\.com.*toos\.cisco\.com,tools\.cisco\.com/, 'tshark dissects the certificate: CN, then the SANs in order');
});

t.test('TSID on: the probe is recorded on its own interface and answers the replay of a flow blocked before the server', async (t) => {
  const policy = policyFrom(policyYaml(true));
  const { file, events } = await captured(t, 'tsid-on', policy, [
    (p) => tlsRoundTrip(p, { servername: '', maxVersion: 'TLSv1.2' }),
    (p) => tlsRoundTrip(p, { servername: 'tools.cisco.com', maxVersion: 'TLSv1.2' }),
    (p) => rawExchange(p, [Buffer.from('GET / HTTP/1.1\r\n\r\n')], { endAfter: true }),
  ]);
  t.same(
    events.map((e) => [e.action, e.accessControlRule, e.identitySource]),
    [
      ['Block with reset', 'BLOCK_TOOS', 'cert-san'],
      ['Allow', 'ALLOW_ALL', 'sni'],
      [events[2].action, events[2].accessControlRule, events[2].identitySource],
    ],
    'no SNI: the probe reads toos.cisco.com first and the flow is blocked before the server',
  );
  const replayed = replay(file, policy);
  t.equal(replayed.length, 3, 'the probes are no flows of their own');
  t.same(
    replayed.filter((r) => r.evaluated).map((r) => verdictOf(r.event as ConnectionEvent)).sort((a, b) => a.srcPort - b.srcPort),
    events.filter((e) => e.action !== '' && replayed.some((r) => r.client.port === e.srcPort && r.evaluated)).map(verdictOf).sort((a, b) => a.srcPort - b.srcPort),
    'replay of the capture: the events the proxy logged',
  );
  const blocked = replayed.find((r) => r.client.port === events[0].srcPort);
  t.equal(blocked?.evaluated, true, 'the flow blocked before the server replays: the recorded probe answers');
  t.match(blocked?.notes.map((n) => n.message).join(' '), /TSID probe recorded in this capture/);

  if (!tshark) return t.pass("tshark not installed (.ci/run installs it): its reading is not checked here");
  const pk = tsharkPackets(file);
  const probes = pk.filter((p) => p.iface === 'peekwall-tsid-probe');
  t.ok(probes.length > 0, 'probe packets on the probe interface');
  t.match(probes.find((p) => p.comment !== '')?.comment, /^peekwall: TSID probe to 127\.0\.0\.1:443, SNI \(none\): certificate read, CN tools\.cisco\.com/);
  t.ok(probes.some((p) => p.names.includes('toos.cisco.com')), 'tshark dissects the certificate the probe read');
  t.ok(pk.filter((p) => p.iface === 'peekwall-inspected' && p.comment !== '').length === 3, 'three inspected flows, each commented');
});

type Tap = { teardown(fn: () => unknown): void };
