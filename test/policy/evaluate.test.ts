import fc from 'fast-check';
import t from 'tap';
import { evaluate, overrideTsid, traceLines, tsidFor } from '../../src/policy/index.js';
import { asCompiled } from '../../src/policy/compiled.js';
import { MAX_INDEX_ENTRIES } from '../../src/policy/ruleindex.js';
import { flow, mustCompile, named, urlPolicy } from './helpers/policy.js';

const allowed = (p: ReturnType<typeof urlPolicy>, host: string, path?: string) =>
  evaluate(p, flow(path ? { scheme: 'http', path } : {}), named(host)).rule === 'ALLOW_URLS';

t.test('URL matching, current mode (FMC 7.x): host entries are label-aligned', async (t) => {
  const p = urlPolicy(['ign.com', 'example.com']);
  t.ok(allowed(p, 'ign.com'));
  t.ok(allowed(p, 'www.ign.com'));
  t.notOk(allowed(p, 'verisign.com'), 'ign.com does not match verisign.com');
  t.ok(allowed(p, 'www.example.com'));
  t.notOk(allowed(p, 'example.com.evil.net'));
  t.notOk(allowed(p, 'example.co.uk'));
  t.ok(allowed(p, 'WWW.EXAMPLE.COM.'), 'case and trailing dot of the identity are ignored');
});

t.test('URL matching, legacy-substring mode (FMC 6.x): every entry is a substring', async (t) => {
  const p = urlPolicy(['ign.com', 'example.com'], 'legacy-substring');
  t.ok(allowed(p, 'verisign.com'), 'the classic gotcha');
  t.ok(allowed(p, 'example.com.evil.net'));
  t.ok(allowed(p, 'www.ign.com'));
  t.notOk(allowed(p, 'example.co.uk'));
});

t.test("URL entries with '/' are substrings of host+path, scheme ignored", async (t) => {
  const p = urlPolicy(['https://tools.cisco.com/its/', 'example.org/']);
  t.ok(allowed(p, 'tools.cisco.com', '/its/service/oddce/services/DDCEService'));
  t.notOk(allowed(p, 'tools.cisco.com', '/other'));
  t.notOk(allowed(p, 'tools.cisco.com'), 'a TLS flow has path / only');
  t.ok(allowed(p, 'example.org'), "trailing '/' matches the TLS URL https://example.org/");
  t.ok(allowed(p, 'notexample.org'), "and, being a substring, FMC's documented looseness");
});

t.test('TLS flows log URL https://<identity name>', async (t) => {
  const p = urlPolicy(['tools.cisco.com']);
  const v = evaluate(p, flow(), named('toos.cisco.com', 'cert-san'));
  t.equal(v.url, 'https://toos.cisco.com');
  t.equal(v.urlCategory, 'Uncategorized');
  t.same(v.urlReputation, { level: 0, label: 'Unknown' });
  const none = evaluate(p, flow(), named(null, 'ip'));
  t.equal(none.url, '');
  t.equal(none.rule, 'Default Action', 'no name: URL conditions cannot match');
  t.match(none.trace.map((s) => s.message).join('\n'), /no URL known/);
});

const repDb = `# test db
good.example,5,Business
okay.example,4,Business
neutral.example,3,Business
shady.example,2,Business
bad.example,1,Malware Sites
`;

function repPolicy(action: string, reputation: string | number, extra = ''): ReturnType<typeof urlPolicy> {
  return mustCompile(
    `
urlDatabase: db.csv
rules:
  - name: R
    action: ${action}
    urls: {categories: [{category: Any, reputation: ${reputation}${extra}}]}
defaultAction: Intrusion Prevention
`,
    { 'db.csv': repDb },
  );
}

