// The fuzzer's mutated ClientHellos over real sockets to a running proxy: every connection is
// answered with the documented action and reason — the wire reader's code as closeReason,
// 'Block with reset' / 'Inspection Failure' (fail closed; for a decoded hello with an odd
// server_name, the anomaly code: settings.oddHellos) — and a good client keeps succeeding the
// whole time.
import t from 'tap';
import * as net from 'node:net';
import { readClientHello } from '../../src/wire/index.js';
import { startProxy } from '../../src/proxy/index.js';
import type { ConnectionEvent } from '../../src/events/index.js';
import { loadSeeds } from '../fuzz/fuzz.js';
import { chunksOf, mutate, randomSplits } from '../fuzz/mutate.js';
import { Prng } from '../fuzz/prng.js';
import { makeCert, policyFrom, startOrigin, tlsRoundTrip, type ClientOutcome } from '../proxy/lib/net.js';

const MUTANTS = 200;
const CONCURRENCY = 8;

const policy = policyFrom(`
name: hostile-streams
settings:
  tsid: { enabled: false }
  failMode: closed
  timeouts: { peekMs: 3000, connectMs: 2000, idleMs: 1000 }
rules:
  - name: BLOCK_BAD
    action: Block with reset
    urls: { literals: [bad.example] }
  - name: ALLOW_ALL
    action: Allow
defaultAction: Block all traffic
`);

interface Sent {
  readonly port: number;
  readonly bytes: Uint8Array;
  readonly ops: readonly string[];
}

/** Writes the chunks as separate writes, half-closes, waits for the proxy to close. */
function send(port: number, chunks: Uint8Array[], claim: (localPort: number) => void): Promise<number> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let local = 0;
    s.on('error', () => undefined);
    s.on('connect', async () => {
      local = s.localPort ?? 0;
      claim(local);
      for (const c of chunks) {
        if (s.destroyed) break;
        s.write(c);
        await new Promise((r) => setImmediate(r));
      }
      if (!s.destroyed) s.end();
    });
    s.on('data', () => undefined);
    s.on('close', () => resolve(local));
    // Bounded: the proxy's own timeouts (peek 3 s, idle 3 s) end every connection before this.
    setTimeout(() => s.destroy(), 10_000).unref();
  });
}

