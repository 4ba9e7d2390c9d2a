import t from 'tap';
import { lintPolicy } from '../../src/policy/index.js';
import { loadPolicyFile } from '../../src/sources/index.js';
import { fromRoot } from '../../src/util/paths.js';
import { mustCompile } from './helpers/policy.js';
import { exactRuleLint } from '../../src/policy/analysis/shadow.js';

const codes = (yaml: string) => lintPolicy(mustCompile(yaml)).map((f) => `${f.severity} ${f.code} ${f.rule ?? ''}`.trim());

t.test('shadowed (different action) and redundant (same action) rules', async (t) => {
  const f = codes(`
objects:
  networks:
    CLIENTS: 10.10.0.0/16
rules:
  - {name: ALLOW_CLIENTS, action: Allow, sourceNetworks: [CLIENTS], destinationPorts: [80, 443]}
  - {name: BLOCK_ONE, action: Block, sourceNetworks: [10.10.5.0/24], destinationPorts: [443]}
  - {name: ALLOW_ONE, action: Allow, sourceNetworks: [10.10.6.6], destinationPorts: [80]}
  - {name: BLOCK_OTHER, action: Block, sourceNetworks: [10.11.0.0/16]}
`);
  t.same(f, ['error lint/shadowed-rule BLOCK_ONE', 'warning lint/redundant-rule ALLOW_ONE']);
});

t.test('URL conditions: a broader domain shadows a narrower one; categories are not guessed', async (t) => {
  const f = codes(`
rules:
  - {name: CISCO, action: Allow, urls: {literals: [cisco.com]}}
  - {name: TOOLS, action: Block, urls: {literals: [tools.cisco.com]}}
  - {name: OTHER, action: Block, urls: {literals: [webex.com]}}
  - {name: CAT, action: Block, urls: {categories: [{category: News}]}}
`);
  t.same(f, ['error lint/shadowed-rule TOOLS']);
});

t.test('URL conditions: a scheme-prefixed literal is a host entry, never silently dropped', async (t) => {
  // 'https://evil.example' is the host evil.example: CISCO does not cover it, so nothing is
  // shadowed (the entry used to be skipped for containing '/', which made EVIL look covered).
  t.same(codes(`
rules:
  - {name: CISCO, action: Allow, urls: {literals: [cisco.com]}}
  - {name: EVIL, action: Block, urls: {literals: ['https://evil.example']}}
`), []);
  // ... and one that is covered is still reported.
  t.same(codes(`
rules:
  - {name: CISCO, action: Allow, urls: {literals: [cisco.com]}}
  - {name: TOOLS, action: Block, urls: {literals: ['https://TOOLS.cisco.com:443']}}
`), ['error lint/shadowed-rule TOOLS']);
  // A reputation list ('1 Untrusted, 2 Questionable') in a category's text is not a host
  // entry: splitting the text on ', ' made it one, and hid this redundancy.
  t.same(codes(`
rules:
  - {name: CISCO, action: Block, urls: {literals: [cisco.com], categories: [{category: News, reputation: Questionable}]}}
  - {name: NEWS, action: Block, urls: {literals: [tools.cisco.com], categories: [{category: News, reputation: Questionable}]}}
`), ['warning lint/redundant-rule NEWS']);
});

t.test('everything after a catch-all, Monitor rules excepted', async (t) => {
  const f = codes(`
rules:
  - {name: WATCH, action: Monitor}
  - {name: ALLOW_WEB, action: Allow, destinationPorts: [443]}
  - {name: ANY, action: Block}
  - {name: LATE, action: Allow, destinationPorts: [22]}
`);
  t.same(f, ['error lint/after-catch-all LATE']);
});

