// The project's main job, end to end: `peekwall lab --json` in process, on the shipped
// policies/ and certs/, real sockets on loopback aliases.
import t from 'tap';
import { everyOk } from '../helpers/every.js';
import { runCli } from '../helpers/io.js';

interface Ev {
  url: string | null;
  action: string;
  accessControlRule: string;
  srcIp: string;
  dstIp: string;
  dstPort: number;
  identitySource?: string;
  mapped?: { srcIp: string; dstIp: string };
}
interface Act {
  title: string;
  policy: string;
  tsid: { enabled: boolean; profile: string };
  events: Ev[];
  clients: { device: string; command: string; ok: boolean; output: string }[];
  ok: boolean;
}

const DEVICES = ['10.12.1.8', '10.10.42.2', '10.10.81.2'];
const SERVERS = ['72.163.4.38', '173.37.145.8'];
const FMC = '10.12.1.8';

t.test('peekwall lab --json tells the field case in acts', async (t) => {
  const r = await runCli(['lab', '--json']);
  t.equal(r.code, 0, r.stderr);
  const run = JSON.parse(r.stdout) as { scenario: string; ok: boolean; acts: Act[]; explanation: string };
  t.equal(run.scenario, 'toos');
  t.equal(run.ok, true);
  t.equal(run.acts.length, 4, 'TSID on, TSID off, two remedies');
  const [a1, a2, ...remedies] = run.acts;

  const seedShaped = (act: Act) => {
    t.same([...new Set(act.events.map((e) => e.srcIp))].sort(), [...DEVICES].sort(), `${act.title}: one flow per seed device`);
    t.ok(act.events.every((e) => SERVERS.includes(e.dstIp) && e.dstPort === 443), 'destinations are the seed servers on 443');
    t.ok(act.events.every((e) => e.mapped && e.mapped.srcIp.startsWith('127.') && e.mapped.dstIp.startsWith('127.')), 'and say they are mapped from loopback');
    t.ok(act.clients.every((c) => c.command === 'license smart renew auth'), 'the command is renew auth');
    t.equal(act.clients.length, 3);
  };

  t.equal(a1.policy, 'policies/smart-licensing.yaml');
  t.equal(a1.tsid.enabled, true);
  seedShaped(a1);
  t.ok(a1.events.every((e) => e.url === 'https://toos.cisco.com'), 'act 1: URL https://toos.cisco.com');
  t.ok(a1.events.every((e) => /Block/.test(e.action)), 'act 1: blocked');
  t.ok(a1.clients.every((c) => !c.ok), 'act 1: renew auth fails');
  t.ok(
    a1.clients.every((c) => /CH-LIB-ERROR: ch_pf_curl_send_msg\[494\], failed to perform, err code 35, err string "SSL connect error"/.test(c.output)),
    'act 1: the reset hello is curl err 35 on every device',
  );

  t.equal(a2.tsid.enabled, false);
  seedShaped(a2);
  t.ok(a2.events.every((e) => e.url === 'https://tools.cisco.com' && e.identitySource === 'passive-cn'), 'act 2: passive CN');
  t.ok(a2.events.every((e) => e.action === 'Allow'), 'act 2: allowed');
  everyOk(t, a2.events.filter((e) => e.srcIp === FMC), (e) => e.accessControlRule === 'ALLOW_FMC_ASA_SNT_CISCO', "act 2: FMC's flows by ALLOW_FMC_ASA_SNT_CISCO");
  t.ok(a2.clients.every((c) => c.ok && /SUCCEEDED/.test(c.output)), 'act 2: renew auth succeeds');

  t.same(remedies.map((a) => a.policy), ['policies/smart-licensing-remedy-allow-toos.yaml', 'policies/smart-licensing-remedy-category.yaml']);
  for (const a of remedies) {
    t.equal(a.tsid.enabled, true);
    seedShaped(a);
    t.ok(a.events.every((e) => e.url === 'https://toos.cisco.com' && e.action === 'Allow'), `${a.policy}: toos.cisco.com allowed`);
    const fmc = a.events.filter((e) => e.srcIp === FMC);
    t.ok(fmc.length > 0 && fmc.every((e) => e.accessControlRule === 'ALLOW_FMC_ASA_SNT_CISCO'), `${a.policy}: FMC by ALLOW_FMC_ASA_SNT_CISCO`);
    t.ok(a.clients.every((c) => c.ok), `${a.policy}: renew auth succeeds`);
  }
  t.match(run.explanation, /first SAN is toos\.cisco\.com/);
});

t.test('peekwall lab prints the FMC tables, the device output and a verdict', async (t) => {
  const r = await runCli(['lab']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /Time\s+Event Type\s+Action\s+Source IP\s+Destination IP/);
  t.match(r.stdout, /10\.12\.1\.8\s+(72\.163\.4\.38|173\.37\.145\.8)\s+\d+ \/ tcp\s+443 \(https\) \/ tcp\s+Cisco\s+https:\/\/toos\.cisco\.com\s+ALLOW_FMC_ASA_SNT_CISCO/);
  t.match(r.stdout, /FMC 10\.12\.1\.8# license smart renew auth/);
  t.match(r.stdout, /\[ok\]/);
  t.notMatch(r.stdout, /DIFFERS/);
  t.match(r.stdout, /lab ok: every act showed what the field case predicts/);
});
