import t from 'tap';
import { mkdtempSync, writeFileSync, appendFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getEventListeners } from 'node:events';
import {
  buildConnectionEvent,
  createEventLog,
  filterEvents,
  followLines,
  parseEventLines,
  columnWidths,
  renderEventRows,
  renderEventsTable,
  type ConnectionEvent,
} from '../../src/events/index.js';
import type { Flow, Verdict } from '../../src/policy/types.js';
import { runCli } from '../helpers/io.js';

const flow: Flow = {
  srcIp: '10.12.1.8', srcPort: 40722, dstIp: '72.163.4.38', dstPort: 443,
  protocol: 'tcp', scheme: 'https', sni: null,
};

function verdict(over: Partial<Verdict> = {}): Verdict {
  return {
    action: 'Allow', rule: 'ALLOW_FMC_ASA_SNT_CISCO', reason: '', urlCategory: 'Computers and Internet',
    urlReputation: { level: 4, label: 'Favorable' }, application: 'Cisco', url: 'https://toos.cisco.com',
    monitored: [], log: { beginning: false, end: true }, trace: [], ...over,
  } as Verdict;
}

const seedEvent = (over: Partial<Parameters<typeof buildConnectionEvent>[0]> = {}) =>
  buildConnectionEvent({
    time: new Date('2025-12-02T18:46:41.123Z'),
    phase: 'end',
    flow,
    identity: { name: 'toos.cisco.com', source: 'cert-san', candidates: [] },
    verdict: verdict(),
    bytesFromClient: 1200,
    bytesFromServer: 5300,
    ...over,
  });

t.test('an allowed TSID flow becomes the seed row', async (t) => {
  const e = seedEvent();
  t.equal(e.action, 'Allow');
  t.equal(e.url, 'https://toos.cisco.com');
  t.equal(e.accessControlRule, 'ALLOW_FMC_ASA_SNT_CISCO');
  t.equal(e.identitySource, 'cert-san');
  t.equal(e.webApplication, 'Cisco');
  t.equal(e.urlReputation, 'Favorable');
  const tsv = renderEventsTable([e], { format: 'tsv' }).split('\n');
  t.equal(
    tsv[1],
    '2025-12-02 18:46:41\tConnection\tAllow\t10.12.1.8\t72.163.4.38\t40722 / tcp\t443 (https) / tcp\tCisco\thttps://toos.cisco.com\tALLOW_FMC_ASA_SNT_CISCO',
    'same cells as the TechNote table',
  );
  t.match(tsv[0], /^Time\tEvent Type\tAction\tSource IP\tDestination IP\tSource Port \/ ICMP Type\tDestination Port \/ ICMP Code\tWeb Application\tURL\tAccess Control Rule$/);
});

t.test('no verdict (inspection failed): action and reason come from the shell, optional fields stay absent', async (t) => {
  const e = buildConnectionEvent({
    phase: 'begin', flow, identity: null, verdict: null, action: 'Block with reset',
    reason: 'Inspection Failure', closeReason: 'wire/truncated', applicationProtocol: 'unknown',
  });
  t.equal(e.action, 'Block with reset');
  t.equal(e.closeReason, 'wire/truncated');
  t.equal(e.url, null);
  t.notOk('urlCategory' in e);
  t.notOk('identitySource' in e);
});

t.test('aligned table pads columns and notes mapped addresses; newest first by default', async (t) => {
  const a = seedEvent({ time: new Date('2025-12-02T18:00:00Z') });
  const b = seedEvent({ time: new Date('2025-12-02T19:00:00Z'), mapped: { srcIp: '127.12.1.8', dstIp: '127.163.4.38' } });
  const out = renderEventsTable([a, b]).split('\n');
  t.match(out[1], /^2025-12-02 19:00:00/);
  t.match(out[2], /^2025-12-02 18:00:00/);
  t.equal(out[0].indexOf('Event Type'), out[1].indexOf('Connection'), 'columns line up');
  t.match(out[3], /mapped/);
  const oldest = renderEventsTable([a, b], { newestFirst: false }).split('\n');
  t.match(oldest[1], /^2025-12-02 18:00:00/);
});

