// export fmc, then import fmc: YAML -> bundle -> YAML decides every case of every shipped suite
// as the YAML did, and a policy using every construct the bundle can carry decides a spread of
// flows alike at each step.
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import t, { type Test } from 'tap';
import { type Policy } from '../../../src/policy/index.js';
import { evaluateCase, loadSuiteFile } from '../../../src/regress/index.js';
import { loadPolicyFile } from '../../../src/sources/index.js';
import { fromRoot } from '../../../src/util/paths.js';
import { runCli } from '../../helpers/io.js';
import { judge, tmp, writeFiles } from './helpers.js';

async function must(path: string): Promise<Policy> {
  const r = await loadPolicyFile(path);
  if (!r.ok) throw new Error(`${path}: ${JSON.stringify(r.error)}`);
  return r.value;
}

/** YAML -> bundle (export fmc) -> YAML (import fmc), through the CLI as a user runs it; both loaded. */
async function roundTrip(t: Test, yaml: string, dir: string): Promise<{ bundle: Policy; again: Policy; exportErr: string }> {
  const base = relative(fromRoot(), yaml).replace(/[/.]/g, '_');
  const bundleFile = join(dir, `${base}.json`);
  const ex = await runCli(['export', 'fmc', yaml, '-o', bundleFile]);
  t.equal(ex.code, 0, `export ${yaml}: ${ex.stderr}`);
  const again = join(dir, 'again', `${base}.yaml`);
  const im = await runCli(['import', 'fmc', bundleFile, '-o', again]);
  t.equal(im.code, 0, `import: ${im.stderr}`);
  return { bundle: await must(bundleFile), again: await must(again), exportErr: ex.stderr };
}

function outcome(policy: Policy, c: Parameters<typeof evaluateCase>[1]) {
  const v = evaluateCase(policy, c);
  return { actual: v.actual, log: v.verdict.log, monitored: v.verdict.monitored, rulesMatched: v.verdict.rulesMatched, siMatched: v.verdict.siMatched };
}

t.test('every case of every shipped suite: YAML, its bundle and the YAML imported back decide alike', async (t) => {
  const dir = tmp(t);
  const suites = readdirSync(fromRoot('policies', 'tests')).filter((f) => f.endsWith('.test.yaml'));
  t.ok(suites.length > 0);
  let cases = 0;
  for (const s of suites) {
    const suite = await loadSuiteFile(fromRoot('policies', 'tests', s));
    if (!suite.ok) return t.fail(JSON.stringify(suite.error));
    const trips = new Map<string, { bundle: Policy; again: Policy }>();
    for (const c of suite.value.cases) {
      if (!trips.has(c.policyPath)) {
        const rt = await roundTrip(t, c.policyPath, dir);
        t.notMatch(rt.exportErr, /fmc\/export-unsupported/, `${relative(fromRoot(), c.policyPath)}: nothing left out`);
        trips.set(c.policyPath, rt);
      }
      const rt = trips.get(c.policyPath)!;
      const want = outcome(c.compiled, c);
      t.same(outcome(rt.bundle, c), want, `${s}: ${c.name} (bundle)`);
      t.same(outcome(rt.again, c), want, `${s}: ${c.name} (YAML again)`);
      cases++;
    }
  }
  t.ok(cases >= 29, `${cases} cases`);
});

