// The located JSON reader: the same values as JSON.parse, a position on every node, and the
// JSON path of any position.
import t from 'tap';
import { parseLocatedJson, pathIndex } from '../../../src/sources/fmc/json.js';
import { toPlain } from '../../../src/schema/index.js';

t.test('reads what JSON.parse reads', async (t) => {
  const samples = [
    '{"a": [1, -2.5e3, 0, true, false, null, "x"], "b": {}, "c": []}',
    '"\\u00e9\\ud83d\\ude00 \\"q\\" \\\\ \\/ \\b\\f\\n\\r\\t"',
    '[{"__proto__": {"polluted": 1}}]',
    '\uFEFF {"bom": 1}',
  ];
  for (const s of samples) {
    const r = parseLocatedJson(s, 'f.json');
    t.ok(r.ok, s);
    if (r.ok) t.same(toPlain(r.value), JSON.parse(s.replace(/^\uFEFF/, '')), s);
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
});

t.test('every node knows its line and column; pathIndex gives its JSON path back', async (t) => {
  const text = '{\n  "accessrules": {\n    "items": [\n      {"name": "R1", "action": "ALLOW"}\n    ]\n  }\n}\n';
  const r = parseLocatedJson(text, 'b.json');
  t.ok(r.ok);
  if (!r.ok || r.value.kind !== 'map') return;
  const items = r.value.entries[0].value.kind === 'map' ? r.value.entries[0].value.entries[0].value : null;
  const rule = items?.kind === 'seq' ? items.items[0] : null;
  t.same(rule?.at, { file: 'b.json', line: 4, column: 7 });
  const action = rule?.kind === 'map' ? rule.entries[1] : null;
  t.same([action?.keyAt.line, action?.keyAt.column, action?.value.at.column], [4, 22, 32]);
  const idx = pathIndex(r.value);
  t.equal(idx.get('4:32'), '$.accessrules.items[0].action');
  t.equal(idx.get('4:7'), '$.accessrules.items[0]');
});

t.test('errors: where the text stops being JSON, never a throw', async (t) => {
  const cases: [string, string, number, number][] = [
    ['', 'the file is empty', 1, 1],
    ['{"a": 1,}', "expected a key in quotes, found '}'", 1, 9],
    ['{"a" 1}', 'expected \':\' after key "a", found \'1\'', 1, 6],
    ['[1 2]', "expected ',' or ']', found '2'", 1, 4],
    ['{"a": "x\ny"}', 'control character in a string (JSON needs \\n, \\t ...)', 1, 9],
    ['{"a": tru}', "unexpected 't'", 1, 7],
    ['{"a": 1} x', "unexpected 'x' after the JSON value", 1, 10],
    ['"\\x"', "bad escape '\\x'", 1, 2],
    ['{"a": [\n\n  01]}', "expected ',' or ']', found '1'", 3, 4],
  ];
  for (const [text, message, line, column] of cases) {
    const r = parseLocatedJson(text, 'x.json');
    t.match(!r.ok && r.error, { code: 'fmc/not-json', message: `not JSON: ${message}`, file: 'x.json', line, column }, JSON.stringify(text));
  }
  const deep = parseLocatedJson('['.repeat(70) + ']'.repeat(70), 'x.json');
  t.match(!deep.ok && deep.error, { message: /nested deeper than 64 levels/ });
  const many = parseLocatedJson(`[${'0,'.repeat(20)}0]`, 'x.json', { maxDepth: 64, maxNodes: 10 });
  t.match(!many.ok && many.error, { message: /more than 10 values/ });
});