t.test('rows appended under a printed table (events --follow) line up with its header', async (t) => {
  const first = [seedEvent()];
  const header = renderEventsTable(first).split('\n')[0];
  const widths = columnWidths(first, {});
  const later = seedEvent({ flow: { ...flow, srcIp: '10.12.1.9', srcPort: 50123 } });
  const row = renderEventRows([later], {}, widths).split('\n')[0];
  t.equal(row.indexOf('Connection'), header.indexOf('Event Type'));
  t.equal(row.indexOf('10.12.1.9'), header.indexOf('Source IP'));
  t.equal(row.indexOf('72.163.4.38'), header.indexOf('Destination IP'));
  t.equal(row.indexOf('ALLOW_FMC_ASA_SNT_CISCO'), header.indexOf('Access Control Rule'));
  t.notMatch(row, /\t/, 'aligned, not tab-separated');
  t.equal(renderEventRows([later], { format: 'tsv' }, widths).split('\t').length, 10, 'tsv stays tsv');
  t.equal(renderEventRows([], {}, widths), '', 'nothing new, nothing printed');
});

t.test("fmcLogged follows the deciding rule's logging: (FMC shows no event for a rule that does not log)", async (t) => {
  const quietAllow = seedEvent({ verdict: verdict({ log: { beginning: false, end: false } }) });
  const loggedAllow = seedEvent({ verdict: verdict({ log: { beginning: false, end: true } }) });
  const beginOnlyAllow = seedEvent({ verdict: verdict({ log: { beginning: true, end: false } }) });
  const block = seedEvent({ phase: 'begin', verdict: verdict({ action: 'Block', log: { beginning: true, end: false } }) });
  const blockEndOnly = seedEvent({ phase: 'begin', verdict: verdict({ action: 'Block', log: { beginning: false, end: true } }) });
  const failure = seedEvent({ verdict: null, closeReason: 'wire/truncated' });
  t.equal(quietAllow.fmcLogged, false);
  t.equal(loggedAllow.fmcLogged, true);
  t.equal(beginOnlyAllow.fmcLogged, true, 'an allow logged at its beginning is still shown');
  t.equal(block.fmcLogged, true);
  t.equal(blockEndOnly.fmcLogged, false, 'FMC cannot log a block at its end');
  t.equal(failure.fmcLogged, undefined, 'no verdict: always logged, no flag');
  const all = [quietAllow, loggedAllow, beginOnlyAllow, block, blockEndOnly, failure];
  t.equal(filterEvents(all, {}).length, 6, 'peekwall keeps every connection');
  t.same(filterEvents(all, { fmcLogged: true }), [loggedAllow, beginOnlyAllow, block, failure], "FMC's view");

  const dir = mkdtempSync(join(tmpdir(), 'peekwall-fmclogged-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'e.jsonl');
  writeFileSync(file, all.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const r = await runCli(['events', file, '--fmc-logged', '--json']);
  t.equal(r.code, 0);
  t.equal((JSON.parse(r.stdout) as unknown[]).length, 4);
});

t.test('pino event log writes one JSON line per event that parses back identically', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-events-'));
  const file = join(dir, 'sub', 'events.jsonl');
  const log = createEventLog({ destination: file });
  const e1 = seedEvent();
  const e2 = seedEvent({ phase: 'begin', verdict: verdict({ action: 'Block with reset', rule: 'Block-URL-Feed', reason: 'URL Block' }) });
  log.write(e1);
  log.write(e2);
  await log.close();
  const text = readFileSync(file, 'utf8');
  t.equal(text.trim().split('\n').length, 2);
  const back = parseEventLines(text, file);
  t.same(back.errors, []);
  t.same(back.events, [e1, e2], 'the event, and only the event, comes back');
});

t.test('an unwritable destination is reported once and counted, never thrown', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-events-'));
  const reported: string[] = [];
  let failed!: () => void;
  const failure = new Promise<void>((r) => (failed = r));
  const log = createEventLog({
    destination: dir /* a directory: EISDIR */,
    onError: (e) => {
      reported.push(e.code);
      failed();
    },
  });
  log.write(seedEvent());
  await failure; // the open fails asynchronously: wait for it, not for a guessed delay
  log.write(seedEvent());
  log.write(seedEvent());
  await log.close();
  t.same(reported, ['events/write-failed']);
  t.ok(log.dropped >= 2);
  t.match(log.lastError?.message ?? '', /cannot write connection events/);
});

t.test('a verdict reached without any server name gives url null, not an empty string', async (t) => {
  const e = seedEvent({ identity: null, verdict: verdict({ url: '' }) });
  t.equal(e.url, null);
  t.equal(seedEvent().url, 'https://toos.cisco.com');
});

t.test('parseEventLines names bad lines with their line number', async (t) => {
  const good = JSON.stringify(seedEvent());
  const r = parseEventLines(`${good}\nnot json\n{"eventType":"Other"}\n{"eventType":"Connection","time":1}\n\n${good}\n`, 'ev.jsonl');
  t.equal(r.events.length, 2);
  t.same(r.errors.map((e) => [e.code, e.line]), [
    ['events/bad-line', 2], ['events/not-an-event', 3], ['events/bad-field', 4],
  ]);
});

t.test('filters select by action, rule, addresses and URL substring', async (t) => {
  const allow = seedEvent();
  const block = seedEvent({ verdict: verdict({ action: 'Block', rule: 'BLOCK_BAD', url: 'https://evil.example' }) });
  t.same(filterEvents([allow, block], { action: 'block' }), [block]);
  t.same(filterEvents([allow, block], { rule: 'ALLOW_FMC_ASA_SNT_CISCO' }), [allow]);
  t.same(filterEvents([allow, block], { url: 'TOOS' }), [allow]);
  t.same(filterEvents([allow, block], { src: '10.9.9.9' }), []);
});

t.test('peekwall events renders a file, filters, and reports bad lines', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-events-'));
  const file = join(dir, 'e.jsonl');
  const block = seedEvent({ verdict: verdict({ action: 'Block with reset', rule: 'SI URL Block', url: 'https://toos.cisco.com' }) });
  writeFileSync(file, `${JSON.stringify(seedEvent())}\n${JSON.stringify(block)}\ngarbage\n`);
  const r = await runCli(['events', file, '--action', 'Block with reset']);
  t.equal(r.code, 0);
  t.match(r.stdout, /Block with reset/);
  t.notMatch(r.stdout, /ALLOW_FMC_ASA_SNT_CISCO/);
  t.match(r.stderr, /e\.jsonl:3: not a JSON line \[events\/bad-line\]/);
  const j = await runCli(['events', file, '--json']);
  t.equal((JSON.parse(j.stdout) as ConnectionEvent[]).length, 2);
  const missing = await runCli(['events', join(dir, 'nope.jsonl'), '--json']);
  t.equal(missing.code, 2);
  t.equal(JSON.parse(missing.stdout).error, 'events/unreadable');
  const usage = await runCli(['events']);
  t.equal(usage.code, 2);
});

