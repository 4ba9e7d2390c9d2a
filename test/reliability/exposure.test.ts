// Exposure checks: the admin listener is local unless a token guards it (compared in constant
// time), no endpoint serves a file a request names, block pages do not reflect the request,
// event logs never carry a private key, and private keys live only in certs/ marked lab-only.
import t from 'tap';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseRunConfig, startProxy } from '../../src/proxy/index.js';
import { createEventLog } from '../../src/events/index.js';
import { fromRoot, repoRoot } from '../../src/util/paths.js';
import { readFixture } from '../helpers/fixtures.js';
import { policyFrom, startOrigin, tlsRoundTrip } from '../proxy/lib/net.js';

const allowAll = policyFrom(`
name: exposure
settings:
  tsid: { enabled: true }
  timeouts: { peekMs: 1000, probeMs: 1000, connectMs: 1000, idleMs: 1000 }
rules:
  - name: BLOCK_BLOCKED
    action: Block
    urls: { literals: [blocked.test] }
  - name: ALLOW_ALL
    action: Allow
`);

/** One raw HTTP exchange: exactly these bytes out, everything back until close. */
function rawHttp(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => resolve(got));
    s.on('connect', () => s.write(request));
    setTimeout(() => s.destroy(), 3000).unref();
  });
}

t.test('admin binds 127.0.0.1 by default; elsewhere only with a token', (t) => {
  const def = parseRunConfig('policy: p.yaml\nlisteners: [{mode: explicit, host: 127.0.0.1, port: 8080}]\nadmin: {port: 9901}\n', '/tmp/run.yaml');
  t.ok(def.ok, 'a config with an admin port and no host is valid');
  if (def.ok) t.equal(def.value.admin?.host, '127.0.0.1', 'and binds the admin listener to 127.0.0.1');
  for (const host of ['0.0.0.0', '::', '10.0.0.5']) {
    const open = parseRunConfig(`policy: p.yaml\nlisteners: [{mode: explicit, host: 127.0.0.1, port: 8080}]\nadmin:\n  host: "${host}"\n  port: 9901\n`, '/tmp/run.yaml');
    t.equal(open.ok, false, `admin on ${host} without a token is refused`);
    if (!open.ok) t.ok(open.error.some((e) => e.file === '/tmp/run.yaml' && (e.line ?? 0) >= 4), `with file:line (${open.error.map((e) => `${e.line}: ${e.message}`).join('; ')})`);
    const guarded = parseRunConfig(`policy: p.yaml\nlisteners: [{mode: explicit, host: 127.0.0.1, port: 8080}]\nadmin:\n  host: "${host}"\n  port: 9901\n  token: s3cret-s3cret-s3cret\n`, '/tmp/run.yaml');
    t.ok(guarded.ok, `admin on ${host} with a token is accepted`);
  }
  t.end();
});

t.test('admin token: required when set, every wrong form refused', async (t) => {
  const token = 'tok-0123456789abcdef';
  const proxy = await startProxy({ policy: allowAll, listeners: [{ mode: 'explicit', host: '127.0.0.1', port: 0 }], admin: { host: '127.0.0.1', port: 0, token } });
  t.teardown(() => proxy.close());
  t.equal(proxy.admin?.host, '127.0.0.1');
  const port = proxy.admin!.port;
  const status = (headers: string) => rawHttp(port, `GET /healthz HTTP/1.1\r\nHost: x\r\n${headers}Connection: close\r\n\r\n`).then((r) => r.split(' ')[1]);
  t.equal(await status(''), '401', 'no token');
  t.equal(await status(`Authorization: Bearer ${token.replace(/.$/, 'X')}\r\n`), '401', 'same length, last byte wrong');
  t.equal(await status(`Authorization: Bearer ${token.slice(0, -1)}\r\n`), '401', 'a prefix of the token');
  t.equal(await status(`Authorization: Bearer ${token}x\r\n`), '401', 'the token plus a byte');
  t.equal(await status(`Authorization: Basic ${Buffer.from(`a:${token}`).toString('base64')}\r\n`), '401', 'another scheme');
  t.equal(await status(`Authorization: Bearer ${token}\r\n`), '200', 'the token');
});