t.test('reputation: block rules include MORE severe levels, allow rules LESS severe', async (t) => {
  const hits = (p: ReturnType<typeof urlPolicy>) =>
    ['bad', 'shady', 'neutral', 'okay', 'good', 'unknown'].filter((h) => evaluate(p, flow(), named(`${h}.example`)).rule === 'R');
  t.same(hits(repPolicy('Block', 'Questionable')), ['bad', 'shady'], 'Block at 2 Questionable: 1 and 2');
  t.same(hits(repPolicy('Block with reset', 3)), ['bad', 'shady', 'neutral']);
  t.same(hits(repPolicy('Allow', 'Favorable')), ['okay', 'good'], 'Allow at 4 Favorable: 4 and 5');
  t.same(hits(repPolicy('Trust', 3)), ['neutral', 'okay', 'good']);
  t.same(hits(repPolicy('Monitor', 5)), [], 'Monitor never decides');
  t.same(hits(repPolicy('Block', 'Untrusted', ', includeUnknown: true')), ['bad', 'unknown'], 'unknown only when asked');
  t.same(hits(repPolicy('Block', 'Any')), ['bad', 'shady', 'neutral', 'okay', 'good', 'unknown']);
  t.same(hits(repPolicy('Allow', 'Unknown')), ['unknown']);
});

t.test('categories: several per URL, most specific database entry wins', async (t) => {
  const p = mustCompile(
    `
urlDatabase: db.csv
rules:
  - name: NEWS
    action: Block
    urls: {categories: [{category: News}]}
  - name: BIZ
    action: Allow
    urls: {categories: [{category: Business, reputation: Neutral}]}
defaultAction: Block all traffic
`,
    { 'db.csv': 'example.com,3,Business|News\nshop.example.com,4,Shopping\n' },
  );
  t.equal(evaluate(p, flow(), named('www.example.com')).rule, 'NEWS');
  const shop = evaluate(p, flow(), named('a.shop.example.com'));
  t.equal(shop.urlCategory, 'Shopping');
  t.equal(shop.rule, 'Default Action');
});

const siYaml = (extra: string) => `
objects:
  networks:
    CLIENTS: 10.0.0.0/8
securityIntelligence:
  url:
    - {name: Block-Feed, action: block, feed: block.txt}
${extra}
rules:
  - name: MON
    action: Monitor
    sourceNetworks: [CLIENTS]
  - name: ALLOW_CLIENTS
    action: Allow
    sourceNetworks: [CLIENTS]
defaultAction: Block all traffic
`;
const feeds = { 'block.txt': '# look-alikes\ntoos.cisco.com\nevil.example   # inline comment\n' };

t.test('SI URL block answers TCP with reset before any rule', async (t) => {
  const p = mustCompile(siYaml(''), feeds);
  const v = evaluate(p, flow(), named('toos.cisco.com', 'cert-san'));
  t.equal(v.action, 'Block with reset');
  t.equal(v.reason, 'URL Block');
  t.equal(v.siCategory, 'Block-Feed');
  t.equal(v.rule, 'Block-Feed');
  t.same(v.siMatched, ['Block-Feed']);
  t.same(v.rulesMatched, []);
  t.same(v.log, { beginning: true, end: false });
  t.equal(evaluate(p, flow(), named('sub.evil.example')).reason, 'URL Block', 'inline # comments are stripped');
  t.equal(evaluate(p, flow(), named('tools.cisco.com')).rule, 'ALLOW_CLIENTS');
});

t.test('Do-Not-Block overrides Block and continues to the rules without trusting', async (t) => {
  const p = mustCompile(siYaml(`    - {name: DNB, action: do-not-block, entries: [cisco.com]}`), feeds);
  const v = evaluate(p, flow(), named('toos.cisco.com'));
  t.equal(v.action, 'Allow');
  t.equal(v.rule, 'ALLOW_CLIENTS', 'decided by the rules, not trusted by SI');
  t.same([...v.siMatched].sort(), ['Block-Feed', 'DNB']);
  t.match(v.trace.map((s) => s.message).join('\n'), /do-not-block 'DNB' overrides block 'Block-Feed'/);
  const outside = evaluate(p, flow({ srcIp: '192.168.1.1' }), named('toos.cisco.com'));
  t.equal(outside.rule, 'Default Action', 'DNB is not an allow: the default action still applies');
  t.equal(outside.action, 'Block');
});