t.test('followLines delivers appended complete lines only, and stops on abort', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-events-'));
  const file = join(dir, 'f.jsonl');
  writeFileSync(file, 'old\n');
  const got: string[] = [];
  const ac = new AbortController();
  let delivered: (() => void) | null = null;
  const done = followLines(file, (l) => {
    got.push(...l);
    delivered?.();
    if (got.length >= 2) ac.abort();
  }, ac.signal, { intervalMs: 5 });
  // No sleeps: the start offset is taken when followLines is called, and the second append
  // waits until the first complete line was delivered (so 'tw' really sat as a partial line).
  const guard = setTimeout(() => ac.abort(), 30_000); // bounded even if something is wrong
  const first = new Promise<void>((r) => (delivered = r));
  appendFileSync(file, 'one\ntw');
  await first;
  delivered = null;
  t.same(got, ['one'], 'the incomplete line is held back');
  // Polls kept running while we waited: one abort listener at a time, not one per poll.
  t.ok(getEventListeners(ac.signal, 'abort').length <= 1, 'no abort listener piles up per poll');
  appendFileSync(file, 'o\n');
  await done;
  clearTimeout(guard);
  t.same(got, ['one', 'two']);
});

t.test('followLines does not pile up abort listeners while idle', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-events-'));
  const file = join(dir, 'idle.jsonl');
  writeFileSync(file, '');
  const ac = new AbortController();
  let deliveries = 0;
  let each!: () => void;
  let next = new Promise<void>((r) => (each = r));
  const done = followLines(file, () => {
    deliveries++;
    each();
  }, ac.signal, { intervalMs: 1 });
  const guard = setTimeout(() => ac.abort(), 30_000);
  // Twenty deliveries mean at least twenty polls, each of which waited on the signal.
  for (let i = 0; i < 20 && !ac.signal.aborted; i++) {
    appendFileSync(file, `line ${i}\n`);
    await next;
    next = new Promise<void>((r) => (each = r));
  }
  t.equal(deliveries, 20);
  t.ok(getEventListeners(ac.signal, 'abort').length <= 1, `${getEventListeners(ac.signal, 'abort').length} abort listeners`);
  ac.abort();
  await done;
  clearTimeout(guard);
});