t.test('object overlap, unused objects, disabled rules, Interactive Block on HTTPS', async (t) => {
  const findings = lintPolicy(
    mustCompile(`
objects:
  networks:
    A: 10.0.0.0/8
    B: 10.1.0.0/16
    SPARE: 192.0.2.1
rules:
  - {name: R, action: Allow, sourceNetworks: [A, B]}
  - {name: OFF, action: Block, enabled: false}
  - {name: WARN, action: Interactive Block, destinationPorts: [443]}
`),
  );
  const overlap = findings.find((f) => f.code === 'lint/object-overlap');
  t.match(overlap, { severity: 'warning', line: 8, message: /10\.1\.0\.0\/16 \(object 'B'\) overlaps 10\.0\.0\.0\/8 \(object 'A'\)/ });
  t.match(findings.find((f) => f.code === 'lint/unused-object'), { message: /'SPARE'/, line: 6 });
  t.ok(findings.some((f) => f.code === 'lint/disabled-rule' && f.rule === 'OFF'));
  t.ok(findings.some((f) => f.code === 'lint/interactive-https' && f.rule === 'WARN'));
  t.notOk(findings.some((f) => f.severity === 'error'));
});

t.test('coverage merges adjacent networks of both families: two halves shadow the whole', async (t) => {
  t.same(codes(`
rules:
  - {name: HALVES_V4, action: Allow, sourceNetworks: [10.0.0.0/9, 10.128.0.0/9]}
  - {name: WHOLE_V4, action: Block, sourceNetworks: [10.0.0.0/8]}
  - {name: HALVES_V6, action: Allow, sourceNetworks: ['2001:db8::/33', '2001:db8:8000::/33']}
  - {name: WHOLE_V6, action: Block, sourceNetworks: ['2001:db8::/32']}
  - {name: GAP_V6, action: Allow, sourceNetworks: ['::1-::6', '::8-::9']}
  - {name: ACROSS_GAP_V6, action: Block, sourceNetworks: ['::1-::9']}
`), ['error lint/shadowed-rule WHOLE_V4', 'error lint/shadowed-rule WHOLE_V6']);
});

t.test('the shipped policies lint clean', async (t) => {
  for (const name of ['smart-licensing', 'smart-licensing-remedy-allow-toos', 'smart-licensing-remedy-category']) {
    const r = await loadPolicyFile(fromRoot('policies', `${name}.yaml`));
    t.ok(r.ok, `${name} loads`);
    if (r.ok) t.same(lintPolicy(r.value), [], `${name} has no findings`);
  }
});

t.test('exact: a rule two earlier rules shadow together (no single one covers it)', async (t) => {
  const findings = lintPolicy(mustCompile(`
rules:
  - {name: WEB_TLS, action: Allow, sourceNetworks: [10.0.0.0/8], destinationPorts: [443]}
  - {name: WEB_PLAIN, action: Allow, sourceNetworks: [10.0.0.0/8], destinationPorts: [80]}
  - {name: BLOCK_WEB, action: Block, sourceNetworks: [10.0.0.0/8], destinationPorts: [80, 443]}
`));
  const f = findings.find((x) => x.rule === 'BLOCK_WEB');
  t.match(f, { severity: 'error', code: 'lint/shadowed-rule', message: /taken by 'WEB_TLS' \(Allow\), 'WEB_PLAIN' \(Allow\)/ });
});

t.test('exact: Security Intelligence and prefilter take a rule\'s flows too', async (t) => {
  const f = lintPolicy(mustCompile(`
securityIntelligence:
  network:
    - {name: BAD_NETS, action: block, entries: [10.66.0.0/16]}
prefilter:
  - {name: FAST_BACKUP, action: Fastpath, sourceNetworks: [10.77.0.0/16]}
rules:
  - {name: ALLOW_BAD, action: Allow, sourceNetworks: [10.66.0.0/16]}
  - {name: BLOCK_BACKUP, action: Block, sourceNetworks: [10.77.0.0/16]}
`));
  t.match(f.find((x) => x.rule === 'ALLOW_BAD'), { code: 'lint/shadowed-rule', message: /SI list 'BAD_NETS'/ });
  t.match(f.find((x) => x.rule === 'BLOCK_BACKUP'), { code: 'lint/shadowed-rule', message: /prefilter rule 'FAST_BACKUP'/ });
});

