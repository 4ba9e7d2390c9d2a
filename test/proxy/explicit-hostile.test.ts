// C4 regression: a request line naming a non-http scheme or no host, or a resolver answering
// junk, used to throw inside a promise callback of the explicit listener (an unhandled
// rejection: Node 20 exits). Each now gets its status and one event; the proxy keeps serving.
// C5: startProxy refuses an admin listener off loopback without a token.
import t from 'tap';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startProxy } from '../../src/proxy/index.js';
import { PeekwallFailure } from '../../src/util/errors.js';
import { EventSink, policyFrom, rawHttp, statusOf } from './lib/net.js';

const allowAll = policyFrom(`
name: explicit-hostile
settings:
  timeouts: { peekMs: 1000, probeMs: 1000, connectMs: 1000, idleMs: 1000 }
rules:
  - name: ALLOW_ALL
    action: Allow
`);

let unhandled = 0;
const onUnhandled = () => unhandled++;
process.on('unhandledRejection', onUnhandled);
t.teardown(() => process.removeListener('unhandledRejection', onUnhandled));


async function startOriginHttp(): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('origin says hello\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

t.test('non-http schemes and hostless URLs: 400 + proxy/bad-request, default resolver', async (t) => {
  const origin = await startOriginHttp();
  t.teardown(() => origin.close());
  const sink = new EventSink();
  // No resolve option: the default dns.lookup path, where '' used to answer a null address.
  const proxy = await startProxy({ policy: allowAll, onEvent: sink.onEvent, listeners: [{ mode: 'explicit', host: '127.0.0.1', port: 0 }] });
  t.teardown(() => proxy.close());
  const port = proxy.listeners[0].port;
  const lines = ['file:///etc/passwd', 'file://127.0.0.1/etc/passwd', `ftp://127.0.0.1:${origin.port}/`, 'http://:80/', 'https://127.0.0.1/'];
  for (const target of lines) {
    const r = await rawHttp(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    t.match(statusOf(r), /^HTTP\/1\.1 400 /, `GET ${target}: ${statusOf(r)}`);
    t.notMatch(r, /origin says hello|root:/, `GET ${target}: nothing fetched`);
    const e = await sink.next();
    t.equal(e.closeReason, 'proxy/bad-request', `GET ${target}: event closeReason`);
    t.equal(e.action, 'Block');
  }
  // Origin form without a Host header: no server named, nothing to proxy.
  const noHost = await rawHttp(port, 'GET /etc/passwd HTTP/1.0\r\n\r\n');
  t.match(statusOf(noHost), /^HTTP\/1\.1 400 /, `origin form without Host: ${statusOf(noHost)}`);
  t.equal((await sink.next()).closeReason, 'proxy/bad-request');

  // Still alive and serving.
  const good = await rawHttp(port, `GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\nConnection: close\r\n\r\n`);
  t.match(statusOf(good), /^HTTP\/1\.1 200 /, 'a good request after them is served');
  t.match(good, /origin says hello/);
  t.equal(unhandled, 0, 'no unhandled rejection');
});

t.test('a resolver answering junk: 502 + proxy/resolve-failed, plain and CONNECT', async (t) => {
  const answers: unknown[] = ['', null, undefined, 'not-an-ip', 42, '999.1.1.1'];
  let next = 0;
  const sink = new EventSink();
  const proxy = await startProxy({
    policy: allowAll,
    onEvent: sink.onEvent,
    listeners: [{ mode: 'explicit', host: '127.0.0.1', port: 0 }],
    resolve: async () => answers[next % answers.length] as string,
  });
  t.teardown(() => proxy.close());
  const port = proxy.listeners[0].port;
  for (let i = 0; i < answers.length; i++) {
    next = i;
    const answer = JSON.stringify(answers[i]) ?? 'undefined';
    const r = await rawHttp(port, 'GET http://junk.test/ HTTP/1.1\r\nHost: junk.test\r\nConnection: close\r\n\r\n');
    t.match(statusOf(r), /^HTTP\/1\.1 502 /, `resolver answers ${answer}: ${statusOf(r)}`);
    const e = await sink.next();
    t.equal(e.closeReason, 'proxy/resolve-failed', `resolver answers ${answer}: event`);
    const c = await rawHttp(port, 'CONNECT junk.test:443 HTTP/1.1\r\nHost: junk.test:443\r\n\r\n');
    t.match(statusOf(c), /^HTTP\/1\.1 502 /, `CONNECT, resolver answers ${answer}: ${statusOf(c)}`);
    t.equal((await sink.next()).closeReason, 'proxy/resolve-failed', `CONNECT, resolver answers ${answer}: event`);
  }
  // A resolver that throws synchronously or rejects: the same answer.
  const throwing = await startProxy({
    policy: allowAll,
    onEvent: sink.onEvent,
    listeners: [{ mode: 'explicit', host: '127.0.0.1', port: 0 }],
    resolve: (() => {
      throw new Error('resolver bug');
    }) as never,
  });
  t.teardown(() => throwing.close());
  const r = await rawHttp(throwing.listeners[0].port, 'GET http://junk.test/ HTTP/1.1\r\nHost: junk.test\r\nConnection: close\r\n\r\n');
  t.match(statusOf(r), /^HTTP\/1\.1 502 /, `a throwing resolver: ${statusOf(r)}`);
  t.equal((await sink.next()).closeReason, 'proxy/resolve-failed');
  t.equal(unhandled, 0, 'no unhandled rejection');
});

t.test('startProxy refuses an admin listener off loopback without a token', async (t) => {
  for (const host of ['0.0.0.0', '::', '10.0.0.5']) {
    let caught: unknown = null;
    try {
      const p = await startProxy({ policy: allowAll, listeners: [], admin: { host, port: 0 } });
      await p.close();
    } catch (e) {
      caught = e;
    }
    t.ok(caught instanceof PeekwallFailure, `admin on ${host}: refused with a PeekwallFailure`);
    if (caught instanceof PeekwallFailure) t.equal(caught.errors[0].code, 'proxy/admin-needs-token');
  }
  // Loopback needs no token; off loopback a token is enough (bound on 127.0.0.1 here: tests
  // never listen beyond loopback, the check is on the configured host only).
  const local = await startProxy({ policy: allowAll, listeners: [], admin: { host: '127.0.0.1', port: 0 } });
  t.teardown(() => local.close());
  t.equal(local.admin?.host, '127.0.0.1', 'loopback without a token starts');
});
