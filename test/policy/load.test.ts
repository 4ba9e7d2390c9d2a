import t from 'tap';
import { DEFAULT_SETTINGS, parsePolicy } from '../../src/policy/index.js';
import { formatError } from '../../src/util/errors.js';
import { compile, mustCompile } from './helpers/policy.js';

const where = (yaml: string, files: Record<string, string> = {}) => compile(yaml, files).errors.map(formatError);

t.test('defaults are written once and applied to what a file leaves out', async (t) => {
  const p = mustCompile('rules: []\n');
  t.same(p.settings, DEFAULT_SETTINGS);
  const q = mustCompile('settings: {tsid: {enabled: false}, timeouts: {probeMs: 750}}\nrules: []\n');
  t.same(q.settings.tsid, { enabled: false, profile: 'snort3-legacy' });
  t.equal(q.settings.timeouts.probeMs, 750);
  t.equal(q.settings.timeouts.peekMs, DEFAULT_SETTINGS.timeouts.peekMs);
  t.equal(q.name, 'test', 'name defaults to the file name');
});

t.test('bad YAML is reported at file:line:column', async (t) => {
  const e = where('rules:\n  - name: a\n    action: [Allow\n');
  t.ok(e.length > 0);
  t.match(e[0], /^test\.yaml:\d+:\d+: YAML: .+\[policy\/yaml\]$/);
  t.match(where('rules: []\nrules: []\n')[0], /^test\.yaml:2:1: YAML: Map keys must be unique/);
});

t.test('every schema error is reported, each at its position, and the file is rejected', async (t) => {
  const e = where(`rules:
  - name: A
    action: Allow
    sourceNetworks: [NO_SUCH_NET]
    colour: blue
  - name: B
    action: Alow
    destinationPorts: [70000]
    applications: [Nope]
defaultAction: Permit
`);
  t.same(e, [
    "test.yaml:4:22: unknown network object 'NO_SUCH_NET' (neither a valid network nor a declared object) [policy/unknown-object]",
    "test.yaml:5:5: unknown key 'colour' in a rule (allowed: name, enabled, action, sourceNetworks, destinationNetworks, destinationPorts, applications, urls, logging, tsid, comment) [policy/unknown-key]",
    "test.yaml:7:13: rule action must be one of 'Allow', 'Trust', 'Monitor', 'Block', 'Block with reset', 'Interactive Block', 'Interactive Block with reset', not 'Alow' [policy/schema]",
    "test.yaml:8:24: '70000' is not a port (1-65535) or port range [policy/invalid-port]",
    "test.yaml:9:20: unknown application 'Nope' (declare it under objects.applications) [policy/unknown-object]",
    "test.yaml:10:16: defaultAction must be one of 'Block all traffic', 'Trust all traffic', 'Intrusion Prevention', not 'Permit' [policy/schema]",
  ]);
});

t.test('__proto__ and constructor keys are refused (and pollute nothing)', async (t) => {
  const e = where('objects:\n  networks:\n    __proto__: 10.0.0.1\n    constructor: 10.0.0.2\nrules: []\n');
  t.same(e, [
    "test.yaml:3:5: key '__proto__' is not allowed [policy/forbidden-key]",
    "test.yaml:4:5: key 'constructor' is not allowed [policy/forbidden-key]",
  ]);
  t.equal(({} as Record<string, unknown>).polluted, undefined);
  t.same(where('__proto__: {polluted: 1}\nrules: []\n'), ["test.yaml:1:1: key '__proto__' is not allowed [policy/forbidden-key]"]);
  t.equal(({} as Record<string, unknown>).polluted, undefined);
});

