// Hostile files against every loader that reads user files: policies (and their SI feeds),
// regression suites (and the certificates they name), the run config, certificates, and
// event logs. Each must be refused with a stable code and file:line — never an exception,
// never a polluted prototype, never a hang or unbounded memory.
import t, { type Test } from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeekwallError } from '../../src/util/errors.js';
import { parsePolicy } from '../../src/policy/index.js';
import { loadPolicyFile, loadTrustStore } from '../../src/sources/index.js';
import { loadSuiteFile, parseSuite } from '../../src/regress/index.js';
import { loadRunConfig, parseRunConfig } from '../../src/proxy/index.js';
import { certificateFacts, certificatesFromPem, trustStoreFromPem } from '../../src/identity/index.js';
import { MAX_BUNDLE_CERTIFICATES } from '../../src/identity/facts.js';
import { everyOk } from '../helpers/every.js';
import { runCli } from '../helpers/io.js';
import { parseEventLines } from '../../src/events/index.js';
import { fromRoot } from '../../src/util/paths.js';
import { hostileCerts, hostileFeeds, hostileYaml, TEN_MB } from './hostile.js';

const dir = mkdtempSync(join(tmpdir(), 'peekwall-hostile-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

type Refusal = { ok: true } | { ok: false; error: PeekwallError | readonly PeekwallError[] };

/** Refused, every error with a namespaced code, a message, and file:line in `file`. */
function assertRefused(t: Test, r: Refusal, file: string, what: string): void {
  t.equal(r.ok, false, `${what}: refused`);
  if (r.ok) return;
  const errors = Array.isArray(r.error) ? (r.error as PeekwallError[]) : [r.error as PeekwallError];
  t.ok(errors.length > 0, `${what}: at least one error`);
  const bad = errors.filter(
    (e) => typeof e.code !== 'string' || !/^[a-z]+\/[a-z0-9-]+$/.test(e.code) || typeof e.message !== 'string' || !e.message || e.file !== file || !Number.isInteger(e.line) || (e.line ?? 0) < 1,
  );
  t.same(
    bad.slice(0, 3).map((e) => ({ code: e.code, file: e.file, line: e.line, message: e.message?.slice(0, 100) })),
    [],
    `${what}: every error has a code and ${file.split('/').pop()}:line (first: ${errors[0].code} at line ${errors[0].line})`,
  );
}

function assertNotPolluted(t: Test): void {
  const probe = {} as Record<string, unknown>;
  t.equal(probe.polluted, undefined, 'Object.prototype not polluted');
  t.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
}

function noThrow<T>(t: Test, what: string, f: () => T): T | null {
  try {
    return f();
  } catch (e) {
    t.fail(`${what}: threw ${(e as Error).name}: ${(e as Error).message}`);
    return null;
  }
}

t.test('policy text (parsePolicy)', (t) => {
  const file = join(dir, 'policy.yaml');
  for (const h of hostileYaml('objects')) {
    const r = noThrow(t, h.name, () => parsePolicy(h.text, { file, baseDir: dir }));
    if (r) assertRefused(t, r, file, h.name);
  }
  assertNotPolluted(t);
  t.end();
});

t.test('policy file (loadPolicyFile): huge and binary files', async (t) => {
  const huge = join(dir, 'huge-policy.yaml');
  writeFileSync(huge, `# ${'z'.repeat(5 * TEN_MB)}\nrules: []\n`);
  assertRefused(t, await loadPolicyFile(huge), huge, '50 MB policy file');
  const bin = join(dir, 'binary-policy.yaml');
  writeFileSync(bin, Buffer.from(Array.from({ length: 65536 }, (_, i) => (i * 7919 + 13) & 0xff)));
  assertRefused(t, await loadPolicyFile(bin), bin, 'binary policy file');
});

t.test('SI feeds referenced by a policy', async (t) => {
  for (const [i, h] of hostileFeeds().entries()) {
    const feed = join(dir, `feed-${i}.txt`);
    writeFileSync(feed, h.text, 'latin1');
    const pol = join(dir, `feed-policy-${i}.yaml`);
    writeFileSync(pol, `name: f\nsecurityIntelligence:\n  url:\n    - name: F\n      action: block\n      feed: feed-${i}.txt\nrules:\n  - name: A\n    action: Allow\n`);
    const r = await loadPolicyFile(pol);
    if (h.name === '__proto__ entries') {
      // Odd but syntactically possible labels: accepted or refused, but never polluting.
      t.ok(r.ok || (Array.isArray(r.error) && r.error.length > 0 && r.error.every((e) => e.file === feed && (e.line ?? 0) >= 1)), `${h.name}: accepted, or refused at feed:line (with at least one error)`);
      assertNotPolluted(t);
      continue;
    }
    assertRefused(t, r, feed, h.name);
  }
});

t.test('regression suites (parseSuite) and the certificates they name (loadSuiteFile)', async (t) => {
  const file = join(dir, 'suite.yaml');
  for (const h of hostileYaml('cases')) {
    const r = noThrow(t, h.name, () => parseSuite(h.text, file));
    if (r) assertRefused(t, r, file, h.name);
  }
  assertNotPolluted(t);
  const real = readFileSync(fromRoot('test', 'fixtures', 'shared', 'certs', 'cn-only.pem'), 'utf8');
  const policy = fromRoot('policies', 'smart-licensing.yaml');
  for (const [i, c] of hostileCerts(real).entries()) {
    const cert = join(dir, `cert-${i}.pem`);
    writeFileSync(cert, c.data);
    const suite = join(dir, `cert-suite-${i}.yaml`);
    writeFileSync(suite, `policy: ${policy}\ncases:\n  - name: hostile cert\n    flow: {src: 10.12.1.8, dst: 72.163.4.38, cert: ${cert}}\n    expect: {action: Allow}\n`);
    const r = await loadSuiteFile(suite, { display: suite });
    assertRefused(t, r, suite, `suite naming a certificate: ${c.name}`);
  }
});

t.test('certificates (certificateFacts, bundles, trust stores)', (t) => {
  const real = readFileSync(fromRoot('test', 'fixtures', 'shared', 'certs', 'cn-only.pem'), 'utf8');
  for (const c of hostileCerts(real)) {
    const r = noThrow(t, c.name, () => certificateFacts(c.data));
    if (!r) continue;
    t.equal(r.ok, false, `${c.name}: refused`);
    if (!r.ok) t.match(r.error.code, /^identity\/[a-z-]+$/, `${c.name}: ${r.error.code}`);
    if (typeof c.data === 'string') {
      const b = noThrow(t, `${c.name} (bundle)`, () => certificatesFromPem(c.data as string));
      t.equal(b?.ok, false, `${c.name}: bundle refused`);
      const s = noThrow(t, `${c.name} (trust)`, () => trustStoreFromPem(c.data as string));
      t.equal(s?.ok, false, `${c.name}: trust store refused`);
    }
  }
  t.end();
});

t.test('run config (parseRunConfig / loadRunConfig)', async (t) => {
  const file = join(dir, 'run.yaml');
  for (const h of hostileYaml('listeners')) {
    const r = noThrow(t, h.name, () => parseRunConfig(h.text, file));
    if (r) assertRefused(t, r, file, h.name);
  }
  assertNotPolluted(t);
  const huge = join(dir, 'huge-run.yaml');
  writeFileSync(huge, `# ${'z'.repeat(TEN_MB)}\npolicy: x.yaml\n`);
  assertRefused(t, await loadRunConfig(huge), huge, '10 MB config file');
});

t.test('event logs (parseEventLines): hostile lines become per-line errors', (t) => {
  for (const h of [...hostileYaml('eventType'), { name: 'JSON __proto__', text: '{"__proto__":{"polluted":1},"eventType":"Connection"}\n' }, { name: 'deep JSON', text: `${'['.repeat(100_000)}${']'.repeat(100_000)}\n` }]) {
    const r = noThrow(t, h.name, () => parseEventLines(h.text));
    if (!r) continue;
    const lineOk = (e: PeekwallError) => typeof e.code === 'string' && Number.isInteger(e.line) && (e.line ?? 0) >= 1;
    // Only an empty input has no line to complain about; any other hostile text must be reported.
    if (h.text.trim() === '') t.same(r.errors, [], `${h.name}: nothing to report`);
    else everyOk(t, r.errors, lineOk, `${h.name}: hostile lines are errors, each with a line`);
    t.equal(r.events.length, 0, `${h.name}: no event made up`);
  }
  assertNotPolluted(t);
  t.end();
});

// A device or a FIFO where a file is expected: stat says size 0, the read never ends (device)
// or never starts (FIFO). Run in a child with a memory ulimit, killed 5 s after the loader was
// called, so a loader that trusts stat fails this test instead of hanging CI or eating the
// machine. The 5 s start once the modules are imported (the child says 'R'): importing the
// proxy on a loaded 2-core machine can take longer than a prompt refusal.
function childLoad(t: Test, module: string, fn: string, path: string): Promise<{ code: number | null; out: string }> {
  const url = new URL(module, import.meta.url).href;
  const script = `const m = await import(${JSON.stringify(url)}); process.stdout.write('R'); const r = await m.${fn}(${JSON.stringify(path)}); process.stdout.write(JSON.stringify(r.ok ? {ok: true} : {ok: false, error: r.error}));`;
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', `ulimit -v 4000000; exec "${process.execPath}" --input-type=module -e '${script.replace(/'/g, `'\\''`)}'`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let loaderTimer: NodeJS.Timeout | null = null;
    // Bounds the import too, generously: nothing here may hang the suite.
    const overall = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (loaderTimer === null && out.startsWith('R')) loaderTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    });
    child.on('close', (code) => {
      clearTimeout(overall);
      if (loaderTimer !== null) clearTimeout(loaderTimer);
      resolve({ code, out: out.replace(/^R/, '') });
    });
    t.teardown(() => child.kill('SIGKILL'));
  });
}

