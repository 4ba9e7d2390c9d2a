// Issue 20, defects 1, 3 and 7 over real sockets: the proxy never forwards to itself (its
// listeners or its admin port, after resolution), loops through other proxies end at the Via
// bound, a Host header cannot front another server, and every refusal — by the HTTP parser or
// by the connection limit — writes one event with a named reason.
import t, { type Test } from 'tap';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { startProxy } from '../../src/proxy/index.js';
import { PeekwallFailure } from '../../src/util/errors.js';
import { readFixture } from '../helpers/fixtures.js';
import { EventSink, openFds, policyFrom, rawHttp, startHttpOrigin, startTcp, statusOf, transparentTo } from '../proxy/lib/net.js';

const allowAll = policyFrom(`
name: allow-all
settings:
  failMode: open
  timeouts: { peekMs: 2000, probeMs: 1000, connectMs: 1000, idleMs: 5000 }
rules:
  - name: ALLOW_ALL
    action: Allow
`);


async function explicitProxy(t: Test, o: { admin?: boolean; resolve?: (h: string) => Promise<string> } = {}) {
  const sink = new EventSink();
  const proxy = await startProxy({
    policy: allowAll,
    listeners: [{ mode: 'explicit', host: '127.0.0.1', port: 0 }],
    onEvent: sink.onEvent,
    ...(o.admin ? { admin: { host: '127.0.0.1', port: 0 } } : {}),
    ...(o.resolve ? { resolve: o.resolve } : {}),
  });
  t.teardown(() => proxy.close());
  return { proxy, sink, port: proxy.listeners[0].port };
}

t.test('a request to the proxy itself is refused, not forwarded to itself for ever', async (t) => {
  const { proxy, sink, port } = await explicitProxy(t, { resolve: async (h) => (h === 'me.test' ? '127.0.0.1' : Promise.reject(new Error('nx'))) });
  const fds0 = openFds();
  // curl http://127.0.0.1:PORT/ — origin form, the Host header names the proxy.
  const r1 = await rawHttp(port, `GET / HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nconnection: close\r\n\r\n`);
  t.match(statusOf(r1), /^HTTP\/1\.1 403/, 'origin-form to itself: 403');
  t.match(r1, /proxy\/self-target/);
  const e1 = await sink.next();
  t.equal(e1.closeReason, 'proxy/self-target');
  t.equal(e1.dstPort, port);
  // Absolute form, every spelling of this host that reaches it.
  for (const host of [`127.0.0.1:${port}`, `127.1:${port}`, `0.0.0.0:${port}`, `[::ffff:127.0.0.1]:${port}`, `me.test:${port}`]) {
    const r = await rawHttp(port, `GET http://${host}/x HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`);
    t.match(statusOf(r), /^HTTP\/1\.1 403/, `GET http://${host}/ is refused`);
    t.equal((await sink.next()).closeReason, 'proxy/self-target', `${host}: one self-target event`);
  }
  t.equal(sink.events.length, 0, 'one event per request, no forwarded copies');
  t.equal(proxy.stats().connections, 6, 'six requests, six connections: nothing looped');
  const fds1 = openFds();
  if (fds0 !== null && fds1 !== null) t.ok(fds1 - fds0 < 20, `fds bounded (${fds0} -> ${fds1})`);
});

t.test('CONNECT to the proxy itself, even pipelined 30 deep, is one refusal', async (t) => {
  const { proxy, sink, port } = await explicitProxy(t);
  const one = `CONNECT 127.0.0.1:${port} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n\r\n`;
  const r = await rawHttp(port, one.repeat(30));
  t.match(statusOf(r), /^HTTP\/1\.1 403/);
  t.notMatch(r, /200 Connection Established/, 'no tunnel was opened');
  const e = await sink.next();
  t.equal(e.closeReason, 'proxy/self-target');
  t.ok(proxy.stats().connections <= 2, `no nested hops (${proxy.stats().connections} connection(s) counted)`);
});

t.test('the admin listener is never a proxy target (plain GET or CONNECT)', async (t) => {
  const { proxy, sink, port } = await explicitProxy(t, { admin: true });
  const admin = proxy.admin!.port;
  const r1 = await rawHttp(port, `GET http://127.0.0.1:${admin}/metrics HTTP/1.1\r\nhost: 127.0.0.1:${admin}\r\nconnection: close\r\n\r\n`);
  t.match(statusOf(r1), /^HTTP\/1\.1 403/);
  t.notMatch(r1, /peekwall_connections_total/, 'no metrics through the proxy');
  t.match(r1, /admin listener/);
  t.equal((await sink.next()).closeReason, 'proxy/self-target');
  const r2 = await rawHttp(port, `CONNECT 127.0.0.1:${admin} HTTP/1.1\r\nhost: x\r\n\r\nGET /metrics HTTP/1.1\r\nhost: x\r\n\r\n`);
  t.match(statusOf(r2), /^HTTP\/1\.1 403/);
  t.notMatch(r2, /peekwall_connections_total/);
  t.equal((await sink.next()).closeReason, 'proxy/self-target');
});

