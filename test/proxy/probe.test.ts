// The TSID probe against real TLS origins: what it offers (no SNI when the client sent none,
// the client's ALPN and versions), the chain it reads, and the cache (TTL, LRU, coalescing).
import t from 'tap';
import { TsidCache, probeOnce, probeOptions } from '../../src/proxy/index.js';
import { readClientHello, type ClientHello } from '../../src/wire/index.js';
import { readFixture } from '../helpers/fixtures.js';
import { makeCert, startOrigin, type TestCert } from './lib/net.js';

function hello(name: string): ClientHello {
  const r = readClientHello(readFixture('clienthello', name));
  if (r.kind !== 'hello') throw new Error(`fixture ${name} did not parse: ${r.kind}`);
  return r.hello;
}

let cert: TestCert;
t.before(async () => {
  cert = await makeCert({ cn: 'probe.test', sans: ['first.probe.test', 'probe.test'] });
});

t.test('probe options mimic the client hello', async (t) => {
  const noSni = probeOptions({ dst: { ip: '127.0.0.1', port: 1 }, hello: hello('openssl-noservername.bin'), timeoutMs: 1000 });
  t.equal(noSni.servername, '', 'no SNI when the client sent none');
  t.equal(noSni.maxVersion, 'TLSv1.3');
  t.equal(noSni.rejectUnauthorized, false);
  const tls12 = probeOptions({ dst: { ip: '127.0.0.1', port: 1 }, hello: hello('openssl-tls12-servername.bin'), timeoutMs: 1000, localAddress: '127.0.0.1' });
  t.equal(tls12.servername, 'www.corpus.test');
  t.equal(tls12.maxVersion, 'TLSv1.2', 'a TLS 1.2-only client gets a TLS 1.2-only probe');
  t.equal(tls12.localAddress, '127.0.0.1');
  const alpn = probeOptions({ dst: { ip: '127.0.0.1', port: 1 }, hello: hello('openssl-alpn-h2-http11.bin'), timeoutMs: 1000 });
  t.same(alpn.ALPNProtocols, ['h2', 'http/1.1']);
});

t.test('a probe reads the leaf certificate and closes', async (t) => {
  const origin = await startOrigin(cert);
  t.teardown(() => origin.close());
  const r = await probeOnce({ dst: { ip: '127.0.0.1', port: origin.port }, hello: hello('openssl-noservername.bin'), timeoutMs: 3000, localAddress: '127.0.0.1' });
  t.ok(r.ok);
  if (r.ok) {
    t.equal(r.value[0].cn, 'probe.test');
    t.equal(r.value[0].sans[0]?.value, 'first.probe.test');
  }
});

t.test('cache: concurrent probes coalesce, hits within the TTL, expiry and the LRU bound', async (t) => {
  const a = await startOrigin(cert);
  const b = await startOrigin(cert);
  t.teardown(() => a.close());
  t.teardown(() => b.close());
  const cache = new TsidCache();
  let now = 1_000_000;
  const clock = () => now;
  const h = hello('openssl-noservername.bin');
  const reqA = { dst: { ip: '127.0.0.1', port: a.port }, hello: h, timeoutMs: 3000 };
  const reqB = { dst: { ip: '127.0.0.1', port: b.port }, hello: h, timeoutMs: 3000 };
  const opts = { maxEntries: 1, ttlMs: 60_000 };

  const five = await Promise.all(Array.from({ length: 5 }, () => cache.get(reqA, opts, clock)));
  t.ok(five.every((r) => r.ok && r.cache === 'miss'));
  t.equal(a.connections, 1, 'five concurrent misses share one probe');
  t.equal((await cache.get(reqA, opts, clock)).cache, 'hit');

  now += 60_001;
  t.equal((await cache.get(reqA, opts, clock)).cache, 'miss', 'expired after the TTL');
  t.equal(a.connections, 2);

  t.equal((await cache.get(reqB, opts, clock)).cache, 'miss');
  t.equal(cache.size, 1, 'LRU bound of 1 entry');
  t.equal((await cache.get(reqA, opts, clock)).cache, 'miss', 'A was evicted by B');
  t.equal(cache.hits, 1);
});

t.test('a refused probe is an error value, not cached', async (t) => {
  const cache = new TsidCache();
  const origin = await startOrigin(cert);
  const port = origin.port;
  await origin.close();
  const r = await cache.get({ dst: { ip: '127.0.0.1', port }, hello: hello('openssl-noservername.bin'), timeoutMs: 2000 }, { maxEntries: 10, ttlMs: 1000 });
  t.equal(r.ok, false);
  if (!r.ok) t.equal(r.error.code, 'proxy/probe-refused');
  t.equal(cache.size, 0);
});

t.test('cache: a hit refreshes its entry, so the bound evicts the least recently used, not the oldest', async (t) => {
  const probed: string[] = [];
  // An injected probe (no sockets): every probe succeeds (the chain itself does not matter here).
  const cache = new TsidCache(async (r) => {
    probed.push(`${r.dst.port}`);
    return { ok: true, value: [] as never };
  });
  const h = hello('openssl-noservername.bin');
  const req = (port: number) => ({ dst: { ip: '127.0.0.1', port }, hello: h, timeoutMs: 1000 });
  const opts = { maxEntries: 2, ttlMs: 60_000 };
  await cache.get(req(1), opts);
  await cache.get(req(2), opts);
  t.equal((await cache.get(req(1), opts)).cache, 'hit', '1 is now the most recently used');
  await cache.get(req(3), opts); // over the bound: evicts 2, not 1
  t.equal(cache.size, 2);
  t.equal((await cache.get(req(1), opts)).cache, 'hit', 'the refreshed entry survived');
  t.equal((await cache.get(req(2), opts)).cache, 'miss', 'the least recently used was evicted');
  t.same(probed, ['1', '2', '3', '2']);
});
