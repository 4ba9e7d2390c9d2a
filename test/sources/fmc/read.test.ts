// The FMC bundle reader, one resource kind at a time: each construct FMC's REST API returns is
// read into the policy the compiler builds, and judged by the evaluator like a YAML policy.
import { join } from 'node:path';
import t from 'tap';
import { lintPolicy } from '../../../src/policy/index.js';
import { loadPolicyFile } from '../../../src/sources/index.js';
import {
  acp, bundleOf, cat, warns, fqdn, host, judge, load, mustLoad, netGroup, network, paged, port, portGroup, range, ref, rule, siList, tmp, url, urlGroup, writeFiles,
} from './helpers.js';

const URLDB = 'good.example,5,News\nok.example,4,News\nmeh.example,3,News\nbad.example,2,News\nworst.example,1,News\n';

t.test('actions: every FMC rule action and default action', async (t) => {
  const actions: [string, string][] = [
    ['ALLOW', 'Allow'], ['TRUST', 'Trust'], ['BLOCK', 'Block'], ['BLOCK_RESET', 'Block with reset'],
    ['BLOCK_INTERACTIVE', 'Interactive Block'], ['BLOCK_RESET_INTERACTIVE', 'Interactive Block with reset'],
  ];
  for (const [fmc, ours] of actions) {
    const p = await mustLoad(t, bundleOf([rule('R', fmc, {}, 1)]));
    t.equal(judge(p, '10.0.0.1', '192.0.2.1').action, ours, fmc);
  }
  // MONITOR logs and matching goes on to the next rule.
  const m = await mustLoad(t, bundleOf([rule('MON', 'MONITOR', { logEnd: true }, 1), rule('DENY', 'BLOCK', {}, 2)]));
  const v = judge(m, '10.0.0.1', '192.0.2.1');
  t.same([v.action, v.rule, v.monitored], ['Block', 'DENY', ['MON']], 'MONITOR');
  const defaults: [string, string][] = [['BLOCK', 'Block'], ['TRUST', 'Trust'], ['PERMIT', 'Allow'], ['NETWORK_DISCOVERY', 'Allow']];
  for (const [fmc, verdict] of defaults) {
    const p = await mustLoad(t, bundleOf([], [], {}, acp(fmc)));
    const d = judge(p, '10.0.0.1', '192.0.2.1');
    t.same([d.action, d.rule], [verdict, 'Default Action'], `default ${fmc}`);
  }
});

t.test('rules in FMC order: Mandatory then Default, each by metadata.ruleIndex, whatever the file order', async (t) => {
  const p = await mustLoad(t, bundleOf([
    rule('D2', 'ALLOW', {}, 4, 'Default'),
    rule('M1', 'BLOCK', {}, 1, 'Mandatory'),
    rule('D1', 'TRUST', {}, 3, 'Default'),
    rule('M2', 'ALLOW', {}, 2, 'Mandatory'),
  ]));
  t.same(p.rules.map((r) => r.name), ['M1', 'M2', 'D1', 'D2']);
  t.equal(judge(p, '10.0.0.1', '192.0.2.1').rule, 'M1');
});

t.test('enabled: false, logBegin and logEnd', async (t) => {
  const p = await mustLoad(t, bundleOf([
    rule('OFF', 'BLOCK', { enabled: false, logBegin: true }, 1),
    rule('ON', 'ALLOW', { logBegin: true, logEnd: true }, 2),
  ]));
  const v = judge(p, '10.0.0.1', '192.0.2.1');
  t.same([v.rule, v.log], ['ON', { beginning: true, end: true }]);
  t.same(p.rules.map((r) => r.enabled), [false, true]);
});

