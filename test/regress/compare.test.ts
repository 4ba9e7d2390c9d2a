// Impact analysis finds exactly the flows whose verdict changes between two constructed
// policies; suites generated from recorded events pin those events' verdicts.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { buildConnectionEvent } from '../../src/events/index.js';
import { certificateFacts } from '../../src/identity/index.js';
import { parsePolicy, type Policy } from '../../src/policy/index.js';
import { comparePolicies, evaluateCase, flowFromEvent, type CaseFlow, type ComparedFlow } from '../../src/regress/index.js';
import { fixturePath } from '../helpers/fixtures.js';
import { runCli } from '../helpers/io.js';

const CISCO_LIKE = fixturePath('certs', 'first-san-differs-from-cn-cisco-like.pem');

const OLD = `
name: old
securityIntelligence:
  url:
    - {name: Lookalikes, action: block, entries: [toos.cisco.com, cisc0.com]}
rules:
  - {name: ALLOW_WEB, action: Allow, destinationPorts: [443]}
defaultAction: Block all traffic
`;
// The remediation plus an unrelated tightening: toos.cisco.com is no longer blocked, and
// port 8443 now hits an explicit block rule instead of the default action (same action,
// different rule: a change too).
const NEW = `
name: new
securityIntelligence:
  url:
    - {name: Cisco-DNB, action: do-not-block, entries: [cisco.com]}
    - {name: Lookalikes, action: block, entries: [toos.cisco.com, cisc0.com]}
rules:
  - {name: ALLOW_WEB, action: Allow, destinationPorts: [443]}
  - {name: BLOCK_8443, action: Block, destinationPorts: [8443]}
defaultAction: Block all traffic
`;

