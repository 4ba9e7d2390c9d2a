// The micro-benchmarks (wire reader, policy engine, identity) run end to end in a tiny
// configuration, so they cannot rot: each prints its JSON line with the schema, every case
// measured, and results that show the work was real (the policy's blocked sample was blocked).
// No timing is asserted: speed is the benchmarks' business, not the tests'.
import t from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const benchJs = (name: string) => fileURLToPath(new URL(`../../bench/${name}.js`, import.meta.url));

function run(name: string, args: string[], nodeArgs: string[] = []): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [...nodeArgs, benchJs(name), ...args], { timeout: 60_000, maxBuffer: 4 * 1024 * 1024 }, (e, stdout, stderr) => {
      if (e) return reject(new Error(`${name}: ${e.message}\n${stderr}`));
      // wire/identity end with one JSON line; policy --json prints one pretty-printed object.
      const last = stdout.trim().split('\n').pop() ?? '';
      const text = last.startsWith('{') && last.endsWith('}') ? last : stdout.slice(stdout.indexOf('{'));
      try {
        resolve(JSON.parse(text) as Record<string, unknown>);
      } catch (pe) {
        reject(new Error(`${name}: no JSON result (${(pe as Error).message}):\n${stdout.slice(-500)}`));
      }
    });
  });
}

type Row = { case: string; medianNs: number; p10Ns: number; p90Ns: number };

t.test('bench/wire.js: every case measured', async (t) => {
  const r = await run('wire', ['--json-only', '--samples', '3', '--batch', '5']);
  t.equal(r.schema, 'peekwall-bench-wire/1');
  const rows = r.results as Row[];
  t.ok(rows.length >= 4);
  for (const row of rows) t.ok(row.medianNs > 0 && row.p10Ns <= row.medianNs && row.medianNs <= row.p90Ns, row.case);
});

t.test('bench/identity.js: both readers and every TSID profile measured', async (t) => {
  const r = await run('identity', ['--json-only', '--samples', '3', '--batch', '20']);
  t.equal(r.schema, 'peekwall-bench-identity/1');
  const names = (r.results as Row[]).map((x) => x.case);
  for (const p of ['snort3-legacy', 'snort3', 'technote']) t.ok(names.some((n) => n.startsWith(`resolve ${p},`)), p);
  t.ok(names.some((n) => n.includes('@peculiar/asn1 reference')));
  t.type((r.speedup as { rsa: number }).rsa, 'number');
});

t.test('bench/policy.js: a small policy loads, evaluates, and blocks what its SI list names', async (t) => {
  const r = await run('policy', ['--domains', '2000', '--cidrs', '200', '--rules', '10', '--evals', '2000', '--json'], ['--expose-gc']);
  t.equal(r.domains, 2000);
  t.equal(r.rules, 11);
  t.ok((r.evalMedianUs as number) > 0);
  t.ok((r.gcMs as number) >= 0, 'a forced GC was timed');
  t.ok(((r.outcomes as Record<string, number>)['URL Block'] ?? 0) > 0, 'the blocked sample was blocked by the SI list');
  t.type(r.calibration, 'object');
});
