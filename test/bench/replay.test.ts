// bench/replay.js end to end in a tiny configuration, so it cannot rot: it generates a capture,
// replays it as a user runs it (table and --json) and reports figures whose summary shows the
// work was real. No timing is asserted: speed is the benchmark's business, not the tests'.
import t from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const benchJs = fileURLToPath(new URL('../../bench/replay.js', import.meta.url));

t.test('bench/replay.js: both output modes measured, every generated flow replayed', async (t) => {
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [benchJs, '--mb', '1', '--concurrent', '20', '--json-only'], { timeout: 60_000 }, (e, out, err) =>
      e ? reject(new Error(`${e.message}\n${err}`)) : resolve(out),
    ),
  );
  const r = JSON.parse(stdout.trim().split('\n').pop() as string);
  t.equal(r.schema, 'peekwall-bench-replay/1');
  t.ok(r.captureBytes >= 1024 * 1024, 'the capture has the size asked');
  t.same(r.runs.map((x: { mode: string }) => x.mode), ['table', 'json']);
  for (const run of r.runs) {
    t.equal(run.exitCode, 0, `${run.mode}: every flow evaluated`);
    t.ok(run.mbPerSec > 0 && run.maxRssMb > 0, `${run.mode}: figures`);
  }
  const json = r.runs[1].summary;
  t.equal(json.flows, r.flowsWritten, 'one flow per generated connection');
  t.equal(json.evaluated, r.flowsWritten, 'every one evaluated');
  t.equal(r.runs[0].summary.tableLines, r.flowsWritten + 4, 'one table row per flow (+ header, summary lines)');
});
