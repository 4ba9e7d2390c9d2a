// Faults around the proxy, each with a defined, logged outcome (action + closeReason in the
// connection event) and no leak: an upstream that resets mid-stream or dribbles its answer, a
// TSID probe answered with garbage / an alert / half a hello, DNS for sni-route failing,
// hanging or answering nonsense, and an events destination that is full or unwritable.
// (The basic refused/reset/silent upstream cases are in test/e2e/proxy-tls.test.ts.)
import t, { type Test } from 'tap';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProxy, type ProxyOptions, type RunningProxy } from '../../src/proxy/index.js';
import { createEventLog, type ConnectionEvent } from '../../src/events/index.js';
import type { PeekwallError } from '../../src/util/errors.js';
import { splitRecords } from '../fuzz/tlsmodel.js';
import { makeCert, openFds, policyFrom, startOrigin, startTcp, tlsRoundTrip, type TestCert } from '../proxy/lib/net.js';

const policyYaml = (o: { tsid: boolean; failMode?: 'open' | 'closed' }) => `
name: faults
settings:
  tsid: { enabled: ${o.tsid} }
  failMode: ${o.failMode ?? 'closed'}
  timeouts: { peekMs: 2000, probeMs: 400, connectMs: 1000, idleMs: 1500 }
rules:
  - name: ALLOW_ALL
    action: Allow
defaultAction: Block all traffic
`;

let cert: TestCert;
const fdBaseline: number[] = [];
t.before(async () => {
  cert = await makeCert({ cn: 'good.test', sans: ['good.test'] });
  const fds = openFds();
  if (fds !== null) fdBaseline.push(fds);
});

interface Started {
  proxy: RunningProxy;
  port: number;
  events: ConnectionEvent[];
  /** The next event, waiting a bounded time (null if none came). */
  next(): Promise<ConnectionEvent | null>;
}

async function start(t: Test, o: Partial<ProxyOptions> & { yaml: string; upstreamPort?: number }): Promise<Started> {
  const events: ConnectionEvent[] = [];
  let wake: (() => void) | null = null;
  const { yaml, upstreamPort, ...rest } = o;
  const proxy = await startProxy({
    policy: policyFrom(yaml),
    listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: upstreamPort ?? 1 } }],
    onEvent: (e) => {
      events.push(e);
      wake?.();
    },
    ...rest,
  });
  t.teardown(() => proxy.close());
  let taken = 0;
  return {
    proxy,
    port: proxy.listeners[0].port,
    events,
    async next() {
      for (let k = 0; k < 2 && taken >= events.length; k++) {
        await new Promise<void>((r) => {
          const timer = setTimeout(r, 4000);
          wake = () => {
            clearTimeout(timer);
            r();
          };
        });
      }
      wake = null;
      return taken < events.length ? events[taken++] : null;
    },
  };
}

/** Waits (bounded) until the proxy has no connection left, then returns its counters. */
async function settled(p: RunningProxy): Promise<Record<string, number>> {
  for (let k = 0; k < 100 && (p.stats().active > 0 || p.stats().heldBytes > 0); k++) await new Promise((r) => setTimeout(r, 50));
  return p.stats();
}

t.test('upstream resets mid-stream, after data flowed: the reset is passed on and named', async (t) => {
  // In front of a TLS 1.2 origin, a relay that resets the TCP connection right after the
  // first application-data record (the echo) went to the client: data flowed, then a reset.
  const origin = await startOrigin(cert, { maxVersion: 'TLSv1.2' });
  t.teardown(() => origin.close());
  const resetter = await startTcp((s) => {
    const up = net.connect({ host: '127.0.0.1', port: origin.port });
    up.on('error', () => undefined);
    s.pipe(up);
    let buf = Buffer.alloc(0);
    up.on('data', (d: Buffer) => {
      s.write(d);
      buf = Buffer.concat([buf, d]);
      for (const r of splitRecords(buf).records) {
        if (r.type === 23) {
          // A moment later, so the echo has left this relay's write queue (with a write
          // pending, Node's resetAndDestroy falls back to a FIN).
          setTimeout(() => {
            s.resetAndDestroy();
            up.destroy();
          }, 20);
          up.removeAllListeners('data');
          return;
        }
      }
    });
  });
  t.teardown(() => resetter.close());
  const p = await start(t, { yaml: policyYaml({ tsid: false }), upstreamPort: resetter.port });
  // A client that stays connected after its echo, so the reset reaches it.
  const r = await new Promise<{ echoed: boolean; error: string | null }>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: p.port, servername: 'good.test', rejectUnauthorized: false, maxVersion: 'TLSv1.2' }, () => s.write('hello'));
    let echoed = false;
    let error: string | null = null;
    s.on('data', (d: Buffer) => {
      if (d.toString().startsWith('echo:')) echoed = true;
    });
    s.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    s.on('close', () => resolve({ echoed, error }));
    setTimeout(() => s.destroy(), 5000).unref();
  });
  t.ok(r.echoed, 'the exchange before the reset worked');
  t.equal(r.error, 'ECONNRESET', `the client sees the reset (got ${r.error})`);
  const e = await p.next();
  t.same([e?.action, e?.closeReason], ['Allow', 'proxy/upstream-reset'], 'the event names the upstream reset');
  t.equal((await settled(p.proxy)).active, 0);
});

