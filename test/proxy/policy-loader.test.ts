// The policy loader's worker thread (src/proxy/policy-loader.ts): the policy it hands back
// decides every flow as the one loadPolicyFile builds on the event loop, every object in it
// has its class back, invalid files are refused with the same file:line:column errors, and
// the event loop keeps turning while a large feed compiles.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluate, lintPolicy, type Flow, type Policy } from '../../src/policy/index.js';
import { loadPolicyFile } from '../../src/sources/index.js';
import { loadPolicyInWorker } from '../../src/proxy/index.js';
import { flow, named } from '../policy/helpers/policy.js';

const dir = mkdtempSync(join(tmpdir(), 'peekwall-loader-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

// Feeds large enough that their tables are moved (transferred), not copied, plus the rarer
// shapes (wildcards, paths, exact names, IPv6) that stay plain data.
const N = 20_000;
const urlFeed = ['*.wild.test', 'exact.test/', 'pathy.test/bad/', ...Array.from({ length: N }, (_, i) => `h${i}.feed.test`)].join('\n');
const ipFeed = ['2001:db8:bad::/48', '198.51.100.0/24', ...Array.from({ length: N }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`)].join('\n');
writeFileSync(join(dir, 'urls.txt'), `${urlFeed}\n`);
writeFileSync(join(dir, 'ips.txt'), `${ipFeed}\n`);
writeFileSync(join(dir, 'db.csv'), 'cisco.com,5,Computers and Internet\ntools.cisco.com,4,Business|Computers and Internet\nevil.test,1,Malware Sites\n');
const policyYaml = `
name: loader
settings: { tsid: { enabled: false } }
objects:
  networks:
    CLIENTS: [10.10.0.0/16, 2001:db8:1::/64]
    SERVERS: [72.163.4.38, 173.37.145.8]
  ports: { WEB: [80, 443] }
  urls: { CISCO: [tools.cisco.com] }
  applications: { Cisco: [cisco.com] }
urlDatabase: db.csv
securityIntelligence:
  network:
    - { name: BAD_IPS, action: block, feed: ips.txt }
  url:
    - { name: BAD_URLS, action: block, feed: urls.txt }
    - { name: WATCH, action: monitor, entries: [watch.test] }
  dns:
    - { name: DNS_BAD, action: block, entries: [dnsbad.test] }
prefilter:
  - { name: FASTPATH_BACKUP, action: Fastpath, sourceNetworks: [192.0.2.99], destinationPorts: [873] }
rules:
  - name: ALLOW_CISCO
    action: Allow
    sourceNetworks: [CLIENTS]
    destinationNetworks: [SERVERS]
    destinationPorts: [WEB]
    applications: [Cisco]
    urls: { objects: [CISCO], literals: [example.org/path] }
    logging: { beginning: false, end: true }
  - name: BLOCK_RISKY
    action: Block with reset
    urls: { categories: [ { category: Any, reputation: Questionable } ] }
  - name: ALLOW_CLIENTS
    action: Allow
    sourceNetworks: [CLIENTS]
defaultAction: Block all traffic
`;
const policyFile = join(dir, 'policy.yaml');
writeFileSync(policyFile, policyYaml);

const flows: [Partial<Flow>, string | null][] = [
  [{ srcIp: '10.10.1.2', dstIp: '72.163.4.38' }, 'tools.cisco.com'],
  [{ srcIp: '10.10.1.2', dstIp: '72.163.4.38', scheme: 'http', path: '/path/x' }, 'example.org'],
  [{ srcIp: '10.10.1.2' }, 'h123.feed.test'],
  [{ srcIp: '10.10.1.2' }, 'a.b.wild.test'],
  [{ srcIp: '10.10.1.2' }, 'exact.test'],
  [{ srcIp: '10.10.1.2', scheme: 'http', path: '/bad/1' }, 'pathy.test'],
  [{ srcIp: '10.10.1.2' }, 'watch.test'],
  [{ srcIp: '10.10.1.2' }, 'dnsbad.test'],
  [{ srcIp: '10.10.1.2' }, 'evil.test'],
  [{ srcIp: '10.10.1.2', dstIp: '10.0.5.35' }, null],
  [{ srcIp: '2001:db8:1::5', dstIp: '2001:db8:bad::1' }, 'x.test'],
  [{ srcIp: '192.0.2.99', dstPort: 873 }, null],
  [{ srcIp: '203.0.113.9' }, 'nobody.test'],
];

/** Every object reachable from a, paired with its place in b: their prototypes must agree. */
function prototypeMismatches(a: unknown, b: unknown): string[] {
  const out: string[] = [];
  const seen = new Set<unknown>();
  const walk = (x: unknown, y: unknown, path: string): void => {
    if (typeof x !== 'object' || x === null || seen.has(x)) return;
    seen.add(x);
    if (Object.getPrototypeOf(x) !== Object.getPrototypeOf(y)) out.push(`${path}: ${x.constructor?.name} vs ${(y as object)?.constructor?.name}`);
    if (ArrayBuffer.isView(x)) return;
    if (x instanceof Map) {
      const ys = [...(y as Map<unknown, unknown>).values()];
      [...x.values()].forEach((v, i) => walk(v, ys[i], `${path}<${i}>`));
      return;
    }
    // What was frozen stays frozen (the revived settings are frozen even where the inline ones are not).
    if (Object.isFrozen(x) && !Object.isFrozen(y)) out.push(`${path}: frozen, but not once revived`);
    for (const k of Object.keys(x)) walk((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], `${path}.${k}`);
  };
  walk(a, b, 'policy');
  return out;
}

t.test('a policy built in the worker decides as the one built on the event loop', async (t) => {
  const inline = await loadPolicyFile(policyFile);
  const off = await loadPolicyInWorker(policyFile);
  if (!inline.ok || !off.ok) return t.fail(`both load: ${JSON.stringify(!inline.ok ? inline.error : !off.ok ? off.error : '')}`);
  const a: Policy = inline.value;
  const b: Policy = off.value;
  t.same(prototypeMismatches(a, b), [], 'every object has its class back, and what was frozen is frozen');
  for (const [f, name] of flows) {
    for (const trace of [true, false]) {
      t.same(evaluate(b, flow(f), named(name), { trace }), evaluate(a, flow(f), named(name), { trace }), `${name ?? f.dstIp} (trace ${trace})`);
    }
  }
  t.same(lintPolicy(b), lintPolicy(a), 'lint sees the same policy');
  t.same(b.siLists, a.siLists.map((l) => ({ ...l })), 'SI lists and their entry counts');
});

t.test('an invalid policy is refused with the errors loadPolicyFile gives, file:line:column', async (t) => {
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'rules:\n  - name: X\n    action: Explode\n  - name: Y\n    action: Allow\n    sourceNetworks: [10.0.0.300]\n');
  const off = await loadPolicyInWorker(bad);
  const inline = await loadPolicyFile(bad);
  t.notOk(off.ok);
  if (off.ok || inline.ok) return;
  t.same(off.error, inline.error, 'the same errors');
  t.ok(off.error.length >= 2 && off.error.every((e) => e.file === bad && (e.line ?? 0) > 0 && (e.column ?? 0) > 0), 'each with file:line:column');
  const missing = await loadPolicyInWorker(join(dir, 'nope.yaml'));
  const missingInline = await loadPolicyFile(join(dir, 'nope.yaml'));
  t.same(missing, missingInline, 'a missing file: the same refusal');
});

t.test('the event loop keeps turning while a large feed compiles', async (t) => {
  const big = join(dir, 'big.yaml');
  writeFileSync(join(dir, 'big.txt'), Array.from({ length: 300_000 }, (_, i) => `n${i}.big.test\n`).join(''));
  writeFileSync(big, 'securityIntelligence:\n  url:\n    - { name: BIG, action: block, feed: big.txt }\nrules:\n  - { name: A, action: Allow }\n');
  let turns = 0;
  let loading = true;
  const spin = (): void => {
    turns++;
    if (loading) setImmediate(spin);
  };
  setImmediate(spin);
  const r = await loadPolicyInWorker(big);
  loading = false;
  t.ok(r.ok && r.value.siLists[0].entries === 300_000, 'loaded');
  // On the event loop the compile is one synchronous run: a handful of turns at most.
  t.ok(turns >= 50, `the event loop turned ${turns} times during the load`);
});
