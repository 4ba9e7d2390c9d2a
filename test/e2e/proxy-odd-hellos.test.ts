// Odd but readable ClientHellos through the proxy over real sockets, for each value of
// settings.oddHellos: an SSLv2-compatible hello (RFC 5246 E.2, offering TLS 1.2) goes on as a
// hello without SNI by default and reaches real origins byte for byte; a server_name that is no
// DNS name (here UTF-8, as Node's own tls.connect sends 'bücher.example') is refused by default
// and judged like a hello without SNI when allowed.
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { startProxy } from '../../src/proxy/index.js';
import { fromRoot } from '../../src/util/paths.js';
import { helloMessage, records, sniExt, v2Hello, versionsExt, type Ext } from '../wire/build.js';
import { EventSink, makeCert, policyFrom, startOrigin, startTcp, tlsRoundTrip } from '../proxy/lib/net.js';

const policy = (o: { tsid: boolean; oddHellos?: string }) =>
  policyFrom(`
name: odd-hellos
settings:
  tsid: { enabled: ${o.tsid} }
  failMode: closed
  timeouts: { peekMs: 3000, probeMs: 3000, connectMs: 2000, idleMs: 5000 }
${o.oddHellos ? `  oddHellos: ${o.oddHellos}\n` : ''}rules:
  - name: ALLOW_ALL
    action: Allow
defaultAction: Block all traffic
`);

async function proxyTo(t: Test, originPort: number, o: Parameters<typeof policy>[0]) {
  const sink = new EventSink();
  const proxy = await startProxy({
    policy: policy(o),
    listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: originPort } }],
    onEvent: sink.onEvent,
  });
  t.teardown(() => proxy.close());
  return { port: proxy.listeners[0].port, sink };
}

/** Writes `bytes`, resolves with what came back once `want` bytes arrived or the socket closed. */
function exchange(port: number, bytes: Uint8Array, want: number): Promise<{ data: Buffer; error: string | null }> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const got: Buffer[] = [];
    let n = 0;
    let error: string | null = null;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      s.destroy();
      resolve({ data: Buffer.concat(got), error });
    };
    s.on('data', (d: Buffer) => {
      got.push(d);
      n += d.length;
      if (n >= want) finish();
    });
    s.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    s.on('close', finish);
    s.on('connect', () => s.write(bytes));
  });
}

/**
 * A real node:tls origin with the lab's RSA certificate (CN tools.cisco.com, first SAN
 * toos.cisco.com). An SSLv2-format
 * hello cannot carry signature_algorithms, so TLS 1.2 falls back to SHA-1 signatures, which
 * OpenSSL 3 refuses above security level 0: `seclevel0` lets the origin answer it.
 */