t.test('upstream answers slowly, its first flight dribbled 16 bytes at a time: passive CN still read, client served', async (t) => {
  const origin = await startOrigin(cert, { maxVersion: 'TLSv1.2' });
  t.teardown(() => origin.close());
  const timers = new Set<NodeJS.Timeout>();
  const slow = await startTcp((s) => {
    const up = net.connect({ host: '127.0.0.1', port: origin.port });
    up.on('error', () => s.destroy());
    s.on('close', () => up.destroy());
    s.pipe(up);
    const queue: Buffer[] = [];
    up.on('data', (d: Buffer) => {
      for (let i = 0; i < d.length; i += 16) queue.push(d.subarray(i, i + 16));
    });
    const timer = setInterval(() => {
      const c = queue.shift();
      if (c && !s.destroyed) s.write(c);
    }, 2);
    timers.add(timer);
    s.on('close', () => {
      clearInterval(timer);
      timers.delete(timer);
    });
  });
  t.teardown(async () => {
    for (const x of timers) clearInterval(x);
    await slow.close();
  });
  const p = await start(t, { yaml: policyYaml({ tsid: false }), upstreamPort: slow.port });
  const r = await tlsRoundTrip(p.port, { maxVersion: 'TLSv1.2' }); // no SNI: the name must come from the certificate
  t.equal(r.kind, 'ok', `the client was served (${r.kind === 'error' ? r.code : ''})`);
  const e = await p.next();
  t.equal(e?.action, 'Allow');
  t.equal(e?.identitySource, 'passive-cn', 'the certificate was read from the dribbled flight');
  t.match(e?.url ?? '', /good\.test/);
});

