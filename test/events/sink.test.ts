// The event sink when its destination misbehaves: a stalled stream (bounded buffer, drops
// counted, one line per episode, recovery), a path that cannot be opened and then can
// (events held, then written), a full disk (tmpfs: no cut line, writing resumes), a file moved
// away (reopen) or deleted (noticed by the periodic check), and a shutdown that does not wait
// for a destination that never answers.
import t, { type Test } from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { buildConnectionEvent, createEventLog, parseEventLines, type ConnectionEvent } from '../../src/events/index.js';
import { startProxy } from '../../src/proxy/index.js';
import type { PeekwallError } from '../../src/util/errors.js';
import { growTmpfs, mountTmpfs, scrapeMetrics, unmountTmpfs, until } from '../../bench/lib/run-process.js';
import { policyFrom } from '../proxy/lib/net.js';

const event = (i: number): ConnectionEvent =>
  buildConnectionEvent({
    time: new Date(Date.UTC(2025, 11, 2, 18, 0, 0, i)),
    phase: 'begin',
    flow: { srcIp: '10.12.1.8', srcPort: 40000 + (i % 20000), dstIp: '72.163.4.38', dstPort: 443, protocol: 'tcp', scheme: 'https', sni: `host${i}.test` },
    identity: null,
    verdict: null,
    action: 'Block with reset',
    reason: 'Inspection Failure',
    closeReason: 'wire/truncated',
    applicationProtocol: 'unknown',
  });

/** A stream whose writes are held (no callback) until release(). */
function heldStream() {
  const pending: (() => void)[] = [];
  const chunks: string[] = [];
  let holding = true;
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      if (holding) pending.push(cb);
      else cb();
    },
  });
  return {
    stream,
    chunks,
    release() {
      holding = false;
      for (const cb of pending.splice(0)) cb();
    },
  };
}

/** Collects what the sink says; `next(code or /re/)` waits for it (bounded, to fail and not hang). */
function listener() {
  const said: string[] = [];
  const waiting: { match: (s: string) => boolean; resolve: () => void }[] = [];
  const hear = (s: string) => {
    said.push(s);
    for (const w of waiting.filter((w) => w.match(s))) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve();
    }
  };
  return {
    said,
    onError: (e: PeekwallError) => hear(e.code),
    onNotice: (m: string) => hear(m),
    heard(m: string | RegExp, ms = 5000): Promise<boolean> {
      const match = (s: string) => (typeof m === 'string' ? s === m : m.test(s));
      if (said.some(match)) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), ms);
        waiting.push({ match, resolve: () => (clearTimeout(timer), resolve(true)) });
      });
    },
  };
}

const tmp = (t: Test): string => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-sink-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

t.test('a stalled destination: bounded buffer, drops counted, said once, then recovery with the count', async (t) => {
  const h = heldStream();
  const l = listener();
  const log = createEventLog({ destination: h.stream, maxBufferedBytes: 8 * 1024, onError: l.onError, onNotice: l.onNotice });
  t.teardown(() => log.close(0));
  for (let i = 0; i < 200; i++) log.write(event(i));
  const line = JSON.stringify(event(0)).length;
  t.ok(log.queued <= Math.ceil((8 * 1024) / line), `at most the bound waits (${log.queued} events of ~${line} bytes)`);
  t.equal(log.dropped + log.queued, 200, `the rest is counted as dropped (${log.dropped})`);
  t.ok(log.dropped > 150);
  t.same(l.said, ['events/backpressure'], 'said once, with its code');
  t.equal(log.lastError?.code, 'events/backpressure');
  // More events while stalled: still bounded, still no second line.
  for (let i = 200; i < 300; i++) log.write(event(i));
  t.equal(log.dropped + log.queued, 300);
  t.same(l.said, ['events/backpressure']);

  const dropped = log.dropped;
  h.release();
  t.ok(await l.heard(/writing to stream again/), 'recovery is said');
  t.match(l.said[1], new RegExp(`; ${dropped} event\\(s\\) were dropped while it was not keeping up`), 'with how many were dropped');
  for (let i = 300; i < 305; i++) log.write(event(i));
  await log.flush();
  const back = parseEventLines(h.chunks.join(''), 'stream');
  t.same(back.errors, []);
  t.equal(back.events.length, 300 - dropped + 5, 'everything not dropped arrived, whole');
  t.equal(log.written, back.events.length);
  t.same(back.events.slice(-5).map((e) => e.srcPort), [40300, 40301, 40302, 40303, 40304], 'writing works again after the recovery');
  t.equal(l.said.length, 2, 'one line when it started, one when it ended');
});