t.test('alias bombs are cut off by the alias budget', async (t) => {
  const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 10; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
  lines.push('rules: []');
  const e = where(`${lines.join('\n')}\n`);
  t.ok(e.some((m) => /alias expansions \(alias bomb\?\) \[policy\/alias-limit\]/.test(m)), 'alias-limit reported');
  t.match(e.find((m) => m.includes('alias-limit')), /^test\.yaml:\d+:\d+:/);
  // A few aliases are fine (FMC exports use them for shared lists).
  const ok = mustCompile('objects:\n  networks:\n    A: &nets [10.0.0.1]\n    B: *nets\nrules: []\n');
  t.ok(ok);
});

t.test('object group bombs: groups naming a group twice per level are bounded, big groups are fine', async (t) => {
  const groups = (levels: number): string => {
    let y = 'objects:\n  networks:\n    G0: [10.0.0.1, 10.0.0.2]\n';
    for (let i = 1; i <= levels; i++) y += `    G${i}: [G${i - 1}, G${i - 1}]\n`;
    return `${y}rules:\n  - {name: R, action: Allow, sourceNetworks: [G${levels}]}\n`;
  };
  // 2^15 leaves: push(...) of them overflowed the stack (a RangeError out of parsePolicy).
  const p = compile(groups(14));
  t.same(p.errors.map(formatError), []);
  t.ok(p.policy);
  // 2^41 leaves: refused with a positioned error instead of expanding for ever (a small
  // budget keeps the test fast; the default is MAX_EXPANSION).
  const r = parsePolicy(groups(40), { file: 'bomb.yaml', baseDir: '/nonexistent', maxExpansion: 20_000 });
  t.equal(r.ok, false);
  const e = r.ok ? [] : r.error.map(formatError);
  t.ok(e.some((m) => /^bomb\.yaml:\d+:\d+: object groups expand to more than 20000 entries.*\[policy\/expansion-limit\]$/.test(m)), e.join('\n'));
  t.equal(e.filter((m) => m.includes('expansion-limit')).length, 1, 'reported once');
});

t.test('huge lists never overflow the stack: 150,000 literals in a rule, 150,000 errors', async (t) => {
  const lits = Array.from({ length: 150_000 }, (_, i) => `a${i}.com`).join(', ');
  const ok = parsePolicy(`rules:\n  - name: R\n    action: Allow\n    urls:\n      literals: [${lits}]\n`, { file: 'big.yaml', baseDir: '/nonexistent' });
  t.equal(ok.ok, true);
  const bad = parsePolicy(`rules: []\nx:\n${'  - __proto__: 1\n'.repeat(150_000)}`, { file: 'bad.yaml', baseDir: '/nonexistent' });
  t.equal(bad.ok, false);
  if (!bad.ok) t.ok(bad.error.length >= 150_000 && bad.error.every((e) => e.code === 'policy/forbidden-key' || e.code === 'policy/unknown-key'));
});

t.test('custom tags are refused', async (t) => {
  const e = where('name: !!js/function "x"\nrules: []\n');
  t.ok(e.length > 0);
  t.match(e[0], /^test\.yaml:1:7: /);
  t.match(where('name: !!binary aGk=\nrules: []\n')[0], /YAML tags are not allowed/);
});

t.test('size bound', async (t) => {
  const big = `rules: []\n#${'x'.repeat(4 * 1024 * 1024)}\n`;
  t.match(where(big)[0], /over the \d+-byte limit.*\[policy\/too-large\]/);
});

t.test('feed and URL database errors point into their own files', async (t) => {
  const e = where(
    `urlDatabase: db.csv
securityIntelligence:
  url:
    - {name: F, action: block, feed: feed.txt}
  network:
    - {name: N, action: block, feed: nets.txt}
    - {name: M, action: monitor, feed: missing.txt}
rules: []
`,
    {
      'feed.txt': '# ok\ngood.example\nbad..example\n\n*x.example\n',
      'nets.txt': '10.0.0.0/8\n10.0.0.0/40\n',
      'db.csv': 'example.com,3,News\nexample.org,9,News\nnope\n',
    },
  );
  t.same(e, [
    '/virtual/db.csv:2:1: URL database reputation must be 0-5, not \'9\' [policy/urldb-format]',
    "/virtual/db.csv:3:1: URL database line must be 'domain,reputation,category|category' [policy/urldb-format]",
    "/virtual/feed.txt:3:1: 'bad..example' has an empty label [policy/invalid-entry]",
    "/virtual/feed.txt:5:1: '*x.example': '*' must be a whole label [policy/invalid-entry]",
    "/virtual/nets.txt:2:1: '10.0.0.0/40' is not a valid CIDR: prefix length must be 0-32 [policy/invalid-entry]",
    "test.yaml:7:40: feed 'missing.txt' cannot be read (ENOENT) [policy/feed-unreadable]",
  ]);
});

