// The proxy's operational behaviour over real sockets: explicit proxy (CONNECT and plain
// HTTP with Interactive Block bypass), sni-route, reload under traffic, limits, metrics, and
// file descriptors returning to baseline after many connections (DOMAIN.md §6's bug).
import t from 'tap';
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { startProxy, type RunningProxy } from '../../src/proxy/index.js';
import { EventSink, getViaProxy, makeCert, openFds, policyFrom, sleep, startHttpOrigin, startOrigin, tlsRoundTrip, type TestCert } from '../proxy/lib/net.js';

const policy = (o: { allowRule?: string; tsid?: boolean } = {}) => `
name: ops
settings:
  tsid: { enabled: ${o.tsid ?? false} }
  timeouts: { peekMs: 3000, probeMs: 3000, connectMs: 2000, idleMs: 10000 }
rules:
  - name: BLOCK_BAD
    action: Block
    urls: { literals: [bad.example] }
  - name: WARN_SITE
    action: Interactive Block
    urls: { literals: [warn.test] }
  - name: ${o.allowRule ?? 'ALLOW_ALL'}
    action: Allow
defaultAction: Block all traffic
`;

let cert: TestCert;
t.before(async () => {
  cert = await makeCert({ cn: 'origin.test', sans: ['origin.test'] });
});

async function closeLater(t: { teardown(fn: () => unknown): void }, p: RunningProxy) {
  t.teardown(() => p.close());
}

/** An explicit (CONNECT / plain HTTP) listener whose every name resolves to loopback. */
async function startExplicit(t: { teardown(fn: () => unknown): void }): Promise<{ sink: EventSink; pport: number }> {
  const sink = new EventSink();
  const proxy = await startProxy({
    policy: policyFrom(policy()),
    listeners: [{ mode: 'explicit', host: '127.0.0.1', port: 0 }],
    onEvent: sink.onEvent,
    resolve: async () => '127.0.0.1',
  });
  await closeLater(t, proxy);
  return { sink, pport: proxy.listeners[0].port };
}

t.test('CONNECT through the explicit listener is peeked like 443', async (t) => {
  const origin = await startOrigin(cert);
  t.teardown(() => origin.close());
  const { sink, pport } = await startExplicit(t);

  const tunnel = (servername: string) =>
    new Promise<{ status: number; socket: net.Socket }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: pport, method: 'CONNECT', path: `origin.test:${origin.port}` });
      req.on('connect', (res, socket) => resolve({ status: res.statusCode ?? 0, socket }));
      req.on('error', reject);
      req.end();
      void servername;
    });

  const { status, socket } = await tunnel('good.example');
  t.equal(status, 200);
  const reply = await new Promise<string>((resolve) => {
    const s = tls.connect({ socket, servername: 'good.example', rejectUnauthorized: false }, () => s.write('hello'));
    s.on('data', (d: Buffer) => {
      resolve(d.toString());
      s.destroy();
    });
    s.on('error', (e) => resolve(`error ${e.message}`));
  });
  t.equal(reply, 'echo:hello');
  const e = await sink.next();
  t.equal(e.sni, 'good.example');
  t.equal(e.action, 'Allow');
  t.equal(e.dstPort, origin.port);

  const b = await tunnel('bad.example');
  const refused = await new Promise<string>((resolve) => {
    const s = tls.connect({ socket: b.socket, servername: 'bad.example', rejectUnauthorized: false }, () => resolve('connected'));
    s.on('error', () => resolve('refused'));
    s.on('close', () => resolve('refused'));
  });
  t.equal(refused, 'refused');
  const eb = await sink.next();
  t.equal(eb.action, 'Block');
  t.equal(eb.accessControlRule, 'BLOCK_BAD');
});


