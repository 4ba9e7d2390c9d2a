// FTD syslog lines from connection events: which message IDs, which keys and words, both header
// styles and both syslog RFCs, and values that cannot be split by the SIEM parsers' rule.
import t from 'tap';
import { ftdSyslogLines, ftdValue, type ConnectionEvent, type FtdSyslogOptions } from '../../src/events/index.js';
import { elasticFtdKv, one } from '../helpers/ftd-kv.js';

const base: ConnectionEvent = {
  time: '2026-12-07T00:10:05.250Z',
  eventType: 'Connection',
  phase: 'end',
  action: 'Allow',
  reason: '',
  srcIp: '10.12.1.8',
  dstIp: '72.163.4.38',
  srcPort: 51000,
  dstPort: 443,
  protocol: 'tcp',
  applicationProtocol: 'HTTPS',
  client: 'SSL client',
  webApplication: 'Cisco',
  url: 'https://tools.cisco.com',
  urlCategory: 'Computers and Internet',
  urlReputation: 'Trusted',
  accessControlRule: 'ALLOW_FMC_ASA_SNT_CISCO',
  identitySource: 'sni',
  sni: 'tools.cisco.com',
  tlsVersion: 'TLSv1.2',
  bytesFromClient: 517,
  bytesFromServer: 4321,
  durationMs: 2250,
  fmcLogged: true,
  fmcLog: { beginning: false, end: true },
};
const opts: FtdSyslogOptions = { style: 7, rfc: 5424, hostname: 'ftd-lab', acPolicy: () => 'smart-licensing' };

t.test('an allow logged at end: one 430003 with FTD keys and words, 7.x header, RFC 5424', async (t) => {
  const lines = ftdSyslogLines(base, opts, 42);
  t.equal(lines.length, 1);
  t.match(lines[0], /^<161>1 2026-12-07T00:10:05\.250Z ftd-lab FTD - 430003 - %FTD-1-430003: EventPriority: Low, DeviceUUID: [0-9a-f-]{36}, InstanceID: 1, FirstPacketSecond: 2026-12-07T00:10:03Z, ConnectionID: 42, AccessControlRuleAction: Allow, SrcIP: 10\.12\.1\.8, /);
  const p = elasticFtdKv(lines[0])!;
  t.equal(p.id, '430003');
  const want: Record<string, string> = {
    AccessControlRuleAction: 'Allow', SrcIP: '10.12.1.8', DstIP: '72.163.4.38', SrcPort: '51000', DstPort: '443', Protocol: 'tcp',
    ACPolicy: 'smart-licensing', AccessControlRuleName: 'ALLOW_FMC_ASA_SNT_CISCO', Client: 'SSL client', ApplicationProtocol: 'HTTPS',
    WebApplication: 'Cisco', SSLServerName: 'tools.cisco.com', URL: 'https://tools.cisco.com', URLCategory: 'Computers and Internet',
    URLReputation: 'Trusted', InitiatorBytes: '517', ResponderBytes: '4321', ConnectionDuration: '2', ConnectionID: '42',
    FirstPacketSecond: '2026-12-07T00:10:03Z', User: 'No Authentication Required',
  };
  for (const [k, v] of Object.entries(want)) t.equal(one(p.kv, k), v, k);
});

t.test('message IDs follow the rule logging: begin → 430002, end → 430003, both, none', async (t) => {
  const ids = (e: ConnectionEvent) => ftdSyslogLines(e, opts, 1).map((l) => elasticFtdKv(l)!.id);
  t.same(ids({ ...base, fmcLog: { beginning: true, end: true } }), ['430002', '430003']);
  t.same(ids({ ...base, fmcLog: { beginning: true, end: false }, fmcLogged: true }), ['430002']);
  t.same(ids({ ...base, fmcLog: { beginning: false, end: false }, fmcLogged: false }), []);
  const block = { ...base, phase: 'begin' as const, action: 'Block with reset', fmcLog: { beginning: true, end: false } };
  t.same(ids(block), ['430002'], 'a block: at its beginning');
  const start = elasticFtdKv(ftdSyslogLines(block, opts, 1)[0])!;
  t.equal(one(start.kv, 'AccessControlRuleAction'), 'Block with reset');
  t.equal(one(start.kv, 'InitiatorBytes'), undefined, 'no counters at connection start');
  const failed = { ...base, fmcLog: undefined, fmcLogged: undefined, action: 'Block', applicationProtocol: 'unknown' };
  t.same(ids(failed), ['430003'], 'no verdict (inspection failed): logged at end');
});

