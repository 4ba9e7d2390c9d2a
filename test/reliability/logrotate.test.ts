// The README's logrotate block, run as written by the real logrotate against the real
// `peekwall run` process: only the log path and the pid file are put in a temp directory. After
// the rotation the old events are whole in events.jsonl.1 and new ones go to a new events.jsonl.
// Skipped where logrotate is missing (.ci/run installs it).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromRoot } from '../../src/util/paths.js';
import { accounted, jsonLines, sendHellos, startPeekwallRun, until } from '../../bench/lib/run-process.js';

const LOGROTATE = ['/usr/sbin/logrotate', '/sbin/logrotate', '/usr/bin/logrotate'].find((p) => existsSync(p)) ?? null;

t.test('the README logrotate example rotates the events file of a running proxy', { skip: LOGROTATE ? false : 'logrotate is not installed (apt-get install logrotate)' }, async (t) => {
  const readme = readFileSync(fromRoot('README.md'), 'utf8');
  const m = /<!-- logrotate-example -->\n```\n([\s\S]*?)```\n<!-- \/logrotate-example -->/.exec(readme);
  t.ok(m, 'the README has the example');
  if (!m) return;
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-logrotate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'events.jsonl');
  const r = await startPeekwallRun({ dir, events: file, drainMs: 1000, stdout: 'ignore' });
  t.teardown(() => r.kill());
  await sendHellos(r.port, 20);
  await accounted(r, 20);
  t.same(jsonLines(file), { whole: 20, cut: 0 });

  const pidFile = join(dir, 'peekwall.pid');
  writeFileSync(pidFile, `${r.child.pid}\n`);
  const conf = join(dir, 'logrotate.conf');
  // logrotate refuses a config that group/others can write: written 0644 by default here.
  writeFileSync(conf, m[1].replace('/var/log/peekwall/events.jsonl', file).replace('/run/peekwall.pid', pidFile));
  const from = r.stderr().length;
  const lr = spawnSync(LOGROTATE!, ['-s', join(dir, 'state'), '-f', conf], { encoding: 'utf8' });
  t.equal(lr.status, 0, `logrotate: ${lr.stderr}`);
  t.ok(await until(() => /reopened .*events\.jsonl \(SIGUSR1\)/.test(r.stderr().slice(from)), 5000), 'peekwall reopened the file on the postrotate signal');
  t.same(jsonLines(`${file}.1`), { whole: 20, cut: 0 }, 'the rotated file keeps the earlier events, whole (delaycompress: not compressed yet)');
  await sendHellos(r.port, 7);
  await accounted(r, 27);
  t.same(jsonLines(file), { whole: 7, cut: 0 }, 'new events go to a new events.jsonl');
  const ex = await r.term(11_000);
  t.same(ex !== 'hung' && ex.code, 0, 'SIGTERM: exit 0');
});
