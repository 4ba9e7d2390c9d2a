// Passive mode (TSID off, no SNI) when the server ends before its first flight: every
// connection must end, within a bound, with exactly one event, and leave no socket open.
// (Issue 20, defect 2: the server's FIN before its flight left the upstream half-open in
// CLOSE-WAIT, the connection active for ever and no event, not even at shutdown.)
import t from 'tap';
import * as net from 'node:net';
import { readFixture } from '../helpers/fixtures.js';
import { makeCert, policyFrom, startOrigin, startTcp, transparentTo } from '../proxy/lib/net.js';

const policy = policyFrom(`
name: passive
settings:
  tsid: { enabled: false }
  failMode: closed
  timeouts: { peekMs: 3000, probeMs: 3000, connectMs: 1000, idleMs: 60000 }
rules:
  - name: ALLOW_ALL
    action: Allow
defaultAction: Block all traffic
`);

/** Send the hello, keep the socket open, resolve when the proxy closes it. */
function helloAndWait(port: number, hello: Buffer): Promise<{ data: Buffer; error: string | null }> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const got: Buffer[] = [];
    let error: string | null = null;
    s.on('data', (d: Buffer) => got.push(d));
    s.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    s.on('close', () => resolve({ data: Buffer.concat(got), error }));
    s.on('connect', () => s.write(hello));
  });
}

/**
 * A TLS 1.2 ClientHello without SNI. `extensions`: 'none' ends after the compression methods
 * (legal before TLS 1.2 extensions), 'empty' carries an extensions block of length 0.
 */
export function bareHello(extensions: 'none' | 'empty'): Buffer {
  const body = Buffer.concat([
    Buffer.from([0x03, 0x03]),
    Buffer.alloc(32, 7),
    Buffer.from([0x00]), // session id
    Buffer.from([0x00, 0x04, 0xc0, 0x2f, 0x00, 0x9c]), // two suites
    Buffer.from([0x01, 0x00]), // null compression
    extensions === 'empty' ? Buffer.from([0x00, 0x00]) : Buffer.alloc(0),
  ]);
  const hs = Buffer.concat([Buffer.from([0x01, 0, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
  return Buffer.concat([Buffer.from([0x16, 0x03, 0x01, (hs.length >> 8) & 0xff, hs.length & 0xff]), hs]);
}

t.test('the server sends FIN before its first flight: the connection ends with one event, nothing left open', async (t) => {
  let upstream!: (s: net.Socket) => void;
  const upstreamSocket = new Promise<net.Socket>((r) => (upstream = r));
  // Reads the hello, then closes its side without a byte (a server that hung up).
  const origin = await startTcp((s) => {
    upstream(s);
    s.once('data', () => s.end());
  });
  t.teardown(() => origin.close());
  const { proxy, sink, port } = await transparentTo(t, policy, origin.port);
  const client = helloAndWait(port, readFixture('clienthello', 'openssl-noservername.bin'));
  const e = await sink.next(10_000);
  t.equal(e.identitySource, 'ip', 'decided on the address: no certificate was seen');
  t.equal(e.closeReason, 'proxy/upstream-closed-early', 'the event says the server hung up before its first flight');
  const c = await client;
  t.equal(c.data.length, 0, 'the client got no bytes (the server sent none)');
  const s = await upstreamSocket;
  if (!s.closed) await new Promise((r) => s.once('close', r));
  t.pass('the server-side socket was closed by the proxy');
  t.equal(proxy.stats().active, 0, 'the connection is finished');
  t.equal(sink.events.length, 0, 'exactly one event');
});

for (const shape of ['none', 'empty'] as const) {
  t.test(`a hello with ${shape === 'none' ? 'no extensions block' : 'an empty extensions block'} to a real TLS server: one event, nothing left open`, async (t) => {
    const origin = await startOrigin(await makeCert({ cn: 'origin.test' }));
    t.teardown(() => origin.close());
    const { proxy, sink, port } = await transparentTo(t, policy, origin.port);
    // The client waits for the proxy to close it; it never closes itself.
    const client = helloAndWait(port, bareHello(shape));
    const e = await sink.next(10_000);
    t.ok(e.action, `an event (${e.action}, ${e.closeReason ?? 'no close reason'})`);
    await client;
    t.equal(proxy.stats().active, 0, 'the connection is finished');
    t.equal(sink.events.length, 0, 'exactly one event');
  });
}
