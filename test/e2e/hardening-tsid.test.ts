// Issue 20, defect 5 over real sockets and real TLS: a TSID name must not outlive the truth.
// A server that shows the probe one certificate and real clients another is noticed (the
// session's own certificate, readable in TLS <= 1.2, is compared with the probed one) and, with
// settings.tsid.sessionCheck: redecide, judged again; a reload that changes TSID settings and
// the admin's POST /tsid/cache/clear both forget cached names.
import t from 'tap';
import * as http from 'node:http';
import { startProxy, type RunningProxy } from '../../src/proxy/index.js';
import { twoFaced } from '../../bench/lib/two-faced.js';
import { EventSink, makeCert, policyFrom, startOrigin, tlsRoundTrip } from '../proxy/lib/net.js';

const yaml = (o: { sessionCheck?: 'off' | 'log' | 'redecide'; ttlMs?: number } = {}) => `
name: tsid-truth
settings:
  tsid: { enabled: true${o.sessionCheck ? `, sessionCheck: ${o.sessionCheck}` : ''} }
  tsidCache: { ttlMs: ${o.ttlMs ?? 3600000} }
  timeouts: { peekMs: 3000, probeMs: 3000, connectMs: 2000, idleMs: 10000 }
rules:
  - name: BLOCK_BLOCKED
    action: Block with reset
    urls: { literals: [blocked.test] }
  - name: ALLOW_ALL
    action: Allow
defaultAction: Block all traffic
`;


async function setup(t: Tap, policyYaml: string, maxVersion: 'TLSv1.2' | 'TLSv1.3' = 'TLSv1.2') {
  const good = await startOrigin(await makeCert({ cn: 'good.test', sans: ['good.test'] }), { maxVersion });
  const bad = await startOrigin(await makeCert({ cn: 'blocked.test', sans: ['blocked.test'] }), { maxVersion });
  const front = await twoFaced(good.port, bad.port);
  const sink = new EventSink();
  const proxy = await startProxy({
    policy: policyFrom(policyYaml),
    listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: front.port } }],
    onEvent: sink.onEvent,
    admin: { host: '127.0.0.1', port: 0 },
  });
  t.teardown(async () => {
    await proxy.close();
    await front.close();
    await good.close();
    await bad.close();
  });
  return { proxy, sink, port: proxy.listeners[0].port };
}
type Tap = { teardown(fn: () => unknown): void };

t.test('sessionCheck log (the default): the mismatch is in the event; the connection goes on', async (t) => {
  const { sink, port } = await setup(t, yaml());
  const r = await tlsRoundTrip(port, { maxVersion: 'TLSv1.2' });
  t.equal(r.kind, 'ok', 'allowed on the probed name, spliced');
  const e = await sink.next(10_000);
  t.equal(e.action, 'Allow');
  t.equal(e.url, 'https://good.test', 'judged on the probed certificate');
  t.equal(e.tsid?.sessionCheck, 'tsid/cert-mismatch');
  t.equal(e.tsid?.sessionName, 'blocked.test', 'the name the session certificate gives');
});

t.test('sessionCheck redecide: the session certificate is judged again and the connection refused', async (t) => {
  const { sink, port } = await setup(t, yaml({ sessionCheck: 'redecide' }));
  const r = await tlsRoundTrip(port, { maxVersion: 'TLSv1.2' });
  t.not(r.kind, 'ok', `the client did not get through (${r.kind})`);
  const e = await sink.next(10_000);
  t.equal(e.action, 'Block with reset');
  t.equal(e.accessControlRule, 'BLOCK_BLOCKED');
  t.equal(e.url, 'https://blocked.test', 'judged on the certificate the session carries');
  t.equal(e.tsid?.sessionCheck, 'tsid/cert-mismatch');
  t.equal(sink.events.length, 0, 'exactly one event');
});

