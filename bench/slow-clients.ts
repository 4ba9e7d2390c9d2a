// Slow clients: S connections that send nothing, or a ClientHello one byte per second, are
// closed at the peek timeout (closeReason proxy/peek-timeout) while a good client's latency
// stays within 2x of idle. Not a test: a bounded script that prints its numbers.
//   node dist-rel/bench/slow-clients.js [--slow 1000] [--peekMs 3000] [--good 300]
import * as net from 'node:net';
import { readFileSync } from 'node:fs';
import { fromRoot } from './lib/root.js';
import { fmt, numArgs, percentile, roundTrip, sleep, startEchoOrigin, startProxyChild } from './rel-lib.js';

const o = numArgs({ slow: 1000, peekMs: 3000, good: 300 });
const policy = `
name: slow-clients
settings:
  tsid: { enabled: false }
  timeouts: { peekMs: ${o.peekMs}, connectMs: 2000, idleMs: 30000 }
rules:
  - name: ALLOW_ALL
    action: Allow
`;
const hello = readFileSync(fromRoot('test', 'fixtures', 'shared', 'clienthello', 'openssl-default-sni.bin'));

async function goodLatencies(port: number, n: number, until?: () => boolean): Promise<{ ms: number[]; failed: number }> {
  const ms: number[] = [];
  let failed = 0;
  for (let i = 0; i < n || (until !== undefined && !until() && i < 50 * n); i++) {
    const r = await roundTrip(port, 'tools.cisco.com');
    if (r.ok) ms.push(r.ms);
    else failed++;
  }
  return { ms, failed };
}

const origin = await startEchoOrigin();
const child = await startProxyChild(policy, { host: '127.0.0.1', port: origin.port });
try {
  await goodLatencies(child.port, 50); // warm-up (JIT, TLS session machinery)
  const idle = await goodLatencies(child.port, o.good);

  // Open the slow clients; half silent, half dribbling a real hello at 1 byte/s.
  const closedAfter: number[] = [];
  let open = 0;
  const timers = new Set<NodeJS.Timeout>();
  const t0 = performance.now();
  for (let i = 0; i < o.slow; i++) {
    const s = net.connect({ host: '127.0.0.1', port: child.port });
    const opened = performance.now();
    open++;
    s.on('error', () => undefined);
    s.on('data', () => undefined);
    s.on('close', () => {
      open--;
      closedAfter.push(performance.now() - opened);
    });
    if (i % 2 === 1) {
      let k = 0;
      const timer = setInterval(() => {
        if (s.destroyed || k >= hello.length) return clearInterval(timer);
        s.write(hello.subarray(k, k + 1));
        k++;
      }, 1000);
      timers.add(timer);
      s.on('close', () => clearInterval(timer));
    }
    if (i % 100 === 99) await sleep(1); // let the proxy accept in batches
  }
  const openedMs = performance.now() - t0;
  const loaded = await goodLatencies(child.port, o.good, () => open === 0);
  const deadline = performance.now() + 3 * o.peekMs + 10_000;
  while (open > 0 && performance.now() < deadline) await sleep(50);
  for (const t of timers) clearInterval(t);
  let st = await child.stats();
  for (let k = 0; k < 50 && st.stats.active > 0; k++) {
    await sleep(100); // the last good connection's close may still be on its way
    st = await child.stats();
  }

  const p = (xs: number[], q: number) => fmt(percentile(xs, q));
  const ratio50 = percentile(loaded.ms, 50) / percentile(idle.ms, 50);
  const ratio95 = percentile(loaded.ms, 95) / percentile(idle.ms, 95);
  console.log(`slow clients: ${o.slow} opened in ${fmt(openedMs)} (half silent, half 1 byte/s), peek timeout ${o.peekMs} ms`);
  console.log(`  closed: ${closedAfter.length}/${o.slow}; still open after the bound: ${open}`);
  console.log(`  closed after (from their connect): min ${p(closedAfter, 0)}, p50 ${p(closedAfter, 50)}, p99 ${p(closedAfter, 99)}, max ${p(closedAfter, 100)}`);
  console.log(`  proxy close reasons: ${JSON.stringify(st.closeReasons)}`);
  console.log(`good client, idle:        n=${idle.ms.length} failed=${idle.failed} p50 ${p(idle.ms, 50)} p95 ${p(idle.ms, 95)}`);
  console.log(`good client, under load:  n=${loaded.ms.length} failed=${loaded.failed} p50 ${p(loaded.ms, 50)} p95 ${p(loaded.ms, 95)}`);
  console.log(`latency ratio under load / idle: p50 ${ratio50.toFixed(2)}x, p95 ${ratio95.toFixed(2)}x (target <= 2x)`);
  console.log(`proxy after: active ${st.stats.active}, heldBytes ${st.stats.heldBytes}, fds ${st.fds}, rss ${(st.rss / 1e6).toFixed(1)} MB`);
  process.exitCode = closedAfter.length === o.slow && loaded.failed === 0 && ratio50 <= 2 ? 0 : 1;
} finally {
  await child.close();
  await origin.close();
}
