// Attack on the connection-event sink of the real `peekwall run` process, over real sockets on
// loopback. Four scenarios, each bounded by a connection count and timeouts:
//   full     events file on a tiny tmpfs that fills up, then grows (mount -o remount): events
//            written / dropped, are all lines whole, does writing resume by itself?
//            Without mount (not root), /dev/full: no recovery part.
//   deleted  the events file is unlinked mid-run: do later events reach a recreated file?
//   rotate   logrotate: `mv events.jsonl events.1` + SIGHUP, then again + SIGUSR1.
//   stuck    `events: stdout` into a pipe nobody reads (and, for comparison, one that is read):
//            RSS, drops on /metrics, time to exit after SIGTERM.
// Each connection sends a recorded ClientHello that the policy blocks: one event each.
// Prints figures, then one `ok:`/`FAIL:` line per expected behaviour; exits 1 if any failed.
//   node dist/bench/attack-event-sink.js [--connections 4000] [--concurrency 32] [--drainMs 2000]
//        [--tmpfsKb 64] [--baseline 1] [--only full,deleted,rotate,stuck]
// (--baseline 0: skip the stdout-read run that `stuck` compares RSS with.)
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { numArgs } from './rel-lib.js';
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
} from './lib/run-process.js';

const o = numArgs({ connections: 4000, concurrency: 32, drainMs: 2000, tmpfsKb: 64, baseline: 1 });
const onlyAt = process.argv.indexOf('--only');
const only = new Set((onlyAt > 0 ? process.argv[onlyAt + 1] : 'full,deleted,rotate,stuck').split(','));
const exitBound = o.drainMs + 10_000;
const blast = (port: number, n: number) => sendHellos(port, n, o.concurrency);

const eventLines = (stderr: string): string[] => stderr.split('\n').filter((l) => /event|Debugger/i.test(l) && !/listener on|admin on/.test(l));
const sinkFigures = (m: Record<string, number>): string =>
  `metrics written=${m.peekwall_events_written_total ?? 'absent'} dropped=${m.peekwall_events_dropped_total ?? 'absent'} connections=${m.peekwall_connections_total ?? '?'}`;
const exitText = (ex: Awaited<ReturnType<RunningPeekwall['term']>>): string =>
  ex === 'hung' ? `still running ${exitBound} ms after SIGTERM (killed)` : `exit ${ex.code} ${ex.ms} ms after SIGTERM`;

let failures = 0;
const verdict = (name: string, ok: boolean, what: string) => {
  if (!ok) failures++;
  console.log(`  ${ok ? 'ok' : 'FAIL'}: ${name}: ${what}`);
};