t.test('Host fronting: a Host that differs from the absolute-form target is refused; the origin is told the judged name', async (t) => {
  const seen: { host?: string; via?: string }[] = [];
  const origin = await startHttpOrigin((req) => {
    seen.push({ host: req.headers.host, via: req.headers.via as string | undefined });
    return 'origin';
  });
  t.teardown(() => origin.close());
  const { sink, port } = await explicitProxy(t);
  const target = `127.0.0.1:${origin.port}`;
  const r1 = await rawHttp(port, `GET http://${target}/secret HTTP/1.1\r\nhost: blocked-vhost.example\r\nconnection: close\r\n\r\n`);
  t.match(statusOf(r1), /^HTTP\/1\.1 400/);
  t.match(r1, /proxy\/host-mismatch/);
  t.equal(seen.length, 0, 'nothing reached the origin');
  const e1 = await sink.next();
  t.equal(e1.closeReason, 'proxy/host-mismatch');
  t.equal(e1.url, `http://127.0.0.1`, 'the event names the target the request asked for');
  // The same host in another spelling of its default port is the same authority.
  const r2 = await rawHttp(port, `GET http://${target}/ok HTTP/1.1\r\nhost: ${target.toUpperCase()}\r\nconnection: close\r\n\r\n`);
  t.match(statusOf(r2), /^HTTP\/1\.1 200/);
  t.equal(seen.length, 1);
  t.equal(seen[0].host, target, 'the origin got the judged authority as Host');
  t.match(seen[0].via ?? '', /^1\.1 peekwall-[0-9a-f]{8}$/, 'and a Via naming this proxy');
  await sink.next();
  // Two Host headers: ambiguous, refused.
  const r3 = await rawHttp(port, `GET http://${target}/ HTTP/1.1\r\nhost: ${target}\r\nhost: blocked-vhost.example\r\nconnection: close\r\n\r\n`);
  t.match(statusOf(r3), /^HTTP\/1\.1 400/);
  t.equal(seen.length, 1, 'still only the one good request at the origin');
  t.equal((await sink.next()).closeReason, 'http/duplicate-host');
});

t.test('a loop through another proxy ends at this proxy\'s own Via; too many hops end at the bound', async (t) => {
  const { sink, port } = await explicitProxy(t);
  // A "reflector": an origin that sends every request it gets back through the proxy, keeping
  // the Via it arrived with — the A -> B -> A loop of two misconfigured proxies.
  let reflected = 0;
  const reflector = http.createServer((req, res) => {
    reflected++;
    const back = http.request(
      { host: '127.0.0.1', port, path: `http://127.0.0.1:${(reflector.address() as AddressInfo).port}/again`, headers: { host: `127.0.0.1:${(reflector.address() as AddressInfo).port}`, via: req.headers.via ?? '' }, agent: false },
      (r2) => {
        res.writeHead(r2.statusCode ?? 502);
        r2.pipe(res);
      },
    );
    back.on('error', () => res.destroy());
    back.end();
  });
  await new Promise<void>((r) => reflector.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => {
    reflector.closeAllConnections();
    reflector.close();
  });
  const rp = (reflector.address() as AddressInfo).port;
  const r = await rawHttp(port, `GET http://127.0.0.1:${rp}/start HTTP/1.1\r\nhost: 127.0.0.1:${rp}\r\nconnection: close\r\n\r\n`);
  t.match(statusOf(r), /^HTTP\/1\.1 508/, 'the loop is answered 508 Loop Detected');
  t.equal(reflected, 1, 'the reflector was reached once, then the loop was cut');
  const reasons = [(await sink.next()).closeReason, (await sink.next()).closeReason];
  t.same(reasons.filter((x) => x === 'proxy/loop'), ['proxy/loop'], 'the looping request is logged as proxy/loop');
  t.ok(reasons.includes(undefined), 'the first one as forwarded');
  const vias = Array.from({ length: 8 }, (_, i) => `1.1 other-${i}`).join(', ');
  const r2 = await rawHttp(port, `GET http://127.0.0.1:${rp}/ HTTP/1.1\r\nhost: 127.0.0.1:${rp}\r\nvia: ${vias}\r\nconnection: close\r\n\r\n`);
  t.match(statusOf(r2), /^HTTP\/1\.1 508/);
  t.equal(reflected, 1);
  t.equal((await sink.next()).closeReason, 'proxy/too-many-hops');
});

