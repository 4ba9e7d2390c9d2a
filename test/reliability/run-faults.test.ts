// Faults around the real `peekwall run` process: an SI feed that disappears before a SIGHUP
// reload (refused with file:line, the old policy keeps serving), and an events file on a full
// disk (/dev/full: reported once on stderr, traffic unaffected). Then SIGTERM: exit 0.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCert, startOrigin, tlsRoundTrip } from '../proxy/lib/net.js';

const mainJs = new URL('../../src/cli/main.js', import.meta.url).href;

function waitFor(get: () => string, re: RegExp, ms: number): Promise<RegExpExecArray | null> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const tick = () => {
      const m = re.exec(get());
      if (m || Date.now() - t0 > ms) return resolve(m);
      setTimeout(tick, 25);
    };
    tick();
  });
}

t.test('peekwall run: vanished feed on SIGHUP, events on a full disk, SIGTERM', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-runfaults-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cert = await makeCert({ cn: 'good.test', sans: ['good.test'] });
  const origin = await startOrigin(cert);
  t.teardown(() => origin.close());
  writeFileSync(join(dir, 'feed.txt'), 'blocked.test\n');
  writeFileSync(
    join(dir, 'policy.yaml'),
    'name: runfaults\nsettings:\n  tsid: { enabled: false }\nsecurityIntelligence:\n  url:\n    - name: FEED\n      action: block\n      feed: feed.txt\nrules:\n  - name: ALLOW_ALL\n    action: Allow\n',
  );
  writeFileSync(
    join(dir, 'run.yaml'),
    `policy: policy.yaml\nevents: /dev/full\nwatch: false\ndrainMs: 1000\nlisteners:\n  - mode: transparent\n    host: 127.0.0.1\n    port: 0\n    upstream: { host: 127.0.0.1, port: ${origin.port} }\n`,
  );
  const child = spawn(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(mainJs)}); process.exitCode = await m.main(['run', '--config', ${JSON.stringify(join(dir, 'run.yaml'))}]);`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  const m = await waitFor(() => stderr, /transparent listener on 127\.0\.0\.1:(\d+)/, 15_000);
  t.ok(m, 'the proxy started');
  if (!m) return;
  const port = Number(m[1]);

  // Events go to /dev/full: the first write fails, once, loudly; clients do not notice.
  const first = await tlsRoundTrip(port, { servername: 'good.test' });
  t.equal(first.kind, 'ok', 'served while the events disk is full');
  t.ok(await waitFor(() => stderr, /events\/write-failed/, 5000), 'the full disk is reported (events/write-failed)');
  for (let i = 0; i < 3; i++) t.equal((await tlsRoundTrip(port, { servername: 'good.test' })).kind, 'ok', `still served (${i + 2})`);
  t.equal(stderr.match(/events\/write-failed/g)?.length, 1, 'reported once, not per event');

  // The feed vanishes; a SIGHUP reload is refused at the policy line naming it.
  unlinkSync(join(dir, 'feed.txt'));
  child.kill('SIGHUP');
  t.ok(await waitFor(() => stderr, /reload \(SIGHUP\) refused/, 5000), 'the reload is refused');
  t.match(stderr, /policy\.yaml:\d+:\d+: .*feed\.txt.*\[policy\/feed-unreadable\]/, 'with file:line and the feed named');
  t.equal((await tlsRoundTrip(port, { servername: 'good.test' })).kind, 'ok', 'the previous policy keeps serving');

  child.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running'), 10_000).unref())]);
  t.equal(code, 0, 'SIGTERM: drained and exited 0');
});
