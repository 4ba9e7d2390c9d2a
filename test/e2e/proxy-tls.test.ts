// The proxy end to end over real loopback sockets and real TLS: SNI allow/block, TSID probe
// and cache, passive CN (TSID off), odd hellos, inspection failures, upstream failures.
import t from 'tap';
import * as net from 'node:net';
import { startProxy, type ProxyOptions, type RunningProxy } from '../../src/proxy/index.js';
import { readFixture } from '../helpers/fixtures.js';
import {
  EventSink,
  makeCert,
  policyFrom,
  rawExchange,
  startOrigin,
  startTcp,
  tlsRoundTrip,
  type TestCert,
} from '../proxy/lib/net.js';

const policyYaml = (o: { tsid: boolean; failMode?: 'open' | 'closed'; peekMs?: number; probeMs?: number; idleMs?: number }) => `
name: e2e
settings:
  tsid: { enabled: ${o.tsid} }
  failMode: ${o.failMode ?? 'closed'}
  timeouts: { peekMs: ${o.peekMs ?? 3000}, probeMs: ${o.probeMs ?? 3000}, connectMs: 2000, idleMs: ${o.idleMs ?? 10000} }
rules:
  - name: BLOCK_BAD
    action: Block
    urls: { literals: [bad.example] }
  - name: RESET_WORSE
    action: Block with reset
    urls: { literals: [worse.example] }
  - name: BLOCK_TOOS
    action: Block with reset
    urls: { literals: [blocked-toos.cisco.com] }
  - name: ALLOW_ALL
    action: Allow
defaultAction: Block all traffic
`;

let cert: TestCert;
t.before(async () => {
  cert = await makeCert({ cn: 'tools.cisco.com', sans: ['toos.cisco.com', 'tools1.cisco.com', 'tools.cisco.com'] });
});

async function proxyTo(t: Tap, port: number, yaml: string, extra: Partial<ProxyOptions> = {}): Promise<{ proxy: RunningProxy; sink: EventSink; port: number }> {
  const sink = new EventSink();
  const proxy = await startProxy({
    policy: policyFrom(yaml),
    listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port } }],
    onEvent: sink.onEvent,
    ...extra,
  });
  t.teardown(() => proxy.close());
  return { proxy, sink, port: proxy.listeners[0].port };
}
/** The part of a tap test these helpers use. */
type Tap = { teardown(fn: () => unknown): void };

t.test('SNI allowed is spliced; SNI blocked is refused (FIN) and logged at the beginning', async (t) => {
  const origin = await startOrigin(cert);
  t.teardown(() => origin.close());
  const { sink, port } = await proxyTo(t, origin.port, policyYaml({ tsid: false }));

  const ok = await tlsRoundTrip(port, { servername: 'good.example', alpn: ['http/1.1'] });
  t.equal(ok.kind, 'ok', 'the client talks to the origin through the proxy');
  const e1 = await sink.next();
  t.equal(e1.action, 'Allow');
  t.equal(e1.phase, 'end');
  t.equal(e1.accessControlRule, 'ALLOW_ALL');
  t.equal(e1.sni, 'good.example');
  t.equal(e1.identitySource, 'sni');
  t.equal(e1.url, 'https://good.example');
  t.same(e1.alpn, ['http/1.1']);
  t.ok(e1.ja3 && /^[0-9a-f]{32}$/.test(e1.ja3), 'JA3 hash in the event');
  t.ok(e1.ja4 && e1.ja4.startsWith('t13'), 'JA4 in the event');
  t.ok(e1.bytesFromClient > 0 && e1.bytesFromServer > 0, 'bytes both ways');
  t.equal(e1.client, 'SSL client', "FMC's Client column");
  t.same(e1.tlsVersionsOffered, ['TLSv1.3', 'TLSv1.2'], 'what node:tls offers by default, newest first');
  const h = e1.timings?.helloMs;
  const d = e1.timings?.decisionMs;
  t.ok(h !== undefined && d !== undefined && h >= 0 && h <= d && d <= e1.durationMs + 1, `hello ${h} ms <= decision ${d} ms <= duration ${e1.durationMs} ms`);

  // Raw hello bytes with SNI bad.example would need a fixture; a real client shows the refusal.
  const before = origin.connections;
  const blocked = await tlsRoundTrip(port, { servername: 'bad.example' });
  t.not(blocked.kind, 'ok', 'the blocked client gets no session');
  const e2 = await sink.next();
  t.equal(e2.action, 'Block');
  t.equal(e2.phase, 'begin');
  t.equal(e2.accessControlRule, 'BLOCK_BAD');
  t.equal(e2.closeReason, 'policy/block');
  t.ok(e2.timings?.helloMs !== undefined && e2.timings.decisionMs !== undefined, `a refusal has its timings too (${JSON.stringify(e2.timings)})`);
  t.equal(origin.connections, before, 'a blocked connection never reaches the origin');
});