t.test('plain HTTP through the explicit listener: allow, block page, Interactive Block bypass', async (t) => {
  const origin = await startHttpOrigin((req) => `origin saw ${req.headers.host} ${req.url}`);
  t.teardown(() => origin.close());
  const oport = origin.port;
  const { sink, pport } = await startExplicit(t);

  const ok = await getViaProxy(pport, `http://fine.test:${oport}/a?b=1`);
  t.equal(ok.status, 200);
  t.equal(ok.body, `origin saw fine.test:${oport} /a?b=1`);
  const e1 = await sink.next();
  t.equal(e1.action, 'Allow');
  t.equal(e1.applicationProtocol, 'HTTP');

  const blocked = await getViaProxy(pport, `http://bad.example:${oport}/`);
  t.equal(blocked.status, 403);
  t.match(blocked.body, /BLOCK_BAD/);
  t.equal((await sink.next()).action, 'Block');

  const warn = await getViaProxy(pport, `http://warn.test:${oport}/page`);
  t.equal(warn.status, 403);
  const link = /href="([^"]+)"/.exec(warn.body)?.[1]?.replace(/&#38;/g, '&');
  t.ok(link, 'the warning page has a continue link');
  const ew = await sink.next();
  t.equal(ew.action, 'Interactive Block');
  t.equal(ew.accessControlRule, 'WARN_SITE');

  const cont = await getViaProxy(pport, link as string);
  t.equal(cont.status, 302);
  t.equal(cont.location, `http://warn.test:${oport}/page`);
  const after = await getViaProxy(pport, cont.location as string);
  t.equal(after.status, 200, 'after continue the user is let through');
  const ea = await sink.next();
  t.equal(ea.action, 'Allow');
  t.equal(ea.reason, 'User Bypass');
  t.equal(ea.accessControlRule, 'WARN_SITE');

  const forged = await getViaProxy(pport, `http://warn.test:${oport}/__peekwall/continue?token=deadbeef`);
  t.equal(forged.status, 403, 'a made-up token does not bypass');
});

t.test('sni-route: name map and fallback', async (t) => {
  const a = await startOrigin(cert);
  const b = await startOrigin(cert);
  t.teardown(() => a.close());
  t.teardown(() => b.close());
  const sink = new EventSink();
  const proxy = await startProxy({
    policy: policyFrom(policy()),
    listeners: [
      { mode: 'sni-route', host: '127.0.0.1', port: 0, routes: { 'a.test': { host: 'origin-a', port: a.port } }, fallback: { host: '127.0.0.1', port: b.port } },
    ],
    onEvent: sink.onEvent,
    resolve: async (h) => (h === 'origin-a' ? '127.0.0.1' : Promise.reject(new Error('unknown'))),
  });
  await closeLater(t, proxy);
  const port = proxy.listeners[0].port;
  t.equal((await tlsRoundTrip(port, { servername: 'a.test' })).kind, 'ok');
  t.equal(a.handshakes, 1);
  t.equal((await sink.next()).dstPort, a.port);
  t.equal((await tlsRoundTrip(port, {})).kind, 'ok');
  t.equal(b.handshakes, 1, 'no SNI: fallback');
});

t.test('reload under traffic loses no connection; new connections get the new policy', async (t) => {
  const origin = await startOrigin(cert);
  t.teardown(() => origin.close());
  const sink = new EventSink();
  const proxy = await startProxy({
    policy: policyFrom(policy({ allowRule: 'ALLOW_V1' })),
    listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: origin.port } }],
    onEvent: sink.onEvent,
  });
  await closeLater(t, proxy);
  const port = proxy.listeners[0].port;
  const v2 = policyFrom(policy({ allowRule: 'ALLOW_V2' }));
  const results: Promise<string>[] = [];
  for (let i = 0; i < 40; i++) {
    results.push(tlsRoundTrip(port, { servername: `n${i}.test` }).then((r) => r.kind));
    if (i === 20) proxy.reload(v2);
    if (i % 5 === 0) await sleep(5);
  }
  const kinds = await Promise.all(results);
  t.same(kinds, Array(40).fill('ok'), 'every connection completed');
  const rules = new Set<string>();
  for (let i = 0; i < 40; i++) rules.add((await sink.next()).accessControlRule);
  t.same([...rules].sort(), ['ALLOW_V1', 'ALLOW_V2']);
  t.equal((await tlsRoundTrip(port, { servername: 'late.test' })).kind, 'ok');
  t.equal((await sink.next()).accessControlRule, 'ALLOW_V2');
  t.equal(proxy.policy().rules.some((r) => r.name === 'ALLOW_V2'), true);
});

