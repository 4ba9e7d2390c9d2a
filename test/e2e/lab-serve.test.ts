// `peekwall lab serve` (through serveLab): up for a client, printing how, closed on abort.
import t from 'tap';
import net from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureWalk } from '../../src/capture/index.js';
import type { ConnectionEvent } from '../../src/events/index.js';
import { LabClock, LicensingDevice, serveLab, type ServeInfo } from '../../src/lab/index.js';
import { fromRoot } from '../../src/util/paths.js';

t.test('serve keeps cloud and proxy up until aborted, then closes everything', async (t) => {
  const ac = new AbortController();
  let printed = '';
  const events: ConnectionEvent[] = [];
  let firstEvent!: () => void;
  const gotEvent = new Promise<void>((r) => (firstEvent = r));
  let ready!: (i: ServeInfo) => void;
  const up = new Promise<ServeInfo>((r) => (ready = r));
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-serve-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const done = serveLab({
    capture: join(dir, 'serve.pcapng'),
    policy: 'policies/smart-licensing-remedy-allow-toos.yaml',
    port: 0,
    explicitPort: 0,
    signal: ac.signal,
    print: (s) => (printed += s),
    onEvent: (e) => {
      events.push(e);
      firstEvent();
    },
    onReady: (i) => ready(i),
  });
  const info = await up;
  t.match(printed, /openssl s_client -bind 127\.12\.1\.8:0 -connect 127\.163\.4\.38:\d+ -noservername/);
  t.match(printed, /PROXY_SRV 127\.0\.2\.10, PROXY_PORT \d+/);
  t.equal(info.tsid, true);
  const [a] = info.transparent;
  const dev = new LicensingDevice({
    name: 'serve-test',
    kind: 'FMC',
    address: '10.12.1.8',
    localAddress: '127.12.1.8',
    dns: { 'tools.cisco.com': ['127.163.4.38'] },
    route: (ip, p) => ({ host: ip, port: p === 443 ? a.port : p }),
    ca: readFileSync(fromRoot('certs', 'lab-ca.crt.pem'), 'utf8'),
    clock: new LabClock(new Date()),
    timeoutMs: 20_000, // a deadline for a loaded runner, not a speed assertion
  });
  const r = await dev.register('LAB-TOKEN-VALID-0001');
  t.equal(r.ok, true, r.output);
  // The allow is logged when the connection ends, after register() returned: wait for the
  // event itself (a fixed 2 s poll raced it on a loaded 2-core runner); tap's timeout bounds it.
  await gotEvent;
  t.equal(events[0]?.url, 'https://toos.cisco.com');
  t.equal(events[0]?.srcIp, '10.12.1.8', 'seed address through the map');
  ac.abort();
  await done;
  const refused = await new Promise<boolean>((res) => {
    const s = net.connect({ host: a.host, port: a.port });
    s.once('connect', () => {
      s.destroy();
      res(false);
    });
    s.once('error', () => res(true));
  });
  t.equal(refused, true, 'the listener is gone');
  // --capture: written at stop, the connection and its TSID probe in it.
  const seen: { probe: boolean; port: number }[] = [];
  const walk = new CaptureWalk((s) => {
    seen.push({ probe: s.first.probe === true, port: s.client.port });
    return { wants: () => false, data: () => undefined, end: () => undefined, note: () => undefined, close: () => undefined };
  });
  walk.push(readFileSync(join(dir, 'serve.pcapng')));
  walk.end();
  t.ok(seen.some((s) => s.probe) && seen.some((s) => !s.probe && s.port === events[0].srcPort), 'the capture holds the probe and the inspected connection');
});
