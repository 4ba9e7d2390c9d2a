// The field case as FMC would return it (policies/fmc/): the shipped suite gives the same
// verdicts from the bundles as from the YAML policies, case by case and field by field, and so
// does the YAML that `import fmc` writes from the bundles.
import { writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import t from 'tap';
import { lintPolicy, type Policy } from '../../../src/policy/index.js';
import { evaluateCase, loadSuiteFile } from '../../../src/regress/index.js';
import { loadPolicyFile, policyYaml, readFmcPolicy } from '../../../src/sources/index.js';
import { fromRoot } from '../../../src/util/paths.js';
import { tmp } from './helpers.js';

const SUITE = fromRoot('policies', 'tests', 'smart-licensing.test.yaml');
const BUNDLES: Record<string, string> = {
  'smart-licensing.yaml': fromRoot('policies', 'fmc', 'smart-licensing'),
  'smart-licensing-remedy-allow-toos.yaml': fromRoot('policies', 'fmc', 'smart-licensing-remedy-allow-toos.json'),
  'smart-licensing-remedy-category.yaml': fromRoot('policies', 'fmc', 'smart-licensing-remedy-category.json'),
};

async function must(path: string): Promise<Policy> {
  const r = await loadPolicyFile(path);
  if (!r.ok) throw new Error(`${path}: ${JSON.stringify(r.error)}`);
  return r.value;
}

/** What an event shows of a verdict, and what coverage counts. */
function outcome(policy: Policy, c: Parameters<typeof evaluateCase>[1]) {
  const e = evaluateCase(policy, c);
  const v = e.verdict;
  return { actual: e.actual, log: v.log, monitored: v.monitored, rulesMatched: v.rulesMatched, siMatched: v.siMatched, application: v.application ?? null };
}

t.test('the shipped suite: the same verdicts from the FMC bundles as from the YAML policies', async (t) => {
  const suite = await loadSuiteFile(SUITE);
  t.ok(suite.ok);
  if (!suite.ok) return;
  const bundles = new Map<string, Policy>();
  for (const [yaml, bundle] of Object.entries(BUNDLES)) bundles.set(yaml, await must(bundle));
  t.equal(suite.value.cases.length, 29, 'every case of the suite');
  const used = new Set<string>();
  for (const c of suite.value.cases) {
    const bundle = bundles.get(basename(c.policyPath));
    t.ok(bundle, `a bundle for ${basename(c.policyPath)}`);
    if (!bundle) continue;
    used.add(basename(c.policyPath));
    t.same(outcome(bundle, c), outcome(c.compiled, c), c.name);
  }
  t.same([...used].sort(), Object.keys(BUNDLES).sort(), 'the field case and both remedies');
});

t.test('the bundles lint as clean as the YAML, and carry the same rules in the same order', async (t) => {
  for (const [yaml, bundle] of Object.entries(BUNDLES)) {
    const y = await must(fromRoot('policies', yaml));
    const b = await must(bundle);
    t.same(lintPolicy(b).map((f) => f.code), lintPolicy(y).map((f) => f.code), `${yaml}: lint`);
    t.same(b.rules.map((r) => [r.name, r.action, r.enabled]), y.rules.map((r) => [r.name, r.action, r.enabled]), `${yaml}: rules`);
    t.same(b.settings, y.settings, `${yaml}: settings`);
  }
});

t.test('import fmc writes YAML that decides every case as the bundle does', async (t) => {
  const dir = tmp(t);
  const suite = await loadSuiteFile(SUITE);
  if (!suite.ok) return t.fail('suite');
  const imported = new Map<string, Policy>();
  for (const [yaml, bundle] of Object.entries(BUNDLES)) {
    const m = readFmcPolicy(bundle);
    if (!m.ok) return t.fail(JSON.stringify(m.error));
    const out = join(dir, yaml);
    writeFileSync(out, policyYaml(m.value.mapped, { source: bundle, rebase: (p) => relative(dirname(out), resolve(m.value.baseDir, p)) }));
    imported.set(yaml, await must(out));
  }
  for (const c of suite.value.cases) {
    const p = imported.get(basename(c.policyPath))!;
    t.same(outcome(p, c), outcome(c.compiled, c), c.name);
  }
});