t.test('Block with reset is seen by the client as ECONNRESET', async (t) => {
  const origin = await startOrigin(cert);
  t.teardown(() => origin.close());
  const { sink, port } = await proxyTo(t, origin.port, policyYaml({ tsid: false }));
  const r = await tlsRoundTrip(port, { servername: 'worse.example' });
  t.equal(r.kind, 'error');
  if (r.kind === 'error') t.equal(r.code, 'ECONNRESET');
  const e = await sink.next();
  t.equal(e.action, 'Block with reset');
  t.equal(e.accessControlRule, 'RESET_WORSE');
});

t.test('no SNI + TSID on: the probed certificate names the server; the second connection hits the cache', async (t) => {
  const origin = await startOrigin(cert);
  t.teardown(() => origin.close());
  const { proxy, sink, port } = await proxyTo(t, origin.port, policyYaml({ tsid: true }));
  const r1 = await tlsRoundTrip(port, { alpn: ['h2', 'http/1.1'] });
  t.equal(r1.kind, 'ok');
  if (r1.kind === 'ok') t.equal(r1.alpn, 'h2', 'the client still negotiates with the origin');
  const e1 = await sink.next();
  t.equal(e1.sni, null);
  t.equal(e1.url, 'https://toos.cisco.com', 'snort3-legacy: first SAN (the field case)');
  t.equal(e1.identitySource, 'cert-san');
  // TLS 1.3 encrypts the session's certificate: the session check cannot see it.
  t.same(e1.tsid, { enabled: true, profile: 'snort3-legacy', cache: 'miss', sessionCheck: 'unseen' });
  t.equal(origin.connections, 2, 'one probe + the client');
  // The probe (a whole TLS handshake with the origin) sits between the hello and the verdict.
  t.ok((e1.timings?.decisionMs ?? -1) > (e1.timings?.helloMs ?? Infinity), `decision ${e1.timings?.decisionMs} ms after the hello ${e1.timings?.helloMs} ms`);

  const r2 = await tlsRoundTrip(port, {});
  t.equal(r2.kind, 'ok');
  const e2 = await sink.next();
  t.equal(e2.url, 'https://toos.cisco.com');
  t.equal(e2.tsid?.cache, 'hit');
  t.equal(origin.connections, 3, 'no second probe');
  t.equal(proxy.stats().tsidCacheHits, 1);
});

t.test('TSID off, no SNI: passive CN over TLS 1.2, nothing but the IP over TLS 1.3', async (t) => {
  const origin = await startOrigin(cert);
  t.teardown(() => origin.close());
  const { sink, port } = await proxyTo(t, origin.port, policyYaml({ tsid: false }));
  const r12 = await tlsRoundTrip(port, { maxVersion: 'TLSv1.2' });
  t.equal(r12.kind, 'ok');
  const e12 = await sink.next();
  t.equal(e12.identitySource, 'passive-cn');
  t.equal(e12.url, 'https://tools.cisco.com', 'subject CN; SANs not consulted');
  t.equal(e12.tlsVersion, 'TLSv1.2');
  t.equal(origin.connections, 1, 'no probe with TSID off');

  const r13 = await tlsRoundTrip(port, { maxVersion: 'TLSv1.3' });
  t.equal(r13.kind, 'ok');
  const e13 = await sink.next();
  t.equal(e13.identitySource, 'ip');
  t.equal(e13.tlsVersion, 'TLSv1.3');
});