t.test('Security Intelligence blocks name their category by feed kind', async (t) => {
  const si = (reason: string) => elasticFtdKv(ftdSyslogLines({ ...base, phase: 'begin', action: 'Block', reason, siCategory: 'Lookalike-Domains', accessControlRule: '' }, opts, 1)[0])!.kv;
  t.equal(one(si('URL Block'), 'URLSICategory'), 'Lookalike-Domains');
  t.equal(one(si('URL Block'), 'AccessControlRuleReason'), 'URL Block');
  t.equal(one(si('IP Block'), 'IPReputationSICategory'), 'Lookalike-Domains');
  t.equal(one(si('IP Block'), 'SecIntMatchingIP'), 'Destination');
  t.equal(one(si('DNS Block'), 'DNSSICategory'), 'Lookalike-Domains');
});

t.test('InstanceID names the worker whose ConnectionIDs these are', async (t) => {
  const kv = elasticFtdKv(ftdSyslogLines(base, { ...opts, instanceId: 3 }, 9)[0])!.kv;
  t.equal(one(kv, 'InstanceID'), '3');
  t.equal(one(kv, 'ConnectionID'), '9');
});

t.test('pre-7 style and RFC 3164 header', async (t) => {
  const [l] = ftdSyslogLines(base, { ...opts, style: 6, rfc: 3164 }, 7);
  t.equal(l.slice(0, l.indexOf('%')), '<161>Dec  7 00:10:05 ftd-lab ');
  t.match(l, /%FTD-1-430003: AccessControlRuleAction: Allow, SrcIP: /);
  t.notMatch(l, /EventPriority|DeviceUUID|ConnectionID|IngressVRF/);
});

t.test('TSID and passive names carry no SSLServerName (FTD reads that from the ClientHello)', async (t) => {
  for (const identitySource of ['cert-san', 'passive-cn'] as const) {
    const kv = elasticFtdKv(ftdSyslogLines({ ...base, identitySource, sni: null, url: 'https://toos.cisco.com' }, opts, 1)[0])!.kv;
    t.equal(one(kv, 'SSLServerName'), undefined, identitySource);
    t.equal(one(kv, 'URL'), 'https://toos.cisco.com', identitySource);
  }
});

t.test('a value never contains `, Word:` nor a line break: the parsers see the same keys', async (t) => {
  t.equal(ftdValue('a, Evil: x'), 'a; Evil: x');
  t.equal(ftdValue('https://h/p?a=1, Evil: x', true), 'https://h/p?a=1%2C%20Evil:%20x');
  const nasty = { ...base, accessControlRule: 'R, DstIP: 6.6.6.6', url: 'https://x/?q=a, SrcIP: 1.1.1.1\r\nforged', webApplication: 'App,Evil: 1' };
  const [l] = ftdSyslogLines(nasty, opts, 1);
  t.notMatch(l, /[\r\n]/);
  const kv = elasticFtdKv(l)!.kv;
  t.equal(one(kv, 'DstIP'), '72.163.4.38', 'no forged DstIP');
  t.equal(one(kv, 'SrcIP'), '10.12.1.8', 'no forged SrcIP');
  t.equal(one(kv, 'AccessControlRuleName'), 'R; DstIP: 6.6.6.6');
  t.notOk(kv.has('Evil'));
});
