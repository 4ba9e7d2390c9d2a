// settings.oddHellos: how the sans-IO machine judges hellos the wire reader decoded but
// flagged (an SSLv2-format hello offering TLS, a server_name that is no DNS name), and how the
// policy reader takes the setting. Real sockets: test/e2e/proxy-odd-hellos.test.ts.
import t from 'tap';
import { ConnectionMachine, type Command } from '../../src/flow/index.js';
import { DEFAULT_SETTINGS, parsePolicy } from '../../src/policy/index.js';
import { helloMessage, records, sniExt, v2Hello, versionsExt } from '../wire/build.js';
import { policyFrom } from '../proxy/lib/net.js';

const yaml = (o: { tsid?: boolean; failMode?: string; oddHellos?: string } = {}) => `
name: odd
settings:
  tsid: { enabled: ${o.tsid ?? false} }
  failMode: ${o.failMode ?? 'closed'}
${o.oddHellos ? `  oddHellos: ${o.oddHellos}\n` : ''}rules:
  - name: ALLOW_ALL
    action: Allow
defaultAction: Block all traffic
`;

const mk = (o: Parameters<typeof yaml>[0] = {}) =>
  new ConnectionMachine({
    policy: policyFrom(yaml(o)),
    src: { ip: '127.0.0.5', port: 40722 },
    dst: { ip: '127.0.0.9', port: 443 },
    toSeed: (ip) => ip,
  });

const kinds = (cs: readonly Command[]) => cs.map((c) => (c.kind === 'connect' ? `connect${c.passive ? '-passive' : ''}` : c.kind === 'close' ? `close${c.reset ? '-rst' : ''}` : c.kind));
const sniHello = (name: string | Uint8Array) => Buffer.from(records(helloMessage({ extensions: [sniExt(name), versionsExt([0x0304, 0x0303])] })));
const ODD_SNI: [string, Buffer][] = [
  ['wire/sni-not-ascii', sniHello(Buffer.from('bücher.example', 'utf8'))],
  ['wire/sni-too-long', sniHello(`${'a'.repeat(62)}.`.repeat(4) + 'bb')],
  ['wire/sni-bad-syntax', sniHello('evil.example\u0000.good.example')],
];

t.test('the setting: defaults, YAML, refused values', async (t) => {
  t.same(DEFAULT_SETTINGS.oddHellos, { sslv2Compat: 'allow', oddSni: 'refuse' });
  t.same(policyFrom(yaml()).settings.oddHellos, { sslv2Compat: 'allow', oddSni: 'refuse' }, 'absent: the defaults');
  t.same(policyFrom(yaml({ oddHellos: '{ oddSni: allow }' })).settings.oddHellos, { sslv2Compat: 'allow', oddSni: 'allow' }, 'one key: the other keeps its default');
  t.same(policyFrom(yaml({ oddHellos: '{ sslv2Compat: refuse, oddSni: refuse }' })).settings.oddHellos, { sslv2Compat: 'refuse', oddSni: 'refuse' });
  for (const [bad, why] of [
    ['{ oddSni: block }', /settings\.oddHellos\.oddSni must be one of 'allow', 'refuse'/],
    ['{ sslv2: allow }', /sslv2/],
    ['refuse', /settings\.oddHellos/],
  ] as const) {
    const r = parsePolicy(yaml({ oddHellos: bad }), { file: 'inline.yaml', baseDir: '/' });
    t.notOk(r.ok, bad);
    if (!r.ok) t.match(r.error.map((e) => `${e.code} ${e.message}`).join('\n'), why, bad);
  }
});

t.test('odd server_name, default (refuse): reset with the anomaly code, before any upstream', async (t) => {
  for (const failMode of ['closed', 'open']) {
    for (const [code, bytes] of ODD_SNI) {
      const m = mk({ failMode });
      t.same(kinds(m.clientData(bytes)), ['close-rst'], `${code}, failMode ${failMode}: no connect, no probe`);
      t.equal(m.outcome?.closeReason, code);
      t.equal(m.outcome?.reason, 'Inspection Failure');
      t.equal(m.outcome?.action, 'Block with reset', `failMode ${failMode} does not turn the refusal into a forward`);
      t.equal(m.hello?.sni, null);
      t.ok(m.hello?.sniRaw, 'the hello (and its raw SNI) is kept for the event');
    }
  }
});

t.test('odd server_name, oddSni: allow: judged as a hello without SNI', async (t) => {
  for (const [code, bytes] of ODD_SNI) {
    const passive = mk({ oddHellos: '{ oddSni: allow }' });
    t.same(kinds(passive.clientData(bytes)), ['pause-client', 'connect-passive'], `${code}, TSID off: the server's first flight names it`);
    t.equal(passive.flow.sni, null, 'policy sees no SNI');
    const probed = mk({ tsid: true, oddHellos: '{ oddSni: allow }' });
    const cs = probed.clientData(bytes);
    t.same(kinds(cs), ['pause-client', 'probe'], `${code}, TSID on: probed without a name`);
    const probe = cs.find((c) => c.kind === 'probe');
    t.equal(probe?.kind === 'probe' ? probe.hello.sni : 'x', null);
  }
});

t.test('SSLv2-compatible hello, default (allow): a TLS hello without SNI', async (t) => {
  const bytes = Buffer.from(v2Hello());
  const m = mk();
  // In pieces, as TCP may deliver it.
  t.same(kinds(m.clientData(bytes.subarray(0, 4))), []);
  t.same(kinds(m.clientData(bytes.subarray(4))), ['pause-client', 'connect-passive']);
  t.equal(m.hello?.anomalies[0]?.code, 'wire/sslv2-compat');
  t.equal(m.tlsVersion, 0x0303);
  t.equal(m.flow.sni, null);
  t.same(kinds(mk({ tsid: true }).clientData(bytes)), ['pause-client', 'probe'], 'TSID on: probed');
});

t.test('SSLv2-compatible hello, sslv2Compat: refuse; SSL 2.0 itself follows failMode as before', async (t) => {
  const m = mk({ failMode: 'open', oddHellos: '{ sslv2Compat: refuse }' });
  t.same(kinds(m.clientData(Buffer.from(v2Hello()))), ['close-rst']);
  t.equal(m.outcome?.closeReason, 'wire/sslv2-compat');
  t.equal(m.outcome?.reason, 'Inspection Failure');
  // SSL 2.0 (version 0x0002) is not TLS: an inspection failure, failMode decides.
  const closed = mk();
  t.same(kinds(closed.clientData(Buffer.from(v2Hello({ version: 0x0002 })))), ['close-rst']);
  t.equal(closed.outcome?.closeReason, 'wire/sslv2');
  const open = mk({ failMode: 'open' });
  t.same(kinds(open.clientData(Buffer.from(v2Hello({ version: 0x0002 })))), ['pause-client', 'connect']);
  t.equal(open.outcome?.reason, 'Fail Open');
});

t.test('still refused by the reader whatever the setting: two host_names', async (t) => {
  const two = Buffer.from(records(helloMessage({ extensions: [{ type: 0, data: [0, 12, 0, 0, 3, 0x61, 0x2e, 0x62, 0, 0, 3, 0x63, 0x2e, 0x64] }] })));
  const m = mk({ oddHellos: '{ oddSni: allow }' });
  t.same(kinds(m.clientData(two)), ['close-rst']);
  t.equal(m.outcome?.closeReason, 'wire/bad-sni');
});
