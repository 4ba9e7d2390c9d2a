// Bad bundles: each is refused with a stable code, the file:line:column of the offending value
// and its JSON path (a saved FMC answer is often a single line), the resource and the item's
// name; never a crash.
import { closeSync, openSync, ftruncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { loadPolicyFile } from '../../../src/sources/index.js';
import type { PeekwallError } from '../../../src/util/errors.js';
import { acp, bundleOf, cat, host, load, netGroup, paged, ref, rule, tmp, writeFiles, type Json } from './helpers.js';

async function errorsOf(t: Test, bundle: Json): Promise<PeekwallError[]> {
  const r = await load(t, bundle);
  t.notOk(r.ok, 'refused');
  return r.ok ? [] : r.error;
}

t.test('a reference to an object the bundle does not hold: fmc/unknown-object with rule, field, id and JSON path', async (t) => {
  const ghost = host('GHOST', '10.9.9.9');
  const [e] = await errorsOf(t, bundleOf([rule('R1', 'ALLOW', {}, 1), rule('USES_GHOST', 'ALLOW', { destinationNetworks: { objects: [ref(ghost)] } }, 2)]));
  t.match(e, { code: 'fmc/unknown-object', message: `accessrules 'USES_GHOST' $.accessrules.items[1].destinationNetworks.objects[0]: Host 'GHOST' (id ${ghost.id}) is not in the bundle (looked in hosts, networks, ranges, fqdns, networkgroups)` });
  t.ok(e.file?.endsWith('bundle.json') && e.line! > 1 && e.column! > 1, `located: ${e.file}:${e.line}:${e.column}`);
  // Inside a group, the group is named.
  const g = netGroup('G', [ghost]);
  const [e2] = await errorsOf(t, bundleOf([rule('R', 'ALLOW', { sourceNetworks: { objects: [ref(g)] } }, 1)], [g]));
  t.match(e2, { code: 'fmc/unknown-object', message: /^networkgroups 'G' \$\.networkgroups\.items\[0\]\.objects\[0\]: Host 'GHOST'/ });
});

t.test('a truncated page set: fmc/incomplete-paging says how many are missing and how to fetch them', async (t) => {
  const rules = Array.from({ length: 25 }, (_, i) => rule(`R${i}`, 'ALLOW', {}, i + 1));
  const [e] = await errorsOf(t, { accesspolicies: paged([acp()]), accessrules: paged(rules, 60, 0, 25) });
  t.match(e, { code: 'fmc/incomplete-paging', message: /^accessrules: FMC's paging says 60 items on 3 pages, the bundle holds 25 from 1 page\(s\): fetch the rest \(\?offset=25&limit=25&expanded=true/ });
  // In a folder: the hint names the page files.
  const dir = tmp(t);
  writeFiles(dir, { 'accesspolicies.json': paged([acp()]), 'accessrules.json': paged(rules, 60, 0, 25) });
  const r = await loadPolicyFile(dir);
  t.match(!r.ok && r.error[0], { code: 'fmc/incomplete-paging', message: /save each page as accessrules\.page-N\.json/, file: join(dir, 'accessrules.json') });
});

t.test('fetched without ?expanded=true: fmc/not-expanded', async (t) => {
  const [e] = await errorsOf(t, { accesspolicies: paged([acp()]), accessrules: paged([{ links: { self: 'x' }, type: 'AccessRule', id: 'r1', name: 'ONLY_A_NAME' }]) });
  t.match(e, { code: 'fmc/not-expanded', message: /^accessrules 'ONLY_A_NAME' \(\$\.accessrules\.items\[0\]\) has no 'action': the answer was fetched without \?expanded=true/ });
});

t.test('unknown actions and reputations', async (t) => {
  const [a] = await errorsOf(t, bundleOf([rule('R', 'PERMIT_ALL', {}, 1)]));
  t.match(a, { code: 'fmc/unknown-action', message: /^accessrules 'R' \$\.accessrules\.items\[0\]\.action: 'PERMIT_ALL' is not an FMC rule action \(ALLOW, TRUST, BLOCK, BLOCK_RESET, MONITOR, BLOCK_INTERACTIVE, BLOCK_RESET_INTERACTIVE\)/ });
  const [d] = await errorsOf(t, bundleOf([], [], {}, acp('INHERIT_FROM_PARENT')));
  t.match(d, { code: 'fmc/unknown-action', message: /defaultAction\.action: 'INHERIT_FROM_PARENT' inherits from a parent policy, which the bundle does not hold/ });
  const [r] = await errorsOf(t, bundleOf([rule('CAT', 'BLOCK', { urls: { urlCategoriesWithReputation: [cat('News', 'SOMEWHAT_OK')] } }, 1)]));
  t.match(r, { code: 'fmc/unknown-reputation', message: /^accessrules 'CAT' \$\.accessrules\.items\[0\]\.urls\.urlCategoriesWithReputation\[0\]\.reputation: 'SOMEWHAT_OK' is not an FMC reputation \(ANY_EXCEPT_UNKNOWN, ANY_AND_UNKNOWN, TRUSTED, TRUSTED_AND_UNKNOWN/ });
});

t.test('a bad value inside an object: the policy compiler error, located in the bundle, with the JSON path', async (t) => {
  const h = host('TYPO', '10.0.0.300');
  const [e] = await errorsOf(t, bundleOf([rule('R', 'ALLOW', { sourceNetworks: { objects: [ref(h)] } }, 1)], [h]));
  t.match(e, { code: 'policy/invalid-network', message: /'10\.0\.0\.300'.*\(at bundle\.json \$\.hosts\.items\[0\]\.value\)$/ });
});

t.test('x-peekwall: unknown keys and wrong values', async (t) => {
  const errs = await errorsOf(t, bundleOf([], [], { 'x-peekwall': { tsid: 'on', unsupported: 'sometimes' } }));
  t.same(errs.map((e) => e.code), ['fmc/schema', 'fmc/schema']);
  t.match(errs[0].message, /unknown key 'tsid' in x-peekwall \(allowed: settings, feeds, urlDatabase, applications, accessPolicy, unsupported\)/);
  const bad = await errorsOf(t, bundleOf([], [], { 'x-peekwall': { settings: { tsid: { profile: 'nope' } } } }));
  // Settings are checked by the policy format's own rules, located in the bundle.
  t.match(bad[0], { code: 'policy/schema', message: /settings\.tsid\.profile must be one of .*\(at bundle\.json \$\.x-peekwall\.settings\.tsid\.profile\)$/ });
});

t.test('several access policies: name one; none: say what is missing', async (t) => {
  const two = { accesspolicies: paged([acp(), { ...acp(), id: 'other', name: 'other' }]), accessrules: paged([]) };
  t.match((await errorsOf(t, two))[0], { code: 'fmc/ambiguous-policy', message: /holds 2 policies \('acp', 'other'\): name one/ });
  const chosen = await load(t, two, { accessPolicy: 'other' });
  t.ok(chosen.ok && chosen.value.name === 'other');
  t.match((await errorsOf(t, { accessrules: paged([]) }))[0], { code: 'fmc/no-policy' });
});

t.test('a group that contains itself: fmc/object-cycle, no hang', async (t) => {
  const a: Json = { id: 'ga', name: 'A', type: 'NetworkGroup', objects: [{ type: 'NetworkGroup', id: 'gb', name: 'B' }] };
  const b: Json = { id: 'gb', name: 'B', type: 'NetworkGroup', objects: [{ type: 'NetworkGroup', id: 'ga', name: 'A' }] };
  const errs = await errorsOf(t, bundleOf([rule('R', 'ALLOW', { sourceNetworks: { objects: [ref(a)] } }, 1)], [a, b]));
  t.match(errs[0], { code: 'fmc/object-cycle', message: /contains itself \(A -> B -> A\)/ });
});

t.test('not JSON: fmc/not-json at the line and column where it stops being JSON', async (t) => {
  const dir = tmp(t);
  writeFiles(dir, { 'bundle.json': '{\n  "accesspolicies": {"items": [\n    {"name": "acp",, }\n' });
  const r = await loadPolicyFile(join(dir, 'bundle.json'));
  t.match(!r.ok && r.error[0], { code: 'fmc/not-json', message: 'not JSON: expected a key in quotes, found \',\'', line: 3, column: 20 });
  // A folder's file too.
  writeFiles(dir, { 'f/accesspolicies.json': paged([acp()]), 'f/accessrules.json': '{"items": [' });
  const f = await loadPolicyFile(join(dir, 'f'));
  t.match(!f.ok && f.error[0], { code: 'fmc/not-json', file: join(dir, 'f', 'accessrules.json'), line: 1, column: 12 });
  // Hostile nesting stops at the depth bound.
  writeFiles(dir, { 'deep.json': `{"accessrules": ${'['.repeat(100_000)}` });
  const d = await loadPolicyFile(join(dir, 'deep.json'));
  t.match(!d.ok && d.error[0], { code: 'fmc/not-json', message: /nested deeper than 64 levels/ });
});

t.test('a 200 MB file is refused by its size, before it is read', async (t) => {
  const dir = tmp(t);
  const file = join(dir, 'huge.json');
  const fd = openSync(file, 'w');
  writeSync(fd, '{"accessrules": {"items": [');
  ftruncateSync(fd, 200 * 1024 * 1024); // sparse: no 200 MB written
  closeSync(fd);
  const before = process.memoryUsage().rss;
  const r = await loadPolicyFile(file);
  t.match(!r.ok && r.error[0], { code: 'fmc/too-large', message: /209715200 bytes, over the 67108864-byte limit/ });
  t.ok(process.memoryUsage().rss - before < 100 * 1024 * 1024, 'nothing near its size was read');
});

t.test('a folder that holds no resource file is not a bundle', async (t) => {
  const dir = tmp(t);
  writeFiles(dir, { 'readme.txt': 'hello' });
  const r = await loadPolicyFile(dir);
  t.match(!r.ok && r.error[0], { code: 'policy/unreadable' });
});
