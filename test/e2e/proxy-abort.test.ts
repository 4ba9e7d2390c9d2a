// A client that aborts (RST) while the proxy is still deciding: every path must end with one
// event, no active connection, and the upstream socket closed (no fd left behind).
import t from 'tap';
import * as net from 'node:net';
import { startProxy } from '../../src/proxy/index.js';
import { readFixture } from '../helpers/fixtures.js';
import { EventSink, policyFrom, startTcp } from '../proxy/lib/net.js';

const yaml = (tsid: boolean) => `
name: abort
settings:
  tsid: { enabled: ${tsid} }
  failMode: closed
  timeouts: { peekMs: 3000, probeMs: 300, connectMs: 300, idleMs: 60000 }
rules:
  - name: ALLOW_ALL
    action: Allow
defaultAction: Block all traffic
`;

/** Write the hello; once the proxy has it (told by `ready`), abort with an RST. */
function helloThenAbort(port: number, hello: Buffer, ready: Promise<unknown>): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('error', () => undefined);
    s.on('close', () => resolve());
    s.on('connect', () => {
      s.write(hello);
      void ready.then(() => s.resetAndDestroy());
    });
  });
}

t.test('client reset while the route resolver hangs: the route deadline still ends it with one event', async (t) => {
  let asked!: () => void;
  const resolverAsked = new Promise<void>((r) => (asked = r));
  const sink = new EventSink();
  const proxy = await startProxy({
    policy: policyFrom(yaml(false)),
    listeners: [{ mode: 'sni-route', host: '127.0.0.1', port: 0, routes: {}, fallback: { host: 'origin.test', port: 9 } }],
    onEvent: sink.onEvent,
    // Never answers: only the connectMs deadline can end the route.
    resolve: () => {
      asked();
      return new Promise<string>(() => undefined);
    },
  });
  t.teardown(() => proxy.close());
  await helloThenAbort(proxy.listeners[0].port, readFixture('clienthello', 'openssl-default-sni.bin'), resolverAsked);
  const e = await sink.next(10_000);
  t.equal(e.closeReason, 'proxy/resolve-timeout');
  t.equal(proxy.stats().active, 0, 'the connection is finished, not parked');
  t.equal(sink.events.length, 0, 'exactly one event');
});

t.test('TSID off, no SNI: client reset before the server flight, allowed anyway: upstream closed, one event', async (t) => {
  let upstream!: (s: net.Socket) => void;
  const upstreamSocket = new Promise<net.Socket>((r) => (upstream = r));
  // Accepts and stays silent, like a server waiting for more handshake bytes.
  const origin = await startTcp((s) => {
    s.on('error', () => undefined);
    upstream(s);
  });
  t.teardown(() => origin.close());
  const sink = new EventSink();
  const proxy = await startProxy({
    policy: policyFrom(yaml(false)),
    listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: origin.port } }],
    onEvent: sink.onEvent,
  });
  t.teardown(() => proxy.close());
  // Abort once the proxy is connected upstream in passive mode (the hello was forwarded).
  const up = upstreamSocket.then(
    (s) =>
      new Promise<net.Socket>((r) => {
        if (s.bytesRead > 0) r(s);
        else s.once('data', () => r(s));
      }),
  );
  await helloThenAbort(proxy.listeners[0].port, readFixture('clienthello', 'openssl-noservername.bin'), up);
  const upClosed = new Promise<void>((r) => void up.then((s) => (s.closed ? r() : s.once('close', () => r()))));
  const e = await sink.next(10_000);
  t.equal(e.identitySource, 'ip');
  await upClosed;
  t.pass('the proxy closed its upstream socket');
  t.equal(proxy.stats().active, 0);
  t.equal(sink.events.length, 0, 'exactly one event');
});

t.test('TSID on: client reset while the probe hangs: the probe deadline ends it with one event, the probe socket closed', async (t) => {
  let probe!: (s: net.Socket) => void;
  const probeSocket = new Promise<net.Socket>((r) => (probe = r));
  // Accepts the probe's TCP connection and never answers its ClientHello. It reads (and
  // drops) what arrives: a paused socket never sees the FIN, so it could not tell us the
  // proxy closed the probe.
  const origin = await startTcp((s) => {
    s.resume();
    probe(s);
  });
  t.teardown(() => origin.close());
  const sink = new EventSink();
  const proxy = await startProxy({
    policy: policyFrom(yaml(true)),
    listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: origin.port } }],
    onEvent: sink.onEvent,
  });
  t.teardown(() => proxy.close());
  await helloThenAbort(proxy.listeners[0].port, readFixture('clienthello', 'openssl-noservername.bin'), probeSocket);
  const e = await sink.next(10_000);
  t.equal(e.closeReason, 'proxy/probe-timeout');
  const s = await probeSocket;
  if (!s.closed) await new Promise((r) => s.once('close', r));
  t.pass('the probe connection was closed');
  t.equal(proxy.stats().active, 0);
  t.equal(sink.events.length, 0, 'exactly one event');
});

t.test('half-close after the verdict: the client FIN reaches the server, whose reply after it still reaches the client', async (t) => {
  const hello = readFixture('clienthello', 'openssl-default-sni.bin');
  const received: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  // allowHalfOpen: this origin answers only once it saw the client's FIN (like `nc -q`).
  const origin = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => received.push(d));
    s.on('end', () => s.end('reply after FIN'));
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    origin.close();
  });
  const sink = new EventSink();
  const proxy = await startProxy({
    policy: policyFrom(yaml(false)),
    listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: (origin.address() as net.AddressInfo).port } }],
    onEvent: sink.onEvent,
  });
  t.teardown(() => proxy.close());
  const reply = await new Promise<string>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: proxy.listeners[0].port });
    const got: Buffer[] = [];
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => got.push(d));
    s.on('close', () => resolve(Buffer.concat(got).toString()));
    // The hello and the FIN in one go: the FIN waits while the hello is decided.
    s.on('connect', () => s.end(hello));
  });
  t.equal(reply, 'reply after FIN');
  t.ok(Buffer.concat(received).equals(hello), 'the origin got the hello, then the FIN');
  const e = await sink.next(10_000);
  t.equal(e.action, 'Allow');
  t.notOk(e.closeReason, 'a normal close, no abnormal reason');
  t.equal(proxy.stats().active, 0);
});