t.test(`${MUTANTS} mutated hellos over sockets: documented action and closeReason for each; a good client never fails`, async (t) => {
  const cert = await makeCert({ cn: 'good.test', sans: ['good.test'] });
  const origin = await startOrigin(cert);
  t.teardown(() => origin.close());
  // Events are matched to connections by source port. Ports get reused over 700 connections,
  // so a connection claims its port when it connects, and only events that arrive after that
  // (and are not the good client's) count for it.
  const claimed = new Map<number, { event: ConnectionEvent | null; wake: (() => void) | null }>();
  const goodEvents: ConnectionEvent[] = [];
  const proxy = await startProxy({
    policy,
    listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: origin.port } }],
    onEvent: (e) => {
      if (e.sni === 'good.test') return void goodEvents.push(e);
      const c = claimed.get(e.srcPort);
      if (!c || c.event) return; // the first event of a connection decides (blocks log at begin)
      c.event = e;
      c.wake?.();
    },
  });
  t.teardown(() => proxy.close());
  const port = proxy.listeners[0].port;
  const claim = (p: number) => claimed.set(p, { event: null, wake: null });
  const eventFor = async (p: number): Promise<ConnectionEvent | null> => {
    const c = claimed.get(p);
    if (!c) return null;
    if (!c.event) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5000);
        c.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    claimed.delete(p);
    return c.event;
  };

  // The good client: sequential round trips for as long as the hostile ones run.
  let hostileDone = false;
  const good: ClientOutcome[] = [];
  const goodLoop = (async () => {
    while (!hostileDone || good.length < 5) {
      good.push(await tlsRoundTrip(port, { servername: 'good.test' }));
      if (good.length >= 300) break;
      await new Promise((r) => setTimeout(r, 10)); // leave CPU to the hostile side
    }
  })();

  const seeds = loadSeeds().filter((s) => s.target === 'clienthello');
  const master = new Prng(0x5eed);
  const mismatches: string[] = [];
  const seenReasons = new Map<string, number>();
  let next = 0;
  const worker = async () => {
    while (next < MUTANTS) {
      const i = next++;
      const prng = new Prng(master.fork() ^ i);
      const m = mutate(prng.pick(seeds), prng, seeds);
      // At most 24 separate writes: a thousand one-byte writes under load is a slow client,
      // which the peek timeout rightly resets (tested in slow-client cases, not here).
      const ends = randomSplits(prng, m.bytes.length);
      const capped = ends.length > 24 ? [...ends.slice(0, 23), m.bytes.length] : ends;
      const chunks = chunksOf(m.bytes, capped).filter((c) => c.length > 0);
      const local = await send(port, chunks, claim);
      const e = await eventFor(local);
      const sent: Sent = { port: local, bytes: m.bytes, ops: m.ops };
      const want = readClientHello(sent.bytes, { maxHandshakeBytes: policy.settings.maxHelloBytes });
      const where = `#${i} (${m.ops.join(' ')}) [port ${local} event ${e ? JSON.stringify({ ph: e.phase, a: e.action, c: e.closeReason, sni: e.sni, b: e.bytesFromClient, len: sent.bytes.length }) : null}]`;
      if (!e) {
        mismatches.push(`${where}: no event`);
        continue;
      }
      seenReasons.set(`${e.action}/${e.closeReason ?? '-'}`, (seenReasons.get(`${e.action}/${e.closeReason ?? '-'}`) ?? 0) + 1);
      // A decoded but odd server_name is refused by the default settings.oddHellos.oddSni;
      // an SSLv2-compatible hello goes on like any hello without SNI.
      const oddSni = want.kind === 'hello' ? want.hello.anomalies.find((a) => a.code.startsWith('wire/sni-')) : undefined;
      if (oddSni) {
        if (e.closeReason !== oddSni.code || e.action !== 'Block with reset' || e.reason !== 'Inspection Failure') mismatches.push(`${where}: hello flagged ${oddSni.code}, event ${e.action}/${e.reason}/${e.closeReason}`);
      } else if (want.kind === 'hello') {
        if (e.action !== 'Allow' || e.sni !== want.hello.sni) mismatches.push(`${where}: hello (sni ${want.hello.sni}) but ${e.action} ${e.closeReason} sni ${e.sni}`);
      } else if (want.kind === 'need-more') {
        const code = sent.bytes.length === 0 ? 'proxy/client-closed' : 'wire/truncated';
        if (e.closeReason !== code || e.action !== 'Block with reset') mismatches.push(`${where}: incomplete hello then FIN, want ${code}, got ${e.action} ${e.closeReason}`);
      } else if (e.closeReason !== want.error.code || e.action !== 'Block with reset' || e.reason !== 'Inspection Failure') {
        mismatches.push(`${where}: reader says ${want.kind} ${want.error.code}, event ${e.action}/${e.reason}/${e.closeReason}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  hostileDone = true;
  await goodLoop;

  t.same(mismatches.slice(0, 20), [], `every mutated stream got its documented answer (${[...seenReasons].map(([k, v]) => `${k}:${v}`).join(', ')})`);
  t.ok(seenReasons.size >= 6, `${seenReasons.size} distinct action/closeReason pairs exercised`);
  const failedGood = good.filter((g) => g.kind !== 'ok');
  t.same(failedGood.slice(0, 3), [], `good client: ${good.length - failedGood.length}/${good.length} round trips succeeded during the hostile run`);
  t.ok(good.length >= 5, 'the good client ran throughout');
  t.ok(goodEvents.length > 0 && goodEvents.every((e) => e.action === 'Allow'), `the good client's ${goodEvents.length} events are all Allow`);
  // The client sees the RST before the proxy's own 'close' runs: give the teardown a moment.
  for (let k = 0; k < 100 && (proxy.stats().active > 0 || proxy.stats().heldBytes > 0); k++) await new Promise((r) => setTimeout(r, 50));
  const stats = proxy.stats();
  t.equal(stats.active, 0, 'no connection left open');
  t.equal(stats.heldBytes, 0, 'no held bytes left');
  t.ok(stats.connections >= MUTANTS + good.length, `${stats.connections} connections counted`);
});
