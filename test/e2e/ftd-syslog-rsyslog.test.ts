// FTD syslog as a real collector reads it: Debian's rsyslogd, started here on loopback ports with
// a config of its own (no system config, no /dev/log, its own work directory), receives the
// proxy's events over UDP (RFC 5424, 7.x messages) and TCP (octet-counted RFC 3164, pre-7
// messages) and writes what it parsed — input, HOSTNAME, tag and message — to a file. Each line
// is split as Elastic's cisco_ftd integration splits it, for an allow, a block, a Security
// Intelligence block, a TSID-named and a passively named flow. A framing or header error shows
// as a wrong host, a missing line or a mangled message. Skipped where rsyslogd is missing
// (.ci/run installs it).
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect, createServer, type AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEventLog, ftdSyslogFormatter, type EventLog, type SyslogRfc, type SyslogStyle } from '../../src/events/index.js';
import { startProxy } from '../../src/proxy/index.js';
import { EventSink, makeCert, policyFrom, sleep, startOrigin, tlsRoundTrip, type Origin, type TestCert } from '../proxy/lib/net.js';
import { elasticFtdKv, one } from '../helpers/ftd-kv.js';

const RSYSLOGD = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd'].find((p) => existsSync(p)) ?? null;

const policyYaml = (tsid: boolean) => `
name: soc-${tsid ? 'tsid' : 'sni'}
settings:
  tsid: { enabled: ${tsid} }
  timeouts: { peekMs: 3000, probeMs: 3000, connectMs: 2000, idleMs: 10000 }
securityIntelligence:
  url:
    - { name: Lookalike-Domains, action: block, entries: [si-bad.test] }
rules:
  - name: BLOCK_BAD
    action: Block with reset
    urls: { literals: [block.test] }
    logging: { beginning: true }
  - name: ALLOW_ALL
    action: Allow
    logging: { beginning: false, end: true }
defaultAction: Block all traffic
`;

async function freeTcpPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

interface Rsyslog {
  udp: number;
  tcp: number;
  lines(): string[];
}

/** rsyslogd in the foreground with only our config; stopped at teardown (also when the test fails). */
type Teardown = { teardown(fn: () => unknown): void };

async function startRsyslog(t: Teardown): Promise<Rsyslog> {
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-rsyslog-'));
  const out = join(dir, 'out.log');
  const udp = await freeUdpPort();
  const tcp = await freeTcpPort();
  const conf = join(dir, 'rsyslog.conf');
  writeFileSync(
    conf,
    [
      `global(workDirectory="${dir}" maxMessageSize="16k")`,
      'module(load="imudp")',
      'module(load="imtcp")',
      `input(type="imudp" address="127.0.0.1" port="${udp}")`,
      `input(type="imtcp" address="127.0.0.1" port="${tcp}" supportOctetCountedFraming="on")`,
      'template(name="parsed" type="string" string="%inputname%|%hostname%|%syslogtag%%msg%\\n")',
      `*.* action(type="omfile" file="${out}" template="parsed" flushOnTXEnd="on" asyncWriting="off")`,
      '',
    ].join('\n'),
  );
  const check = spawnSync(RSYSLOGD!, ['-N1', '-f', conf], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`rsyslogd refused the config: ${check.stderr}${check.stdout}`);
  const child: ChildProcess = spawn(RSYSLOGD!, ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });
  const lines = () => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter((l) => l !== '') : []);
  // Up when the TCP input accepts and a UDP canary comes out of the file.
  for (let i = 0; ; i++) {
    if (i > 400) throw new Error(`rsyslogd did not come up: ${err}`);
    const ok = await new Promise<boolean>((r) => {
      const s = connect({ host: '127.0.0.1', port: tcp }, () => (s.destroy(), r(true)));
      s.on('error', () => r(false));
    });
    if (ok) break;
    await sleep(25);
  }
  const canary = createSocket('udp4');
  try {
    for (let i = 0; !lines().some((l) => l.includes('canary')); i++) {
      if (i > 400) throw new Error(`rsyslogd wrote no canary: ${err}`);
      canary.send('<13>1 - canaryhost t - - - canary', udp, '127.0.0.1');
      await sleep(25);
    }
  } finally {
    canary.close();
  }
  return { udp, tcp, lines };
}

let cert: TestCert;
let origin: Origin;
t.before(async () => {
  cert = await makeCert({ cn: 'origin.test', sans: ['origin.test'] });
  origin = await startOrigin(cert);
});
t.teardown(() => origin?.close());

/**
 * The five flows through two proxies into one event log: TSID off (names from the SNI: allow,
 * block, SI block; no SNI over TLS 1.2: the certificate's CN read passively), then TSID on (no
 * SNI: the name from the probe's certificate).
 */
