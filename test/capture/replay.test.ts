// A captured flow decided by the proxy's own machine: the identity each TSID setting derives
// (passive CN, the capture's certificate standing for the probe, --certs for TLS 1.3), the
// probe's failures as the proxy meets them, and the event as the proxy builds it.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { certificatesFromPem } from '../../src/identity/index.js';
import { overrideTsid } from '../../src/policy/index.js';
import { fromRoot } from '../../src/util/paths.js';
import { readFixture } from '../helpers/fixtures.js';
import { policyFrom } from '../proxy/lib/net.js';
import { flowSegments, pcapOf } from './build.js';
import { replayAll } from './lib.js';

const yaml = (failMode = 'closed') => `
name: replay
settings:
  tsid: { enabled: false }
  failMode: ${failMode}
rules:
  - name: BLOCK_TOOS
    action: Block with reset
    urls: { literals: [toos.cisco.com] }
  - name: ALLOW_ALL
    action: Allow
defaultAction: Block all traffic
`;
const off = policyFrom(yaml());
const on = overrideTsid(off, { enabled: true });

const noSni = readFixture('clienthello', 'openssl-noservername.bin');
const cisco = readFixture('serverflight', 'first-san-differs-from-cn-cisco-like.tls12.bin'); // CN tools.cisco.com, first SAN toos.cisco.com
const tls13 = readFixture('serverflight', 'cn-only-tls13-encrypted.tls13.bin');
const START = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
const capture = (serverBytes: Uint8Array, clientBytes: Uint8Array = noSni) => pcapOf(flowSegments({ clientBytes, serverBytes }), START);

t.test('TSID off, no SNI: the name is the certificate the server sent in clear (passive CN)', async (t) => {
  const { flows } = replayAll(capture(cisco), { policy: off });
  const e = flows[0].event;
  t.equal(flows[0].evaluated, true);
  t.match(e, { action: 'Allow', accessControlRule: 'ALLOW_ALL', url: 'https://tools.cisco.com', identitySource: 'passive-cn', sni: null, tlsVersion: 'TLSv1.2' });
  t.equal(e?.time, new Date(START).toISOString(), "the capture's clock: the connection's first packet");
  t.equal(e?.bytesFromClient, noSni.length);
  t.equal(e?.bytesFromServer, cisco.length);
  t.equal(flows[0].certificateOrigin, null, 'no probe with TSID off');
});

t.test('TSID on: the certificate seen in the capture stands for what the probe would have read, and says so', async (t) => {
  const { flows } = replayAll(capture(cisco), { policy: on, trace: true });
  const f = flows[0];
  t.match(f.event, { action: 'Block with reset', accessControlRule: 'BLOCK_TOOS', url: 'https://toos.cisco.com', identitySource: 'cert-san', tsid: { enabled: true } });
  t.equal(f.certificateOrigin, 'capture');
  t.same(f.notes.map((n) => n.code), ['capture/probe-certificate']);
  t.match(f.notes[0].message, /stands for what the probe would have read/);
  t.ok(f.trace?.some((l) => /SSL: TSID enabled \(profile snort3-legacy\), the certificate seen in the capture \(frame \d+\) stands for what the probe would have read/.test(l)));
  t.ok(f.trace?.some((l) => /Result: Block with reset.* by 'BLOCK_TOOS'/.test(l)));
});