t.test('monitor-only SI lists log and continue', async (t) => {
  const p = mustCompile(siYaml(`    - {name: Watch, action: monitor, entries: [example.net]}`), feeds);
  const v = evaluate(p, flow(), named('www.example.net'));
  t.equal(v.action, 'Allow');
  t.equal(v.rule, 'ALLOW_CLIENTS');
  t.equal(v.siCategory, 'Watch');
  t.equal(v.reason, 'URL Monitor');
  t.same(v.siMatched, ['Watch']);
});

t.test('Monitor rules log and matching continues', async (t) => {
  const p = mustCompile(siYaml(''), feeds);
  const v = evaluate(p, flow(), named('www.example.org'));
  t.same(v.monitored, ['MON']);
  t.same(v.rulesMatched, ['MON', 'ALLOW_CLIENTS']);
  t.match(v.trace.map((s) => s.message).join('\n'), /monitor rule, 'MON', continue/);
});

t.test('SI network (IPv4 + IPv6) and DNS lists name their reasons', async (t) => {
  const p = mustCompile(`
securityIntelligence:
  network:
    - {name: Attackers, action: block, entries: [198.51.100.0/24, "2001:db8:bad::/48", 203.0.113.5-203.0.113.9]}
  dns:
    - {name: DNS-Bad, action: block, entries: [malware.test]}
rules:
  - {name: ALL, action: Allow}
`);
  const ip = evaluate(p, flow({ dstIp: '198.51.100.77' }), named('x.test'));
  t.equal(ip.reason, 'IP Block');
  t.equal(ip.action, 'Block with reset');
  t.equal(evaluate(p, flow({ srcIp: '2001:db8:bad:1::5', dstIp: '2001:db8::1' }), named('x.test')).reason, 'IP Block');
  t.equal(evaluate(p, flow({ srcIp: '203.0.113.9' }), named('x.test')).reason, 'IP Block');
  t.equal(evaluate(p, flow({ srcIp: '203.0.113.10' }), named('x.test')).rule, 'ALL');
  t.equal(evaluate(p, flow(), named('c2.malware.test')).reason, 'DNS Block');
});

t.test('default actions', async (t) => {
  for (const [da, action, log] of [
    ['Block all traffic', 'Block', { beginning: true, end: false }],
    ['Trust all traffic', 'Trust', { beginning: false, end: true }],
    ['Intrusion Prevention', 'Allow', { beginning: false, end: true }],
  ] as const) {
    const p = mustCompile(`rules: []\ndefaultAction: ${da}\n`);
    const v = evaluate(p, flow(), named('a.test'));
    t.equal(v.action, action, da);
    t.equal(v.rule, 'Default Action');
    t.same(v.log, log);
    t.same(v.rulesMatched, []);
  }
  t.equal(evaluate(mustCompile('rules: []\n'), flow(), named('a.test')).action, 'Block', "default is 'Block all traffic'");
});

const netPolicy = mustCompile(`
objects:
  networks:
    FMC_ASA: 10.12.1.8
    CLIENTS: 10.10.0.0/16
    INTERNAL: [FMC_ASA, CLIENTS]
    LAB_RANGE: 192.0.2.100-192.0.2.120
    V6_SITE: "2001:db8:1::/48"
    ALL_SITES: [INTERNAL, V6_SITE]
  ports:
    WEB: [80, 443]
    HIGH: 8000-8999
  applications:
    Cisco: [cisco.com]
    Webex: ["*.webex.com"]
rules:
  - name: OFF
    enabled: false
    action: Block
  - name: LAB
    action: Trust
    destinationNetworks: [LAB_RANGE]
  - name: V6_WEB
    action: Allow
    sourceNetworks: [V6_SITE]
    destinationNetworks: ["2001:db8:ffff::/48"]
    destinationPorts: [WEB]
  - name: CISCO_APP
    action: Allow
    sourceNetworks: [ALL_SITES]
    applications: [Cisco]
  - name: HIGH_PORTS
    action: Block
    sourceNetworks: [INTERNAL]
    destinationPorts: [HIGH, 9443]
defaultAction: Intrusion Prevention
`);

