// The reload thread reads a bundle as it reads YAML: by content, with the same errors.
import t from 'tap';
import { loadPolicyInWorker } from '../../../src/proxy/index.js';
import { fromRoot } from '../../../src/util/paths.js';
import { bundleOf, judge, ref, rule, host, tmp, writeFiles } from './helpers.js';
import { join } from 'node:path';

t.test('loadPolicyInWorker compiles the shipped bundle folder in its thread', async (t) => {
  const r = await loadPolicyInWorker(fromRoot('policies', 'fmc', 'smart-licensing'));
  t.ok(r.ok);
  if (!r.ok) return;
  t.equal(r.value.name, 'smart-licensing');
  t.same(r.value.rules.map((x) => x.name), ['ALLOW_FMC_ASA_SNT_CISCO', 'BLOCK_HIGH_RISK_URLS', 'ALLOW_ALL_CLIENTS_80_443']);
  const v = judge(r.value, '10.10.42.2', '93.184.216.36', 'cisc0.com');
  t.same([v.action, v.rule, v.reason], ['Block with reset', 'Lookalike-Domains', 'URL Block'], 'SI feeds came across');
});

t.test('an invalid bundle is refused by the thread with its located errors', async (t) => {
  const dir = tmp(t);
  writeFiles(dir, { 'b.json': bundleOf([rule('R', 'ALLOW', { sourceNetworks: { objects: [ref(host('GONE', '10.0.0.1'))] } }, 1)]) });
  const r = await loadPolicyInWorker(join(dir, 'b.json'));
  t.match(!r.ok && r.error[0], { code: 'fmc/unknown-object', file: join(dir, 'b.json') });
});