t.test('hostile event lines: wrong-typed text fields are reported, missing ones render empty', async (t) => {
  const base = { eventType: 'Connection', time: '2025-12-02T18:46:41.123Z', action: 'Allow', srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 1, dstPort: 443 };
  const text = [
    JSON.stringify({ ...base, url: 5 }),
    JSON.stringify({ ...base, reason: { x: 1 } }),
    JSON.stringify(base), // no url, reason, rule, sni: an older/foreign writer
  ].join('\n');
  const r = parseEventLines(text, 'h.jsonl');
  t.same(r.errors.map((e) => [e.code, e.line, e.message]), [
    ['events/bad-field', 1, "field 'url' must be a string"],
    ['events/bad-field', 2, "field 'reason' must be a string"],
  ]);
  t.equal(r.events.length, 1);
  t.same(filterEvents(r.events, { url: 'x', reason: 'y' }), []);
  t.match(renderEventsTable(r.events, { wide: true }), /10\.0\.0\.1/);
  const dir = mkdtempSync(join(tmpdir(), 'pw-events-'));
  const file = join(dir, 'h.jsonl');
  writeFileSync(file, text);
  for (const extra of [[], ['--wide'], ['--url', 'a'], ['--reason', 'b']]) {
    const c = await runCli(['events', file, ...extra]);
    t.equal(c.code, 0, `events ${extra.join(' ')}: ${c.stderr}`);
  }
});

t.test('the aligned table renders more rows than a spread argument list can hold', async (t) => {
  const e = seedEvent();
  const many = new Array<ConnectionEvent>(250_000).fill(e);
  const out = renderEventsTable(many);
  t.equal(out.split('\n').length, 250_000 + 2, 'header, every row, final newline');
});

t.test('peekwall events refuses a device instead of reading it forever', async (t) => {
  const r = await runCli(['events', '/dev/zero', '--json']);
  t.equal(r.code, 2);
  t.equal(JSON.parse(r.stdout).error, 'events/unreadable');
});

t.test('flush resolves after a small write (no backpressure, so no drain event)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-events-'));
  const file = join(dir, 'flush.jsonl');
  const log = createEventLog({ destination: file });
  log.write(seedEvent());
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    log.flush().then(() => 'flushed'),
    new Promise((r) => { timer = setTimeout(() => r('hung'), 5000); }),
  ]);
  clearTimeout(timer);
  t.equal(outcome, 'flushed');
  t.equal(readFileSync(file, 'utf8').trim().split('\n').length, 1, 'the event is on disk when flush resolves');
  await log.close();
});
