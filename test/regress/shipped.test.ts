// The shipped suites (policies/tests/*.test.yaml) pass, offline through the pure core and
// --live as real TLS handshakes through a real peekwall proxy on loopback, where every live
// verdict must equal the offline one.
import t from 'tap';
import { runCli } from '../helpers/io.js';
import { repoRoot } from '../../src/util/paths.js';

t.test('shipped suites pass offline', async (t) => {
  const r = await runCli(['test', '--json'], { cwd: repoRoot });
  t.equal(r.code, 0, r.stdout.slice(0, 4000) + r.stderr);
  const rep = JSON.parse(r.stdout);
  t.ok(rep.counts.total >= 18, `${rep.counts.total} cases`);
  t.equal(rep.counts.passed, rep.counts.total);
  const files = rep.suites.map((s: { file: string }) => s.file);
  t.ok(files.includes('policies/tests/smart-licensing.test.yaml'));
  // Every rule and SI list of the shipped policy and both remediations is exercised.
  for (const c of rep.coverage) t.equal(c.percent, 100, `coverage of ${c.policy}`);
  const gate = await runCli(['test', '--min-coverage', '100', '--reporter', 'tap'], { cwd: repoRoot });
  t.equal(gate.code, 0);
  t.match(gate.stdout, /^1\.\.\d+$/m);
  t.notMatch(gate.stdout, /^not ok/m);
});

t.test('shipped suites pass --live, live verdicts equal offline ones', async (t) => {
  const r = await runCli(['test', '--live', '--json'], { cwd: repoRoot });
  const rep = JSON.parse(r.stdout);
  const bad = rep.suites.flatMap((s: { cases: { status: string }[] }) => s.cases.filter((c) => c.status !== 'pass'));
  t.same(bad, [], 'every case passes live');
  t.equal(r.code, 0, r.stderr);
  t.equal(rep.live, true);
  t.equal(rep.counts.liveMismatch, 0);
  t.equal(rep.counts.liveError, 0);
  // The field case itself must really run live (not be skipped).
  const field = rep.suites
    .find((s: { file: string }) => s.file === 'policies/tests/smart-licensing.test.yaml')
    .cases.filter((c: { live?: { skipped?: string } }) => !c.live?.skipped);
  t.ok(field.length >= 18, `${field.length} smart-licensing cases ran live`);
});
