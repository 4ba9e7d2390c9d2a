// Interactive Block bypasses are bounded: at the bound the least recently granted goes, so a
// proxy that runs for weeks (or a client walking through many host names) holds a fixed map.
import t from 'tap';
import { startProxy } from '../../src/proxy/index.js';
import { EventSink, getViaProxy, policyFrom, startHttpOrigin } from '../proxy/lib/net.js';

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


t.test('the bypass map keeps at most limits.maxBypasses entries, evicting the oldest grant', async (t) => {
  const origin = await startHttpOrigin((req) => `origin saw ${req.headers.host}`);
  t.teardown(() => origin.close());
  const oport = origin.port;
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
    const warn = await getViaProxy(pport, `http://${host}:${oport}/`);
    t.equal(warn.status, 403, `${host}: warning page first`);
    const link = /href="([^"]+)"/.exec(warn.body)?.[1]?.replace(/&#38;/g, '&');
    const cont = await getViaProxy(pport, link as string);
    t.equal(cont.status, 302, `${host}: continue accepted`);
  };
  await grant('a.warn.test');
  await grant('b.warn.test');
  t.equal((await getViaProxy(pport, `http://a.warn.test:${oport}/`)).status, 200, 'a is bypassed');
  await grant('c.warn.test'); // third grant: a, the oldest, goes
  t.equal((await getViaProxy(pport, `http://b.warn.test:${oport}/`)).status, 200, 'b still bypassed');
  t.equal((await getViaProxy(pport, `http://c.warn.test:${oport}/`)).status, 200, 'c bypassed');
  t.equal((await getViaProxy(pport, `http://a.warn.test:${oport}/`)).status, 403, 'a was evicted: warned again');
});
