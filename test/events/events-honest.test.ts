// `peekwall events` says when it was given the wrong thing: a file with lines but no event,
// a filter value that can never match (a typo), and --follow waits for a file not there yet
// and follows it across rotation, as `tail -F` does.
import t from 'tap';
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { followLines } from '../../src/events/index.js';
import { fromRoot } from '../../src/util/paths.js';
import { runCli } from '../helpers/io.js';

const line = (port: number) =>
  JSON.stringify({ time: '2026-12-07T00:00:00.000Z', eventType: 'Connection', phase: 'end', action: 'Allow', reason: '', srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: port, dstPort: 443, protocol: 'tcp', url: null, accessControlRule: 'R', sni: null, bytesFromClient: 0, bytesFromServer: 0, durationMs: 0 });

const tmp = (t: { teardown(fn: () => void): void }) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-honest-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

t.test('a file with no event line: exit 2 with the count and the first bad line', async (t) => {
  const r = await runCli(['events', fromRoot('README.md')]);
  t.equal(r.code, 2);
  t.match(r.stderr, /README\.md:1: not an events file: none of its \d+ non-empty line\(s\) is a connection event; the first, line 1: not a JSON line \[events\/not-an-events-file\]/);
  t.ok(r.stderr.split('\n').filter(Boolean).length <= 2, 'one error, not a warning per line');
  const empty = join(tmp(t), 'empty.jsonl');
  writeFileSync(empty, '');
  t.equal((await runCli(['events', empty])).code, 0, 'an empty log is a log');
});

t.test('bad lines among events: warned, at most ten one by one', async (t) => {
  const f = join(tmp(t), 'mixed.jsonl');
  writeFileSync(f, [line(1), ...Array.from({ length: 25 }, () => 'junk'), ''].join('\n'));
  const r = await runCli(['events', f]);
  t.equal(r.code, 0);
  t.equal(r.stderr.split('\n').filter((l) => /not a JSON line/.test(l)).length, 10);
  t.match(r.stderr, /15 more line\(s\) that are not connection events/);
});

t.test('invalid filter values: exit 2 naming the valid ones', async (t) => {
  const f = join(tmp(t), 'e.jsonl');
  writeFileSync(f, `${line(1)}\n`);
  const a = await runCli(['events', f, '--action', 'Alow']);
  t.equal(a.code, 2);
  t.match(a.stderr, /--action 'Alow' is not an action; valid: Allow, Trust, Monitor, Block, "Block with reset", "Interactive Block", "Interactive Block with reset"/);
  t.equal(a.stdout, '', 'no empty table');
  const b = await runCli(['events', f, '--src', '10.0.0', '--dst', 'example.com', '--dst-port', '70000', '--src-port', 'x']);
  t.equal(b.code, 2);
  for (const re of [/--src '10\.0\.0' is not an IP address/, /--dst 'example\.com' is not an IP address/, /--dst-port '70000' is not a port/, /--src-port 'x' is not a port/]) t.match(b.stderr, re);
  t.equal((await runCli(['events', f, '--action', 'allow', '--src-port', '1', '--json'])).code, 0, 'any case of a valid action');
  t.equal(JSON.parse((await runCli(['events', f, '--src-port', '2', '--json'])).stdout).length, 0, 'a port filter that matches nothing: an empty answer');
});

t.test('followLines: waits for a file not there yet, then follows it across rotation (tail -F)', async (t) => {
  const dir = tmp(t);
  const file = join(dir, 'events.jsonl');
  const got: string[] = [];
  const switches: string[] = [];
  const ac = new AbortController();
  let want = 0;
  let reached!: () => void;
  const until = (n: number) => {
    want = n;
    return new Promise<void>((r) => (reached = r));
  };
  const guard = setTimeout(() => ac.abort(), 30_000);
  const done = followLines(file, (l) => {
    got.push(...l);
    if (got.length >= want) reached();
  }, ac.signal, { intervalMs: 5, onSwitch: (w) => switches.push(w) });
  let step = until(2);
  writeFileSync(file, 'a\nb\n');
  await step;
  t.same(got, ['a', 'b'], 'the file that appeared is read from its start');
  // logrotate: mv, the writer finishes a line into the moved file, then reopens the path.
  step = until(5);
  renameSync(file, `${file}.1`);
  appendFileSync(`${file}.1`, 'c\n');
  writeFileSync(file, 'd\ne\n');
  await step;
  t.same(got, ['a', 'b', 'c', 'd', 'e'], 'the rest of the rotated file, then the new one from its start');
  step = until(6);
  appendFileSync(file, 'f\n');
  await step;
  ac.abort();
  await done;
  clearTimeout(guard);
  t.same(got, ['a', 'b', 'c', 'd', 'e', 'f']);
  t.same(switches, ['appeared', 'rotated']);
});