t.test('group cycles, duplicate names, empty file, missing keys', async (t) => {
  t.match(where('objects:\n  networks:\n    A: [B]\n    B: [A]\nrules:\n  - {name: R, action: Allow, sourceNetworks: [A]}\n').join('\n'), /contains itself \(A -> B -> A\)/);
  t.same(where('rules:\n  - {name: R, action: Allow}\n  - {name: R, action: Block}\n'), ["test.yaml:3:12: duplicate rule name 'R' [policy/duplicate-name]"]);
  t.same(where(''), ['test.yaml:1:1: the policy file is empty [policy/empty]']);
  t.same(where('name: x\n'), ["test.yaml:1:1: the policy needs 'rules' [policy/missing-key]"]);
  t.same(where('rules:\n  - {action: Allow}\n'), ["test.yaml:2:5: a rule needs 'name' [policy/missing-key]"]);
});

t.test('feeds need a reader: parsePolicy stays pure without one', async (t) => {
  const r = parsePolicy('securityIntelligence:\n  url:\n    - {name: F, action: block, feed: f.txt}\nrules: []\n', { file: 'p.yaml', baseDir: '/x' });
  t.equal(r.ok, false);
  if (!r.ok) t.equal(r.error[0].code, 'policy/no-reader');
});

t.test("the schema's findings in the policy's words, each at its node", async (t) => {
  t.same(where('settings: {timeouts: {peekMs: 0, zz: 1}, tsid: {sessionCheck: y}, oddHellos: []}\nrules: []\n'), [
    'test.yaml:1:31: settings.timeouts.peekMs must be an integer from 1 to 3600000 [policy/schema]',
    "test.yaml:1:34: unknown key 'zz' in settings.timeouts (allowed: peekMs, probeMs, connectMs, idleMs) [policy/unknown-key]",
    "test.yaml:1:63: settings.tsid.sessionCheck must be one of 'off', 'log', 'redecide', not 'y' [policy/schema]",
    'test.yaml:1:78: settings.oddHellos must be a map, not a list [policy/schema]',
  ]);
  t.same(where('securityIntelligence:\n  url:\n    - {name: L, action: block}\n    - {name: M, action: blok, entries: [{a: 1}]}\nrules: []\n'), [
    "test.yaml:3:7: Security Intelligence list 'L' needs 'entries' or 'feed' [policy/missing-key]",
    "test.yaml:4:25: SI list action must be one of 'block', 'do-not-block', 'monitor', not 'blok' [policy/schema]",
    'test.yaml:4:41: securityIntelligence.url.entries entries must be strings or numbers, not a map [policy/schema]',
  ]);
  t.same(where('rules:\n  - {name: A, action: Block, enabled: yes, tsid: 5, urls: {categories: [{category: N, reputation: 9}]}}\n'), [
    'test.yaml:2:39: enabled must be true or false, not string [policy/schema]',
    'test.yaml:2:50: rule tsid must be a map, not number [policy/schema]',
    "test.yaml:2:99: reputation must be 'Any', 'Unknown', 1-5 or one of Untrusted, Questionable, Neutral, Favorable, Trusted [policy/schema]",
  ]);
  t.same(where('- a\n'), ['test.yaml:1:1: the policy must be a map, not a list [policy/schema]']);
});