function compile(text: string, file: string): Policy {
  const r = parsePolicy(text, { file, baseDir: '/virtual' });
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

const cert = (() => {
  const f = certificateFacts(readFileSync(CISCO_LIKE, 'utf8'));
  if (!f.ok) throw new Error(f.error.message);
  return f.value;
})();

const base = { sport: 40000, dport: 443, sni: null, alpn: [], versions: ['TLSv1.2'] } as const;
const flows: ComparedFlow[] = [
  { name: 'licensing no SNI (changes)', origin: 'a', flow: { ...base, src: '10.12.1.8', dst: '72.163.4.38' }, certificate: cert },
  { name: 'licensing TSID off (same)', origin: 'b', flow: { ...base, src: '10.12.1.8', dst: '72.163.4.38', tsid: false }, certificate: cert },
  { name: 'browsing (same)', origin: 'c', flow: { ...base, src: '10.10.42.2', dst: '93.184.216.34', sni: 'www.example.com' }, certificate: null },
  { name: 'port 8443 (changes rule)', origin: 'd', flow: { ...base, src: '10.10.42.2', dst: '93.184.216.34', dport: 8443, sni: 'www.example.com' }, certificate: null },
  { name: 'look-alike with SNI (same)', origin: 'e', flow: { ...base, src: '10.10.42.2', dst: '93.184.216.34', sni: 'cisc0.com' }, certificate: null },
];

t.test('comparePolicies lists exactly the changed flows, with the changed fields', async (t) => {
  const r = comparePolicies(compile(OLD, 'old.yaml'), compile(NEW, 'new.yaml'), flows);
  t.equal(r.flows, 5);
  t.same(r.changes.map((c) => c.name), ['licensing no SNI (changes)', 'port 8443 (changes rule)']);
  const [lic, port] = r.changes;
  t.equal(lic.before.action, 'Block with reset');
  t.equal(lic.after.action, 'Allow');
  t.same(lic.fields.map((f) => f.field), ['action', 'rule', 'siCategory', 'reason']);
  t.same(port.fields, [{ field: 'rule', expected: 'Default Action', actual: 'BLOCK_8443' }]);
  t.equal(comparePolicies(compile(OLD, 'old.yaml'), compile(OLD, 'old2.yaml'), flows).changes.length, 0, 'same policy: no change');
});

t.test('beside the cases, every class of flows that changes, and the cases inside each', async (t) => {
  const r = comparePolicies(compile(OLD, 'old.yaml'), compile(NEW, 'new.yaml'), flows);
  t.equal(r.exact.complete, true);
  const classes = r.exact.changes.map((c) => `${c.old.rule} -> ${c.new.rule}: ${c.flows.join(', ') || '(no case)'}`).sort();
  // toos.cisco.com on 443 is tested; on 8443 and other ports no case reaches it, and port
  // 8443's new rule changes every name there, one case of which is tested.
  t.same(classes, [
    'Default Action -> BLOCK_8443: port 8443 (changes rule)',
    'Lookalikes -> ALLOW_WEB: licensing no SNI (changes)',
    'Lookalikes -> BLOCK_8443: (no case)',
    'Lookalikes -> Default Action: (no case)',
  ]);
  for (const c of r.exact.changes) t.ok(c.witness.src && c.witness.name, 'each class has a witness');
  t.equal(comparePolicies(compile(OLD, 'old.yaml'), compile(OLD, 'old2.yaml'), flows).exact.changes.length, 0);
});

function workspace(t: Test, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-compare-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const SUITE = `policy: old.yaml
cases:
${flows
  .map((f) => {
    const fl = f.flow;
    const parts = [`src: ${fl.src}`, `dst: ${fl.dst}`, `dport: ${fl.dport}`, 'versions: [TLSv1.2]'];
    if (fl.sni) parts.push(`sni: ${fl.sni}`);
    if (f.certificate) parts.push(`cert: ${CISCO_LIKE}`);
    if (fl.tsid === false) parts.push('tsid: off');
    return `  - name: ${f.name}\n    flow: {${parts.join(', ')}}\n    expect: {action: Allow}\n`;
  })
  .join('')}`;

t.test('peekwall test --compare OLD NEW SUITE lists the changed flows, exit 1', async (t) => {
  const dir = workspace(t, { 'old.yaml': OLD, 'new.yaml': NEW, 's.test.yaml': SUITE });
  const r = await runCli(['test', '--compare', 'old.yaml', 'new.yaml', 's.test.yaml'], { cwd: dir });
  t.equal(r.code, 1, r.stderr);
  t.match(r.stdout, /on 5 flows: 2 changes/);
  t.match(r.stdout, /licensing no SNI \(changes\) {2}\[s\.test\.yaml:3:5\]/);
  t.match(r.stdout, /before: Block with reset by Lookalikes, url https:\/\/toos\.cisco\.com\n\s+after: {2}Allow by ALLOW_WEB/);
  t.match(r.stdout, /rule: Default Action -> BLOCK_8443/);
  t.notMatch(r.stdout, /browsing \(same\)|TSID off \(same\)|look-alike/);
  const same = await runCli(['test', '--compare', 'old.yaml', 'old.yaml', 's.test.yaml', '--json'], { cwd: dir });
  t.equal(same.code, 0);
  t.same(JSON.parse(same.stdout).changes, []);
  const usage = await runCli(['test', '--compare', 'old.yaml'], { cwd: dir });
  t.equal(usage.code, 2);
});

t.test('events -> suite pinning their verdicts; events as the flow source of --compare', async (t) => {
  const oldP = compile(OLD, 'old.yaml');
  const lines = flows.map((f, i) => {
    const ev = evaluateCase(oldP, f);
    const e = buildConnectionEvent({
      time: new Date(Date.UTC(2026, 10, 24, 19, 0, i)),
      phase: ev.verdict.action === 'Allow' ? 'end' : 'begin',
      flow: ev.flow,
      identity: ev.identity,
      verdict: ev.verdict,
      tls: { version: 'TLSv1.2' },
    });
    return JSON.stringify({ level: 30, ...e });
  });
  // A repeated flow (new source port) and an event without a verdict (inspection failed).
  const repeat = JSON.parse(lines[2]);
  repeat.srcPort = 50001;
  const failed = buildConnectionEvent({ phase: 'begin', flow: { srcIp: '10.0.0.1', srcPort: 1, dstIp: '10.0.0.2', dstPort: 443, protocol: 'tcp', scheme: 'https', sni: null }, identity: null, verdict: null, closeReason: 'wire/not-tls', applicationProtocol: 'unknown' });
  const text = [...lines, JSON.stringify(repeat), JSON.stringify(failed), 'not json'].join('\n') + '\n';

  // flowFromEvent pins certificate-derived identities, re-derives SNI ones.
  const e0 = JSON.parse(lines[0]);
  const f0 = flowFromEvent(e0) as CaseFlow;
  t.same(f0.identity, { name: 'toos.cisco.com', source: 'cert-san' });
  t.notOk((flowFromEvent(JSON.parse(lines[2])) as CaseFlow).identity, 'SNI identity is re-derived');

  const dir = workspace(t, { 'old.yaml': OLD, 'new.yaml': NEW, 'events.jsonl': text });
  const g = await runCli(['test', '--from-events', 'events.jsonl', '--policy', 'old.yaml', '--out', 'pinned/today.test.yaml'], { cwd: dir });
  t.equal(g.code, 0, g.stderr);
  t.match(g.stderr, /events\.jsonl:8:1: not a JSON line/);
  t.match(g.stderr, /wrote 5 cases to pinned\/today\.test\.yaml \(1 events without a verdict skipped\)/);
  const suite = readFileSync(join(dir, 'pinned', 'today.test.yaml'), 'utf8');
  t.match(suite, /^policy: \.\.\/old\.yaml$/m, 'the policy path is relative to the generated suite');
  t.match(suite, /identity:\n\s+name: toos\.cisco\.com\n\s+source: cert-san/);
  const run = await runCli(['test', 'pinned/today.test.yaml'], { cwd: dir });
  t.equal(run.code, 0, run.stdout);
  t.match(run.stdout, /5 cases: 5 passed/);
  // The same pinned suite against the new policy fails exactly where the verdict changed.
  const against = await runCli(['test', '--compare', 'old.yaml', 'new.yaml', '--from-events', 'events.jsonl'], { cwd: dir });
  t.equal(against.code, 1);
  t.match(against.stdout, /on 6 flows: 2 changes/);
  t.match(against.stdout, /event 1 10\.12\.1\.8 -> 72\.163\.4\.38:443 https:\/\/toos\.cisco\.com {2}\[events\.jsonl event 1\]/);
  t.match(against.stdout, /event 4 10\.10\.42\.2 -> 93\.184\.216\.34:8443/);
  const noPolicy = await runCli(['test', '--from-events', 'events.jsonl'], { cwd: dir });
  t.equal(noPolicy.code, 2);
});