t.test('networks of every kind, groups nested three deep, literals', async (t) => {
  const h = host('H', '10.1.1.1');
  const n = network('N', '10.2.0.0/16');
  const r = range('R', '10.3.0.10-10.3.0.20');
  const inner = netGroup('INNER', [h], [{ type: 'Network', value: '10.4.0.0/24' }]);
  const mid = netGroup('MID', [inner, n]);
  const outer = netGroup('OUTER', [mid, r], [{ type: 'Host', value: '2001:db8::7' }]);
  const p = await mustLoad(t, bundleOf([
    rule('FROM_OUTER', 'ALLOW', { sourceNetworks: { objects: [ref(outer)] }, destinationNetworks: { literals: [{ type: 'Network', value: '192.0.2.0/24' }] } }, 1),
  ], [h, n, r, inner, mid, outer]));
  for (const src of ['10.1.1.1', '10.2.9.9', '10.3.0.15', '10.4.0.200', '2001:db8::7']) {
    t.equal(judge(p, src, src.includes(':') ? '192.0.2.1' : '192.0.2.1').rule, 'FROM_OUTER', `${src} is in OUTER`);
  }
  for (const src of ['10.1.1.2', '10.3.0.21', '10.5.0.1']) t.equal(judge(p, src, '192.0.2.1').rule, 'Default Action', `${src} is not`);
  t.equal(judge(p, '10.1.1.1', '198.51.100.1').rule, 'Default Action', 'destination literal');
});

t.test('ports: TCP objects, groups and literals with IANA numbers; UDP and ICMP never match a TLS flow', async (t) => {
  const https = port('HTTPS', 'TCP', '443');
  const alt = port('ALT', '6', '8000-8443');
  const dns = port('DNS', 'UDP', '53');
  const anyTcp = port('ANY_TCP', 'TCP');
  const web = portGroup('WEB', [https, alt, dns]);
  const p = await mustLoad(t, bundleOf([
    rule('WEB', 'ALLOW', { destinationPorts: { objects: [ref(web)], literals: [{ type: 'PortLiteral', protocol: '6', port: '993' }, { type: 'PortLiteral', protocol: '17', port: '4443' }] } }, 1),
    rule('UDP_ONLY', 'BLOCK', { destinationPorts: { objects: [ref(dns)], literals: [{ type: 'ICMPv4PortLiteral', protocol: '1', icmpType: '8' }] } }, 2),
    rule('ALL_TCP', 'TRUST', { destinationPorts: { objects: [ref(anyTcp)] } }, 3),
  ], [https, alt, dns, anyTcp, web]));
  for (const dport of [443, 8000, 8443, 993]) t.equal(judge(p, '10.0.0.1', '192.0.2.1', null, dport).rule, 'WEB', `tcp/${dport}`);
  t.equal(judge(p, '10.0.0.1', '192.0.2.1', null, 4443).rule, 'ALL_TCP', 'udp/4443 is not tcp/4443');
  t.equal(judge(p, '10.0.0.1', '192.0.2.1', null, 53).rule, 'ALL_TCP', 'a UDP-only rule never matches TCP');
  t.ok(warns(p).some((w) => w.code === 'fmc/not-tcp' && w.message.includes('UDP_ONLY')), 'and says so');
});

t.test('URL objects, URL groups and literals', async (t) => {
  const u = url('CISCO', 'cisco.com');
  const path = url('APP', 'https://portal.example.org/app');
  const g = urlGroup('SITES', [u], ['webex.com']);
  const p = await mustLoad(t, bundleOf([
    rule('SITES', 'ALLOW', { urls: { objects: [ref(g), ref(path)], literals: [{ type: 'Url', url: 'example.net' }] } }, 1),
  ], [u, path, g]));
  for (const name of ['tools.cisco.com', 'www.webex.com', 'example.net']) t.equal(judge(p, '10.0.0.1', '192.0.2.1', name).rule, 'SITES', name);
  t.equal(judge(p, '10.0.0.1', '192.0.2.1', 'verisign-cisco.com').rule, 'Default Action', 'label-aligned');
});

