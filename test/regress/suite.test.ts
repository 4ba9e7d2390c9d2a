// The suite format: what it accepts, and file:line:column errors for what it does not,
// including hostile input (prototype keys, alias bombs, deep nesting, oversized text).
import t from 'tap';
import { parseSuite } from '../../src/regress/suite.js';
import type { PeekwallError } from '../../src/util/errors.js';

const GOOD = `policy: ../smart-licensing.yaml
settings:
  tsid: { enabled: false }
cases:
  - name: licensing call without SNI
    flow:
      src: 10.12.1.8
      sport: 40722
      dst: 72.163.4.38
      versions: [TLSv1.2]
      cert: certs/smart-licensing.crt.pem
      tsid: off
      profile: technote
    expect:
      action: block
      rule: Lookalike-Domains
      url: https://toos.cisco.com
      identitySource: cert-san
      siCategory: Lookalike-Domains
      reason: URL Block
  - name: browsing
    flow: { src: 10.10.42.2, dst: 93.184.216.34, dport: 8443, sni: WWW.Example.COM., alpn: [h2, http/1.1] }
    expect: { action: Allow, siCategory: null, urlReputation: 3 }
`;

function errorsOf(text: string): PeekwallError[] {
  const r = parseSuite(text, 'x.test.yaml');
  if (r.ok) throw new Error('expected errors');
  return r.error;
}