t.test('requests the HTTP parser refuses are answered 400 and logged with a named reason; nothing reaches the origin', async (t) => {
  let reached = 0;
  const origin = await startHttpOrigin(() => {
    reached++;
    return 'origin';
  });
  t.teardown(() => origin.close());
  const { sink, port } = await explicitProxy(t);
  const target = `127.0.0.1:${origin.port}`;
  const cases: [string, string, string][] = [
    ['Content-Length with chunked', `POST http://${target}/ HTTP/1.1\r\nhost: ${target}\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n`, 'http/length-and-chunked'],
    ['two Content-Lengths', `POST http://${target}/ HTTP/1.1\r\nhost: ${target}\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab`, 'http/bad-content-length'],
    ['obs-fold', `GET http://${target}/ HTTP/1.1\r\nhost: ${target}\r\nx-a: 1\r\n  folded\r\n\r\n`, 'http/bad-header'],
  ];
  for (const [name, request, code] of cases) {
    const r = await rawHttp(port, request);
    t.match(statusOf(r), /^HTTP\/1\.1 400/, `${name}: 400`);
    const e = await sink.next();
    t.equal(e.closeReason, code, `${name}: event ${code} (got ${e.closeReason})`);
    t.equal(e.action, 'Block');
  }
  t.equal(reached, 0, 'nothing reached the origin');
});

t.test('connections refused at maxConnections each write an event', async (t) => {
  const origin = await startTcp((s) => s.resume());
  t.teardown(() => origin.close());
  const { proxy, sink, port } = await transparentTo(t, allowAll, origin.port, { limits: { maxConnections: 1 } });
  // One client holds the only slot (it sends nothing: the peek waits).
  const holder = net.connect({ host: '127.0.0.1', port });
  holder.on('error', () => undefined);
  await new Promise((r) => holder.once('connect', r));
  await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 3; i++) {
    const r = await rawHttp(port, readFixture('clienthello', 'openssl-default-sni.bin'));
    t.equal(r, '', 'refused client got nothing');
  }
  for (let i = 0; i < 3; i++) {
    const e = await sink.next();
    t.equal(e.closeReason, 'proxy/connection-limit');
    t.equal(e.action, 'Block with reset');
    t.equal(e.dstPort, port);
  }
  t.equal(proxy.stats().refused, 3);
  holder.destroy();
  t.equal((await sink.next()).closeReason, 'proxy/client-closed', 'the holder ends with its own event');
});

t.test('a transparent listener whose upstream is the proxy itself (or its admin port) is refused at start', async (t) => {
  const free = await new Promise<number>((r) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => r(p));
    });
  });
  const err = await startProxy({
    policy: allowAll,
    listeners: [{ mode: 'transparent', host: '127.0.0.1', port: free, upstream: { host: '127.0.0.1', port: free } }],
  }).then(
    (p) => p.close().then(() => null),
    (e: unknown) => e,
  );
  t.ok(err instanceof PeekwallFailure, 'startProxy refuses');
  t.equal((err as PeekwallFailure).errors[0].code, 'proxy/self-upstream');
  // The port was released: a proxy can bind it now.
  const p2 = await startProxy({ policy: allowAll, listeners: [{ mode: 'transparent', host: '127.0.0.1', port: free, upstream: { host: '127.0.0.1', port: 9 } }] });
  await p2.close();
  t.pass('the refused proxy closed its listener');
});

t.test('an sni-route that resolves to the proxy itself is refused with one event', async (t) => {
  const sink = new EventSink();
  let port = 0;
  const proxy = await startProxy({
    policy: allowAll,
    listeners: [{ mode: 'sni-route', host: '127.0.0.1', port: 0, routes: { 'tools.cisco.com': { host: 'me.test', port: 0 } }, fallback: { host: 'me.test', port: 0 } }],
    onEvent: sink.onEvent,
    resolve: async () => '127.0.0.1',
  });
  t.teardown(() => proxy.close());
  port = proxy.listeners[0].port;
  // Route to the listener's own port: rebuild the proxy with the route pointing at it.
  await proxy.close();
  const proxy2 = await startProxy({
    policy: allowAll,
    listeners: [{ mode: 'sni-route', host: '127.0.0.1', port, routes: {}, fallback: { host: 'me.test', port } }],
    onEvent: sink.onEvent,
    resolve: async () => '127.0.0.1',
  });
  t.teardown(() => proxy2.close());
  await rawHttp(port, readFixture('clienthello', 'openssl-default-sni.bin'));
  const e = await sink.next();
  t.equal(e.closeReason, 'proxy/self-target');
  t.equal(sink.events.length, 0);
  t.equal(proxy2.stats().connections, 1, 'one connection: nothing looped');
});

t.test('a plain request in flight counts as active (what /healthz and the gauge show) until answered', async (t) => {
  let answer!: () => void;
  const reached = new Promise<void>((r) => {
    answer = r;
  });
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const origin = http.createServer((_req, res) => {
    answer();
    void held.then(() => res.end('late'));
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => {
    origin.closeAllConnections();
    origin.close();
  });
  const { proxy, sink, port } = await explicitProxy(t);
  const op = (origin.address() as AddressInfo).port;
  const done = rawHttp(port, `GET http://127.0.0.1:${op}/ HTTP/1.1\r\nhost: 127.0.0.1:${op}\r\nconnection: close\r\n\r\n`);
  await reached;
  t.equal(proxy.stats().active, 1, 'in flight: active');
  release();
  t.match(statusOf(await done), /^HTTP\/1\.1 200/);
  await sink.next();
  t.equal(proxy.stats().active, 0, 'answered: not active');
});