t.test('sessionCheck redecide with an honest server: match, allowed, bytes flow', async (t) => {
  const cert = await makeCert({ cn: 'good.test', sans: ['good.test'] });
  const o1 = await startOrigin(cert, { maxVersion: 'TLSv1.2' });
  const front = await twoFaced(o1.port, o1.port);
  const sink = new EventSink();
  const proxy = await startProxy({
    policy: policyFrom(yaml({ sessionCheck: 'redecide' })),
    listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: front.port } }],
    onEvent: sink.onEvent,
  });
  t.teardown(async () => {
    await proxy.close();
    await front.close();
    await o1.close();
  });
  const r = await tlsRoundTrip(proxy.listeners[0].port, { maxVersion: 'TLSv1.2' });
  t.equal(r.kind, 'ok');
  const e = await sink.next(10_000);
  t.equal(e.action, 'Allow');
  t.equal(e.tsid?.sessionCheck, 'match');
  t.notOk(e.tsid?.sessionName);
});

t.test('TLS 1.3 sessions hide their certificate: unseen, the probe decides', async (t) => {
  const { sink, port } = await setup(t, yaml({ sessionCheck: 'redecide' }), 'TLSv1.3');
  const r = await tlsRoundTrip(port, { maxVersion: 'TLSv1.3' });
  t.equal(r.kind, 'ok');
  const e = await sink.next(10_000);
  t.equal(e.action, 'Allow');
  t.equal(e.tsid?.sessionCheck, 'unseen');
});

async function probesAfter(proxy: RunningProxy, port: number, sink: EventSink): Promise<number> {
  await tlsRoundTrip(port, { maxVersion: 'TLSv1.2' });
  await sink.next(10_000);
  return proxy.stats().tsidProbes;
}

t.test('a reload that changes TSID settings forgets cached names; one that does not keeps them', async (t) => {
  const o1 = await startOrigin(await makeCert({ cn: 'good.test' }), { maxVersion: 'TLSv1.2' });
  const sink = new EventSink();
  const proxy = await startProxy({
    policy: policyFrom(yaml()),
    listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: o1.port } }],
    onEvent: sink.onEvent,
  });
  t.teardown(async () => {
    await proxy.close();
    await o1.close();
  });
  const port = proxy.listeners[0].port;
  t.equal(await probesAfter(proxy, port, sink), 1, 'first connection probes');
  t.equal(await probesAfter(proxy, port, sink), 1, 'second is a cache hit');
  proxy.reload(policyFrom(yaml()));
  t.equal(await probesAfter(proxy, port, sink), 1, 'same TSID settings: still cached');
  proxy.reload(policyFrom(yaml({ ttlMs: 60_000 })));
  t.equal(await probesAfter(proxy, port, sink), 2, 'a new TTL: the old entry (with its old expiry) is gone');
});

t.test('POST /tsid/cache/clear on the admin port forgets cached names', async (t) => {
  const { proxy, sink, port } = await setup(t, yaml({ sessionCheck: 'off' }));
  await tlsRoundTrip(port, { maxVersion: 'TLSv1.2' });
  const first = await sink.next(10_000);
  t.notOk(first.tsid?.sessionCheck, 'sessionCheck off: no check');
  t.equal(proxy.stats().tsidCacheEntries, 1);
  const admin = proxy.admin!;
  const call = (method: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host: admin.host, port: admin.port, path: '/tsid/cache/clear', method, agent: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  t.equal((await call('GET')).status, 405, 'GET does not clear');
  t.equal(proxy.stats().tsidCacheEntries, 1);
  const r = await call('POST');
  t.equal(r.status, 200);
  t.same(JSON.parse(r.body), { cleared: 1 });
  t.equal(proxy.stats().tsidCacheEntries, 0);
  // The next connection probes again: the two-faced server now shows blocked.test to the probe.
  await tlsRoundTrip(port, { maxVersion: 'TLSv1.2' });
  const e = await sink.next(10_000);
  t.equal(e.tsid?.cache, 'miss');
  t.equal(e.url, 'https://blocked.test', 'the fresh probe saw the certificate the server shows now');
});