t.test('networks: hosts, CIDRs, ranges, nested groups, IPv6 CIDRs; ports and applications', async (t) => {
  const rule = (f: Parameters<typeof flow>[0], name = 'www.example.org') => evaluate(netPolicy, flow(f), named(name)).rule;
  t.equal(rule({ dstIp: '192.0.2.115' }), 'LAB');
  t.equal(rule({ dstIp: '192.0.2.121' }), 'Default Action');
  t.equal(rule({ srcIp: '2001:db8:1:2::3', dstIp: '2001:db8:ffff::9', dstPort: 80 }), 'V6_WEB');
  t.equal(rule({ srcIp: '2001:db8:1:2::3', dstIp: '2001:db8:fffe::9', dstPort: 80 }), 'Default Action');
  t.equal(rule({ srcIp: '2001:db8:1:2::3', dstIp: '2001:db8:ffff::9', dstPort: 22 }), 'Default Action');
  t.equal(rule({ srcIp: '10.12.1.8' }, 'tools.cisco.com'), 'CISCO_APP', 'group of groups');
  t.equal(rule({ srcIp: '2001:db8:1::1' }, 'tools.cisco.com'), 'CISCO_APP', 'IPv6 member of the group');
  t.equal(rule({ srcIp: '10.10.9.9', dstPort: 8443 }), 'HIGH_PORTS', 'port range object');
  t.equal(rule({ srcIp: '10.10.9.9', dstPort: 9443 }), 'HIGH_PORTS', 'literal port');
  t.equal(rule({ srcIp: '10.11.0.1', dstPort: 8443 }), 'Default Action');
  t.equal(rule({ srcIp: '::ffff:10.12.1.8', dstPort: 8080 }), 'HIGH_PORTS', 'IPv4-mapped source');
  const v = evaluate(netPolicy, flow({ srcIp: '10.10.1.1' }), named('meet.webex.com'));
  t.equal(v.application, 'Webex');
  t.equal(evaluate(netPolicy, flow(), named('webex.com')).application, undefined, '*.webex.com needs a label');
});

t.test('trace names, for each rule passed over, the first condition that failed', async (t) => {
  const v = evaluate(netPolicy, flow({ srcIp: '10.10.9.9', dstPort: 22 }), named('www.example.org'));
  const lines = v.trace.filter((s) => s.module === 'Firewall').map((s) => s.message);
  t.same(lines, [
    lines[0],
    "rule 'OFF' skipped: disabled",
    "rule 'LAB' skipped: destination 192.0.2.10 not in [LAB_RANGE]",
    "rule 'V6_WEB' skipped: source 10.10.9.9 not in [V6_SITE]",
    "pending rule-matching, 'CISCO_APP', pending AppID",
    "rule 'CISCO_APP' skipped: application unknown not in [Cisco]",
    "rule 'HIGH_PORTS' skipped: destination port 22 not in [HIGH, 9443]",
    "no rule matched, default action 'Intrusion Prevention', allow",
  ]);
  t.match(lines[0], /^starting rule matching/);
  const text = traceLines(flow({ srcIp: '10.10.9.9', dstPort: 22 }), named('www.example.org'), v);
  t.equal(text[0], '10.10.9.9 40722 -> 192.0.2.10 22 6 AS=0 ID=0 GR=1-1 Identity: server name \'www.example.org\' from sni');
  t.match(text[text.length - 1], /GR=1-1 Verdict: pass$/);
});

t.test('the indexed hot path (trace off) decides exactly like the traced scan', async (t) => {
  const ips = ['10.12.1.8', '10.10.3.4', '10.11.0.1', '192.0.2.115', '192.0.2.130', '192.0.2.10', '2001:db8:1::1', '2001:db8:ffff::2', '::ffff:10.10.0.1'];
  const names = ['tools.cisco.com', 'meet.webex.com', 'example.org', null];
  const ports = [22, 80, 443, 8000, 8999, 9443];
  fc.assert(
    fc.property(fc.constantFrom(...ips), fc.constantFrom(...ips), fc.constantFrom(...ports), fc.constantFrom(...names), (src, dst, port, name) => {
      const f = flow({ srcIp: src, dstIp: dst, dstPort: port });
      const a = evaluate(netPolicy, f, named(name));
      const b = evaluate(netPolicy, f, named(name), { trace: false });
      return a.rule === b.rule && a.action === b.action && b.trace.length === 0 && a.rulesMatched.join() === b.rulesMatched.join();
    }),
    { numRuns: 400, seed: 0x7065656b },
  );
  t.pass('same decisions');
});

