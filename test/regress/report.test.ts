// Reporters: JUnit XML is well-formed and structured as JUnit (strict checker of our own,
// round-tripping hostile text), TAP counts and diagnostics, text diffs.
import t from 'tap';
import { renderJunit, renderTap, renderText, xmlEscape } from '../../src/regress/report.js';
import type { ActualVerdict, CaseResult, RunReport } from '../../src/regress/types.js';
import { parseXml } from './xml.js';

const actual: ActualVerdict = {
  action: 'Block',
  rule: 'Lookalike-Domains',
  url: 'https://toos.cisco.com',
  identity: 'toos.cisco.com',
  identitySource: 'cert-san',
  siCategory: 'Lookalike-Domains',
  urlCategory: 'Computers and Internet',
  urlReputation: 'Trusted',
  reason: 'URL Block',
};

const HOSTILE = `a <b> & "c" 'd' ]]> \u0001 é 𝄞 &amp;`;

function result(over: Partial<CaseResult>): CaseResult {
  return {
    suite: 'policies/tests/x.test.yaml',
    name: 'case',
    at: { file: 'policies/tests/x.test.yaml', line: 3, column: 5 },
    status: 'pass',
    actual,
    diffs: [],
    rulesMatched: [],
    siMatched: [],
    trace: [],
    ...over,
  };
}

const cases: CaseResult[] = [
  result({ name: 'passes' }),
  result({
    name: `fails ${HOSTILE}`,
    status: 'fail',
    diffs: [{ field: 'action', expected: 'Allow', actual: 'Block' }, { field: 'url', expected: HOSTILE, actual: 'https://toos.cisco.com' }],
    trace: ['10.12.1.8 40722 -> 72.163.4.38 443 6 AS=0 ID=0 GR=1-1 Security Intelligence: URL Block <toos>'],
  }),
  result({ name: 'live mismatch', status: 'live-mismatch', live: { actual, diffs: [{ field: 'rule', expected: 'A', actual: 'B' }] } }),
  result({ name: 'live error', status: 'live-error', live: { actual: null, diffs: [], error: 'ECONNRESET <x>' } }),
];

const report: RunReport = {
  suites: [
    { file: 'policies/tests/x.test.yaml', policy: '../x.yaml', cases: cases.slice(0, 2) },
    { file: `y&"<z>".test.yaml`, policy: '../y.yaml', cases: cases.slice(2) },
  ],
  counts: { total: 4, passed: 1, failed: 1, liveMismatch: 1, liveError: 1, liveSkipped: 0 },
  coverage: [
    {
      policy: 'x.yaml',
      rules: { total: 2, reached: ['A'], unreached: ['B'] },
      siLists: { total: 1, hit: [], unhit: ['L'] },
      disabledRules: [],
      percent: 33.3,
    },
  ],
  live: true,
};

