// Reload under load: the policy is reloaded R times while allowed traffic runs; no connection
// the policy allows may fail, and new connections see each new policy (a canary name is
// allowed by one policy version and blocked by the other). Bounded; prints its numbers.
//   node dist-rel/bench/reload-under-load.js [--reloads 100] [--intervalMs 50] [--concurrency 16]
import { numArgs, percentile, fmt, roundTrip, sleep, startEchoOrigin, startProxyChild } from './rel-lib.js';

const o = numArgs({ reloads: 100, intervalMs: 50, concurrency: 16 });
// Both versions allow tools.cisco.com; they differ on the canary, so each reload is visible.
const version = (n: number) => `
name: reload-v${n}
settings:
  tsid: { enabled: false }
  timeouts: { peekMs: 5000, connectMs: 3000, idleMs: 10000 }
rules:
  - name: CANARY_V${n}
    action: ${n % 2 === 0 ? 'Allow' : 'Block with reset'}
    urls: { literals: [canary.test] }
  - name: ALLOW_ALL
    action: Allow
`;

const origin = await startEchoOrigin();
const child = await startProxyChild(version(0), { host: '127.0.0.1', port: origin.port });
try {
  let stop = false;
  const failures: string[] = [];
  const ms: number[] = [];
  let allowed = 0;
  const worker = async () => {
    while (!stop) {
      const r = await roundTrip(child.port, 'tools.cisco.com');
      if (r.ok) {
        allowed++;
        ms.push(r.ms);
      } else failures.push(r.why);
    }
  };
  const workers = Array.from({ length: o.concurrency }, worker);
  let refused = 0;
  let canaryMismatch = 0;
  const t0 = performance.now();
  for (let i = 1; i <= o.reloads; i++) {
    await sleep(o.intervalMs);
    const r = await child.reload(version(i));
    if (!r.ok) refused++;
    // A new connection right after the reload must see version i.
    const canary = await roundTrip(child.port, 'canary.test');
    if (canary.ok !== (i % 2 === 0)) canaryMismatch++;
  }
  stop = true;
  await Promise.all(workers);
  const secs = (performance.now() - t0) / 1000;
  const st = await child.stats();
  console.log(`reload under load: ${o.reloads} reloads every ~${o.intervalMs} ms over ${secs.toFixed(1)} s, ${o.concurrency} concurrent allowed clients`);
  console.log(`  allowed connections: ${allowed} ok, ${failures.length} failed ${failures.length ? JSON.stringify(failures.slice(0, 5)) : ''}`);
  console.log(`  allowed round trip: p50 ${fmt(percentile(ms, 50))}, p99 ${fmt(percentile(ms, 99))}`);
  console.log(`  reloads refused: ${refused}; proxy counted ${st.stats.reloads} reloads`);
  console.log(`  canary after each reload matched the new version: ${o.reloads - canaryMismatch}/${o.reloads}`);
  console.log(`  proxy actions: ${JSON.stringify(st.actions)}`);
  process.exitCode = failures.length === 0 && refused === 0 && canaryMismatch === 0 ? 0 : 1;
} finally {
  await child.close();
  await origin.close();
}