t.test('the rule index stays bounded when segments x any-rules would explode, and still decides exactly', async (t) => {
  // 3,000 rules on distinct /32 sources interleaved with 3,000 'any' rules: every 'any' rule
  // would sit in every one of ~6,000 source segments (18,000,000 entries; 20,000 + 20,000
  // rules took 36 s and 2.6 GB to load). The source index degrades to one segment instead.
  let y = 'rules:\n';
  for (let i = 0; i < 6000; i++) {
    y += i % 2 === 0
      ? `  - {name: r${i}, action: Block, sourceNetworks: [10.1.${(i >> 8) & 255}.${i & 255}], destinationPorts: [${1000 + i}]}\n`
      : `  - {name: r${i}, action: Allow, destinationPorts: [${1000 + i}]}\n`;
  }
  const p = mustCompile(`${y}defaultAction: Block all traffic\n`);
  t.ok(asCompiled(p).index.entries <= 4 * MAX_INDEX_ENTRIES, `${asCompiled(p).index.entries} index entries`);
  for (const [src, port, rule] of [['10.1.0.2', 1002, 'r2'], ['10.1.0.2', 1003, 'r3'], ['10.1.0.3', 1002, 'Default Action'], ['10.1.23.0', 6888, 'r5888'], ['10.1.23.1', 6888, 'Default Action'], ['10.9.9.9', 6999, 'r5999']] as const) {
    const f = flow({ srcIp: src, dstPort: port });
    t.equal(evaluate(p, f, named(null), { trace: false }).rule, rule, `${src}:${port} indexed`);
    t.equal(evaluate(p, f, named(null)).rule, rule, `${src}:${port} traced`);
  }
});

t.test('prefilter fastpath bypasses SI and rules', async (t) => {
  const p = mustCompile(`
prefilter:
  - {name: BACKUP_FASTPATH, action: Fastpath, sourceNetworks: [10.9.9.9], destinationPorts: [873]}
  - {name: ANALYZE_REST, action: Analyze}
securityIntelligence:
  network:
    - {name: All, action: block, entries: [0.0.0.0/0]}
rules: []
`);
  const v = evaluate(p, flow({ srcIp: '10.9.9.9', dstPort: 873 }), named(null, 'ip'));
  t.equal(v.action, 'Trust');
  t.equal(v.rule, 'BACKUP_FASTPATH');
  t.equal(evaluate(p, flow({ srcIp: '10.9.9.9', dstPort: 874 }), named(null, 'ip')).reason, 'IP Block');
});