t.test('admin: /healthz and Prometheus /metrics from a per-proxy registry', async (t) => {
  const origin = await startOrigin(cert);
  t.teardown(() => origin.close());
  const sink = new EventSink();
  const mk = () =>
    startProxy({
      policy: policyFrom(policy()),
      listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: origin.port } }],
      admin: { host: '127.0.0.1', port: 0 },
      onEvent: sink.onEvent,
    });
  const p1 = await mk();
  const p2 = await mk(); // a second proxy in the same process must not collide
  t.teardown(() => p1.close());
  t.teardown(() => p2.close());
  await tlsRoundTrip(p1.listeners[0].port, { servername: 'good.example' });
  await tlsRoundTrip(p1.listeners[0].port, { servername: 'bad.example' });
  // The allow is counted when both of its sockets closed, which may trail the client: wait
  // for both events (a fixed 50 ms raced a loaded 2-core runner).
  await sink.next();
  await sink.next();
  const fetchText = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: p1.admin?.port, path, agent: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }).on('error', reject);
    });
  const h = await fetchText('/healthz');
  t.equal(h.status, 200);
  t.match(h.body, /"status":"ok"/);
  const m = await fetchText('/metrics');
  t.equal(m.status, 200);
  t.match(m.body, /peekwall_verdicts_total\{action="Allow",rule="ALLOW_ALL"\} 1/);
  t.match(m.body, /peekwall_verdicts_total\{action="Block",rule="BLOCK_BAD"\} 1/);
  t.match(m.body, /peekwall_identity_sources_total\{source="sni"\} 2/);
  t.match(m.body, /peekwall_connections_total\{listener="transparent"\} 2/);
  t.match(m.body, /peekwall_bytes_total\{direction="server_to_client"\} \d+/);
});

t.test('the concurrent-connection limit resets the excess', async (t) => {
  const origin = await startOrigin(cert);
  t.teardown(() => origin.close());
  const proxy = await startProxy({
    policy: policyFrom(policy()),
    listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: origin.port } }],
    limits: { maxConnections: 1 },
  });
  await closeLater(t, proxy);
  const port = proxy.listeners[0].port;
  const hold = net.connect({ host: '127.0.0.1', port });
  t.teardown(() => hold.destroy());
  await new Promise((r) => hold.once('connect', r));
  await sleep(50);
  const r = await tlsRoundTrip(port, { servername: 'good.example' });
  t.equal(r.kind, 'error');
  t.equal(proxy.stats().refused, 1);
});

// A real tap skip where /proc is missing (not a pass), so CI, which fails on skips, would notice.
t.test('file descriptors return to baseline after many connections (allowed, blocked, reset)', { skip: openFds() === null ? 'no /proc/self/fd on this platform' : false }, async (t) => {
  const origin = await startOrigin(cert);
  t.teardown(() => origin.close());
  const proxy = await startProxy({
    policy: policyFrom(policy()),
    listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: origin.port } }],
  });
  await closeLater(t, proxy);
  const port = proxy.listeners[0].port;
  // Warm up (lazy handles: DNS, crypto) before taking the baseline.
  await tlsRoundTrip(port, { servername: 'warm.test' });
  await sleep(100);
  const baseline = openFds() as number;
  for (let round = 0; round < 6; round++) {
    const batch: Promise<unknown>[] = [];
    for (let i = 0; i < 25; i++) {
      batch.push(tlsRoundTrip(port, { servername: i % 5 === 0 ? 'bad.example' : `ok${i}.test` }));
    }
    // Half-closing raw clients: the FIN must propagate and both sockets must be destroyed.
    for (let i = 0; i < 5; i++) {
      batch.push(
        new Promise<void>((resolve) => {
          const s = tls.connect({ host: '127.0.0.1', port, servername: 'half.test', rejectUnauthorized: false }, () => {
            s.write('hello');
            s.end();
          });
          s.on('data', () => undefined);
          s.on('error', () => resolve());
          s.on('close', () => resolve());
        }),
      );
    }
    await Promise.all(batch);
  }
  // Bounded wait for the proxy to finish closing (close grace is 2 s at most).
  for (let i = 0; i < 60 && proxy.stats().active > 0; i++) await sleep(50);
  t.equal(proxy.stats().active, 0, 'no connection left open in the proxy');
  await sleep(100);
  const after = openFds() as number;
  t.ok(after <= baseline + 2, `fds after ${after}, baseline ${baseline}`);
});
