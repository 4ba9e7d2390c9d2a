// The reliability load scripts (docs/RELIABILITY.md) run end to end in a tiny configuration,
// so they cannot rot. Asserted: what they report about behaviour (every slow client closed at
// the peek timeout, no allowed connection failed across reloads, fds back to baseline, every
// in-flight connection drained). Not asserted: their latency and RSS targets, which need the
// full-size runs and are benchmarks, not tests.
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * The script's stdout. Exit 1 is also how a script says a target was missed (timing or RSS at
 * this tiny size), so the output is read anyway; but a crash exits 1 too, and then its stderr
 * (the stack) goes into every assertion message instead of being lost.
 */
function run(t: Test, name: string, args: string[]): Promise<string> {
  const js = fileURLToPath(new URL(`../../bench/${name}.js`, import.meta.url));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [js, ...args], { timeout: 60_000 }, (e, stdout, stderr) => {
      if (e && (e as { code?: unknown }).code !== 1) return reject(new Error(`${name}: ${e.message}\n${stderr}`));
      t.ok(!stderr.includes('\n    at '), `${name} did not crash${stderr ? `: ${stderr.slice(-1500)}` : ''}`);
      resolve(stdout);
    });
  });
}

t.test('soak: every allowed connection succeeded, fds back to the baseline, nothing active', async (t) => {
  const out = await run(t, 'soak', ['--connections', '300', '--concurrency', '8', '--warmup', '50']);
  const outcomes = JSON.parse(/outcomes: (\{.*\})/.exec(out)?.[1] ?? '{}') as Record<string, number>;
  t.ok((outcomes['allow:ok'] ?? 0) > 0, 'allowed connections ran');
  t.same(Object.keys(outcomes).filter((k) => k.startsWith('allow:') && k !== 'allow:ok'), [], 'no allowed connection failed');
  const fds = /fds: baseline (\d+), after (\d+)/.exec(out);
  t.ok(fds && Number(fds[2]) <= Number(fds[1]), `fds ${fds?.[1]} -> ${fds?.[2]}`);
  t.match(out, /proxy: active 0, heldBytes 0/);
});

t.test('slow clients: each closed at the peek timeout, the good client never failed', async (t) => {
  const out = await run(t, 'slow-clients', ['--slow', '20', '--peekMs', '300', '--good', '20']);
  t.match(out, /closed: 20\/20; still open after the bound: 0/);
  t.match(out, /"proxy\/peek-timeout":20/);
  t.match(out, /good client, under load: +n=\d+ failed=0/);
});

t.test('reload under load: no allowed connection failed, each reload visible to new connections', async (t) => {
  const out = await run(t, 'reload-under-load', ['--reloads', '5', '--intervalMs', '50', '--concurrency', '4']);
  t.match(out, /allowed connections: \d+ ok, 0 failed/);
  t.match(out, /reloads refused: 0; proxy counted 5 reloads/);
  t.match(out, /matched the new version: 5\/5/);
});

t.test('reload under load with an SI feed: built off the event loop, no allowed connection failed, the stall is reported', async (t) => {
  const out = await run(t, 'reload-under-load', ['--reloads', '3', '--intervalMs', '50', '--concurrency', '4', '--feedEntries', '20000']);
  t.match(out, /feed: 20000 url entries, .* loaded in the loader thread/);
  t.match(out, /allowed connections: \d+ ok, 0 failed/);
  t.match(out, /reloads refused: 0; proxy counted 3 reloads/);
  t.match(out, /matched the new version: 3\/3/);
  t.match(out, /longest event-loop stall in the proxy: during reloads \d+\.\d+ ms \(monitorEventLoopDelay max \d+\.\d+ ms\), before reloads \d+\.\d+ ms, after/);
  t.match(out, /longest allowed round trip: during reloads \d+\.\d+ ms/);
});

t.test('SIGTERM drain: in-flight connections finish and the process exits 0; a broken reload keeps the old policy', async (t) => {
  const out = await run(t, 'sigterm-drain', ['--inflight', '10', '--answerMs', '300', '--drainMs', '2000']);
  t.match(out, /feed removed \+ SIGHUP: refused/);
  t.match(out, /a connection after the refused reload: served/);
  t.match(out, /in-flight finished ok: 10\/10/);
  t.match(out, /process exit: code 0 /);
});