t.test('urlCategoriesWithReputation: every reputation value, block rules take worse, allow rules better', async (t) => {
  const hosts = ['worst.example', 'bad.example', 'meh.example', 'ok.example', 'good.example', 'unknown.example'];
  const expect: Record<string, string> = {
    // levels matched for [1 Untrusted, 2, 3, 4, 5 Trusted, 0 Unknown] (Unknown is Uncategorized, so category Any)
    'BLOCK NEUTRAL': '111000', 'ALLOW NEUTRAL': '001110',
    'BLOCK NEUTRAL_AND_UNKNOWN': '111001', 'ALLOW NEUTRAL_AND_UNKNOWN': '001111',
    'BLOCK TRUSTED': '111110', 'ALLOW UNTRUSTED': '111110',
    'BLOCK UNTRUSTED': '100000', 'ALLOW TRUSTED': '000010',
    'BLOCK QUESTIONABLE_AND_UNKNOWN': '110001', 'ALLOW FAVORABLE_AND_UNKNOWN': '000111',
    'BLOCK ANY_EXCEPT_UNKNOWN': '111110', 'ALLOW ANY_EXCEPT_UNKNOWN': '111110', 'MONITOR ANY_EXCEPT_UNKNOWN': '111110',
    'BLOCK ANY_AND_UNKNOWN': '111111', 'ALLOW ANY_AND_UNKNOWN': '111111',
    'BLOCK_RESET HIGH_RISK': '100000', 'ALLOW WELL_KNOWN': '000010', 'ALLOW BENIGN_SITES': '000110',
  };
  for (const [k, want] of Object.entries(expect)) {
    const [action, rep] = k.split(' ');
    const p = await mustLoad(t, bundleOf([rule('CAT', action, { urls: { urlCategoriesWithReputation: [cat('Any', rep)] } }, 1)], [], { 'x-peekwall': { urlDatabase: 'urldb.csv' } }, acp('TRUST')), {}, { 'urldb.csv': URLDB });
    const got = hosts.map((h) => {
      const v = judge(p, '10.0.0.1', '192.0.2.1', h);
      return action === 'MONITOR' ? (v.monitored.includes('CAT') ? '1' : '0') : v.rule === 'CAT' ? '1' : '0';
    }).join('');
    t.equal(got, want, k);
  }
  // A named category matches only names of that category.
  const p = await mustLoad(t, bundleOf([rule('NEWS', 'BLOCK', { urls: { urlCategoriesWithReputation: [cat('News', 'ANY_AND_UNKNOWN')] } }, 1)], [], {}, acp('TRUST')), { urlDatabase: 'urldb.csv' }, { 'urldb.csv': `${URLDB}sport.example,3,Sports\n` });
  t.same(['meh.example', 'sport.example'].map((h) => judge(p, '10.0.0.1', '192.0.2.1', h).rule), ['NEWS', 'Default Action']);
});

t.test('Security Intelligence: block and do-not-block lists from --feeds, objects inline', async (t) => {
  const attackers = siList('Attackers', 'SINetworkList');
  const bad = siList('Bad-Domains', 'SIURLList');
  const allow = url('PARTNER', 'partner.bad.example');
  const blockedHost = host('ONE_BAD_HOST', '198.51.100.99');
  const si = {
    id: 'si-1', name: 'si', type: 'SecurityIntelligencePolicy',
    networks: { blocklist: [ref(attackers), ref(blockedHost)], allowlist: [] },
    urls: { blocklist: [ref(bad)], allowlist: [ref(allow)] },
  };
  const b = bundleOf([rule('ALLOW_ALL', 'ALLOW', {}, 1)], [attackers, bad, allow, blockedHost, si], {}, acp('BLOCK', { securityIntelligence: { id: 'si-1', type: 'SecurityIntelligencePolicy' } }));
  const p = await mustLoad(t, b, { feeds: 'lists' }, { 'lists/Attackers.txt': '203.0.113.0/24\n', 'lists/Bad-Domains.txt': 'bad.example\n' });
  t.same(pick(judge(p, '10.0.0.1', '203.0.113.5')), ['Block with reset', 'Attackers', 'IP Block'], 'network list from the feeds folder');
  t.same(pick(judge(p, '10.0.0.1', '198.51.100.99')), ['Block with reset', 'ONE_BAD_HOST', 'IP Block'], 'a network object in the block list');
  t.same(pick(judge(p, '10.0.0.1', '192.0.2.1', 'www.bad.example')), ['Block with reset', 'Bad-Domains', 'URL Block'], 'URL list');
  t.same(pick(judge(p, '10.0.0.1', '192.0.2.1', 'partner.bad.example')), ['Allow', 'ALLOW_ALL', ''], 'do-not-block overrides block, then the rules decide');
  // Without the list's file, the error names it and where the list is referenced.
  const missing = await load(t, b, { feeds: 'nowhere' });
  t.notOk(missing.ok);
  if (!missing.ok) t.match(missing.error[0], { code: 'policy/feed-unreadable', message: /nowhere\/Attackers\.txt.*ENOENT.*\$\.securityintelligencepolicies\.items\[0\]\.networks\.blocklist\[0\]/s, file: missing.file });
});

