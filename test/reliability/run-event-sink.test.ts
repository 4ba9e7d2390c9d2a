// The real `peekwall run` process when its events destination misbehaves: a disk that fills
// and then has room again, an events file deleted or rotated away (SIGHUP, SIGUSR1), and a
// stdout nobody reads. Each connection sends a recorded ClientHello the policy blocks: one
// event each. Loopback only; every wait is bounded by a count or a deadline, none is a sleep.
import t, { type Test } from 'tap';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  accounted,
  growTmpfs,
  jsonLines,
  mountTmpfs,
  sendHellos,
  settled,
  startPeekwallRun,
  unmountTmpfs,
  until,
  type RunningPeekwall,
} from '../../bench/lib/run-process.js';

const DRAIN_MS = 1000;

async function run(t: Test, dir: string, events: string, stdout: 'ignore' | 'pipe'): Promise<RunningPeekwall> {
  const r = await startPeekwallRun({ dir, events, drainMs: DRAIN_MS, stdout });
  t.teardown(() => r.kill());
  return r;
}

const root = mkdtempSync(join(tmpdir(), 'peekwall-run-sink-'));
const disk = join(root, 'disk');
mkdirSync(disk);
// CI runs as root on Linux, where this mounts; elsewhere the skip says why it did not run.
const noTmpfs = mountTmpfs(disk, 64);
t.teardown(() => {
  if (noTmpfs === null) unmountTmpfs(disk);
  rmSync(root, { recursive: true, force: true });
});

t.test('a full disk: said once, no cut line, writing resumes when there is room, no restart', { skip: noTmpfs ?? false }, async (t) => {
  const file = join(disk, 'events.jsonl');
  const r = await run(t, root, file, 'ignore');
  const N = 300; // ~250 KiB of lines into a 64 KiB disk
  await sendHellos(r.port, N);
  await settled(r, N);
  t.ok(await until(() => /events\/write-failed/.test(r.stderr()), 5000), 'the full disk is said (events/write-failed)');
  t.match(r.stderr(), /cannot write connection events to .*events\.jsonl: ENOSPC/);
  const m1 = await r.metrics();
  t.ok(m1.peekwall_events_written_total! < N, `not everything fit (${m1.peekwall_events_written_total} written)`);

  growTmpfs(disk, 8192);
  const m2 = await accounted(r, N);
  t.equal(m2.peekwall_events_written_total! + m2.peekwall_events_dropped_total!, N, 'every event written or counted as dropped');
  t.ok(await until(() => /writing to .*events\.jsonl again; \d+ event\(s\) were dropped/.test(r.stderr()), 5000), 'the recovery is said, with the count');
  await sendHellos(r.port, 10);
  await settled(r, N + 10);
  const m3 = await accounted(r, N + 10);
  const lines = jsonLines(file);
  t.equal(lines.cut, 0, 'no cut line in the file');
  t.equal(lines.whole, m3.peekwall_events_written_total, 'every written event is a whole line in the file');
  t.ok(lines.whole >= N - m3.peekwall_events_dropped_total! + 10, `the events after the disk grew are there (${lines.whole} lines)`);
  t.equal(r.stderr().match(/events\/write-failed/g)?.length, 1, 'said once, not per event');
  const ex = await r.term(DRAIN_MS + 10_000);
  t.same(ex !== 'hung' && ex.code, 0, 'SIGTERM: exit 0');
});

t.test('the events file deleted, then rotated with SIGUSR1 and SIGHUP: events reach the new file', async (t) => {
  const dir = join(root, 'rotate');
  mkdirSync(dir);
  const file = join(dir, 'events.jsonl');
  const r = await run(t, dir, file, 'ignore');
  await sendHellos(r.port, 20);
  await accounted(r, 20);
  t.equal(jsonLines(file).whole, 20);

  unlinkSync(file);
  t.ok(await until(() => /events\/file-replaced/.test(r.stderr()), 5000), 'the periodic check notices the deletion and says so');
  t.ok(await until(() => existsSync(file), 5000), 'and recreates the file');
  await sendHellos(r.port, 20);
  await accounted(r, 40);
  t.equal(jsonLines(file).whole, 20, 'later events are in the recreated file');

  let total = 40;
  for (const [i, sig] of (['SIGUSR1', 'SIGHUP'] as const).entries()) {
    renameSync(file, `${file}.${i + 1}`);
    t.ok(await r.signal(sig, new RegExp(`reopened .*events\\.jsonl \\(${sig}\\)`)), `${sig}: the file is reopened`);
    await sendHellos(r.port, 15);
    total += 15;
    await accounted(r, total);
    t.same(jsonLines(file), { whole: 15, cut: 0 }, `after mv + ${sig} the new events.jsonl has the new events`);
    t.same(jsonLines(`${file}.${i + 1}`), { whole: i === 0 ? 20 : 15, cut: 0 }, 'the rotated file keeps the earlier ones');
    if (sig === 'SIGUSR1') {
      t.notMatch(r.stderr(), /policy reload/, 'SIGUSR1 reopens only: no policy reload');
      t.notMatch(r.stderr(), /Debugger listening/, "SIGUSR1 no longer opens Node's debugger");
    }
  }
  const ex = await r.term(DRAIN_MS + 10_000);
  t.same(ex !== 'hung' && ex.code, 0, 'SIGTERM: exit 0');
});

t.test('stdout nobody reads: memory bounded, drops counted on /metrics, SIGTERM exits by the drain deadline', async (t) => {
  const dir = join(root, 'stuck');
  mkdirSync(dir);
  const r = await run(t, dir, 'stdout', 'pipe');
  r.child.stdout!.pause(); // never read: only the pipe's ~64 KiB (+ the stream's) leave the child
  const rss0 = r.rssKb();
  let rssMax = rss0;
  const N = 2000; // ~1.6 MiB of lines: past the sink's 1 MiB bound
  for (let done = 0; done < N; done += 250) {
    await sendHellos(r.port, 250);
    rssMax = Math.max(rssMax, r.rssKb());
  }
  const m = await settled(r, N);
  t.ok(m.peekwall_events_dropped_total! > 0, `drops counted on /metrics (${m.peekwall_events_dropped_total})`);
  t.ok(m.peekwall_events_written_total! + m.peekwall_events_dropped_total! + m.peekwall_events_queued! >= N, 'every event written, dropped or waiting');
  t.equal(r.stderr().match(/events\/backpressure/g)?.length, 1, 'the stall is said once (events/backpressure)');
  // Generous: the events alone were 1.6 MiB and an unbounded buffer grew by ~11 KiB per event.
  t.ok(rssMax - rss0 < 150 * 1024, `RSS ${Math.round(rss0 / 1024)} -> ${Math.round(rssMax / 1024)} MB`);
  const ex = await r.term(DRAIN_MS + 10_000);
  t.not(ex, 'hung', 'SIGTERM ends the process although stdout never drains');
  if (ex !== 'hung') {
    t.equal(ex.code, 0);
    t.ok(ex.ms < DRAIN_MS + 5000, `exit ${ex.ms} ms after SIGTERM (drainMs ${DRAIN_MS})`);
  }
  t.match(r.stderr(), /\d+ event\(s\) not written to stdout by the shutdown deadline were dropped/, 'what was still waiting is said');
});
