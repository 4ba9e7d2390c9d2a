// The honesty of `peekwall diff` (issue 18, step 3), at CI size: generated policy pairs (200-300
// rules, SI network/URL/DNS lists, URL objects, categories, applications, prefilter rules),
// 45,000 random flows drawn from their boundaries, each evaluated with evaluate() under both
// policies; and two pairs whose TSID settings differ, 20,000 connections (SNI, certificate
// names, TLS version) each policy names through resolveIdentity. Every flow is placed by the
// analysis with the outcome evaluate() gives; every flow whose verdicts differ lies in a
// reported change; every reported witness reproduces its change.
// bench/diff-crosscheck.ts runs the same checks with 1,000,000 flows and 200,000 connections.
import t from 'tap';
import { crossCheck, crossCheckTsid } from './helpers/crosscheck.js';

const PAIRS = [
  { seed: 1, rules: 300, edits: 20, flows: 15_000, tsid: false },
  { seed: 2, rules: 300, edits: 20, flows: 15_000, tsid: false },
  { seed: 3, rules: 200, edits: 40, flows: 15_000, tsid: false },
  { seed: 4, rules: 200, edits: 10, flows: 10_000, tsid: true },
  { seed: 5, rules: 200, edits: 10, flows: 10_000, tsid: true },
];

for (const p of PAIRS) {
  t.test(`seed ${p.seed}: ${p.rules} rules, ${p.edits} edits, ${p.flows} ${p.tsid ? 'connections, TSID settings differ' : 'flows'}`, async (t) => {
    const r = (p.tsid ? crossCheckTsid : crossCheck)(p.seed, p.rules, p.edits, p.flows);
    t.same(r.problems, [], 'evaluate() and the diff agree on every flow and every witness');
    t.equal(r.complete, true, r.reasons.join('; '));
    t.ok(r.changes > 0, `${r.changes} changed classes reported`);
    t.ok(r.differing > 100, `${r.differing} of ${r.flows} flows differ: the check saw changes`);
  });
}
