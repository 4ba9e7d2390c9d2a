// The one YAML reader: each format's codes and limits, budgets reported once, positions for
// paths a schema validator names, and the settings merge a suite applies to a policy's text.
import t from 'tap';
import { locate, mergeIntoYaml, readYaml, toPlain, type FormatName } from '../../src/schema/index.js';

function bomb(levels: number): string {
  const lines = ['a: &a [x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < levels; i++) {
    const me = String.fromCharCode(97 + i);
    lines.push(`${me}: &${me} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
  }
  return `${lines.join('\n')}\n`;
}

t.test('an exhausted budget is one error, not one per alias or node after it', async (t) => {
  const r = readYaml(bomb(6), 'p.yaml', 'policy');
  const errors = r.ok ? r.errors : r.error;
  t.same(errors.map((e) => e.code), ['policy/alias-limit']);
  // Suites bound aliases by the node budget alone (one expectation reused by many cases).
  const s = readYaml(bomb(9), 's.yaml', 'suite');
  t.same((s.ok ? s.errors : s.error).map((e) => e.code), ['suite/too-many-nodes']);
  const many = readYaml(`e: &e {action: Allow}\ncases:\n${'  - *e\n'.repeat(5000)}`, 's.yaml', 'suite');
  t.ok(many.ok && many.errors.length === 0, '5,000 uses of one alias in a suite are fine');
});

t.test('each format keeps its own codes for the same problem', async (t) => {
  const codes = (f: FormatName, text: string) => {
    const r = readYaml(text, 'x.yaml', f);
    return (r.ok ? r.errors : r.error).map((e) => e.code);
  };
  const big = `x: "${'y'.repeat(5 * 1024 * 1024)}"\n`;
  t.same(['policy', 'suite', 'config', 'pki'].map((f) => codes(f as FormatName, big)), [['policy/too-large'], ['suite/too-large'], ['config/too-large'], ['pki/bad-config']]);
  t.same(['policy', 'suite', 'config', 'pki'].map((f) => codes(f as FormatName, '')), [['policy/empty'], ['suite/empty'], ['config/invalid'], ['pki/bad-config']]);
  t.same(codes('pki', 'a: &a [1]\nb: *a\n'), ['pki/bad-config'], 'no aliases at all in the lab PKI config');
  t.same(codes('policy', '__proto__: 1\n'), ['policy/forbidden-key']);
  t.same(codes('suite', '__proto__: 1\n'), [], 'a suite leaves prototype keys to its schema');
});

t.test('locate: a value, the key of a map entry, and the map of a missing key', async (t) => {
  const r = readYaml('a:\n  b: [1, {c: 2}]\n', 'x.yaml', 'policy');
  if (!r.ok) throw new Error('expected a tree');
  t.same(locate(r.value, ['a', 'b', 1, 'c']), { at: { line: 2, column: 14 }, keyAt: { line: 2, column: 11 }, found: true });
  t.same(locate(r.value, ['a', 'b', 0]), { at: { line: 2, column: 7 }, found: true });
  t.same(locate(r.value, ['a', 'missing']), { at: { line: 2, column: 3 }, found: false });
  const p = toPlain(r.value) as { a: { b: unknown[] } };
  t.same(p.a.b, [1, { c: 2 }]);
  const proto = readYaml('__proto__: {polluted: 1}\n', 'x.yaml', 'suite');
  if (proto.ok) t.ok(Object.prototype.hasOwnProperty.call(toPlain(proto.value), '__proto__'), '__proto__ is an own key');
  t.equal(({} as Record<string, unknown>).polluted, undefined);
});

t.test('mergeIntoYaml: key by key into the mapping, comments kept; null for text that is no mapping', async (t) => {
  const out = mergeIntoYaml('# keep me\nsettings:\n  tsid: {enabled: true, profile: snort3}\nrules: []\n', 'settings', { tsid: { enabled: false }, failMode: 'open' });
  t.match(out, /# keep me/);
  const r = readYaml(out ?? '', 'x.yaml', 'policy');
  if (r.ok) t.same(toPlain(r.value), { settings: { tsid: { enabled: false, profile: 'snort3' }, failMode: 'open' }, rules: [] });
  t.equal(mergeIntoYaml('- a\n', 'settings', { x: 1 }), null);
});
