// `peekwall diff` (issue 18, step 2): the shipped remedies change exactly the classes they
// should, every witness reproduces its change, and what the model leaves out is said.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { resolveIdentity, type CertificateFacts } from '../../../src/identity/index.js';
import { diffPolicies, evaluate, parsePolicy, tsidFor, type Policy } from '../../../src/policy/index.js';
import { loadPolicyFile } from '../../../src/sources/index.js';
import { fromRoot } from '../../../src/util/paths.js';
import { runCli } from '../../helpers/io.js';
import { mustCompile } from '../helpers/policy.js';

async function load(rel: string): Promise<Policy> {
  const r = await loadPolicyFile(fromRoot(rel));
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

const BASE = 'policies/smart-licensing.yaml';
const TOOS = 'policies/smart-licensing-remedy-allow-toos.yaml';
const CATEGORY = 'policies/smart-licensing-remedy-category.yaml';

function reproduces(old: Policy, neu: Policy, c: ReturnType<typeof diffPolicies>['changes'][number]): boolean {
  const w = c.witness;
  const flow = { srcIp: w.src, srcPort: 40000, dstIp: w.dst, dstPort: w.dport, protocol: 'tcp' as const, scheme: 'https' as const, sni: null };
  const id = { name: w.name, source: w.nameSource };
  const a = evaluate(old, flow, id, { trace: false });
  const b = evaluate(neu, flow, id, { trace: false });
  return a.action === c.old.action && a.rule === c.old.rule && b.action === c.new.action && b.rule === c.new.rule;
}

t.test('remedy allow-toos: exactly the toos.cisco.com classes change, with witnesses', async (t) => {
  const old = await load(BASE);
  const neu = await load(TOOS);
  const r = diffPolicies(old, neu);
  t.equal(r.complete, true, r.reasons.join('; '));
  t.ok(r.changes.length > 0);
  for (const c of r.changes) {
    t.same(c.space.names, ['toos.cisco.com and names under it'], 'only names under toos.cisco.com');
    t.equal(c.old.rule, 'Lookalike-Domains', 'the look-alike block is what changes');
    t.ok(c.verified && reproduces(old, neu, c), `witness ${c.witness.src} -> ${c.witness.dst}:${c.witness.dport} ${c.witness.name} reproduces`);
  }
  const fmc = r.changes.find((c) => c.new.rule === 'ALLOW_FMC_ASA_SNT_CISCO');
  t.same(fmc?.space.products.map((p) => ({ src: p.src, dst: p.dst, dport: p.dport })), [{ src: ['10.12.1.8'], dst: ['72.163.4.38', '173.37.145.8'], dport: ['443'] }], 'the licensing flow now reaches its allow rule');
  const dflt = r.changes.find((c) => c.new.rule === 'Default Action');
  t.equal(dflt?.space.products.length, 5, 'the rest of the space, as products');
  t.same(dflt?.space.products[0].summary, { src: 'any IPv4 except 10.10.0.0/16, 10.12.1.8, 198.51.100.0/24, 203.0.113.66, ... (5 ranges)', dst: 'any IPv4 except 198.51.100.0/24, 203.0.113.66, 203.0.113.200-203.0.113.210', dport: 'any' });
  t.equal(r.changes.length, 3, 'one class per new outcome');
  t.same([...new Set(r.changes.map((c) => c.new.rule))].sort(), ['ALLOW_ALL_CLIENTS_80_443', 'ALLOW_FMC_ASA_SNT_CISCO', 'Default Action']);
  // And back: the reverse diff is the same classes, sides swapped.
  const back = diffPolicies(neu, old);
  t.equal(back.changes.length, r.changes.length);
});

t.test('remedy category: the cisco.com names change, nothing else', async (t) => {
  const old = await load(BASE);
  const neu = await load(CATEGORY);
  const r = diffPolicies(old, neu);
  t.equal(r.complete, true, r.reasons.join('; '));
  for (const c of r.changes) {
    t.ok(c.witness.name === 'cisco.com' || c.witness.name.endsWith('.cisco.com'), `${c.witness.name} is a cisco.com name`);
    t.ok(c.verified && reproduces(old, neu, c));
  }
  // The look-alikes under cisco.com are exempted (Do-Not-Block cisco.com) ...
  t.ok(r.changes.some((c) => c.old.rule === 'Lookalike-Domains' && c.new.rule === 'ALLOW_FMC_ASA_SNT_CISCO'));
  // ... and cisco.com names beyond tools.cisco.com now reach the licensing allow rule.
  t.ok(r.changes.some((c) => c.old.rule === 'Default Action' && c.new.rule === 'ALLOW_FMC_ASA_SNT_CISCO' && c.witness.name === 'cisco.com'));
  // tools.cisco.com was allowed before and is still: no class of it changes.
  t.notOk(r.changes.some((c) => c.space.names.some((n) => n.startsWith('tools.cisco.com'))));
});

t.test('a policy against itself: no change, complete', async (t) => {
  const p = await load(BASE);
  const r = diffPolicies(p, p);
  t.equal(r.changes.length, 0);
  t.equal(r.complete, true);
});

t.test('what the model leaves out makes complete false, with the reason', async (t) => {
  const plain = mustCompile(`
rules:
  - {name: A, action: Allow, urls: {literals: [example.com]}}
`);
  const legacy = mustCompile(`
settings: {urlMatching: legacy-substring}
rules:
  - {name: A, action: Allow, urls: {literals: [example.com]}}
`);
  const r = diffPolicies(plain, legacy);
  t.equal(r.complete, false);
  t.match(r.reasons.join('\n'), /legacy-substring/);
  const path = mustCompile(`
securityIntelligence:
  url:
    - {name: P, action: block, entries: [example.com/login]}
rules:
  - {name: A, action: Allow, urls: {literals: [example.com]}}
`);
  t.match(diffPolicies(plain, path).reasons.join('\n'), /path: it matches plain HTTP/);
  const closed = mustCompile(`
settings: {failMode: closed}
rules:
  - {name: A, action: Allow, urls: {literals: [example.com]}}
`);
  const open = mustCompile(`
settings: {failMode: open}
rules:
  - {name: A, action: Allow, urls: {literals: [example.com]}}
`);
  const d = diffPolicies(closed, open);
  t.equal(d.changes.length, 0);
  t.equal(d.complete, false);
  t.match(d.reasons.join('\n'), /settings.failMode differs/);
  const numeric = mustCompile(`
securityIntelligence:
  url:
    - {name: N, action: block, entries: ['4']}
rules: []
`);
  t.match(diffPolicies(plain, numeric).reasons.join('\n'), /text of many destination addresses/);
});

t.test('TSID on -> off: one connection, a name per policy — the field case among the classes', async (t) => {
  const on = await load(BASE);
  const text = readFileSync(fromRoot(BASE), 'utf8').replace('enabled: true', 'enabled: false');
  const got = parsePolicy(text, { file: 'tsid-off.yaml', baseDir: fromRoot('policies'), readFile: (f) => readFileSync(f, 'utf8') });
  if (!got.ok) throw new Error(JSON.stringify(got.error));
  const off = got.value;
  const r = diffPolicies(on, off);
  t.equal(r.complete, true, r.reasons.join('; '));
  for (const c of r.changes) t.ok(c.verified, `witness ${c.witness.src} -> ${c.witness.dst} reproduces`);
  const field = r.changes.find((c) => c.old.rule === 'Lookalike-Domains' && c.new.rule === 'ALLOW_FMC_ASA_SNT_CISCO');
  t.ok(field, 'the licensing flow: blocked with TSID on, allowed with it off');
  t.match(field?.witness, { src: '10.12.1.8', dport: 443, nameSource: /^cert-/, newName: 'tools.cisco.com', newNameSource: /^(sni|passive-cn)$/ });
  t.ok(field?.witness.connection, 'the witness is a connection: SNI, certificate names, TLS version');
  // The connection reproduces through identity's own resolution, under each policy's TSID setting.
  const w = field!.witness;
  const flow = { srcIp: w.src, srcPort: 1, dstIp: w.dst, dstPort: w.dport, protocol: 'tcp' as const, scheme: 'https' as const, sni: w.connection!.sni };
  const z = w.connection!.certificate;
  const cert = { cn: z.cn, cns: z.cn ? [z.cn] : [], ous: z.ou ? [z.ou] : [], sans: z.sans.map((value) => ({ type: 'dns' as const, value })) } as unknown as CertificateFacts;
  const verdict = (p: Policy) => {
    const tsid = tsidFor(p, flow);
    const id = resolveIdentity({ sni: flow.sni, tsid, dstIp: w.dst, ...(tsid.enabled ? { certificate: cert } : { passiveCertificate: cert }) });
    return evaluate(p, flow, { name: id.name, source: id.source }).rule;
  };
  t.same([verdict(on), verdict(off)], ['Lookalike-Domains', 'ALLOW_FMC_ASA_SNT_CISCO']);
});

t.test('the destination address as the name: an SI URL entry spelling an address', async (t) => {
  const a = mustCompile(`rules: []
defaultAction: Trust all traffic`);
  const b = mustCompile(`
securityIntelligence:
  url:
    - {name: BAD-IP, action: block, entries: [203.0.113.9]}
rules: []
defaultAction: Trust all traffic
`);
  const r = diffPolicies(a, b);
  t.equal(r.complete, true, r.reasons.join('; '));
  const via = r.changes.filter((c) => c.witness.nameSource === 'ip');
  t.equal(via.length, 1, 'one class: no name known, destination 203.0.113.9');
  t.same(via[0].space.products.map((p) => p.dst), [['203.0.113.9']]);
  t.equal(via[0].witness.name, '203.0.113.9');
  t.ok(r.changes.every((c) => c.verified));
});

t.test('peekwall diff: text, --json, --limit, exit codes', async (t) => {
  const r = await runCli(['diff', BASE, TOOS]);
  t.equal(r.code, 1, 'changes found: exit 1');
  t.match(r.stdout, /Block with reset \(SI list Lookalike-Domains\) -> Allow \(rule ALLOW_FMC_ASA_SNT_CISCO\): 1 class/);
  t.match(r.stdout, /e\.g\. 10\.12\.1\.8 -> 72\.163\.4\.38:443, name toos\.cisco\.com/);
  t.match(r.stdout, /complete: true/);
  const j = await runCli(['diff', BASE, TOOS, '--json', '--limit', '2']);
  t.equal(j.code, 1);
  const o = JSON.parse(j.stdout);
  t.equal(o.complete, true);
  t.equal(o.changes.length, 2);
  t.ok(o.total > 2);
  t.same(Object.keys(o.changes[0].witness).sort(), ['category', 'dport', 'dst', 'name', 'nameSource', 'reputation', 'src']);
  t.same(Object.keys(o.changes[0].old).sort(), ['action', 'by', 'category', 'reputation', 'rule']);
  t.ok(Array.isArray(o.changes[0].space.products[0].src));
  const same = await runCli(['diff', BASE, BASE]);
  t.equal(same.code, 0, 'no change: exit 0');
  t.match(same.stdout, /no flow changes verdict/);
  const bad = await runCli(['diff', BASE, 'policies/nope.yaml']);
  t.equal(bad.code, 2, 'unreadable: exit 2');
  t.equal((await runCli(['diff', BASE])).code, 2, 'one policy: usage, exit 2');
  t.equal((await runCli(['diff', BASE, TOOS, '--limit', 'x'])).code, 2);
});