function pick(v: { action: string; rule: string; reason: string }): string[] {
  return [v.action, v.rule, v.reason];
}

t.test('what traffic cannot show: reported once per rule and field; never-match by default, ignore-condition on request', async (t) => {
  const zoned = rule('ZONED', 'BLOCK', {
    sourceZones: { objects: [{ type: 'SecurityZone', id: 'z1', name: 'inside' }] },
    users: { objects: [{ type: 'RealmUser', id: 'u1', name: 'alice' }] },
    destinationNetworks: { objects: [{ type: 'Country', id: 'c1', name: 'Atlantis' }] },
  }, 1);
  const app = rule('APPS', 'BLOCK', { applications: { inlineApplicationFilters: [{ risks: [{ id: 'VERY_HIGH' }] }] } }, 2);
  const rest = rule('REST', 'ALLOW', {}, 3);
  const never = await mustLoad(t, bundleOf([zoned, app, rest]));
  t.equal(judge(never, '10.0.0.1', '192.0.2.1').rule, 'REST', 'never-match: the rules with unsupported conditions are passed over');
  const found = warns(never).filter((w) => w.code === 'fmc/unsupported-condition').map((w) => w.message.replace(/ \(.*?\):/, ':').split(':').slice(0, 2).join(':'));
  t.same(found, ["accessrules 'ZONED': sourceZones", "accessrules 'ZONED': users", "accessrules 'ZONED': destinationNetworks", "accessrules 'APPS': applications"]);
  t.ok(warns(never).every((w) => w.code !== 'fmc/unsupported-condition' || w.message.includes('--unsupported never-match')), 'the choice is in every warning');
  const ignore = await mustLoad(t, bundleOf([zoned, app, rest]), { unsupported: 'ignore-condition' });
  t.equal(judge(ignore, '10.0.0.1', '192.0.2.1').rule, 'ZONED', 'ignore-condition: the rule matches on what is left');
  // The bundle can choose too; the command line wins.
  const fromBundle = await mustLoad(t, bundleOf([zoned, rest], [], { 'x-peekwall': { unsupported: 'ignore-condition' } }));
  t.equal(judge(fromBundle, '10.0.0.1', '192.0.2.1').rule, 'ZONED');
  const cliWins = await mustLoad(t, bundleOf([zoned, rest], [], { 'x-peekwall': { unsupported: 'ignore-condition' } }), { unsupported: 'never-match' });
  t.equal(judge(cliWins, '10.0.0.1', '192.0.2.1').rule, 'REST');
  // FQDN objects name what DNS answers: unsupported too.
  const f = fqdn('CDN', 'cdn.example.com');
  const p = await mustLoad(t, bundleOf([rule('TO_CDN', 'BLOCK', { destinationNetworks: { objects: [ref(f)] } }, 1)], [f]));
  t.match(warns(p).find((w) => w.code === 'fmc/unsupported-condition')?.message, /FQDN object 'CDN'/);
  // Intrusion and file policies change no match: a warning, and the rule still matches.
  const ips = await mustLoad(t, bundleOf([rule('IPS', 'ALLOW', { ipsPolicy: { id: 'i', type: 'IntrusionPolicy', name: 'Balanced' } }, 1)]));
  t.equal(judge(ips, '10.0.0.1', '192.0.2.1').rule, 'IPS');
  t.ok(warns(ips).some((w) => w.code === 'fmc/unsupported-inspection'));
  t.ok(lintPolicy(never).some((f) => f.code === 'fmc/unsupported-condition' && f.file !== undefined && f.line !== undefined), 'lint reports them at their place in the bundle');
});

