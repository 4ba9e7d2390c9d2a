// The sans-IO connection machine replayed from recorded bytes (real ClientHellos and server
// flights from independent tools): no sockets, every decision visible as commands.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { ConnectionMachine, type Command } from '../../src/flow/index.js';
import { certificateFacts } from '../../src/identity/index.js';
import { fixturePath, readFixture, readFixtureJson } from '../helpers/fixtures.js';
import { policyFrom } from '../proxy/lib/net.js';

const yaml = (tsid: boolean, failMode = 'closed') => `
name: replay
settings:
  tsid: { enabled: ${tsid} }
  failMode: ${failMode}
rules:
  - name: BLOCK_CN
    action: Block with reset
    urls: { literals: [cn-only.example] }
  - name: BLOCK_CORPUS
    action: Block
    urls: { literals: [blocked.corpus.test] }
  - name: ALLOW_ALL
    action: Allow
defaultAction: Block all traffic
`;

const mk = (tsid: boolean, failMode = 'closed') =>
  new ConnectionMachine({
    policy: policyFrom(yaml(tsid, failMode)),
    src: { ip: '127.0.0.5', port: 40722 },
    dst: { ip: '127.163.4.38', port: 8443 },
    flowPort: 443,
    toSeed: (ip) => (ip === '127.163.4.38' ? '72.163.4.38' : ip === '127.0.0.5' ? '10.12.1.8' : ip),
  });

const kinds = (cs: readonly Command[]) => cs.map((c) => (c.kind === 'connect' ? `connect${c.passive ? '-passive' : ''}` : c.kind));

t.test('SNI + TSID off: decided on the SNI as soon as the hello is complete, in any chunking', async (t) => {
  const hello = readFixture('clienthello', 'openssl-default-sni.bin');
  for (const cut of [1, 5, 6, 100, hello.length - 1]) {
    const m = mk(false);
    t.same(kinds(m.clientData(hello.subarray(0, cut))), [], `need more after ${cut} bytes`);
    t.same(kinds(m.clientData(hello.subarray(cut))), ['pause-client', 'connect']);
    t.equal(m.identity?.source, 'sni');
    t.equal(m.identity?.name, 'www.corpus.test');
    t.equal(m.outcome?.verdict?.rule, 'ALLOW_ALL');
    t.equal(m.flow.dstIp, '72.163.4.38', 'policy sees the seed address');
    t.equal(m.flow.srcIp, '10.12.1.8');
    t.equal(m.flow.dstPort, 443);
    t.equal(m.heldClientBytes, hello.length, 'every byte held for the upstream');
  }
});

t.test('a hello split over five records (openssl -max_send_frag 512)', async (t) => {
  const bytes = readFixture('clienthello', 'openssl-maxsendfrag512-multirecord-mtu1500.bin');
  const m = mk(false);
  const cmds: string[] = [];
  for (let i = 0; i < bytes.length; i += 300) cmds.push(...kinds(m.clientData(bytes.subarray(i, i + 300))));
  t.same(cmds, ['pause-client', 'connect']);
  t.equal(m.hello?.recordLengths.length, 5);
});

t.test('no SNI + TSID off: passive mode reads the TLS 1.2 certificate CN from the server flight', async (t) => {
  const m = mk(false);
  t.same(kinds(m.clientData(readFixture('clienthello', 'openssl-noservername.bin'))), ['pause-client', 'connect-passive']);
  const flight = readFixture('serverflight', 'cn-only.tls12.bin');
  t.same(kinds(m.serverData(flight.subarray(0, 70))), []);
  t.same(kinds(m.serverData(flight.subarray(70))), ['close'], 'cn-only.example is blocked');
  t.equal(m.identity?.source, 'passive-cn');
  t.equal(m.identity?.name, readFixtureJson('serverflight', 'cn-only.tls12.json').expected_identity_from_leaf.cn);
  t.equal(m.outcome?.phase, 'begin');
  t.equal(m.tlsVersion, 0x0303);
  t.ok(m.heldServerBytes > 0, 'the server flight was held, not forwarded');
});