t.test('a device or a FIFO instead of a file is refused promptly', async (t) => {
  const fifo = join(dir, 'fifo.txt');
  execFileSync('mkfifo', [fifo]);
  const zero = join(dir, 'zero.txt');
  symlinkSync('/dev/zero', zero);
  const runs: Array<Promise<void>> = [];
  for (const [name, target] of [
    ['FIFO', 'fifo.txt'],
    ['/dev/zero', 'zero.txt'],
  ] as const) {
    const pol = join(dir, `dev-policy-${name.replace(/\W/g, '')}.yaml`);
    writeFileSync(pol, `name: d\nsecurityIntelligence:\n  url:\n    - name: D\n      action: block\n      feed: ${target}\nrules:\n  - name: A\n    action: Allow\n`);
    const jobs = [
      [`${name} as an SI feed`, '../../src/sources/index.js', 'loadPolicyFile', pol],
      [`${name} as a policy file`, '../../src/sources/index.js', 'loadPolicyFile', join(dir, target)],
      [`${name} as a run config`, '../../src/proxy/index.js', 'loadRunConfig', join(dir, target)],
      [`${name} as a trust store`, '../../src/sources/index.js', 'loadTrustStore', join(dir, target)],
    ] as const;
    for (const [what, mod, fn, path] of jobs) {
      // In parallel: a hanging loader costs 5 s once, not once per case.
      runs.push(
        childLoad(t, mod, fn, path).then((run) => {
          t.equal(run.code, 0, `${what}: the loader returned (exit ${run.code})`);
          t.match(run.out, /"ok":false/, `${what}: refused`);
        }),
      );
    }
  }
  await Promise.all(runs);
});