t.test('exact: redundant when a LATER rule would give every flow the same verdict; logging counts', async (t) => {
  const f = codes(`
rules:
  - {name: ALLOW_LAB, action: Allow, sourceNetworks: [10.1.0.0/16]}
  - {name: ALLOW_CORP, action: Allow, sourceNetworks: [10.0.0.0/8]}
  - {name: LOGGED_LAB, action: Block, sourceNetworks: [10.2.0.0/16], logging: {beginning: true}}
  - {name: QUIET_LAB, action: Block, sourceNetworks: [10.3.0.0/16]}
  - {name: ALLOW_REST, action: Allow, sourceNetworks: [10.0.0.0/8, 192.168.0.0/16]}
defaultAction: Block all traffic
`);
  // ALLOW_LAB's flows would be ALLOW_CORP's; LOGGED_LAB and QUIET_LAB's are shadowed
  // (ALLOW_CORP allows them). The default action blocks and logs at the beginning.
  t.same(f, ['warning lint/redundant-rule ALLOW_LAB', 'error lint/shadowed-rule LOGGED_LAB', 'error lint/shadowed-rule QUIET_LAB']);
  t.same(codes(`
rules:
  - {name: LOGGED, action: Block, sourceNetworks: [10.2.0.0/16], logging: {beginning: true}}
  - {name: QUIET, action: Block, sourceNetworks: [10.3.0.0/16]}
defaultAction: Block all traffic
`), ['warning lint/redundant-rule LOGGED'], 'a block logged like the default action changes nothing; one not logged does');
});

t.test('exact: a rule no flow meets; a category rule is not dead for want of listed names', async (t) => {
  t.same(codes(`
rules:
  - {name: MIXED, action: Block, sourceNetworks: [10.0.0.0/8], destinationNetworks: ['2001:db8::/32']}
  - {name: GAMBLING, action: Block, urls: {categories: [{category: Gambling}]}}
`), ['warning lint/matches-nothing MIXED']);
  t.same(codes(`
rules:
  - {name: RISKY, action: Block, urls: {categories: [{category: Any, reputation: Questionable}]}}
  - {name: MALWARE, action: Block with reset, urls: {categories: [{category: Malware Sites, reputation: Untrusted}]}}
`), ['error lint/shadowed-rule MALWARE'], 'every Untrusted name is Questionable or worse');
});

t.test('outside the model or past its bound, lint falls back to pairwise and says so', async (t) => {
  const legacy = lintPolicy(mustCompile(`
settings: {urlMatching: legacy-substring}
rules:
  - {name: WEB_TLS, action: Allow, sourceNetworks: [10.0.0.0/8], destinationPorts: [443]}
  - {name: WEB_PLAIN, action: Allow, sourceNetworks: [10.0.0.0/8], destinationPorts: [80]}
  - {name: BLOCK_WEB, action: Block, sourceNetworks: [10.0.0.0/8], destinationPorts: [80, 443]}
  - {name: BLOCK_TLS, action: Block, sourceNetworks: [10.1.0.0/16], destinationPorts: [443], urls: {literals: [example.com]}}
`));
  t.match(legacy.find((x) => x.code === 'lint/pairwise-only'), { severity: 'warning', message: /legacy-substring/ });
  t.same(legacy.filter((x) => x.rule).map((x) => `${x.code} ${x.rule}`), ['lint/shadowed-rule BLOCK_TLS'], 'pairwise: one rule covering another, not two together');
  const p = mustCompile(`
rules:
  - {name: A, action: Allow, sourceNetworks: [10.0.0.0/8]}
  - {name: B, action: Block, sourceNetworks: [10.1.0.0/16]}
`);
  t.match(exactRuleLint(p, new Set(), 10), { skipped: /bound of 10 classes/ });
  t.ok('byRule' in exactRuleLint(p, new Set()));
});