t.test('passive mode decides on the leaf alone; the issuers are parsed when asked (fullChain)', async (t) => {
  const m = mk(false);
  m.clientData(readFixture('clienthello', 'openssl-noservername.bin'));
  t.same(kinds(m.serverData(readFixture('serverflight', 'chain-leaf-intermediate.tls12.bin'))), ['release']);
  const want = readFixtureJson('serverflight', 'chain-leaf-intermediate.tls12.json').expected_identity_from_leaf.cn;
  t.equal(m.identity?.name, want);
  t.equal(m.chain.length, 1, 'only the leaf was parsed for the decision');
  const full = m.fullChain();
  t.equal(full.length, 2, 'leaf and the intermediate the server sent');
  t.equal(full[0]?.cn, want);
  t.equal(full[1]?.subjectDn, full[0]?.issuerDn, 'the second certificate issued the leaf');
  t.equal(m.fullChain(), full, 'parsed once');
});

t.test('no SNI + TSID off over TLS 1.3: nothing to read, the IP is the identity', async (t) => {
  const m = mk(false);
  m.clientData(readFixture('clienthello', 'openssl-noservername.bin'));
  t.same(kinds(m.serverData(readFixture('serverflight', 'cn-only-tls13-encrypted.tls13.bin'))), ['release']);
  t.equal(m.identity?.source, 'ip');
  t.equal(m.identity?.name, '72.163.4.38');
  t.equal(m.tlsVersion, 0x0304);
});

t.test('TSID on: the hello is held, a probe is asked for, the certificate decides', async (t) => {
  const m = mk(true);
  const cmds = m.clientData(readFixture('clienthello', 'openssl-noservername.bin'));
  t.same(kinds(cmds), ['pause-client', 'probe']);
  const probe = cmds[1];
  if (probe.kind === 'probe') {
    t.same(probe.dst, { ip: '127.163.4.38', port: 8443 }, 'the probe goes to the real upstream');
    t.equal(probe.hello.sni, null);
  }
  const facts = certificateFacts(readFileSync(fixturePath('certs', 'first-san-differs-from-cn-cisco-like.pem'), 'utf8'));
  t.ok(facts.ok);
  if (!facts.ok) return;
  t.same(kinds(m.certificate({ ok: true, chain: [facts.value], cache: 'miss' })), ['connect']);
  t.equal(m.identity?.name, 'toos.cisco.com', 'first SAN under snort3-legacy: the field case');
  t.equal(m.identity?.source, 'cert-san');
  t.equal(m.cache, 'miss');
});

t.test('TSID on: a failed probe follows the fail mode', async (t) => {
  const err = { code: 'proxy/probe-timeout', message: 'x' };
  const closed = mk(true);
  closed.clientData(readFixture('clienthello', 'openssl-noservername.bin'));
  t.same(kinds(closed.certificate({ ok: false, error: err })), ['close']);
  t.equal(closed.outcome?.closeReason, 'proxy/probe-timeout');
  t.equal(closed.outcome?.action, 'Block with reset');
  const open = mk(true, 'open');
  open.clientData(readFixture('clienthello', 'openssl-noservername.bin'));
  t.same(kinds(open.certificate({ ok: false, error: err })), ['pause-client', 'connect']);
  t.equal(open.outcome?.reason, 'Fail Open');
});