t.test('peekwall cert on a device or a FIFO: a usage error (exit 2) naming the file, nothing read', async (t) => {
  const fifo = join(dir, 'cert-fifo.pem');
  execFileSync('mkfifo', [fifo]);
  for (const [what, args] of [
    ['/dev/zero as the certificate', ['/dev/zero']],
    ['a FIFO as the certificate', [fifo]],
    ['/dev/zero as --trust', [fromRoot('certs', 'lab-ca.crt.pem'), '--trust', '/dev/zero']],
    ['a FIFO as --trust', [fromRoot('certs', 'lab-ca.crt.pem'), '--trust', fifo]],
  ] as const) {
    const r = await runCli(['cert', ...args]);
    t.equal(r.code, 2, `${what}: exit 2`);
    t.match(r.stderr, /not a regular file/, `${what}: says why`);
  }
});

t.test('certificate count is bounded: a bundle and a trust-store directory', async (t) => {
  const one = readFileSync(fromRoot('certs', 'lab-ca.crt.pem'), 'utf8');
  const many = one.repeat(MAX_BUNDLE_CERTIFICATES + 1);
  const b = certificatesFromPem(many);
  t.equal(b.ok, false);
  if (!b.ok) t.equal(b.error.code, 'identity/too-many-certificates');
  const s = trustStoreFromPem(many);
  t.equal(s.ok, false, 'a trust store from that bundle too');
  if (!s.ok) t.match(s.error.message, new RegExp(`more than ${MAX_BUNDLE_CERTIFICATES}`));
  // A directory whose files together exceed the bound (a small bound, so the test stays fast).
  const store = join(dir, 'store');
  execFileSync('mkdir', [store]);
  writeFileSync(join(store, 'a.pem'), one.repeat(3));
  writeFileSync(join(store, 'b.pem'), one.repeat(3));
  const d = await loadTrustStore(store, { maxCertificates: 5 });
  t.equal(d.ok, false);
  if (!d.ok) {
    t.equal(d.error.code, 'identity/bad-trust-store');
    t.match(d.error.message, /more than 5 certificates in the directory/);
  }
  const fits = await loadTrustStore(store, { maxCertificates: 6 });
  t.equal(fits.ok, true, 'at the bound it loads');
});