async function rsaOrigin(t: Test, seclevel0: boolean): Promise<{ port: number; tcp: number }> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({
    cert: readFileSync(fromRoot('certs', 'self-signed.crt.pem')),
    key: readFileSync(fromRoot('certs', 'self-signed.key.pem')),
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.2',
    ...(seclevel0 ? { ciphers: 'DEFAULT@SECLEVEL=0' } : {}),
  });
  const state = { tcp: 0 };
  server.on('connection', (s: net.Socket) => {
    state.tcp++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return {
    port: (server.address() as net.AddressInfo).port,
    get tcp() {
      return state.tcp;
    },
  };
}

t.test('SSLv2-compatible hello, default (allow), TSID on: probed, allowed, answered by a real TLS origin', async (t) => {
  const hello = v2Hello();
  for (const seclevel0 of [true, false]) {
    const origin = await rsaOrigin(t, seclevel0);
    const { port, sink } = await proxyTo(t, origin.port, { tsid: true });
    const got = await exchange(port, hello, 6);
    const e = await sink.next(10_000);
    t.equal(e.action, 'Allow', `SECLEVEL=0 ${seclevel0}`);
    // The default TSID profile (snort3-legacy) takes the first SAN: the field case's name.
    t.equal(e.identitySource, 'cert-san', 'named by the TSID probe, the hello had no SNI');
    t.equal(e.url, 'https://toos.cisco.com');
    t.equal(e.sni, null);
    t.equal(e.tlsVersion, 'TLSv1.2');
    t.equal(e.bytesFromClient, hello.length, 'the whole hello went upstream');
    t.equal(origin.tcp, 2, 'the probe and the forwarded connection');
    if (seclevel0) {
      // 22 3 3 len len 2: a TLS 1.2 ServerHello — OpenSSL read the SSLv2-format hello.
      t.same([...got.data.subarray(0, 3)], [22, 3, 3], 'a handshake record came back');
      t.equal(got.data[5], 2, 'ServerHello');
    } else {
      // Default OpenSSL 3 security level: a fatal handshake_failure alert (no SHA-1 signature).
      t.same([...got.data], [21, 3, 3, 0, 2, 2, 40], 'the origin refused it with an alert, relayed as is');
    }
  }
});

t.test('SSLv2-compatible hello, default (allow), TSID off: forwarded byte for byte, named by the address', async (t) => {
  const hello = v2Hello();
  let received = Buffer.alloc(0);
  // Records what arrives, then hangs up without a byte: the passive read ends on the address.
  const origin = await startTcp((s) => {
    s.on('data', (d: Buffer) => {
      received = Buffer.concat([received, d]);
      if (received.length >= hello.length) s.end();
    });
  });
  t.teardown(() => origin.close());
  const { port, sink } = await proxyTo(t, origin.port, { tsid: false });
  const got = await exchange(port, hello, 1);
  const e = await sink.next(10_000);
  t.same([...received], [...hello], 'the origin got the SSLv2-format hello unchanged');
  t.equal(got.data.length, 0);
  t.equal(e.action, 'Allow');
  t.equal(e.identitySource, 'ip');
  t.equal(e.sni, null);
  t.equal(e.closeReason === undefined || !e.closeReason.startsWith('wire/'), true, `closeReason ${e.closeReason}`);
});

t.test('SSLv2-compatible hello, sslv2Compat: refuse: reset, closeReason wire/sslv2-compat, nothing upstream', async (t) => {
  const origin = await rsaOrigin(t, true);
  const { port, sink } = await proxyTo(t, origin.port, { tsid: true, oddHellos: '{ sslv2Compat: refuse }' });
  const got = await exchange(port, v2Hello(), 1);
  const e = await sink.next(10_000);
  t.equal(got.data.length, 0);
  t.equal(e.action, 'Block with reset');
  t.equal(e.reason, 'Inspection Failure');
  t.equal(e.closeReason, 'wire/sslv2-compat');
  t.equal(e.identitySource, undefined, 'no identity: refused before any probe');
  t.equal(origin.tcp, 0, 'no probe, no upstream connection');
});

t.test('non-ASCII SNI from node:tls, default (refuse): reset with wire/sni-not-ascii; oddSni: allow: judged by TSID', async (t) => {
  const cert = await makeCert({ cn: 'origin.example' });
  const origin = await startOrigin(cert);
  t.teardown(() => origin.close());

  const refusing = await proxyTo(t, origin.port, { tsid: true });
  const r1 = await tlsRoundTrip(refusing.port, { servername: 'bücher.example' });
  const e1 = await refusing.sink.next(10_000);
  t.not(r1.kind, 'ok', `the client did not get through (${r1.kind})`);
  t.equal(e1.action, 'Block with reset');
  t.equal(e1.reason, 'Inspection Failure');
  t.equal(e1.closeReason, 'wire/sni-not-ascii');
  t.equal(e1.sni, null);
  t.equal(origin.connections, 0, 'nothing reached the origin, not even a probe');

  const allowing = await proxyTo(t, origin.port, { tsid: true, oddHellos: '{ oddSni: allow }' });
  const r2 = await tlsRoundTrip(allowing.port, { servername: 'bücher.example' });
  t.equal(r2.kind, 'ok', 'the round trip completed');
  const e2 = await allowing.sink.next(10_000);
  t.equal(e2.action, 'Allow');
  t.equal(e2.identitySource, 'cert-cn', 'named by the probed certificate, as without SNI');
  t.equal(e2.url, 'https://origin.example');
  t.equal(e2.sni, null, 'policy never saw the odd bytes as a name');
  t.same(e2.helloAnomalies, ['wire/sni-not-ascii'], 'the event says what was odd');
  t.equal(e2.sniRawHex, Buffer.from('bücher.example').toString('hex'), 'and the SNI bytes as sent');
  t.same(e1.helloAnomalies, ['wire/sni-not-ascii'], 'a refused one too');
});

t.test('each odd server_name is refused by default with its own code', async (t) => {
  const origin = await startTcp((s) => s.destroy());
  t.teardown(() => origin.close());
  const { port, sink } = await proxyTo(t, origin.port, { tsid: false });
  for (const [code, ext] of [
    ['wire/sni-too-long', sniExt(`${'a'.repeat(62)}.`.repeat(4) + 'bb')],
    ['wire/sni-bad-syntax', sniExt('evil.example\u0000.good.example')],
    ['wire/sni-no-host-name', { type: 0, data: [0, 4, 1, 0, 1, 0x61] }],
  ] as [string, Ext][]) {
    const got = await exchange(port, records(helloMessage({ extensions: [ext, versionsExt([0x0304, 0x0303])] })), 1);
    const e = await sink.next(10_000);
    t.equal(got.data.length, 0, code);
    t.equal(e.closeReason, code);
    t.equal(e.reason, 'Inspection Failure', code);
  }
});
