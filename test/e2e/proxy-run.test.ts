// `peekwall run --config FILE` as a real process: events to a file, reload on SIGHUP and on
// file change (an invalid policy is refused and the old one stays), drain on SIGTERM, and
// --workers 2 through node:cluster.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCert, sleep, startOrigin, tlsRoundTrip, type TestCert } from '../proxy/lib/net.js';
import { runCli } from '../helpers/io.js';

const runModule = fileURLToPath(new URL('../../src/cli/run.js', import.meta.url));
const mainModule = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

const policy = (allow: string) => `
name: run-${allow}
settings:
  tsid: { enabled: false }
rules:
  - name: ${allow}
    action: Allow
defaultAction: Block all traffic
`;

let cert: TestCert;
t.before(async () => {
  cert = await makeCert({ cn: 'run.test' });
});

interface Proc {
  child: ChildProcess;
  stderr: () => string;
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  exited: Promise<number | null>;
}

function start(dir: string, args: string[]): Proc {
  // A real entry file (cluster workers re-run process.argv[1]).
  const entry = join(dir, 'entry.mjs');
  writeFileSync(
    entry,
    `import run from ${JSON.stringify(runModule)};\nimport { defaultIo } from ${JSON.stringify(mainModule)};\n` +
      `process.exitCode = await run.run(process.argv.slice(2), defaultIo());\n`,
  );
  const child = spawn(process.execPath, [entry, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout?.on('data', () => undefined);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    stderr: () => err,
    exited,
    async waitFor(re, timeoutMs = 8000) {
      for (let i = 0; i < timeoutMs / 25; i++) {
        const m = re.exec(err);
        if (m) return m;
        await sleep(25);
      }
      throw new Error(`timed out waiting for ${re} in stderr:\n${err}`);
    },
  };
}

/** Cluster workers share a listening socket through the primary: they need a fixed port. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

function events(file: string): { accessControlRule: string; action: string }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}

async function eventsAtLeast(file: string, n: number) {
  for (let i = 0; i < 200; i++) {
    const e = events(file);
    if (e.length >= n) return e;
    await sleep(25);
  }
  return events(file);
}

t.test('run: serve, reload (SIGHUP, file change, invalid file refused), drain on SIGTERM', async (t) => {
  const origin = await startOrigin(cert);
  t.teardown(() => origin.close());
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-run-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'policy.yaml'), policy('ALLOW_V1'));
  writeFileSync(
    join(dir, 'run.yaml'),
    `policy: policy.yaml
events: events.jsonl
listeners:
  - { mode: transparent, host: 127.0.0.1, port: 0, upstream: { host: 127.0.0.1, port: ${origin.port} } }
admin: { host: 127.0.0.1, port: 0 }
drainMs: 2000
`,
  );
  const p = start(dir, ['--config', 'run.yaml']);
  t.teardown(() => p.child.kill('SIGKILL'));
  const port = Number((await p.waitFor(/transparent listener on 127\.0\.0\.1:(\d+)/))[1]);
  await p.waitFor(/admin on http:\/\/127\.0\.0\.1:\d+\/metrics/);
  const evFile = join(dir, 'events.jsonl');

  t.equal((await tlsRoundTrip(port, { servername: 'a.test' })).kind, 'ok');
  t.equal((await eventsAtLeast(evFile, 1))[0]?.accessControlRule, 'ALLOW_V1');

  // An invalid policy is refused with its errors; the old policy keeps working.
  writeFileSync(join(dir, 'policy.yaml'), 'rules: [ { name: X, action: Explode } ]\n');
  await p.waitFor(/policy reload \(file changed\) refused/);
  t.ok(await p.waitFor(/policy\.yaml:\d+:\d+: .*Explode/), 'the errors say file:line:column');
  t.equal((await tlsRoundTrip(port, { servername: 'b.test' })).kind, 'ok');
  t.equal((await eventsAtLeast(evFile, 2))[1]?.accessControlRule, 'ALLOW_V1');

  // A valid file: picked up by the watch; SIGHUP reloads too.
  writeFileSync(join(dir, 'policy.yaml'), policy('ALLOW_V2'));
  await p.waitFor(/policy reloaded \(file changed\): run-ALLOW_V2/);
  t.equal((await tlsRoundTrip(port, { servername: 'c.test' })).kind, 'ok');
  t.equal((await eventsAtLeast(evFile, 3))[2]?.accessControlRule, 'ALLOW_V2');
  p.child.kill('SIGHUP');
  await p.waitFor(/policy reloaded \(SIGHUP\)/);

  // Drain: a connection open at SIGTERM keeps working; new ones are refused.
  const { connect } = await import('node:tls');
  const open = connect({ host: '127.0.0.1', port, servername: 'd.test', rejectUnauthorized: false });
  open.on('error', () => undefined);
  await new Promise((r) => open.once('secureConnect', r));
  p.child.kill('SIGTERM');
  await p.waitFor(/stopping: draining/);
  const echo = await new Promise<string>((resolve) => {
    open.once('data', (d: Buffer) => resolve(d.toString()));
    open.write('still');
  });
  t.equal(echo, 'echo:still', 'in-flight connection served during the drain');
  t.not((await tlsRoundTrip(port, { servername: 'e.test' })).kind, 'ok', 'no new connections while draining');
  open.end();
  t.equal(await p.exited, 0, 'SIGTERM drains and exits 0');
  t.match(p.stderr(), /stopped after 4 connections/);
});

t.test('run --check validates and exits; a bad config exits 2 with file:line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-run-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'policy.yaml'), policy('ALLOW_X'));
  writeFileSync(join(dir, 'ok.yaml'), 'policy: policy.yaml\nlisteners:\n  - { mode: explicit, host: 127.0.0.1, port: 0 }\n');
  writeFileSync(join(dir, 'bad.yaml'), 'policy: policy.yaml\nlisteners:\n  - { mode: explicit, host: 127.0.0.1, port: -1 }\n');
  const ok = start(dir, ['--config', 'ok.yaml', '--check']);
  t.equal(await ok.exited, 0);
  const bad = start(dir, ['--config', 'bad.yaml']);
  t.equal(await bad.exited, 2);
  t.match(bad.stderr(), /bad\.yaml:3:.*listeners\.0\.port/);
});

t.test('run --workers 2: both workers serve the same port, SIGTERM stops them all', async (t) => {
  const origin = await startOrigin(cert);
  t.teardown(() => origin.close());
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-run-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'policy.yaml'), policy('ALLOW_W'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'run.yaml'),
    `policy: policy.yaml
events: events.jsonl
listeners:
  - { mode: transparent, host: 127.0.0.1, port: ${port}, upstream: { host: 127.0.0.1, port: ${origin.port} } }
admin: { host: 127.0.0.1, port: 0 }
drainMs: 1000
`,
  );
  const p = start(dir, ['--config', 'run.yaml', '--workers', '2']);
  t.teardown(() => p.child.kill('SIGKILL'));
  const adminPort = Number((await p.waitFor(/admin on http:\/\/127\.0\.0\.1:(\d+)\/metrics \(summed over workers\)/))[1]);
  await p.waitFor(/worker \d+: transparent listener[\s\S]*worker \d+: transparent listener/);
  for (let i = 0; i < 6; i++) t.equal((await tlsRoundTrip(port, { servername: `w${i}.test` })).kind, 'ok');
  // One scrape sees every worker's connections (each worker counted only its own).
  const scrape = async (path: string) => {
    const r = await fetch(`http://127.0.0.1:${adminPort}${path}`);
    return { status: r.status, text: await r.text() };
  };
  let total = 0;
  for (let i = 0; i < 200 && total < 6; i++) {
    const m = await scrape('/metrics');
    t.equal(m.status, 200);
    total = [...m.text.matchAll(/^peekwall_connections_total\{[^}]*\} (\d+)$/gm)].reduce((sum, x) => sum + Number(x[1]), 0);
    if (total < 6) await sleep(50); // the last events are emitted as the sockets close
  }
  t.equal(total, 6, 'peekwall_connections_total summed over both workers');
  t.same(JSON.parse((await scrape('/healthz')).text), { status: 'ok', workers: 2 });
  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0);
  const ev = await eventsAtLeast(join(dir, 'events.jsonl'), 6);
  t.equal(ev.length, 6, 'every worker wrote its events to the shared file');
});

t.test('run --workers 2: POST /tsid/cache/clear on the primary clears every worker\'s TSID cache and answers the sum', async (t) => {
  const origin = await startOrigin(cert);
  t.teardown(() => origin.close());
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-run-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'policy.yaml'), 'name: run-tsid\nsettings:\n  tsid: { enabled: true }\nrules:\n  - { name: ALLOW_ALL, action: Allow }\n');
  const port = await freePort();
  writeFileSync(
    join(dir, 'run.yaml'),
    `policy: policy.yaml\nevents: events.jsonl\nwatch: false\ndrainMs: 1000\nadmin: { host: 127.0.0.1, port: 0 }\nlisteners:\n  - { mode: transparent, host: 127.0.0.1, port: ${port}, upstream: { host: 127.0.0.1, port: ${origin.port} } }\n`,
  );
  const p = start(dir, ['--config', 'run.yaml', '--workers', '2']);
  t.teardown(() => p.child.kill('SIGKILL'));
  const adminPort = Number((await p.waitFor(/admin on http:\/\/127\.0\.0\.1:(\d+)\/metrics \(summed over workers\)/))[1]);
  await p.waitFor(/worker \d+: transparent listener[\s\S]*worker \d+: transparent listener/);
  // No SNI: each worker probes the upstream once and caches its name; later connections hit.
  for (let i = 0; i < 6; i++) t.equal((await tlsRoundTrip(port)).kind, 'ok');
  const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const summed = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1] ?? -1);
  const cached = summed('peekwall_tsid_cache_misses_total');
  t.ok(cached >= 1, `probed and cached (${cached} worker(s) probed)`);
  t.equal(cached + summed('peekwall_tsid_cache_hits_total'), 6, 'every connection went through the cache');
  const clear = async (method: string) => {
    const r = await fetch(`http://127.0.0.1:${adminPort}/tsid/cache/clear`, { method });
    return { status: r.status, text: await r.text() };
  };
  t.equal((await clear('GET')).status, 405, 'GET does not clear');
  const first = await clear('POST');
  t.equal(first.status, 200);
  t.same(JSON.parse(first.text), { cleared: cached, workers: 2, answered: 2 }, 'the sum of what every worker cleared');
  t.same(JSON.parse((await clear('POST')).text), { cleared: 0, workers: 2, answered: 2 }, 'nothing left to clear');
  t.equal((await tlsRoundTrip(port)).kind, 'ok', 'a connection after the clear probes again and is served');
  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0);
});

t.test('a port already in use: exit 2 with proxy/listen and the reason, alone or with --workers 2 (no restart loop)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-run-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'policy.yaml'), policy('ALLOW_X'));
  const holder = createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => holder.close(() => r())));
  const port = (holder.address() as { port: number }).port;
  writeFileSync(
    join(dir, 'run.yaml'),
    `policy: policy.yaml\nevents: events.jsonl\nlisteners:\n  - { mode: transparent, host: 127.0.0.1, port: ${port}, upstream: { host: 127.0.0.1, port: 9 } }\n`,
  );
  for (const args of [[], ['--workers', '2']]) {
    const p = start(dir, ['--config', 'run.yaml', ...args]);
    t.teardown(() => p.child.kill('SIGKILL'));
    t.equal(await p.exited, 2, `exit 2 ${args.join(' ')}`);
    t.match(p.stderr(), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE, the port is already in use.*\\[proxy/listen\\]`));
    t.notMatch(p.stderr(), /\n\s+at /, 'no stack trace');
    if (args.length) t.match(p.stderr(), /a worker could not start \(see above\): stopping/);
    const exits = p.stderr().match(/worker \d+ exited/g) ?? [];
    t.ok(exits.length <= 2, `no restart loop (${exits.length} worker exits)`);
  }
});

t.test('a trust store that cannot be read: exit 2 with the reason, alone or with --workers 2 (before any worker is forked)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-run-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'policy.yaml'), policy('ALLOW_X'));
  writeFileSync(
    join(dir, 'run.yaml'),
    'policy: policy.yaml\ntrust: missing-ca.pem\nlisteners:\n  - { mode: transparent, host: 127.0.0.1, port: 0, upstream: { host: 127.0.0.1, port: 9 } }\n',
  );
  for (const args of [[], ['--workers', '2']]) {
    const p = start(dir, ['--config', 'run.yaml', ...args]);
    t.teardown(() => p.child.kill('SIGKILL'));
    t.equal(await p.exited, 2, `exit 2 ${args.join(' ')}`);
    t.match(p.stderr(), /cannot read trust store .*missing-ca\.pem: ENOENT.*\[identity\/bad-trust-store\]/);
    t.notMatch(p.stderr(), /workers for|worker \d+/, 'no worker was started');
  }
});

t.test('run without a config file: --policy, --listen, --upstream (and --listen moving a config\'s listener)', async (t) => {
  const origin = await startOrigin(cert);
  t.teardown(() => origin.close());
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-run-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'policy.yaml'), policy('ALLOW_FLAGS'));
  const p = start(dir, ['--policy', 'policy.yaml', '--listen', '127.0.0.1:0', '--upstream', `127.0.0.1:${origin.port}`, '--events', 'events.jsonl']);
  t.teardown(() => p.child.kill('SIGKILL'));
  const port = Number((await p.waitFor(/transparent listener on 127\.0\.0\.1:(\d+)/))[1]);
  t.equal((await tlsRoundTrip(port, { servername: 'flags.test' })).kind, 'ok');
  const ev = await eventsAtLeast(join(dir, 'events.jsonl'), 1);
  t.match(ev[0], { accessControlRule: 'ALLOW_FLAGS', action: 'Allow' }, 'events went to the --events file, relative to the working directory');
  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0);

  // A config's one listener moved by --listen.
  writeFileSync(join(dir, 'run.yaml'), `policy: policy.yaml\nevents: moved.jsonl\nlisteners:\n  - { mode: transparent, host: 127.0.0.1, port: 1, upstream: { host: 127.0.0.1, port: ${origin.port} } }\n`);
  const q = start(dir, ['--config', 'run.yaml', '--listen', '127.0.0.2:0']);
  t.teardown(() => q.child.kill('SIGKILL'));
  const moved = Number((await q.waitFor(/transparent listener on 127\.0\.0\.2:(\d+)/))[1]);
  t.equal((await tlsRoundTrip(moved, { host: '127.0.0.2', servername: 'moved.test' })).kind, 'ok');
  q.child.kill('SIGTERM');
  t.equal(await q.exited, 0);
});

t.test('run flag mistakes: exit 2 with the flag named', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-run-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'policy.yaml'), policy('ALLOW_X'));
  writeFileSync(join(dir, 'two.yaml'), `policy: policy.yaml\nlisteners:\n  - { mode: transparent, host: 127.0.0.1, port: 1, upstream: { host: 127.0.0.1, port: 9 } }\n  - { mode: transparent, host: 127.0.0.1, port: 2, upstream: { host: 127.0.0.1, port: 9 } }\n`);
  for (const [args, why] of [
    [[], /give --config FILE, or --policy FILE --listen/],
    [['--policy', 'policy.yaml', '--listen', '8443'], /--upstream HOST:PORT is required/],
    [['--policy', 'policy.yaml', '--upstream', '127.0.0.1:443'], /--listen \[HOST:\]PORT is required/],
    [['--listen', '8443', '--upstream', '127.0.0.1:443'], /--policy FILE is required/],
    [['--policy', 'policy.yaml', '--listen', 'nope', '--upstream', '127.0.0.1:443'], /--listen takes \[HOST:\]PORT .* not 'nope'/],
    [['--policy', 'policy.yaml', '--listen', '70000', '--upstream', '127.0.0.1:443'], /port 70000 is not 0\.\.65535/],
    [['--policy', 'policy.yaml', '--listen', '8443', '--upstream', '443'], /--upstream needs a host/],
    [['--config', 'two.yaml', '--listen', '8443'], /two\.yaml has 2: change them in the file/],
    [['--config', 'two.yaml', '--upstream', '127.0.0.1:443'], /--upstream is for running without --config/],
    [['--policy', 'missing.yaml', '--listen', '127.0.0.1:0', '--upstream', '127.0.0.1:9', '--check'], /missing\.yaml/],
  ] as const) {
    const p = start(dir, [...args]);
    t.teardown(() => p.child.kill('SIGKILL'));
    t.equal(await p.exited, 2, args.join(' '));
    t.match(p.stderr(), why);
    t.notMatch(p.stderr(), /\n\s+at /, 'no stack trace');
  }
});

t.test('a SIGHUP the moment the listener is announced reloads instead of killing the process', async (t) => {
  const origin = await startOrigin(cert);
  t.teardown(() => origin.close());
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-run-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'policy.yaml'), policy('ALLOW_EARLY'));
  const p = start(dir, ['--policy', 'policy.yaml', '--listen', '127.0.0.1:0', '--upstream', `127.0.0.1:${origin.port}`, '--events', 'events.jsonl']);
  t.teardown(() => p.child.kill('SIGKILL'));
  // No delay at all: this used to arrive before the handler and end the process (SIGHUP's
  // default action) in 30 runs out of 30.
  const port = Number((await p.waitFor(/transparent listener on 127\.0\.0\.1:(\d+)/))[1]);
  p.child.kill('SIGHUP');
  await p.waitFor(/policy reloaded \(SIGHUP\)/);
  t.equal((await tlsRoundTrip(port, { servername: 'early.test' })).kind, 'ok', 'still serving');
  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0);
});

t.test('SIGHUP reload, alone and with --workers 2: a changed feed applies, an invalid policy is refused with file:line:column and the old one stays; /metrics counts both', async (t) => {
  const origin = await startOrigin(cert);
  t.teardown(() => origin.close());
  for (const workers of [1, 2]) {
    const dir = mkdtempSync(join(tmpdir(), 'peekwall-run-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'feed.txt'), 'blocked.test\n');
    const feedPolicy = 'name: feed\nsettings: { tsid: { enabled: false } }\nsecurityIntelligence:\n  url:\n    - { name: FEED, action: block, feed: feed.txt }\nrules:\n  - { name: ALLOW_ALL, action: Allow }\n';
    writeFileSync(join(dir, 'policy.yaml'), feedPolicy);
    const fixed = await freePort();
    writeFileSync(
      join(dir, 'run.yaml'),
      `policy: policy.yaml\nevents: events.jsonl\nwatch: false\ndrainMs: 1000\nadmin: { host: 127.0.0.1, port: 0 }\nlisteners:\n  - { mode: transparent, host: 127.0.0.1, port: ${workers > 1 ? fixed : 0}, upstream: { host: 127.0.0.1, port: ${origin.port} } }\n`,
    );
    const p = start(dir, ['--config', 'run.yaml', '--workers', String(workers)]);
    t.teardown(() => p.child.kill('SIGKILL'));
    const adminPort = Number((await p.waitFor(/admin on http:\/\/127\.0\.0\.1:(\d+)\/metrics/))[1]);
    const each = (what: string) => new RegExp(Array.from({ length: workers }, () => what).join('[\\s\\S]*'));
    const port = Number((await p.waitFor(each('transparent listener on 127\\.0\\.0\\.1:(\\d+)')))[1]);
    const served = async (name: string) => (await tlsRoundTrip(port, { servername: name })).kind === 'ok';
    t.notOk(await served('blocked.test'), `${workers}: the feed blocks`);
    t.ok(await served('late.test'), `${workers}: other names pass`);

    // The feed grows; SIGHUP: every process re-reads it (in its loader thread) and applies it.
    writeFileSync(join(dir, 'feed.txt'), 'blocked.test\nlate.test\n');
    p.child.kill('SIGHUP');
    await p.waitFor(each('policy reloaded \\(SIGHUP\\): feed'));
    t.notOk(await served('late.test'), `${workers}: the reloaded feed blocks the new entry`);

    // An invalid policy: refused with its errors where they are; the previous policy serves.
    writeFileSync(join(dir, 'policy.yaml'), 'rules:\n  - name: X\n    action: Explode\n');
    p.child.kill('SIGHUP');
    await p.waitFor(each('policy reload \\(SIGHUP\\) refused'));
    t.match(p.stderr(), /policy\.yaml:3:13: rule action must be one of .*'Explode'.*\[policy\/schema\]/, `${workers}: file:line:column`);
    t.ok(await served('other.test'), `${workers}: still serving`);
    t.notOk(await served('late.test'), `${workers}: with the previous policy`);

    // One scrape: both outcomes, summed over the workers.
    const counted = (text: string, result: string) => Number(new RegExp(`^peekwall_policy_reloads_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? -1);
    const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    t.equal(counted(text, 'ok'), workers, `${workers}: reloads ok`);
    t.equal(counted(text, 'refused'), workers, `${workers}: reloads refused`);
    p.child.kill('SIGTERM');
    t.equal(await p.exited, 0, `${workers}: SIGTERM, exit 0`);
  }
});

t.test('run --capture (and capture: in the config): the pcapng is written at stop, and replay of it gives the logged events', async (t) => {
  const origin = await startOrigin(cert, { maxVersion: 'TLSv1.2' });
  t.teardown(() => origin.close());
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-run-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'policy.yaml'), policy('ALLOW_CAPTURED'));
  const p = start(dir, ['--policy', 'policy.yaml', '--listen', '127.0.0.1:0', '--upstream', `127.0.0.1:${origin.port}`, '--events', 'events.jsonl', '--capture', 'flags.pcapng', '--capture-max-mb', '1']);
  t.teardown(() => p.child.kill('SIGKILL'));
  const port = Number((await p.waitFor(/transparent listener on 127\.0\.0\.1:(\d+)/))[1]);
  t.equal((await tlsRoundTrip(port, { servername: 'captured.test', maxVersion: 'TLSv1.2' })).kind, 'ok');
  await eventsAtLeast(join(dir, 'events.jsonl'), 1);
  p.child.kill('SIGTERM');
  await p.waitFor(/capture: 1 flow\(s\) written to .*flags\.pcapng/);
  t.equal(await p.exited, 0);
  const replayed = await runCli(['replay', 'flags.pcapng', '--policy', 'policy.yaml', '--json'], { cwd: dir });
  t.equal(replayed.code, 0, 'replay reads the capture and judges every flow');
  const logged = JSON.parse(readFileSync(join(dir, 'events.jsonl'), 'utf8').split('\n')[0]);
  const flow = JSON.parse(replayed.stdout).flows[0].event;
  for (const k of ['srcIp', 'srcPort', 'dstIp', 'dstPort', 'action', 'accessControlRule', 'url', 'sni', 'identitySource']) t.equal(flow[k], logged[k], `replay's ${k} is the logged one`);

  // The config's capture: key, relative to the config file.
  writeFileSync(join(dir, 'run.yaml'), `policy: policy.yaml\nevents: cfg.jsonl\ncapture: cfg.pcapng\nlisteners:\n  - { mode: transparent, host: 127.0.0.1, port: 0, upstream: { host: 127.0.0.1, port: ${origin.port} } }\n`);
  const q = start(dir, ['--config', 'run.yaml']);
  t.teardown(() => q.child.kill('SIGKILL'));
  const port2 = Number((await q.waitFor(/transparent listener on 127\.0\.0\.1:(\d+)/))[1]);
  t.equal((await tlsRoundTrip(port2, { servername: 'config.test' })).kind, 'ok');
  await eventsAtLeast(join(dir, 'cfg.jsonl'), 1);
  q.child.kill('SIGTERM');
  await q.waitFor(/capture: 1 flow\(s\) written to .*cfg\.pcapng/);
  t.equal(await q.exited, 0);
  t.ok(existsSync(join(dir, 'cfg.pcapng')));

  const bad = start(dir, ['--config', 'run.yaml', '--workers', '2']);
  t.teardown(() => bad.child.kill('SIGKILL'));
  t.equal(await bad.exited, 2, 'a capture with workers > 1 is refused');
  t.match(bad.stderr(), /one process: run it with workers: 1/);
});
