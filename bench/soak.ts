// Soak: N connections through one proxy process, mixed — allowed (SNI), TSID (no SNI: the
// probed certificate names toos.cisco.com, blocked as in the field case), spoofed SNI (TSID
// prefers the certificate: blocked), and plain HTTP on the TLS port (inspection failure).
// Afterwards: file descriptors and the TSID cache back to their post-warm-up baseline, RSS
// growth under 10 %, no allowed connection failed. Bounded; prints its numbers.
//   node dist-rel/bench/soak.js [--connections 100000] [--concurrency 48] [--warmup 3000]
import * as net from 'node:net';
import { fmt, numArgs, percentile, roundTrip, sleep, startEchoOrigin, startProxyChild, type ChildStats } from './rel-lib.js';

const o = numArgs({ connections: 100_000, concurrency: 48, warmup: 3000, seconds: 1500 });
const policy = `
name: soak
settings:
  tsid: { enabled: true, profile: snort3-legacy }
  timeouts: { peekMs: 5000, probeMs: 3000, connectMs: 3000, idleMs: 10000 }
rules:
  - name: BLOCK_TOOS
    action: Block with reset
    urls: { literals: [toos.cisco.com] }
  - name: ALLOW_ALL
    action: Allow
`;

type Kind = 'allow' | 'tsid' | 'spoofed' | 'plain';
const kindOf = (i: number): Kind => (['allow', 'allow', 'allow', 'allow', 'allow', 'tsid', 'tsid', 'spoofed', 'plain', 'plain'] as const)[i % 10];

function plainHttp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    let reset = false;
    s.on('error', (e: NodeJS.ErrnoException) => (reset = e.code === 'ECONNRESET'));
    s.on('data', () => undefined);
    s.on('close', () => resolve(reset));
    setTimeout(() => s.destroy(), 10_000).unref();
  });
}

const counts: Record<string, number> = {};
const allowMs: number[] = [];
async function one(port: number, i: number): Promise<void> {
  const k = kindOf(i);
  let outcome: string;
  if (k === 'plain') outcome = (await plainHttp(port)) ? 'plain:reset' : 'plain:UNEXPECTED';
  else {
    const r = await roundTrip(port, k === 'allow' ? 'tools.cisco.com' : k === 'spoofed' ? 'bad.example' : null);
    if (k === 'allow') {
      outcome = r.ok ? 'allow:ok' : `allow:FAILED(${r.why})`;
      if (r.ok && allowMs.length < 200_000) allowMs.push(r.ms);
    } else outcome = r.ok ? `${k}:UNEXPECTED-ok` : `${k}:refused`;
  }
  counts[outcome] = (counts[outcome] ?? 0) + 1;
}

async function run(port: number, from: number, to: number, deadline: number): Promise<number> {
  let next = from;
  const worker = async () => {
    while (next < to && performance.now() < deadline) await one(port, next++);
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  return next - from;
}

async function settle(child: { stats(): Promise<ChildStats> }): Promise<ChildStats> {
  for (let k = 0; k < 100; k++) {
    const s = await child.stats();
    if (s.stats.active === 0) return s;
    await sleep(100);
  }
  return child.stats();
}

const origin = await startEchoOrigin();
const child = await startProxyChild(policy, { host: '127.0.0.1', port: origin.port });
try {
  const deadline = performance.now() + o.seconds * 1000;
  await run(child.port, 0, o.warmup, deadline);
  const base = await settle(child);
  const t0 = performance.now();
  const done = await run(child.port, o.warmup, o.warmup + o.connections, deadline);
  const secs = (performance.now() - t0) / 1000;
  await sleep(500);
  const end = await settle(child);
  const growth = (end.rss - base.rss) / base.rss;
  console.log(`soak: ${done} connections after ${o.warmup} warm-up, concurrency ${o.concurrency}, ${secs.toFixed(1)} s (${Math.round(done / secs)} conn/s)${done < o.connections ? ' — STOPPED BY --seconds' : ''}`);
  console.log(`  outcomes: ${JSON.stringify(counts)}`);
  console.log(`  proxy actions: ${JSON.stringify(end.actions)}; close reasons: ${JSON.stringify(end.closeReasons)}`);
  console.log(`  allowed round trip: p50 ${fmt(percentile(allowMs, 50))}, p99 ${fmt(percentile(allowMs, 99))}`);
  console.log(`  fds: baseline ${base.fds}, after ${end.fds}`);
  console.log(`  TSID cache entries: baseline ${base.stats.tsidCacheEntries}, after ${end.stats.tsidCacheEntries}; probes ${base.stats.tsidProbes} -> ${end.stats.tsidProbes}; hits ${end.stats.tsidCacheHits}`);
  console.log(`  RSS after gc: baseline ${(base.rss / 1e6).toFixed(1)} MB, after ${(end.rss / 1e6).toFixed(1)} MB, growth ${(growth * 100).toFixed(1)} % (target < 10 %); heap ${(base.heapUsed / 1e6).toFixed(1)} -> ${(end.heapUsed / 1e6).toFixed(1)} MB`);
  console.log(`  proxy: active ${end.stats.active}, heldBytes ${end.stats.heldBytes}, connections ${end.stats.connections}`);
  const failedAllowed = Object.entries(counts).filter(([k]) => k.includes('FAILED') || k.includes('UNEXPECTED'));
  process.exitCode = failedAllowed.length === 0 && end.fds <= base.fds && growth < 0.1 && end.stats.tsidCacheEntries <= base.stats.tsidCacheEntries ? 0 : 1;
} finally {
  await child.close();
  await origin.close();
}
