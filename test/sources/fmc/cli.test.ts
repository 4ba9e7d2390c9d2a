// The CLI over FMC bundles: import fmc writes the equivalent YAML (a comment per rule naming
// its FMC id, the choices printed), trace and lint read bundles with the same options, and bad
// input is exit 2 with file:line:column and a code, never a stack trace.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from '../../helpers/io.js';
import { bundleOf, ref, rule, host, siList, tmp, writeFiles, acp } from './helpers.js';

t.test('import fmc: the shipped field case as YAML, a comment per rule with its FMC id', async (t) => {
  const dir = tmp(t);
  const out = join(dir, 'imported', 'smart-licensing.yaml');
  const r = await runCli(['import', 'fmc', 'policies/fmc/smart-licensing', '-o', out]);
  t.equal(r.code, 0, r.stderr);
  const yaml = readFileSync(out, 'utf8');
  t.match(yaml, /# FMC AccessRule 00505686-4D2B-0ed3-0000-000268435457, Default rule 1\n  - name: ALLOW_FMC_ASA_SNT_CISCO\n/);
  t.equal(yaml.match(/# FMC AccessRule /g)?.length, 3, 'one comment per rule');
  t.match(r.stderr, /TSID: on, profile snort3-legacy, from x-peekwall\.settings\.tsid\n/);
  t.match(r.stderr, /unsupported conditions: never-match, from the default\n/);
  t.match(r.stderr, /wrote .*smart-licensing\.yaml: 3 rules, 0 warnings/);
  // Feeds and the URL database are named relative to the written file, so it loads where it is.
  t.match(yaml, /feed: \.\.\/\.\.\/.*policies\/fmc\/smart-licensing\/feeds\/Attackers\.txt/);
  const lint = await runCli(['lint', out]);
  t.equal(lint.code, 0, lint.stdout + lint.stderr);
  // The command line's TSID and unsupported choice go into the file.
  const off = await runCli(['import', 'fmc', 'policies/fmc/smart-licensing', '--tsid', 'off', '--profile', 'technote', '-o', '-']);
  t.match(off.stdout, /tsid: \{enabled: false, profile: technote\}/);
  t.match(off.stderr, /TSID: off, profile technote, from the command line\n/);
});

t.test('import fmc: unsupported conditions are reported on stderr and written as comments', async (t) => {
  const dir = tmp(t);
  const b = bundleOf([rule('ZONED', 'BLOCK', { sourceZones: { objects: [{ type: 'SecurityZone', id: 'z', name: 'inside' }] } }, 1), rule('ANY', 'ALLOW', {}, 2)]);
  writeFiles(dir, { 'b.json': b });
  const r = await runCli(['import', 'fmc', join(dir, 'b.json'), '-o', '-']);
  t.equal(r.code, 0);
  t.match(r.stderr, /b\.json:\d+:\d+: accessrules 'ZONED' \(\$\.accessrules\.items\[0\]\): sourceZones: security zones are interfaces of the firewall, not part of a flow; the rule never matches \(--unsupported never-match\) \[fmc\/unsupported-condition\]/);
  t.match(r.stdout, /# sourceZones: security zones are interfaces .*: never matches\n  - name: ZONED\n    action: Block\n    enabled: false\n/);
  const ign = await runCli(['import', 'fmc', join(dir, 'b.json'), '--unsupported', 'ignore-condition', '-o', '-']);
  t.match(ign.stdout, /condition left out\n  - name: ZONED\n    action: Block\n    logging/);
});

t.test('bad input: exit 2, file:line:column: message [code], no stack trace', async (t) => {
  const dir = tmp(t);
  writeFiles(dir, {
    'broken.json': '{"accesspolicies": {"items": [}\n',
    'ghost.json': bundleOf([rule('R', 'ALLOW', { sourceNetworks: { objects: [ref(host('GHOST', '10.0.0.1'))] } }, 1)]),
  });
  for (const [args, re] of [
    [['import', 'fmc', join(dir, 'broken.json'), '-o', '-'], /broken\.json:1:31: not JSON: unexpected '\}' \[fmc\/not-json\]/],
    [['import', 'fmc', join(dir, 'ghost.json'), '-o', '-'], /ghost\.json:\d+:\d+: accessrules 'R' \$\.accessrules\.items\[0\]\.sourceNetworks\.objects\[0\]: Host 'GHOST' .* \[fmc\/unknown-object\]/],
    [['import', 'fmc', join(dir, 'nothing-here.json'), '-o', '-'], /nothing-here\.json: cannot read FMC bundle \(ENOENT/],
    [['trace', '--policy', join(dir, 'ghost.json'), '--src', '10.0.0.1', '--dst', '192.0.2.1'], /\[fmc\/unknown-object\]/],
    [['import', 'yaml', 'x'], /import knows one source, fmc/],
    [['import', 'fmc', join(dir, 'ghost.json')], /needs -o POLICY\.yaml/],
    [['lint', join(dir, 'ghost.json'), '--unsupported', 'maybe'], /--unsupported must be never-match or ignore-condition, not 'maybe'/],
  ] as const) {
    const r = await runCli([...args]);
    t.equal(r.code, args[0] === 'lint' ? 2 : 2, args.join(' '));
    t.match(r.stderr, re, args.join(' '));
    t.notMatch(r.stderr + r.stdout, /\n\s+at \S+ \(/, 'no stack trace');
  }
});

t.test('trace and lint read a bundle, with --feeds, --urldb and --unsupported', async (t) => {
  const dir = tmp(t);
  const list = siList('Blocked-Sites', 'SIURLList');
  const si = { id: 'si', name: 'si', type: 'SecurityIntelligencePolicy', networks: {}, urls: { blocklist: [ref(list)], allowlist: [] } };
  const b = bundleOf(
    [rule('ZONED', 'TRUST', { sourceZones: { objects: [{ type: 'SecurityZone', id: 'z', name: 'inside' }] } }, 1), rule('ALLOW_ALL', 'ALLOW', {}, 2)],
    [list, si],
    {},
    acp('BLOCK', { securityIntelligence: { id: 'si', type: 'SecurityIntelligencePolicy' } }),
  );
  writeFiles(dir, { 'b.json': b, 'lists/Blocked-Sites.txt': 'blocked.example\n', 'db.csv': 'news.example,4,News\n' });
  const trace = (extra: string[], sni: string) =>
    runCli(['trace', '--policy', 'b.json', '--src', '10.0.0.1', '--dst', '192.0.2.1', '--sni', sni, '--feeds', 'lists', '--urldb', 'db.csv', '--json', ...extra], { cwd: dir });
  const blocked = JSON.parse((await trace([], 'www.blocked.example')).stdout);
  t.same([blocked.action, blocked.rule], ['Block with reset', 'Blocked-Sites']);
  const news = JSON.parse((await trace([], 'news.example')).stdout);
  t.same([news.rule, news.urlCategory], ['ALLOW_ALL', 'News']);
  const ignored = JSON.parse((await trace(['--unsupported', 'ignore-condition'], 'news.example')).stdout);
  t.equal(ignored.rule, 'ZONED');
  const lint = await runCli(['lint', 'b.json', '--feeds', 'lists'], { cwd: dir });
  t.equal(lint.code, 0, 'warnings only');
  t.match(lint.stdout, /b\.json:\d+:\d+: warning: accessrules 'ZONED' .*sourceZones.* \[fmc\/unsupported-condition\]/);
});
