// Interactive Block bypasses are bounded: at the bound the least recently granted goes, so a
// proxy that runs for weeks (or a client walking through many host names) holds a fixed map.
import t from 'tap';
import * as http from 'node:http';
import * as net from 'node:net';
import { startProxy } from '../../src/proxy/index.js';
import { EventSink, policyFrom } from '../proxy/lib/net.js';

const yaml = `
name: bypass
rules:
  - name: WARN_SITE
    action: Interactive Block
    urls: { literals: [warn.test] }
  - name: ALLOW_ALL
    action: Allow
defaultAction: Block all traffic
`;

function get(proxyPort: number, url: string): Promise<{ status: number; body: string; location?: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: '127.0.0.1', port: proxyPort, path: url, headers: { host: u.host }, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ...(res.headers.location ? { location: res.headers.location } : {}) }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('the bypass map keeps at most limits.maxBypasses entries, evicting the oldest grant', async (t) => {
  const origin = http.createServer((req, res) => res.end(`origin saw ${req.headers.host}`));
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => { origin.closeAllConnections(); origin.close(() => r()); }));
  const oport = (origin.address() as net.AddressInfo).port;
  const sink = new EventSink();
  const proxy = await startProxy({
    policy: policyFrom(yaml),
    listeners: [{ mode: 'explicit', host: '127.0.0.1', port: 0 }],
    onEvent: sink.onEvent,
    resolve: async () => '127.0.0.1',
    limits: { maxBypasses: 2 },
  });
  t.teardown(() => proxy.close());
  const pport = proxy.listeners[0].port;
  const grant = async (host: string) => {
    const warn = await get(pport, `http://${host}:${oport}/`);
    t.equal(warn.status, 403, `${host}: warning page first`);
    const link = /href="([^"]+)"/.exec(warn.body)?.[1]?.replace(/&#38;/g, '&');
    const cont = await get(pport, link as string);
    t.equal(cont.status, 302, `${host}: continue accepted`);
  };
  await grant('a.warn.test');
  await grant('b.warn.test');
  t.equal((await get(pport, `http://a.warn.test:${oport}/`)).status, 200, 'a is bypassed');
  await grant('c.warn.test'); // third grant: a, the oldest, goes
  t.equal((await get(pport, `http://b.warn.test:${oport}/`)).status, 200, 'b still bypassed');
  t.equal((await get(pport, `http://c.warn.test:${oport}/`)).status, 200, 'c bypassed');
  t.equal((await get(pport, `http://a.warn.test:${oport}/`)).status, 403, 'a was evicted: warned again');
});
