// Reload under load: the policy is reloaded R times while allowed traffic runs; no connection
// the policy allows may fail, and new connections see each new policy (a canary name is
// allowed by one policy version and blocked by the other). With --feedEntries N every version
// carries an N-entry Security Intelligence feed read from disk, as `peekwall run` reloads it,
// and the script reports the proxy's longest event-loop stall during the reloads (what every
// connection waited at worst) and the longest round trip a client saw. Bounded.
//   node dist-rel/bench/reload-under-load.js [--reloads 100] [--intervalMs 50] [--concurrency 16]
//        [--feedEntries 0] [--feedKind url|network] [--loader worker|inline]
// --loader inline compiles on the proxy's event loop (how `peekwall run` reloaded before the
// loader's worker thread), for a before/after on one build.
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { numArgs, percentile, fmt, roundTrip, sleep, startEchoOrigin, startProxyChild, type Stall } from './rel-lib.js';

const o = numArgs({ reloads: 100, intervalMs: 50, concurrency: 16, feedEntries: 0 });
const strArg = (name: string, allowed: readonly string[]): string => {
  const a = process.argv.indexOf(`--${name}`);
  const v = a >= 0 ? process.argv[a + 1] : allowed[0];
  if (!allowed.includes(v)) throw new Error(`--${name} takes ${allowed.join(' | ')}, not ${v}`);
  return v;
};
const feedKind = strArg('feedKind', ['url', 'network']);
const loader = strArg('loader', ['worker', 'inline']) as 'worker' | 'inline';

/** Feed line i: distinct names (or non-adjacent /32s, so nothing merges), none of them hit by the traffic. */
function feedLine(i: number): string {
  if (feedKind === 'url') return `h${i}.z${i % 1009}.feed.test\n`;
  const a = 0x0a000000 + 2 * i;
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}\n`;
}

async function writeFeed(path: string, n: number): Promise<void> {
  const out = createWriteStream(path);
  const chunk: string[] = [];
  for (let i = 0; i < n; i++) {
    chunk.push(feedLine(i));
    if (chunk.length === 10_000 || i === n - 1) {
      if (!out.write(chunk.join(''))) await new Promise<void>((r) => out.once('drain', () => r()));
      chunk.length = 0;
    }
  }
  await new Promise<void>((r, j) => out.end((e?: Error | null) => (e ? j(e) : r())));
}

const dir = o.feedEntries > 0 ? mkdtempSync(join(tmpdir(), 'peekwall-reload-')) : null;
const feed = dir ? join(dir, 'feed.txt') : null;
if (feed) await writeFeed(feed, o.feedEntries);
const si = feed ? `securityIntelligence:\n  ${feedKind}:\n    - name: FEED\n      action: block\n      feed: ${JSON.stringify(feed)}\n` : '';

// Both versions allow tools.cisco.com; they differ on the canary, so each reload is visible.
const version = (n: number) => `
name: reload-v${n}
settings:
  tsid: { enabled: false }
  timeouts: { peekMs: 5000, connectMs: 3000, idleMs: 10000 }
${si}rules:
  - name: CANARY_V${n}
    action: ${n % 2 === 0 ? 'Allow' : 'Block with reset'}
    urls: { literals: [canary.test] }
  - name: ALLOW_ALL
    action: Allow
