// Real sockets on loopback aliases: the simulated cloud and the licensing clients.
import t, { type Test } from 'tap';
import net from 'node:net';
import { Readable } from 'node:stream';
import { readTlsClientHello } from 'read-tls-client-hello';
import { DAY_MS, DeviceClock, LabClock } from '../../src/lab/clock.js';
import { startCloud, type RunningCloud } from '../../src/lab/cloud.js';
import { LicensingDevice, type DeviceOptions } from '../../src/lab/client.js';
import { parseTokenFile } from '../../src/lab/license.js';
import { makeTestPki, type TestPki } from './pki.js';

const tokensR = parseTokenFile('LAB-GOOD LabAccount never in-compliance\n');
if (!tokensR.ok) throw new Error('tokens');
const tokens = tokensR.value;

let pki: TestPki;
t.before(async () => {
  pki = await makeTestPki();
});

async function cloud(t: Test, o: { clock: LabClock; untrusted?: boolean; tls13?: boolean; maxDevices?: number }): Promise<RunningCloud> {
  const c = await startCloud({
    host: '127.100.0.1',
    port: 0,
    cert: o.untrusted ? pki.untrustedCertPem : pki.certPem,
    key: o.untrusted ? pki.untrustedKeyPem : pki.keyPem,
    clock: o.clock,
    tokens,
    ...(o.tls13 ? { tls13: true } : {}),
    ...(o.maxDevices !== undefined ? { maxDevices: o.maxDevices } : {}),
  });
  t.teardown(() => c.close());
  return c;
}

