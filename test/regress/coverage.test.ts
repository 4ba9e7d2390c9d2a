// Rule coverage counts on a small policy, with verdicts from the real engine.
import t from 'tap';
import { evaluate, parsePolicy, type Flow, type Policy } from '../../src/policy/index.js';
import { computeCoverage } from '../../src/regress/coverage.js';

const POLICY = `
securityIntelligence:
  network:
    - {name: BadIPs, action: block, entries: [203.0.113.0/24]}
  url:
    - {name: Watch, action: monitor, entries: [watch.example]}
    - {name: Never, action: block, entries: [never.example]}
rules:
  - {name: MON, action: Monitor, destinationPorts: [443]}
  - {name: ALLOW_A, action: Allow, urls: {literals: [a.example]}}
  - {name: OFF, action: Allow, enabled: false}
  - {name: BLOCK_B, action: Block, urls: {literals: [b.example]}}
defaultAction: Block all traffic
`;

function policy(): Policy {
  const r = parsePolicy(POLICY, { file: 'small.yaml', baseDir: '/virtual' });
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

const flow = (dstPort = 443): Flow => ({ srcIp: '10.0.0.1', srcPort: 40000, dstIp: '192.0.2.1', dstPort, protocol: 'tcp', scheme: 'https', sni: null });

t.test('reached rules, hit SI lists, disabled rules apart, percent', async (t) => {
  const p = policy();
  const verdicts = [
    evaluate(p, flow(), { name: 'a.example', source: 'sni' }), // MON (monitor) + ALLOW_A
    evaluate(p, flow(), { name: 'watch.example', source: 'sni' }), // SI Watch (monitor) + MON, default action
  ];
  t.same(verdicts[0].rulesMatched, ['MON', 'ALLOW_A'], 'engine reports monitor + deciding rule');
  t.same(verdicts[1].siMatched, ['Watch']);
  const c = computeCoverage(p, verdicts);
  t.same(c.rules, { total: 3, reached: ['MON', 'ALLOW_A'], unreached: ['BLOCK_B'] });
  t.same(c.siLists, { total: 3, hit: ['Watch'], unhit: ['BadIPs', 'Never'] });
  t.same(c.disabledRules, ['OFF']);
  t.equal(c.percent, 50, '(2 rules + 1 list) of (3 enabled rules + 3 lists)');
  t.equal(c.policy, 'small.yaml');
});

t.test('full coverage, and no verdicts at all', async (t) => {
  const p = policy();
  const all = [
    evaluate(p, flow(), { name: 'a.example', source: 'sni' }),
    evaluate(p, flow(), { name: 'watch.example', source: 'sni' }),
    evaluate(p, flow(8443), { name: 'b.example', source: 'sni' }),
    evaluate(p, flow(), { name: 'never.example', source: 'sni' }),
    evaluate(p, { ...flow(), dstIp: '203.0.113.9' }, { name: null, source: 'ip' }),
  ];
  const c = computeCoverage(p, all);
  t.equal(c.percent, 100);
  t.same(c.rules.unreached, []);
  t.same(c.siLists.unhit, []);
  t.equal(computeCoverage(p, []).percent, 0);
  t.equal(computeCoverage({ file: 'empty', rules: [], siLists: [] }, []).percent, 100, 'nothing to reach is full coverage');
});