t.test('inspection failures: not TLS, peek timeout, early close', async (t) => {
  const http = mk(false);
  const c = http.clientData(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  t.same(kinds(c), ['close']);
  t.ok(c[0].kind === 'close' && c[0].reset, 'fail closed is a reset');
  t.match(http.outcome?.closeReason, /^wire\//);

  const slow = mk(false);
  slow.clientData(readFixture('clienthello', 'openssl-default-sni.bin').subarray(0, 10));
  t.same(kinds(slow.peekTimeout()), ['close']);
  t.equal(slow.outcome?.closeReason, 'proxy/peek-timeout');

  const early = mk(false);
  early.clientData(readFixture('clienthello', 'openssl-default-sni.bin').subarray(0, 10));
  t.same(kinds(early.clientEnded()), ['close']);
  t.equal(early.outcome?.closeReason, 'wire/truncated');

  const open = mk(false, 'open');
  t.same(kinds(open.clientData(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'))), ['pause-client', 'connect']);
  t.equal(open.outcome?.action, 'Allow');
});

t.test('sni-route: the machine asks for a route, then continues', async (t) => {
  const m = new ConnectionMachine({
    policy: policyFrom(yaml(false)),
    src: { ip: '127.0.0.1', port: 1 },
    dst: null,
    toSeed: (ip) => ip,
  });
  const c = m.clientData(readFixture('clienthello', 'openssl-default-sni.bin'));
  t.same(kinds(c), ['pause-client', 'route']);
  t.same(kinds(m.routed({ ip: '127.0.0.9', port: 9443 })), ['connect']);
  t.equal(m.flow.dstIp, '127.0.0.9');
  t.equal(m.flow.dstPort, 9443);
});

t.test('after the verdict, client bytes are no longer held (a client talking into a closing connection fills no memory)', async (t) => {
  const hello = readFixture('clienthello', 'openssl-default-sni.bin');
  const allowed = mk(false);
  const cmds = allowed.clientData(hello);
  t.same(kinds(cmds), ['pause-client', 'connect']);
  const connect = cmds[1];
  t.same(kinds(allowed.clientData(Buffer.alloc(1000))), []);
  t.equal(allowed.heldClientBytes, hello.length, 'decided: late bytes not held');
  t.equal(connect.kind === 'connect' ? connect.bytes.length : -1, 1, 'the connect carries the hello, and only it');

  const refused = mk(false);
  t.same(kinds(refused.clientData(Buffer.from('GET / HTTP/1.1\r\n\r\n'))), ['close']);
  const before = refused.heldClientBytes;
  refused.clientData(Buffer.alloc(1000));
  t.equal(refused.heldClientBytes, before, 'closed: late bytes not held');
});

// TSID session check: the name was probed; the session's own certificate (TLS <= 1.2 sends it in
// clear) is compared with the probed one. The served certificate of cn-only.tls12.bin is
// certs/cn-only.pem (the fixture's json), so that pair matches and the Cisco-like one does not.
const sessionYaml = (mode: 'off' | 'log' | 'redecide') => yaml(true).replace('tsid: { enabled: true }', `tsid: { enabled: true, sessionCheck: ${mode} }`);
const mkSession = (mode: 'off' | 'log' | 'redecide') =>
  new ConnectionMachine({ policy: policyFrom(sessionYaml(mode)), src: { ip: '127.0.0.5', port: 1 }, dst: { ip: '127.163.4.38', port: 8443 }, toSeed: (ip) => ip });
const pem = (name: string) => {
  const f = certificateFacts(readFileSync(fixturePath('certs', `${name}.pem`), 'utf8'));
  if (!f.ok) throw new Error(f.error.message);
  return f.value;
};

t.test('TSID session check, redecide: a session certificate other than the probed one is judged again', async (t) => {
  const m = mkSession('redecide');
  m.clientData(readFixture('clienthello', 'openssl-noservername.bin'));
  // The probe saw the Cisco-like certificate: toos.cisco.com, allowed.
  t.same(kinds(m.certificate({ ok: true, chain: [pem('first-san-differs-from-cn-cisco-like')], cache: 'miss' })), ['connect-passive'], 'connect, hold the flight');
  t.equal(m.state, 'verify');
  t.ok(m.holdingServer);
  const flight = readFixture('serverflight', 'cn-only.tls12.bin');
  t.same(kinds(m.serverData(flight.subarray(0, 100))), [], 'need the whole certificate');
  t.same(kinds(m.serverData(flight.subarray(100))), ['close'], 'cn-only.example is blocked (BLOCK_CN)');
  t.equal(m.sessionCheck, 'tsid/cert-mismatch');
  t.equal(m.sessionName, 'cn-only.example');
  t.equal(m.outcome?.verdict?.rule, 'BLOCK_CN');
  t.equal(m.identity?.name, 'cn-only.example');
});

t.test('TSID session check, redecide: the same certificate releases the held flight; a silent server changes nothing', async (t) => {
  const m = mkSession('redecide');
  m.clientData(readFixture('clienthello', 'openssl-noservername.bin'));
  m.certificate({ ok: true, chain: [pem('cn-only')], cache: 'hit' });
  // cn-only.example is blocked by the probe already: no connect, nothing to verify.
  t.equal(m.state, 'closed');
  const m2 = mkSession('redecide');
  m2.clientData(readFixture('clienthello', 'openssl-noservername.bin'));
  m2.certificate({ ok: true, chain: [pem('first-san-differs-from-cn-cisco-like')], cache: 'hit' });
  t.same(kinds(m2.serverEnded()), ['release'], 'the server ended before its flight: the probe decision stands');
  t.equal(m2.sessionCheck, 'unseen');
  t.equal(m2.outcome?.verdict?.rule, 'ALLOW_ALL');
});

t.test('TSID session check, log: observed beside the splice, nothing held, outcome unchanged', async (t) => {
  const m = mkSession('log');
  m.clientData(readFixture('clienthello', 'openssl-noservername.bin'));
  const cmds = m.certificate({ ok: true, chain: [pem('first-san-differs-from-cn-cisco-like')], cache: 'miss' });
  t.same(kinds(cmds), ['connect'], 'splice at once');
  t.ok(cmds[0].kind === 'connect' && cmds[0].observeSession, 'and observe the session beside it');
  const flight = readFixture('serverflight', 'cn-only.tls12.bin');
  t.equal(m.observeServer(flight.subarray(0, 50)), false, 'more needed');
  t.equal(m.observeServer(flight.subarray(50)), true, 'done');
  t.equal(m.observeServer(Buffer.alloc(1)), true, 'and stays done');
  t.equal(m.sessionCheck, 'tsid/cert-mismatch');
  t.equal(m.sessionName, 'cn-only.example');
  t.equal(m.outcome?.verdict?.rule, 'ALLOW_ALL', 'log only: the verdict stands');
  t.equal(m.heldServerBytes, 0, 'nothing held');
  const same = mkSession('log');
  same.clientData(readFixture('clienthello', 'openssl-noservername.bin'));
  same.certificate({ ok: true, chain: [pem('first-san-differs-from-cn-cisco-like')], cache: 'miss' });
  t.equal(same.observeServer(readFixture('serverflight', 'first-san-differs-from-cn-cisco-like.tls12.bin')), true);
  t.equal(same.sessionCheck, 'match', 'the served certificate is the probed one');
  const tls13 = mkSession('log');
  tls13.clientData(readFixture('clienthello', 'openssl-noservername.bin'));
  tls13.certificate({ ok: true, chain: [pem('first-san-differs-from-cn-cisco-like')], cache: 'miss' });
  tls13.observeServer(readFixture('serverflight', 'cn-only-tls13-encrypted.tls13.bin'));
  t.equal(tls13.sessionCheck, 'unseen', 'TLS 1.3 hides it');
  const off = mkSession('off');
  off.clientData(readFixture('clienthello', 'openssl-noservername.bin'));
  const offCmds = off.certificate({ ok: true, chain: [pem('first-san-differs-from-cn-cisco-like')], cache: 'miss' });
  t.ok(offCmds[0].kind === 'connect' && !offCmds[0].observeSession, 'off: no check');
});