/** A TCP relay that records what the client sent first (its ClientHello). */
async function relay(t: Test, to: { host: string; port: number }, mode: 'pipe' | 'reset' | 'hold' = 'pipe') {
  const seen: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((c) => {
    sockets.add(c);
    c.on('error', () => {});
    c.on('close', () => sockets.delete(c));
    if (mode === 'hold') return;
    c.once('data', (first: Buffer) => {
      seen.push(first);
      if (mode === 'reset') {
        c.resetAndDestroy();
        return;
      }
      const up = net.connect(to);
      sockets.add(up);
      up.on('error', () => c.destroy());
      c.on('error', () => up.destroy());
      up.write(first);
      c.pipe(up).pipe(c);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.163.4.38', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { port: (server.address() as net.AddressInfo).port, seen };
}

function device(o: Partial<DeviceOptions> & { clock: DeviceOptions['clock']; port: number }): LicensingDevice {
  const port = o.port;
  return new LicensingDevice({
    name: 'fmc-10.12.1.8',
    kind: 'FMC',
    address: '10.12.1.8',
    localAddress: '127.12.1.8',
    dns: { 'tools.cisco.com': ['72.163.4.38'] },
    route: (ip, p) => ({ host: ip === '72.163.4.38' ? '127.163.4.38' : ip, port: p === 443 ? port : p }),
    ca: pki.caPem,
    // A deadline, not a speed assertion: success cases must not turn into err code 28 on a
    // loaded 2-core runner (the timeout case sets its own short one and expects it).
    timeoutMs: 20_000,
    ...o,
  });
}

t.test('register and renew auth through a relay: no SNI, TLS 1.2, from the device alias', async (t) => {
  const clock = new LabClock(new Date());
  const c = await cloud(t, { clock });
  const r = await relay(t, c);
  const dev = device({ clock, port: r.port });
  t.equal(dev.status().registration, 'Evaluation');
  const reg = await dev.register('LAB-GOOD');
  t.equal(reg.ok, true, reg.output);
  t.match(reg.output, /SUCCEEDED .* via 72\.163\.4\.38:443 \(TLSv1\.2, no SNI\)/);
  t.equal(dev.status().authorization, 'Authorized');
  const hello = await readTlsClientHello(Readable.from([r.seen[0]], { objectMode: false }));
  t.ok(hello.extensions.some((e) => e.id === 10), 'the hello parsed (supported_groups present)');
  t.notOk(hello.extensions.some((e) => e.id === 0), 'no server_name extension on the wire');
  t.equal(c.log.at(-1)?.tlsVersion, 'TLSv1.2');
  t.equal(c.status('fmc-10.12.1.8')?.registration, 'Registered');
  clock.advanceDays(95);
  t.equal(dev.status().authorization, 'Authorization Expired', 'device side, 90 days without contact');
  t.equal(c.status('fmc-10.12.1.8')?.authorization, 'Authorization Expired', 'cloud side too');
  const renew = await dev.renewAuth();
  t.equal(renew.command, 'license smart renew auth');
  t.equal(renew.ok, true, renew.output);
  t.equal(dev.status().authorization, 'Authorized');
  t.match(dev.showLicense(), /Status: REGISTERED[\s\S]*Status: AUTHORIZED[\s\S]*Last Communication Attempt: SUCCEEDED/);
});

t.test('an invalid token is refused by the cloud (not a transport error)', async (t) => {
  const clock = new LabClock(new Date());
  const c = await cloud(t, { clock });
  const dev = device({ clock, port: c.port, route: (_ip, p) => ({ host: '127.100.0.1', port: p === 443 ? c.port : p }) });
  const r = await dev.register('NOT-A-TOKEN');
  t.equal(r.ok, false);
  t.equal(r.curl, null);
  t.match(r.output, /Registration failed: .*\[lab\/invalid-token\]/);
  t.equal(dev.status().registration, 'Evaluation');
});

t.test('err code 6 when tools.cisco.com does not resolve', async (t) => {
  const clock = new LabClock(new Date());
  const dev = device({ clock, port: 1, dns: {} });
  const r = await dev.renewAuth();
  t.equal(r.curl, 6);
  t.match(r.output, /err code 6, err string "Couldn't resolve host name"/);
  t.match(dev.showLicense(), /Last Communication Attempt: FAILED[\s\S]*err code 6/);
});

t.test('err code 60 when the device clock is wrong (seed 003 case 3)', async (t) => {
  const clock = new LabClock(new Date());
  const c = await cloud(t, { clock });
  const devClock = new DeviceClock(clock, -3 * 365 * DAY_MS);
  const dev = device({ clock: devClock, port: c.port, route: (_ip, p) => ({ host: '127.100.0.1', port: p === 443 ? c.port : p }) });
  const r = await dev.renewAuth();
  t.equal(r.curl, 60);
  t.match(r.output, /err code 60, err string "SSL peer certificate or SSH remote key was not OK"/);
  t.match(r.output, /ch_pf_curl_is_cert_issue\[514\]/);
  t.match(r.detail, /not yet valid/);
  t.equal(c.log.length, 0, 'no request reached the cloud');
});

t.test('err code 60 for an untrusted chain (seed 004)', async (t) => {
  const clock = new LabClock(new Date());
  const c = await cloud(t, { clock, untrusted: true });
  const dev = device({ clock, port: c.port, route: (_ip, p) => ({ host: '127.100.0.1', port: p === 443 ? c.port : p }) });
  const r = await dev.renewAuth();
  t.equal(r.curl, 60);
  t.match(r.detail, /self signed certificate in certificate chain/);
});

t.test('err code 35 when the path resets the hello (a block with reset)', async (t) => {
  const r = await relay(t, { host: '127.0.0.1', port: 9 }, 'reset');
  const dev = device({ clock: new LabClock(new Date()), port: r.port });
  const out = await dev.renewAuth();
  t.equal(out.curl, 35);
  t.match(out.output, /err code 35, err string "SSL connect error"/);
});

t.test('err code 28 when the path drops silently (a block without reset)', async (t) => {
  const r = await relay(t, { host: '127.0.0.1', port: 9 }, 'hold');
  const dev = device({ clock: new LabClock(new Date()), port: r.port, timeoutMs: 300 });
  const out = await dev.renewAuth();
  t.equal(out.curl, 28);
  t.match(out.output, /"Timeout was reached"/);
});

t.test('err code 7 when nothing listens', async (t) => {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.163.4.38', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  const out = await device({ clock: new LabClock(new Date()), port }).renewAuth();
  t.equal(out.curl, 7);
});

/** A minimal explicit proxy for the client test: CONNECT only, allow or refuse. */
async function connectProxy(t: Test, target: { host: string; port: number }, allow: boolean) {
  const seen: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((c) => {
    sockets.add(c);
    c.on('error', () => {});
    c.once('data', (d: Buffer) => {
      seen.push(d.toString('latin1').split('\r\n')[0]);
      if (!allow) {
        c.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      const up = net.connect(target, () => {
        c.write('HTTP/1.1 200 Connection established\r\n\r\n');
        c.pipe(up).pipe(c);
      });
      sockets.add(up);
      up.on('error', () => c.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.2.10', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { port: (server.address() as net.AddressInfo).port, seen };
}

t.test('through an explicit proxy: CONNECT tools.cisco.com:443, then TLS without SNI', async (t) => {
  const clock = new LabClock(new Date());
  const c = await cloud(t, { clock });
  const p = await connectProxy(t, c, true);
  const dev = device({
    clock,
    port: 0,
    dns: {},
    proxy: { srv: '192.0.2.10', port: 80 },
    route: (ip, port) => (ip === '192.0.2.10' ? { host: '127.0.2.10', port: p.port } : { host: ip, port }),
  });
  const r = await dev.register('LAB-GOOD');
  t.equal(r.ok, true, r.output);
  t.same(p.seen, ['CONNECT tools.cisco.com:443 HTTP/1.1']);
  t.equal(r.connectedTo, '192.0.2.10:80 (proxy)');
});

t.test('a proxy that refuses the CONNECT: err code 56; an unresolvable PROXY_SRV: err code 5', async (t) => {
  const clock = new LabClock(new Date());
  const p = await connectProxy(t, { host: '127.0.0.1', port: 9 }, false);
  const route = (ip: string, port: number) => (ip === '192.0.2.10' ? { host: '127.0.2.10', port: p.port } : { host: ip, port });
  const r = await device({ clock, port: 0, proxy: { srv: '192.0.2.10', port: 80 }, route }).renewAuth();
  t.equal(r.curl, 56);
  t.match(r.detail, /Received HTTP code 403 from proxy after CONNECT/);
  const r5 = await device({ clock, port: 0, proxy: { srv: 'proxy.lab', port: 80 }, route }).renewAuth();
  t.equal(r5.curl, 5);
});

t.test('TLS 1.3 cloud option: a client allowing 1.3 negotiates it', async (t) => {
  const clock = new LabClock(new Date());
  const c = await cloud(t, { clock, tls13: true });
  const dev = device({ clock, port: c.port, tlsMaxVersion: 'TLSv1.3', route: (_ip, p) => ({ host: '127.100.0.1', port: p === 443 ? c.port : p }) });
  const r = await dev.register('LAB-GOOD');
  t.equal(r.ok, true, r.output);
  t.match(r.output, /TLSv1\.3/);
  t.equal(c.tlsMaxVersion, 'TLSv1.3');
});

t.test('the cloud keeps a bounded number of device records', async (t) => {
  const clock = new LabClock(new Date());
  const c = await cloud(t, { clock, maxDevices: 2 });
  const dev = device({ clock, port: c.port, route: (_ip, p) => ({ host: '127.100.0.1', port: p === 443 ? c.port : p }) });
  const answers: number[] = [];
  for (const name of ['d1', 'd2', 'd3']) answers.push((await dev.call({ op: 'register', device: name, token: 'LAB-GOOD' })).httpStatus ?? 0);
  t.same(answers, [200, 200, 429]);
  t.equal(c.record('d3'), undefined);
  // Known devices keep working at the bound.
  t.equal((await dev.call({ op: 'renew-auth', device: 'd1' })).httpStatus, 200);
});

t.test('the cloud answers bad requests with typed errors', async (t) => {
  const clock = new LabClock(new Date());
  const c = await cloud(t, { clock });
  const dev = device({ clock, port: c.port, route: (_ip, p) => ({ host: '127.100.0.1', port: p === 443 ? c.port : p }) });
  const out = await dev.call({ op: 'frobnicate', device: 'x' });
  t.equal(out.ok, false);
  t.equal(out.httpStatus, 400);
  t.equal((out.response as { error: { code: string } }).error.code, 'lab/bad-request');
  // A value whose String() throws (no callable toString/valueOf) is a bad request, not a crash.
  const hostile = await dev.call({ op: { toString: 1, valueOf: 1 }, device: { toString: 1 } } as never);
  t.equal(hostile.httpStatus, 400);
  t.equal((hostile.response as { error: { code: string } }).error.code, 'lab/bad-request');
  t.match(c.log[c.log.length - 1], { op: '?', device: '?', ok: false, code: 'lab/bad-request' });
});
