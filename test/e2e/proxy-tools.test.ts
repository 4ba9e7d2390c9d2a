// The proxy against clients that are not Node: OpenSSL's s_client (with and without SNI) and
// curl, as issue 5 asks "where installed". Each tool's own view (its handshake summary, the
// HTTP body, its exit code) and peekwall's event for the same connection must agree.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { startProxy } from '../../src/proxy/index.js';
import { EventSink, makeCert, policyFrom, type TestCert } from '../proxy/lib/net.js';

// Installed or not (spawn fails with ENOENT): the issue asks for these "where installed".
const OPENSSL = !spawnSync('openssl', ['version'], { timeout: 5000 }).error;
const CURL = !spawnSync('curl', ['--version'], { timeout: 5000 }).error;

const policy = (tsid: boolean) => `
name: tools
settings:
  tsid: { enabled: ${tsid} }
rules:
  - name: BLOCK_BAD
    action: Block
    urls: { literals: [bad.example] }
  - name: ALLOW_ALL
    action: Allow
defaultAction: Block all traffic
`;

/** Run a tool with stdin closed, bounded; its exit code and everything it printed. */
function tool(bin: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

let cert: TestCert;
let origin: https.Server;
let originPort = 0;
t.before(async () => {
  cert = await makeCert({ cn: 'tools.cisco.com', sans: ['toos.cisco.com', 'good.example', 'tools.cisco.com'] });
  origin = https.createServer({ cert: cert.cert, key: cert.key }, (_req, res) => res.end('hello from the origin\n'));
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', () => r()));
  originPort = (origin.address() as AddressInfo).port;
});
t.teardown(() => {
  origin.closeAllConnections();
  return new Promise<void>((r) => origin.close(() => r()));
});

async function proxy(t: Tap, tsid: boolean): Promise<{ port: number; sink: EventSink }> {
  const sink = new EventSink();
  const p = await startProxy({
    policy: policyFrom(policy(tsid)),
    listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: originPort } }],
    onEvent: sink.onEvent,
  });
  t.teardown(() => p.close());
  return { port: p.listeners[0].port, sink };
}
type Tap = { teardown(fn: () => unknown): void };

t.test('openssl s_client: SNI allowed, SNI blocked, and no SNI with TSID on', { skip: OPENSSL ? false : 'openssl is not installed' }, async (t) => {
  const off = await proxy(t, false);
  const ok = await tool('openssl', ['s_client', '-connect', `127.0.0.1:${off.port}`, '-servername', 'good.example', '-brief']);
  t.equal(ok.code, 0, ok.out);
  t.match(ok.out, /Protocol version: TLSv1\.3/, 'a full handshake with the origin through the proxy');
  const e1 = await off.sink.next();
  t.match(e1, { action: 'Allow', sni: 'good.example', identitySource: 'sni', tlsVersion: 'TLSv1.3', client: 'SSL client' });

  const bad = await tool('openssl', ['s_client', '-connect', `127.0.0.1:${off.port}`, '-servername', 'bad.example', '-brief']);
  t.not(bad.code, 0, 'the blocked handshake fails in OpenSSL too');
  t.notMatch(bad.out, /Protocol version/);
  t.match(await off.sink.next(), { action: 'Block', accessControlRule: 'BLOCK_BAD', sni: 'bad.example' });

  // The Smart Licensing client's shape: no server_name at all.
  const on = await proxy(t, true);
  const noSni = await tool('openssl', ['s_client', '-connect', `127.0.0.1:${on.port}`, '-noservername', '-brief']);
  t.equal(noSni.code, 0, noSni.out);
  t.match(await on.sink.next(), { sni: null, identitySource: 'cert-san', url: 'https://toos.cisco.com', action: 'Allow' });
});

t.test('curl: the body arrives through the proxy; a blocked name is a TLS failure for curl', { skip: CURL ? false : 'curl is not installed' }, async (t) => {
  const off = await proxy(t, false);
  const ok = await tool('curl', ['-sS', '-k', '--http1.1', '--max-time', '10', '--resolve', `good.example:${off.port}:127.0.0.1`, `https://good.example:${off.port}/`]);
  t.equal(ok.code, 0, ok.out);
  t.equal(ok.out, 'hello from the origin\n');
  const e = await off.sink.next();
  t.match(e, { action: 'Allow', sni: 'good.example', url: 'https://good.example' });
  t.ok(e.bytesFromServer > 0 && e.bytesFromClient > 0);

  const bad = await tool('curl', ['-sS', '-k', '--max-time', '10', '--resolve', `bad.example:${off.port}:127.0.0.1`, `https://bad.example:${off.port}/`]);
  t.equal(bad.code, 35, `curl: SSL connect error (${bad.out.trim()})`);
  t.match(await off.sink.next(), { action: 'Block', sni: 'bad.example' });
});