const root = mkdtempSync(join(tmpdir(), 'peekwall-sink-attack-'));
const running: RunningPeekwall[] = [];
const start = async (dir: string, events: string, stdout: 'ignore' | 'pipe') => {
  const r = await startPeekwallRun({ dir, events, drainMs: o.drainMs, stdout });
  running.push(r);
  return r;
};
try {
  if (only.has('full')) {
    const dir = join(root, 'full');
    const disk = join(dir, 'disk');
    mkdirSync(disk, { recursive: true });
    const whyNot = mountTmpfs(disk, o.tmpfsKb);
    const mounted = whyNot === null;
    if (whyNot !== null) console.log(`full: ${whyNot}: /dev/full instead, no recovery part`);
    const file = mounted ? join(disk, 'events.jsonl') : '/dev/full';
    try {
      const r = await start(dir, file, 'ignore');
      const half = Math.ceil(o.connections / 2);
      await blast(r.port, half);
      const m1 = await settled(r, half);
      const l1 = mounted ? jsonLines(file) : { whole: 0, cut: 0 };
      console.log(`full: ${half} connections into ${mounted ? `a ${o.tmpfsKb} KiB tmpfs` : '/dev/full'}: file lines whole=${l1.whole} cut=${l1.cut}; ${sinkFigures(m1)}`);
      if (mounted) {
        growTmpfs(disk, 64 * 1024);
        await blast(r.port, o.connections - half);
        await settled(r, o.connections);
        // The sink retries on a timer: wait (bounded) until every event is written or dropped.
        // Without those metrics this waits the whole bound.
        const m2 = await accounted(r, o.connections, 5000);
        const l2 = jsonLines(file);
        console.log(`full: tmpfs grown to 64 MiB, ${o.connections - half} more connections: file lines whole=${l2.whole} cut=${l2.cut}; ${sinkFigures(m2)}`);
        const after = l2.whole - l1.whole;
        verdict('full', after >= o.connections - half, `writing resumed without a restart: ${after} lines after the disk grew (want >= ${o.connections - half})`);
        verdict('full', l2.cut === 0, `no cut line in the file (${l2.cut})`);
        const dropped = m2.peekwall_events_dropped_total;
        verdict('full', dropped !== undefined && dropped + l2.whole === o.connections, `lines ${l2.whole} + dropped ${dropped ?? 'absent'} = ${o.connections} events`);
      }
      const ex = await r.term(exitBound);
      console.log(`full: stderr about events: ${JSON.stringify(eventLines(r.stderr()))}`);
      console.log(`full: ${exitText(ex)}`);
      verdict('full', (r.stderr().match(/events\/write-failed/g) ?? []).length === 1, 'the failure is said once on stderr (events/write-failed)');
      if (mounted) verdict('full', /writing to .* again/.test(r.stderr()), 'the recovery is said on stderr');
    } finally {
      for (const r of running) r.kill();
      if (mounted) unmountTmpfs(disk);
    }
  }

  if (only.has('deleted')) {
    const dir = join(root, 'deleted');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'events.jsonl');
    const r = await start(dir, file, 'ignore');
    const q = Math.max(1, Math.floor(o.connections / 4));
    await blast(r.port, q);
    await settled(r, q);
    await accounted(r, q, 5000);
    const before = jsonLines(file).whole;
    unlinkSync(file);
    await blast(r.port, q);
    const back = await until(() => existsSync(file), 5000);
    await blast(r.port, q);
    await settled(r, 3 * q);
    await until(() => jsonLines(file).whole >= q, 3000);
    const after = jsonLines(file);
    const m = await r.metrics();
    console.log(`deleted: ${q} connections (${before} lines), unlink, ${q} + ${q} more: file ${back ? 'recreated' : 'NOT recreated'}, lines whole=${after.whole} cut=${after.cut}; ${sinkFigures(m)}`);
    const ex = await r.term(exitBound);
    console.log(`deleted: stderr about events: ${JSON.stringify(eventLines(r.stderr()))}`);
    verdict('deleted', back && after.whole >= q, `events after the unlink reach a recreated file (${after.whole} lines, want >= ${q})`);
    verdict('deleted', /events\/file-replaced/.test(r.stderr()), 'a warning says the file was deleted (events/file-replaced)');
    verdict('deleted', ex !== 'hung' && ex.code === 0, exitText(ex));
  }

  if (only.has('rotate')) {
    const dir = join(root, 'rotate');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'events.jsonl');
    const r = await start(dir, file, 'ignore');
    const q = Math.max(1, Math.floor(o.connections / 4));
    const results: string[] = [];
    for (const [i, sig] of (['SIGHUP', 'SIGUSR1'] as const).entries()) {
      await blast(r.port, q);
      await settled(r, (2 * i + 1) * q);
      if (existsSync(file)) renameSync(file, `${file}.${i + 1}`);
      // Traffic once the process answered the signal (any stderr line), bounded.
      await r.signal(sig, /\n/, 3000);
      if (r.child.exitCode !== null) {
        verdict('rotate', false, `${sig} ended the process (${r.child.exitCode})`);
        break;
      }
      await blast(r.port, q);
      await settled(r, (2 * i + 2) * q);
      await until(() => jsonLines(file).whole >= q, 3000);
      const now = jsonLines(file).whole;
      results.push(`mv + ${sig}: events.jsonl.${i + 1} ${jsonLines(`${file}.${i + 1}`).whole} lines, new events.jsonl ${now} lines`);
      verdict('rotate', now >= q, `after mv + ${sig} new events go to a new events.jsonl (${now} lines, want >= ${q})`);
    }
    console.log(`rotate: ${results.join('; ')}`);
    console.log(`rotate: stderr: ${JSON.stringify(r.stderr().split('\n').filter((l) => /event|Debugger|reload/i.test(l) && !/listener on|admin on/.test(l)))}`);
    verdict('rotate', !/Debugger listening/.test(r.stderr()), 'SIGUSR1 does not open the Node debugger');
    if (r.child.exitCode === null) {
      const ex = await r.term(exitBound);
      verdict('rotate', ex !== 'hung' && ex.code === 0, exitText(ex));
    }
  }

  if (only.has('stuck')) {
    const dir = join(root, 'stuck');
    mkdirSync(dir, { recursive: true });
    const peakRss = async (r: RunningPeekwall) => {
      const rss0 = r.rssKb();
      let max = rss0;
      const sampler = setInterval(() => (max = Math.max(max, r.rssKb())), 100);
      await blast(r.port, o.connections);
      const m = await settled(r, o.connections);
      clearInterval(sampler);
      return { rss0, max: Math.max(max, r.rssKb()), m };
    };
    const mb = (kb: number) => Math.round(kb / 1024);
    // The same load with stdout read: the RSS a run grows by anyway (heap, sockets).
    let b: { rss0: number; max: number } | null = null;
    if (o.baseline) {
      const base = await start(dir, 'stdout', 'pipe');
      let seen = 0;
      base.child.stdout!.on('data', (d: Buffer) => (seen += d.length));
      b = await peakRss(base);
      await base.term(exitBound);
      console.log(`stuck: baseline, stdout read: RSS ${mb(b.rss0)} -> max ${mb(b.max)} MB (${Math.round(seen / 1024)} KiB of events read)`);
    }

    const r = await start(dir, 'stdout', 'pipe');
    // Never read: out of flowing mode, so only the pipe's and the stream's own buffers
    // (~80 KiB) ever leave the child.
    r.child.stdout!.pause();
    const s = await peakRss(r);
    console.log(`stuck: ${o.connections} connections, stdout never read: RSS ${mb(s.rss0)} -> max ${mb(s.max)} MB; ${sinkFigures(s.m)}`);
    console.log(`stuck: RSS growth ${mb(s.max - s.rss0)} MB never read${b ? ` vs ${mb(b.max - b.rss0)} MB read` : ''}`);
    const ex = await r.term(exitBound);
    console.log(`stuck: drainMs ${o.drainMs}: ${exitText(ex)}`);
    console.log(`stuck: stderr about events: ${JSON.stringify(eventLines(r.stderr()))}`);
    verdict('stuck', ex !== 'hung' && ex.ms <= o.drainMs + 3000, 'SIGTERM ends it within drainMs + 3 s');
    verdict('stuck', (s.m.peekwall_events_dropped_total ?? 0) > 0, `drops counted on /metrics (${s.m.peekwall_events_dropped_total ?? 'absent'})`);
    verdict('stuck', /events\/backpressure/.test(r.stderr()), 'the backpressure is said on stderr (events/backpressure)');
  }
} finally {
  for (const r of running) r.kill();
  rmSync(root, { recursive: true, force: true });
}
console.log(`verdicts failed: ${failures}`);
process.exitCode = failures === 0 ? 0 : 1;