t.test('every construct the bundle carries survives the trip', async (t) => {
  const dir = tmp(t);
  writeFiles(dir, {
    'p.yaml': `name: every-construct
settings: {tsid: {enabled: false}, urlMatching: current}
urlDatabase: db.csv
objects:
  networks:
    ONE: 10.1.1.1
    NET: 10.2.0.0/16
    RANGE: 10.3.0.10-10.3.0.20
    V6: 2001:db8::/32
    INNER: [ONE, 10.4.0.0/24]
    OUTER: [INNER, NET, RANGE, V6]
    EVERYWHERE: any
  ports:
    HTTPS: 443
    ALT: 8000-8443
    ANY_TCP: any
    WEB: [HTTPS, ALT, 993]
  urls:
    CISCO: cisco.com
    APP: portal.example.org/app
    SITES: [CISCO, webex.com]
  applications:
    Cisco: [cisco.com]
securityIntelligence:
  network:
    - {name: Attackers, action: block, entries: [203.0.113.0/24]}
  url:
    - {name: Bad, action: block, feed: bad.txt}
    - {name: Good, action: do-not-block, entries: [ok.bad.example]}
rules:
  - {name: MON, action: Monitor, sourceNetworks: [OUTER], logging: {end: true}}
  - {name: OFF, action: Block, enabled: false}
  - {name: APP, action: Trust, applications: [Cisco], destinationPorts: [WEB]}
  - {name: URLS, action: Allow, urls: {objects: [SITES, APP], literals: [example.net]}}
  - name: RISKY
    action: Block with reset
    urls: {categories: [{category: Any, reputation: Questionable, includeUnknown: true}, {category: News, reputation: 2}]}
    logging: {beginning: true}
  - {name: SAFE, action: Allow, urls: {categories: [{category: News, reputation: Favorable}]}}
  - {name: INTERACTIVE, action: Interactive Block with reset, destinationNetworks: [EVERYWHERE], destinationPorts: [8080]}
  - {name: TAIL, action: Interactive Block, sourceNetworks: [RANGE, 192.0.2.0/24], destinationPorts: [ANY_TCP]}
defaultAction: Intrusion Prevention
`,
    'db.csv': 'news.example,4,News\nbad-news.example,2,News\nshady.example,2,Games\n',
    'bad.txt': '# a feed\nbad.example\n',
  });
  const yaml = await must(join(dir, 'p.yaml'));
  const rt = await roundTrip(t, join(dir, 'p.yaml'), dir);
  t.notMatch(rt.exportErr, /export-unsupported/);
  const flows: [string, string, string | null, number][] = [
    ['10.1.1.1', '192.0.2.9', 'tools.cisco.com', 443], ['10.3.0.15', '192.0.2.9', null, 8443], ['10.9.9.9', '192.0.2.9', 'www.webex.com', 443],
    ['10.9.9.9', '192.0.2.9', 'portal.example.org', 443], ['10.9.9.9', '192.0.2.9', 'example.net', 443], ['10.9.9.9', '192.0.2.9', 'shady.example', 443],
    ['10.9.9.9', '192.0.2.9', 'unknown.example', 443], ['10.9.9.9', '192.0.2.9', 'news.example', 443], ['10.9.9.9', '192.0.2.9', 'bad-news.example', 443],
    ['10.9.9.9', '198.51.100.1', null, 8080], ['10.3.0.11', '198.51.100.1', null, 9999], ['192.0.2.77', '198.51.100.1', null, 1],
    ['10.9.9.9', '203.0.113.9', null, 443], ['10.9.9.9', '192.0.2.9', 'www.bad.example', 443], ['10.9.9.9', '192.0.2.9', 'ok.bad.example', 443],
    ['2001:db8::1', '192.0.2.9', null, 443], ['10.9.9.9', '192.0.2.9', null, 993],
  ];
  const seen = new Set<string>();
  for (const [src, dst, name, dport] of flows) {
    const want = judge(yaml, src, dst, name, dport);
    seen.add(want.rule);
    for (const [label, p] of [['bundle', rt.bundle], ['YAML again', rt.again]] as const) {
      const got = judge(p, src, dst, name, dport);
      t.same([got.action, got.rule, got.reason, got.monitored, got.log, got.siMatched], [want.action, want.rule, want.reason, want.monitored, want.log, want.siMatched], `${label}: ${src} -> ${dst}:${dport} ${name ?? ''}`);
    }
  }
  t.same([...seen].sort(), ['APP', 'Attackers', 'Bad', 'Default Action', 'INTERACTIVE', 'RISKY', 'SAFE', 'TAIL', 'URLS'].sort(), 'the flows reach every deciding rule');
  t.same(rt.bundle.settings.tsid, yaml.settings.tsid, 'settings travel in x-peekwall');
});

t.test('what FMC cannot hold is reported, not silently dropped', async (t) => {
  const dir = tmp(t);
  writeFiles(dir, {
    'p.yaml': `prefilter:
  - {name: FAST, action: Fastpath, sourceNetworks: [10.0.0.0/8]}
securityIntelligence:
  dns:
    - {name: DNS, action: block, entries: [bad.example]}
  url:
    - {name: WATCH, action: monitor, entries: [watch.example]}
rules:
  - {name: LAB, action: Allow, tsid: {enabled: false}}
  - {name: ONLY_UNKNOWN, action: Block, urls: {categories: [{category: Any, reputation: Unknown}]}}
`,
  });
  const r = await runCli(['export', 'fmc', 'p.yaml', '-o', 'b.json'], { cwd: dir });
  t.equal(r.code, 0);
  for (const what of ['prefilter rules', 'DNS lists', "'WATCH' is monitor-only", "rule 'LAB': its TSID override", "rule 'ONLY_UNKNOWN': category 'Any' with reputation 'Unknown'"]) {
    t.match(r.stderr, new RegExp(`${what.replace(/[()]/g, '\\$&')}.*\\[fmc/export-unsupported\\]`), what);
  }
  t.match(r.stderr, /5 warnings/);
  const bad = await runCli(['export', 'fmc', 'b.json', '-o', 'c.json'], { cwd: dir });
  t.same([bad.code, /already an FMC bundle/.test(bad.stderr)], [2, true]);
});

