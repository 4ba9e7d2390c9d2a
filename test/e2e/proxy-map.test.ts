// What the lab relies on: seed addresses through the address map (events carry the real
// ones in `mapped`), one transparent listener per server alias with byLocalAddress, the
// certificate status when a trust store is given, and the held-bytes limit.
import t from 'tap';
import { trustStoreFromPem } from '../../src/identity/index.js';
import { startProxy } from '../../src/proxy/index.js';
import { EventSink, makeCert, policyFrom, rawExchange, startOrigin, tlsRoundTrip, type TestCert } from '../proxy/lib/net.js';

const yaml = (tsid: boolean) => `
name: map
settings:
  tsid: { enabled: ${tsid} }
rules:
  - name: ALLOW_FMC_ASA_SNT_CISCO
    action: Allow
    sourceNetworks: [10.12.1.8]
    destinationNetworks: [72.163.4.38, 173.37.145.8]
    destinationPorts: [443]
  - name: BLOCK_REST
    action: Block with reset
defaultAction: Block all traffic
`;

let cert: TestCert;
t.before(async () => {
  cert = await makeCert({ cn: 'tools.cisco.com', sans: ['toos.cisco.com', 'tools.cisco.com'] });
});

const SEED: Record<string, string> = { '127.0.0.5': '10.12.1.8', '127.0.0.3': '72.163.4.38', '127.0.0.4': '173.37.145.8' };
const addressMap = { toSeed: (ip: string) => SEED[ip] ?? ip };

t.test('byLocalAddress + address map: policy sees seed addresses, events carry the real ones', async (t) => {
  const a = await startOrigin(cert);
  const b = await startOrigin(cert);
  t.teardown(() => a.close());
  t.teardown(() => b.close());
  const sink = new EventSink();
  const byLocalAddress = { '127.0.0.3': { host: '127.0.0.1', port: a.port }, '127.0.0.4': { host: '127.0.0.1', port: b.port } };
  const proxy = await startProxy({
    policy: policyFrom(yaml(true)),
    listeners: [
      { mode: 'transparent', host: '127.0.0.3', port: 0, flowPort: 443, upstream: { byLocalAddress } },
      { mode: 'transparent', host: '127.0.0.4', port: 0, flowPort: 443, upstream: { byLocalAddress } },
    ],
    addressMap,
    onEvent: sink.onEvent,
  });
  t.teardown(() => proxy.close());
  const [l3, l4] = proxy.listeners;

  const r = await tlsRoundTrip(l3.port, { host: '127.0.0.3', localAddress: '127.0.0.5', maxVersion: 'TLSv1.2' });
  t.equal(r.kind, 'ok');
  const e = await sink.next();
  t.equal(e.srcIp, '10.12.1.8');
  t.equal(e.dstIp, '72.163.4.38');
  t.equal(e.dstPort, 443);
  t.equal(e.accessControlRule, 'ALLOW_FMC_ASA_SNT_CISCO');
  t.equal(e.url, 'https://toos.cisco.com');
  t.same(e.mapped, { srcIp: '127.0.0.5', dstIp: '127.0.0.3' });
  t.equal(a.connections, 2, 'probe and client went to the upstream of 127.0.0.3');

  t.equal((await tlsRoundTrip(l4.port, { host: '127.0.0.4', localAddress: '127.0.0.5' })).kind, 'ok');
  const e4 = await sink.next();
  t.equal(e4.dstIp, '173.37.145.8');
  t.equal(b.connections, 2);

  // Another source is not in the allow rule.
  const other = await tlsRoundTrip(l3.port, { host: '127.0.0.3', localAddress: '127.0.0.6' });
  t.equal(other.kind, 'error');
  const eo = await sink.next();
  t.equal(eo.srcIp, '127.0.0.6');
  t.equal(eo.action, 'Block with reset');
});

t.test('certificate status in events when a trust store is given', async (t) => {
  const origin = await startOrigin(cert);
  t.teardown(() => origin.close());
  const other = await makeCert({ cn: 'some other CA' });
  const run = async (trustPem: string) => {
    const trust = trustStoreFromPem(trustPem);
    if (!trust.ok) throw new Error(trust.error.message);
    const sink = new EventSink();
    const proxy = await startProxy({
      policy: policyFrom(yaml(true)),
      listeners: [{ mode: 'transparent', host: '127.0.0.3', port: 0, flowPort: 443, upstream: { host: '127.0.0.1', port: origin.port } }],
      addressMap,
      trust: trust.value,
      onEvent: sink.onEvent,
    });
    t.teardown(() => proxy.close());
    await tlsRoundTrip(proxy.listeners[0].port, { host: '127.0.0.3', localAddress: '127.0.0.5' });
    return sink.next();
  };
  t.equal((await run(cert.cert)).certStatus, 'valid', 'the probed chain builds to a trusted certificate');
  t.equal((await run(other.cert)).certStatus, 'self-signed', 'not trusted: self-signed');
});

t.test('the held-bytes limit refuses a connection that would hold too much', async (t) => {
  const origin = await startOrigin(cert);
  t.teardown(() => origin.close());
  const sink = new EventSink();
  const proxy = await startProxy({
    policy: policyFrom(yaml(false)),
    listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: origin.port } }],
    limits: { maxHeldBytes: 1024 },
    onEvent: sink.onEvent,
  });
  t.teardown(() => proxy.close());
  // A partial hello of 1.5 KB: more than the proxy may hold.
  const head = Buffer.from([0x16, 0x03, 0x01, 0x07, 0x00, 0x01, 0x00, 0x06, 0xfc]);
  const r = await rawExchange(proxy.listeners[0].port, [Buffer.concat([head, Buffer.alloc(1500)]), { pauseMs: 300 }]);
  t.equal(r.error, 'ECONNRESET');
  const e = await sink.next();
  t.equal(e.closeReason, 'proxy/held-bytes-limit');
  t.equal(proxy.stats().heldBytes, 0, 'accounting returns to zero');
});

async function hasIpv6(): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(0, '::1', () => s.close(() => resolve(true)));
  });
}

t.test('IPv6 loopback: transparent listener, TSID probe from ::1', async (t) => {
  if (!(await hasIpv6())) {
    t.pass('this host has no IPv6 loopback (container without ::1); nothing to test here');
    return;
  }
  const origin = await startOrigin(cert, { host: '::1' });
  t.teardown(() => origin.close());
  const sink = new EventSink();
  const proxy = await startProxy({
    policy: policyFrom(yaml(true).replace('destinationNetworks: [72.163.4.38, 173.37.145.8]', 'destinationNetworks: ["::1"]').replace('sourceNetworks: [10.12.1.8]', 'sourceNetworks: ["::1"]')),
    listeners: [{ mode: 'transparent', host: '::1', port: 0, flowPort: 443, upstream: { host: '::1', port: origin.port } }],
    onEvent: sink.onEvent,
  });
  t.teardown(() => proxy.close());
  t.equal((await tlsRoundTrip(proxy.listeners[0].port, { host: '::1' })).kind, 'ok');
  const e = await sink.next();
  t.equal(e.srcIp, '::1');
  t.equal(e.dstIp, '::1');
  t.equal(e.accessControlRule, 'ALLOW_FMC_ASA_SNT_CISCO');
  t.equal(e.url, 'https://toos.cisco.com');
  t.equal(origin.connections, 2, 'probe + client over IPv6');
});
