import t from 'tap';
import { renderLabRun, wrap } from '../../src/lab/render.js';
import type { LabRun } from '../../src/lab/acts.js';

const event = {
  time: '2025-12-02T18:46:41.000Z', eventType: 'Connection' as const, phase: 'begin' as const, action: 'Block with reset', reason: 'URL Block',
  srcIp: '10.12.1.8', dstIp: '72.163.4.38', srcPort: 40722, dstPort: 443, protocol: 'tcp' as const, applicationProtocol: 'HTTPS',
  url: 'https://toos.cisco.com', accessControlRule: 'Lookalike-Domains', sni: null, bytesFromClient: 0, bytesFromServer: 0, durationMs: 0,
  mapped: { srcIp: '127.12.1.8', dstIp: '127.163.4.38' },
};

function sample(ok: boolean): LabRun {
  return {
    scenario: 'toos', title: 'T', seed: '000', explanation: 'word '.repeat(60).trim(), ok,
    acts: [{
      title: 'Act 1', policy: 'policies/x.yaml', tsid: { enabled: true, profile: 'snort3-legacy' }, events: [event],
      clients: [{ device: 'FMC 10.12.1.8', command: 'license smart renew auth', ok: false, output: 'CH-LIB-ERROR: x\n(lab) y' }],
      expected: 'blocked', checks: [{ what: 'blocked', ok }], ok, notes: [],
    }],
  };
}

t.test('an act renders its table, device output, and checks', async (t) => {
  const text = renderLabRun(sample(true));
  t.match(text, /== Act 1 ==/);
  t.match(text, /policy policies\/x\.yaml · TSID on \(snort3-legacy\)/);
  t.match(text, /10\.12\.1\.8\s+72\.163\.4\.38\s+40722 \/ tcp\s+443 \(https\) \/ tcp/);
  t.match(text, /FMC 10\.12\.1\.8# license smart renew auth\n  CH-LIB-ERROR: x\n  \(lab\) y/);
  t.match(text, /\[ok\] blocked/);
  t.match(text, /lab ok/);
});

t.test('a differing act is named', async (t) => {
  const text = renderLabRun(sample(false));
  t.match(text, /\[DIFFERS\] blocked/);
  t.match(text, /lab DIFFERS: Act 1/);
});

t.test('wrap keeps lines within the width and loses no word', async (t) => {
  const s = 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu';
  const w = wrap(s, 20);
  t.ok(w.split('\n').every((l) => l.length <= 20));
  t.equal(w.replace(/\n/g, ' '), s);
});