t.test('JUnit XML is well-formed and has the JUnit structure', async (t) => {
  const xml = renderJunit(report);
  const root = parseXml(xml);
  t.equal(root.name, 'testsuites');
  t.equal(root.attrs.tests, '4');
  t.equal(root.attrs.failures, '2', 'expectation failures and live mismatches are failures');
  t.equal(root.attrs.errors, '1', 'a live run that produced nothing is an error');
  t.same(root.children.map((c) => c.name), ['testsuite', 'testsuite']);
  const [s1, s2] = root.children;
  t.equal(s1.attrs.name, 'policies/tests/x.test.yaml');
  t.equal(s2.attrs.name, `y&"<z>".test.yaml`, 'attribute text round-trips');
  t.equal(s1.attrs.tests, '2');
  t.equal(s1.attrs.failures, '1');
  const tcs = s1.children.filter((c) => c.name === 'testcase');
  t.equal(tcs.length, 2);
  t.equal(tcs[0].children.length, 0, 'a passing testcase has no failure');
  const failing = tcs[1];
  // The control character cannot be carried by XML 1.0: it becomes U+FFFD; the rest is exact.
  t.equal(failing.attrs.name, `fails ${HOSTILE.replace('\u0001', '\uFFFD')}`);
  t.equal(failing.attrs.line, undefined, 'no attribute the JUnit XSD does not know');
  t.match(failing.attrs.time, /^\d+\.\d{3}$/, 'time in seconds on every testcase');
  t.equal(failing.children.length, 1);
  const f = failing.children[0];
  t.equal(f.name, 'failure');
  t.equal(f.attrs.type, 'fail');
  t.equal(f.attrs.message, 'action: expected Allow, got Block');
  t.match(f.text, /^at policies\/tests\/x\.test\.yaml:3:5\n/, 'where the case is: in the failure text');
  t.match(f.text, /action\s+expected Allow\n\s+actual\s+Block/);
  t.ok(f.text.includes(HOSTILE.replace('\u0001', '\uFFFD')), 'failure body round-trips hostile text');
  t.ok(f.text.includes('URL Block <toos>'), 'trace included');
  const s2cases = s2.children.filter((c) => c.name === 'testcase');
  t.equal(s2cases[0].children[0].name, 'failure');
  t.equal(s2cases[0].children[0].attrs.type, 'live-mismatch');
  t.equal(s2cases[1].children[0].name, 'error');
  t.equal(s2cases[1].children[0].attrs.message, 'ECONNRESET <x>');
});

t.test('the XML checker itself rejects what is not well-formed', async (t) => {
  const bad = [
    '<a><b></a></b>',
    '<a>x & y</a>',
    '<a x="1" x="2"/>',
    '<a x="<"/>',
    '<a>&nope;</a>',
    '<a/><b/>',
    '<a>',
    '<a>\u0001</a>',
    'text<a/>',
  ];
  for (const b of bad) t.throws(() => parseXml(b), JSON.stringify(b));
  t.same(parseXml('<a k="&lt;&#65;&#x42;">t&amp;</a>').attrs, { k: '<AB' });
});

t.test('xmlEscape', async (t) => {
  t.equal(xmlEscape(`<&>"'`), '&lt;&amp;&gt;&quot;&apos;');
  t.equal(xmlEscape('a\u0000b\uFFFEc'), 'a\uFFFDb\uFFFDc');
  t.equal(xmlEscape('𝄞'), '𝄞', 'astral characters are legal');
});

t.test('TAP: plan, ok/not ok per case, YAML diagnostics with the diff', async (t) => {
  const tap = renderTap(report);
  const lines = tap.split('\n');
  t.equal(lines[0], 'TAP version 14');
  t.equal(lines[1], '1..4');
  t.equal(lines.filter((l) => /^ok \d+ - /.test(l)).length, 1);
  t.equal(lines.filter((l) => /^not ok \d+ - /.test(l)).length, 3);
  t.ok(tap.includes('    action: { expected: "Allow", actual: "Block" }'));
  t.ok(tap.includes('    rule: { offline: "A", live: "B" }'));
  t.match(tap, /^# coverage x\.yaml: 33\.3%/m);
  // '#' in a test name would start a TAP directive: escaped.
  t.notMatch(tap.replace(/\\#/g, ''), /^not ok \d+ - [^\n]*#/m);
});

t.test('text: failures show expected vs actual and where', async (t) => {
  const text = renderText(report);
  t.match(text, /ok {3}passes/);
  t.match(text, /FAIL fails .*\[policies\/tests\/x\.test\.yaml:3:5\]/);
  t.match(text, /action\s+expected Allow\n\s+actual\s+Block/);
  t.match(text, /live verdict differs from the offline one/);
  t.match(text, /rules no case reached: B/);
  t.match(text, /SI lists no case hit: L/);
  t.match(text, /4 cases \(offline \+ live\): 1 passed, 1 failed, 1 live mismatches, 1 live errors/);
});