t.test('prefilter Analyze ends the prefilter scan: later Block/Fastpath rules that also match are not consulted', async (t) => {
  const p = mustCompile(`
prefilter:
  - {name: ANALYZE_LAB, action: Analyze, sourceNetworks: [10.9.9.0/24]}
  - {name: BLOCK_LATER, action: Block, sourceNetworks: [10.9.9.9]}
  - {name: FASTPATH_LATER, action: Fastpath, destinationPorts: [873]}
securityIntelligence:
  network:
    - {name: SI_BAD, action: block, entries: [192.0.2.66]}
rules:
  - {name: ALLOW_ALL, action: Allow}
defaultAction: Block all traffic
`);
  for (const trace of [true, false]) {
    const run = (srcIp: string, dstPort: number, dstIp = '192.0.2.10') => {
      const v = evaluate(p, flow({ srcIp, dstPort, dstIp }), named(null, 'ip'), { trace });
      return [v.action, v.rule, v.reason];
    };
    const mode = trace ? 'traced' : 'untraced';
    // Analyze matches first; BLOCK_LATER / FASTPATH_LATER match too but must not decide.
    t.same(run('10.9.9.9', 443), ['Allow', 'ALLOW_ALL', ''], `${mode}: Analyze, then the access rules (not BLOCK_LATER)`);
    t.same(run('10.9.9.9', 873), ['Allow', 'ALLOW_ALL', ''], `${mode}: Analyze, then the access rules (not BLOCK_LATER nor FASTPATH_LATER)`);
    t.same(run('10.9.9.8', 873), ['Allow', 'ALLOW_ALL', ''], `${mode}: Analyze, then the access rules (not FASTPATH_LATER)`);
    // After Analyze the flow goes through Security Intelligence, which a Fastpath would skip.
    t.same(run('10.9.9.9', 873, '192.0.2.66'), ['Block with reset', 'SI_BAD', 'IP Block'], `${mode}: Analyze, then SI`);
    // Without the Analyze match the later rules do decide (so they are not dead rules).
    t.same(run('10.8.8.8', 873), ['Trust', 'FASTPATH_LATER', 'Prefilter Fastpath'], `${mode}: FASTPATH_LATER decides when Analyze does not match`);
  }
  const v = evaluate(p, flow({ srcIp: '10.9.9.9', dstPort: 873 }), named(null, 'ip'));
  t.same(
    v.trace.filter((s) => s.module === 'Prefilter').map((s) => s.message),
    ["analyze rule 'ANALYZE_LAB', continue to access control"],
    'the trace names Analyze as the last prefilter step',
  );
});

t.test('tsidFor: policy setting, rule-level lab override, CLI override wins', async (t) => {
  const p = mustCompile(`
settings: {tsid: {enabled: true, profile: snort3-legacy}}
rules:
  - name: LAB_NO_TSID
    action: Allow
    sourceNetworks: [10.99.0.0/16]
    tsid: {enabled: false}
`);
  t.same(tsidFor(p, flow()), { enabled: true, profile: 'snort3-legacy' });
  t.same(tsidFor(p, flow({ srcIp: '10.99.1.1' })), { enabled: false, profile: 'snort3-legacy' });
  const forced = overrideTsid(p, { enabled: true, profile: 'technote' });
  t.same(tsidFor(forced, flow({ srcIp: '10.99.1.1' })), { enabled: true, profile: 'technote' });
  t.same(p.settings.tsid, { enabled: true, profile: 'snort3-legacy' }, 'the original is unchanged');
});

t.test('evaluate never throws on odd input (bad addresses, odd names, any port)', async (t) => {
  const p = mustCompile(
    `
urlDatabase: db.csv
securityIntelligence:
  network:
    - {name: N, action: block, entries: [198.51.100.0/24, "2001:db8:bad::/48"]}
  url:
    - {name: U, action: block, entries: [bad.test, "*.wild.test", "x.test/p"]}
rules:
  - {name: NET, action: Allow, sourceNetworks: [10.0.0.0/8], urls: {literals: [a.test, "a.test/x"], categories: [{category: News}]}}
  - {name: ANY_WEB, action: Allow, destinationPorts: [443]}
`,
    { 'db.csv': 'a.test,3,News\n' },
  );
  fc.assert(
    fc.property(fc.string(), fc.string(), fc.integer({ min: -5, max: 70000 }), fc.option(fc.string(), { nil: null }), fc.option(fc.string(), { nil: undefined }), (src, dst, port, name, path) => {
      const f = flow({ srcIp: src, dstIp: dst, dstPort: port, ...(path !== undefined ? { scheme: 'http', path } : {}) });
      const a = evaluate(p, f, named(name));
      const b = evaluate(p, f, named(name), { trace: false });
      return a.rule === b.rule && typeof a.action === 'string';
    }),
    { numRuns: 500, seed: 0x7065656b },
  );
  const v = evaluate(p, flow({ srcIp: 'not-an-ip' }), named('a.test'));
  t.equal(v.rule, 'ANY_WEB', 'an unparsable source matches only rules without source networks');
});