t.test('the admin token is compared in constant time', (t) => {
  // Timing cannot be asserted in a unit test; what can be checked is that the comparison goes
  // through crypto.timingSafeEqual and that no plain string comparison touches the token.
  const src = readFileSync(fromRoot('src', 'proxy', 'admin.ts'), 'utf8');
  t.match(src, /timingSafeEqual/, 'admin.ts uses crypto.timingSafeEqual');
  t.notMatch(src, /(===|!==)\s*`Bearer \$\{/, 'no === / !== against the expected header');
  t.end();
});

t.test('no endpoint serves a file a request names', async (t) => {
  const proxy = await startProxy({ policy: allowAll, listeners: [{ mode: 'explicit', host: '127.0.0.1', port: 0 }], admin: { host: '127.0.0.1', port: 0 } });
  t.teardown(() => proxy.close());
  const secret = /root:.*:0:0:|BEGIN [A-Z ]*PRIVATE KEY|"name": "peekwall"/;
  const paths = ['/../../../../etc/passwd', '/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/metrics/../../../../etc/passwd', '//etc/passwd', '/healthz?file=/etc/passwd', '/certs/lab-ca.key.pem', '/package.json', 'file:///etc/passwd'];
  for (const p of paths) {
    const admin = await rawHttp(proxy.admin!.port, `GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    t.notMatch(admin, secret, `admin GET ${p}: ${admin.split('\r\n')[0]}`);
    const explicit = await rawHttp(proxy.listeners[0].port, `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    t.notMatch(explicit, secret, `explicit proxy GET ${p}: ${explicit.split('\r\n')[0]}`);
  }
});

t.test('the block page does not reflect the request', async (t) => {
  const proxy = await startProxy({ policy: allowAll, listeners: [{ mode: 'explicit', host: '127.0.0.1', port: 0 }], resolve: async () => '127.0.0.1' });
  t.teardown(() => proxy.close());
  const r = await rawHttp(proxy.listeners[0].port, `GET http://blocked.test/<script>alert(1)</script>?q="><img src=x> HTTP/1.1\r\nHost: blocked.test\r\nConnection: close\r\n\r\n`);
  t.match(r.split('\r\n')[0], /^HTTP\/1\.1 (403|400)/, r.split('\r\n')[0]);
  t.notMatch(r, /<script>alert|<img src=x>/, 'no request text comes back unescaped');
});

t.test('event logs never contain a private key, whatever the traffic', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-exposure-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keyPem = readFileSync(fromRoot('certs', 'smart-licensing.key.pem'), 'utf8');
  const certPem = readFileSync(fromRoot('certs', 'smart-licensing.crt.pem'), 'utf8');
  const origin = await startOrigin({ cert: certPem, key: keyPem }, { maxVersion: 'TLSv1.2' });
  t.teardown(() => origin.close());
  const file = join(dir, 'events.log');
  const log = createEventLog({ destination: file });
  const proxy = await startProxy({ policy: allowAll, eventLog: log, listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: origin.port } }] });
  const port = proxy.listeners[0].port;
  t.equal((await tlsRoundTrip(port, {})).kind, 'ok', 'no SNI: TSID probe reads the certificate');
  t.equal((await tlsRoundTrip(port, { servername: 'tools.cisco.com', maxVersion: 'TLSv1.2' })).kind, 'ok', 'SNI');
  // An SNI the certificate contradicts: TSID names the server from the certificate (spoofed SNI).
  await tlsRoundTrip(port, { servername: 'blocked.test' });
  await rawHttp(port, 'GET / HTTP/1.1\r\n\r\n');
  await new Promise<void>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.end(readFixture('clienthello', 'openssl-default-sni.bin').subarray(0, 40)));
    s.on('error', () => undefined);
    s.on('close', () => resolve());
  });
  // Bounded wait for the last end-of-connection events, then close and read the file.
  for (let k = 0; k < 60 && proxy.stats().active > 0; k++) await new Promise((r) => setTimeout(r, 50));
  await proxy.close();
  await log.close();
  const text = readFileSync(file, 'utf8');
  t.ok(text.split('\n').filter(Boolean).length >= 5, `${text.split('\n').filter(Boolean).length} event lines written`);
  t.notMatch(text, /PRIVATE KEY/, 'no PEM private key marker');
  const body = keyPem.replace(/^#.*$/gm, '').replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const chunks = Array.from({ length: Math.floor(body.length / 32) }, (_, i) => body.slice(i * 32, i * 32 + 32));
  t.notOk(chunks.some((c) => text.includes(c)), 'no 32-character piece of the server key');
  t.ok(tls.checkServerIdentity('tools.cisco.com', { subject: { CN: 'tools.cisco.com' }, subjectaltname: 'DNS:tools.cisco.com' } as never) === undefined, 'sanity: the origin served the lab certificate names');
});

t.test('private keys live only in certs/, each marked LAB-ONLY', (t) => {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      if (name === 'node_modules' || name === '.git' || name.startsWith('dist') || name === '.tap') continue;
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.size < 1_000_000) {
        const text = readFileSync(p, 'latin1');
        if (/-----BEGIN ([A-Z]+ )?PRIVATE KEY-----\r?\n[A-Za-z0-9+/=\r\n]{40,}-----END/.test(text)) found.push(relative(repoRoot, p));
      }
    }
  };
  walk(repoRoot);
  t.ok(found.length > 0, `${found.length} private key files found (the lab PKI)`);
  t.same(found.filter((f) => !f.startsWith('certs/')), [], 'no private key outside certs/');
  for (const f of found.filter((x) => x.startsWith('certs/'))) {
    const text = readFileSync(join(repoRoot, f), 'utf8');
    const blocks = text.split(/(?=-----BEGIN)/).slice(1).length;
    const marked = (text.match(/#\s*LAB-ONLY[^\n]*\n(#[^\n]*\n)*-----BEGIN/g) ?? []).length;
    t.equal(marked, blocks, `${f}: each of its ${blocks} PEM block(s) sits under a '# LAB-ONLY' comment`);
  }
  t.end();
});