t.test('TSID probe answered with garbage, an alert, or half a ServerHello', async (t) => {
  const garbage = await startTcp((s) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
  const alert = await startTcp((s) => s.once('data', () => s.end(Buffer.from([21, 3, 3, 0, 2, 2, 40]))));
  const half = await startTcp((s) => s.once('data', () => s.write(Buffer.from([22, 3, 3, 0, 80, 2, 0, 0, 76, 3, 3]))));
  t.teardown(async () => {
    await garbage.close();
    await alert.close();
    await half.close();
  });
  for (const [name, srv, code] of [
    ['garbage', garbage, 'proxy/probe-failed'],
    ['a TLS alert', alert, 'proxy/probe-failed'],
    ['half a ServerHello, then silence', half, 'proxy/probe-timeout'],
  ] as const) {
    const closed = await start(t, { yaml: policyYaml({ tsid: true }), upstreamPort: srv.port });
    const r = await tlsRoundTrip(closed.port, {}); // no SNI: TSID must probe
    t.equal(r.kind, 'error', `${name}, fail closed: the client is refused`);
    const e = await closed.next();
    t.same([e?.action, e?.reason, e?.closeReason], ['Block with reset', 'Inspection Failure', code], `${name}, fail closed: named in the event`);

    const open = await start(t, { yaml: policyYaml({ tsid: true, failMode: 'open' }), upstreamPort: srv.port });
    await tlsRoundTrip(open.port, {});
    const e2 = await open.next();
    t.same([e2?.action, e2?.reason, e2?.closeReason], ['Allow', 'Fail Open', code], `${name}, fail open: forwarded and named`);
    t.equal((await settled(closed.proxy)).active, 0);
    t.equal((await settled(open.proxy)).active, 0);
  }
});

t.test('DNS for sni-route fails, hangs, or answers nonsense', async (t) => {
  const origin = await startOrigin(cert);
  t.teardown(() => origin.close());
  for (const [name, resolve, want] of [
    ['fails', () => Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND origin.internal'), { code: 'ENOTFOUND' })), ['Block with reset', 'proxy/resolve-failed']],
    ['never answers', () => new Promise<string>(() => undefined), ['Block with reset', 'proxy/resolve-timeout']],
    ['answers a non-address', () => Promise.resolve('not an address'), ['Allow', 'proxy/upstream-error']],
  ] as const) {
    const events: ConnectionEvent[] = [];
    const proxy = await startProxy({
      policy: policyFrom(policyYaml({ tsid: false })),
      resolve,
      listeners: [{ mode: 'sni-route', host: '127.0.0.1', port: 0, routes: { 'good.test': { host: 'origin.internal', port: origin.port } } }],
      onEvent: (e) => events.push(e),
    });
    t.teardown(() => proxy.close());
    const r = await tlsRoundTrip(proxy.listeners[0].port, { servername: 'good.test' });
    t.equal(r.kind, 'error', `DNS ${name}: the client is refused`);
    const stats = await settled(proxy);
    for (let k = 0; k < 40 && events.length === 0; k++) await new Promise((res) => setTimeout(res, 50));
    t.same(events.map((e) => [e.action, e.closeReason]), [want], `DNS ${name}: one event, ${want.join(' / ')}`);
    t.equal(stats.active, 0, `DNS ${name}: nothing left open`);
  }
});

t.test('events destination full (/dev/full) or unwritable: reported once, traffic unaffected, drops counted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-faults-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'a-file'), 'x');
  const origin = await startOrigin(cert);
  t.teardown(() => origin.close());
  for (const [name, destination] of [
    ['disk full (/dev/full)', '/dev/full'],
    ['parent is a file', join(dir, 'a-file', 'events.log')],
    ['a directory', dir],
  ] as const) {
    const errors: PeekwallError[] = [];
    const log = createEventLog({ destination, onError: (e) => errors.push(e) });
    t.teardown(() => log.close());
    const p = await start(t, { yaml: policyYaml({ tsid: false }), upstreamPort: origin.port, eventLog: log });
    const outcomes = [];
    for (let i = 0; i < 5; i++) {
      outcomes.push(await tlsRoundTrip(p.port, { servername: 'good.test' }));
      await log.flush();
    }
    t.same(outcomes.map((o) => o.kind), ['ok', 'ok', 'ok', 'ok', 'ok'], `${name}: every client served`);
    for (let k = 0; k < 40 && errors.length === 0; k++) await new Promise((res) => setTimeout(res, 25));
    t.equal(errors.length, 1, `${name}: the failure is reported once`);
    t.equal(errors[0]?.code, 'events/write-failed', `${name}: ${errors[0]?.message}`);
    for (let k = 0; k < 80 && p.events.length < 5; k++) await new Promise((res) => setTimeout(res, 25));
    t.equal(p.events.length, 5, `${name}: in-process events still flow`);
    // Under the sink's bound the events are held for the retry (written if the destination
    // recovers), past it dropped and counted: never lost without a count.
    t.equal(log.written, 0, `${name}: nothing written`);
    t.equal(log.queued + log.dropped, 5, `${name}: ${log.queued} events held for the retry, ${log.dropped} counted as dropped`);
  }
});

// A real tap skip where /proc is missing (not a pass), so CI, which fails on skips, would notice.
t.test('after all the faults: file descriptors back to baseline', { skip: openFds() === null ? 'no /proc/self/fd on this platform' : false }, async (t) => {
  // Every earlier subtest's teardown has run; allow sockets a moment to finish closing.
  const base = fdBaseline[0] ?? 0;
  let now = openFds() ?? 0;
  for (let k = 0; k < 60 && now > base + 2; k++) {
    await new Promise((r) => setTimeout(r, 50));
    now = openFds() ?? 0;
  }
  t.ok(now <= base + 2, `fds ${now} vs baseline ${base}`);
});