t.test('TLS 1.3: TSID names nothing from the capture unless --certs supplies the certificate; TSID off judges by IP as the proxy does', async (t) => {
  const unknown = replayAll(capture(tls13), { policy: on });
  t.equal(unknown.flows[0].evaluated, false);
  t.equal(unknown.flows[0].reason?.code, 'capture/tls13-certificate');
  t.match(unknown.flows[0].reason?.message, /--certs DIR with a certificate file named 72\.163\.4\.38\.pem/);
  const pem = certificatesFromPem(readFileSync(fromRoot('certs', 'smart-licensing.crt.pem'), 'utf8'));
  if (!pem.ok) throw new Error('lab certificate unreadable');
  const asked: string[] = [];
  const supplied = replayAll(capture(tls13), {
    policy: on,
    certsFor: (ip) => {
      asked.push(ip);
      return ip === '72.163.4.38' ? pem.value : null;
    },
  });
  t.same(asked, ['72.163.4.38'], 'looked up by the server address');
  t.equal(supplied.flows[0].evaluated, true);
  t.equal(supplied.flows[0].certificateOrigin, 'certs');
  t.match(supplied.flows[0].event, { action: 'Block with reset', url: 'https://toos.cisco.com', identitySource: 'cert-san' });
  const passive = replayAll(capture(tls13), { policy: off });
  t.equal(passive.flows[0].evaluated, true);
  t.match(passive.flows[0].event, { identitySource: 'ip', tlsVersion: 'TLSv1.3' });
});

t.test("the probe's failures as the proxy meets them: an alert, a server that closes before its certificate", async (t) => {
  const alert = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]); // fatal handshake_failure
  const a = replayAll(capture(alert), { policy: on });
  t.equal(a.flows[0].evaluated, true);
  t.match(a.flows[0].event, { action: 'Block with reset', reason: 'Inspection Failure', closeReason: 'proxy/probe-failed' });
  const open = replayAll(capture(alert), { policy: overrideTsid(policyFrom(yaml('open')), { enabled: true }) });
  t.match(open.flows[0].event, { action: 'Allow', reason: 'Fail Open' }, 'fail open forwards, as the proxy would');
  // The server closes without a byte: a probe sending the same hello is closed on too.
  const closed = replayAll(capture(Buffer.alloc(0)), { policy: on });
  t.equal(closed.flows[0].evaluated, true);
  t.equal(closed.flows[0].event?.closeReason, 'wire/truncated');
  // Passive mode, the server closes before its flight: judged by IP (the machine's serverEnded).
  const passive = replayAll(capture(Buffer.alloc(0)), { policy: off });
  t.match(passive.flows[0].event, { identitySource: 'ip', action: 'Allow' });
});

t.test('a client that does not speak TLS is judged as the proxy judges it (fail mode), not skipped', async (t) => {
  const { flows } = replayAll(capture(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'), Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), { policy: off });
  t.equal(flows[0].evaluated, true);
  t.match(flows[0].event, { action: 'Block with reset', closeReason: 'wire/not-tls', applicationProtocol: 'unknown' });
});

t.test('a TLS 1.2 server that shows no certificate (a resumed session, an empty list): named unless --certs supplies one', async (t) => {
  const hs = (type: number, body: Buffer) => Buffer.concat([Buffer.from([type, 0, body.length >> 8, body.length & 255]), body]);
  const rec = (ct: number, payload: Buffer) => Buffer.concat([Buffer.from([ct, 3, 3, payload.length >> 8, payload.length & 255]), payload]);
  const serverHello = hs(2, Buffer.concat([Buffer.from([3, 3]), Buffer.alloc(32, 7), Buffer.from([0, 0xc0, 0x2f, 0])]));
  const resumed = Buffer.concat([rec(22, serverHello), rec(20, Buffer.from([1]))]);
  const emptyList = rec(22, Buffer.concat([serverHello, hs(11, Buffer.from([0, 0, 0]))]));
  for (const [what, flight] of [['resumed', resumed], ['empty list', emptyList]] as const) {
    const r = replayAll(capture(flight), { policy: on });
    t.equal(r.flows[0].reason?.code, 'capture/no-server-certificate', what);
    const pem = certificatesFromPem(readFileSync(fromRoot('certs', 'smart-licensing.crt.pem'), 'utf8'));
    if (!pem.ok) throw new Error('lab certificate unreadable');
    const s = replayAll(capture(flight), { policy: on, certsFor: () => pem.value });
    t.match(s.flows[0], { evaluated: true, certificateOrigin: 'certs', event: { url: 'https://toos.cisco.com' } }, `${what}, --certs`);
  }
});