t.test('a path that cannot be opened: said once, events held (bounded), written once it can be', async (t) => {
  const dir = tmp(t);
  writeFileSync(join(dir, 'logs'), 'a file where the directory should be');
  const file = join(dir, 'logs', 'events.jsonl');
  const l = listener();
  const log = createEventLog({ destination: file, retryMs: 20, onError: l.onError, onNotice: l.onNotice });
  t.teardown(() => log.close(0));
  for (let i = 0; i < 10; i++) log.write(event(i));
  t.ok(await l.heard('events/write-failed'), 'the failure is said');
  t.match(log.lastError?.message ?? '', /cannot write connection events to .*ENOTDIR/);
  await log.flush(); // resolves while failing: nothing to wait for until the retry
  t.equal(log.written, 0);
  t.equal(log.dropped, 0, 'held, not dropped: under the bound');
  // Someone fixes the path: the retry opens it and writes what was held.
  unlinkSync(join(dir, 'logs'));
  mkdirSync(join(dir, 'logs'));
  t.ok(await l.heard(/writing to .* again; 0 event\(s\) were dropped/), 'recovery is said, nothing lost');
  await log.flush();
  const back = parseEventLines(readFileSync(file, 'utf8'), file);
  t.same(back.events.map((e) => e.srcPort), Array.from({ length: 10 }, (_, i) => 40000 + i), 'every event, in order');
  t.same(l.said.filter((s) => s.startsWith('events/')), ['events/write-failed'], 'one failure line for the episode');
});

// CI runs as root on Linux, where this runs; elsewhere the skip says why it did not.
const disk = join(mkdtempSync(join(tmpdir(), 'pw-sink-disk-')), 'disk');
mkdirSync(disk);
const noTmpfs = mountTmpfs(disk, 64);
t.teardown(() => {
  if (noTmpfs === null) unmountTmpfs(disk);
  rmSync(join(disk, '..'), { recursive: true, force: true });
});