t.test('a valid suite, with defaults filled in', async (t) => {
  const r = parseSuite(GOOD, 'x.test.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  const s = r.value;
  t.equal(s.policy, '../smart-licensing.yaml');
  t.same(s.settings, { tsid: { enabled: false } });
  t.equal(s.cases.length, 2);
  const [a, b] = s.cases;
  t.same(a.flow, {
    src: '10.12.1.8',
    sport: 40722,
    dst: '72.163.4.38',
    dport: 443,
    sni: null,
    alpn: [],
    versions: ['TLSv1.2'],
    cert: { kind: 'file', ref: 'certs/smart-licensing.crt.pem' },
    tsid: false,
    profile: 'technote',
  });
  t.equal(a.expect.action, 'Block', 'actions are normalised to FMC spelling');
  t.same(a.at, { file: 'x.test.yaml', line: 5, column: 5 });
  t.equal(b.flow.sni, 'www.example.com', 'SNI lower-cased, trailing dot removed');
  t.equal(b.flow.sport, 40001, 'default source port from the case index');
  t.equal(b.flow.dport, 8443);
  t.same(b.flow.alpn, ['h2', 'http/1.1']);
  t.same(b.flow.versions, ['TLSv1.2', 'TLSv1.3'], 'default: a modern client');
  t.equal(b.expect.siCategory, null, 'null means: no SI list decided');
  t.equal(b.expect.urlReputation, '3');
  t.notOk('rule' in b.expect, 'unstated fields are not checked');
});

t.test('inline PEM certificates are recognised', async (t) => {
  const r = parseSuite(
    `policy: p.yaml\ncases:\n  - name: x\n    flow:\n      src: 10.0.0.1\n      dst: 10.0.0.2\n      cert: |\n        -----BEGIN CERTIFICATE-----\n        MIIB\n        -----END CERTIFICATE-----\n    expect: {action: Allow}\n`,
    'x',
  );
  t.ok(r.ok);
  if (r.ok) t.equal(r.value.cases[0].flow.cert?.kind, 'inline');
});

t.test('errors carry file:line:column and a stable code', async (t) => {
  const e = errorsOf(`policy: p.yaml
cases:
  - name: one
    flow:
      src: 10.0.0.300
      dst: 10.0.0.2
      dport: 70000
      sni: 10.0.0.2
      versions: [SSLv3]
      tsid: maybe
      colour: red
    expect:
      action: Permit
      identitySource: dns
  - name: one
    flow: {src: 10.0.0.1, dst: 10.0.0.2}
    expect: {}
`);
  const byCode = (c: string) => e.filter((x) => x.code === c);
  t.same(byCode('suite/bad-address').map((x) => [x.line, x.column]), [[5, 12]]);
  t.same(byCode('suite/bad-port').map((x) => x.line), [7]);
  t.same(byCode('suite/bad-sni').map((x) => x.line), [8]);
  t.same(byCode('suite/bad-version').map((x) => [x.line, x.column]), [[9, 18]]);
  t.same(byCode('suite/bad-tsid').map((x) => x.line), [10]);
  t.same(byCode('suite/unknown-key').map((x) => [x.line, x.column]), [[11, 7]]);
  t.same(byCode('suite/bad-action').map((x) => x.line), [13]);
  t.same(byCode('suite/bad-source').map((x) => x.line), [14]);
  t.same(byCode('suite/duplicate-case').map((x) => x.line), [15]);
  t.same(byCode('suite/empty-expect').map((x) => x.line), [17]);
  t.ok(e.every((x) => x.file === 'x.test.yaml'));
});

t.test('flow sni: a 63-character label is a host name, a 64-character one is suite/bad-sni', async (t) => {
  const suite = (sni: string) => `policy: p.yaml\ncases:\n  - name: x\n    flow: {src: 10.0.0.1, dst: 10.0.0.2, sni: ${sni}}\n    expect: {action: Allow}\n`;
  const l63 = 'a'.repeat(63);
  const l64 = 'a'.repeat(64);
  for (const sni of [l63, `${l63}.example`, `www.${l63}.example`, `example.${l63}`]) {
    const r = parseSuite(suite(sni), 'x.test.yaml');
    t.equal(r.ok ? r.value.cases[0].flow.sni : JSON.stringify(r.error), sni, `${sni.length}-character name with a 63-character label`);
  }
  for (const sni of [l64, `${l64}.example`, `www.${l64}.example`, `example.${l64}`]) {
    t.same(errorsOf(suite(sni)).map((x) => x.code), ['suite/bad-sni'], `${sni.length}-character name with a 64-character label`);
  }
});

t.test('missing pieces', async (t) => {
  t.same(errorsOf('cases: []\n').map((x) => x.code), ['suite/missing']);
  t.same(errorsOf('policy: p\n').map((x) => x.code), ['suite/missing']);
  t.same(errorsOf('').map((x) => x.code), ['suite/empty']);
  t.same(errorsOf('- a\n- b\n').map((x) => x.code), ['suite/type']);
  t.same(errorsOf('policy: p\ncases:\n  - name: x\n    flow: {dst: 10.0.0.1}\n').map((x) => x.code).sort(), ['suite/missing', 'suite/missing']);
});

t.test('YAML syntax errors and duplicate keys are positioned', async (t) => {
  const e = errorsOf('policy: p\ncases:\n  - name: x\n    name: y\n');
  t.equal(e[0].code, 'suite/yaml');
  t.equal(e[0].line, 4);
  const e2 = errorsOf('policy: [p\ncases: x\n');
  t.equal(e2[0].code, 'suite/yaml');
  t.ok((e2[0].line ?? 0) >= 1);
});

t.test('hostile input: prototype keys are just unknown keys', async (t) => {
  const e = errorsOf(`policy: p
__proto__: {polluted: true}
cases:
  - name: x
    constructor: {prototype: {polluted: true}}
    flow: {src: 10.0.0.1, dst: 10.0.0.2, __proto__: {sni: evil}}
    expect: {action: Allow}
`);
  t.same(e.map((x) => [x.code, x.line]), [
    ['suite/unknown-key', 2],
    ['suite/unknown-key', 5],
    ['suite/unknown-key', 6],
  ]);
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched');
  // In pass-through settings a __proto__ key becomes an own property, never the prototype.
  const r = parseSuite('policy: p\nsettings: {__proto__: {polluted: true}}\ncases:\n  - {name: x, flow: {src: 10.0.0.1, dst: 10.0.0.2}, expect: {action: Allow}}\n', 'x');
  t.ok(r.ok);
  if (r.ok) {
    const s = r.value.settings as Record<string, unknown>;
    t.equal(Object.getPrototypeOf(s), Object.prototype);
    t.ok(Object.prototype.hasOwnProperty.call(s, '__proto__'));
    t.equal((s as { polluted?: unknown }).polluted, undefined);
  }
});

t.test('hostile input: an alias bomb stops at the node budget', async (t) => {
  const levels = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 9; i++) {
    const p = String.fromCharCode(97 + i - 1);
    const n = String.fromCharCode(97 + i);
    levels.push(`${n}: &${n} [*${p},*${p},*${p},*${p},*${p},*${p},*${p},*${p},*${p},*${p}]`);
  }
  const text = `policy: p\nsettings:\n  ${levels.join('\n  ')}\ncases: []\n`;
  const e = errorsOf(text);
  t.equal(e[0].code, 'suite/too-many-nodes');
  // Aliases used sanely still work.
  const ok = parseSuite(
    'policy: p\ncases:\n  - name: a\n    flow: &f {src: 10.0.0.1, dst: 10.0.0.2}\n    expect: {action: Allow}\n  - name: b\n    flow: *f\n    expect: {action: Allow}\n',
    'x',
  );
  t.ok(ok.ok);
  if (ok.ok) t.same(ok.value.cases[1].flow.src, '10.0.0.1');
});

t.test('hostile input: deep nesting and oversized text', async (t) => {
  const deep = `policy: p\nsettings: ${'['.repeat(100)}${']'.repeat(100)}\ncases: []\n`;
  t.equal(errorsOf(deep)[0].code, 'suite/too-deep');
  const r = parseSuite('x'.repeat(100), 'x', { maxBytes: 50, maxNodes: 10, maxDepth: 5 });
  t.notOk(r.ok);
  if (!r.ok) t.equal(r.error[0].code, 'suite/too-large');
  t.equal(errorsOf('policy: p\ncases:\n  - <<: {name: x}\n').find((x) => x.code === 'suite/unknown-key')?.line, 3, 'merge keys are not supported');
});
