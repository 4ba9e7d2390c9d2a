// `peekwall search` (issue 18, step 4): a witness in the region with the wanted verdict, or
// the proof that there is none.
import t from 'tap';
import { evaluate, searchPolicy, type Policy } from '../../../src/policy/index.js';
import { loadPolicyFile } from '../../../src/sources/index.js';
import { fromRoot } from '../../../src/util/paths.js';
import { runCli } from '../../helpers/io.js';
import { mustCompile } from '../helpers/policy.js';

const BASE = 'policies/smart-licensing.yaml';

async function load(rel: string): Promise<Policy> {
  const r = await loadPolicyFile(fromRoot(rel));
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

t.test('a witness is in the region, has the verdict, and evaluate() agrees', async (t) => {
  const p = await load(BASE);
  const r = searchPolicy(p, { actions: ['Allow'], src: '10.12.1.8', dst: '72.163.4.38', ports: Int32Array.of(443, 443), tsid: false });
  t.equal(r.found, true);
  t.equal(r.complete, true);
  t.equal(r.verified, true);
  t.same(r.verdict, { action: 'Allow', rule: 'ALLOW_FMC_ASA_SNT_CISCO', by: 'rule' });
  t.match(r.witness, { src: '10.12.1.8', dst: '72.163.4.38', dport: 443, name: 'tools.cisco.com', nameSources: ['sni', 'passive-cn'] });
  const w = r.witness!;
  const v = evaluate(p, { srcIp: w.src, srcPort: 1, dstIp: w.dst, dstPort: w.dport, protocol: 'tcp', scheme: 'https', sni: w.name }, { name: w.name, source: 'sni' });
  t.equal(v.rule, 'ALLOW_FMC_ASA_SNT_CISCO');
});

t.test('the proof of none: the field case, toos.cisco.com is never allowed by the shipped policy', async (t) => {
  const p = await load(BASE);
  const none = searchPolicy(p, { actions: ['Allow', 'Trust'], name: 'toos.cisco.com' });
  t.equal(none.found, false);
  t.equal(none.complete, true);
  t.ok(none.classes > 0, `${none.classes} classes walked`);
  const fixed = searchPolicy(await load('policies/smart-licensing-remedy-allow-toos.yaml'), { actions: ['Allow'], name: 'toos.cisco.com', src: '10.12.1.8' });
  t.equal(fixed.found, true, 'the remedy lets it through');
  t.equal(fixed.witness?.name, 'toos.cisco.com');
});

t.test('category and reputation narrow the names; the rule narrows the verdict', async (t) => {
  const p = mustCompile(`
urlDatabase: db.csv
rules:
  - {name: BLOCK_GAMBLING, action: Block, sourceNetworks: [10.0.0.0/8], urls: {categories: [{category: Gambling}]}}
  - {name: ALLOW_REST, action: Allow, sourceNetworks: [10.0.0.0/8]}
defaultAction: Block all traffic
`, { 'db.csv': 'casino.example,2,Gambling\nbet.example,4,Gambling|Games\nnews.example,5,News\n' });
  // Gambling reaches no client in 10/8 ...
  const none = searchPolicy(p, { actions: ['Allow'], src: '10.0.0.0/8', category: 'Gambling' });
  t.equal(none.found, false);
  t.equal(none.complete, true);
  // ... but News does, and the reputation picks among the Gambling names.
  t.equal(searchPolicy(p, { actions: ['Allow'], src: '10.0.0.0/8', category: 'News' }).witness?.name, 'news.example');
  const blocked = searchPolicy(p, { actions: ['Block'], category: 'Gambling', reputation: 4, rule: 'BLOCK_GAMBLING' });
  t.equal(blocked.witness?.name, 'bet.example');
  t.match(blocked.witness?.src, /^10\./);
  // Outside 10/8 Gambling is the default action's.
  const outside = searchPolicy(p, { actions: ['Block'], src: '192.168.0.0/16', category: 'Gambling' });
  t.same(outside.matches, [{ action: 'Block', rule: 'Default Action', classes: outside.matches[0]?.classes }]);
});

t.test('peekwall search: text, --json, exit codes', async (t) => {
  const found = await runCli(['search', BASE, '--action', 'allow', '--src', '10.12.1.8', '--dst', '72.163.4.38', '--dport', '443', '--tsid', 'off']);
  t.equal(found.code, 1, 'found: exit 1');
  t.match(found.stdout, /^found: 10\.12\.1\.8 -> 72\.163\.4\.38:443, name tools\.cisco\.com/);
  const none = await runCli(['search', BASE, '--action', 'allow', '--name', 'toos.cisco.com']);
  t.equal(none.code, 0, 'none: exit 0');
  t.match(none.stdout, /none: no flow of the region is decided allow .*complete: true/);
  const empty = await runCli(['search', BASE, '--action', 'allow', '--category', 'Gambling']);
  t.match(empty.stdout, /holds no flow at all/);
  const j = await runCli(['search', BASE, '--action', 'block', '--reputation', 'Untrusted', '--json']);
  t.equal(j.code, 1);
  const o = JSON.parse(j.stdout);
  t.equal(o.found, true);
  t.equal(o.witness.reputation, '1 Untrusted');
  for (const bad of [['--action', 'maybe'], ['--action', 'allow', '--src', '10.0.0.300'], ['--action', 'allow', '--dport', '0'], ['--action', 'allow', '--name', 'a..b'], ['--action', 'allow', '--reputation', '9'], ['--action', 'allow', '--tsid', 'yes'], []]) {
    t.equal((await runCli(['search', BASE, ...bad])).code, 2, `bad input: ${bad.join(' ') || '(no --action)'}`);
  }
  t.equal((await runCli(['search', 'policies/nope.yaml', '--action', 'allow'])).code, 2);
});