t.test('TSID off: a passive block resets both sides', async (t) => {
  const blockedCert = await makeCert({ cn: 'blocked-toos.cisco.com' });
  const origin = await startOrigin(blockedCert);
  t.teardown(() => origin.close());
  const { sink, port } = await proxyTo(t, origin.port, policyYaml({ tsid: false }));
  const r = await tlsRoundTrip(port, { maxVersion: 'TLSv1.2' });
  t.equal(r.kind, 'error');
  if (r.kind === 'error') t.equal(r.code, 'ECONNRESET');
  const e = await sink.next();
  t.equal(e.identitySource, 'passive-cn');
  t.equal(e.accessControlRule, 'BLOCK_TOOS');
});

/** Bytes one real node:tls client sends first: its ClientHello (captured, not made up). */
async function captureHello(o: { servername: string; alpn: string[] }): Promise<Buffer> {
  const { connect } = await import('node:tls');
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    let client: { destroy(): void } | null = null;
    // Done when one whole TLS record (the hello) is in, however the reads were cut: a fixed
    // 150 ms wait raced a loaded 2-core runner.
    const server = net.createServer((s) => {
      s.on('error', () => undefined);
      s.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        if (got.length < 5 || got.length < 5 + got.readUInt16BE(3)) return;
        s.destroy();
        client?.destroy();
        server.close();
        resolve(got.subarray(0, 5 + got.readUInt16BE(3)));
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const c = connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, servername: o.servername, ALPNProtocols: o.alpn, rejectUnauthorized: false });
      c.on('error', () => undefined);
      client = c;
    });
  });
}

/** A TCP origin that records what it receives. */
async function recordingOrigin(t: Tap) {
  const received: Buffer[] = [];
  let closed!: () => void;
  const done = new Promise<void>((r) => (closed = r));
  const o = await startTcp((s) => {
    s.on('data', (d: Buffer) => received.push(d));
    s.on('end', () => {
      s.end();
      closed();
    });
  });
  t.teardown(() => o.close());
  return { port: o.port, received: () => Buffer.concat(received), done };
}

t.test('a 1.8 KB ClientHello written in two segments with a pause is reassembled and forwarded intact', async (t) => {
  const alpn = Array.from({ length: 90 }, (_, i) => `proto-${String(i).padStart(12, '0')}`);
  const hello = await captureHello({ servername: 'big.example', alpn });
  t.ok(hello.length >= 1800, `hello is ${hello.length} bytes`);
  const origin = await recordingOrigin(t);
  const { sink, port } = await proxyTo(t, origin.port, policyYaml({ tsid: false }));
  await rawExchange(port, [hello.subarray(0, 1000), { pauseMs: 150 }, hello.subarray(1000), { pauseMs: 100 }], { endAfter: true });
  await origin.done;
  t.ok(origin.received().equals(hello), 'the origin got exactly the held bytes');
  const e = await sink.next();
  t.equal(e.sni, 'big.example');
  t.equal(e.action, 'Allow');
  t.equal(e.bytesFromClient, hello.length);
});

t.test('a ClientHello fragmented over three TLS records', async (t) => {
  const one = readFixture('clienthello', 'openssl-default-sni.bin');
  const body = one.subarray(5);
  const cut = [0, 40, 150, body.length];
  const parts: Buffer[] = [];
  for (let i = 0; i < 3; i++) {
    const frag = body.subarray(cut[i], cut[i + 1]);
    const hdr = Buffer.from([0x16, one[1], one[2], frag.length >> 8, frag.length & 0xff]);
    parts.push(hdr, frag);
  }
  const three = Buffer.concat(parts);
  const origin = await recordingOrigin(t);
  const { sink, port } = await proxyTo(t, origin.port, policyYaml({ tsid: false }));
  // Each record in its own write, so the proxy sees them arrive separately.
  await rawExchange(port, [three.subarray(0, 45), { pauseMs: 50 }, three.subarray(45, 160), { pauseMs: 50 }, three.subarray(160), { pauseMs: 100 }], { endAfter: true });
  await origin.done;
  t.ok(origin.received().equals(three));
  const e = await sink.next();
  t.equal(e.sni, 'www.corpus.test');
  t.equal(e.action, 'Allow');
});