async function fiveFlows(t: Teardown, log: EventLog, policyIs: (name: string) => void): Promise<void> {
  for (const tsid of [false, true]) {
    // ACPolicy names the policy in force, as the service sets it on reload.
    policyIs(`soc-${tsid ? 'tsid' : 'sni'}`);
    const sink = new EventSink();
    const proxy = await startProxy({
      policy: policyFrom(policyYaml(tsid)),
      listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: origin.port } }],
      onEvent: sink.onEvent,
      eventLog: log,
    });
    t.teardown(() => proxy.close());
    const port = proxy.listeners[0].port;
    const names = tsid ? [''] : ['allow.test', 'block.test', 'si-bad.test', ''];
    for (const servername of names) {
      // TLS 1.3 encrypts the certificate: a passive read needs 1.2.
      await tlsRoundTrip(port, { servername, ...(servername === '' && !tsid ? { maxVersion: 'TLSv1.2' as const } : {}) });
      await sink.next();
    }
    await proxy.close();
  }
  await log.flush(5000);
}

const expectations = () => [
  { what: 'allow', id: '430003', keys: { AccessControlRuleAction: 'Allow', AccessControlRuleName: 'ALLOW_ALL', ACPolicy: 'soc-sni', SSLServerName: 'allow.test', URL: 'https://allow.test', Client: 'SSL client', ApplicationProtocol: 'HTTPS', Protocol: 'tcp', DstIP: '127.0.0.1', DstPort: /^\d+$/, InitiatorBytes: /^[1-9]\d*$/, ResponderBytes: /^[1-9]\d*$/, ConnectionDuration: /^\d+$/ } },
  { what: 'block', id: '430002', keys: { AccessControlRuleAction: 'Block with reset', AccessControlRuleName: 'BLOCK_BAD', SSLServerName: 'block.test', URL: 'https://block.test', SrcIP: '127.0.0.1', SrcPort: /^\d+$/ } },
  { what: 'SI block', id: '430002', keys: { AccessControlRuleAction: /^Block/, AccessControlRuleReason: 'URL Block', InitiatorBytes: undefined, URLSICategory: 'Lookalike-Domains', URL: 'https://si-bad.test' } },
  { what: 'passive', id: '430003', keys: { AccessControlRuleAction: 'Allow', URL: 'https://origin.test', SSLServerName: undefined, SSLVersion: 'TLSv1.2', ACPolicy: 'soc-sni' } },
  { what: 'TSID', id: '430003', keys: { AccessControlRuleAction: 'Allow', URL: 'https://origin.test', SSLServerName: undefined, ACPolicy: 'soc-tsid' } },
];

for (const run of [
  { transport: 'udp' as const, rfc: 5424 as SyslogRfc, style: 7 as SyslogStyle, input: 'imudp', host: 'ftd-udp' },
  { transport: 'tcp' as const, rfc: 3164 as SyslogRfc, style: 6 as SyslogStyle, input: 'imtcp', host: 'ftd-tcp' },
]) {
  t.test(`rsyslogd reads ${run.transport} (RFC ${run.rfc}, ${run.style === 7 ? '7.x' : 'pre-7'} messages) as FTD lines with every expected key`, { skip: RSYSLOGD ? false : 'rsyslogd is not installed (apt-get install rsyslog)' }, async (t) => {
    const rs = await startRsyslog(t);
    let policyName = '';
    const log = createEventLog({
      destination: `${run.transport}://127.0.0.1:${run.transport === 'udp' ? rs.udp : rs.tcp}`,
      format: ftdSyslogFormatter({ style: run.style, rfc: run.rfc, hostname: run.host, acPolicy: () => policyName }),
    });
    t.teardown(() => log.close(1000));
    await fiveFlows(t, log, (name) => (policyName = name));
    const want = expectations();
    let ftd: string[] = [];
    for (let i = 0; i < 400 && ftd.length < want.length; i++) {
      ftd = rs.lines().filter((l) => l.includes('%FTD-'));
      if (ftd.length < want.length) await sleep(25);
    }
    t.equal(ftd.length, want.length, `one line per logged message:\n${ftd.join('\n')}`);
    t.equal(log.dropped, 0);
    for (const [i, w] of want.entries()) {
      const line = ftd[i] ?? '';
      const [input, host] = line.split('|');
      t.equal(input, run.input, `${w.what}: came in on ${run.input}`);
      t.equal(host, run.host, `${w.what}: rsyslogd parsed our HOSTNAME from the ${run.rfc} header`);
      const p = elasticFtdKv(line);
      t.ok(p, `${w.what}: an FTD message: ${line}`);
      if (!p) continue;
      t.equal(p.id, w.id, `${w.what}: %FTD-1-${w.id}`);
      for (const [k, v] of Object.entries(w.keys)) {
        if (v instanceof RegExp) t.match(one(p.kv, k), v, `${w.what}: ${k}`);
        else t.equal(one(p.kv, k), v, `${w.what}: ${k}`);
      }
      if (run.style === 7) for (const k of ['EventPriority', 'DeviceUUID', 'InstanceID', 'FirstPacketSecond', 'ConnectionID']) t.ok(p.kv.has(k), `${w.what}: 7.x ${k}`);
      else t.notOk(p.kv.has('ConnectionID'), `${w.what}: pre-7 has no ConnectionID`);
      for (const [k, v] of p.kv) t.equal(v.length, 1, `${w.what}: ${k} once`);
    }
  });
}