t.test('applications: mapped to domains by x-peekwall.applications, else unsupported', async (t) => {
  const r = rule('CISCO_APP', 'ALLOW', { applications: { applications: [{ type: 'Application', id: '2655', name: 'Cisco' }] } }, 1);
  const p = await mustLoad(t, bundleOf([r], [], { 'x-peekwall': { applications: { Cisco: ['cisco.com'] } } }));
  t.same([judge(p, '10.0.0.1', '192.0.2.1', 'tools.cisco.com').rule, judge(p, '10.0.0.1', '192.0.2.1', 'webex.com').rule], ['CISCO_APP', 'Default Action']);
  const bare = await mustLoad(t, bundleOf([r]));
  t.match(warns(bare).find((w) => w.code === 'fmc/unsupported-condition')?.message, /application 'Cisco' has no domains in x-peekwall\.applications/);
});

t.test('TSID: peekwall default, x-peekwall.settings, or the command line', async (t) => {
  const b = (x?: unknown) => bundleOf([], [], x ? { 'x-peekwall': x } : {});
  t.same((await mustLoad(t, b())).settings.tsid, { enabled: true, profile: 'snort3-legacy' });
  t.same((await mustLoad(t, b({ settings: { tsid: { enabled: false } } }))).settings.tsid, { enabled: false, profile: 'snort3-legacy' });
  const cli = await mustLoad(t, b({ settings: { tsid: { enabled: false } } }), { tsid: { enabled: true, profile: 'technote' } });
  t.same(cli.settings.tsid, { enabled: true, profile: 'technote' });
  // A suite's settings go on top of both.
  t.same((await mustLoad(t, b({ settings: { tsid: { enabled: true } } }), { settings: { tsid: { enabled: false } } })).settings.tsid.enabled, false);
});

t.test('a folder bundle: one file per resource, further pages as <resource>.page-N.json, x-peekwall.json', async (t) => {
  const dir = tmp(t);
  const rules = Array.from({ length: 30 }, (_, i) => rule(`R${i + 1}`, i === 29 ? 'ALLOW' : 'BLOCK', { destinationNetworks: { literals: [{ type: 'Host', value: `192.0.2.${i + 1}` }] } }, i + 1));
  writeFiles(dir, {
    'accesspolicies.json': paged([acp()]),
    'accessrules.json': paged(rules.slice(0, 25), 30, 0, 25),
    'accessrules.page-2.json': paged(rules.slice(25), 30, 25, 25),
    'x-peekwall.json': { settings: { tsid: { enabled: false } } },
    'notes.txt': 'not part of the bundle',
  });
  const r = await loadPolicyFile(dir);
  t.ok(r.ok);
  if (!r.ok) return;
  t.equal(r.value.rules.length, 30);
  t.equal(judge(r.value, '10.0.0.1', '192.0.2.30').rule, 'R30', 'the second page is read');
  t.equal(r.value.settings.tsid.enabled, false);
  t.equal(r.value.rules[0].file, join(dir, 'accessrules.json'), 'a rule knows its file');
  t.equal(r.value.rules[29].file, join(dir, 'accessrules.page-2.json'));
});

t.test('a resource may be the paged answer, a list of pages, or the bare items list', async (t) => {
  const rules = [rule('A', 'BLOCK', { destinationNetworks: { literals: [{ type: 'Host', value: '192.0.2.1' }] } }, 1), rule('B', 'ALLOW', {}, 2)];
  const asPages = { accesspolicies: [acp()], accessrules: [paged([rules[0]], 2, 0, 1), paged([rules[1]], 2, 1, 1)] };
  const p = await mustLoad(t, asPages);
  t.same(p.rules.map((r) => r.name), ['A', 'B']);
});

t.test('detected by content: a .yaml-named bundle and a .json-named YAML policy', async (t) => {
  const dir = tmp(t);
  writeFiles(dir, { 'policy.yaml': bundleOf([rule('FROM_JSON', 'ALLOW', {}, 1)]), 'flow.json': '{"name": "flow-map", "rules": [{"name": "YAML_RULE", "action": "Allow"}]}\n' });
  const a = await loadPolicyFile(join(dir, 'policy.yaml'));
  const b = await loadPolicyFile(join(dir, 'flow.json'));
  t.same([a.ok && a.value.rules[0].name, b.ok && b.value.rules[0].name], ['FROM_JSON', 'YAML_RULE']);
});