t.test('a slow client hits the peek timeout and is reset (fail closed, named reason)', async (t) => {
  const origin = await recordingOrigin(t);
  const { sink, port } = await proxyTo(t, origin.port, policyYaml({ tsid: false, peekMs: 200 }));
  const hello = readFixture('clienthello', 'openssl-default-sni.bin');
  const r = await rawExchange(port, [hello.subarray(0, 20), { pauseMs: 600 }]);
  t.equal(r.error, 'ECONNRESET');
  const e = await sink.next();
  t.equal(e.closeReason, 'proxy/peek-timeout');
  t.equal(e.action, 'Block with reset');
  t.equal(e.applicationProtocol, 'unknown');
});

t.test('plaintext HTTP on the TLS port: reset with the wire reason; fail open forwards it unexamined', async (t) => {
  const req = Buffer.from('GET / HTTP/1.1\r\nHost: plain.example\r\n\r\n');
  const origin = await recordingOrigin(t);
  const closed = await proxyTo(t, origin.port, policyYaml({ tsid: false }));
  const r = await rawExchange(closed.port, [req, { pauseMs: 300 }]);
  t.equal(r.error, 'ECONNRESET');
  const e = await closed.sink.next();
  t.match(e.closeReason, /^wire\//, `closeReason ${e.closeReason}`);
  t.equal(e.reason, 'Inspection Failure');

  const open = await proxyTo(t, origin.port, policyYaml({ tsid: false, failMode: 'open' }));
  await rawExchange(open.port, [req, { pauseMs: 100 }], { endAfter: true });
  await origin.done;
  t.ok(origin.received().equals(req), 'fail open: the bytes reached the origin');
  const e2 = await open.sink.next();
  t.equal(e2.action, 'Allow');
  t.equal(e2.reason, 'Fail Open');
  t.match(e2.closeReason, /^wire\//);
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

t.test('upstream refusing, resetting, or silent', async (t) => {
  const hello = readFixture('clienthello', 'openssl-default-sni.bin');

  const refusedPort = await freePort();
  const a = await proxyTo(t, refusedPort, policyYaml({ tsid: false }));
  const ra = await rawExchange(a.port, [hello, { pauseMs: 300 }]);
  t.equal(ra.error, 'ECONNRESET', 'refused upstream: the client is reset');
  t.equal((await a.sink.next()).closeReason, 'proxy/upstream-refused');

  const resetter = await startTcp((s) => s.once('data', () => s.resetAndDestroy()));
  t.teardown(() => resetter.close());
  const b = await proxyTo(t, resetter.port, policyYaml({ tsid: false }));
  const rb = await rawExchange(b.port, [hello, { pauseMs: 300 }]);
  t.equal(rb.error, 'ECONNRESET', 'resetting upstream: the reset is passed on');
  t.equal((await b.sink.next()).closeReason, 'proxy/upstream-reset');

  const silent = await startTcp(() => undefined);
  t.teardown(() => silent.close());
  const c = await proxyTo(t, silent.port, policyYaml({ tsid: true, probeMs: 300 }));
  const rc = await rawExchange(c.port, [hello, { pauseMs: 700 }]);
  t.equal(rc.error, 'ECONNRESET', 'silent upstream under TSID: the probe times out, fail closed');
  const ec = await c.sink.next();
  t.equal(ec.closeReason, 'proxy/probe-timeout');

  const noSni = readFixture('clienthello', 'openssl-noservername.bin');
  const p = await proxyTo(t, silent.port, policyYaml({ tsid: false, probeMs: 300 }));
  const rp = await rawExchange(p.port, [noSni, { pauseMs: 700 }]);
  t.equal(rp.error, 'ECONNRESET', 'silent upstream, TSID off, no SNI: no first flight to read, fail closed');
  t.equal((await p.sink.next()).closeReason, 'proxy/server-flight-timeout');

  const d = await proxyTo(t, silent.port, policyYaml({ tsid: false, idleMs: 300 }));
  const rd = await rawExchange(d.port, [hello, { pauseMs: 900 }]);
  t.equal(rd.error, null, 'silent upstream after allow: the idle timeout closes the splice');
  t.equal((await d.sink.next()).closeReason, 'proxy/idle-timeout');
});