t.test('a full disk (tmpfs): no cut line ever, writing resumes when space comes back', { skip: noTmpfs ?? false }, async (t) => {
  const file = join(disk, 'events.jsonl');
  const l = listener();
  const log = createEventLog({ destination: file, retryMs: 20, maxBufferedBytes: 256 * 1024, onError: l.onError, onNotice: l.onNotice });
  t.teardown(() => log.close(0));
  const N = 1000; // ~430 KiB of lines: fills the 64 KiB disk and the 256 KiB buffer
  for (let i = 0; i < N; i++) log.write(event(i));
  t.ok(await l.heard('events/write-failed'), 'the full disk is said');
  t.match(log.lastError?.message ?? '', /ENOSPC/);
  t.ok(log.dropped > 0, `past the bound events are dropped and counted (${log.dropped})`);

  growTmpfs(disk, 4096);
  t.ok(await l.heard(/writing to .* again; \d+ event\(s\) were dropped while it failed \(ENOSPC/), 'writing resumes by itself, said with the count');
  for (let i = N; i < N + 5; i++) log.write(event(i));
  await log.flush();
  const text = readFileSync(file, 'utf8');
  // The disk filled mid-line many times (each retry while full): every cut was taken back.
  t.ok(text.endsWith('\n'), 'the file ends with a whole line');
  const back = parseEventLines(text, file);
  t.same(back.errors, [], 'every line in it parses');
  t.equal(back.events.length + log.dropped, N + 5, `written ${back.events.length} + dropped ${log.dropped}: every event accounted for`);
  t.equal(log.written, back.events.length);
  t.same(back.events.slice(-5).map((e) => e.srcPort), [41000, 41001, 41002, 41003, 41004]);
  t.equal(l.said.filter((s) => s === 'events/write-failed').length, 1, 'said once for the episode');
});

t.test('reopen after logrotate moved the file: later events go to a new file, earlier ones stay', async (t) => {
  const dir = tmp(t);
  const file = join(dir, 'events.jsonl');
  const l = listener();
  const log = createEventLog({ destination: file, onError: l.onError, onNotice: l.onNotice });
  t.teardown(() => log.close(0));
  log.write(event(1));
  await log.flush();
  renameSync(file, `${file}.1`);
  log.write(event(2)); // before the signal: still goes to the moved file, as with any logger
  log.reopen('SIGHUP');
  t.ok(await l.heard(/reopened .*events\.jsonl \(SIGHUP\)/));
  log.write(event(3));
  await log.flush();
  t.same(parseEventLines(readFileSync(`${file}.1`, 'utf8'), file).events.map((e) => e.srcPort).includes(40001), true);
  t.same(parseEventLines(readFileSync(file, 'utf8'), file).events.map((e) => e.srcPort).at(-1), 40003, 'the new file gets the later events');
  t.equal(log.dropped, 0);
});

t.test('a deleted events file is noticed by the periodic check and recreated, with a warning', async (t) => {
  const dir = tmp(t);
  const file = join(dir, 'events.jsonl');
  const l = listener();
  const log = createEventLog({ destination: file, checkMs: 20, onError: l.onError, onNotice: l.onNotice });
  t.teardown(() => log.close(0));
  log.write(event(1));
  await log.flush();
  unlinkSync(file);
  t.ok(await l.heard('events/file-replaced'), 'the deletion is said (events/file-replaced)');
  t.ok(await until(() => existsSync(file), 5000), 'a new file is there');
  log.write(event(2));
  await log.flush();
  t.same(parseEventLines(readFileSync(file, 'utf8'), file).events.map((e) => e.srcPort), [40002]);
  // Replaced by another file (not deleted): noticed too.
  renameSync(file, `${file}.old`);
  writeFileSync(file, '');
  t.ok(await until(() => l.said.filter((s) => s === 'events/file-replaced').length === 2, 5000), 'a replaced file is noticed too');
  log.write(event(3));
  await log.flush();
  t.same(parseEventLines(readFileSync(file, 'utf8'), file).events.map((e) => e.srcPort), [40003]);
});

t.test('close does not wait past its deadline for a destination that never answers; what is left is counted', async (t) => {
  const h = heldStream();
  const l = listener();
  const log = createEventLog({ destination: h.stream, onError: l.onError, onNotice: l.onNotice });
  for (let i = 0; i < 20; i++) log.write(event(i));
  await log.flush(10); // bounded: resolves although nothing was written
  log.stopBy(Date.now()); // the drain deadline is now: close keeps only a short grace
  await log.close();
  t.equal(log.written, 0);
  t.equal(log.dropped, 20, 'everything still waiting is dropped and counted');
  t.ok(l.said.some((s) => /20 event\(s\) not written to stream by the shutdown deadline were dropped/.test(s)), 'and said');
  log.write(event(21));
  t.equal(log.dropped, 21, 'after close, events are counted as dropped');
  h.release();
});

t.test('/metrics exports the sink: events written, dropped and waiting', async (t) => {
  const h = heldStream();
  const log = createEventLog({ destination: h.stream, maxBufferedBytes: 4 * 1024 });
  const proxy = await startProxy({
    policy: policyFrom('name: m\nrules:\n  - name: ALLOW_ALL\n    action: Allow\n'),
    listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: 9 } }],
    eventLog: log,
    admin: { host: '127.0.0.1', port: 0 },
  });
  t.teardown(async () => {
    h.release();
    await proxy.close({ drainMs: 0 });
    await log.close(0);
  });
  for (let i = 0; i < 50; i++) log.write(event(i));
  const m = await scrapeMetrics(proxy.admin!.port);
  t.equal(m.peekwall_events_written_total, 0);
  t.equal(m.peekwall_events_dropped_total, log.dropped);
  t.ok(log.dropped > 0);
  t.equal(m.peekwall_events_queued, log.queued);
  h.release();
  await log.flush();
  const m2 = await scrapeMetrics(proxy.admin!.port);
  t.equal(m2.peekwall_events_written_total, 50 - log.dropped);
  t.equal(m2.peekwall_events_queued, 0);
});
