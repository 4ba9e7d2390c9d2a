// How the runner classifies a live outcome against the offline verdict: equal -> pass,
// different -> its own failure kind (live-mismatch), nothing -> live-error, not reproducible
// -> the offline result stands and says so. The live runner is injected here; the real one
// (startProxy on loopback) is exercised in shipped.test.ts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadSuiteFile, renderJunit, renderText, runSuites, type LiveCaseRunner } from '../../src/regress/index.js';
import { parseXml } from './xml.js';

const dir = mkdtempSync(join(tmpdir(), 'peekwall-live-classify-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'p.yaml'), 'rules:\n  - {name: ALLOW_WEB, action: Allow, destinationPorts: [443]}\ndefaultAction: Block all traffic\n');
writeFileSync(
  join(dir, 's.test.yaml'),
  `policy: p.yaml
cases:
${['same', 'differs', 'no event', 'not reproducible', 'fails offline']
  .map((n) => `  - name: ${n}\n    flow: {src: 10.0.0.1, dst: 10.0.0.2, sni: www.example.com}\n    expect: {action: ${n === 'fails offline' ? 'Block' : 'Allow'}}\n`)
  .join('')}`,
);

t.test('offline vs live classification', async (t) => {
  const s = await loadSuiteFile(join(dir, 's.test.yaml'));
  if (!s.ok) throw new Error(JSON.stringify(s.error));
  const live: LiveCaseRunner = async (_suite, c) => {
    const offline = { action: 'Allow', rule: 'ALLOW_WEB', url: 'https://www.example.com', identity: 'www.example.com', identitySource: 'sni' as const, siCategory: null, urlCategory: 'Uncategorized', urlReputation: 'Unknown', reason: '' };
    switch (c.name) {
      case 'differs':
        return { actual: { ...offline, action: 'Block with reset', rule: 'Default Action' } };
      case 'no event':
        return { error: 'the proxy logged no event' };
      case 'not reproducible':
        return { skipped: 'pinned identity' };
      case 'fails offline':
        return { actual: { ...offline, rule: 'OTHER' } };
      default:
        return { actual: offline };
    }
  };
  const r = await runSuites([s.value], { live });
  const by = Object.fromEntries(r.suites[0].cases.map((c) => [c.name, c]));
  t.equal(by.same.status, 'pass');
  t.equal(by.differs.status, 'live-mismatch');
  t.same(by.differs.live?.diffs, [
    { field: 'action', expected: 'Allow', actual: 'Block with reset' },
    { field: 'rule', expected: 'ALLOW_WEB', actual: 'Default Action' },
  ]);
  t.same(by.differs.diffs, [], 'the offline expectations held');
  t.equal(by['no event'].status, 'live-error');
  t.equal(by['not reproducible'].status, 'pass');
  t.equal(by['not reproducible'].live?.skipped, 'pinned identity');
  t.equal(by['fails offline'].status, 'fail', 'an expectation failure stays a failure');
  t.equal(by['fails offline'].live?.diffs.length, 1, 'and its live disagreement is still reported');
  t.same(r.counts, { total: 5, passed: 2, failed: 1, liveMismatch: 1, liveError: 1, liveSkipped: 1 });
  t.ok(r.live);
  const text = renderText(r);
  t.match(text, /LIVE differs[^\n]*\n\s+live verdict differs from the offline one:\n\s+action\s+offline Allow\n\s+live\s+Block with reset/);
  t.match(text, /live: not run \(pinned identity\)/);
  const xml = parseXml(renderJunit(r));
  t.equal(xml.attrs.failures, '2');
  t.equal(xml.attrs.errors, '1');
});