`;

const mb = (b: number) => `${(b / 1048576).toFixed(0)} MB`;
// A loop, not Math.max(...xs): a long run collects more round trips than a call takes arguments.
const maxOf = (xs: readonly number[]) => xs.reduce((m, x) => (x > m ? x : m), 0);
const origin = await startEchoOrigin();
// A 9.5M-entry feed takes seconds to load on the event loop; the bound is for the start and each reload.
const child = await startProxyChild(version(0), { host: '127.0.0.1', port: origin.port }, {
  stallMonitor: true,
  loadTimeoutMs: 60_000 + o.feedEntries / 50,
  ...(dir ? { policyDir: dir, loader } : {}),
});
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
  const before = await child.stats();
  await child.stall();
  const workers = Array.from({ length: o.concurrency }, worker);
  // The same traffic without reloads first: the stall any loaded event loop has anyway.
  await sleep(Math.max(200, o.intervalMs));
  const baseline = await child.stall();
  const baselineMs = ms.length;
  let refused = 0;
  let canaryMismatch = 0;
  let worst: Stall = { gapMs: 0, eldMaxMs: 0 };
  let eldMaxMs = 0;
  let cpuGapMs = 0;
  const reloadMs: number[] = [];
  const t0 = performance.now();
  for (let i = 1; i <= o.reloads; i++) {
    await sleep(o.intervalMs);
    const r0 = performance.now();
    const r = await child.reload(version(i));
    reloadMs.push(performance.now() - r0);
    if (!r.ok) refused++;
    // A new connection right after the reload must see version i.
    const canary = await roundTrip(child.port, 'canary.test');
    if (canary.ok !== (i % 2 === 0)) canaryMismatch++;
    const s = await child.stall();
    if (s.gapMs > worst.gapMs) worst = s;
    eldMaxMs = Math.max(eldMaxMs, s.eldMaxMs);
    cpuGapMs = Math.max(cpuGapMs, s.cpuGapMs ?? 0);
  }
  const secs = (performance.now() - t0) / 1000;
  const duringMs = ms.length;
  // Then as long again (at most 20 s) without reloads: on a shared machine the event loop
  // stalls now and then anyway (preemption, GC), and a longer window sees longer ones.
  await child.stall();
  await sleep(Math.min(20_000, secs * 1000));
  const control = await child.stall();
  stop = true;
  await Promise.all(workers);
  const st = await child.stats();
  const during = ms.slice(baselineMs, duringMs);
  console.log(`reload under load: ${o.reloads} reloads every ~${o.intervalMs} ms over ${secs.toFixed(1)} s, ${o.concurrency} concurrent allowed clients`);
  if (feed) console.log(`  feed: ${o.feedEntries} ${feedKind} entries, ${mb(statSync(feed).size)}, in every policy version; loaded ${loader === 'worker' ? 'in the loader thread' : 'on the event loop'}`);
  console.log(`  allowed connections: ${allowed} ok, ${failures.length} failed ${failures.length ? JSON.stringify(failures.slice(0, 5)) : ''}`);
  console.log(`  allowed round trip: p50 ${fmt(percentile(ms, 50))}, p99 ${fmt(percentile(ms, 99))}`);
  console.log(`  longest allowed round trip: during reloads ${fmt(maxOf(during))}, before reloads ${fmt(maxOf(ms.slice(0, baselineMs)))}, after ${fmt(maxOf(ms.slice(duringMs)))}`);
  console.log(`  longest event-loop stall in the proxy: during reloads ${fmt(worst.gapMs)} (monitorEventLoopDelay max ${fmt(eldMaxMs)}), before reloads ${fmt(baseline.gapMs)}, after (${Math.min(20, secs).toFixed(1)} s, no reloads) ${fmt(control.gapMs)}`);
  const split = (s: Stall) => (s.cpuMs === undefined || s.waitMs === undefined ? 'n/a' : `${fmt(s.cpuMs)} on the CPU, ${fmt(s.waitMs)} waiting for one`);
  console.log(`    of which: during reloads ${split(worst)}; after ${split(control)}`);
  if (control.cpuGapMs !== undefined) console.log(`  longest on-CPU stretch between two ticks (the proxy's own work holding the loop): during reloads ${fmt(cpuGapMs)}, after ${fmt(control.cpuGapMs)}`);
  console.log(`  reload took: p50 ${fmt(percentile(reloadMs, 50))}, max ${fmt(maxOf(reloadMs))}`);
  console.log(`  proxy RSS after GC: ${mb(before.rss)} before reloads, ${mb(st.rss)} after; peak ${mb(st.peakRss)}`);
  console.log(`  reloads refused: ${refused}; proxy counted ${st.stats.reloads} reloads`);
  console.log(`  canary after each reload matched the new version: ${o.reloads - canaryMismatch}/${o.reloads}`);
  console.log(`  proxy actions: ${JSON.stringify(st.actions)}`);
  process.exitCode = failures.length === 0 && refused === 0 && canaryMismatch === 0 ? 0 : 1;
} finally {
  await child.close();
  await origin.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
}
